"""``ensemble: N`` in a local or edge training config: N runs of one recipe, saved as one file.

Why: on a small real set the seed alone moves a run's accuracy by several points (Weizmann, 3-fold,
the edge recipe: 84.9, 89.2 and 92.5% for seeds 0-2), so one run's figure says as much about its
seed as about the recipe. An edge host can afford a few networks per clip; their mean class
probabilities are steadier than any one of them. Member ``i`` is the config with seed ``seed + i``,
trained by :func:`stae_ros.local.train.train_local` into ``<out>/member<i>``; a member already
finished there with the same recipe is read back instead of trained again (so an interrupted run,
or members trained one by one, resume). The file holds every member (`LocalEnsemble`).
"""

from __future__ import annotations

import copy
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .io import load_local_model, model_file_id, save_local_model
from .model import LocalClassifier, LocalEnsemble

__all__ = ["train_ensemble", "member_recipe"]

log = logging.getLogger(__name__)

#: config fields that name or place a run without changing what it learns
_NOT_RECIPE = ("name", "source", "export", "threads", "device", "ensemble")


def member_recipe(config: dict[str, Any]) -> dict[str, Any]:
    """What a run learned from: its config without the fields that only name or place it."""
    return {k: v for k, v in config.items() if k not in _NOT_RECIPE}


def _finished_member(mdir: Path, recipe: dict[str, Any]) -> bool:
    metrics = mdir / "metrics.json"
    if not (metrics.is_file() and (mdir / "model.pt").is_file()):
        return False
    try:
        blob = json.loads(metrics.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    if not blob.get("final") or member_recipe(blob.get("config") or {}) != recipe:
        return False
    return True


def train_ensemble(cfg: Any, out_dir: Path, resume: bool, progress: bool) -> Any:
    """Train (or read back) each member, then write the ensemble's model.pt and metrics.json."""
    from stae_ros.profiling.flops import clip_flops
    from stae_ros.training.loop import prepare_data, resolve_device
    from stae_ros.training.payload_config import export_copy

    from .train import LocalTrainResult, _check_budget, _write_metrics, evaluate_local, time_local_ms, train_local

    t_start = time.perf_counter()
    n = int(cfg.ensemble)
    t, h, w = cfg.frames, cfg.height, cfg.width
    train_arr, test_arr = prepare_data(cfg.shared(), t, (h, w))
    class_names = [str(c) for c in train_arr.class_names]
    probe = LocalClassifier(len(class_names), t, h, w, **cfg.arch)
    gflop = clip_flops(probe, t, h, w).per_clip(1) * n
    budget_info = _check_budget(cfg, gflop)  # the whole ensemble runs per clip: a local one must fit the camera
    members, member_acc = [], []
    for i in range(n):
        mcfg = copy.deepcopy(cfg)
        mcfg.ensemble, mcfg.seed, mcfg.export = 1, cfg.seed + i, ""
        mcfg.name = f"{cfg.name}_member{i}"
        mdir = Path(out_dir) / f"member{i}"
        if _finished_member(mdir, member_recipe(mcfg.to_dict())):
            log.info("ensemble member %d/%d (seed %d): finished in %s, read back", i + 1, n, mcfg.seed, mdir)
        else:
            log.info("ensemble member %d/%d (seed %d): training into %s", i + 1, n, mcfg.seed, mdir)
            train_local(mcfg, mdir, resume=resume and (mdir / "last.pt").is_file(), progress=progress)
        file = load_local_model(mdir / "model.pt")
        members.append(file.model)
        member_acc.append(float(file.extra["test_acc"]))  # train_local records it in the file
    ensemble = LocalEnsemble(members).eval()
    dev = resolve_device(cfg.device)
    test_x = torch.from_numpy(np.ascontiguousarray(test_arr.clips))
    test_y = torch.as_tensor(test_arr.labels, dtype=torch.long)
    scores = evaluate_local(ensemble.to(dev), test_x, test_y, cfg.eval_batch_size, dev)
    ensemble.cpu()
    final: dict[str, Any] = dict(scores)
    final.update(accuracy=scores.get("test_acc"), test_clips=len(test_y), gflop_per_clip=gflop, members=n,
                 member_acc=member_acc, ms_per_clip_1thread=round(time_local_ms(ensemble, t, h, w), 3))
    out_dir = Path(out_dir)
    model_path = save_local_model(out_dir / "model.pt", ensemble, class_names, (t, h, w, 3), probe.arch.to_dict(),
                                  extra={"name": cfg.name, "role": cfg.role, "gflop_per_clip": gflop, "members": n,
                                         "seeds": [cfg.seed + i for i in range(n)], "budget": budget_info,
                                         "test_acc": final["test_acc"], "member_acc": member_acc,
                                         "data_root": cfg.data.root})
    final["model_id"] = model_file_id(model_path)
    log.info("ensemble of %d: test accuracy %.3f (members %s), %.2f GFLOP per clip", n, final["test_acc"],
             ", ".join(f"{a:.3f}" for a in member_acc), gflop)
    export_copy(model_path, cfg.export)
    wall = time.perf_counter() - t_start
    _write_metrics(out_dir, {"config": cfg.to_dict(), "class_names": class_names, "role": cfg.role,
                             "test_clips": len(test_y), "gflop_per_clip": gflop, "budget": budget_info, "final": final,
                             "wall_s": round(wall, 1)})
    return LocalTrainResult(out_dir=out_dir, model_path=model_path, history=[], final=final, wall_s=wall)
