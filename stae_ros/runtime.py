"""Process-wide allocator setting for CPU inference (glibc only; a no-op elsewhere).

Why: every clip, torch and numpy allocate and free the same large buffers (activations of the FA
and SA convolutions, masks, payload arrays; 100 kB to a few MB each). glibc serves a block above
its dynamic mmap threshold with a fresh ``mmap`` whose pages fault in, zero-filled, on first
touch, and hands freed heap back to the OS above its trim threshold, so each clip pays those
page faults again, and how often depends on the process's allocation history. Measured on the
camera side of ``stae-k16-p0.05`` (fast layout, 6-bit values), one thread, 8 fresh processes
each: 4.15-5.03 ms with glibc's defaults, 2.61-2.92 ms with the thresholds below. Raising both
thresholds keeps freed blocks in the heap for reuse; the cost is that the process keeps its
peak working set (tens of MB here) instead of returning it between clips.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "keep_freed_memory"]

log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1  # glibc <malloc.h>
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 64 << 20  #: blocks below this come from the heap (glibc's default: 128 kB, rising to 32 MB)
TRIM_THRESHOLD = 128 << 20  #: free heap top kept before returning memory to the OS (default: 128 kB, dynamic)


def keep_freed_memory(mmap_threshold: int = MMAP_THRESHOLD, trim_threshold: int = TRIM_THRESHOLD) -> bool:
    """Set glibc's mmap and trim thresholds for this process; True when glibc took both.

    Fixed thresholds also switch off glibc's dynamic adjustment, so the cost of a clip no longer
    depends on what the process allocated before it (the bench's run-to-run spread)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other libcs have no mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    ok = mallopt(_M_MMAP_THRESHOLD, int(mmap_threshold)) == 1 and mallopt(_M_TRIM_THRESHOLD, int(trim_threshold)) == 1
    if not ok:
        log.debug("mallopt refused the thresholds; glibc's defaults stay")
    return ok
