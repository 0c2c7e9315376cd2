"""`stae bag eval`: replay a bag's images through camera -> (emulated link) -> edge and score them.

The camera side cuts consecutive, non-overlapping windows of ``window`` frames (default the
model's clip length, which is how `stae bag make` lays clips out) and samples ``clip_len`` frames
from each; each clip is encoded, optionally shaped by a mahimahi trace, decoded and classified,
and compared with the ground-truth clip that holds most of its frames.

Rates: ``max`` processes clips as fast as the host can (latency = camera + link + edge compute);
``recorded`` paces clips by their stamps, as a live camera would deliver them, so a host slower
than real time shows up as queueing delay in the latency.

The camera/edge objects are duck-typed (``encode(clip) -> EncodedClip``,
``decode_classify([(bytes, codec)]) -> [EdgeResult]``, see stae_ros.pipeline), so this module
does not import torch itself.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .errors import BagError
from .reader import GroundTruth, read_ground_truth, read_images
from .writer import GT_TOPIC, IMAGE_TOPIC

__all__ = ["ClipResult", "BagEvalReport", "cut_windows", "evaluate_bag"]

log = logging.getLogger(__name__)


@dataclass
class ClipResult:
    index: int
    first_stamp_ns: int
    last_stamp_ns: int
    true_id: int  #: -1 when no ground truth covers the window
    pred_id: int
    label: str
    score: float
    payload_bytes: int
    k: int
    p: float
    camera_ms: float
    link_ms: float
    edge_ms: float
    latency_ms: float  #: window complete -> label (incl. queueing when paced at the recorded rate)
    error: str | None = None


@dataclass
class BagEvalReport:
    bag: str
    rate: str
    clips: list[ClipResult] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        ok = [c for c in self.clips if c.error is None]
        labelled = [c for c in ok if c.true_id >= 0]
        b = np.array([c.payload_bytes for c in ok], dtype=float)
        lat = np.array([c.latency_ms for c in ok], dtype=float)

        def pct(a: np.ndarray, q: float) -> float:
            return float(np.percentile(a, q)) if a.size else math.nan

        return {
            "bag": self.bag,
            "rate": self.rate,
            "clips": len(self.clips),
            "errors": len(self.clips) - len(ok),
            "labelled": len(labelled),
            "accuracy": float(np.mean([c.pred_id == c.true_id for c in labelled])) if labelled else math.nan,
            "bytes_mean": float(b.mean()) if b.size else math.nan,
            "bytes_p95": pct(b, 95),
            "camera_ms_p50": pct(np.array([c.camera_ms for c in ok]), 50),
            "edge_ms_p50": pct(np.array([c.edge_ms for c in ok]), 50),
            "link_ms_p50": pct(np.array([c.link_ms for c in ok]), 50),
            "latency_ms_p50": pct(lat, 50),
            "latency_ms_p95": pct(lat, 95),
        }

    def to_dict(self) -> dict[str, Any]:
        return {"summary": self.summary(), "clips": [asdict(c) for c in self.clips]}


def cut_windows(frames: Iterator[tuple[int, np.ndarray]], window: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Consecutive non-overlapping windows: (stamps ns (window,), frames list) ; a short tail is dropped."""
    stamps: list[int] = []
    buf: list[np.ndarray] = []
    for t, f in frames:
        stamps.append(t)
        buf.append(f)
        if len(buf) == window:
            yield np.array(stamps, dtype=np.int64), buf  # type: ignore[misc]
            stamps, buf = [], []
    if buf:
        log.info("dropping %d trailing frames that do not fill a %d-frame window", len(buf), window)


def _truth_for(stamps: np.ndarray, truths: list[GroundTruth]) -> int:
    best, best_n = -1, 0
    for gt in truths:
        n = int(np.count_nonzero((stamps >= gt.first_stamp_ns) & (stamps <= gt.last_stamp_ns)))
        if n > best_n:
            best, best_n = gt.class_id, n
    return best


def evaluate_bag(
    bag: str | Path,
    camera: Any,
    edge: Any,
    *,
    clip_len: int,
    height: int,
    width: int,
    window: int | None = None,
    rate: str = "max",
    image_topic: str = IMAGE_TOPIC,
    gt_topic: str | None = GT_TOPIC,
    shaper: Any = None,
    max_clips: int | None = None,
    progress: bool = True,
) -> BagEvalReport:
    """Run every window of the bag through ``camera`` and ``edge``; see the module docstring."""
    from ..pipeline.clips import make_clip  # numpy/cv2 only

    if rate not in ("max", "recorded"):
        raise BagError(f"rate must be 'max' or 'recorded', got {rate!r}")
    window = window or clip_len
    truths: list[GroundTruth] = []
    if gt_topic:
        truths, _ = read_ground_truth(bag, gt_topic)
    report = BagEvalReport(str(bag), rate)
    total = None
    if truths:
        known = [gt.frames for gt in truths if gt.frames > 0]
        total = sum(known) // window if len(known) == len(truths) else len(truths)
    if max_clips is not None:
        total = min(total, max_clips) if total is not None else max_clips
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, desc="bag eval", unit="clip")
    t0_wall = time.perf_counter()
    t0_bag: int | None = None
    try:
        for i, (stamps, frames) in enumerate(cut_windows(read_images(bag, image_topic), window)):
            if max_clips is not None and i >= max_clips:
                break
            if t0_bag is None:
                t0_bag = int(stamps[0])
            due_s = (int(stamps[-1]) - t0_bag) / 1e9  # when a live camera would have the window
            if rate == "recorded":
                wait = due_s - (time.perf_counter() - t0_wall)
                if wait > 0:
                    time.sleep(wait)
            clip = make_clip(frames, clip_len, height, width)
            enc = camera.encode(clip)
            link_ms = 0.0
            if shaper is not None:
                t_send = due_s + enc.camera_ms / 1000.0
                delivered = shaper.send(len(enc.payload), t_send)
                link_ms = math.inf if delivered is None else (delivered - t_send) * 1000.0
            res = edge.decode_classify([(enc.payload, enc.codec)])[0]
            done_s = time.perf_counter() - t0_wall
            edge_ms = res.decode_ms + res.infer_ms
            if rate == "recorded":
                latency = (done_s - due_s) * 1000.0 + link_ms
            else:
                latency = enc.camera_ms + link_ms + edge_ms
            report.clips.append(ClipResult(
                index=i, first_stamp_ns=int(stamps[0]), last_stamp_ns=int(stamps[-1]),
                true_id=_truth_for(stamps, truths), pred_id=int(res.class_id), label=str(res.label), score=float(res.score),
                payload_bytes=len(enc.payload), k=int(enc.k), p=float(enc.p), camera_ms=float(enc.camera_ms),
                link_ms=float(link_ms), edge_ms=float(edge_ms), latency_ms=float(latency),
                error=res.error or (None if math.isfinite(link_ms) else "dropped by the emulated link"),
            ))
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    if not report.clips:
        raise BagError(f"bag {bag} has fewer than {window} frames on {image_topic}: no clip to evaluate")
    return report
