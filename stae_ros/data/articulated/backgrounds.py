"""Background canvases: crops of real footage when a folder of videos is given, else procedural
textures.

Why real footage: a stick figure over synthetic noise is easy to segment by colour statistics
alone; frames of real scenes (a walkway with people, streets, a hand-held room) give edges,
textures and lighting that look like the clutter a camera on a robot sees. The videos are read
once into a small pool of still frames at generation time (deterministic: sorted files, evenly
spaced frame indices, single-threaded decoding); each clip then takes a randomly scaled, flipped,
colour-jittered crop. Without the folder (tests, CI) a procedural texture stands in, and a log
line says so.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["BackgroundPool", "VIDEO_SUFFIXES"]

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm")


@dataclass
class BackgroundPool:
    """Still frames to cut backgrounds from (``frames`` empty: procedural textures)."""

    frames: list[np.ndarray] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return "video" if self.frames else "procedural"

    @staticmethod
    def from_folder(folder: str | Path | None, short_side: int, per_video: int = 24) -> "BackgroundPool":
        """Decode ``per_video`` evenly spaced frames of every video directly in ``folder`` (not
        sub-folders), resized so the short side is ``short_side``. A missing or empty folder, or
        one whose videos all fail to decode, gives the procedural pool (logged)."""
        if folder is None:
            log.info("hard set: no background folder given; using procedural textured backgrounds")
            return BackgroundPool()
        root = Path(folder)
        files = sorted(p for p in root.glob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file()) if root.is_dir() else []
        if not files:
            log.info("hard set: no videos in %s (missing or empty); using procedural textured backgrounds", root)
            return BackgroundPool()
        pool = BackgroundPool()
        for f in files:
            try:
                frames = _sample_frames(f, per_video, short_side)
            except Exception as exc:  # a broken user video must not stop generation
                log.warning("hard set: skipping background video %s: %s", f, exc)
                continue
            pool.frames.extend(frames)
            pool.sources.extend(f"{f.name}#{i}" for i in range(len(frames)))
        if not pool.frames:
            log.info("hard set: no decodable videos in %s; using procedural textured backgrounds", root)
        else:
            log.info("hard set: %d background frames from %d videos in %s", len(pool.frames), len(files), root)
        return pool

    def canvas(self, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
        """A ``height x width`` RGB canvas for one clip (consumes the same number of random
        draws whatever the pool holds, so the rest of the clip does not depend on it)."""
        pick, scale, fx, fy, flip = rng.uniform(), rng.uniform(1.0, 1.5), rng.uniform(), rng.uniform(), rng.uniform() < 0.5
        gain, bias, sat = rng.uniform(0.75, 1.15), rng.uniform(-20, 20), rng.uniform(0.6, 1.1)
        tex_seed = int(rng.integers(0, 2**31 - 1))
        if not self.frames:
            img = _procedural(np.random.default_rng(tex_seed), height, width)
        else:
            import cv2

            src = self.frames[int(pick * len(self.frames)) % len(self.frames)]
            sh, sw = src.shape[:2]
            k = max(height / sh, width / sw) * scale
            big = cv2.resize(src, (max(width, math.ceil(sw * k)), max(height, math.ceil(sh * k))), interpolation=cv2.INTER_LINEAR)
            y0 = int(fy * (big.shape[0] - height + 1))
            x0 = int(fx * (big.shape[1] - width + 1))
            img = big[y0 : y0 + height, x0 : x0 + width]
            if flip:
                img = img[:, ::-1]
        f = img.astype(np.float32)
        grey = f.mean(axis=2, keepdims=True)
        f = grey + (f - grey) * sat
        return np.clip(f * gain + bias, 0, 255).astype(np.uint8)


def _sample_frames(path: Path, n: int, short_side: int) -> list[np.ndarray]:
    """``n`` evenly spaced RGB frames of ``path`` (decoded in order, single-threaded)."""
    import av
    import cv2

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "NONE"
        total = int(stream.frames or 0)
        if total <= 0:
            total = sum(1 for _ in container.decode(stream))
            container.seek(0)
        wanted = set(np.linspace(0, max(total - 1, 0), n).round().astype(int).tolist())
        out = []
        for i, frame in enumerate(container.decode(stream)):
            if i in wanted:
                rgb = frame.to_ndarray(format="rgb24")
                h, w = rgb.shape[:2]
                k = short_side / min(h, w)
                out.append(cv2.resize(rgb, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_AREA))
            if i >= max(wanted):
                break
    if not out:
        raise ValueError("no decodable frames")
    return out


def _procedural(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A textured scene stand-in: a floor/wall split, low-frequency colour blotches, rectangles
    and lines like furniture and edges, and fine grain."""
    import cv2

    def colour() -> np.ndarray:
        return rng.uniform(30, 220, 3).astype(np.float32)

    horizon = rng.uniform(0.35, 0.75) * h
    yy = np.arange(h, dtype=np.float32)[:, None, None]
    img = np.where(yy < horizon, colour(), colour()) * np.ones((h, w, 3), np.float32)
    blotch = rng.normal(0.0, 25.0, (5, 5, 3)).astype(np.float32)
    img += cv2.resize(blotch, (w, h), interpolation=cv2.INTER_CUBIC)
    canvas = np.clip(img, 0, 255).astype(np.uint8)
    s = min(h, w)
    for _ in range(int(rng.integers(8, 18))):
        c = tuple(int(v) for v in colour())
        x, y = int(rng.uniform(0, w)), int(rng.uniform(0, h))
        if rng.uniform() < 0.6:
            bw, bh = int(rng.uniform(0.05, 0.3) * s), int(rng.uniform(0.05, 0.3) * s)
            cv2.rectangle(canvas, (x, y), (x + bw, y + bh), c, -1)
        else:
            x2, y2 = int(x + rng.uniform(-0.5, 0.5) * s), int(y + rng.uniform(-0.5, 0.5) * s)
            cv2.line(canvas, (x, y), (x2, y2), c, max(1, int(rng.uniform(0.005, 0.02) * s)), cv2.LINE_AA)
    canvas = cv2.GaussianBlur(canvas, (0, 0), 0.8)
    grain = rng.normal(0.0, 5.0, (h, w, 1)).astype(np.float32)
    return np.clip(canvas.astype(np.float32) + grain, 0, 255).astype(np.uint8)
