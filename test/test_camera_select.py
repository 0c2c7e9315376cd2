"""The camera's uint8 selection path (models/camera_select.py) against the model's tensor path."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch

from stae_ros.data.synthetic import render_clip
from stae_ros.models import STAE, ModelConfig, ShapeError, budget_pixels
from stae_ros.models.camera_select import select_uint8, spatial_maps_uint8, top_pixels_mask_np
from stae_ros.models.selection import clip_tensor, top_pixels_mask
from stae_ros.training.checkpoints import load_model
from test_models import TINY  # the tiny 8x32x32 configuration of the model tests

ROOT = Path(__file__).resolve().parents[1]

def tiny_model(**sa: object) -> STAE:
    d = copy.deepcopy(TINY)
    d["sa"].update(sa)
    torch.manual_seed(0)
    return STAE(ModelConfig.from_dict(d)).eval()


def random_clips(n: int, seed: int = 3) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (8, 32, 32, 3), dtype=np.uint8) for _ in range(n)]


def tensor_select(model: STAE, clip: np.ndarray, k: int, p: float) -> tuple[np.ndarray, np.ndarray]:
    sel = model.select(clip_tensor(clip), k, p)
    return sel.frame_indices[0].numpy(), sel.mask[0].numpy()


@pytest.mark.parametrize("sa", [{}, {"motion": False}, {"hidden": 4}])
@pytest.mark.parametrize("k,p", [(8, 0.05), (8, 0.25), (4, 0.1), (1, 0.5), (2, 1.0)])
def test_same_selection_as_the_tensor_path(sa, k, p):
    model = tiny_model(**sa)
    for clip in random_clips(3):
        idx, mask = select_uint8(model, clip, k, p)
        want_idx, want_mask = tensor_select(model, clip, k, p)
        np.testing.assert_array_equal(idx, want_idx)
        np.testing.assert_array_equal(mask, want_mask)
        assert idx.dtype == np.int64 and mask.dtype == np.bool_
        assert (mask.reshape(k, -1).sum(axis=1) == budget_pixels(p, 32, 32)).all()


def test_shipped_model_selects_as_the_tensor_path_on_rendered_clips():
    """The camera node's own model and budget (K=16, p=0.05), and a smaller K (FA gathers frames)."""
    loaded = load_model(ROOT / "models" / "stae_default.pt")
    c = loaded.config.clip
    for i in range(4):
        clip = render_clip(i * 3, 901 + i, c.frames, c.height, c.width).frames
        for k, p in ((16, 0.05), (4, 0.1)):
            idx, mask = select_uint8(loaded.model, clip, k, p)
            want_idx, want_mask = tensor_select(loaded.model, clip, k, p)
            np.testing.assert_array_equal(idx, want_idx)
            np.testing.assert_array_equal(mask, want_mask)


@pytest.mark.parametrize("every_frame", [True, False])
def test_maps_are_the_sa_descriptors_unscaled(every_frame):
    """Channel max, channel sum, and the same of |frame - previous frame|, as SA computes them in float."""
    clip = random_clips(1)[0]
    indices = np.arange(8) if every_frame else np.array([0, 3, 4, 7])
    maps = spatial_maps_uint8(clip, indices, motion=True)
    x = clip.astype(np.int64)
    prev = np.where(indices == 0, 1, indices - 1)
    diff = np.abs(x[indices] - x[prev])
    want = np.stack([x[indices].max(-1), x[indices].sum(-1), diff.max(-1), diff.sum(-1)])
    np.testing.assert_array_equal(maps, want.astype(np.float32))


def test_top_pixels_mask_np_matches_torch_with_ties_and_nan():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 4, (3, 5, 7)).astype(np.float32)  # many ties at every threshold
    scores[0, 0, :3] = np.nan
    scores[2] = 1.0  # one frame all tied: the earliest raster positions win
    for n in (1, 5, 12, 34, 35, 40):
        got = top_pixels_mask_np(scores, n)
        want = top_pixels_mask(torch.from_numpy(scores)[None], n)[0].numpy()
        np.testing.assert_array_equal(got, want)
        assert (got.reshape(3, -1).sum(axis=1) == min(n, 35)).all()
    assert top_pixels_mask_np(scores, 12)[2].reshape(-1)[:12].all()


def test_bad_clip_is_named():
    model = tiny_model()
    with pytest.raises(ShapeError, match="uint8 clip of shape"):
        select_uint8(model, np.zeros((8, 32, 32, 3), np.float32), 4, 0.1)
    with pytest.raises(ShapeError, match=r"\(8, 32, 32, 3\)"):
        select_uint8(model, np.zeros((8, 16, 32, 3), np.uint8), 4, 0.1)
