"""The local classifier: its network, its model file, and a few training steps on a tiny rendered set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from stae_ros.local import (LocalClassifier, LocalModelError, load_local_config, load_local_model, save_local_model,
                            train_local)
from stae_ros.local.errors import LocalInputError
from stae_ros.local.train import LocalTrainError

_TINY_ARCH = {"stem_channels": 4, "stage_channels": [8, 8], "stage_depths": [1, 1], "head_channels": 16,
              "expansion": 2.0, "dropout": 0.1}
_CLASSES = [f"c{i}" for i in range(3)]


def _tiny_model() -> LocalClassifier:
    torch.manual_seed(0)
    return LocalClassifier(3, 4, 16, 16, **_TINY_ARCH)


def test_forward_shape_and_bad_input(one_thread):
    model = _tiny_model().eval()
    assert model(torch.rand(2, 3, 4, 16, 16)).shape == (2, 3)
    assert model(torch.rand(1, 3, 8, 24, 20)).shape == (1, 3)  # global pooling: any clip size
    with pytest.raises(LocalInputError, match="N,3,T,H,W"):
        model(torch.rand(2, 4, 16, 16))
    with pytest.raises(LocalInputError, match="N,3,T,H,W"):
        model(torch.randint(0, 255, (1, 3, 4, 16, 16), dtype=torch.uint8))
    with pytest.raises(ValueError, match="stage_channels"):
        LocalClassifier(3, 4, 16, 16, stage_channels=[8], stage_depths=[1, 1])


def test_motion_input_sees_frame_order(one_thread):
    # the frame-difference channels make a reversed clip a different input (a frames-only net with
    # global pooling over time could not tell some reversed pairs apart)
    model = _tiny_model().eval()
    x = torch.rand(1, 3, 4, 16, 16)
    assert not torch.allclose(model(x), model(x.flip(2)))


def test_model_file_round_trip(tmp_path, one_thread):
    model = _tiny_model().eval()
    path = save_local_model(tmp_path / "m.pt", model, _CLASSES, (4, 16, 16, 3), model.arch.to_dict(), {"note": "t"})
    loaded = load_local_model(path)
    x = torch.rand(2, 3, 4, 16, 16)
    assert torch.equal(loaded.model(x), model(x))
    assert not loaded.model.training
    assert loaded.class_names == _CLASSES and loaded.shape == (4, 16, 16, 3)
    assert loaded.arch == model.arch.to_dict() and loaded.extra == {"note": "t"}
    name, digest = loaded.model_id.split(":")
    assert name == "m.pt" and len(digest) == 12
    # another model's file gets another id
    other = save_local_model(tmp_path / "m2.pt", LocalClassifier(3, 4, 16, 16, **_TINY_ARCH), _CLASSES, (4, 16, 16, 3), _TINY_ARCH)
    assert load_local_model(other).model_id.split(":")[1] != digest


def _blob(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def test_bad_files_are_refused_naming_file_and_field(tmp_path):
    model = _tiny_model()
    good = save_local_model(tmp_path / "good.pt", model, _CLASSES, (4, 16, 16, 3), model.arch.to_dict())
    data = good.read_bytes()

    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(LocalModelError, match="truncated.pt"):
        load_local_model(truncated)
    with pytest.raises(LocalModelError, match="local model file not found: .*missing.pt"):
        load_local_model(tmp_path / "missing.pt")

    def variant(name: str, **change) -> Path:
        blob = _blob(good)
        for key, value in change.items():
            if value is None:
                blob.pop(key)
            else:
                blob[key] = value
        torch.save(blob, tmp_path / name)
        return tmp_path / name

    cases = {
        "format": variant("fmt.pt", format="stae-latent-model/1"),
        "class_names": variant("names.pt", class_names=["a", "a", "b"]),
        "shape": variant("shape.pt", shape=[4, 16, 16]),
        "arch": variant("arch.pt", arch={**model.arch.to_dict(), "bogus": 1}),
        "state_dict": variant("state.pt", arch={**model.arch.to_dict(), "head_channels": 32}),
    }
    for field, path in cases.items():
        with pytest.raises(LocalModelError, match=rf"{path.name}: field '{field}'"):
            load_local_model(path)
    with pytest.raises(LocalModelError, match="field 'state_dict' is missing"):
        load_local_model(variant("nostate.pt", state_dict=None))
    torch.save([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(LocalModelError, match="list.pt: field 'format'"):
        load_local_model(tmp_path / "list.pt")


def _config(tmp_path: Path, **over) -> dict:
    cfg = {
        "name": "tiny", "mode": "local", "seed": 0, "clip": {"frames": 4, "height": 16, "width": 16},
        "model": dict(_TINY_ARCH),
        "data": {"root": str(tmp_path / "unused"), "render_in_memory": True,
                 "generate": {"seed": 0, "train_per_class": 2, "test_per_class": 1, "frames": 4, "height": 16, "width": 16}},
        "train": {"epochs": 2, "steps_per_epoch": 2, "batch_size": 4, "lr": 1e-3, "warmup_steps": 1},
        "augment": {"shift": 1, "brightness": 0.05, "scale": 0.2, "time_shift": 1, "noise": 0.01},
        "budget": {"preset": "pi4-1core"}, "device": "cpu", "threads": 1,
    }
    cfg.update(over)
    return cfg


def test_a_few_steps_train_save_and_resume(tmp_path, one_thread):
    out = tmp_path / "run"
    first = train_local(_config(tmp_path), out, progress=False, stop_after_steps=1)
    assert (out / "last.pt").is_file() and len(first.history) == 1
    result = train_local(_config(tmp_path), out, resume=True, progress=False)
    assert [row["epoch"] for row in result.history] == [0, 1]
    assert result.history[0] == first.history[0]
    assert result.history[1]["step"] == 1 + 2  # one step before the stop, two in the resumed epoch
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["final"]["gflop_per_clip"] > 0 and metrics["budget"]["fits"] is True
    assert 0.0 <= metrics["final"]["test_acc"] <= 1.0 and metrics["final"]["ms_per_clip_1thread"] > 0
    loaded = load_local_model(result.model_path)
    assert len(loaded.class_names) == 12 and loaded.shape == (4, 16, 16, 3)
    assert loaded.model_id == metrics["final"]["model_id"]
    assert loaded.model(torch.rand(1, 3, 4, 16, 16)).shape == (1, 12)


def test_config_errors_and_budget_refusal(tmp_path):
    with pytest.raises(Exception, match="bogus"):
        load_local_config(_config(tmp_path, bogus=1))
    with pytest.raises(LocalTrainError, match="mode"):
        load_local_config(_config(tmp_path, mode="stae-px"))
    budgets = tmp_path / "budgets.yaml"
    budgets.write_text(yaml.safe_dump({"schema": "stae-camera-budgets/1", "default": "tiny", "presets": {"tiny": {
        "device": "x", "rate_gflops": 0.001, "period_s": 0.5, "utilisation": 0.2, "budget_gflop_per_clip": 0.0001,
        "sources": [{"title": "t", "url": "u", "figure": "f"}]}}}))
    cfg = _config(tmp_path, budget={"preset": "tiny", "file": str(budgets)})
    with pytest.raises(LocalTrainError, match="over the tiny budget"):
        train_local(cfg, tmp_path / "refused", progress=False)
    assert not (tmp_path / "refused" / "model.pt").exists()


def test_crossval_tests_every_clip_once_and_pools(tmp_path, one_thread):
    from stae_ros.local import crossval_local

    root = _fold_folder(tmp_path / "folder")
    cfg = _config(tmp_path, data={"root": str(root), "cache": False, "split": "folds", "short_clip": "loop"},
                  train={"epochs": 1, "steps_per_epoch": 1, "batch_size": 4, "warmup_steps": 0})
    summary = crossval_local(cfg, tmp_path / "cv", progress=False)
    assert sorted(summary["folds"]) == ["0", "1"]
    assert summary["test_clips"] == 12 and all(f["test_clips"] == 6 for f in summary["folds"].values())
    pooled = sum(f["test_acc"] * 6 for f in summary["folds"].values()) / 12
    assert summary["pooled"]["test_acc"] == pytest.approx(pooled)
    assert json.loads((tmp_path / "cv" / "cv.json").read_text()) == summary
    assert load_local_model(tmp_path / "cv" / "fold1" / "model.pt").class_names == ["bend", "jack", "wave"]
    with pytest.raises(LocalTrainError, match=r"fold\(s\) \[5\]"):
        crossval_local(cfg, tmp_path / "cv", folds=[5], progress=False)


def test_group_width_makes_dense_blocks_and_old_files_load(tmp_path, one_thread):
    from stae_ros.profiling.flops import clip_flops

    dense = LocalClassifier(3, 4, 16, 16, **_TINY_ARCH, group_width=64)
    grouped = LocalClassifier(3, 4, 16, 16, **_TINY_ARCH, group_width=4)
    depthwise = _tiny_model()
    convs = [b.depthwise[0] for b in dense.blocks]
    assert all(c.groups == 1 for c in convs)
    assert [b.depthwise[0].groups for b in grouped.blocks] == [c.in_channels // 4 for c in convs]
    assert all(b.depthwise[0].groups == b.depthwise[0].in_channels for b in depthwise.blocks)
    # a dense 3x3x3 conv costs `width` times its depthwise form: the difference of the two counts
    extra = sum(2 * c.in_channels * 27 * (c.in_channels - 1) * 4 * (16 // 2 ** (i + 2)) ** 2
                for i, c in enumerate(convs))
    assert clip_flops(dense, 4, 16, 16).total - clip_flops(depthwise, 4, 16, 16).total == extra
    with pytest.raises(ValueError, match="group_width"):
        LocalClassifier(3, 4, 16, 16, **_TINY_ARCH, group_width=0)
    # a file written before the option existed (no group_width in its arch) loads as depthwise
    path = save_local_model(tmp_path / "old.pt", depthwise, _CLASSES, (4, 16, 16, 3), dict(_TINY_ARCH))
    assert load_local_model(path).model.arch.group_width == 1


def _fold_folder(root: Path) -> Path:
    import numpy as np

    from stae_ros.data import write_video

    rows = []
    for ci, c in enumerate(["bend", "jack", "wave"]):
        for k in range(4):
            frames = np.stack([np.full((16, 16, 3), 40 * ci + 5 * k + t, np.uint8) for t in range(6)])
            write_video(root / c / f"{c}_{k}.avi", frames)
            rows.append(f"{c}/{c}_{k}.avi,{c},{k % 2}")
    (root / "folds.csv").write_text("clip,class,fold\n" + "\n".join(rows) + "\n")
    return root


def test_edge_mode_cross_validates_through_stae_train_and_inits_from_a_model(tmp_path, one_thread):
    """`mode: edge`: the same network family without a camera budget, `stae train --fold all` pools the
    folds, and `init` copies every tensor whose shape matches (a head of another class count stays fresh)."""
    from stae_ros.cli import main as stae_main

    root = _fold_folder(tmp_path / "folder")
    budgets = tmp_path / "budgets.yaml"
    budgets.write_text(yaml.safe_dump({"schema": "stae-camera-budgets/1", "default": "tiny", "presets": {"tiny": {
        "device": "x", "rate_gflops": 0.001, "period_s": 0.5, "utilisation": 0.2, "budget_gflop_per_clip": 0.0001,
        "sources": [{"title": "t", "url": "u", "figure": "f"}]}}}))
    cfg = _config(tmp_path, mode="edge", model=dict(_TINY_ARCH, group_width=64),
                  data={"root": str(root), "cache": False, "split": "folds", "short_clip": "pad"},
                  train={"epochs": 1, "steps_per_epoch": 1, "batch_size": 4, "warmup_steps": 0})
    del cfg["budget"]
    assert load_local_config(cfg).budget_preset == "" and load_local_config(cfg).role == "edge"
    path = tmp_path / "edge.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "cv"
    assert stae_main(["train", "--config", str(path), "--out", str(out), "--fold", "all", "--no-progress"]) == 0
    cv = json.loads((out / "cv.json").read_text())
    assert cv["mode"] == "edge" and sorted(cv["folds"]) == ["0", "1"] and cv["pooled"]["test_clips"] == 12
    assert cv["pooled"]["accuracy"] == pytest.approx(sum(f["accuracy"] * 6 for f in cv["folds"].values()) / 12)
    fold1 = load_local_model(out / "fold1" / "model.pt")
    assert fold1.extra["role"] == "edge" and fold1.model.arch.group_width == 64 and fold1.extra["budget"] == {}
    # the same config with a camera budget that it does not fit is refused as a local model
    with pytest.raises(LocalTrainError, match="over the tiny budget"):
        train_local(dict(cfg, mode="local", budget={"preset": "tiny", "file": str(budgets)}), tmp_path / "no",
                    progress=False)
    # init from fold 1's 3-class model into the 12-class synthetic set: every tensor but the head is copied
    two = _config(tmp_path, mode="edge", model=dict(_TINY_ARCH, group_width=64), init=str(out / "fold1" / "model.pt"),
                  train={"epochs": 1, "steps_per_epoch": 1, "batch_size": 4, "warmup_steps": 0, "lr": 1e-9})
    del two["budget"]
    two["data"]["generate"] = dict(two["data"]["generate"], seed=1)
    result = train_local(two, tmp_path / "init", progress=False, stop_after_steps=1)
    info = json.loads((tmp_path / "init" / "metrics.json").read_text())["init"]
    assert info["skipped"] == 2 and info["copied"] == len(fold1.model.state_dict()) - 2  # fc.weight, fc.bias
    assert result.history
    with pytest.raises(LocalTrainError, match="option 'stages'"):
        train_local(two, tmp_path / "bad", progress=False, overrides={"stages": "fr"})


def test_h264_mode_runs_an_edge_classifier_file(tmp_path, one_thread):
    """An edge model file (`mode: edge`) configured as the h264 mode's model: the camera names it, the edge
    labels the decoded clip with it; a file made for another clip size is refused naming it."""
    import numpy as np

    from stae_ros.data.synthetic import render_clip
    from stae_ros.pipeline import CameraPipeline, EdgePipeline, PipelineError
    from stae_ros.training.checkpoints import load_model

    loaded = load_model(Path(__file__).resolve().parents[1] / "models" / "stae_default.pt")
    c = loaded.config.clip
    arch = dict(_TINY_ARCH, group_width=64, dropout=0.0)
    torch.manual_seed(0)
    model = LocalClassifier(len(loaded.class_names), c.frames, c.height, c.width, **arch).eval()
    path = save_local_model(tmp_path / "edge.pt", model, list(loaded.class_names), (c.frames, c.height, c.width, 3),
                            arch, {"role": "edge"})
    before = torch.get_num_threads()
    cam = CameraPipeline(loaded, codec="h264", model_files={"h264": str(path)})
    torch.set_num_threads(before)
    clip = render_clip(3, 77, c.frames, c.height, c.width).frames
    enc = cam.encode(clip)
    file_id = load_local_model(path).model_id
    assert enc.model_id == file_id
    edge = EdgePipeline(loaded, device="cpu", keep_recovered=True, codec_models={"h264": str(path)})
    (r,) = edge.decode_classify([(enc.payload, "h264", enc.model_id)])
    assert r.ok, r.error
    x = torch.from_numpy(np.stack([r.recovered])).permute(0, 4, 1, 2, 3).float().div(255.0)
    assert r.class_id == int(model(x).argmax(1)) and r.model_id == file_id
    # the STAE checkpoint's ViT (no h264 model file) is another model: its clips are refused here
    plain = CameraPipeline(loaded, codec="h264")
    torch.set_num_threads(before)
    (bad,) = edge.decode_classify([(plain.encode(clip).payload, "h264", plain.model_id)])
    assert not bad.ok and "ModelMismatchError" in bad.error
    small = save_local_model(tmp_path / "small.pt", model, list(loaded.class_names), (c.frames, 32, 32, 3), arch)
    with pytest.raises(PipelineError, match="small.pt"):
        EdgePipeline(loaded, device="cpu", codec_models={"h264": str(small)}).mode("h264")


def test_flip_average_is_mirror_invariant_in_eval_and_counts_twice(one_thread):
    from stae_ros.profiling.flops import clip_flops

    torch.manual_seed(0)
    model = LocalClassifier(3, 4, 16, 16, **_TINY_ARCH, flip_average=True).eval()
    x = torch.rand(2, 3, 4, 16, 16)
    assert torch.allclose(model(x), model(x.flip(-1)), atol=1e-6)
    plain = LocalClassifier(3, 4, 16, 16, **_TINY_ARCH)
    plain.load_state_dict(model.state_dict())
    plain.eval()
    assert not torch.allclose(plain(x), plain(x.flip(-1)), atol=1e-6)
    assert torch.allclose(model(x), 0.5 * (plain(x) + plain(x.flip(-1))), atol=1e-6)
    assert clip_flops(model, 4, 16, 16).total == 2 * clip_flops(plain, 4, 16, 16).total  # the head runs per view too
    model.train()  # training sees single views (the flip is an augmentation there)
    assert model(x).shape == (2, 3)


def test_ensemble_file_answers_the_members_mean_probability_and_refuses_a_bad_member(tmp_path, one_thread):
    """An ensemble file holds every member; it loads as one module whose answer is the log of the
    members' mean class probabilities, and a member that does not fit the arch is named."""
    from stae_ros.local import LocalEnsemble

    torch.manual_seed(0)
    members = [LocalClassifier(3, 4, 16, 16, **_TINY_ARCH).eval() for _ in range(3)]
    ens = LocalEnsemble(members).eval()
    x = torch.rand(2, 3, 4, 16, 16)
    with torch.no_grad():
        want = torch.stack([torch.softmax(m(x), 1) for m in members]).mean(0).log()
        assert torch.allclose(ens(x), want, atol=1e-6)
        # the head-refit interface starts as the mean of the members' logits
        mean_logits = torch.stack([m(x) for m in members]).mean(0)
        assert torch.allclose(ens.fc(ens.dropout(ens.features(x))), mean_logits, atol=1e-5)
    path = save_local_model(tmp_path / "ens.pt", ens, _CLASSES, (4, 16, 16, 3), dict(_TINY_ARCH))
    loaded = load_local_model(path)
    assert isinstance(loaded.model, LocalEnsemble) and len(loaded.model.members) == 3
    with torch.no_grad():
        assert torch.allclose(loaded.model(x), want, atol=1e-6)
    blob = torch.load(path, weights_only=True)
    blob["members"][1] = {k: v for k, v in blob["members"][1].items() if not k.startswith("fc.")}
    torch.save(blob, tmp_path / "bad_member.pt")
    with pytest.raises(LocalModelError, match=r"bad_member.pt: field 'members\[1\]' does not match"):
        load_local_model(tmp_path / "bad_member.pt")
    with pytest.raises(ValueError, match="at least 2 members"):
        LocalEnsemble(members[:1])


def test_ensemble_config_trains_each_seed_and_reads_finished_members_back(tmp_path, one_thread):
    """`ensemble: 2`: members from seeds 0 and 1 in member0/1, one ensemble file; run again, a member
    finished with the same recipe is read back (its file untouched), and a member of another recipe is
    trained again."""
    from stae_ros.local import LocalEnsemble

    cfg = _config(tmp_path, ensemble=2, train={"epochs": 1, "steps_per_epoch": 1, "batch_size": 4, "warmup_steps": 0})
    out = tmp_path / "ens"
    result = train_local(cfg, out, progress=False)
    seeds = [json.loads((out / f"member{i}" / "metrics.json").read_text())["config"]["seed"] for i in range(2)]
    assert seeds == [0, 1]
    loaded = load_local_model(result.model_path)
    assert isinstance(loaded.model, LocalEnsemble) and loaded.extra["members"] == 2
    final = json.loads((out / "metrics.json").read_text())["final"]
    one = json.loads((out / "member0" / "metrics.json").read_text())["final"]["gflop_per_clip"]
    assert final["gflop_per_clip"] == pytest.approx(2 * one) and len(final["member_acc"]) == 2
    assert 0.0 <= final["accuracy"] <= 1.0 and final["test_clips"] == 12
    before = (out / "member0" / "model.pt").stat().st_mtime_ns
    train_local(cfg, out, progress=False)
    assert (out / "member0" / "model.pt").stat().st_mtime_ns == before
    changed = dict(cfg, train={"epochs": 1, "steps_per_epoch": 1, "batch_size": 4, "warmup_steps": 0, "lr": 5e-4})
    train_local(changed, out, progress=False)
    assert (out / "member0" / "model.pt").stat().st_mtime_ns != before
    with pytest.raises(LocalTrainError, match="ensemble must be >= 1"):
        load_local_config(dict(cfg, ensemble=0))


def test_an_edge_ensemble_goes_into_a_roi_model_record_and_back(one_thread):
    """stae-roi264 stores the edge model it fine-tuned; an ensemble is stored member by member."""
    from stae_ros.local import LocalEnsemble
    from stae_ros.roi.classifier_file import classifier_from_record, classifier_record, record_shape

    torch.manual_seed(0)
    ens = LocalEnsemble([LocalClassifier(3, 4, 16, 16, **_TINY_ARCH).eval() for _ in range(2)]).eval()
    record = classifier_record(ens)
    assert record["kind"] == "edge-classifier" and len(record["members"]) == 2
    assert record_shape(record) == ((4, 16, 16), 3)
    back = classifier_from_record(record)
    x = torch.rand(1, 3, 4, 16, 16)
    with torch.no_grad():
        assert isinstance(back, LocalEnsemble) and torch.allclose(back(x), ens(x), atol=1e-6)
    # a damaged member is named, and a record with one member is not an ensemble
    bad = dict(record, members=[record["members"][0], {k: (v[..., :1] if v.dim() else v) for k, v in record["members"][1].items()}])
    with pytest.raises(RuntimeError, match=r"members\[1\]"):
        classifier_from_record(bad)
    with pytest.raises(ValueError, match=">= 2"):
        classifier_from_record(dict(record, members=record["members"][:1]))
