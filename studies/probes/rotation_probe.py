"""Can a ViT input stem learn which way a bar turns? rotate_cw vs rotate_ccw on their own.

The diff-stem default model is at chance within that pair while it learns the other ten classes,
so this probe isolates the pair: a fresh ViT of the default shape, trained from scratch on
rendered rotate_cw/rotate_ccw clips (seeds far from the stored data set's), tested on held-out
ones. A stem that stays at 50% here cannot be rescued by more steps of the full schedule.

    python -m studies.probes.rotation_probe --stem flow --steps 400
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from stae_ros.data.synthetic import CLASS_NAMES, render_clip
from stae_ros.models.config import ClipConfig, ViTConfig
from stae_ros.models.vit import VideoViT

_PAIR = (CLASS_NAMES.index("rotate_cw"), CLASS_NAMES.index("rotate_ccw"))
_SEED0 = 5_000_000


def _render(job: tuple[int, int]) -> np.ndarray:
    return render_clip(job[0], job[1], 16, 64, 64).frames


def pair_clips(n: int, cache: Path | None) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` clips alternating cw/ccw (label 0/1), as B,C,T,H,W floats in [0,1]."""
    if cache is not None and cache.exists():
        d = np.load(cache)
        x, y = d["x"], d["y"]
    else:
        jobs = [(_PAIR[i % 2], _SEED0 + i) for i in range(n)]
        with ProcessPoolExecutor(2) as ex:
            x = np.stack(list(ex.map(_render, jobs, chunksize=64)))
        y = np.arange(n) % 2
        if cache is not None:
            np.savez(cache, x=x, y=y)
    return torch.from_numpy(x).permute(0, 4, 1, 2, 3).float() / 255.0, torch.from_numpy(y).long()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stem", default="flow", choices=["none", "diff", "flow", "curl", "conv"])
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--clips", type=int, default=3200, help="rendered clips; the last 400 are the test set")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", default="out/rotation_pair.npz", help="npz cache of the rendered clips ('' = none)")
    args = ap.parse_args(argv)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    cache = Path(args.cache) if args.cache else None
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
    x, y = pair_clips(args.clips, cache)
    n_train = len(y) - 400
    vit = VideoViT(ViTConfig(tubelet=[2, 16, 16], dim=64, depth=3, heads=4, mlp_ratio=2.0, dropout=0.0, num_classes=2,
                             pool="max", stem=args.stem), ClipConfig(16, 64, 64, 3))
    opt = torch.optim.AdamW(vit.parameters(), 1e-3, weight_decay=0.05)
    t0 = time.time()
    for step in range(1, args.steps + 1):
        idx = torch.randint(0, n_train, (args.batch,))
        loss = F.cross_entropy(vit(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == args.steps:
            vit.eval()
            with torch.no_grad():
                acc = (vit(x[n_train:]).argmax(1) == y[n_train:]).float().mean().item()
            vit.train()
            print(f"stem {args.stem} step {step}: train loss {loss.item():.3f}, test accuracy {acc:.3f} ({time.time() - t0:.0f} s)",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
