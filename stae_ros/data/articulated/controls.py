"""The hard set's two controls, rendered from the same seeds as the normal clips.

* ``single_frame``: one frame of the clip repeated over time -- appearance without motion. The
  classes share their poses (see ``motions``), so this must score near chance.
* ``actor_removed``: the same clip rendered without the actor and the props it touches, with the
  same background, camera path, distractors and noise -- everything that is not the action.

Unlike the first synthetic set's region-masking control, nothing is cut out of the frame, so no
hole whose shape or motion could encode the class is left behind.
"""

from __future__ import annotations

import numpy as np

from .backgrounds import BackgroundPool
from .clip import HardClip, render_clip

__all__ = ["CONTROLS", "render_control", "single_frame_index"]

#: accepted control names ("none" = the normal clips)
CONTROLS: tuple[str, ...] = ("none", "single_frame", "actor_removed")


def single_frame_index(seed: int, frames: int) -> int:
    """The frame a single-frame control repeats: drawn from the clip seed (uniform over the clip)."""
    return int(np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, 0x5F])).integers(0, frames))


def render_control(control: str, class_id: int, seed: int, frames: int = 16, height: int = 112, width: int = 112,
                   backgrounds: BackgroundPool | None = None) -> HardClip:
    """Render clip ``(class_id, seed)`` as the given control (``"none"``: the normal clip)."""
    if control not in CONTROLS:
        raise ValueError(f"control must be one of {', '.join(CONTROLS)}, got {control!r}")
    clip = render_clip(class_id, seed, frames, height, width, backgrounds, actor=control != "actor_removed")
    if control != "single_frame":
        return clip
    k = single_frame_index(seed, frames)
    still = np.repeat(clip.frames[k : k + 1], frames, axis=0)
    return HardClip(still, np.repeat(clip.boxes[k : k + 1], frames, axis=0), clip.region, clip.class_id, clip.class_name, clip.seed)
