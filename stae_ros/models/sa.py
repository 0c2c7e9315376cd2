"""Spatial attention (SA): which pixels of a kept frame matter.

Paper (Sec. III-A2): channel-wise max and mean of the frame -> conv -> sigmoid -> a score per
pixel. We add (config ``sa.motion``) the channel-wise max and mean of ``|frame_t - frame_{t-1}|``
as two more input maps: the camera holds the whole clip, the difference is nearly free, and the
decisive region is where the motion is. ``sa.hidden > 0`` inserts one hidden layer (k x k conv,
ReLU, 3x3 conv) for data where a single linear filter is too weak.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import SAConfig
from .errors import ShapeError
from .motion import frame_difference

__all__ = ["SpatialAttention"]


def one_output_depthwise(x: Tensor, weight: Tensor, bias: Tensor | None, padding, map_major: bool = False) -> Tensor:
    """A one-output conv over ``c`` maps of ``n`` frames, as a depthwise conv over every
    (frame, map) plus a sum over the maps: ``n,H,W``.

    ``x`` is ``n,c,H,W`` (frame-major), or ``c,n,H,W`` with ``map_major`` (the camera builds its
    maps one whole map at a time); ``weight`` is the conv's ``c,kh,kw`` and ``bias`` its one value.
    The same sum of products as the conv, ordered differently (float error ~1e-5), and 6x faster on
    the camera CPU: oneDNN's direct kernel for one output channel and a 7x7 window took 6-10 ms for
    16 frames of 64x64 on one x86 thread, the depthwise form 1 ms (im2col/NNPACK 2.5-4.5 ms).
    """
    a, b, h, w = x.shape
    n = b if map_major else a
    kernels = weight.repeat_interleave(n, dim=0) if map_major else weight.repeat(n, 1, 1)
    y = F.conv2d(x.reshape(1, a * b, h, w), kernels.unsqueeze(1), None, padding=padding, groups=a * b)
    y = y.view(a, b, h, w).sum(dim=0 if map_major else 1)
    return y.add_(bias.view(1, 1, 1)) if bias is not None else y  # y is the sum's own new tensor


def _per_map_conv(x: Tensor, conv: nn.Conv2d) -> Tensor:
    """``conv(x)`` for SA's one-output conv in its depthwise form (:func:`one_output_depthwise`).

    It is the largest part of the camera's FA+SA time, so inference uses it; training keeps
    ``conv`` itself.
    """
    return one_output_depthwise(x, conv.weight[0], conv.bias, conv.padding).unsqueeze(1)


class SpatialAttention(nn.Module):
    """``forward(frames B,C,K,H,W, motion=None) -> scores B,K,H,W`` in (0,1).

    ``motion`` is ``|frame - previous frame of the full clip|`` for each kept frame (same shape as
    ``frames``); when omitted, differences between consecutive *given* frames are used instead.
    """

    def __init__(self, cfg: SAConfig) -> None:
        super().__init__()
        self.cfg = cfg
        in_ch = 4 if cfg.motion else 2
        k = cfg.kernel_size
        if cfg.hidden:
            self.net: nn.Module = nn.Sequential(
                nn.Conv2d(in_ch, cfg.hidden, k, padding=k // 2),
                nn.ReLU(inplace=True),
                nn.Conv2d(cfg.hidden, 1, 3, padding=1),
            )
        else:
            self.net = nn.Conv2d(in_ch, 1, k, padding=k // 2)
        if cfg.init == "motion":
            self.init_motion_prior()

    @torch.no_grad()
    def init_motion_prior(self) -> None:
        """Scores = the channel-max motion summed over each pixel's 3x3 neighbourhood (plus a
        little of it over the whole window, so among still pixels those near motion come first).

        Why: SA trained only against a classifier that never saw missing pixels learns what keeps
        the zero-filled clip looking whole (on a static camera: a fixed patch of background, as
        the moving person makes mask edges move too) and drops the actor. The motion prior keeps
        the actor and its edges; FR and the ViT then learn on exactly those pixels.
        """
        if not isinstance(self.net, nn.Conv2d) or self.net.in_channels != 4:
            raise ValueError("the motion prior needs one conv over the four maps (sa.motion: true, sa.hidden: 0)")
        k = self.net.kernel_size[0]
        self.net.weight.zero_()
        self.net.bias.fill_(-1.0)
        c = k // 2
        self.net.weight[0, 2] = 0.5  # channel 2: max over colour of |x_t - x_{t-1}|; the whole window breaks ties near motion
        self.net.weight[0, 2, c - 1 : c + 2, c - 1 : c + 2] += 10.0

    def logits(self, frames: Tensor, motion: Tensor | None = None) -> Tensor:
        """Pre-sigmoid pixel scores ``B,K,H,W``."""
        if frames.dim() != 5:
            raise ShapeError(f"SpatialAttention expects frames B,C,K,H,W, got {tuple(frames.shape)}")
        b, c, k, h, w = frames.shape
        x = frames.transpose(1, 2).reshape(b * k, c, h, w)
        desc = [x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True)]
        if self.cfg.motion:
            if motion is None:
                motion = frame_difference(frames)
            elif motion.shape != frames.shape:
                raise ShapeError(f"motion must have the frames' shape {tuple(frames.shape)}, got {tuple(motion.shape)}")
            m = motion.transpose(1, 2).reshape(b * k, c, h, w)
            desc += [m.amax(dim=1, keepdim=True), m.mean(dim=1, keepdim=True)]
        x = torch.cat(desc, dim=1)
        if isinstance(self.net, nn.Conv2d) and not torch.is_grad_enabled():
            return _per_map_conv(x, self.net).view(b, k, h, w)
        return self.net(x).view(b, k, h, w)

    def forward(self, frames: Tensor, motion: Tensor | None = None) -> Tensor:
        return torch.sigmoid(self.logits(frames, motion))
