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

Batch jobs (training, fine-tuning, the bench's accuracy pass) free and reallocate blocks larger
than any mmap threshold glibc accepts: a ViT training step at batch 16 allocates 128 MB blocks,
and each one was a fresh ``mmap`` whose 32,768 pages faulted in on every step (210,000 faults per
step, 65% of the step in the kernel). ``heap_only=True`` switches mmap off for malloc (every block
comes from the heap) and keeps up to 1 GB of free heap: the same fine-tuning step then takes
0.20 s instead of 0.52 s on one thread, for 9% more peak RSS (765 vs 704 MB).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

__all__ = ["BATCH_TRIM_THRESHOLD", "MMAP_THRESHOLD", "TRIM_THRESHOLD", "keep_freed_memory"]

log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1  # glibc <malloc.h>
_M_MMAP_THRESHOLD = -3
_M_MMAP_MAX = -4
MMAP_THRESHOLD = 64 << 20  #: blocks below this come from the heap (glibc's default: 128 kB, rising to 32 MB)
TRIM_THRESHOLD = 128 << 20  #: free heap top kept before returning memory to the OS (default: 128 kB, dynamic)
BATCH_TRIM_THRESHOLD = 1 << 30  #: the same for ``heap_only`` (batch jobs): above a training step's largest block


def keep_freed_memory(mmap_threshold: int = MMAP_THRESHOLD, trim_threshold: int | None = None,
                      heap_only: bool = False) -> bool:
    """Set glibc's mmap and trim thresholds for this process; True when glibc took every setting.

    Fixed thresholds also switch off glibc's dynamic adjustment, so the cost of a clip no longer
    depends on what the process allocated before it (the bench's run-to-run spread). ``heap_only``
    is for batch jobs: no malloc block is ever mmap'd, and the trim threshold defaults to
    ``BATCH_TRIM_THRESHOLD``."""
    if trim_threshold is None:
        trim_threshold = BATCH_TRIM_THRESHOLD if heap_only else TRIM_THRESHOLD
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other libcs have no mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    ok = mallopt(_M_MMAP_THRESHOLD, int(mmap_threshold)) == 1 and mallopt(_M_TRIM_THRESHOLD, int(trim_threshold)) == 1
    if ok and heap_only:
        ok = mallopt(_M_MMAP_MAX, 0) == 1
    if not ok:
        log.debug("mallopt refused the thresholds; glibc's defaults stay")
    return ok
