"""Streamed synthetic training batches: deterministic per key, never a stored clip, same in any process."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from stae_ros.data.errors import DataError
from stae_ros.data.stream import StreamSpec, SyntheticBatchStream, _batch_plan, render_batch

SPEC = StreamSpec(batch_size=4, frames=4, height=32, width=32, seed=3)


def test_same_key_same_bytes_other_key_other_clips():
    a_clips, a_labels = render_batch(SPEC, (0, 1, 2))
    b_clips, b_labels = render_batch(SPEC, (0, 1, 2))
    c_clips, _ = render_batch(SPEC, (0, 1, 3))
    assert a_clips.shape == (4, 4, 32, 32, 3) and a_clips.dtype == np.uint8
    assert a_labels.dtype == np.int64 and ((0 <= a_labels) & (a_labels < SPEC.num_classes)).all()
    assert np.array_equal(a_clips, b_clips) and np.array_equal(a_labels, b_labels)
    assert not np.array_equal(a_clips, c_clips)


def test_excluded_seeds_are_never_rendered():
    plan = _batch_plan(SPEC, (5,))
    taken = frozenset(seed for _, seed in plan)
    again = _batch_plan(dataclasses.replace(SPEC, excluded_seeds=taken), (5,))
    assert [cid for cid, _ in again] == [cid for cid, _ in plan]
    assert not taken & {seed for _, seed in again}


def test_background_workers_render_what_the_caller_would():
    keys = [(0, e, s) for e in range(2) for s in range(3)]
    with SyntheticBatchStream(SPEC, workers=0) as inline:
        expected = list(inline.batches(keys))
    with SyntheticBatchStream(SPEC, workers=1, prefetch=2) as pooled:
        got = list(pooled.batches(keys))
    assert len(got) == len(keys)
    for (ec, el), (gc, gl) in zip(expected, got):
        assert np.array_equal(ec, gc) and np.array_equal(el, gl)


def test_bad_stream_settings_are_named():
    with pytest.raises(DataError, match="batch_size"):
        StreamSpec(batch_size=0)
    with pytest.raises(DataError, match="num_classes"):
        StreamSpec(batch_size=2, num_classes=99)
    with pytest.raises(DataError, match="workers"):
        SyntheticBatchStream(SPEC, workers=-1)


def test_class_weights_oversample_and_the_loss_is_logit_adjusted():
    import torch.nn.functional as F

    from stae_ros.training.stages import _ce

    uniform = [c for k in range(50) for c, _ in _batch_plan(dataclasses.replace(SPEC, batch_size=16), (k,))]
    heavy = dataclasses.replace(SPEC, batch_size=16, class_weights=(9.0,) + (1.0,) * (SPEC.num_classes - 1))
    weighted = [c for k in range(50) for c, _ in _batch_plan(heavy, (k,))]
    share = lambda labels: np.mean(np.array(labels) == 0)  # noqa: E731
    expected = 9.0 / (9.0 + SPEC.num_classes - 1)
    assert abs(share(weighted) - expected) < 0.06 and share(uniform) < 0.2
    with pytest.raises(DataError, match="class_weights"):
        dataclasses.replace(SPEC, class_weights=(1.0, -1.0))
    logits, labels = torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    bias = torch.log(torch.tensor([3.0, 1.0, 1.0]))
    assert torch.isclose(_ce(logits, labels, bias), F.cross_entropy(logits + bias, labels))
    assert torch.isclose(_ce(logits, labels, None), F.cross_entropy(logits, labels))


def test_training_on_a_stream_uses_fresh_clips(tmp_path):
    """A tiny run with data.stream trains on rendered batches and still evaluates on the stored test split."""
    from pathlib import Path

    from stae_ros.training import load_train_config, train
    from stae_ros.training.errors import TrainingError

    cfg = load_train_config(Path(__file__).resolve().parents[1] / "config" / "train_tiny.yaml")
    cfg.data.root = str(tmp_path / "synth")
    cfg.data.generate = dict(cfg.data.generate, workers=1)
    cfg.data.render_in_memory = True
    cfg.data.stream = True
    cfg.data.stream_workers = 1
    cfg.threads = 0
    with pytest.raises(TrainingError, match="max_steps_per_epoch"):
        train(cfg, tmp_path / "no_len", stages=["classifier"], progress=False)
    for st in cfg.stages.values():
        st.max_steps_per_epoch = 5  # the 24 stored clips make 3 batches of 8: a stream is not bound by them
    cfg.data.stream_class_weights = {"no_such_class": 2.0}
    with pytest.raises(TrainingError, match="no_such_class"):
        train(cfg, tmp_path / "bad_weights", stages=["classifier"], progress=False)
    cfg.data.stream_class_weights = {"rotate_cw": 3.0}  # weighted stream, logit-adjusted loss: still trains
    torch.manual_seed(0)
    result = train(cfg, tmp_path / "run", stages=["classifier"], progress=False)
    rows = [r for r in result.history if r["stage"] == "classifier"]
    assert [r["step"] for r in rows] == [5, 10]
    assert "acc_k8_p1" in rows[-1] and 0.0 <= rows[-1]["acc_k8_p1"] <= 1.0
