"""stae-roi264's classifier fine-tuned on the crops of one importance map: the edge's gradient map
mixed with the camera's motion map, or (the control, same recipe) the motion map alone.

Why: the shipped roi classifier was fine-tuned on motion-map crops, so comparing the gradient map's
crops against it favours the motion map. Fine-tuning one copy per map, on the same training clips,
thresholds and schedule, and scoring each on its own map's crops, is the fair comparison; the
sensitivity bench (``--roi-model``) then draws both rate curves on the test split.

    python -m studies.roi.gradient_finetune --map mix --out out/sens_ft/roi_mix.pt
    python -m studies.roi.gradient_finetune --map motion --out out/sens_ft/roi_motion.pt
    python -m stae_ros.sensitivity.bench --roi-model out/sens_ft/roi_mix.pt --mix 0.5 --out out/sens_ft/bench_mix.json
    python -m stae_ros.sensitivity.bench --roi-model out/sens_ft/roi_motion.pt --mix 0.5 --out out/sens_ft/bench_motion.json

The training clips' gradient maps come from the shipped classifier (the edge's before fine-tuning),
made from the motion-coded clip as the edge would, and applied to the clip they came from (lag 0,
as the bench does).
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F
from tqdm import tqdm

log = logging.getLogger(__name__)


def crops(data: str, limit: int, thresholds: list[float], which: str, mix: float, grid: int) -> tuple[np.ndarray, np.ndarray]:
    """Decoded roi clips of ``limit`` training clips (a class-balanced spread) at each threshold, coded with
    the motion map or its ``mix`` with the edge's gradient map; (clips N*len(thresholds),T,H,W,3, labels)."""
    from stae_ros.data.arrays import load_split_arrays
    from stae_ros.modes.base import ModeContext
    from stae_ros.modes.stae_roi264 import RoiCamera, RoiEdge
    from stae_ros.sensitivity.camera import mix_importance
    from stae_ros.sensitivity.gradients import sensitivity_map

    arrays = load_split_arrays(data, "train", 16, (64, 64))
    idx = np.linspace(0, len(arrays.labels) - 1, min(limit, len(arrays.labels))).round().astype(int)
    clips, labels = arrays.clips[idx], np.asarray(arrays.labels)[idx]
    ctx = ModeContext(loaded=None)
    cam, edge = RoiCamera(ctx), RoiEdge(ctx)
    pay = cam.payload
    maps = [sensitivity_map(edge, edge.decode(pay.encode(c)), 0, (grid, grid), "grad") for c in
            tqdm(clips, desc="gradient maps", mininterval=2.0)] if which == "mix" else None
    out, ys = [], []
    for th in thresholds:
        pay.set_knobs({"threshold": th})
        for i, clip in enumerate(tqdm(clips, desc=f"crops th={th:g}", mininterval=2.0)):
            own = pay.importance(clip)
            imp = own if maps is None else mix_importance(own, maps[i], mix)
            out.append(pay.decode(pay.encode(clip, imp)))
            ys.append(labels[i])
    return np.stack(out), np.asarray(ys)


def finetune(x: np.ndarray, y: np.ndarray, steps: int, batch: int, lr: float, seed: int) -> torch.nn.Module:
    """A copy of the shipped roi classifier fine-tuned on ``x`` (CE, AdamW, cosine)."""
    from stae_ros.modes.stae_roi264 import RoiPayload

    torch.manual_seed(seed)
    net = copy.deepcopy(RoiPayload(None).model.classifier).train()
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    gen = torch.Generator().manual_seed(seed)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y).long()
    for step in tqdm(range(steps), desc="fine-tune", mininterval=2.0):
        for g in opt.param_groups:
            g["lr"] = lr * 0.5 * (1 + np.cos(np.pi * step / steps))
        i = torch.randint(0, len(yt), (batch,), generator=gen)
        xb = xt[i].permute(0, 4, 1, 2, 3).float().div_(255.0)
        loss = F.cross_entropy(net(xb), yt[i])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--map", choices=("mix", "motion"), required=True)
    ap.add_argument("--data", default="datasets/synth")
    ap.add_argument("--limit", type=int, default=600, help="training clips (a class-balanced spread)")
    ap.add_argument("--thresholds", default="0.35,0.5,0.65,0.8")
    ap.add_argument("--mix", type=float, default=0.5)
    ap.add_argument("--grid", type=int, default=8)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(1)
    from stae_ros.modes.stae_roi264 import RoiPayload
    from stae_ros.roi.node_model import save_roi_model

    x, y = crops(a.data, a.limit, [float(t) for t in a.thresholds.split(",")], a.map, a.mix, a.grid)
    net = finetune(x, y, a.steps, a.batch, a.lr, a.seed)
    base = RoiPayload(None).model
    meta = dict(base.meta, finetuned_on=vars(a))
    path = save_roi_model(a.out, base.settings, base.importance_spec, base.shape, base.class_names, net,
                          json.loads(json.dumps(meta, default=str)), importance_net=base.importance_net)
    log.info("wrote %s (%d crops)", path, len(y))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
