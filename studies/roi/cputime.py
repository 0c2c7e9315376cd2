"""Camera ms on one thread, as wall time and as CPU time of this process.

Why both: on a shared machine a run can be descheduled mid-clip, which inflates wall time but
not the CPU time the encode actually used. CPU time (`time.process_time`, all threads of the
process, so x264 helper threads count too) is what one free core would take; wall time
best-of-N is what was observed. Each clip is encoded `repeats` times and its fastest run kept.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Callable

import numpy as np

__all__ = ["time_camera_cpu"]


def time_camera_cpu(encode: Callable[[np.ndarray], object], clips, repeats: int = 5) -> dict:
    """{"ms_median_of_min", "cpu_ms_median_of_min", "ms_mean_single", "load1", ...} over `clips`."""
    clips = list(clips)
    for c in clips[:2]:
        encode(c)
    best, best_cpu, first = [], [], []
    for c in clips:
        runs, cpu = [], []
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            encode(c)
            runs.append((time.perf_counter() - t0) * 1000.0)
            cpu.append((time.process_time() - c0) * 1000.0)
        best.append(min(runs))
        best_cpu.append(min(cpu))
        first.append(runs[0])
    return {
        "ms_median_of_min": statistics.median(best),
        "cpu_ms_median_of_min": statistics.median(best_cpu),
        "ms_mean_single": float(np.mean(first)),
        "load1": os.getloadavg()[0],
        "clips": len(clips),
        "repeats": repeats,
    }
