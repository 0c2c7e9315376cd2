"""k-fold cross-validation: one training run per fold of a fold CSV, and the pooled accuracy.

Small real sets (Weizmann: 93 clips) give a noisy figure from one train/test split: one clip is
3 points of a 33-clip test fold. Testing every fold in turn tests every clip once, and the
pooled accuracy (correct over all clips) is the figure to report, with the per-fold spread.
Each fold is an ordinary :func:`stae_ros.training.loop.train` run into ``<out>/fold<N>`` (with its
own checkpoints, so ``resume`` continues an interrupted fold); ``<out>/cv.json`` sums them up.
"""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import TrainConfig
from .errors import TrainingError

__all__ = ["CrossValResult", "parse_fold", "fold_config", "pool_folds", "train_folds", "run_folds_cli"]

log = logging.getLogger(__name__)


@dataclass
class CrossValResult:
    out_dir: Path
    folds: dict[int, dict[str, Any]] = field(default_factory=dict)  #: fold -> {"test_clips", "final", "model"}
    pooled: dict[str, float] = field(default_factory=dict)  #: budget key -> accuracy over every tested clip


def parse_fold(text: str | None) -> list[int] | None:
    """``--fold`` value: ``"all"`` -> [] (every fold), ``"2"`` or ``"0,2"`` -> those folds, None -> None."""
    if text is None:
        return None
    text = text.strip().lower()
    if text == "all":
        return []
    try:
        folds = [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise TrainingError(f"--fold must be 'all', a fold number or a comma-separated list, got {text!r}") from None
    if not folds or min(folds) < 0:
        raise TrainingError(f"--fold must name folds >= 0, got {text!r}")
    return folds


def fold_config(cfg: TrainConfig, fold: int) -> TrainConfig:
    """A copy of ``cfg`` testing ``fold`` (fold split source; no export: a fold model is one of k)."""
    out = copy.deepcopy(cfg)
    out.data.split = "folds"
    out.data.test_fold = int(fold)
    out.name = f"{cfg.name}_fold{fold}"
    out.export = ""
    return out


def pool_folds(folds: dict[int, dict[str, Any]]) -> dict[str, float]:
    """Accuracy over every tested clip: each fold's accuracy weighted by its test clips, for the
    budget keys that every fold reports."""
    if not folds:
        return {}
    keys = set.intersection(*(set(k for k in f["final"] if k.startswith("acc_")) for f in folds.values()))
    total = sum(int(f["test_clips"]) for f in folds.values())
    return {k: sum(float(f["final"][k]) * int(f["test_clips"]) for f in folds.values()) / total for k in sorted(keys)}


def _test_clips(cfg: TrainConfig) -> int:
    from stae_ros.data.folder import discover_samples

    _, _, samples = discover_samples(cfg.data.root, "test", spec=cfg.data.split_spec())
    n = sum(1 for s in samples if s.path.is_file())
    return min(n, cfg.data.test_limit) if cfg.data.test_limit else n


def train_folds(cfg: TrainConfig, out_dir: str | Path, folds: list[int] | None = None, resume: bool = False,
                **train_kwargs: Any) -> CrossValResult:
    """Train one model per fold (``folds``: empty/None = every fold of the fold file) into
    ``<out>/fold<N>``; write ``<out>/cv.json`` with the per-fold and pooled accuracies.

    With ``resume``, a fold whose ``model.pt`` and ``metrics.json`` are complete is read back, not
    retrained, and one with only ``last.pt`` continues from it. An ``init`` path containing
    ``{fold}`` starts each fold from its own checkpoint (e.g. ``runs/w/fold{fold}/stage_classifier.pt``
    to train FA, SA and FR beside each fold's classifier).
    """
    from stae_ros.data.errors import DataError
    from stae_ros.data.folder import list_folds

    from .loop import train

    out_dir = Path(out_dir)
    try:
        available = list_folds(cfg.data.root, cfg.data.folds_file)
    except DataError as exc:
        raise TrainingError(str(exc)) from None
    wanted = list(folds) if folds else available
    unknown = sorted(set(wanted) - set(available))
    if unknown:
        raise TrainingError(f"fold(s) {unknown} not in the fold file (folds: {available})")
    result = CrossValResult(out_dir=out_dir)
    for fold in wanted:
        fcfg = fold_config(cfg, fold)
        fdir = out_dir / f"fold{fold}"
        metrics = fdir / "metrics.json"
        done = None
        if resume and (fdir / "model.pt").is_file() and metrics.is_file():
            blob = json.loads(metrics.read_text())
            if "wall_s" in blob and blob.get("history"):
                done = blob["history"][-1]
                log.info("fold %d: already trained (%s), not retrained", fold, fdir)
        if done is None:
            log.info("fold %d of %s: training into %s", fold, available, fdir)
            kwargs = dict(train_kwargs)
            if isinstance(kwargs.get("init"), str) and "{fold}" in kwargs["init"]:
                kwargs["init"] = kwargs["init"].replace("{fold}", str(fold))
            res = train(fcfg, fdir, resume=resume and (fdir / "last.pt").is_file(), **kwargs)
            done = res.final
        result.folds[fold] = {"test_clips": _test_clips(fcfg), "final": done, "model": str(fdir / "model.pt")}
    result.pooled = pool_folds(result.folds)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = {
        "config": cfg.source, "data": cfg.data.root, "folds_file": cfg.data.folds_file or "folds.csv",
        "test_clips": sum(f["test_clips"] for f in result.folds.values()),
        "pooled": result.pooled,
        "folds": {str(k): {"test_clips": v["test_clips"], "model": v["model"],
                           **{a: b for a, b in v["final"].items() if a.startswith("acc_")}} for k, v in result.folds.items()},
    }
    (out_dir / "cv.json").write_text(json.dumps(summary, indent=2) + "\n")
    return result


def run_folds_cli(config: str | Path, out_dir: str | Path | None, fold: str, resume: bool = False, progress: bool = True,
                  overrides: dict[str, Any] | None = None) -> int:
    """`stae train --fold`: train the stae-px schedule of ``config`` on the folds named by ``fold``
    and print the per-fold and pooled accuracies. Returns the exit status (2 with a one-line
    error on a bad config, fold or data folder)."""
    from stae_ros.configio import ConfigError
    from stae_ros.data.errors import DataError

    from .config import load_train_config
    from .errors import CheckpointError, TrainConfigError
    from .registry import DEFAULT_MODE, config_mode
    from .stages import parse_stages

    o = dict(overrides or {})
    try:
        mode, _ = config_mode(config)
        if mode != DEFAULT_MODE:
            raise TrainingError(f"--fold trains the {DEFAULT_MODE} schedule; for mode {mode!r} set data.test_fold in {config}")
        cfg = load_train_config(config)
        if o.get("threads") is not None:
            cfg.threads = int(o["threads"])
        res = train_folds(cfg, out_dir or f"runs/{cfg.name}", parse_fold(fold), resume=resume,
                          stages=parse_stages(o.get("stages")), device=o.get("device"), init=o.get("init"),
                          init_skip=list(o.get("init_skip") or []), progress=progress)
    except (ConfigError, TrainingError, TrainConfigError, CheckpointError, DataError) as exc:
        log.error("%s", exc)
        return 2
    for k, info in res.folds.items():
        accs = "  ".join(f"{key[4:]}={v * 100:.1f}%" for key, v in info["final"].items() if key.startswith("acc_"))
        print(f"fold {k} ({info['test_clips']} test clips): {accs}")
    n = sum(f["test_clips"] for f in res.folds.values())
    print(f"pooled over {n} test clips ({res.out_dir / 'cv.json'}):")
    for key, value in res.pooled.items():
        print(f"  {key}: {value * 100:.1f}%")
    return 0
