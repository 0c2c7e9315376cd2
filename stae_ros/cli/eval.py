"""`stae eval`: test-split accuracy and confusion matrix of a model at one budget, and the controls."""

from __future__ import annotations

import argparse

from .validate import float_in, int_in

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "eval",
        help="accuracy + confusion matrix at one (K, p); --controls for the single-frame / no-motion controls",
        description="Evaluate a checkpoint on a split through the real camera -> codec -> edge path at one "
        "budget (default: full), write a confusion-matrix PNG and eval.json. With --controls, also train "
        "briefly and test the same classifier architecture on single-frame clips and on clips with the "
        "motion region removed (plus the same recipe on unmodified clips as a reference) and compare with chance.",
    )
    p.add_argument("--model", default="models/stae_default.pt",
                   help="checkpoint (stae-ckpt/1; default: %(default)s, the installed one outside a checkout)")
    p.add_argument("--data", default="datasets/synth", help="data set root (HMDB51 layout)")
    p.add_argument("--split", default="test", choices=("train", "test"), help="split to evaluate on")
    p.add_argument("--k", type=int_in(1), default=None, help="frame budget K (default: all frames)")
    p.add_argument("--p", type=float_in(0.0, 1.0, lo_open=True), default=1.0, help="spatial budget p (default 1.0)")
    p.add_argument("--out", default="out/eval", help="directory for eval.json, confusion PNG, controls.json")
    p.add_argument("--limit", type=int_in(0), default=0, help="evaluate at most this many clips (0 = all)")
    p.add_argument("--controls", action="store_true", help="also run the single-frame / no-motion-region controls")
    p.add_argument("--controls-only", action="store_true",
                   help="run only the controls (no model evaluation); the classifier config comes from --train-config")
    p.add_argument("--train-config", default=None, help="training config whose model section the controls use "
                   "(with --controls-only; default: the --model checkpoint's config)")
    p.add_argument("--control-epochs", type=int_in(0), default=3, help="training epochs of each control classifier (0: only test the trained model on control inputs)")
    p.add_argument("--control-train", type=int_in(0), default=600, help="training clips per control (0 = all)")
    p.add_argument("--control-test", type=int_in(0), default=300, help="test clips per control (0 = all)")
    p.add_argument("--threads", type=int_in(0, 256), default=0, help="torch threads for the controls (0 = default)")
    p.add_argument("--no-progress", action="store_true", help="no tqdm bars")
    p.set_defaults(func=run)


def _subset(arrays, limit: int, seed: int):
    import dataclasses

    import numpy as np

    n = len(arrays.labels)
    if not limit or limit >= n:
        return arrays
    idx = np.sort(np.random.default_rng(seed).permutation(n)[:limit])
    kw = {"clips": arrays.clips[idx], "labels": arrays.labels[idx], "names": [arrays.names[i] for i in idx]}
    for key in ("boxes", "regions"):
        if getattr(arrays, key, None) is not None:
            kw[key] = getattr(arrays, key)[idx]
    return dataclasses.replace(arrays, **kw)


def run(args: argparse.Namespace) -> int:
    import json
    import logging
    from pathlib import Path

    import numpy as np

    from stae_ros import codec as px_codec  # noqa: F401  (fail early if the codec is missing)
    from stae_ros.data.arrays import load_split_arrays
    from stae_ros.pipeline import CameraPipeline, EdgePipeline
    from stae_ros.profiling.plots import plot_confusion
    from stae_ros.profiling.profile import confusion_matrix, measure_point
    from stae_ros.training import CheckpointError, load_model

    log = logging.getLogger("stae.eval")
    if args.controls_only:
        return _run_controls_only(args)
    try:
        loaded = load_model(args.model)
    except CheckpointError as exc:
        log.error("%s", exc)
        return 2
    c = loaded.config.clip
    k = args.k if args.k is not None else c.frames
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    arrays = _subset(load_split_arrays(args.data, args.split, c.frames, (c.height, c.width)), args.limit, 0)
    if list(arrays.class_names) != list(loaded.class_names):
        log.error("data set classes %s do not match the model's %s", list(arrays.class_names), loaded.class_names)
        return 2
    labels = np.asarray(arrays.labels)
    camera = CameraPipeline(loaded, threads=1)
    edge = EdgePipeline(loaded, device="cpu")
    point, preds = measure_point(camera, edge, arrays.clips, labels, k, args.p, edge_batch=16)
    cm = confusion_matrix(labels, preds, len(loaded.class_names))
    png = plot_confusion(cm, loaded.class_names, out / f"confusion_k{k}_p{args.p:g}.png",
                         title=f"K={k} p={args.p:g}: accuracy {point.accuracy * 100:.1f}%")
    result = {"model": args.model, "data": args.data, "split": args.split, "k": k, "p": args.p,
              "accuracy": point.accuracy, "n_clips": len(labels), "bytes_mean": point.bytes_mean,
              "chance": 1.0 / len(loaded.class_names), "confusion": cm.tolist(), "class_names": loaded.class_names}
    print(f"accuracy at K={k} p={args.p:g}: {point.accuracy * 100:.1f}% on {len(labels)} clips "
          f"(chance {100 / len(loaded.class_names):.1f}%), {point.bytes_mean:.0f} B/clip; confusion: {png}")
    if args.controls:
        from stae_ros.training.controls import trained_model_on_controls

        test = _subset(load_split_arrays(args.data, "test", c.frames, (c.height, c.width)), args.control_test, 2)
        on_controls = trained_model_on_controls(loaded.model, test)
        result["trained_model_on_controls"] = on_controls
        for name, acc in on_controls.items():
            print(f"trained model on {name} test clips: {acc * 100:.1f}% (chance {100 / len(loaded.class_names):.1f}%)")
        if args.control_epochs > 0:
            result["controls"] = _controls(args, loaded.config)
    (out / "eval.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


def _controls(args: argparse.Namespace, model_cfg) -> dict:
    """Train/test the control classifiers; writes <out>/controls.json and prints the accuracies."""
    import json
    from pathlib import Path

    import torch

    from stae_ros.data.arrays import load_split_arrays
    from stae_ros.training.controls import run_controls

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    c = model_cfg.clip
    train = _subset(load_split_arrays(args.data, "train", c.frames, (c.height, c.width)), args.control_train, 1)
    test = _subset(load_split_arrays(args.data, "test", c.frames, (c.height, c.width)), args.control_test, 2)
    controls = run_controls(model_cfg, train, test, epochs=args.control_epochs, progress=not args.no_progress)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "controls.json").write_text(json.dumps(controls, indent=2) + "\n")
    for name, acc in controls["accuracy"].items():
        print(f"control {name}: {acc * 100:.1f}% (chance {controls['chance'] * 100:.1f}%)")
    return controls


def _run_controls_only(args: argparse.Namespace) -> int:
    import logging

    from stae_ros.configio import ConfigError

    log = logging.getLogger("stae.eval")
    try:
        if args.train_config:
            from stae_ros.data.arrays import load_split_arrays
            from stae_ros.training import load_train_config
            from stae_ros.training.loop import build_model_config

            tcfg = load_train_config(args.train_config)
            clip = tcfg.model.get("clip", {})
            names = load_split_arrays(args.data, "test", int(clip.get("frames", 16)),
                                      (int(clip.get("height", 64)), int(clip.get("width", 64)))).class_names
            model_cfg = build_model_config(tcfg, len(names))
        else:
            from stae_ros.training import load_model

            model_cfg = load_model(args.model).config
    except (ConfigError, ValueError) as exc:
        log.error("%s", exc)
        return 2
    _controls(args, model_cfg)
    return 0
