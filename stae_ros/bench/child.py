"""Measurement child processes: one side (camera or edge) of one codec, alone in a fresh process.

Why a child: peak RSS (``ru_maxrss``) is per process and never goes down, so each side must run
in its own process to be attributed correctly; and a fresh process pins threads before torch,
OpenCV or libav start theirs. The parent passes a job JSON; the child writes a result JSON.

One child is one *run* of one side: the parent starts several runs per point (``--repeats``),
interleaved with the other points' runs, and reports their spread. Within a run every clip is
timed ``reps`` times and its minimum CPU time kept; the run's number is the median over clips.

Every camera, edge and classify child also times a fixed host probe (a sort in the caches and an
8 MB copy, the kinds of work the codecs do) before and after its run: a host-speed index per run,
so the parent can tell a run that a slow phase of the host hit from a codec's own variance.

Job keys: ``side`` ("camera" | "edge" | "sweep" | "classify"), ``spec`` or ``specs``, ``clips``
(.npy path), ``payloads`` (path written by camera / read by edge), ``threads``, ``reps``,
``warmup``, ``min_sample_ms``, ``min_run_s``.
"""

from __future__ import annotations

import json
import math
import os
import resource
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ChildProcessError_

__all__ = ["host_probe_ms", "read_payloads", "run_child", "write_payloads"]

_THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def write_payloads(path: str | Path, payloads: list[bytes]) -> None:
    with open(path, "wb") as f:
        for p in payloads:
            f.write(struct.pack("<I", len(p)))
            f.write(p)


def read_payloads(path: str | Path) -> list[bytes]:
    data = Path(path).read_bytes()
    out, i = [], 0
    while i < len(data):
        (n,) = struct.unpack_from("<I", data, i)
        out.append(data[i + 4 : i + 4 + n])
        i += 4 + n
    return out


def _peak_rss_mb() -> float:
    """Peak resident memory of this process in MiB.

    VmHWM, not ``ru_maxrss``: Linux keeps ru_maxrss across fork+exec, so a child of a big parent
    would report the parent's size; VmHWM belongs to the new address space and starts fresh.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:  # not Linux
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _pin_threads(threads: int, needs_torch: bool) -> None:
    import cv2

    cv2.setNumThreads(threads)
    if needs_torch:
        import torch

        torch.set_num_threads(threads)
        try:
            torch.set_num_interop_threads(threads)
        except RuntimeError:  # already set
            pass


def _threads_now() -> int:
    """Threads of this process right now (Linux; 0 when unknown)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Threads:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _time_each(fn, items: list, reps: int = 5, warmup: int = 2, min_sample_ms: float = 2.0,
               min_run_s: float = 0.0, max_rounds: int = 50, max_inner: int = 500) -> tuple[dict[str, list[float]], list[Any]]:
    """Per-item CPU and wall ms: the minimum over ``reps`` samples of each item.

    CPU time (``process_time``, all threads of this process; the children run one thread) is
    the headline: on a shared host wall time mostly measures the scheduler queue. Other processes
    can only make a sample *slower* (cache and memory-bandwidth contention, interrupts), never
    faster, so the minimum over repeated samples of the same clip is the stable estimate of what
    the work costs. The samples go round-robin over the items (every item once, then every item
    again, ...), so each item's samples are spread over the whole run rather than bunched into
    one moment of it; rounds go on past ``reps`` until the run has lasted ``min_run_s`` seconds
    (at most ``max_rounds``), so that even a fast codec's minimum is taken over a stretch of time
    longer than a typical slow phase of a shared host. An item that takes less than
    ``min_sample_ms`` is run ``inner`` times back to back per sample (sub-millisecond codecs), and
    the sample is the mean of those calls.

    Returns ({"cpu", "wall", "inner"} lists per item, outputs of the last call per item).
    """
    for i in range(warmup):
        fn(items[i % len(items)])
    inner, outs = [], []
    for it in items:  # one call per item: its own warm-up, and how many calls make a sample
        c0 = time.process_time()
        outs.append(fn(it))
        one = (time.process_time() - c0) * 1e3
        inner.append(1 if one >= min_sample_ms else int(min(max_inner, math.ceil(min_sample_ms / max(one, 1e-3)))))
    cpu = [math.inf] * len(items)
    wall = [math.inf] * len(items)
    start = time.perf_counter()
    rounds = 0
    while rounds < max(1, reps) or (time.perf_counter() - start < min_run_s and rounds < max_rounds):
        rounds += 1
        for j, it in enumerate(items):
            n = inner[j]
            c0, t0 = time.process_time(), time.perf_counter()
            for _ in range(n):
                out = fn(it)
            wall[j] = min(wall[j], (time.perf_counter() - t0) * 1e3 / n)
            cpu[j] = min(cpu[j], (time.process_time() - c0) * 1e3 / n)
            outs[j] = out
    return {"cpu": cpu, "wall": wall, "inner": inner}, outs


def _reset_peak_rss() -> None:
    """Reset this process's VmHWM to its current RSS (Linux >= 4.0; elsewhere nothing happens)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def host_probe_ms(reps: int = 5) -> float:
    """CPU ms of a fixed workload, the minimum over ``reps`` samples: this host's speed right now.

    Why: the bench runs on shared machines whose speed drifts for a minute at a time (other
    tenants' cache and memory traffic, frequency). Sorting 64k floats (compute in the caches) and
    copying 8 MB (past the L2, as the per-clip buffers) slow down with such a phase; a STAE camera
    run slowed by 12% with a memory-bound process on the other core, the probe's first version (a
    matrix product instead of the sort) by 8%; this version was not measured under that load.
    The buffers are anonymous mappings, unmapped afterwards, and no BLAS is called (OpenBLAS keeps
    a 32 MB buffer), so the probe leaves the child's resident memory as it found it."""
    import mmap

    vals = np.random.default_rng(0).standard_normal(1 << 16).astype(np.float32)
    n = 8 << 20
    with mmap.mmap(-1, n) as m_src, mmap.mmap(-1, n) as m_dst:
        src = np.frombuffer(m_src, np.uint8)
        dst = np.frombuffer(m_dst, np.uint8)
        src[:] = 1
        best = math.inf
        for _ in range(max(1, reps)):
            c0 = time.process_time()
            for _ in range(4):
                np.sort(vals)
                np.copyto(dst, src)
            best = min(best, (time.process_time() - c0) * 1e3)
        del src, dst  # the mappings close only without views on them
    return best


def _summary(t: dict[str, list[float]]) -> dict[str, Any]:
    """One run's numbers: median over clips of the per-clip minima (CPU and wall)."""
    return {"ms": float(np.median(t["cpu"])), "ms_per_clip": t["cpu"], "wall_ms": float(np.median(t["wall"])),
            "inner": int(max(t["inner"]))}


def _main(job_path: str) -> int:
    from stae_ros.runtime import keep_freed_memory

    malloc_tuned = keep_freed_memory()  # what the nodes do at start (see stae_ros.runtime), for every codec alike
    job = json.loads(Path(job_path).read_text())
    threads = int(job.get("threads", 1))
    timing = {"reps": int(job.get("reps", 5)), "warmup": int(job.get("warmup", 2)),
              "min_sample_ms": float(job.get("min_sample_ms", 2.0)), "min_run_s": float(job.get("min_run_s", 0.0))}
    side = job["side"]
    rss_start = _peak_rss_mb()
    probe_before = host_probe_ms() if side != "sweep" else None
    if probe_before is not None:
        _reset_peak_rss()  # the probe's buffers are gone; their peak is not the codec's
    from stae_ros.baselines import make_codec

    result: dict[str, Any] = {"side": side, "threads": threads}
    if side in ("camera", "edge"):
        # one spec (its own process: RSS is its own), or several sharing one process (tiny runs)
        specs = job["specs"] if "specs" in job else [job["spec"]]
        paths = job["payloads"] if isinstance(job["payloads"], list) else [job["payloads"]]
        needs_torch = any(s.get("family") in ("semantic", "external") for s in specs)
        _pin_threads(threads, needs_torch)
        clips = list(np.load(job["clips"])) if side == "camera" else []
        per_spec = []
        for spec, path in zip(specs, paths):
            codec = make_codec(spec)
            if side == "camera":
                t, payloads = _time_each(codec.encode, clips, **timing)
                write_payloads(path, payloads)
            else:
                t, _ = _time_each(codec.decode, read_payloads(path), **timing)
            per_spec.append(_summary(t) | {"peak_rss_mb": _peak_rss_mb(), "threads_seen": _threads_now()})
        result.update(per_spec[0] if "spec" in job else {"per_spec": per_spec})
    elif side == "classify":
        import torch

        from stae_ros.models.selection import clip_tensor
        from stae_ros.training import load_model

        _pin_threads(threads, True)
        loaded = load_model(job["checkpoint"])
        clips = [clip_tensor(c) for c in np.load(job["clips"])]

        def classify(x: Any) -> Any:
            with torch.inference_mode():
                return loaded.model.classify(x)

        t, _ = _time_each(classify, clips, **timing)
        result.update(_summary(t) | {"threads_seen": _threads_now()})
    elif side == "sweep":  # bytes + encode/decode ms of many specs on one clip set (real footage)
        clips = list(np.load(job["clips"]))
        needs_torch = any(s.get("family") in ("semantic", "external") for s in job["specs"])
        _pin_threads(threads, needs_torch)
        rows = []
        for spec in job["specs"]:
            try:
                codec = make_codec(spec)
                enc, payloads = _time_each(codec.encode, clips, **timing)
                dec, _ = _time_each(codec.decode, payloads, **timing)
                sizes = [len(p) for p in payloads]
                rows.append({"spec": spec, "name": codec.name, "bytes_mean": float(np.mean(sizes)),
                             "bytes_p95": float(np.percentile(sizes, 95)), "camera_ms": float(np.median(enc["cpu"])),
                             "edge_ms": float(np.median(dec["cpu"]))})
            except Exception as exc:  # one codec that cannot take this size must not sink the sweep
                rows.append({"spec": spec, "error": f"{type(exc).__name__}: {exc}"})
        result["rows"] = rows
    else:
        raise SystemExit(f"unknown side {side!r}")
    peak_rss = _peak_rss_mb()  # before the second probe, which must not count as the codec's memory
    if probe_before is not None:  # the slower end of the run: a slow phase that covered it shows at either end
        result["host_probe_ms"] = max(probe_before, host_probe_ms())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result.update(peak_rss_mb=peak_rss, start_rss_mb=rss_start, process_cpu_s=usage.ru_utime + usage.ru_stime,
                  malloc_tuned=malloc_tuned)
    Path(job["result"]).write_text(json.dumps(result))
    return 0


def run_child(job: dict[str, Any], timeout_s: float = 900.0) -> dict[str, Any]:
    """Run one job in a fresh interpreter with thread pools pinned; return its result dict."""
    threads = int(job.get("threads", 1))
    env = dict(os.environ)
    for key in _THREAD_ENV:
        env[key] = str(threads)
    with tempfile.TemporaryDirectory(prefix="stae-bench-") as tmp:
        job = dict(job, result=str(Path(tmp) / "result.json"))
        job_path = Path(tmp) / "job.json"
        job_path.write_text(json.dumps(job))
        proc = subprocess.run([sys.executable, "-m", "stae_ros.bench.child", str(job_path)], env=env,
                              capture_output=True, text=True, timeout=timeout_s)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout)[-2000:]
            raise ChildProcessError_(f"bench child ({job.get('side')}, {job.get('spec', '')}) exited {proc.returncode}:\n{tail}")
        return json.loads(Path(job["result"]).read_text())


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1]))
