"""k-fold cross-validation of the local classifier over a fold CSV (e.g. Weizmann's folds.csv).

Same layout as the stae-px schedule's cross-validation (stae_ros.training.crossval): one ordinary
`train_local` run per fold into ``<out>/fold<N>``, and ``<out>/cv.json`` with each fold's accuracy
and the pooled one (correct over every tested clip), so every clip of a small real set is tested once.
"""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any

from .train import LocalTrainConfig, LocalTrainError, load_local_config, train_local

__all__ = ["crossval_local"]

log = logging.getLogger(__name__)


def crossval_local(config: str | Path | dict[str, Any] | LocalTrainConfig, out_dir: str | Path,
                   folds: list[int] | None = None, resume: bool = False, progress: bool = True) -> dict[str, Any]:
    """Train one local model per fold (None/empty = every fold of the fold file); returns cv.json's content.

    With ``resume`` a fold whose run finished (metrics.json with a final entry) is read back, and
    one with only last.pt continues from it.
    """
    from stae_ros.data.errors import DataError
    from stae_ros.data.folder import list_folds

    cfg = config if isinstance(config, LocalTrainConfig) else load_local_config(config)
    try:
        available = list_folds(cfg.data.root, cfg.data.folds_file)
    except DataError as exc:
        raise LocalTrainError(str(exc)) from None
    wanted = list(folds) if folds else list(available)
    unknown = sorted(set(wanted) - set(available))
    if unknown:
        raise LocalTrainError(f"fold(s) {unknown} not in the fold file (folds: {available})")
    out_dir = Path(out_dir)
    per_fold: dict[int, dict[str, Any]] = {}
    for fold in wanted:
        fcfg = copy.deepcopy(cfg)
        fcfg.data.split, fcfg.data.test_fold = "folds", int(fold)
        fcfg.name, fcfg.export = f"{cfg.name}_fold{fold}", ""
        fdir = out_dir / f"fold{fold}"
        metrics_path = fdir / "metrics.json"
        blob = json.loads(metrics_path.read_text()) if resume and metrics_path.is_file() else {}
        if not blob.get("final"):
            log.info("fold %d of %s: training into %s", fold, available, fdir)
            train_local(fcfg, fdir, resume=resume and (fdir / "last.pt").is_file(), progress=progress)
            blob = json.loads(metrics_path.read_text())
        final = blob["final"]
        per_fold[fold] = {"test_clips": int(blob["test_clips"]), "test_acc": float(final["test_acc"]),
                          "model": str(fdir / "model.pt"), "model_id": final.get("model_id", "")}
    total = sum(f["test_clips"] for f in per_fold.values())
    pooled = sum(f["test_acc"] * f["test_clips"] for f in per_fold.values()) / max(total, 1)
    summary = {"config": cfg.source, "data": cfg.data.root, "folds_file": cfg.data.folds_file or "folds.csv",
               "test_clips": total, "pooled": {"test_acc": pooled}, "folds": {str(k): v for k, v in per_fold.items()}}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "cv.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
