"""`stae train`: the step-by-step STAE training schedule from a YAML config."""

from __future__ import annotations

import argparse

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train",
        help="train STAE step by step (classifier -> FA -> SA -> FR) from a config",
        description="Train the STAE model with the paper's step-by-step schedule. Checkpoints and "
        "metrics (metrics.csv, metrics.json) go to --out; --resume continues after the last saved epoch.",
    )
    p.add_argument("--config", required=True, help="training config, e.g. config/train_synth.yaml")
    p.add_argument("--out", default=None, help="run directory (default: runs/<config name>)")
    p.add_argument("--resume", action="store_true", help="continue from <out>/last.pt")
    p.add_argument("--stages", default=None, help="comma-separated subset of classifier,fa,sa,fr (default: all)")
    p.add_argument("--init", default=None, help="start from this checkpoint's weights (for a later-stage-only run)")
    p.add_argument("--init-skip", default="", metavar="PARTS",
                   help="comma-separated modules (fa, sa, fr, vit) NOT taken from --init: they start fresh, e.g. "
                        "--init-skip vit to train a classifier of another input stem from scratch beside trained FA/SA/FR")
    p.add_argument("--device", default=None, choices=("auto", "cpu", "cuda"), help="override the config's device")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (override the config)")
    p.add_argument("--export", default=None, help="copy the final model here (override the config's export)")
    p.add_argument("--no-progress", action="store_true", help="no tqdm bars (log lines only)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import logging

    from stae_ros.configio import ConfigError
    from stae_ros.training import TrainingError, load_train_config, parse_stages, train
    from stae_ros.training.errors import CheckpointError, TrainConfigError

    log = logging.getLogger("stae.train")
    try:
        cfg = load_train_config(args.config)
        if args.threads is not None:
            cfg.threads = args.threads
        if args.export is not None:
            cfg.export = args.export
        out = args.out or f"runs/{cfg.name}"
        result = train(cfg, out, resume=args.resume, stages=parse_stages(args.stages), device=args.device,
                       init=args.init, init_skip=[m for m in args.init_skip.split(',') if m],
                       progress=not args.no_progress)
    except (ConfigError, TrainingError, TrainConfigError, CheckpointError) as exc:
        log.error("%s", exc)
        return 2
    print(f"model: {result.model_path}  wall: {result.wall_s:.0f} s")
    for key, value in result.final.items():
        if key.startswith("acc_"):
            print(f"  {key}: {value * 100:.1f}%")
    return 0
