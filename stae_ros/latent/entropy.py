"""A factorised prior: one discretised logistic per latent channel, learned jointly with the encoder.

Why logistic: its CDF is a sigmoid, so the probability mass of an integer bin
``P(k) = sigmoid((k + .5 - mu) / s) - sigmoid((k - .5 - mu) / s)`` is exact and cheap in torch
(training, with additive uniform noise standing in for rounding) and in numpy (the coding
tables). Tables are built in float64 from the float32 parameters by one function used by both
ends, so encoder and decoder hold identical tables and the range coder is bit-exact.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["FactorizedLogistic", "probability_tables", "ideal_bits"]

_LIKELIHOOD_FLOOR = 1e-9


class FactorizedLogistic(nn.Module):
    """Per-channel logistic(mu_c, s_c) prior over integer-quantised latents with support [-R, R]."""

    def __init__(self, channels: int, support: int = 15) -> None:
        super().__init__()
        self.support = int(support)
        self.loc = nn.Parameter(torch.zeros(channels))
        self.log_scale = nn.Parameter(torch.zeros(channels))

    def _scale(self) -> torch.Tensor:
        return torch.exp(self.log_scale).clamp_min(0.05)

    def likelihood(self, y: torch.Tensor) -> torch.Tensor:
        """Probability mass of each (noisy or rounded) value; y is B,C,... with C channels."""
        shape = (1, -1) + (1,) * (y.dim() - 2)
        mu = self.loc.view(shape)
        s = self._scale().view(shape)
        upper = torch.sigmoid((y + 0.5 - mu) / s)
        lower = torch.sigmoid((y - 0.5 - mu) / s)
        return (upper - lower).clamp_min(_LIKELIHOOD_FLOOR)

    def bits(self, y: torch.Tensor) -> torch.Tensor:
        """Estimated bits per sample (sum over all but the batch dim): B."""
        return -torch.log2(self.likelihood(y)).flatten(1).sum(1)

    def quantize(self, y: torch.Tensor, training: bool) -> torch.Tensor:
        """Additive U(-.5,.5) noise while training, rounding (clamped to the support) otherwise."""
        r = float(self.support)
        if training:
            return y.clamp(-r, r) + torch.empty_like(y).uniform_(-0.5, 0.5)
        return torch.round(y).clamp(-r, r)

    def tables(self) -> np.ndarray:
        return probability_tables(
            self.loc.detach().cpu().numpy().astype(np.float32),
            self._scale().detach().cpu().numpy().astype(np.float32),
            self.support,
        )


def probability_tables(loc: np.ndarray, scale: np.ndarray, support: int) -> np.ndarray:
    """C, 2R+1 float64 probabilities of symbols -R..R; the tails are folded into the end bins."""
    loc = np.asarray(loc, dtype=np.float64)[:, None]
    scale = np.asarray(scale, dtype=np.float64)[:, None]
    k = np.arange(-support, support + 1, dtype=np.float64)[None, :]
    cdf = lambda v: 1.0 / (1.0 + np.exp(-(v - loc) / scale))  # noqa: E731
    upper = cdf(k + 0.5)
    lower = cdf(k - 0.5)
    upper[:, -1] = 1.0
    lower[:, 0] = 0.0
    p = np.maximum(upper - lower, 1e-12)
    return p / p.sum(axis=1, keepdims=True)


def ideal_bits(symbols: np.ndarray, tables: np.ndarray, support: int) -> float:
    """Shannon cost of C,... integer symbols under the tables (for reporting against actual bytes)."""
    c = symbols.shape[0]
    idx = symbols.reshape(c, -1).astype(np.int64) + support
    return float(-np.log2(np.take_along_axis(tables, idx, axis=1)).sum())

