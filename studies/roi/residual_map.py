"""A trained SA map that starts as the motion map and learns a residual, trained for crop mode.

Why another trained map: the earlier one (`train_map.py`) was trained on the *fill* composite with
the kept *area* as the rate term, but the best stae-roi264 mode is *crop*, whose bytes follow the
coded *window* (the bounding box of every kept block over the clip, 16-px aligned) and whose edge
sees the whole window (not just the kept blocks) on grey. So here:

- map logits = logit(motion map) + residual(clip); the residual net's last layer starts at zero,
  so training starts exactly at the hand-made map (no collapse, no distillation phase);
- the decoded-clip stand-in is the crop composite: the clip inside the window, grey outside;
  the window of the hard map (the camera's own `RoiCodec.crop_window`) passes its gradient
  straight through a soft window (outer product of soft row and column occupancy);
- rate term = soft window area fraction, its weight annealed linearly from 0 to `beta`, so the
  classifier's gradient shapes the map before the rate pushes it down;
- the classifier adapts alongside (lr / 4), as the edge classifier is fine-tuned on decoded clips.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from tqdm import tqdm

from stae_ros.models.selection import clip_tensor

from stae_ros.roi.classifier import to_tensor
from stae_ros.roi.netfile import load_net_file, save_net_file
from stae_ros.roi.importance import ImportanceNet, motion_importance
from stae_ros.roi.map_training import MapTraining, map_and_classifier_optimizer

__all__ = ["ResidualImportance", "crop_composite_torch", "train_residual_map", "save_residual_map", "load_residual_map"]

log = logging.getLogger(__name__)

FORMAT = "stae-roi-residual-map/1"


class ResidualImportance(nn.Module):
    """logits = gain * logit(motion map) + ImportanceNet(clip) (zero at start)."""

    def __init__(self, block: int = 8, dilate: int = 1, width: int = 16) -> None:
        super().__init__()
        self.block, self.dilate = block, dilate
        self.residual = ImportanceNet(width=width, block=block)
        last = self.residual.net[-1]
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.gain = nn.Parameter(torch.tensor(1.0))

    @staticmethod
    def motion_logit(motion: torch.Tensor) -> torch.Tensor:
        return torch.logit(motion.clamp(0.02, 0.98))

    def forward(self, clip: torch.Tensor, motion: torch.Tensor) -> torch.Tensor:
        """clip B,3,T,H,W in [0,1], motion map B,T,hb,wb in [0,1] -> logits B,T,hb,wb."""
        return self.gain * self.motion_logit(motion) + self.residual(clip)

    @torch.no_grad()
    def importance(self, clip: np.ndarray) -> np.ndarray:
        """uint8 T,H,W,3 -> T,hb,wb in (0,1): what `RoiCodec.encode` takes."""
        m = torch.from_numpy(motion_importance(clip, self.block, self.dilate))[None]
        x = clip_tensor(clip)
        return torch.sigmoid(self(x, m))[0].numpy()


def _hard_window_mask(keep: np.ndarray, h: int, w: int) -> np.ndarray:
    """keep B,T,hb,wb bool -> B,H,W float mask of the camera's crop window (RoiCodec.crop_window)."""
    from stae_ros.roi.codec import RoiCodec, RoiSettings

    codec = RoiCodec(RoiSettings(threshold=0.5, mode="crop"))
    out = np.zeros((len(keep), h, w), np.float32)
    for i, k in enumerate(keep):
        x0, y0, cw, ch = codec.crop_window(k.astype(np.float32), h, w)
        out[i, y0 : y0 + ch, x0 : x0 + cw] = 1.0
    return out


def crop_composite_torch(clip: torch.Tensor, soft: torch.Tensor, hard_straight_through: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """clip B,3,T,H,W; soft map B,T,hb,wb -> (clip inside the window / grey outside, soft window area fraction)."""
    b, _, t, h, w = clip.shape
    rows = soft.amax(dim=(1, 3))  # B,hb: is any block of this row kept at any time
    cols = soft.amax(dim=(1, 2))  # B,wb
    win = rows[:, :, None] * cols[:, None, :]  # B,hb,wb soft window
    area = rows.mean(dim=1) * cols.mean(dim=1)
    m = F.interpolate(win[:, None], size=(h, w), mode="nearest")[:, 0]  # B,H,W
    if hard_straight_through:
        hard = torch.from_numpy(_hard_window_mask((soft >= 0.5).detach().numpy(), h, w))
        m = hard + m - m.detach()
    m = m[:, None, None]
    return m * clip + (1.0 - m) * (128.0 / 255.0), area


def train_residual_map(
    classifier: nn.Module,
    clips: np.ndarray,
    labels: np.ndarray,
    cfg: MapTraining,
    dilate: int = 1,
) -> tuple[ResidualImportance, dict]:
    """Returns the trained map and last-step stats (ce, window area, kept area)."""
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    steps, batch, beta = cfg.steps, cfg.batch, cfg.beta
    net = ResidualImportance(block=cfg.block, dilate=dilate)
    motion = np.stack([motion_importance(c, cfg.block, dilate) for c in clips])
    cls, opt, sched = map_and_classifier_optimizer(net, classifier, cfg)
    y_all = torch.from_numpy(np.asarray(labels, np.int64))
    stats: dict = {}
    net.train()
    bar = tqdm(range(steps), desc=f"residual map beta={beta:g}", leave=False, disable=not cfg.progress, mininterval=5.0)
    for step in bar:
        idx = rng.integers(0, len(clips), batch)
        x = to_tensor(clips[idx])
        soft = torch.sigmoid(net(x, torch.from_numpy(motion[idx])))
        comp, area = crop_composite_torch(x, soft, hard_straight_through=True)
        ce = F.cross_entropy(cls(comp), y_all[idx])
        b = beta * min(1.0, step / max(1, int(0.7 * steps)))  # annealed: 0 -> beta over 70% of the steps
        loss = ce + b * area.mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        stats = {"ce": ce.item(), "window": area.mean().item(), "kept": (soft >= 0.5).float().mean().item(), "beta": b}
        bar.set_postfix({k: f"{v:.3f}" for k, v in stats.items()}, refresh=False)
    net.eval()
    return net, stats


def save_residual_map(path, net: ResidualImportance, meta: dict | None = None) -> Path:
    return save_net_file(path, FORMAT, net, {"block": net.block, "dilate": net.dilate}, meta)


def load_residual_map(path) -> ResidualImportance:
    blob = load_net_file(path, FORMAT, "residual map")
    net = ResidualImportance(block=int(blob["block"]), dilate=int(blob["dilate"]))
    net.load_state_dict(blob["state_dict"])
    return net.eval()
