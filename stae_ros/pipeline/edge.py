"""The edge (GPU host) side: payload bytes -> the mode's edge half -> logits -> labels.

Decoding happens per message on the CPU (each payload is self-contained); classification runs
batched per mode on the model's device, because several clips often wait after a link stall and
one batched forward pass costs far less than several. Every mode comes from the registry
(stae_ros.modes), loaded on its first clip; this module names none of them.

Isolation: a clip that fails, for any reason and with any exception, gets its own error result and
costs no other clip its label. A batched classify pass that fails is retried clip by clip, so only
the clip that breaks it goes unlabelled. Failures are counted per reason (:class:`FailureCounts`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch

from stae_ros import codec as px_codec
from stae_ros.errtext import exc_line
from stae_ros.modes import EdgeMode, ModeContext, check_mode, make_edge

from .errors import ModelMismatchError, PipelineError

__all__ = ["EdgePipeline", "EdgeResult", "FailureCounts", "pick_device"]

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
    mode: str = ""
    model_id: str = ""  #: the model that labelled it (empty when it was not labelled)

    @property
    def ok(self) -> bool:
        return self.error is None


class FailureCounts:
    """Clips refused, per reason ("<stage>/<mode>/<error type>"), for a status topic or a summary.

    ``should_log`` rate-limits the log: the first failure of each reason, then at most one per
    ``log_period_s`` seconds, so a flood of hostile clips cannot flood the log.
    """

    def __init__(self, log_period_s: float = 5.0) -> None:
        self.counts: Counter[str] = Counter()
        self.log_period_s = log_period_s
        self._last_log: dict[str, float] = {}
        self._lock = threading.Lock()

    def add(self, stage: str, mode: str, exc: BaseException) -> tuple[str, bool]:
        """Count one failure; (its reason key, whether to log it now)."""
        key = f"{stage}/{mode or '?'}/{type(exc).__name__}"
        now = time.monotonic()
        with self._lock:
            self.counts[key] += 1
            last = self._last_log.get(key)
            loud = last is None or now - last >= self.log_period_s
            if loud:
                self._last_log[key] = now
        return key, loud

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counts)


def _item_parts(item: Sequence[Any]) -> tuple[Any, Any, Any]:
    """(payload, mode, model_id or None) of a decode_classify item."""
    if len(item) == 2:
        return item[0], item[1], None
    data, mode, model_id = item
    return data, mode, model_id


class EdgePipeline:
    """Decodes and classifies payloads of every registered mode from one or more cameras."""

    def __init__(self, loaded, device: str = "auto", limits: px_codec.DecodeLimits | None = None,
                 topk: int = 5, keep_recovered: bool = False, codec_models: dict[str, str] | None = None) -> None:
        """``codec_models`` maps a mode name to its model file (missing or empty = that mode's shipped
        file); ``limits`` are stae-px's decoder limits (default: exactly the STAE model's clip)."""
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
        self._ctx = ModeContext(loaded, self.codec_models, {"limits": self.limits}, self.device)
        self._modes: dict[str, EdgeMode] = {}
        self._load_lock = threading.Lock()
        self.failures = FailureCounts()

    def mode(self, name: str) -> EdgeMode:
        """The edge half of mode ``name``, loaded on first use (so an edge that never sees a mode never
        pays for it); unknown modes, modes without an edge half and unreadable model files raise
        PipelineError naming them."""
        name = check_mode(name)
        found = self._modes.get(name)
        if found is None:
            with self._load_lock:
                found = self._modes.get(name)
                if found is None:
                    found = make_edge(name, self._ctx)
                    self._modes[name] = found
        return found

    def preload(self, names: Sequence[str]) -> dict[str, str | None]:
        """Load the edge halves of ``names`` now (so the first clip after a camera's switch waits for no
        model file); {name: None if loaded, else the reason it could not be (e.g. a mode with no edge
        half, a missing model file)}. Nothing is raised: a mode that fails here fails per clip later."""
        out: dict[str, str | None] = {}
        for name in names:
            try:
                self.mode(name)
                out[name] = None
            except Exception as exc:  # noqa: BLE001 - reported, not raised
                out[name] = exc_line(exc)
        return out

    def check_models(self, names: Sequence[str]) -> None:
        """Load the edge halves of ``names`` and refuse, naming the file, one that cannot be loaded or
        whose model labels other classes than the edge model (a node calls this at start-up for the
        modes whose model file it was configured with, so a wrong file never starts serving)."""
        from stae_ros.modes.base import check_class_list

        for name in names:
            mode = self.mode(name)
            check_class_list(name, mode.model_id, mode.class_names, self.class_names, "the edge model")

    def clip_shape(self, codec: str) -> tuple[int, int, int, int]:
        """(T, H, W, C) a payload of mode ``codec`` must declare (the mode's model's clip size)."""
        return tuple(self.mode(codec).shape)

    def model_id(self, codec: str) -> str:
        """The identity of the model this edge runs for mode ``codec`` (what a clip's model_id must equal)."""
        return self.mode(codec).model_id

    # ---- one batch ----------------------------------------------------------------------------
    def _reject(self, result: EdgeResult, index: int, stage: str, exc: BaseException) -> None:
        result.error = exc_line(exc)  # one line: it travels in the label message and the logs
        result.class_id, result.label, result.score, result.topk = -1, "", 0.0, []
        key, loud = self.failures.add(stage, result.mode, exc)
        if loud:
            log.warning("payload %d (%s) refused: %s [%s: %d so far]", index, result.mode or "?", result.error, key,
                        self.failures.counts[key])

    def _set_labels(self, results: list[EdgeResult], logits: torch.Tensor, names: list[str], model_id: str,
                    t0: float) -> None:
        """Top-k labels of one batch of logits into ``results``; ``infer_ms`` = time since ``t0`` per clip."""
        if logits.ndim != 2 or logits.shape[0] != len(results) or logits.shape[1] != len(names):
            raise PipelineError(f"classifier gave logits of shape {tuple(logits.shape)} for {len(results)} clips "
                                f"of {len(names)} classes")
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
            r.model_id = model_id

    def _classify(self, mode: EdgeMode, members: list[tuple[int, Any]], results: list[EdgeResult]) -> None:
        """One batched pass over one mode's decoded clips; if it fails, clip by clip."""
        t0 = time.perf_counter()
        try:
            out = mode.classify([d for _, d in members], self.keep_recovered)
            self._set_labels([results[i] for i, _ in members], out.logits, mode.class_names, mode.model_id, t0)
        except Exception as exc:  # noqa: BLE001 - one bad clip must not cost the others their labels
            if len(members) == 1:
                self._reject(results[members[0][0]], members[0][0], "classify", exc)
                return
            log.warning("batched %s pass over %d clips failed (%s: %s); classifying them one by one",
                        mode.name, len(members), type(exc).__name__, exc)
            for member in members:
                self._classify(mode, [member], results)
            return
        if out.recovered is not None:
            for (i, _), clip in zip(members, out.recovered):
                results[i].recovered = np.asarray(clip)

    @torch.inference_mode()
    def decode_classify(self, items: list[tuple]) -> list[EdgeResult]:
        """Label each (payload, mode) or (payload, mode, model_id) item; every clip that cannot be labelled,
        whatever went wrong, gets an EdgeResult with ``error`` set and the others are still labelled.

        With a model_id, a clip made for another model than the one this edge runs for its mode is
        refused (ModelMismatchError, naming both); an empty model_id is refused too.
        """
        results = [EdgeResult() for _ in items]
        groups: dict[str, list[tuple[int, Any]]] = {}
        for i, item in enumerate(items):
            t0 = time.perf_counter()
            try:
                data, name, model_id = _item_parts(item)
                results[i].mode = str(name)
                results[i].payload_bytes = len(data)
                mode = self.mode(name)
                if model_id is not None and model_id != mode.model_id:
                    raise ModelMismatchError(f"clip made for model {model_id or '(none named)'!r}; this edge runs "
                                             f"{mode.model_id!r} for {mode.name}")
                decoded = mode.decode(data)
            except Exception as exc:  # noqa: BLE001 - any failure is this clip's alone
                self._reject(results[i], i, "decode", exc)
                continue
            results[i].decode_ms = (time.perf_counter() - t0) * 1000.0
            results[i].k, results[i].p = int(decoded.k), float(decoded.p)
            groups.setdefault(mode.name, []).append((i, decoded))
        for name, members in groups.items():
            self._classify(self._modes[name], members, results)
        return results
