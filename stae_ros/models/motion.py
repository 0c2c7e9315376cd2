"""Temporal differences: the cheapest motion signal there is.

Our classes (and HMDB51's) are decided by how a small region moves, not by how one frame looks,
so FA, SA and optionally the ViT stem see ``frame_t - frame_{t-1}`` next to the frame itself.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["frame_difference", "normal_flow_moments", "previous_frame_indices"]


def frame_difference(clip: Tensor, absolute: bool = True) -> Tensor:
    """``x_t - x_{t-1}`` along dim 2 of ``B,C,T,H,W`` (``|.|`` when ``absolute``).

    Frame 0 has no predecessor; it gets the difference to frame 1 (negated when signed) so the
    first frame is not systematically "motionless". A one-frame clip gets zeros.
    """
    if clip.shape[2] < 2:
        return torch.zeros_like(clip)
    diff = clip[:, :, 1:] - clip[:, :, :-1]
    first = diff[:, :, :1] if absolute else -diff[:, :, :1]
    out = torch.cat([first, diff], dim=2)
    return out.abs() if absolute else out


def previous_frame_indices(indices: Tensor) -> Tensor:
    """For kept frame indices ``t`` the index of the frame their difference is taken against.

    ``t-1`` for t>0 and ``1`` for t=0 (matching ``frame_difference``); callers with T=1 must not
    use it (the difference is then zero).
    """
    prev = indices - 1
    return torch.where(indices == 0, torch.ones_like(indices), prev)


def normal_flow_moments(clip: Tensor, scale: float = 8.0) -> Tensor:
    """``scale * dI/dt * (dI/dx, dI/dy)`` on the grey level of ``B,C,T,H,W``: ``B,2,T,H,W``.

    The numerator of normal (Lucas-Kanade) flow: at an edge it points along the motion, with a
    sign that a plain difference image does not carry. Linear weights over a patch of these two
    maps can sum angular momentum around the patch, which is what tells a bar turning clockwise
    from one turning counter-clockwise; the ViT cannot learn that from frames and differences
    (a small ViT stays at chance on that pair, and learns it with these two maps). The temporal
    derivative is ``frame_difference`` (signed); spatial ones are central differences.
    """
    grey = clip.mean(dim=1, keepdim=True)
    dt = frame_difference(grey, absolute=False)
    dx = torch.nn.functional.pad(grey[..., 2:] - grey[..., :-2], (1, 1)) * 0.5
    dy = torch.nn.functional.pad(grey[..., 2:, :] - grey[..., :-2, :], (0, 0, 1, 1)) * 0.5
    return torch.cat([dt * dx, dt * dy], dim=1) * scale
