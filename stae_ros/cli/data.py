"""`stae data`: generate the synthetic action data set, and inspect any labelled video folder."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from ..errtext import exc_line
from .validate import float_in, int_in


__all__ = ["register"]

log = logging.getLogger(__name__)


MAX_SIDE = 1024  #: frame side limit of `stae data synth --size`: larger frames only exhaust memory


def _size(text: str) -> tuple[int, int]:
    """``64`` or ``48x64`` (H x W)."""
    try:
        parts = [int(p) for p in text.lower().split("x")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be N or HxW, got {text!r}") from None
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or min(parts) < 16 or max(parts) > MAX_SIDE:
        raise argparse.ArgumentTypeError(f"must be N or HxW with sides in [16, {MAX_SIDE}], got {text!r}")
    return parts[0], parts[1]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "data",
        help="generate the synthetic action data set, or inspect a data set folder",
        description="Generate the seeded synthetic motion data set (HMDB51 layout) or inspect a labelled "
        "video folder (HMDB51/UCF101 split files, a fold CSV or a seeded split): classes, counts, lengths, broken files.",
    )
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION")

    synth = sub.add_parser(
        "synth",
        help="write the synthetic data set (FFV1 videos + split files + annotations)",
        description="Render the deterministic procedural action data set: same seed, same bytes.",
    )
    synth.add_argument("--out", type=Path, default=Path("datasets/synth"), help="output root (default: datasets/synth)")
    synth.add_argument("--seed", type=int_in(0), default=0, help="base seed (default 0)")
    synth.add_argument("--kind", choices=("synth", "hard"), default="synth",
                       help="synth: the moving-bar set (default); hard: articulated figures over real-footage "
                       "backgrounds with camera motion (stae_ros.data.articulated)")
    synth.add_argument("--train-per-class", type=int_in(1, 100_000), default=None, help="training clips per class (default 200; hard: 100)")
    synth.add_argument("--test-per-class", type=int_in(1, 100_000), default=None, help="test clips per class (default 50; hard: 25)")
    synth.add_argument("--frames", type=int_in(1, 1024), default=16, help="frames per clip (default 16)")
    synth.add_argument("--size", type=_size, default=None, help="frame size N or HxW (default 64; hard: 112)")
    synth.add_argument("--workers", type=int_in(1, 256), default=None, help="render processes (default: auto, <= 2)")
    synth.add_argument("--backgrounds", type=Path, default=None,
                       help="hard: folder of videos to cut backgrounds from (missing: procedural backgrounds)")
    synth.add_argument("--control", choices=("none", "single_frame", "actor_removed"), default="none",
                       help="hard: write a control of the same clips (one frame repeated, or the actor removed)")
    synth.add_argument("--distractors", choices=("muted", "busy"), default="muted",
                       help="synth: the moving clutter, muted (default) or busy: as bright as the actor and 3x "
                       "as fast, so motion alone no longer marks the action")
    synth.set_defaults(func=_cmd_synth)

    insp = sub.add_parser(
        "inspect",
        help="summarise a labelled video folder: split source, classes, counts, clip lengths, broken files",
        description="Print which split source a folder uses (HMDB51 or UCF101 split files, a fold CSV "
        "clip,class,fold, or a seeded stratified split of <class>/<video>), the classes, clips per class "
        "and split, clip length statistics and broken files; optionally draw a contact sheet PNG.",
    )
    insp.add_argument("root", type=Path, help="data set root (<class>/<video> folders)")
    insp.add_argument("--png", type=Path, default=None, help="write a contact sheet of a few clips here")
    insp.add_argument("--split", default="auto", choices=("auto", "hmdb51", "ucf101", "folds", "seeded"),
                      help="split source (default auto: HMDB51/UCF101 split files, else folds.csv, else seeded)")
    insp.add_argument("--split-id", type=int_in(1, 3), default=1, help="split number (HMDB51 1-3, UCF101 1-3; default 1)")
    insp.add_argument("--folds-file", default="", help="fold CSV with columns clip,class,fold (default <root>/folds.csv)")
    insp.add_argument("--test-fold", type=int_in(0), default=0, help="fold CSV: the tested fold (default 0)")
    insp.add_argument("--split-seed", type=int_in(0), default=0, help="seeded split: seed (default 0)")
    insp.add_argument("--test-fraction", type=float_in(0.0, 1.0, lo_open=True), default=0.3, help="seeded split: share of each class tested (default 0.3)")
    insp.add_argument("--clip-len", type=int_in(1, 1024), default=16, help="model clip length: videos shorter than this are counted (default 16)")
    insp.add_argument("--clips", type=int_in(1, 1000), default=6, help="clips on the contact sheet (default 6)")
    insp.add_argument("--no-decode", action="store_true", help="skip decoding every file (no broken-file scan, no lengths)")
    insp.add_argument("--json", type=Path, default=None, help="also write the summary as JSON here")
    insp.set_defaults(func=_cmd_inspect)

    parser.set_defaults(func=lambda args: (parser.print_help(sys.stderr), 2)[1])


def _cmd_synth(args: argparse.Namespace) -> int:
    import time

    hard = args.kind == "hard"
    if not hard and (args.backgrounds is not None or args.control != "none"):
        log.error("--backgrounds and --control need --kind hard")
        return 2
    if hard and args.distractors != "muted":
        log.error("--distractors busy needs --kind synth")
        return 2
    if args.train_per_class is None:
        args.train_per_class = 100 if hard else 200
    if args.test_per_class is None:
        args.test_per_class = 25 if hard else 50
    if args.size is None:
        args.size = (112, 112) if hard else (64, 64)
    if hard:
        from stae_ros.data.articulated import CLASS_NAMES
        from stae_ros.data.articulated.writer import generate_hard_dataset as generate
    else:
        from stae_ros.data.synthetic import CLASS_NAMES, generate_dataset as generate
    extra = ({"backgrounds": args.backgrounds, "control": args.control} if hard
             else {"distractors": args.distractors})

    t0 = time.perf_counter()
    h, w = args.size
    try:
        root = generate(
            args.out, seed=args.seed, train_per_class=args.train_per_class, test_per_class=args.test_per_class,
            frames=args.frames, height=h, width=w, workers=args.workers, **extra,
        )
    except ValueError as exc:
        log.error("%s", exc)
        return 2
    n = len(CLASS_NAMES) * (args.train_per_class + args.test_per_class)
    print(f"wrote {n} clips ({len(CLASS_NAMES)} classes, {args.frames}x{h}x{w}) to {root} in {time.perf_counter() - t0:.1f} s")
    return 0


def _length_stats(lengths: list[int], clip_len: int) -> str:
    import numpy as np

    if not lengths:
        return "none decoded"
    v = np.asarray(lengths)
    return (f"{v.min()}-{v.max()} frames (median {np.median(v):g}, mean {v.mean():.1f}); "
            f"{int((v < clip_len).sum())} of {len(v)} shorter than {clip_len}")


def _cmd_inspect(args: argparse.Namespace) -> int:
    import numpy as np
    from tqdm import tqdm

    from stae_ros.data.errors import DataError, VideoReadError
    from stae_ros.data.folder import SplitSpec, discover_samples, read_folds_file
    from stae_ros.data.video_io import read_video

    summary: dict = {"root": str(args.root)}
    try:
        spec = SplitSpec(source=args.split, split_id=args.split_id, folds_file=args.folds_file, test_fold=args.test_fold,
                         seed=args.split_seed, test_fraction=args.test_fraction)
        splits = {sp: discover_samples(args.root, sp, spec=spec) for sp in ("train", "test")}
        source, classes, _ = splits["train"]
        fold_rows = read_folds_file(spec.folds_path(args.root)) if source == "folds" else []
    except (DataError, ValueError) as exc:
        log.error("%s", exc)
        return 2
    where = {
        "hmdb51": f"HMDB51 split files, split {spec.split_id}",
        "ucf101": f"UCF101 train/test lists, split {spec.split_id}",
        "folds": f"fold file {spec.folds_path(args.root)}, test fold {spec.test_fold}",
        "seeded": f"seeded stratified split (seed {spec.seed}, {spec.test_fraction:g} of each class tested)",
    }[source]
    summary.update(layout=source, split_source=source, split=where, classes=classes, split_id=args.split_id)
    print(f"{args.root}: split source {source}: {where}; {len(classes)} classes")
    counts = {sp: np.bincount([s.label for s in smp], minlength=len(classes)) for sp, (_, _, smp) in splits.items()}
    folds = sorted({f for _, _, f, _ in fold_rows})
    per_fold = {f: np.bincount([classes.index(c) for _, c, ff, _ in fold_rows if ff == f], minlength=len(classes)) for f in folds}
    width = max(len(c) for c in classes + ["total"])
    fold_head = "".join(f"  fold{f}" for f in folds)
    print(f"  {'class':<{width}}  train  test{fold_head}")
    for i, c in enumerate(classes):
        print(f"  {c:<{width}}  {counts['train'][i]:5d}  {counts['test'][i]:4d}" + "".join(f"  {per_fold[f][i]:5d}" for f in folds))
    print(f"  {'total':<{width}}  {counts['train'].sum():5d}  {counts['test'].sum():4d}" + "".join(f"  {per_fold[f].sum():5d}" for f in folds))
    summary["counts"] = {sp: {c: int(v) for c, v in zip(classes, cnt)} for sp, cnt in counts.items()}
    if folds:
        summary["folds"] = {str(f): {c: int(v) for c, v in zip(classes, cnt)} for f, cnt in per_fold.items()}
    train_names = {s.name for s in splits["train"][2]}
    overlap = sorted(train_names & {s.name for s in splits["test"][2]})
    summary["train_test_overlap"] = overlap
    if overlap:
        print(f"  WARNING: {len(overlap)} videos are in both splits, e.g. {overlap[0]}")

    broken: list[dict] = []
    shapes: dict[str, int] = {}
    lengths: dict[str, list[int]] = {"train": [], "test": []}
    if not args.no_decode:
        every = [(sp, s) for sp, (_, _, smp) in splits.items() for s in smp]
        for sp, s in tqdm(every, desc="decode", unit="clip"):
            try:
                v = read_video(s.path)
                key = "x".join(map(str, v.shape))
                shapes[key] = shapes.get(key, 0) + 1
                lengths[sp].append(int(v.shape[0]))
            except VideoReadError as exc:
                broken.append({"file": str(exc.path), "reason": exc.reason})
        print("  decoded shapes (T x H x W x C): " + ", ".join(f"{k} ({v})" for k, v in sorted(shapes.items(), key=lambda kv: -kv[1])[:5]))
        for sp in ("train", "test"):
            print(f"  clip length, {sp}: {_length_stats(lengths[sp], args.clip_len)}")
        print(f"  broken files: {len(broken)}")
        for b in broken[:20]:
            print(f"    {b['file']}: {b['reason']}")
        summary["clip_lengths"] = {sp: {"min": min(v), "median": float(np.median(v)), "mean": float(np.mean(v)), "max": max(v),
                                        f"shorter_than_{args.clip_len}": int(sum(x < args.clip_len for x in v))}
                                   for sp, v in lengths.items() if v}
    summary.update(shapes=shapes, broken=broken)

    ann_path = args.root / "annotations.json"
    try:
        ann = json.loads(ann_path.read_text()) if ann_path.is_file() else None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        print(f"stae data inspect: {ann_path} is not readable JSON: {exc_line(exc)}", file=sys.stderr)
        return 2
    if not isinstance(ann, (dict, type(None))):
        print(f"stae data inspect: {ann_path} must hold a JSON object", file=sys.stderr)
        return 2
    if ann is not None:
        summary["synthetic"] = {k: ann.get(k) for k in ("format", "seed", "frames", "height", "width")}
        print(f"  synthetic set: seed {ann.get('seed')}, {ann.get('frames')}x{ann.get('height')}x{ann.get('width')}")
    if args.png is not None:
        _contact_sheet(args.png, splits["train"][2], classes, ann, args.clips)
        print(f"  contact sheet: {args.png}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    if broken:
        print(f"stae data inspect: {len(broken)} broken file(s) in {args.root} (listed above)", file=sys.stderr)
        return 1
    return 0


def _contact_sheet(path: Path, samples: list, classes: list[str], ann: dict | None, n_clips: int) -> None:
    """One row per clip (one clip per class, spread over the classes), 8 frames each, upscaled;
    the actor box in white and the motion region in yellow when ``annotations.json`` has them.
    Drawn with OpenCV: it is an image grid, not a plot, and avoids matplotlib's start-up cost."""
    import cv2
    import numpy as np

    from stae_ros.data.errors import VideoReadError
    from stae_ros.data.video_io import read_video

    by_class: dict[int, object] = {}
    for s in samples:
        by_class.setdefault(s.label, s)
    picks = [by_class[k] for k in sorted(by_class)]
    if len(picks) > n_clips:
        picks = [picks[i] for i in np.linspace(0, len(picks) - 1, n_clips).round().astype(int)]
    cols, cell, label_w, pad = 8, 128, 120, 4
    rows = []
    for s in picks:
        row = np.full((cell + 2 * pad, label_w + cols * (cell + pad), 3), 255, np.uint8)
        cv2.putText(row, classes[s.label][:14], (4, cell // 2 + pad), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        try:
            video = read_video(s.path)
        except VideoReadError as exc:
            cv2.putText(row, f"broken: {exc.reason}"[:60], (label_w, cell // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 255), 1)
            rows.append(row)
            continue
        idx = np.linspace(0, len(video) - 1, cols).round().astype(int)
        entry = (ann or {}).get("clips", {}).get(s.path.name)
        h, w = video.shape[1:3]
        scale = cell / max(h, w)
        for c, t in enumerate(idx):
            img = cv2.resize(video[t], (round(w * scale), round(h * scale)), interpolation=cv2.INTER_NEAREST)
            if entry is not None and t < len(entry["boxes"]):
                rx0, ry0, rx1, ry1 = (round(v * scale) for v in entry["region"])
                cv2.rectangle(img, (rx0, ry0), (rx1 - 1, ry1 - 1), (255, 230, 0), 1)
                x0, y0, x1, y1 = (round(v * scale) for v in entry["boxes"][t])
                cv2.rectangle(img, (x0, y0), (x1 - 1, y1 - 1), (255, 255, 255), 1)
            x = label_w + c * (cell + pad)
            row[pad : pad + img.shape[0], x : x + img.shape[1]] = img
        rows.append(row)
    sheet = np.concatenate(rows, axis=0) if rows else np.full((32, 256, 3), 255, np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {path}")
