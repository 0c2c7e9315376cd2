"""The on-disk layout both rendered data sets share, and the pool that renders their clips.

Why one module: the moving-bar set (``data.synthetic``) and the hard set (``data.articulated``) must
be read by the same loaders, so they must write the very same layout: HMDB51-style split files,
``classInd.txt`` and ``annotations.json``, clips named ``<class>/<class>_<idx>.avi``, the first
``train_per_class`` of each class in the training split. Writing it in one place keeps them from
drifting apart.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Sequence

__all__ = ["check_counts", "clip_jobs", "run_jobs", "write_layout"]

#: what a clip job returns: file name, per-frame actor boxes, clip region
JobResult = tuple[str, list[list[int]], list[int]]


def check_counts(train_per_class: int, test_per_class: int) -> None:
    """ValueError unless there is at least one clip and neither count is negative."""
    if train_per_class < 0 or test_per_class < 0 or train_per_class + test_per_class == 0:
        raise ValueError(f"need a positive number of clips, got train={train_per_class} test={test_per_class}")


def clip_jobs(root: Path, class_names: Sequence[str], per_class: int, seed_of: Callable[[int, int], int],
              *extra: Any) -> list[tuple]:
    """One job per clip, class by class: ``(path, class_id, seed, *extra)``; makes the class folders."""
    jobs = []
    for cid, cname in enumerate(class_names):
        (root / cname).mkdir(exist_ok=True)
        for idx in range(per_class):
            jobs.append((root / cname / f"{cname}_{idx:04d}.avi", cid, seed_of(cid, idx), *extra))
    return jobs


def run_jobs(fn: Callable[[tuple], JobResult], jobs: list, workers: int, progress: bool, desc: str,
             chunksize: int, start_method: str = "fork") -> list[JobResult]:
    """``fn`` over every job, in order (so the output is deterministic), in ``workers`` processes."""
    from tqdm import tqdm

    bar = tqdm(total=len(jobs), desc=desc, unit="clip", disable=not progress)
    try:
        if workers <= 1:
            out = []
            for job in jobs:
                out.append(fn(job))
                bar.update()
            return out
        import multiprocessing as mp

        ctx = mp.get_context(start_method)
        with ctx.Pool(workers) as pool:
            out = []
            for res in pool.imap(fn, jobs, chunksize=chunksize):  # imap keeps order: deterministic
                out.append(res)
                bar.update()
            return out
    finally:
        bar.close()


def write_layout(root: Path, class_names: Sequence[str], train_per_class: int, per_class: int, jobs: list,
                 results: list[JobResult], annotations: dict[str, Any]) -> None:
    """Split files, ``classInd.txt`` and ``annotations.json`` (``annotations`` plus the per-clip entries)."""
    clips: dict[str, dict] = {}
    for (path, cid, cseed, *_), (fname, boxes, region) in zip(jobs, results):
        idx = int(path.stem.rsplit("_", 1)[1])
        clips[fname] = {"class": class_names[cid], "label": cid, "split": "train" if idx < train_per_class else "test",
                        "seed": cseed, "boxes": boxes, "region": region}
    for cname in class_names:
        lines = [f"{cname}_{idx:04d}.avi {1 if idx < train_per_class else 2}" for idx in range(per_class)]
        (root / "splits" / f"{cname}_test_split1.txt").write_text("\n".join(lines) + "\n")
    (root / "classInd.txt").write_text("".join(f"{i + 1} {n}\n" for i, n in enumerate(class_names)))
    ann = {**annotations, "clips": clips}
    (root / "annotations.json").write_text(json.dumps(ann, sort_keys=True, separators=(",", ":")) + "\n")
