"""The paper's selections as codecs: which frames and pixels the camera keeps, and what the edge
does with them. All four send the same wire format (``stae_ros.codec``, the ``stae-px`` payload:
kept frame indices + pixel mask + kept values, entropy coded), so their bytes differ only by what
was selected:

- ``fa``: FA's top-K frames, every pixel of them (p = 1); the edge classifies the zero-filled clip.
- ``fa_random``: FA's top-K frames, ``budget_pixels(p)`` pixels per frame chosen at random (the
  paper's DeepISC-style baseline: same K and p, no spatial attention); zero-filled clip, no FR.
- ``fa_sa``: FA + SA selection (``STAE.select``), zero-filled clip, no FR.
- ``stae``: FA + SA, and the edge runs FR on the zero-filled clip (the full method).

``layout`` picks the stae-px layout (default ``auto``: smallest lossless layout); a lossy value
layout (``auto+jpeg``/``auto+webp`` with ``quality``) is the codec work's best lossy option, and
``bits`` < 8 quantises the kept values (the camera node sends ``fast`` with ``value_bits`` 6).

torch and the model are imported lazily so the classic codecs stay torch-free.
"""

from __future__ import annotations

import threading
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from .base import ClipCodec, check_clip
from .errors import BaselineDecodeError, ClipFormatError

__all__ = ["SelectionCodec", "SEMANTIC_MODES", "load_checkpoint_cached"]

SEMANTIC_MODES = ("fa", "fa_random", "fa_sa", "stae")

_CACHE: dict[str, Any] = {}
_LOCK = threading.Lock()


def load_checkpoint_cached(path: str | Path) -> Any:
    """``stae_ros.training.load_model`` once per path per process (codecs of one sweep share it)."""
    key = str(Path(path).resolve())
    with _LOCK:
        if key not in _CACHE:
            from stae_ros.training import load_model

            loaded = load_model(key, device="cpu")
            loaded.model.eval()
            _CACHE[key] = loaded
        return _CACHE[key]


class SelectionCodec(ClipCodec):
    """One (mode, K, p) operating point of the STAE family on a loaded checkpoint."""

    needs_model = True

    def __init__(self, mode: str, k: int, p: float, checkpoint: str | None = None, *, loaded: Any = None,
                 seed: int = 0, layout: str = "auto", quality: int | None = None, bits: int = 8) -> None:
        if mode not in SEMANTIC_MODES:
            raise ClipFormatError(f"unknown selection mode {mode!r}; use one of {', '.join(SEMANTIC_MODES)}")
        if mode == "fa":
            p = 1.0
        if loaded is None:
            if checkpoint is None:
                raise ClipFormatError("a selection codec needs a checkpoint path or a loaded model")
            loaded = load_checkpoint_cached(checkpoint)
        if not 1 <= int(bits) <= 8:
            raise ClipFormatError(f"bits per kept value must be in 1..8, got {bits}")
        params: dict[str, Any] = {"bits": int(bits)} if int(bits) != 8 else {}
        super().__init__(mode=mode, k=int(k), p=float(p), checkpoint=None if checkpoint is None else str(checkpoint),
                         seed=seed, layout=layout, quality=quality, **params)
        self.family = mode if layout == "auto" else f"{mode}_{layout.split('+')[-1]}"
        if int(bits) != 8:
            self.family += f"_b{int(bits)}"
        self.mode, self.k, self.p, self.layout, self.quality = mode, int(k), float(p), layout, quality
        self.bits = int(bits)
        self.loaded = loaded
        self.model = loaded.model
        clip_cfg = loaded.config.clip
        if not 1 <= self.k <= clip_cfg.frames:
            raise ClipFormatError(f"K={self.k} is outside 1..{clip_cfg.frames} frames of the model's clip")
        self.seed = int(seed)

    @property
    def name(self) -> str:
        suffix = "" if self.layout == "auto" else f"-{self.layout.split('+')[-1]}"
        suffix += "" if self.quality is None else f"-q{self.quality}"
        suffix += "" if self.bits == 8 else f"-b{self.bits}"
        if self.mode == "fa":
            return f"fa-k{self.k}{suffix}"
        return f"{self.mode.replace('_', '-')}-k{self.k}-p{self.p:g}{suffix}"

    def spec(self) -> dict[str, Any]:
        return {"family": "semantic", **self.params}

    # camera side -------------------------------------------------------------------------------
    def _select(self, clip: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(frame_indices K ascending, mask K,H,W bool) for this mode."""
        import torch

        from stae_ros.models import budget_pixels
        from stae_ros.models.camera_select import select_uint8
        from stae_ros.models.selection import clip_tensor, top_k_frames

        t, h, w, _ = clip.shape
        if self.mode == "fa_sa" or self.mode == "stae":
            return select_uint8(self.model, clip, self.k, self.p)  # the camera node's own path
        with torch.inference_mode():
            idx = top_k_frames(self.model.fa.logits(clip_tensor(clip)), self.k)[0].cpu().numpy()
        if self.mode == "fa":
            return idx, np.ones((self.k, h, w), bool)
        n = budget_pixels(self.p, h, w)
        mask = np.zeros((self.k, h * w), bool)
        # Seeded by (seed, the clip's bytes), not by a generator shared across calls: encode is then a
        # pure function, so a clip's payload and its decode cost do not depend on how many clips came
        # before it (the bench times the last of many encodes; a shared generator made every run's
        # payloads, and their layout and decode time, different).
        rng = np.random.default_rng([self.seed, zlib.crc32(np.ascontiguousarray(clip).data)])
        for row in mask:
            row[rng.choice(h * w, n, replace=False)] = True
        return idx, mask.reshape(self.k, h, w)

    def encode(self, clip: np.ndarray) -> bytes:
        from stae_ros import codec

        clip = check_clip(clip)
        cfg = self.loaded.config.clip
        if clip.shape[0] != cfg.frames:
            raise ClipFormatError(f"the model takes {cfg.frames}-frame clips, got {clip.shape[0]} frames")
        idx, mask = self._select(clip)
        frames = clip if len(idx) == len(clip) else clip[idx]  # K = T: no copy, as the camera node
        payload = codec.SemanticPayload.from_dense(frames, mask, idx.astype(np.uint16), clip.shape, self.p)
        if self.quality is None:
            return codec.encode(payload, layout=self.layout, bits=self.bits)
        return codec.encode(payload, layout=self.layout, quality=self.quality, bits=self.bits)

    # edge side ---------------------------------------------------------------------------------
    def decode(self, data: bytes) -> np.ndarray:
        from stae_ros import codec

        try:
            payload = codec.decode(bytes(data))
        except codec.CodecError as exc:
            raise BaselineDecodeError(f"{self.name}: not a valid stae-px payload: {exc}") from exc
        dense, mask = payload.to_dense()
        if self.mode != "stae":
            return dense
        return self.recover(dense, mask)

    def recover(self, dense: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """FR on a zero-filled uint8 clip; kept pixels are copied back exactly."""
        return self._recover_batch(dense[None], mask[None])[0]

    def _recover_batch(self, dense: np.ndarray, mask: np.ndarray) -> np.ndarray:
        import torch

        x = torch.from_numpy(np.ascontiguousarray(dense)).permute(0, 4, 1, 2, 3).float().div_(255.0)
        m = torch.from_numpy(np.ascontiguousarray(mask)).unsqueeze(1).float()
        with torch.inference_mode():
            y = self.model.recover(x, m)
        out = y.clamp(0, 1).mul(255.0).round().to(torch.uint8).permute(0, 2, 3, 4, 1).cpu().numpy()
        out[mask] = dense[mask]
        return np.ascontiguousarray(out)

    def decode_many(self, payloads: list[bytes], batch: int = 16) -> np.ndarray:
        """Like ``decode`` per clip, with FR run on batches (the bench's accuracy pass)."""
        from stae_ros import codec

        if self.mode != "stae":
            return super().decode_many(payloads)
        outs = []
        for i in range(0, len(payloads), batch):
            dense, masks = [], []
            for data in payloads[i : i + batch]:
                try:
                    d, m = codec.decode(bytes(data)).to_dense()
                except codec.CodecError as exc:
                    raise BaselineDecodeError(f"{self.name}: not a valid stae-px payload: {exc}") from exc
                dense.append(d)
                masks.append(m)
            outs.append(self._recover_batch(np.stack(dense), np.stack(masks)))
        return np.concatenate(outs)

    @property
    def lossless(self) -> bool:
        """True when the layout keeps values exactly (then every lossless layout decodes alike)."""
        return self.bits == 8 and self.layout.split("+")[-1] not in ("jpeg", "webp")
