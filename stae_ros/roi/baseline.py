"""The apples-to-apples reference: libx264 (GOP = clip, CRF sweep) with a classifier fine-tuned
on the decoded clips for the same number of steps every payload gets.

Results are cached in out/payloads/ (base classifier, H.264 points) so the ROI and latent
evaluations share one reference.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

from ..torchfile import read_torch_file
from .classifier import PixelClassifier, clone, evaluate_classifier, train_classifier
from .dataset import PayloadData
from .errors import RoiError
from .h264 import X264Settings, decode_annexb, encode_annexb, pack_nals

__all__ = ["StudyConfig", "base_classifier", "h264_points", "codec_point", "resize_clip", "transcode"]

log = logging.getLogger(__name__)


@dataclass
class StudyConfig:
    """Step budgets shared by every payload (so the comparison is fair)."""

    base_steps: int = 600  #: classifier trained on raw clips once (the latent codec's warm start)
    base_model: str = "out/payloads/latent_base_0.0001.pt"  #: where that warm start is cached
    finetune_steps: int = 100  #: per operating point, on that point's decoded train clips
    batch: int = 16
    out_dir: str = "out/payloads"
    seed: int = 0


def base_classifier(data: PayloadData, cfg: StudyConfig) -> PixelClassifier:
    """The raw-clip classifier every pixel codec starts from: the latent codec's warm start
    (encoder + head, no quantiser), trained with lambda=1e-4 if not cached yet."""
    from stae_ros.latent.model import LatentConfig, LatentModel
    from stae_ros.latent.train import train_latent

    t, h, w = data.train_clips.shape[1:4]
    lcfg = LatentConfig(frames=t, height=h, width=w, num_classes=data.num_classes)
    path = Path(cfg.base_model)
    if path.exists():
        model = LatentModel(lcfg)
        model.load_state_dict(read_torch_file(path, RoiError, "base model file"))
    else:
        model = train_latent(lcfg, data.train_clips, data.train_labels, lam=1e-4, steps=cfg.base_steps, batch=cfg.batch, seed=cfg.seed)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), path)
    return PixelClassifier(model).eval()


def transcode(
    clips: np.ndarray, encode: Callable[[np.ndarray], bytes], decode: Callable[[bytes], np.ndarray], desc: str
) -> tuple[np.ndarray, np.ndarray, float]:
    """Encode+decode every clip; returns (decoded clips, bytes per clip, mean encode ms)."""
    sizes = np.zeros(len(clips), np.int64)
    out = np.empty_like(clips)
    enc_s = 0.0
    for i in tqdm(range(len(clips)), desc=desc, leave=False, mininterval=5.0):
        t0 = time.perf_counter()
        payload = encode(clips[i])
        enc_s += time.perf_counter() - t0
        sizes[i] = len(payload)
        out[i] = decode(payload)
    return out, sizes, 1000.0 * enc_s / max(len(clips), 1)


def codec_point(
    name: str,
    data: PayloadData,
    base: PixelClassifier,
    cfg: StudyConfig,
    encode: Callable[[np.ndarray], bytes],
    decode: Callable[[bytes], np.ndarray],
    extra: dict,
) -> dict:
    """Transcode train+test, fine-tune a copy of the base classifier, return one result row."""
    xtr, _, _ = transcode(data.train_clips, encode, decode, f"{name} train")
    xte, sizes, enc_ms = transcode(data.test_clips, encode, decode, f"{name} test")
    model = clone(base)
    acc0 = evaluate_classifier(model, xte, data.test_labels)
    torch.manual_seed(cfg.seed)
    train_classifier(model, xtr, data.train_labels, cfg.finetune_steps, cfg.batch, lr=1e-3, seed=cfg.seed + 1, desc=name)
    acc = evaluate_classifier(model, xte, data.test_labels)
    row = {
        "codec": name,
        "bytes_mean": float(sizes.mean()),
        "bytes_p95": float(np.percentile(sizes, 95)),
        "accuracy": acc,
        "accuracy_before_finetune": acc0,
        "camera_ms": enc_ms,
        **extra,
    }
    log.info("%s", row)
    return row


def resize_clip(clip: np.ndarray, height: int, width: int) -> np.ndarray:
    """Every frame to height x width: area filter going down, bilinear going up (what a camera
    driver's scaler and a display would do)."""
    import cv2

    if clip.shape[1:3] == (height, width):
        return clip
    interp = cv2.INTER_AREA if height < clip.shape[1] else cv2.INTER_LINEAR
    return np.stack([cv2.resize(f, (width, height), interpolation=interp) for f in clip])


def h264_points(data: PayloadData, base: PixelClassifier, cfg: StudyConfig, crfs: list[float], scale: int = 1) -> list[dict]:
    """Plain libx264 at each CRF: rows for the raw Annex-B size and for our light NAL container.

    ``scale`` > 1 encodes every clip at 1/scale of its height and width and scales the decoded
    frames back up before the classifier. Why: at 112x112 even CRF 51 keeps nearly all the
    accuracy, so x264's own CRF range ends before the curve reaches lower rates; a robot team
    would then stream fewer pixels, and that setting belongs to "the best libx264 setting" too.
    """
    if scale < 1:
        raise ValueError(f"scale must be >= 1; got {scale}")
    suffix = f"_s{scale}" if scale > 1 else ""
    path = Path(cfg.out_dir) / f"h264_points_pix{cfg.base_steps}_{cfg.finetune_steps}{suffix}.json"
    cached = json.loads(path.read_text()) if path.exists() else []
    done = {r["crf"] for r in cached}
    t, h, w, _ = data.test_clips.shape[1:]
    hs, ws = h // scale, w // scale
    for crf in crfs:
        if crf in done:
            continue
        s = X264Settings(crf=crf)
        lite_sizes: list[int] = []

        def enc(clip: np.ndarray, s: X264Settings = s) -> bytes:
            raw = encode_annexb(resize_clip(clip, hs, ws), s)
            lite_sizes.append(len(pack_nals(raw)) + 6)  # + the 6-byte header of our container
            return raw

        def dec(b: bytes) -> np.ndarray:
            return resize_clip(decode_annexb(b, t, hs, ws), h, w)

        name = f"h264-crf{crf:g}" + (f"-1/{scale}" if scale > 1 else "")
        row = codec_point(name, data, base, cfg, enc, dec, {"crf": crf, "scale": scale})
        lite = np.array(lite_sizes[-len(data.test_clips) :])
        row["bytes_mean_lite"] = float(lite.mean())
        row["bytes_p95_lite"] = float(np.percentile(lite, 95))
        # re-read before writing: several processes may sweep different CRFs into the same cache
        latest = json.loads(path.read_text()) if path.exists() else []
        cached = [r for r in latest if r["crf"] != crf] + [row]
        path.write_text(json.dumps(cached, indent=1))
    cached = json.loads(path.read_text()) if path.exists() else cached
    return sorted([r for r in cached if r["crf"] in crfs], key=lambda r: r["bytes_mean"])

