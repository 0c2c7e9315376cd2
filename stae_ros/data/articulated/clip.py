"""One clip of the hard set: the actor's motion, its props, the camera, the background and the
distractors, composed frame by frame.

Every random stream (background, camera, actor, distractors, sensor noise) comes from its own
child of one ``SeedSequence(seed, class_id)``, so a clip is a pure function of its arguments,
and the actor-removed control (``actor=False``) shows exactly the same background, camera path,
distractors and noise as the normal clip -- only the actor and the props it touches are missing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .backgrounds import BackgroundPool
from .camera import CameraPath
from .classes import CLASS_NAMES
from .distractors import Distractors
from .motions import BALL_R, MOTIONS, Motion, solve_body
from .render import FigureStyle, draw_ball, draw_box, draw_figure, figure_extent_px
from .skeleton import Proportions

__all__ = ["HardClip", "render_clip", "check_args"]

_CANVAS = 1.9  # background canvas / output size: room for pan and zoom-out
_ACTOR_PX = (0.4, 0.62)  # body height / frame height at zoom 1, before fitting the path into view


@dataclass(frozen=True)
class HardClip:
    """``frames``: uint8 ``T,H,W,3`` RGB. ``boxes``: int32 ``T,4`` actor box per frame
    (``x0,y0,x1,y1``, x1/y1 exclusive, clipped). ``region``: int32 ``4``, the union of the boxes."""

    frames: np.ndarray
    boxes: np.ndarray
    region: np.ndarray
    class_id: int
    class_name: str
    seed: int


def check_args(class_id: int, frames: int, height: int, width: int) -> None:
    """One-line errors for arguments no clip can be made from."""
    if not 0 <= int(class_id) < len(CLASS_NAMES):
        raise ValueError(f"class_id must be in [0, {len(CLASS_NAMES)}), got {class_id}")
    if frames < 4:
        raise ValueError(f"frames must be >= 4 (the actions need time), got {frames}")
    if min(height, width) < 32:
        raise ValueError(f"height and width must be >= 32 (limbs must stay visible), got {height}x{width}")


def _default_props(rng: np.random.Generator, m: Motion, t: int) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """Ball and box for classes that do not move them: static, near the actor (as the
    interaction classes place them) with probability 0.4, else further away."""
    face = 1.0 if math.sin(float(m.yaw[0])) >= 0 else -1.0
    draws = rng.uniform(size=8)
    if m.ball is not None:
        ball = m.ball
    else:
        near = draws[0] < 0.4
        dx = face * (0.1 + 0.15 * draws[1]) if near else (1 if draws[2] < 0.5 else -1) * (0.4 + 0.8 * draws[1])
        ball = np.tile([float(m.root_x[0]) + dx, BALL_R], (t, 1))
    if m.box is not None and m.box_size is not None:
        return ball, m.box, m.box_size
    size = (0.26 + 0.2 * draws[3], 0.22 + 0.33 * draws[4])
    near = draws[5] < 0.4
    dx = -face * (0.1 + 0.1 * draws[6]) if near else (1 if draws[7] < 0.5 else -1) * (0.5 + 0.9 * draws[6])
    return ball, np.tile([float(m.root_x[0]) + dx, 0.0], (t, 1)), size


def _fit(cam: CameraPath, rel: np.ndarray, pad: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Interval of anchor positions (world px, per axis) that keeps the points ``T,K,2`` (world
    px relative to the anchor) at least ``pad`` px (at zoom 1) inside every frame; None if none."""
    h, w = cam.out_size
    size = np.array([w, h], np.float64)
    z = cam.zoom[:, None]
    lo_img = pad * z
    # img = z * (anchor + rel - c) + size/2  in  [lo_img, size - lo_img]
    lo = (lo_img - size / 2) / z + cam.centre - rel.min(axis=1)
    hi = (size - lo_img - size / 2) / z + cam.centre - rel.max(axis=1)
    lo_all, hi_all = lo.max(axis=0), hi.min(axis=0)
    if np.any(lo_all > hi_all):
        return None
    return lo_all, hi_all


def render_clip(class_id: int, seed: int, frames: int = 16, height: int = 112, width: int = 112,
                backgrounds: BackgroundPool | None = None, actor: bool = True) -> HardClip:
    """Render one clip of class ``class_id``; ``actor=False`` renders the actor-removed control
    (same everything else). A pure function of its arguments and the background pool."""
    import cv2

    check_args(class_id, frames, height, width)
    name = CLASS_NAMES[int(class_id)]
    pool = backgrounds if backgrounds is not None else BackgroundPool()
    root = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(class_id), 0x4A2D])
    r_bg, r_cam, r_act, r_dis, r_noise = (np.random.default_rng(s) for s in root.spawn(5))
    u = np.linspace(0.0, 1.0, frames)
    canvas_hw = (math.ceil(_CANVAS * height), math.ceil(_CANVAS * width))

    bg = pool.canvas(r_bg, *canvas_hw)
    cam = CameraPath.sample(r_cam, frames, height, width, canvas_hw)

    # --- actor: proportions, clothing, motion, props; then scale/place it so it stays in view
    prop = Proportions.sample(r_act)
    style = FigureStyle.sample(r_act)
    motion = MOTIONS[name][0](r_act, u, prop)
    joints = solve_body(motion, prop)  # T,J,3 body heights
    ball, box, box_size = _default_props(r_act, motion, frames)
    ball_colour = tuple(int(v) for v in r_act.uniform(30, 240, 3))
    box_colour = tuple(int(v) for v in r_act.uniform(40, 220, 3))
    px = r_act.uniform(*_ACTOR_PX) * min(height, width)
    flip = np.array([1.0, -1.0])
    pts = joints[..., :2]
    if motion.box is not None and box_size is not None:  # a box the actor moves must stay in view too
        bw, bh = box_size
        corners = box[:, None, :] + np.array([[-bw / 2, 0.0], [bw / 2, bh]])[None]
        pts = np.concatenate([pts, corners], axis=1)
    span = None
    for _ in range(12):
        span = _fit(cam, pts * flip * px, figure_extent_px(px, prop) + 1.0)
        if span is not None:
            break
        px *= 0.9
    fx, fy = r_act.uniform(size=2)
    if span is None:  # never seen in practice; centre the path
        anchor = cam.centre.mean(axis=0) - (pts * flip * px).reshape(-1, 2).mean(axis=0)
    else:
        anchor = span[0] + np.array([fx, fy]) * (span[1] - span[0])

    movers = Distractors.sample(r_dis, cam, u, px)
    sigma = r_noise.uniform(1.0, 3.5)
    flicker = r_noise.uniform(-0.03, 0.03, size=frames)
    noise = r_noise.standard_normal((frames, height, width, 3), dtype=np.float32)

    out = np.empty((frames, height, width, 3), np.uint8)
    boxes = np.zeros((frames, 4), np.int32)
    for t in range(frames):
        z = float(cam.zoom[t])
        img = cv2.warpAffine(bg, cam.matrix(t), (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        movers.draw(img, cam, t, float(u[t]))
        img_pts = cam.apply(t, anchor + joints[t, :, :2] * flip * px)
        if actor:
            bw, bh = box_size
            draw_box(img, cam.apply(t, anchor + box[t] * flip * px), bw * px * z, bh * px * z, box_colour)
            draw_figure(img, img_pts, joints[t, :, 2], px * z, prop, style)
            draw_ball(img, cam.apply(t, anchor + ball[t] * flip * px), BALL_R * px * z, ball_colour)
        ext = figure_extent_px(px * z, prop)
        x0, y0 = np.floor(img_pts.min(axis=0) - ext).astype(int)
        x1, y1 = np.ceil(img_pts.max(axis=0) + ext).astype(int) + 1
        boxes[t] = (max(0, x0), max(0, y0), min(width, x1), min(height, y1))
        f = img.astype(np.float32) * (1.0 + flicker[t]) + sigma * noise[t]
        out[t] = np.clip(np.round(f), 0, 255).astype(np.uint8)
    region = np.array([boxes[:, 0].min(), boxes[:, 1].min(), boxes[:, 2].max(), boxes[:, 3].max()], np.int32)
    return HardClip(out, boxes, region, int(class_id), name, int(seed))


