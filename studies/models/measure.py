"""Measure model size and speed: ``python -m studies.models.measure [--config YAML]``.

Prints parameters per module, camera-side FA+SA ms per clip on ONE CPU thread (worst operating
point: K = max frame budget with p < 1, so SA runs on every kept frame; through the tensor path
and through the camera's uint8 path), FR and ViT forward ms
per clip, and the classifier's forward+backward+AdamW step per batch (the training cost, in CPU
seconds summed over threads). Medians of per-call process CPU time after a warm-up.
Numbers go into docs/models.md.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import torch

from stae_ros.models.camera_select import select_uint8
from stae_ros.models.config import ModelConfig
from stae_ros.models.stae import STAE

__all__ = ["main", "measure"]


def _median_ms(fn: Callable[[], object], repeats: int, warmup: int = 2) -> float:
    """Median per-call *process CPU* ms.

    CPU time, not wall time: this machine is shared, and on one thread CPU time is what the call
    costs (an idle host's wall time), while wall time measures the neighbours' load.
    Multi-threaded calls report the CPU summed over threads.
    """
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        times.append((time.process_time() - t0) * 1000.0)
    return statistics.median(times)


def measure(cfg: ModelConfig, threads: int = 1, train_threads: int = 1, batch: int = 16, repeats: int = 10) -> dict[str, float]:
    """Return a dict of parameter counts and timings (ms) for ``cfg`` on this CPU."""
    torch.manual_seed(0)
    model = STAE(cfg).eval()
    c = cfg.clip
    clip = torch.rand(1, c.channels, c.frames, c.height, c.width)
    k = max(cfg.budgets.frame)
    p_sa = min(cfg.budgets.spatial)
    out: dict[str, float] = {}
    for name, module in (("fa", model.fa), ("sa", model.sa), ("fr", model.fr), ("vit", model.vit)):
        out[f"params_{name}"] = float(sum(q.numel() for q in module.parameters()))
    prev = torch.get_num_threads()
    try:
        torch.set_num_threads(threads)
        with torch.inference_mode():
            out["fa_ms"] = _median_ms(lambda: model.fa.logits(clip), repeats)
            out["fa_sa_ms"] = _median_ms(lambda: model.select(clip, k, p_sa), repeats)
            frames = (clip[0] * 255).round().to(torch.uint8).permute(1, 2, 3, 0).contiguous().numpy()
            out["camera_select_ms"] = _median_ms(lambda: select_uint8(model, frames, k, p_sa), repeats)
            sel = model.select(clip, k, p_sa)
            zf, mask = model.assemble(clip, sel)
            out["fr_ms"] = _median_ms(lambda: model.recover(zf, mask), max(3, repeats // 2))
            out["vit_ms"] = _median_ms(lambda: model.classify(clip), max(3, repeats // 2))
        torch.set_num_threads(train_threads)
        model.freeze("classifier")
        model.train()
        xb = torch.rand(batch, c.channels, c.frames, c.height, c.width)
        yb = torch.randint(cfg.vit.num_classes, (batch,))
        opt = torch.optim.AdamW([q for q in model.parameters() if q.requires_grad], lr=1e-4)

        def step() -> None:
            opt.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(model(xb, stage="classifier"), yb).backward()
            opt.step()

        out["vit_train_step_ms"] = _median_ms(step, max(3, repeats // 3), warmup=1)
    finally:
        torch.set_num_threads(prev)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config/model_default.yaml", help="model YAML (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=1, help="threads for inference timings")
    parser.add_argument("--train-threads", type=int, default=1, help="threads for the training-step timing")
    parser.add_argument("--batch", type=int, default=16, help="training batch size")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args(argv)
    import yaml  # local: keep models/ import-light

    from stae_ros.runtime import keep_freed_memory

    keep_freed_memory()  # as the nodes and the bench children do (stae_ros.runtime)

    with open(args.config, encoding="utf-8") as fh:
        cfg = ModelConfig.from_dict(yaml.safe_load(fh))
    res = measure(cfg, args.threads, args.train_threads, args.batch, args.repeats)
    c = cfg.clip
    print(f"config {args.config}: clip {c.frames}x{c.height}x{c.width}, torch {torch.__version__}")
    for key in ("params_fa", "params_sa", "params_fr", "params_vit"):
        print(f"{key:18s} {int(res[key]):>10,d}")
    print(f"FA ms ({args.threads} thr)        {res['fa_ms']:8.2f}")
    print(f"FA+SA select ms ({args.threads} thr)  {res['fa_sa_ms']:8.2f}   (K={max(cfg.budgets.frame)}, p={min(cfg.budgets.spatial)})")
    print(f"  the same from uint8 ({args.threads} thr) {res['camera_select_ms']:8.2f}   (select_uint8: the camera node's path)")
    print(f"FR fwd ms ({args.threads} thr)    {res['fr_ms']:8.2f}")
    print(f"ViT fwd ms ({args.threads} thr)   {res['vit_ms']:8.2f}")
    print(f"ViT train step CPU ms (batch {args.batch}, {args.train_threads} thr) {res['vit_train_step_ms']:8.1f}")
    print("(all timings: median process CPU ms per call)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
