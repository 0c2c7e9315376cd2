"""The edge (GPU host) side: payload bytes -> decode -> zero-fill + mask -> FR -> ViT -> label.

Decoding happens per message on the CPU (each payload is self-contained); recovery and
classification run batched on the model's device, because several clips often wait after a
link stall and one batched forward pass costs far less than several. stae-roi264 clips are
decoded the same way (libavcodec, per message) and classified in their own batched pass by the
roi model's classifier; stae-latent payloads are classified one by one (1-3 ms each).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from stae_ros import codec as px_codec

from .errors import ClipShapeError, PipelineError, UnknownCodecError
from .payloads import LATENT_CODEC, ROI_CODEC, LatentPayload, RoiPayload

__all__ = ["EdgePipeline", "EdgeResult", "pick_device"]

log = logging.getLogger(__name__)


def pick_device(device: str = "auto") -> torch.device:
    """CUDA when present and asked for (or auto), else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise PipelineError(f"device {device!r} requested but CUDA is not available on this host")
    return torch.device(device)


@dataclass
class EdgeResult:
    """The label for one payload, or the reason it could not be labelled."""

    class_id: int = -1
    label: str = ""
    score: float = 0.0
    topk: list[tuple[int, str, float]] = field(default_factory=list)
    decode_ms: float = 0.0
    infer_ms: float = 0.0
    k: int = 0
    p: float = 0.0
    payload_bytes: int = 0
    recovered: np.ndarray | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class EdgePipeline:
    """Decodes, recovers and classifies semantic payloads from one or more cameras."""

    def __init__(self, loaded, device: str = "auto", limits: px_codec.DecodeLimits | None = None,
                 topk: int = 5, keep_recovered: bool = False, codec_models: dict[str, str] | None = None) -> None:
        """`codec_models` maps a codec name to its model file (stae-latent, stae-roi264; missing or
        empty = that codec's shipped model)."""
        self.device = pick_device(device)
        self.model = loaded.model.to(self.device).eval()
        self.config = loaded.config
        self.class_names = list(loaded.class_names)
        clip = self.config.clip
        self.shape = (clip.frames, clip.height, clip.width, clip.channels)
        self.limits = limits or px_codec.DecodeLimits(
            max_frames=clip.frames, max_height=clip.height, max_width=clip.width, max_channels=clip.channels)
        self.topk = max(1, min(topk, len(self.class_names)))
        self.keep_recovered = keep_recovered
        self.codec_models = dict(codec_models or {})
        self._latent: LatentPayload | None = None
        self._roi: RoiPayload | None = None

    def clip_shape(self, codec: str) -> tuple[int, int, int, int]:
        """(T, H, W, C) a payload of ``codec`` must declare: the codec model's own clip size for
        stae-latent / stae-roi264 (loading it on first use; a missing file raises PipelineError),
        the STAE model's for stae-px and anything else (which decode then rejects by name)."""
        if codec == LATENT_CODEC:
            return tuple(self.latent().shape)
        if codec == ROI_CODEC:
            return tuple(self.roi().shape)
        return self.shape

    def latent(self) -> LatentPayload:
        """Loaded on the first stae-latent payload, so an edge that never sees one never pays for it."""
        if self._latent is None:
            self._latent = LatentPayload(self.codec_models.get(LATENT_CODEC) or None)
        return self._latent

    def roi(self) -> RoiPayload:
        """Loaded on the first stae-roi264 payload (its classifier moved to this edge's device)."""
        if self._roi is None:
            self._roi = RoiPayload(self.codec_models.get(ROI_CODEC) or None).to(self.device)
            if self._roi.class_names != self.class_names:
                log.warning("stae-roi264 model %s names other classes than the STAE model; labels use the roi "
                            "model's", self._roi.path)
        return self._roi

    def _set_labels(self, results: list["EdgeResult"], logits: torch.Tensor, names: list[str], t0: float) -> None:
        """Top-k labels of one batch of logits into ``results``; ``infer_ms`` = time since ``t0`` per clip."""
        probs = torch.softmax(logits.float(), dim=1)
        top_p, top_i = probs.topk(max(1, min(self.topk, probs.shape[1])), dim=1)
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        infer_ms = (time.perf_counter() - t0) * 1000.0 / len(results)
        top_p, top_i = top_p.cpu().numpy(), top_i.cpu().numpy()
        for row, r in enumerate(results):
            r.topk = [(int(c), names[int(c)], float(v)) for c, v in zip(top_i[row], top_p[row])]
            r.class_id, r.label, r.score = r.topk[0]
            r.infer_ms = infer_ms

    @staticmethod
    def _reject(result: "EdgeResult", index: int, exc: Exception) -> None:
        result.error = f"{type(exc).__name__}: {exc}"
        log.warning("payload %d rejected: %s", index, result.error)

    def _classify_latent(self, data: bytes, result: "EdgeResult") -> None:
        t0 = time.perf_counter()
        logits = self.latent().logits(data)
        result.decode_ms = 0.0
        result.k, result.p = self.shape[0], 1.0
        self._set_labels([result], logits, self.class_names, t0)

    def _classify_roi(self, clips: list[np.ndarray], results: list["EdgeResult"]) -> None:
        """One batched pass of the roi model's classifier over the decoded clips."""
        roi = self.roi()
        t0 = time.perf_counter()
        self._set_labels(results, roi.logits(np.stack(clips)), roi.class_names, t0)
        if self.keep_recovered:
            for r, clip in zip(results, clips):
                r.recovered = clip

    def _decode(self, data: bytes, codec: str) -> tuple[np.ndarray, np.ndarray, px_codec.SemanticPayload]:
        if codec != px_codec.CODEC_NAME:
            raise UnknownCodecError(f"unknown codec {codec!r}; this edge decodes {px_codec.CODEC_NAME!r}, "
                                    f"{LATENT_CODEC!r} and {ROI_CODEC!r}")
        payload = px_codec.decode(bytes(data), limits=self.limits)
        if tuple(payload.clip_shape) != self.shape:
            raise ClipShapeError(f"payload clip shape {tuple(payload.clip_shape)} does not match the model's {self.shape}")
        clip, mask = payload.to_dense()
        return clip, mask, payload

    @torch.inference_mode()
    def decode_classify(self, items: list[tuple[bytes, str]]) -> list[EdgeResult]:
        """Label each (payload, codec) pair; bad payloads get an EdgeResult with `error` set."""
        results = [EdgeResult() for _ in items]
        clips, masks, good = [], [], []
        roi_clips, roi_good = [], []
        for i, (data, codec) in enumerate(items):
            t0 = time.perf_counter()
            results[i].payload_bytes = len(data)
            if codec == LATENT_CODEC:
                try:
                    self._classify_latent(data, results[i])
                except PipelineError as exc:
                    self._reject(results[i], i, exc)
                continue
            if codec == ROI_CODEC:
                try:
                    roi_clips.append(self.roi().decode(data))
                except PipelineError as exc:
                    self._reject(results[i], i, exc)
                    continue
                results[i].decode_ms = (time.perf_counter() - t0) * 1000.0
                results[i].k, results[i].p = self.shape[0], 1.0
                roi_good.append(i)
                continue
            try:
                clip, mask, payload = self._decode(data, codec)
            except (px_codec.CodecError, PipelineError) as exc:
                self._reject(results[i], i, exc)
                continue
            results[i].decode_ms = (time.perf_counter() - t0) * 1000.0
            results[i].k, results[i].p = int(payload.k), float(payload.p)
            clips.append(clip)
            masks.append(mask)
            good.append(i)
        if roi_good:
            self._classify_roi(roi_clips, [results[i] for i in roi_good])
        if not good:
            return results
        t0 = time.perf_counter()
        x = torch.from_numpy(np.stack(clips)).to(self.device).permute(0, 4, 1, 2, 3).float().div_(255.0)
        m = torch.from_numpy(np.stack(masks)).to(self.device).unsqueeze(1).float()
        recovered = self.model.recover(x, m) if bool((m < 1).any()) else x
        self._set_labels([results[i] for i in good], self.model.classify(recovered), self.class_names, t0)
        if self.keep_recovered:
            rec_np = (recovered.clamp(0, 1) * 255.0).round().byte().permute(0, 2, 3, 4, 1).cpu().numpy()
            for row, i in enumerate(good):
                results[i].recovered = rec_np[row]
        return results
