"""The steps from the earlier h264-cd recipe on Weizmann to the shipped one, each a 3-fold run.

Every variant is `config/train_h264_cd_weizmann.yaml` with a few keys changed (below), written to
``<out>/config.yaml`` and trained with ``stae train --fold all`` into ``<out>``; the pooled
accuracy is in ``<out>/cv.json``. One seed each unless ``--seed`` is given, so differences of a
few points (one clip is 1.1 points of 93) are within the seed's own spread.

    python -m studies.h264_cd_weizmann.variants --variant pad --out runs/cdw_pad
    python -m studies.h264_cd_weizmann.variants --list
"""

from __future__ import annotations

import argparse
import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

BASE = Path("config/train_h264_cd_weizmann.yaml")

#: one network, no augmented views: what every step before "views4" has in common
_SINGLE = {"train": {"views": 0, "members": 1}}
_LOOP64 = {"clip": {"height": 64, "width": 64}, "data": {"short_clip": "loop"}}

VARIANTS: dict[str, list[dict[str, Any]]] = {
    # the earlier recipe: 16x64x64, ultrafast, looped clips, no flip, no centring
    "previous": [_LOOP64, _SINGLE, {"codec": {"preset": "ultrafast"},
                                   "model": {"centre": False, "track": False}, "train": {"flip": False}}],
    "flip_64": [_LOOP64, _SINGLE, {"codec": {"preset": "ultrafast"}, "model": {"centre": False, "track": False}}],
    "flip_centre_64": [_LOOP64, _SINGLE, {"codec": {"preset": "ultrafast"}, "model": {"track": False}}],
    "veryfast_64": [_LOOP64, _SINGLE, {"model": {"track": False}}],
    "size112": [_SINGLE, {"data": {"short_clip": "loop"}, "codec": {"preset": "ultrafast"}, "model": {"track": False}}],
    "size112_veryfast": [_SINGLE, {"data": {"short_clip": "loop"}, "model": {"track": False}}],
    "size112_medium": [_SINGLE, {"data": {"short_clip": "loop"}, "codec": {"preset": "medium"}, "model": {"track": False}}],
    "track_loop": [_SINGLE, {"data": {"short_clip": "loop"}}],
    "pad": [_SINGLE, {"model": {"track": False}}],
    "pad_track": [_SINGLE],
    "views4": [{"train": {"members": 1}}],
    "views4_notrack": [{"train": {"members": 1}, "model": {"track": False}}],
    "views8": [{"train": {"members": 1, "views": 8, "steps": 1500}}],
    "views4_distill": [{"train": {"members": 1, "distill": 0.5, "temperature": 2.0},
                        "teacher": "runs/weizmann_edge_ensemble/fold{fold}/model.pt"}],
    "shipped": [],
}


def _merge(into: dict[str, Any], change: dict[str, Any]) -> None:
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)


def variant_config(name: str, seed: int | None = None) -> dict[str, Any]:
    """The base config with the variant's changes (and another seed)."""
    cfg = yaml.safe_load(BASE.read_text())
    for change in VARIANTS[name]:
        _merge(cfg, change)
    cfg["name"] = f"h264_cd_weizmann_{name}"
    if seed is not None:
        cfg["seed"] = seed
    return cfg


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--variant", choices=sorted(VARIANTS))
    ap.add_argument("--seed", type=int, default=None, help="another seed than the config's 0")
    ap.add_argument("--out", type=Path, help="run folder (default: runs/cdw_<variant>[_s<seed>])")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--list", action="store_true", help="print each variant's changes and exit")
    args = ap.parse_args(argv)
    if args.list:
        for name, changes in VARIANTS.items():
            print(f"{name}: {changes}")
        return 0
    if not args.variant:
        ap.error("--variant is required (or --list)")
    out = args.out or Path(f"runs/cdw_{args.variant}" + (f"_s{args.seed}" if args.seed is not None else ""))
    out.mkdir(parents=True, exist_ok=True)
    path = out / "config.yaml"
    path.write_text(yaml.safe_dump(variant_config(args.variant, args.seed), sort_keys=False))
    cmd = [sys.executable, "-m", "stae_ros.cli", "train", "--config", str(path), "--fold", "all", "--out", str(out),
           "--threads", str(args.threads), "--no-progress"]
    return subprocess.call(cmd)


if __name__ == "__main__":
    raise SystemExit(main())
