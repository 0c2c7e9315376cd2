"""A file that is not what it should be gets one line naming it and the cause, from every loader,
not torch's or PyYAML's paragraph."""

from __future__ import annotations

import pytest

from stae_ros.compressed.io import H264CdModelError, load_cd_model
from stae_ros.configio import ConfigError, load_yaml
from stae_ros.errtext import exc_line
from stae_ros.latent.errors import LatentError
from stae_ros.latent.io import load_latent_model
from stae_ros.local.errors import LocalModelError
from stae_ros.local.io import load_local_model
from stae_ros.roi.errors import RoiError
from stae_ros.roi.importance import NET_FORMAT
from stae_ros.roi.netfile import load_net_file
from stae_ros.roi.node_model import RoiModelError, load_roi_model
from stae_ros.training.checkpoints import load_checkpoint_dict
from stae_ros.training.errors import CheckpointError, TrainingError
from stae_ros.training.steps import load_run


def load_importance_net(path):
    return load_net_file(path, NET_FORMAT, "importance net")


def load_run_checkpoint(path):
    return load_run(path, "stae-latent")


LOADERS = [(load_checkpoint_dict, CheckpointError), (load_roi_model, RoiModelError),
           (load_latent_model, LatentError), (load_local_model, LocalModelError), (load_cd_model, H264CdModelError),
           (load_importance_net, RoiError), (load_run_checkpoint, TrainingError)]


@pytest.mark.parametrize("content", [b"garbage\n", bytes(range(256)) * 4, b"PK\x03\x04not a zip"],
                         ids=["text", "binary", "broken-zip"])
@pytest.mark.parametrize("load, error", LOADERS, ids=lambda v: getattr(v, "__name__", ""))
def test_a_file_that_is_not_a_model_is_one_line_naming_it(tmp_path, content, load, error):
    path = tmp_path / "junk.pt"
    path.write_bytes(content)
    with pytest.raises(error) as info:
        load(path)
    text = str(info.value)
    assert "\n" not in text and str(path) in text and len(text) < 500, text
    assert "Weights only load failed" not in text and "documentation of torch.load" not in text, text


@pytest.mark.parametrize("load, error", LOADERS, ids=lambda v: getattr(v, "__name__", ""))
def test_a_missing_file_is_one_line_naming_it(tmp_path, load, error):
    path = tmp_path / "absent.pt"
    with pytest.raises(error) as info:
        load(path)
    text = str(info.value)
    assert "\n" not in text and str(path) in text, text
    assert "not found" in text or "does not exist" in text, text


def test_bad_yaml_is_one_line_with_where(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("a: 1\nb: [1, 2\nc: 3\n")
    with pytest.raises(ConfigError) as info:
        load_yaml(path)
    text = str(info.value)
    assert "\n" not in text and str(path) in text and "line " in text and "column " in text, text


def test_exc_line_keeps_the_telling_line():
    torch_like = RuntimeError("Weights only load failed. In PyTorch 2.6, we changed...\nPlease file an issue with "
                              "the following so that we can make it work: WeightsUnpickler error: \n\n"
                              "Unsupported operand 103\n\nCheck the documentation of torch.load")
    assert exc_line(torch_like) == "RuntimeError: Unsupported operand 103"
    assert exc_line(ValueError("first\nsecond")) == "ValueError: first"
    assert exc_line(KeyError()) == "KeyError"
    assert len(exc_line(ValueError("x" * 2000))) <= 500
    # a heading that ends in a colon keeps its first finding (load_state_dict's report)
    state_dict = RuntimeError("Error(s) in loading state_dict for STAE:\n\tsize mismatch for fa.w: shape [1] vs [2].\n\t"
                              "Missing key(s): vit.head")
    assert exc_line(state_dict) == ("RuntimeError: Error(s) in loading state_dict for STAE: size mismatch for fa.w: "
                                    "shape [1] vs [2].")
