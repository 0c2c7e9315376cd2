"""Measurement child processes: one side (camera or edge) of one codec, alone in a fresh process.

Why a child: peak RSS (``ru_maxrss``) is per process and never goes down, so each side must run
in its own process to be attributed correctly; and a fresh process pins threads before torch,
OpenCV or libav start theirs. The parent passes a job JSON; the child writes a result JSON.

Job keys: ``side`` ("camera" | "edge" | "sweep" | "classify"), ``spec`` or ``specs``, ``clips``
(.npy path), ``payloads`` (path written by camera / read by edge), ``repeats``, ``threads``,
``warmup``.
"""

from __future__ import annotations

import json
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

__all__ = ["run_child", "write_payloads", "read_payloads"]

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


def _time_each(fn, items: list, repeats: int, warmup: int) -> tuple[list[float], list[Any], list[float]]:
    """Per-pass median CPU ms and wall ms over ``items`` (``repeats`` passes after ``warmup`` calls).

    CPU time (``process_time``: all threads of this process) is the headline: on a loaded, shared
    host wall time mostly measures the scheduler queue, while a single-threaded process's CPU time
    is what the same work costs on an idle core. Wall medians are kept alongside.
    Returns (cpu medians, outputs of the last pass, wall medians).
    """
    for i in range(warmup):
        fn(items[i % len(items)])
    cpu_medians, wall_medians, outs = [], [], []
    for _ in range(repeats):
        cpu, wall, outs = [], [], []
        for it in items:
            c0, t0 = time.process_time(), time.perf_counter()
            outs.append(fn(it))
            wall.append((time.perf_counter() - t0) * 1e3)
            cpu.append((time.process_time() - c0) * 1e3)
        cpu_medians.append(float(np.median(cpu)))
        wall_medians.append(float(np.median(wall)))
    return cpu_medians, outs, wall_medians


def _main(job_path: str) -> int:
    job = json.loads(Path(job_path).read_text())
    threads = int(job.get("threads", 1))
    repeats = int(job.get("repeats", 3))
    warmup = int(job.get("warmup", 2))
    side = job["side"]
    rss_start = _peak_rss_mb()
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
                medians, payloads, wall = _time_each(codec.encode, clips, repeats, warmup)
                write_payloads(path, payloads)
            else:
                medians, _, wall = _time_each(codec.decode, read_payloads(path), repeats, warmup)
            per_spec.append({"ms_passes": medians, "ms": float(np.median(medians)), "wall_ms": float(np.median(wall)),
                             "peak_rss_mb": _peak_rss_mb()})
        result.update(per_spec[0] if "spec" in job else {"per_spec": per_spec})
    elif side == "classify":
        import torch

        from stae_ros.training import load_model

        _pin_threads(threads, True)
        loaded = load_model(job["checkpoint"])
        clips = [torch.from_numpy(c).permute(3, 0, 1, 2).unsqueeze(0).float().div(255.0) for c in np.load(job["clips"])]

        def classify(x: Any) -> Any:
            with torch.inference_mode():
                return loaded.model.classify(x)

        medians, _, wall = _time_each(classify, clips, repeats, warmup)
        result.update(ms_passes=medians, ms=float(np.median(medians)), wall_ms=float(np.median(wall)))
    elif side == "sweep":  # bytes + encode/decode ms of many specs on one clip set (real footage)
        clips = list(np.load(job["clips"]))
        needs_torch = any(s.get("family") in ("semantic", "external") for s in job["specs"])
        _pin_threads(threads, needs_torch)
        rows = []
        for spec in job["specs"]:
            try:
                codec = make_codec(spec)
                enc, payloads, _ = _time_each(codec.encode, clips, repeats, warmup)
                dec, _, _ = _time_each(codec.decode, payloads, repeats, warmup)
                sizes = [len(p) for p in payloads]
                rows.append({"spec": spec, "name": codec.name, "bytes_mean": float(np.mean(sizes)),
                             "bytes_p95": float(np.percentile(sizes, 95)), "camera_ms": float(np.median(enc)),
                             "camera_ms_passes": enc, "edge_ms": float(np.median(dec)), "edge_ms_passes": dec})
            except Exception as exc:  # one codec that cannot take this size must not sink the sweep
                rows.append({"spec": spec, "error": f"{type(exc).__name__}: {exc}"})
        result["rows"] = rows
    else:
        raise SystemExit(f"unknown side {side!r}")
    result.update(peak_rss_mb=_peak_rss_mb(), start_rss_mb=rss_start)
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
