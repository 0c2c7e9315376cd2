"""Time profiles shared by the motion library: onset windows, keyframes, pulses.

Why a module of its own: every class draws its onset, duration and speed from these same few
helpers, so timing varies per clip in the same way for every class (a frame's position in the
clip says nothing about the class) and only the *shape* of the motion over time differs.
"""

from __future__ import annotations

import numpy as np

__all__ = ["window", "smooth", "keyframes", "cycle_phase"]


def smooth(x: np.ndarray) -> np.ndarray:
    """Smoothstep of ``x`` clipped to [0, 1]: eases motions in and out like a person does."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def window(rng: np.random.Generator, u: np.ndarray, start: tuple[float, float] = (0.0, 0.3),
           length: tuple[float, float] = (0.55, 0.9)) -> np.ndarray:
    """Linear progress 0 -> 1 inside a random sub-window of the clip (``u`` in [0, 1]).

    The window starts in ``start`` and lasts ``length`` of the clip (clipped to the clip end), so
    onset and speed vary per clip; frames before/after hold the first/last pose."""
    a = rng.uniform(*start)
    b = min(1.0, a + rng.uniform(*length))
    return np.clip((u - a) / max(b - a, 1e-6), 0.0, 1.0)


def keyframes(g: np.ndarray, times: list[float], values: list[float]) -> np.ndarray:
    """Piecewise-smooth interpolation of ``values`` at ``times`` (progress ``g`` in [0, 1])."""
    times_a = np.asarray(times, np.float64)
    values_a = np.asarray(values, np.float64)
    k = np.clip(np.searchsorted(times_a, g, side="right") - 1, 0, len(times_a) - 2)
    t0, t1 = times_a[k], times_a[k + 1]
    w = smooth((g - t0) / np.maximum(t1 - t0, 1e-9))
    return values_a[k] + (values_a[k + 1] - values_a[k]) * w


def cycle_phase(rng: np.random.Generator, u: np.ndarray, cycles: tuple[float, float]) -> np.ndarray:
    """Phase (radians) of a periodic motion with a random rate (``cycles`` per clip) and start."""
    return 2.0 * np.pi * rng.uniform(*cycles) * u + rng.uniform(0.0, 2.0 * np.pi)
