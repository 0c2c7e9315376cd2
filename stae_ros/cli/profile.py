"""`stae profile`: measure accuracy, bytes and ms for every (K, p) and write profiles/<name>.json."""

from __future__ import annotations

import argparse

from .validate import device_name, int_in

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "profile",
        help="measure the accuracy/bytes/latency profile of a model over its budget sets",
        description="For every (K, p) in the model's budget sets, run the test split through the real "
        "camera -> codec -> edge path and record accuracy, payload bytes (mean, p95), camera ms "
        "(FA+SA+encode, 1 thread) and edge ms (decode+FR+ViT). Writes profiles/<name>.json and PNG plots.",
    )
    p.add_argument("--model", default="models/stae_default.pt",
                   help="checkpoint (stae-ckpt/1; default: %(default)s, the installed one outside a checkout)")
    p.add_argument("--data", default="datasets/synth", help="data set root (HMDB51 layout)")
    p.add_argument("--split", default="test", choices=("train", "test"), help="split to measure on")
    p.add_argument("--fold", type=int_in(0), default=None, help="data with a fold CSV (clip,class,fold): the tested fold "
                                                          "(the one the model was not trained on; default: the split source auto finds)")
    p.add_argument("--short-clip", default="loop", choices=("loop", "pad", "resample"),
                   help="videos shorter than the clip (default loop: as training's data.short_clip)")
    p.add_argument("--clip-size", default="", metavar="HxW",
                   help="test clips at this frame size instead of the --model's (e.g. 112x112 for an h264-cd model "
                        "of that size; a mode whose model takes another size is skipped, with the reason)")
    p.add_argument("--name", default="default", help="profile name: writes <out-dir>/<name>.json")
    p.add_argument("--out-dir", default="profiles", help="where the JSON goes")
    p.add_argument("--plots-dir", default="docs/img", help="where the PNG plots go ('' for none)")
    p.add_argument("--limit", type=int_in(0), default=0, help="use at most this many clips (0 = all)")
    p.add_argument("--edge-device", type=device_name, default="cpu",
                   help="device for decode+FR+ViT timing (cpu, cuda, cuda:N, auto)")
    p.add_argument("--edge-batch", type=int_in(1, 4096), default=1, help="clips per edge call (1 = per-clip latency)")
    p.add_argument("--zstd-level", type=int_in(1, 22), default=3,
                   help="codec zstd level (default 3: what camera_node sends, stae_ros.codec.DEFAULT_LEVEL)")
    p.add_argument("--value-bits", type=int, default=6, choices=range(1, 9), metavar="{1..8}",
                   help="bits per kept pixel value (default 6: what camera_node sends, config/camera.yaml value_bits)")
    p.add_argument("--modes", default="", metavar="all|MODE[,MODE...]",
                   help="measure these modes' points (config/profile_modes.yaml, or --modes-file) into one profile, "
                        "all on the same clips, with camera and edge FLOPs per point (default: stae-px's (K, p) grid)")
    p.add_argument("--modes-file", default=None, help="which points each mode gets (default config/profile_modes.yaml)")
    p.add_argument("--model-file", action="append", default=[], metavar="MODE=PATH",
                   help="a mode's own model file (repeatable; default: the mode's shipped file)")
    p.add_argument("--no-progress", action="store_true", help="no tqdm bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json
    import logging
    import shlex
    import sys
    from pathlib import Path

    import numpy as np

    from stae_ros.data.arrays import load_split_arrays
    from stae_ros.profiling import save_profile
    from stae_ros.profiling.plots import plot_accuracy_vs_budget, plot_accuracy_vs_bytes
    from stae_ros.profiling.profile import measure_profile, profile_table, summarize
    from stae_ros.training import CheckpointError, load_model

    log = logging.getLogger("stae.profile")
    model_files: dict[str, str] = {}
    if args.modes:  # the flags naming modes, checked before the model and the clips load
        from stae_ros.profiling.modes import unknown_mode_error

        error = unknown_mode_error([m for m in args.modes.split(",") if m]) if args.modes != "all" else None
        if error:
            log.error("--modes: %s", error)
            return 2
        for item in args.model_file:
            mode, sep, path = item.partition("=")
            if not sep or not mode or not path:
                log.error("--model-file takes MODE=PATH, got %r", item)
                return 2
            error = unknown_mode_error([mode])
            if error:
                log.error("--model-file %s: %s", item, error)
                return 2
            model_files[mode] = path
    try:
        loaded = load_model(args.model)
    except CheckpointError as exc:
        log.error("%s", exc)
        return 2
    c = loaded.config.clip
    size = (c.height, c.width)
    if args.clip_size:
        h, sep, w = args.clip_size.lower().partition("x")
        if not (sep and h.isdigit() and w.isdigit() and 16 <= int(h) <= 1024 and 16 <= int(w) <= 1024):
            log.error("--clip-size takes HxW with both sides in [16, 1024] (e.g. 112x112), got %r", args.clip_size)
            return 2
        size = (int(h), int(w))
    from stae_ros.data.errors import DataError
    from stae_ros.data.folder import SplitSpec

    spec = SplitSpec(source="folds", test_fold=args.fold) if args.fold is not None else None
    try:
        arrays = load_split_arrays(args.data, args.split, c.frames, size, split_spec=spec, short_clip=args.short_clip)
    except (DataError, ValueError) as exc:
        log.error("%s", exc)
        return 2
    clips, labels = arrays.clips, np.asarray(arrays.labels)
    if args.limit and args.limit < len(labels):
        idx = np.sort(np.random.default_rng(0).permutation(len(labels))[: args.limit])
        clips, labels = clips[idx], labels[idx]
    if list(arrays.class_names) != list(loaded.class_names):
        log.error("data set classes %s do not match the model's %s", list(arrays.class_names), loaded.class_names)
        return 2
    command = "stae " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else "stae profile"
    specs = None
    if args.modes:
        from stae_ros.configio import ConfigError
        from stae_ros.profiling.modes import DEFAULT_MODES_FILE, load_mode_grid

        wanted = None if args.modes == "all" else [m for m in args.modes.split(",") if m]
        budgets = [(int(k), float(p)) for k in loaded.config.budgets.frame for p in loaded.config.budgets.spatial]
        try:
            specs = load_mode_grid(args.modes_file or DEFAULT_MODES_FILE, wanted, budgets)
        except ConfigError as exc:
            log.error("%s", exc)
            return 2
    profile = measure_profile(loaded, clips, labels, name=args.name, model_path=str(args.model),
                              dataset=f"{args.data} ({args.split}, {len(labels)} clips)", command=command,
                              edge_device=args.edge_device, edge_batch=args.edge_batch,
                              zstd_level=args.zstd_level, value_bits=args.value_bits,
                              progress=not args.no_progress, specs=specs, model_files=model_files)
    if not profile.points:
        log.error("no point could be measured (skipped modes: %s)", profile.host.get("skipped_modes"))
        return 2
    path = save_profile(profile, Path(args.out_dir) / f"{args.name}.json")
    print(f"profile: {path}")
    if args.plots_dir and specs is None:
        print("plots:", plot_accuracy_vs_bytes(profile, Path(args.plots_dir) / f"profile_{args.name}_bytes.png"),
              plot_accuracy_vs_budget(profile, Path(args.plots_dir) / f"profile_{args.name}_budget.png"))
    print(profile_table(profile))
    if specs is None:
        print(json.dumps(summarize(profile), indent=2))
    return 0
