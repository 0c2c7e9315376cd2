"""`stae train`: train any payload (stae-px, stae-latent, stae-roi264, local) from a YAML config.

The config's ``mode:`` key (default ``stae-px``) picks the training (stae_ros.training.registry);
every mode reads the same ``data:`` section, resumes from ``<out>/last.pt``, shows tqdm bars,
writes ``metrics.json`` and exports the model file that the camera and edge load.
"""

from __future__ import annotations

import argparse

from .validate import int_in


__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    from stae_ros.training.registry import DEFAULT_MODE, MODES

    p = subparsers.add_parser(
        "train",
        help="train a payload (stae-px, stae-latent, stae-roi264, local) from a config",
        description="Train the payload that the config's 'mode:' key names (default stae-px: the paper's "
        f"step-by-step classifier -> FA -> SA -> FR schedule). Modes: {', '.join(MODES)} (default {DEFAULT_MODE}). "
        "Checkpoints and metrics (metrics.json) go to --out; --resume continues from <out>/last.pt.",
    )
    p.add_argument("--config", required=True, help="training config, e.g. config/train_synth.yaml or config/train_latent_synth.yaml")
    p.add_argument("--out", default=None, help="run directory (default: runs/<config name>)")
    p.add_argument("--resume", action="store_true", help="continue from <out>/last.pt")
    p.add_argument("--stages", default=None, help="stae-px: comma-separated subset of classifier,fa,sa,fr (default: all)")
    p.add_argument("--init", default=None, help="start from this file's weights (stae-px: a STAE checkpoint for a "
                                                "later-stage-only run; stae-latent: a stae-latent model file; "
                                                "stae-roi264: a STAE checkpoint whose ViT becomes the edge classifier)")
    p.add_argument("--init-skip", default="", metavar="PARTS",
                   help="stae-px: comma-separated modules (fa, sa, fr, vit) NOT taken from --init: they start fresh, e.g. "
                        "--init-skip vit to train a classifier of another input stem from scratch beside trained FA/SA/FR")
    p.add_argument("--device", default=None, choices=("auto", "cpu", "cuda"), help="override the config's device")
    p.add_argument("--threads", type=int_in(1, 256), default=None, help="torch CPU threads (override the config)")
    p.add_argument("--export", default=None, help="copy the final model here (override the config's export)")
    p.add_argument("--no-progress", action="store_true", help="no tqdm bars (log lines only)")
    p.add_argument("--fold", default=None, metavar="N|all",
                   help="cross-validation over the data's fold file (clip,class,fold): test fold N, a list (0,2) "
                        "or all; each fold trains into <out>/fold<N>, the pooled accuracy goes to <out>/cv.json; "
                        "'{fold}' in --init names each fold's own checkpoint")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import logging

    from stae_ros.configio import ConfigError
    from stae_ros.training import TrainingError
    from stae_ros.training.errors import CheckpointError, TrainConfigError
    from stae_ros.training.registry import run_mode

    log = logging.getLogger("stae.train")
    overrides = {"device": args.device, "export": args.export, "threads": args.threads, "init": args.init,
                 "stages": args.stages, "init_skip": [m for m in (args.init_skip or "").split(",") if m]}
    if args.fold is not None:
        from stae_ros.training.registry import DEFAULT_MODE, config_mode

        try:
            mode = config_mode(args.config)[0]
        except (ConfigError, TrainConfigError) as exc:
            log.error("%s", exc)
            return 2
        if mode != DEFAULT_MODE:
            return _payload_folds(args, overrides, log)
        from stae_ros.training.crossval import run_folds_cli

        return run_folds_cli(args.config, args.out, args.fold, resume=args.resume, progress=not args.no_progress,
                             overrides=overrides)
    try:
        result = run_mode(args.config, args.out, resume=args.resume, progress=not args.no_progress, overrides=overrides)
    except (ConfigError, TrainingError, TrainConfigError, CheckpointError) as exc:
        log.error("%s", exc)
        return 2
    model_path = getattr(result, "model_path", None) or (result.get("model_path") if isinstance(result, dict) else None)
    final = getattr(result, "final", None) or (result.get("final", {}) if isinstance(result, dict) else {}) or {}
    wall = getattr(result, "wall_s", None)
    print(f"model: {model_path}" + (f"  wall: {wall:.0f} s" if isinstance(wall, (int, float)) else ""))
    for key, value in final.items():
        if key.startswith("acc") and isinstance(value, float):
            print(f"  {key}: {value * 100:.1f}%")
        elif key in ("bytes_mean", "teacher_acc", "camera_gflop", "edge_gflop") and isinstance(value, float):
            print(f"  {key}: {value * 100:.1f}%" if key == "teacher_acc" else f"  {key}: {value:.4g}")
    return 0


def _payload_folds(args: argparse.Namespace, overrides: dict, log) -> int:
    """`--fold` for stae-latent / stae-roi264: one run per fold, pooled accuracy and bytes."""
    from stae_ros.configio import ConfigError
    from stae_ros.data.errors import DataError
    from stae_ros.training import TrainingError
    from stae_ros.training.crossval import parse_fold
    from stae_ros.training.errors import CheckpointError, TrainConfigError
    from stae_ros.training.payload_folds import train_payload_folds

    try:
        summary = train_payload_folds(args.config, args.out, parse_fold(args.fold), resume=args.resume,
                                      progress=not args.no_progress, overrides=overrides)
    except (ConfigError, TrainingError, TrainConfigError, CheckpointError, DataError) as exc:
        log.error("%s", exc)
        return 2
    for k, f in summary["folds"].items():
        print(f"fold {k} ({f.get('test_clips')} test clips): accuracy {100 * f.get('accuracy', 0.0):.1f}%, "
              f"{f.get('bytes_mean', 0.0):.1f} B/clip")
    p = summary["pooled"]
    if p:
        print(f"pooled over {p['test_clips']} test clips: accuracy {100 * p.get('accuracy', 0.0):.1f}%, "
              f"{p.get('bytes_mean', 0.0):.1f} B/clip" +
              (f", teacher on raw clips {100 * p['teacher_acc']:.1f}%" if "teacher_acc" in p else ""))
    return 0
