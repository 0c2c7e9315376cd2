"""Corrupted payloads: how many still decode (and so would be labelled) per payload format.

For each format (stae-px, stae-roi264, stae-latent; the shipped models' clip shapes) a few good
payloads are encoded from synthetic clips, then corrupted three ways:

- single bit flips (a random bit of a random payload),
- truncations (a random payload cut at a random length),
- random bodies behind a valid header (the format's fixed header kept, the rest random bytes
  of a random length up to twice the payload's).

A corrupted payload "is labelled" when the edge's decoder returns a clip / latent for it instead
of raising its documented error: the classifier labels whatever it is given. Target: 0 of each.

    python scripts/payload_integrity.py --flips 1000 --truncations 125 --random 1512
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _clip(t: int, h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([(x * 3) % 256, (y * 2) % 256, (x + y) % 256], -1)
    out = np.stack([np.roll(base, i * (1 + seed % 3), axis=1) for i in range(t)])
    return np.clip(out + rng.integers(-4, 5, out.shape), 0, 255).astype(np.uint8)


def formats(n_payloads: int):
    """name -> (good payloads, fixed header length, decode, documented error)."""
    from stae_ros import codec as px
    from stae_ros.latent import LatentPayloadError, load_latent_codec
    from stae_ros.latent.bitstream import HEADER_BYTES as LATENT_HEADER
    from stae_ros.roi.errors import RoiPayloadError
    from stae_ros.roi.node_model import load_roi_model

    out = {}
    t, h, w, c = 16, 64, 64, 3
    limits = px.DecodeLimits(max_frames=t, max_height=h, max_width=w, max_channels=c)
    goods = []
    for i in range(n_payloads):
        clip = _clip(t, h, w, i)
        mask = np.zeros((t, h, w), bool)
        mask[:, 8 + i : 40 + i, 16:48] = True
        keep = np.arange(0, t, 2)
        pl = px.SemanticPayload.from_dense(clip[keep], mask[keep], keep, (t, h, w, c), 0.25)
        goods.append(px.encode(pl, layout=("auto", "fast", "rle+png", "bitmap+webp_lossless")[i % 4]))
    out["stae-px"] = (goods, px.HEADER_SIZE, lambda d: px.decode(d, limits=limits), px.CodecError)

    roi = load_roi_model(ROOT / "models" / "stae_roi264_default.pt")
    rc = roi.codec()
    rt, rh, rw = roi.shape
    goods = [rc.encode(_clip(rt, rh, rw, i), roi.importance(_clip(rt, rh, rw, i))) for i in range(n_payloads)]
    from stae_ros.roi.codec import CODEC_VERSION as ROI_VERSION

    roi_header = 4 + (4 if ROI_VERSION >= 2 else 0) + 3  # magic, version, flags, (crc32), T, H, W varints
    out["stae-roi264"] = (goods, roi_header, rc.decode, RoiPayloadError)

    lat = load_latent_codec(ROOT / "models" / "stae_latent_default.pt")
    cfg = lat.cfg
    goods = [lat.encode(_clip(cfg.frames, cfg.height, cfg.width, i)) for i in range(n_payloads)]
    out["stae-latent"] = (goods, LATENT_HEADER, lat.decode, LatentPayloadError)
    return out


def attack(goods: list[bytes], header: int, decode, documented, flips: int, truncations: int, randoms: int,
           seed: int) -> dict:
    rng = np.random.default_rng(seed)
    counts = {"bit_flip": [0, 0], "truncation": [0, 0], "random_body": [0, 0]}
    undocumented: list[str] = []

    def trial(kind: str, data: bytes) -> None:
        counts[kind][1] += 1
        try:
            decode(data)
        except documented:
            return
        except Exception as exc:  # noqa: BLE001 - reported: the decoder broke its contract
            undocumented.append(f"{kind}: {type(exc).__name__}: {exc}"[:200])
            return
        counts[kind][0] += 1

    for _ in range(flips):
        g = bytearray(goods[rng.integers(len(goods))])
        bit = int(rng.integers(8 * len(g)))
        g[bit // 8] ^= 1 << (bit % 8)
        trial("bit_flip", bytes(g))
    for _ in range(truncations):
        g = goods[rng.integers(len(goods))]
        trial("truncation", g[: int(rng.integers(0, len(g)))])
    for _ in range(randoms):
        g = goods[rng.integers(len(goods))]
        n = int(rng.integers(1, 2 * len(g)))
        trial("random_body", g[:header] + rng.integers(0, 256, n, dtype=np.uint8).tobytes())
    return {k: {"labelled": v[0], "tried": v[1]} for k, v in counts.items()} | {"undocumented": undocumented}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--flips", type=int, default=1000)
    ap.add_argument("--truncations", type=int, default=125)
    ap.add_argument("--random", type=int, default=1512)
    ap.add_argument("--payloads", type=int, default=8, help="good payloads per format to corrupt")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    import cv2

    cv2.setNumThreads(1)
    results = {}
    print("| format | bit flips labelled | truncations labelled | random bodies labelled | other exceptions |")
    print("|---|---|---|---|---|")
    for name, (goods, header, decode, documented) in formats(args.payloads).items():
        for g in goods:
            decode(g)  # the good ones must decode
        r = attack(goods, header, decode, documented, args.flips, args.truncations, args.random, args.seed)
        results[name] = r
        cell = lambda k: f"{r[k]['labelled']} of {r[k]['tried']}"  # noqa: E731
        print(f"| {name} | {cell('bit_flip')} | {cell('truncation')} | {cell('random_body')} | {len(r['undocumented'])} |",
              flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    bad = sum(r[k]["labelled"] for r in results.values() for k in ("bit_flip", "truncation", "random_body"))
    bad += sum(len(r["undocumented"]) for r in results.values())
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
