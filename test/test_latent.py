"""stae_ros.latent: bit-exact range-coded round trip, rate vs lambda, malformed payloads."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from stae_ros.latent import (
    BadMagicError,
    LatentCodec,
    LatentConfig,
    LatentInputError,
    LatentLimits,
    LatentModel,
    LatentPayloadError,
    LimitExceededError,
    ModelMismatchError,
    TruncatedPayloadError,
    UnsupportedVersionError,
    estimate_bits,
    probability_tables,
    train_latent,
)
from stae_ros.latent.bitstream import decode_symbols, encode_symbols

TINY = dict(frames=8, height=32, width=32, num_classes=3, enc_width=4, latent_channels=4, head_width=8, support=7)


def _clips(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 8, 32, 32, 3), dtype=np.uint8)


def _spread_model(seed: int = 0) -> LatentModel:
    """A tiny model whose latent spans many symbols (large weights, varied prior)."""
    torch.manual_seed(seed)
    model = LatentModel(LatentConfig(**TINY))
    with torch.no_grad():
        model.encoder.out.weight.mul_(20.0)
        model.prior.loc.copy_(torch.tensor([0.0, 1.5, -2.0, 0.3]))
        model.prior.log_scale.copy_(torch.tensor([0.0, 1.0, -1.0, 2.0]))
    return model.eval()


def test_latent_round_trip_is_bit_exact() -> None:
    codec = LatentCodec(_spread_model())
    nonzero = 0
    for clip in _clips(4):
        sym = codec.symbols(clip)
        data = codec.encode(clip)
        latent = codec.decode(data)
        assert latent.shape == (1, *LatentConfig(**TINY).latent_shape())
        np.testing.assert_array_equal(latent[0].numpy().astype(np.int32), sym)
        nonzero += int(np.count_nonzero(sym))
        assert codec.decode_classify(data).shape == (1, 3)
    assert nonzero > 0  # the test exercised more than the all-zero latent


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_range_coder_round_trip_random_tables(seed: int) -> None:
    rng = np.random.default_rng(seed)
    support, c = 5, 3
    tables = probability_tables(rng.normal(0, 2, c).astype(np.float32), rng.uniform(0.1, 3, c).astype(np.float32), support)
    sym = rng.integers(-support, support + 1, (c, 2, 3, 3)).astype(np.int32)
    data = encode_symbols(sym, tables, support)
    back = decode_symbols(data, sym.shape, tables, support, max_bytes=1 << 16)
    np.testing.assert_array_equal(back, sym)


def test_rate_falls_as_lambda_rises() -> None:
    torch.set_num_threads(1)
    cfg = LatentConfig(**TINY)
    clips, labels = _clips(8, seed=3), np.array([0, 1, 2, 0, 1, 2, 0, 1])
    torch.manual_seed(0)
    start = LatentModel(cfg)
    with torch.no_grad():  # a latent that spans several symbols, so there is rate to trade
        start.encoder.out.weight.mul_(10.0)
        start.encoder.out.bias.mul_(10.0)
    bits = {}
    for lam in (0.001, 1.0):
        init = copy.deepcopy(start)
        model = train_latent(cfg, clips, labels, lam=lam, steps=20, batch=4, lr=2e-2, seed=0, init=init, progress=False)
        bits[lam] = estimate_bits(model, clips)
    assert bits[1.0] < 0.8 * bits[0.001], bits


@pytest.fixture(scope="module")
def codec_and_payload() -> tuple[LatentCodec, bytes]:
    codec = LatentCodec(_spread_model(), LatentLimits(max_bytes=4096))
    return codec, codec.encode(_clips(1)[0])


def test_malformed_payloads_rejected(codec_and_payload: tuple[LatentCodec, bytes]) -> None:
    codec, data = codec_and_payload
    with pytest.raises(BadMagicError):
        codec.decode(b"XX" + data[2:])
    with pytest.raises(UnsupportedVersionError):
        codec.decode(data[:2] + bytes([99]) + data[3:])
    with pytest.raises(TruncatedPayloadError):
        codec.decode(data[:3])
    with pytest.raises(LimitExceededError):
        codec.decode(data + b"\x00" * 5000)
    with pytest.raises(LatentPayloadError):
        codec.decode("not bytes")  # type: ignore[arg-type]


def test_payload_from_another_model_rejected(codec_and_payload: tuple[LatentCodec, bytes]) -> None:
    _, data = codec_and_payload
    other = _spread_model()
    with torch.no_grad():
        other.prior.loc.add_(0.5)
    with pytest.raises(ModelMismatchError):
        LatentCodec(other).decode(data)


def test_bad_clip_rejected(codec_and_payload: tuple[LatentCodec, bytes]) -> None:
    codec, _ = codec_and_payload
    with pytest.raises(LatentInputError):
        codec.encode(np.zeros((8, 32, 32, 3), np.float32))
    with pytest.raises(LatentInputError):
        codec.encode(np.zeros((4, 32, 32, 3), np.uint8))


def test_prior_refit_does_not_raise_the_rate() -> None:
    from stae_ros.latent.train import refit_prior

    model = _spread_model(1)
    clips = _clips(6, seed=5)
    before = estimate_bits(model, clips)
    after = refit_prior(model, clips, steps=150, lr=0.05)
    assert after <= before + 1e-3, (before, after)
    assert estimate_bits(model, clips) == pytest.approx(after, rel=1e-4)
