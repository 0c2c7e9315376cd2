"""The hard procedural action set: articulated figures over real-footage backgrounds.

Why a second set: on the first procedural set (``stae_ros.data.synthetic``) a small classifier
on the camera can finish the job, so offloading never pays. Here 25 human-like actions differ
only in how the limbs move over time -- many share their poses (time-reversed pairs, speed and
direction pairs, the same pose with or without an object moving) -- while the camera pans, zooms
and shakes over cluttered real backgrounds with distractor movers. Modules:

* ``skeleton``: joint-angle forward kinematics; ``timing``/``motions``: the motion library;
  ``classes``: labels; ``render``: drawing; ``backgrounds``: real-footage or procedural canvases;
  ``camera``: pan/zoom/shake; ``distractors``: other movers; ``clip``: one clip;
  ``controls``: single-frame and actor-removed controls; ``writer``: the data set on disk.
"""

from .backgrounds import BackgroundPool
from .classes import CLASS_DESCRIPTIONS, CLASS_NAMES, FAMILIES
from .clip import HardClip, render_clip

__all__ = ["BackgroundPool", "CLASS_DESCRIPTIONS", "CLASS_NAMES", "FAMILIES", "HardClip", "render_clip"]
