"""`stae train --fold` for the payload modes: one run per fold of the data's fold CSV, pooled.

Why beside `crossval` (which runs the stae-px schedule): a payload mode is trained from its config
file by its registry function, so each fold is that function with the ``test_fold`` override
(``data.split: folds``, no export: a fold model is one of k). The pooled accuracy is correct over
every tested clip, the pooled bytes the mean over every tested clip; ``<out>/cv.json`` has both.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from .errors import TrainingError

__all__ = ["pool_payload_folds", "train_payload_folds"]

log = logging.getLogger(__name__)


def pool_payload_folds(folds: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """Accuracy and mean bytes over every tested clip (each fold weighted by its test clips)."""
    n = sum(int(f.get("test_clips", 0)) for f in folds.values())
    if not n:
        return {}
    out: dict[str, float] = {}
    for key in ("accuracy", "bytes_mean", "teacher_acc", "acc_before_adaptation", "edge_model_acc"):
        if all(isinstance(f.get(key), (int, float)) for f in folds.values()):
            out[key] = sum(float(f[key]) * int(f["test_clips"]) for f in folds.values()) / n
    lists = [f.get("member_accuracy") for f in folds.values()]  # an ensemble's networks, each on its own
    if all(isinstance(v, list) and v for v in lists) and len({len(v) for v in lists}) == 1:  # type: ignore[arg-type]
        out["member_accuracy"] = [sum(float(f["member_accuracy"][i]) * int(f["test_clips"]) for f in folds.values()) / n
                                  for i in range(len(lists[0]))]  # type: ignore[arg-type]
    out["test_clips"] = n
    return out


def train_payload_folds(config: str | Path, out_dir: str | Path | None, folds: list[int] | None, resume: bool = False,
                        progress: bool = True, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train the config's payload on each fold (``folds`` empty/None: every fold) into ``<out>/fold<N>``."""
    from stae_ros.configio import load_yaml
    from stae_ros.data.errors import DataError
    from stae_ros.data.folder import list_folds

    from .registry import config_mode, run_mode

    mode, name = config_mode(config)
    data = load_yaml(config).get("data") or {}
    root, folds_file = str(data.get("root", "datasets/synth")), str(data.get("folds_file", "") or "")
    try:
        available = list_folds(root, folds_file)
    except (DataError, OSError) as exc:
        raise TrainingError(f"--fold: {exc}") from None
    wanted = list(folds) if folds else available
    unknown = sorted(set(wanted) - set(available))
    if unknown:
        raise TrainingError(f"fold(s) {unknown} not in the fold file (folds: {available})")
    out = Path(out_dir or f"runs/{name}")
    per_fold: dict[int, dict[str, Any]] = {}
    for fold in wanted:
        fdir = out / f"fold{fold}"
        log.info("%s fold %d of %s: training into %s", mode, fold, available, fdir)
        res = run_mode(config, fdir, resume=resume and (fdir / "last.pt").is_file(), progress=progress,
                       overrides={**(overrides or {}), "test_fold": fold, "export": None})
        final = dict(getattr(res, "final", {}) or {})
        per_fold[fold] = {**final, "model": str(getattr(res, "model_path", fdir / "model.pt"))}
    summary = {"mode": mode, "config": str(config), "data": root, "folds_file": folds_file or "folds.csv",
               "pooled": pool_payload_folds(per_fold), "folds": {str(k): v for k, v in per_fold.items()}}
    out.mkdir(parents=True, exist_ok=True)
    (out / "cv.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    return summary
