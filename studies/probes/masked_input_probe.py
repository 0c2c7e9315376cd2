"""Where does a stae-px point lose accuracy at p < 1: the pixels SA picks, FR's fill, or the ViT?

For each (K, p) it scores one test split (the split a training config names: fold CSV, seeded
split ...) along several paths that differ in one part only:

* ``stae``: the model as deployed (FA top-K, SA top-n pixels, FR, ViT);
* ``no_fr``: the same pixels, the dropped ones left at zero (what FA/SA train against);
* ``motion``: SA replaced by the n pixels with the largest ``|x_t - x_{t-1}|`` (dilated), then FR;
* ``random``: n random pixels per frame, then FR;
* ``cover``: the share of moving pixels (``|x_t - x_{t-1}| > 0.08``) that SA keeps;
* ``bytes``: the mean stae-px payload of a clip through the camera pipeline (the profile's codec
  settings), and how many times fewer than at full budget (``x``).

    python -m studies.probes.masked_input_probe runs/weizmann/fold0/model.pt --config config/train_weizmann.yaml \
        --fold 0 16,0.5 16,0.25 8,0.5
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from stae_ros.data.arrays import load_split_arrays
from stae_ros.models.config import budget_pixels
from stae_ros.models.selection import Selection, gather_frames, top_pixels_mask
from stae_ros.pipeline import CameraPipeline
from stae_ros.training import load_model, load_train_config
from stae_ros.training.loop import to_float_clips


def _motion(clip: torch.Tensor) -> torch.Tensor:
    """``B,T,H,W`` channel-max of ``|x_t - x_{t-1}|`` (frame 0 uses frame 1)."""
    d = (clip[:, :, 1:] - clip[:, :, :-1]).abs().amax(1)
    return torch.cat([d[:, :1], d], dim=1)


@torch.no_grad()
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("points", nargs="+", help="K,p pairs, e.g. 16,0.25 8,0.5")
    ap.add_argument("--config", required=True, help="the training config (its data: section names the split)")
    ap.add_argument("--fold", type=int, default=None, help="test fold (default: the config's data.test_fold)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    cfg = load_train_config(args.config)
    if args.fold is not None:
        cfg.data.test_fold = args.fold
    loaded = load_model(args.model)
    model, c = loaded.model, loaded.config.clip
    arrays = load_split_arrays(cfg.data.root, "test", c.frames, (c.height, c.width), cache=False, progress=False,
                               split_spec=cfg.data.split_spec(), short_clip=cfg.data.short_clip)
    x = to_float_clips(arrays.clips)
    y = torch.as_tensor(arrays.labels)
    motion = _motion(x)

    def acc(logits: torch.Tensor) -> float:
        return float((logits.argmax(1) == y).float().mean())

    def with_fr(sel: Selection) -> float:
        zero, mask = model.assemble(x, sel)
        return acc(model.classify(model.recover(zero, mask)))

    camera = CameraPipeline(loaded)

    def payload_bytes(k: int, p: float) -> float:
        camera.set_budget(k, p)
        return sum(len(camera.encode(clip).payload) for clip in arrays.clips) / len(arrays.clips)

    full_bytes = payload_bytes(c.frames, 1.0)
    print(f"{len(y)} test clips; full budget: {acc(model.classify(x)) * 100:.1f}%, {full_bytes:.0f} B/clip")
    print(f"{'K':>3} {'p':>5} {'stae':>6} {'no_fr':>6} {'motion':>7} {'random':>7} {'cover':>6} {'bytes':>7} {'x':>5}")
    for text in args.points:
        k, p = int(text.split(",")[0]), float(text.split(",")[1])
        n = budget_pixels(p, c.height, c.width)
        sel = model.select(x, k, p)
        zero, mask = model.assemble(x, sel)
        no_fr = acc(model.classify(model.fill_dropped_frames(zero, sel_kept(mask))))
        idx = sel.frame_indices
        m = gather_frames(motion[:, None], idx)[:, 0]
        m = F.max_pool2d(m, 3, 1, 1)  # a pixel next to motion counts: the blob's edges
        motion_sel = Selection(idx, top_pixels_mask(m + 1e-3 * torch.rand_like(m), n))
        random_sel = Selection(idx, top_pixels_mask(torch.rand_like(m), n))
        moving = gather_frames(motion[:, None], idx)[:, 0] > 0.08
        cover = float((sel.mask & moving).sum() / moving.sum().clamp_min(1))
        print(f"{k:3d} {p:5.2f} {with_fr(sel) * 100:6.1f} {no_fr * 100:6.1f} {with_fr(motion_sel) * 100:7.1f} "
              f"{with_fr(random_sel) * 100:7.1f} {cover * 100:6.1f} {(b := payload_bytes(k, p)):7.0f} {full_bytes / b:5.1f}")


def sel_kept(mask: torch.Tensor) -> torch.Tensor:
    from stae_ros.models.temporal import kept_frames

    return kept_frames(mask)


if __name__ == "__main__":
    main()
