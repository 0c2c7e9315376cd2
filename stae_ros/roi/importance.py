"""Block importance maps: the trainable map net, the background fill, and its torch twin.

The camera keeps blocks whose importance >= threshold and replaces every other block with a
static, smooth background (per-clip temporal mean, averaged over `bg_block` squares), which
libx264 codes almost for free: flat in space (DC only) and identical in every frame (P-skip).
Why a fill and not only coarser quantisation there (``RoiSettings.region_qp``): a coarse macroblock
still costs its header, motion and residual, where a flat, static one is all skips.
`composite_torch` is the same operation with a soft map, so the map can be trained through a
classifier ("the differentiably approximated decoded clip").
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from stae_ros.models.selection import clip_tensor

from .errors import RoiInputError

__all__ = ["ImportanceNet", "background_numpy", "composite_numpy", "composite_torch", "hold_frames", "save_importance_net", "load_importance_net", "motion_importance"]

NET_FORMAT = "stae-roi-importance/1"


class ImportanceNet(nn.Module):
    """clip B,3,T,H,W in [0,1] -> block logits B,T,H/8,W/8 (SA-style, per frame, from appearance + motion)."""

    def __init__(self, width: int = 16, block: int = 8) -> None:
        super().__init__()
        if block not in (8, 16):
            raise RoiInputError(f"importance block must be 8 or 16 px, got {block}")
        self.block = block
        w = width
        layers: list[nn.Module] = [
            nn.Conv3d(6, w, kernel_size=(3, 4, 4), stride=(1, 4, 4), padding=(1, 0, 0)),
            nn.ReLU(inplace=True),
            nn.Conv3d(w, w, kernel_size=3, stride=(1, 2, 2), padding=1),
            nn.ReLU(inplace=True),
        ]
        if block == 16:
            layers += [nn.Conv3d(w, w, kernel_size=3, stride=(1, 2, 2), padding=1), nn.ReLU(inplace=True)]
        layers.append(nn.Conv3d(w, 1, kernel_size=3, padding=1))
        self.net = nn.Sequential(*layers)
        nn.init.constant_(self.net[-1].bias, 1.0)  # start by keeping most blocks

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        diff = torch.diff(clip, dim=2, prepend=clip[:, :, :1])
        x = torch.cat([clip * 2.0 - 1.0, diff * 4.0], dim=1)
        return self.net(x)[:, 0]

    @torch.no_grad()
    def importance(self, clip: np.ndarray) -> np.ndarray:
        """uint8 T,H,W,3 -> float T,hb,wb in (0,1) (what `RoiCodec.encode` takes)."""
        x = clip_tensor(clip)
        return torch.sigmoid(self(x))[0].numpy()


def background_numpy(clip: np.ndarray, bg_block: int, mode: str = "mean") -> np.ndarray:
    """Static smooth background H,W,3 uint8: temporal mean, averaged over bg_block squares."""
    t, h, w, c = clip.shape
    if mode == "grey":
        return np.full((h, w, c), 128, np.uint8)
    if mode != "mean":
        raise RoiInputError(f"unknown background mode {mode!r}; use 'mean' or 'grey'")
    if h % bg_block or w % bg_block:
        raise RoiInputError(f"frame {h}x{w} is not a multiple of the background block {bg_block}")
    mean = clip.reshape(t, h // bg_block, bg_block, w // bg_block, bg_block, c).mean(axis=(0, 2, 4))
    return np.repeat(np.repeat(np.rint(mean).astype(np.uint8), bg_block, 0), bg_block, 1)


def hold_frames(clip: np.ndarray, frame_importance: np.ndarray, frame_threshold: float) -> np.ndarray:
    """FA as frame-rate control: a frame below the threshold repeats the previous kept frame."""
    if frame_threshold <= 0:
        return clip
    out = clip.copy()
    for t in range(1, len(clip)):
        if frame_importance[t] < frame_threshold:
            out[t] = out[t - 1]
    return out


def composite_numpy(clip: np.ndarray, keep: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Kept blocks from the clip, everything else from the static background (uint8 T,H,W,3)."""
    t, h, w, _ = clip.shape
    bh, bw = h // keep.shape[1], w // keep.shape[2]
    mask = np.repeat(np.repeat(keep, bh, 1), bw, 2)[..., None]
    return np.where(mask, clip, background[None])


def composite_torch(clip: torch.Tensor, keep: torch.Tensor, bg_block: int) -> torch.Tensor:
    """Torch twin of composite_numpy with a soft map: clip B,3,T,H,W; keep B,T,hb,wb in [0,1]."""
    b, c, t, h, w = clip.shape
    mean = F.avg_pool2d(clip.mean(dim=2), bg_block)
    bg = F.interpolate(mean, scale_factor=bg_block, mode="nearest").unsqueeze(2)
    m = F.interpolate(keep, size=(h, w), mode="nearest").unsqueeze(1)
    return m * clip + (1.0 - m) * bg


def save_importance_net(path, net: ImportanceNet, meta: dict | None = None):
    """One file: format id, block size, width and weights."""
    from .netfile import save_net_file

    return save_net_file(path, NET_FORMAT, net, {"block": net.block, "width": net.net[0].out_channels}, meta)


def load_importance_net(path) -> ImportanceNet:
    from .netfile import load_net_file

    blob = load_net_file(path, NET_FORMAT, "importance net")
    net = ImportanceNet(width=int(blob["width"]), block=int(blob["block"]))
    net.load_state_dict(blob["state_dict"])
    return net.eval()


def motion_importance(clip: np.ndarray, block: int = 8, dilate: int = 1) -> np.ndarray:
    """Hand-made FA/SA stand-in: per-block motion energy over the clip, as a T,hb,wb map in [0,1].

    Energy = mean |frame difference| per block, max over time (the whole path of the motion),
    minus its median over blocks (global drift and sensor noise move every block a little),
    scaled by the maximum, dilated by `dilate` blocks (the actor's edges and what it moves into).
    The same map is used for every frame, so the kept region is static and cheap for x264.
    """
    if clip.ndim != 4 or clip.shape[1] % block or clip.shape[2] % block:
        raise RoiInputError(f"clip {clip.shape} is not T,H,W,C with H,W multiples of {block}")
    t, h, w, _ = clip.shape
    x = clip.astype(np.float32).mean(axis=3)
    d = np.abs(np.diff(x, axis=0)) if t > 1 else np.zeros((1, h, w), np.float32)
    e = d.reshape(d.shape[0], h // block, block, w // block, block).mean(axis=(2, 4)).max(axis=0)
    e = np.maximum(e - np.median(e), 0.0)
    e = e / max(float(e.max()), 1e-6)
    if dilate > 0:
        pad = np.pad(e, dilate, mode="constant")
        e = np.max(
            [pad[i : i + e.shape[0], j : j + e.shape[1]] for i in range(2 * dilate + 1) for j in range(2 * dilate + 1)], axis=0
        ) * 0.5 + e * 0.5
    return np.broadcast_to(e, (t,) + e.shape).astype(np.float32).copy()


def _block_energy(a: np.ndarray, b: np.ndarray, block: int) -> np.ndarray:
    """Per-block mean |a - b| of two grey frames H,W, minus its median over blocks (drift, noise)."""
    h, w = a.shape
    e = np.abs(a - b).reshape(h // block, block, w // block, block).mean(axis=(1, 3))
    return np.maximum(e - np.median(e), 0.0)


def frame_change_scores(clip: np.ndarray, keep: np.ndarray, frame_threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Temporal FA on the kept region: which frames are worth coding, chosen greedily in time.

    Frame t is coded when the kept blocks changed enough since the last *coded* frame:
    score_t = mean block energy of |x_t - x_last| over the kept blocks (`keep`, hb,wb bool; all
    blocks if none), divided by the clip's largest one-step energy. Frames with score below
    `frame_threshold` are held (the previous coded frame repeats, x264 codes P-skips), so slow
    or paused motion is sent at a lower frame rate and fast motion at the full rate; changes
    accumulate, so a held frame never hides more motion than `frame_threshold` of the largest step.
    Frame 0 (the I-frame) is always coded. Returns (scores T, coded T bool).
    """
    t, h, w, _ = clip.shape
    block = h // keep.shape[0]
    x = clip.astype(np.float32).mean(axis=3)
    sel = keep if keep.any() else np.ones_like(keep, bool)
    step = [float(_block_energy(x[i], x[i - 1], block)[sel].mean()) for i in range(1, t)]
    ref = max(step, default=0.0)
    scores = np.ones(t, np.float64)
    coded = np.ones(t, bool)
    last = 0
    for i in range(1, t):
        s = float(_block_energy(x[i], x[last], block)[sel].mean()) / ref if ref > 1e-6 else 0.0
        scores[i] = s
        if s >= frame_threshold:
            last = i
        else:
            coded[i] = False
    return scores, coded


def gate_frames(spatial: np.ndarray, coded: np.ndarray, scores: np.ndarray, frame_threshold: float) -> np.ndarray:
    """Per-frame map from a per-clip map: coded frames keep it, held frames are scaled below
    `frame_threshold`, so `RoiCodec` (frame importance = max over blocks) holds exactly them."""
    spatial = np.asarray(spatial, np.float32)
    if spatial.ndim == 3:
        spatial = spatial.max(axis=0)
    below = np.nextafter(np.float32(frame_threshold), np.float32(0))
    peak = max(float(spatial.max()), 1e-6)
    g = np.where(coded, 1.0, np.minimum(np.clip(scores, 0.0, None), below) / peak).astype(np.float32)
    # (a spatial map whose peak is below the threshold - no motion anywhere - holds every frame)
    return spatial[None] * g[:, None, None]


def motion_importance_fa(
    clip: np.ndarray,
    block: int = 8,
    dilate: int = 1,
    frame_threshold: float = 0.5,
    keep_threshold: float = 0.5,
    select: str = "motion",
    stride: int = 2,
) -> np.ndarray:
    """`motion_importance` (where) + a per-frame FA decision (when): T,hb,wb map for `RoiCodec`
    with `RoiSettings(frame_threshold=frame_threshold)`.

    select="motion": frames chosen by `frame_change_scores` on the kept blocks;
    select="uniform": every `stride`-th frame coded (fixed frame-rate reduction, the control).
    """
    if not 0.0 < frame_threshold <= 1.0:
        raise RoiInputError(f"frame threshold must be in (0, 1] (the per-clip map peaks at 1), got {frame_threshold}")
    spatial = motion_importance(clip, block, dilate)[0]
    t = clip.shape[0]
    if select == "motion":
        scores, coded = frame_change_scores(clip, spatial >= keep_threshold, frame_threshold)
    elif select == "uniform":
        if stride < 1:
            raise RoiInputError(f"frame stride must be >= 1, got {stride}")
        coded = np.arange(t) % stride == 0
        scores = np.where(coded, 1.0, 0.0)
    else:
        raise RoiInputError(f"unknown frame selection {select!r}; use 'motion' or 'uniform'")
    return gate_frames(spatial, coded, scores, frame_threshold)


__all__ += ["frame_change_scores", "gate_frames", "motion_importance_fa"]
