"""Drawing: a projected stick figure with clothing, and the props (ball, box), with OpenCV.

Why OpenCV primitives (anti-aliased thick lines, circles, filled polygons at sub-pixel precision):
a clip is 16 frames of ~20 primitives each, so a clip renders in milliseconds on one core, and
anti-aliasing keeps small limbs moving smoothly instead of jumping by whole pixels.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np

from .skeleton import BONES, Proportions, joint_index

__all__ = ["FigureStyle", "draw_figure", "draw_ball", "draw_box", "figure_extent_px"]

_SHIFT = 4
_ONE = 1 << _SHIFT

_SKIN = ((255, 224, 196), (241, 194, 160), (224, 172, 130), (198, 134, 96), (141, 85, 54), (92, 58, 40))


def _hsv(h: float, s: float, v: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
    return (int(r * 255), int(g * 255), int(b * 255))


@dataclass(frozen=True)
class FigureStyle:
    """Colours (RGB) and clothing of one figure."""

    skin: tuple[int, int, int]
    shirt: tuple[int, int, int]
    pants: tuple[int, int, int]
    shoes: tuple[int, int, int]
    hair: tuple[int, int, int]
    short_sleeves: bool
    shorts: bool
    build: float  # limb thickness factor

    @staticmethod
    def sample(rng: np.random.Generator, muted: bool = False) -> "FigureStyle":
        """Random clothing; ``muted`` (distractor figures) lowers saturation and brightness."""
        skin = _SKIN[int(rng.integers(0, len(_SKIN)))]
        sat_hi, val_lo = (0.5, 0.25) if muted else (1.0, 0.35)
        shirt = _hsv(rng.uniform(), rng.uniform(0.2, sat_hi), rng.uniform(val_lo, 1.0))
        pants = _hsv(rng.uniform(), rng.uniform(0.0, sat_hi * 0.8), rng.uniform(0.15, 0.8))
        shoes = _hsv(rng.uniform(), rng.uniform(0.0, 0.5), rng.uniform(0.05, 0.5))
        hair = _hsv(rng.uniform(0.02, 0.12), rng.uniform(0.2, 0.8), rng.uniform(0.05, 0.6))
        return FigureStyle(skin, shirt, pants, shoes, hair, rng.uniform() < 0.5, rng.uniform() < 0.3, rng.uniform(0.85, 1.2))


def _fx(p: np.ndarray) -> tuple[int, int]:
    """Sub-pixel fixed point for OpenCV's ``shift`` argument (one numpy round, not two Python ones)."""
    q = np.rint(np.asarray(p, np.float64)[:2] * _ONE).astype(np.int64).tolist()
    return (q[0], q[1])


def _shade(c: tuple[int, int, int], k: float) -> tuple[int, int, int]:
    return (int(c[0] * k), int(c[1] * k), int(c[2] * k))


def _line(img: np.ndarray, a: np.ndarray, b: np.ndarray, colour: tuple[int, int, int], width: float, outline: int) -> None:
    import cv2

    w = max(1, int(round(width)))
    cv2.line(img, _fx(a), _fx(b), (20, 20, 20), w + 2 * outline, cv2.LINE_AA, _SHIFT)
    cv2.line(img, _fx(a), _fx(b), colour, w, cv2.LINE_AA, _SHIFT)


def _part_colour(style: FigureStyle, part: str) -> tuple[int, int, int]:
    if part == "thigh":
        return style.pants
    if part == "shin":
        return style.skin if style.shorts else style.pants
    if part == "foot":
        return style.shoes
    if part == "upper_arm":
        return style.shirt
    return style.skin if style.short_sleeves else style.shirt  # forearm


_PART_WIDTH = {"thigh": 0.06, "shin": 0.05, "foot": 0.035, "upper_arm": 0.045, "forearm": 0.04}


def draw_figure(img: np.ndarray, pts: np.ndarray, depth: np.ndarray, px_per_height: float,
                prop: Proportions, style: FigureStyle) -> None:
    """Draw one figure into ``img`` (RGB, in place). ``pts``: image joints ``J,2``; ``depth``:
    ``J`` (larger = nearer the viewer) -- far limbs are drawn first and slightly darker."""
    import cv2

    s = px_per_height * style.build
    outline = 1 if px_per_height >= 30 else 0
    items: list[tuple[float, int, object]] = []
    for i, (a, b, part) in enumerate(BONES):
        ia, ib = joint_index(a), joint_index(b)
        items.append((float(depth[ia] + depth[ib]) / 2.0, i, (ia, ib, part)))
    torso_z = float(depth[[joint_index("shoulder_l"), joint_index("shoulder_r"), joint_index("hip_l"), joint_index("hip_r")]].mean())
    items.append((torso_z, 100, "torso"))
    items.sort(key=lambda it: (it[0], it[1]))
    lo, hi = float(depth.min()), float(depth.max())
    for z, _, item in items:
        if item == "torso":
            _draw_torso(img, pts, s, prop, style, outline)
            continue
        ia, ib, part = item  # type: ignore[misc]
        near = 1.0 if hi - lo < 1e-6 else (z - lo) / (hi - lo)
        colour = _shade(_part_colour(style, part), 0.72 + 0.28 * near)
        _line(img, pts[ia], pts[ib], colour, _PART_WIDTH[part] * s, outline)
        if part == "forearm":
            cv2.circle(img, _fx(pts[ib]), int(round(0.028 * s * _ONE)), _shade(style.skin, 0.72 + 0.28 * near), -1, cv2.LINE_AA, _SHIFT)


def _draw_torso(img: np.ndarray, pts: np.ndarray, s: float, prop: Proportions, style: FigureStyle, outline: int) -> None:
    import cv2

    j = joint_index
    pelvis, neck, head = pts[j("pelvis")], pts[j("neck")], pts[j("head")]
    _line(img, pelvis, neck, style.shirt, 0.13 * s, outline)
    quad = np.stack([pts[j("shoulder_l")], pts[j("shoulder_r")], pts[j("hip_r")], pts[j("hip_l")]])
    cv2.fillConvexPoly(img, np.round(quad * _ONE).astype(np.int32), style.shirt, cv2.LINE_AA, _SHIFT)
    hips = np.stack([pts[j("hip_l")], pts[j("hip_r")]])
    _line(img, hips[0], hips[1], style.pants, 0.07 * s, 0)
    r = prop.head_r * s
    cv2.circle(img, _fx(head), int(round((r + outline) * _ONE)), (20, 20, 20), -1, cv2.LINE_AA, _SHIFT)
    cv2.circle(img, _fx(head), int(round(r * _ONE)), style.skin, -1, cv2.LINE_AA, _SHIFT)
    up = head - neck
    n = float(np.hypot(*up))
    if n > 1e-6:  # hair on the crown
        cap = head + up / n * r * 0.45
        cv2.circle(img, _fx(cap), int(round(r * 0.7 * _ONE)), style.hair, -1, cv2.LINE_AA, _SHIFT)


def draw_ball(img: np.ndarray, centre: np.ndarray, radius: float, colour: tuple[int, int, int]) -> None:
    """A ball with a dark rim and a highlight."""
    import cv2

    r = max(1.0, radius)
    cv2.circle(img, _fx(centre), int(round((r + 1) * _ONE)), (25, 25, 25), -1, cv2.LINE_AA, _SHIFT)
    cv2.circle(img, _fx(centre), int(round(r * _ONE)), colour, -1, cv2.LINE_AA, _SHIFT)
    hl = tuple(min(255, int(c * 0.5 + 128)) for c in colour)
    cv2.circle(img, _fx(centre - r * 0.35), int(round(r * 0.35 * _ONE)), hl, -1, cv2.LINE_AA, _SHIFT)


def draw_box(img: np.ndarray, bottom_centre: np.ndarray, w: float, h: float, colour: tuple[int, int, int]) -> None:
    """A box seen slightly from above: front face and a lighter top face."""
    import cv2

    x, y = bottom_centre
    front = np.array([[x - w / 2, y], [x + w / 2, y], [x + w / 2, y - h], [x - w / 2, y - h]])
    d = 0.25 * w
    top = np.array([[x - w / 2, y - h], [x + w / 2, y - h], [x + w / 2 + d * 0.5, y - h - d * 0.5], [x - w / 2 + d * 0.5, y - h - d * 0.5]])
    cv2.fillConvexPoly(img, np.round(front * _ONE).astype(np.int32), colour, cv2.LINE_AA, _SHIFT)
    cv2.fillConvexPoly(img, np.round(top * _ONE).astype(np.int32), tuple(min(255, int(c * 0.6 + 100)) for c in colour), cv2.LINE_AA, _SHIFT)
    cv2.polylines(img, [np.round(front * _ONE).astype(np.int32)], True, (25, 25, 25), 1, cv2.LINE_AA, _SHIFT)


def figure_extent_px(px_per_height: float, prop: Proportions) -> float:
    """How far (px) drawn strokes reach beyond the joints: head radius and limb half-widths."""
    return px_per_height * (prop.head_r + 0.04) + 1.0
