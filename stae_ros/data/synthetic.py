"""A deterministic, seeded procedural action data set ("stae-synth").

Why it exists: STAE is about keeping the few frames and pixels that carry an action. A data set
whose label can be read off one frame, or off the background, would let a model score well while
the frame/spatial attention learns nothing. Here the class is decided *only* by how one small
actor (a bright, outlined, limb-like bar) moves over time inside a fixed motion region:

* every class draws the same kind of actor, with orientation, colour and size drawn from the same
  distributions (the size marginal of the scaling classes is matched too), so one frame says
  nothing about the class;
* the motion region is a fixed-size square placed independently of the class that contains the
  actor's whole trajectory, so removing it removes all class evidence while the rest of the
  frame keeps the same (class-independent) clutter, distractor motion, drift and noise.

Everything is a pure function of ``(class_id, seed, frames, height, width, distractors)``; all
lengths scale with ``min(height, width)`` (constants below are fractions of it), so any clip size
works.

``distractors="busy"`` renders a busy scene: the clutter that moves is as bright and three times as
fast as by default (still never saturated like the actor), so motion alone no longer says where
the action is. It exists to test region choices that look past motion (the edge's sensitivity
maps); the default, ``"muted"``, is the set every shipped model was trained on.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .layout import check_counts, clip_jobs, run_jobs, write_layout

__all__ = [
    "CLASS_NAMES",
    "CLASS_DESCRIPTIONS",
    "SyntheticClip",
    "render_clip",
    "clip_seed",
    "generate_dataset",
    "ANNOTATIONS_FORMAT",
    "dataset_digest",
    "DISTRACTOR_STYLES",
]

log = logging.getLogger(__name__)

#: class names, index = label
CLASS_NAMES: tuple[str, ...] = (
    "move_left",
    "move_right",
    "move_up",
    "move_down",
    "rotate_cw",
    "rotate_ccw",
    "wave",
    "jump",
    "approach",
    "recede",
    "circle",
    "still",
)

#: what decides each class (used by docs and `stae data inspect`)
CLASS_DESCRIPTIONS: dict[str, str] = {
    "move_left": "the bar translates leftwards (>= 0.2*S px over the clip)",
    "move_right": "the bar translates rightwards",
    "move_up": "the bar translates upwards",
    "move_down": "the bar translates downwards",
    "rotate_cw": "the bar turns clockwise (on screen) 110-200 deg about one of its ends",
    "rotate_ccw": "the bar turns counter-clockwise 110-200 deg about one of its ends",
    "wave": "the bar swings back and forth (+-45-63 deg, 1.2-2 cycles) about one end",
    "jump": "the bar rises and falls back (a parabola, apex 0.22-0.32*S px up)",
    "approach": "the bar grows (x1.7-2.1 in length and width) without moving",
    "recede": "the bar shrinks (x1/2.1-1/1.7) without moving",
    "circle": "the bar's centre travels around a circle (0.8-1 turn, either direction)",
    "still": "the bar does not move (only the global camera drift)",
}

ANNOTATIONS_FORMAT = "stae-synth/1"

# geometry, as fractions of S = min(height, width)
_REGION = 0.66  # side of the square motion region
_DRIFT = 0.03  # max global camera drift over the clip
_L0 = (0.10, 0.13)  # smallest actor length
_GROW = (1.7, 2.1)  # largest/smallest length ratio (scaling classes; size marginal for all)
_THICK = (0.38, 0.5)  # thickness / length
_MOVE = (0.22, 0.30)  # translation distance
_JUMP = (0.22, 0.32)  # jump height
_CIRCLE = (0.12, 0.16)  # circle radius
_DISTRACTOR_SPEED = 0.018  # px per frame, max, per unit S
_BUSY_SPEED = 3.0  # busy scenes: distractor speed factor

#: how the moving clutter looks: "muted" (the default set) or "busy" (bright and fast)
DISTRACTOR_STYLES: tuple[str, ...] = ("muted", "busy")


@dataclass(frozen=True)
class SyntheticClip:
    """One rendered clip.

    ``frames``: uint8 ``T,H,W,3`` RGB. ``boxes``: int32 ``T,4`` per-frame actor box
    ``x0,y0,x1,y1`` (x1/y1 exclusive, clipped to the frame). ``region``: int32 ``4`` fixed motion
    region (same format) that contains every box; it is placed independently of the class.
    """

    frames: np.ndarray
    boxes: np.ndarray
    region: np.ndarray
    class_id: int
    class_name: str
    seed: int


@dataclass(frozen=True)
class _Pose:
    """Actor pose per frame in motion-region-local coordinates (anchor at 0,0)."""

    cx: np.ndarray
    cy: np.ndarray
    theta: np.ndarray
    length: np.ndarray


def _window(rng: np.random.Generator, u: np.ndarray) -> np.ndarray:
    """Progress 0->1 inside a random sub-window of the clip: varies speed and onset per clip."""
    a = rng.uniform(0.0, 0.25)
    b = rng.uniform(0.75, 1.0)
    return np.clip((u - a) / (b - a), 0.0, 1.0)


def _pose_for_class(name: str, rng: np.random.Generator, u: np.ndarray, s: float, base_len: float, grow: float) -> _Pose:
    """The class-specific motion. ``base_len`` is the smallest length, ``grow`` the size range."""
    t = u.size
    zeros = np.zeros(t)
    theta0 = rng.uniform(0.0, 2.0 * math.pi)
    # size for non-scaling classes: same marginal as a frame of approach/recede
    length = np.full(t, base_len * grow ** rng.uniform(0.0, 1.0))
    theta = np.full(t, theta0)
    if name.startswith("move_"):
        dist = rng.uniform(*_MOVE) * s
        g = _window(rng, u)
        jitter = rng.uniform(-0.15, 0.15)
        dx, dy = {"move_left": (-1, jitter), "move_right": (1, jitter), "move_up": (jitter, -1), "move_down": (jitter, 1)}[name]
        return _Pose(dx * dist * g, dy * dist * g, theta, length)
    if name in ("rotate_cw", "rotate_ccw", "wave"):
        if name == "wave":
            amp = rng.uniform(0.25, 0.35) * math.pi
            cycles = rng.uniform(1.2, 2.0)
            theta = theta0 + amp * np.sin(2.0 * math.pi * cycles * u + rng.uniform(0, 2 * math.pi))
        else:
            sweep = rng.uniform(0.6, 1.1) * math.pi
            sign = 1.0 if name == "rotate_cw" else -1.0  # image y points down: +theta is clockwise
            theta = theta0 + sign * sweep * _window(rng, u)
        half = length / 2.0
        return _Pose(half * np.cos(theta), half * np.sin(theta), theta, length)  # pivot at (0,0)
    if name == "jump":
        g = _window(rng, u)
        height = rng.uniform(*_JUMP) * s
        return _Pose(zeros, -height * 4.0 * g * (1.0 - g), theta, length)
    if name in ("approach", "recede"):
        g = _window(rng, u)
        v = g if name == "approach" else 1.0 - g
        return _Pose(zeros, zeros, theta, base_len * grow**v)
    if name == "circle":
        radius = rng.uniform(*_CIRCLE) * s
        turns = rng.uniform(0.8, 1.0) * (1 if rng.uniform() < 0.5 else -1)
        phi = rng.uniform(0, 2 * math.pi) + 2 * math.pi * turns * _window(rng, u)
        return _Pose(radius * np.cos(phi), radius * np.sin(phi), theta, length)
    if name == "still":
        return _Pose(zeros, zeros, theta, length)
    raise AssertionError(name)


def _bar_corners(cx: float, cy: float, theta: float, length: float, thick: float) -> np.ndarray:
    """4x2 corners of a bar of ``length`` x ``thick`` centred at (cx, cy), long axis at ``theta``."""
    c, s_ = math.cos(theta), math.sin(theta)
    hx, hy = c * length / 2.0, s_ * length / 2.0
    tx, ty = -s_ * thick / 2.0, c * thick / 2.0
    return np.array(
        [
            [cx + hx + tx, cy + hy + ty],
            [cx + hx - tx, cy + hy - ty],
            [cx - hx - tx, cy - hy - ty],
            [cx - hx + tx, cy - hy + ty],
        ]
    )


def _fill_poly(img: np.ndarray, pts: np.ndarray, color: tuple[int, int, int]) -> None:
    import cv2

    shift = 4
    fixed = np.round(pts * (1 << shift)).astype(np.int32)
    cv2.fillConvexPoly(img, fixed, color, lineType=cv2.LINE_AA, shift=shift)


def _hsv_color(h: float, s: float, v: float) -> tuple[int, int, int]:
    import colorsys

    r, g, b = colorsys.hsv_to_rgb(h, s, v)
    return (int(round(r * 255)), int(round(g * 255)), int(round(b * 255)))


def _muted(rng: np.random.Generator) -> tuple[int, int, int]:
    """A colour for background and distractors: never as bright and saturated as the actor."""
    return _hsv_color(rng.uniform(), rng.uniform(0.0, 0.55), rng.uniform(0.2, 0.62))


def _background(rng: np.random.Generator, h: int, w: int, s: float) -> np.ndarray:
    """Cluttered static texture: gradient + low-frequency blotches + random shapes + fine grain."""
    import cv2

    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ang = rng.uniform(0, 2 * math.pi)
    ramp = (xx * math.cos(ang) + yy * math.sin(ang)) / max(h, w)
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    c0 = np.array(_muted(rng), np.float32)
    c1 = np.array(_muted(rng), np.float32)
    img = c0 + (c1 - c0) * ramp[..., None]
    blotch = rng.normal(0.0, 22.0, (6, 6, 3)).astype(np.float32)
    img += cv2.resize(blotch, (w, h), interpolation=cv2.INTER_CUBIC)
    canvas = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(12, 24))):
        color = _muted(rng)
        kind = int(rng.integers(0, 3))
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        size = rng.uniform(0.04, 0.2) * s
        if kind == 0:
            cv2.circle(canvas, (int(x), int(y)), max(1, int(size)), color, -1, cv2.LINE_AA)
        elif kind == 1:
            _fill_poly(canvas, _bar_corners(x, y, rng.uniform(0, math.pi), size * 2, size * rng.uniform(0.5, 1.5)), color)
        else:
            x2, y2 = x + rng.uniform(-0.4, 0.4) * s, y + rng.uniform(-0.4, 0.4) * s
            cv2.line(canvas, (int(x), int(y)), (int(x2), int(y2)), color, max(1, int(0.02 * s)), cv2.LINE_AA)
    grain = rng.normal(0.0, 7.0, (h, w, 1)).astype(np.float32)
    return np.clip(canvas.astype(np.float32) + grain, 0, 255).astype(np.uint8)


@dataclass
class _Distractor:
    kind: int
    x: float
    y: float
    vx: float
    vy: float
    theta: float
    omega: float
    size: float
    aspect: float
    color: tuple[int, int, int]


def _bright(rng: np.random.Generator) -> tuple[int, int, int]:
    """A busy scene's distractor colour: as bright as the actor, but never as saturated."""
    return _hsv_color(rng.uniform(), rng.uniform(0.0, 0.35), rng.uniform(0.55, 1.0))


def _distractors(rng: np.random.Generator, h: int, w: int, s: float, style: str = "muted") -> list[_Distractor]:
    """Moving clutter, drawn from one distribution for every class (it carries no label)."""
    out = []
    busy = style == "busy"
    vmax = _DISTRACTOR_SPEED * s * 1.5 * (_BUSY_SPEED if busy else 1.0)
    for _ in range(int(rng.integers(3, 7))):
        out.append(
            _Distractor(
                kind=int(rng.integers(0, 3)),
                x=rng.uniform(0, w),
                y=rng.uniform(0, h),
                vx=rng.uniform(-vmax, vmax),
                vy=rng.uniform(-vmax, vmax),
                theta=rng.uniform(0, 2 * math.pi),
                omega=rng.uniform(-0.25, 0.25),
                size=rng.uniform(0.05, 0.13) * s,
                aspect=rng.uniform(0.3, 1.0),
                color=_bright(rng) if busy else _muted(rng),
            )
        )
    return out


def _draw_distractor(img: np.ndarray, d: _Distractor, t: int) -> None:
    import cv2

    x, y, th = d.x + d.vx * t, d.y + d.vy * t, d.theta + d.omega * t
    if d.kind == 0:
        cv2.ellipse(
            img, ((x, y), (d.size * 2, d.size * 2 * d.aspect), math.degrees(th)), d.color, -1, cv2.LINE_AA
        )
    else:
        aspect = d.aspect if d.kind == 1 else d.aspect * 0.4
        _fill_poly(img, _bar_corners(x, y, th, d.size * 2, d.size * 2 * aspect), d.color)


def _check_args(class_id: int, frames: int, height: int, width: int, distractors: str = "muted") -> None:
    if distractors not in DISTRACTOR_STYLES:
        raise ValueError(f"distractors must be one of {', '.join(DISTRACTOR_STYLES)}, got {distractors!r}")
    if not 0 <= int(class_id) < len(CLASS_NAMES):
        raise ValueError(f"class_id must be in [0, {len(CLASS_NAMES)}), got {class_id}")
    if frames < 2:
        raise ValueError(f"frames must be >= 2 (motion needs time), got {frames}")
    if min(height, width) < 16:
        raise ValueError(f"height and width must be >= 16, got {height}x{width}")


def render_clip(class_id: int, seed: int, frames: int = 16, height: int = 64, width: int = 64,
                distractors: str = "muted") -> SyntheticClip:
    """Render one clip of class ``class_id``: a pure function of its arguments."""
    _check_args(class_id, frames, height, width, distractors)
    name = CLASS_NAMES[int(class_id)]
    rng = np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(class_id), 0x57AE]))
    s = float(min(height, width))
    u = np.linspace(0.0, 1.0, frames)

    region_side = min(int(round(_REGION * s)), height, width)
    drift_max = max(1, int(round(_DRIFT * s)))
    rx0 = int(rng.integers(0, width - region_side + 1))
    ry0 = int(rng.integers(0, height - region_side + 1))
    inner = region_side - 2 * drift_max  # the trajectory must fit here; drift uses the margin

    base_len = rng.uniform(*_L0) * s
    grow = rng.uniform(*_GROW)
    thick_ratio = rng.uniform(*_THICK)
    outline = max(1.0, s / 64.0)
    pose = _pose_for_class(name, rng, u, s, base_len, grow)

    def corners(i: int, scale: float, extra: float) -> np.ndarray:
        ln = pose.length[i] * scale
        return _bar_corners(pose.cx[i] * scale, pose.cy[i] * scale, pose.theta[i], ln + 2 * extra, ln * thick_ratio + 2 * extra)

    all_pts = np.concatenate([corners(i, 1.0, outline) for i in range(frames)])
    lo, hi = all_pts.min(axis=0), all_pts.max(axis=0)
    extent = float((hi - lo).max())
    scale = 1.0
    if extent > inner - 1:  # rare: shrink the whole motion (not only the actor) to fit
        scale = (inner - 1) / extent
        all_pts = np.concatenate([corners(i, scale, outline) for i in range(frames)])
        lo, hi = all_pts.min(axis=0), all_pts.max(axis=0)
    # anchor placed uniformly where the whole trajectory fits inside the inner region
    ax = rx0 + drift_max - lo[0] + rng.uniform(0, max(0.0, inner - (hi[0] - lo[0])))
    ay = ry0 + drift_max - lo[1] + rng.uniform(0, max(0.0, inner - (hi[1] - lo[1])))

    hue = rng.uniform()
    actor_color = _hsv_color(hue, rng.uniform(0.65, 1.0), 1.0)
    drift = rng.uniform(-drift_max, drift_max, size=2)
    margin = drift_max + 1
    bg = _background(rng, height + 2 * margin, width + 2 * margin, s)
    movers = _distractors(rng, height, width, s, distractors)
    noise_sigma = rng.uniform(2.0, 6.0)
    flicker = rng.uniform(-0.03, 0.03, size=frames)

    out = np.empty((frames, height, width, 3), np.uint8)
    boxes = np.empty((frames, 4), np.int32)
    for i in range(frames):
        ox = int(round(drift[0] * u[i]))
        oy = int(round(drift[1] * u[i]))
        img = bg[margin + oy : margin + oy + height, margin + ox : margin + ox + width].copy()
        for d in movers:
            _draw_distractor(img, d, i)
        shift = np.array([ax - ox, ay - oy])
        outer = corners(i, scale, outline) + shift
        _fill_poly(img, outer, (0, 0, 0))
        _fill_poly(img, corners(i, scale, 0.0) + shift, actor_color)
        x0, y0 = np.floor(outer.min(axis=0)).astype(int)
        x1, y1 = np.ceil(outer.max(axis=0)).astype(int) + 1
        boxes[i] = (max(0, x0), max(0, y0), min(width, x1), min(height, y1))
        noisy = img.astype(np.float32) * (1.0 + flicker[i]) + rng.normal(0.0, noise_sigma, img.shape).astype(np.float32)
        out[i] = np.clip(np.round(noisy), 0, 255).astype(np.uint8)
    region = np.array([rx0, ry0, rx0 + region_side, ry0 + region_side], np.int32)
    return SyntheticClip(out, boxes, region, int(class_id), name, int(seed))


def clip_seed(base_seed: int, class_id: int, index: int) -> int:
    """The per-clip seed used by :func:`generate_dataset` (stable across runs and platforms)."""
    return int(np.random.SeedSequence([int(base_seed) & 0xFFFFFFFF, int(class_id), int(index), 0xC11]).generate_state(1)[0])


def _render_and_write(job: tuple[Path, int, int, int, int, int, int, str]) -> tuple[str, list[list[int]], list[int]]:
    from .video_io import write_video

    path, class_id, seed, frames, height, width, fps, distractors = job
    clip = render_clip(class_id, seed, frames, height, width, distractors)
    write_video(path, clip.frames, fps=fps)
    return path.name, clip.boxes.tolist(), clip.region.tolist()


def generate_dataset(
    root: str | Path,
    seed: int = 0,
    train_per_class: int = 200,
    test_per_class: int = 50,
    frames: int = 16,
    height: int = 64,
    width: int = 64,
    fps: int = 25,
    workers: int | None = None,
    progress: bool = True,
    distractors: str = "muted",
) -> Path:
    """Write the synthetic data set in the HMDB51 layout and return ``root``.

    ``root/<class>/<class>_<idx>.avi`` (FFV1, lossless), ``root/splits/<class>_test_split1.txt``
    (``"<file> 1"`` train, ``"<file> 2"`` test), ``root/classInd.txt`` (UCF101-style ``"<id> <class>"``,
    1-based) and ``root/annotations.json`` (classes, seed, shape, per-clip actor boxes and
    motion region). The same arguments give byte-identical files. ``workers`` > 1 renders in a
    process pool (default: 1, or 2 when there are more than 400 clips and >= 2 CPUs).
    ``distractors``: ``"muted"`` (the default set) or ``"busy"`` (see the module docstring).
    """
    _check_args(0, frames, height, width, distractors)
    check_counts(train_per_class, test_per_class)
    root = Path(root)
    (root / "splits").mkdir(parents=True, exist_ok=True)
    per_class = train_per_class + test_per_class
    jobs = clip_jobs(root, CLASS_NAMES, per_class, lambda cid, idx: clip_seed(seed, cid, idx), frames, height, width, fps,
                     distractors)
    if workers is None:
        workers = 2 if len(jobs) > 400 and (os.cpu_count() or 1) >= 2 else 1
    results = run_jobs(_render_and_write, jobs, workers, progress, "synth", chunksize=16,
                       start_method="spawn" if os.name == "nt" else "fork")
    ann = {
        "format": ANNOTATIONS_FORMAT,
        "classes": list(CLASS_NAMES),
        "descriptions": CLASS_DESCRIPTIONS,
        "seed": int(seed),
        "frames": frames,
        "height": height,
        "width": width,
        "fps": fps,
        "codec": "ffv1",
        "train_per_class": train_per_class,
        "test_per_class": test_per_class,
        "box_format": "x0,y0,x1,y1 pixels, x1/y1 exclusive; boxes per frame, region per clip",
    }
    if distractors != "muted":  # the default set's annotations (and digest) stay as they were
        ann["distractors"] = distractors
    write_layout(root, CLASS_NAMES, train_per_class, per_class, jobs, results, ann)
    log.info("wrote %d clips (%d classes) to %s", len(jobs), len(CLASS_NAMES), root)
    return root


def dataset_digest(root: str | Path) -> str:
    """SHA-256 over every file under ``root`` (names and bytes): a cheap determinism check."""
    h = hashlib.sha256()
    root = Path(root)
    for p in sorted(q for q in root.rglob("*") if q.is_file() and q.suffix != ".npz"):
        h.update(str(p.relative_to(root)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()

