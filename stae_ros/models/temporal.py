"""Temporal fill of dropped frames: each frame FA did not keep becomes the linear blend of the
nearest kept frames before and after it (held at the clip's ends).

Why: FR's convolutions fill *pixels* well (K=16, p=0.05 keeps the default model within 4 points
of full budget) but did not learn to invent whole frames: a zero frame in a clip looks to the
ViT's motion stem like a violent flash, and every K < 16 point sat near chance. A linear blend is
what a frame-rate converter does; for the small, smooth motions that define the classes its
normal-flow moments keep the sign of the real motion, so the classifier trained on full clips
already reads it (measured on an earlier model, no training: K=8 p=1 from 17% to 67%).
Differentiable in the frame values, so FA/SA still get gradients through the kept frames.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .errors import ShapeError

__all__ = ["FRAME_FILLS", "interpolate_missing_frames", "kept_frames", "neighbour_blend"]

#: the frame fills FR knows: ``none`` (the paper: FR's CNN output) or ``linear``
FRAME_FILLS: tuple[str, ...] = ("none", "linear")


def kept_frames(mask: Tensor) -> Tensor:
    """``B,T`` bool: frames with at least one arrived pixel (``mask`` is ``B,1,T,H,W``)."""
    if mask.dim() != 5:
        raise ShapeError(f"mask must be B,1,T,H,W, got {tuple(mask.shape)}")
    return mask.flatten(3).amax(dim=3)[:, 0] > 0.5


def interpolate_missing_frames(clip: Tensor, kept: Tensor) -> Tensor:
    """``clip`` ``B,C,T,H,W`` with every frame where ``kept`` (``B,T`` bool) is False replaced by
    the linear interpolation of the nearest kept frames; kept frames are returned unchanged, and
    a clip with no kept frame at all is returned as it is."""
    _check_clip_and_kept("interpolate_missing_frames", clip, kept)
    if bool(kept.all()):
        return clip
    blend, has_neighbour = _blend_neighbours(clip, kept, strict=False)
    usable = (kept | ~has_neighbour).view(clip.shape[0], 1, clip.shape[2], 1, 1)
    return torch.where(usable, clip, blend)


def neighbour_blend(clip: Tensor, kept: Tensor) -> Tensor:
    """For *every* frame t, the linear blend of the nearest kept frames strictly before and strictly
    after t (held at the ends): what the edge would show at t if t were not sent.

    For a dropped frame this is ``interpolate_missing_frames``; for a kept frame it is the
    leave-one-out fill. FA trains on ``reference + w * (clip - reference)``: the forward pass is
    exactly the hard selection with the linear fill, and the gradient on a frame's score is the
    first-order value of sending that frame instead of its fill, for kept frames (what dropping
    it would cost) and dropped ones (what adding it would gain). With the plain ``clip * w``, the
    fill overwrites every dropped frame, so dropped frames get no gradient and FA cannot learn to
    pick them. A frame with no other kept frame on either side is its own reference.
    """
    _check_clip_and_kept("neighbour_blend", clip, kept)
    return _blend_neighbours(clip, kept, strict=True)[0]


def _check_clip_and_kept(caller: str, clip: Tensor, kept: Tensor) -> None:
    if clip.dim() != 5 or kept.dim() != 2 or kept.shape != (clip.shape[0], clip.shape[2]):
        raise ShapeError(f"{caller} needs clip B,C,T,H,W and kept B,T; got "
                         f"{tuple(clip.shape)}, {tuple(kept.shape)}")


def _blend_neighbours(clip: Tensor, kept: Tensor, strict: bool) -> tuple[Tensor, Tensor]:
    """(blend of the nearest kept frames before and after each frame, held at the ends; ``B,T``
    whether the frame has any such neighbour). ``strict``: a kept frame is not its own neighbour.
    A frame without neighbours gets itself."""
    b, c, t, h, w = clip.shape
    pos = torch.arange(t, device=clip.device).unsqueeze(0).expand(b, t)
    prev = torch.where(kept, pos, torch.full_like(pos, -1)).cummax(dim=1).values
    nxt = torch.where(kept, pos, torch.full_like(pos, t)).flip(1).cummin(dim=1).values.flip(1)
    if strict:  # strictly before / after t: shift the inclusive running max / min by one frame
        prev = torch.cat([torch.full_like(pos[:, :1], -1), prev[:, :-1]], dim=1)
        nxt = torch.cat([nxt[:, 1:], torch.full_like(pos[:, :1], t)], dim=1)
    has_prev, has_next = prev >= 0, nxt < t
    # hold at the ends: a frame before the first (after the last) kept neighbour copies it
    prev_i = torch.where(has_prev, prev, torch.where(has_next, nxt, pos)).clamp(0, t - 1)
    next_i = torch.where(has_next, nxt, torch.where(has_prev, prev, pos)).clamp(0, t - 1)
    span = (next_i - prev_i).clamp_min(1).to(clip.dtype)
    weight = ((pos - prev_i).to(clip.dtype) / span).clamp(0.0, 1.0)
    weight = torch.where(next_i == prev_i, torch.zeros_like(weight), weight)

    def take(index: Tensor) -> Tensor:
        return torch.gather(clip, 2, index.view(b, 1, t, 1, 1).expand(b, c, t, h, w))

    before, after = take(prev_i), take(next_i)
    return before + (after - before) * weight.view(b, 1, t, 1, 1), has_prev | has_next
