"""`stae train` trains every payload from a YAML config on a data set folder, resumably, and exports
a model file the camera and edge load: stae-px, stae-latent (distilled from the edge model),
stae-roi264 (the edge model adapted to decoded clips, or its own classifier), and local."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from stae_ros.cli import main as stae_main

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config"

pytestmark = pytest.mark.usefixtures("one_thread")


def _write_config(src: Path, dst: Path, data_root: Path, **changes) -> Path:
    """A copy of a tiny config with its data in ``data_root``, absolute paths, and ``changes`` merged."""
    raw = yaml.safe_load(src.read_text())
    raw["data"] = dict(raw["data"], root=str(data_root))
    if isinstance(raw.get("model"), dict) and "base" in raw["model"]:
        raw["model"]["base"] = str(ROOT / raw["model"]["base"])
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(raw.get(key), dict):
            raw[key] = {**raw[key], **value}
        else:
            raw[key] = value
    dst.write_text(yaml.safe_dump(raw))
    return dst


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("train_modes")


@pytest.fixture(scope="module")
def data_root(work) -> Path:
    """A tiny generated folder set (12 classes, 2 train + 1 test clip each, 8x32x32)."""
    from stae_ros.data.synthetic import generate_dataset

    root = work / "data"
    generate_dataset(root, seed=0, train_per_class=2, test_per_class=1, frames=8, height=32, width=32, progress=False)
    return root


@pytest.fixture(scope="module")
def plain_root(work, data_root) -> Path:
    """The same videos as a plain <class>/<video> folder: no split files, so the loader's seeded split applies."""
    import shutil

    root = work / "plain"
    for class_dir in sorted(p for p in data_root.iterdir() if p.is_dir() and p.name != "splits"):
        shutil.copytree(class_dir, root / class_dir.name)
    return root


@pytest.fixture(scope="module")
def teacher(work, data_root) -> Path:
    """stae-px trained through `stae train` (no mode key: the default): the edge model of the other tests."""
    cfg = _write_config(CONFIG / "train_tiny.yaml", work / "px.yaml", data_root)
    out = work / "px_run"
    assert stae_main(["train", "--config", str(cfg), "--out", str(out), "--no-progress"]) == 0
    return out / "model.pt"


def test_stae_px_is_the_default_mode_and_exports_a_checkpoint(teacher, work, data_root):
    from stae_ros.training import load_model

    loaded = load_model(teacher)
    assert loaded.config.clip.frames == 8 and len(loaded.class_names) == 12
    metrics = json.loads((teacher.parent / "metrics.json").read_text())
    assert [row["stage"] for row in metrics["history"]][-1] == "fr"
    # the same config with the mode spelled out trains the same way
    cfg = _write_config(CONFIG / "train_tiny.yaml", work / "px_named.yaml", data_root, mode="stae-px",
                        stages={"classifier": {"epochs": 1, "lr": 3.0e-3, "batch_size": 8}})
    out = work / "px_named"
    assert stae_main(["train", "--config", str(cfg), "--out", str(out), "--stages", "classifier", "--no-progress"]) == 0
    assert load_model(out / "model.pt").meta["stage"] == "classifier"


def test_latent_head_starts_from_the_edge_vit(teacher):
    from stae_ros.latent.model import LatentConfig, LatentModel
    from stae_ros.training import load_model

    vit = load_model(teacher).model.vit
    vc = vit.cfg
    cfg = LatentConfig(frames=8, height=32, width=32, num_classes=12, time_stride=2, head_kind="vit",
                       head_dim=vc.dim, head_depth=vc.depth, head_heads=vc.heads, head_mlp_ratio=vc.mlp_ratio)
    model = LatentModel(cfg)
    assert not torch.equal(model.head.blocks[0].attn.qkv.weight, vit.blocks[0].attn.qkv.weight)
    copied = model.head.init_from_vit(vit)
    assert "blocks.0" in copied and "head" in copied
    assert torch.equal(model.head.blocks[0].attn.qkv.weight, vit.blocks[0].attn.qkv.weight)
    assert torch.equal(model.head.head.weight, vit.head.weight[:, : vc.dim])


def test_stae_latent_distils_the_edge_model_and_exports_a_codec(teacher, work, data_root):
    from stae_ros.latent.io import load_latent_codec

    cfg = _write_config(CONFIG / "train_latent_tiny.yaml", work / "latent.yaml", data_root, teacher=str(teacher))
    out = work / "latent_run"
    assert stae_main(["train", "--config", str(cfg), "--out", str(out), "--no-progress"]) == 0
    codec = load_latent_codec(out / "model.pt")
    assert codec.cfg.head_kind == "vit" and codec.cfg.time_stride == 2
    clip = np.random.default_rng(0).integers(0, 255, (8, 32, 32, 3), dtype=np.uint8)
    payload = codec.encode(clip)
    assert codec.decode_classify(payload).shape == (1, 12)
    metrics = json.loads((out / "metrics.json").read_text())
    final = metrics["final"]
    assert final["bytes_mean"] > 5 and 0.0 <= final["accuracy"] <= 1.0
    assert final["teacher_acc"] is not None and final["distill"] > 0
    assert final["edge_gflop"] > 0 and final["camera_gflop"] > 0
    assert any("kl" in row for row in metrics["history"])


def test_stae_latent_resumes_from_last_checkpoint_on_a_plain_folder(work, plain_root):
    from stae_ros.latent.io import load_latent_codec
    from stae_ros.training.registry import run_mode

    cfg = _write_config(CONFIG / "train_latent_tiny.yaml", work / "latent_resume.yaml", plain_root,
                        data={"generate": None, "split": "seeded", "test_fraction": 0.34})
    out = work / "latent_resume"
    first = run_mode(cfg, out, progress=False, stop_after_steps=3)
    assert first.history[-1]["step"] == 3 and not (out / "model.pt").exists()
    assert stae_main(["train", "--config", str(cfg), "--out", str(out), "--resume", "--no-progress"]) == 0
    history = json.loads((out / "metrics.json").read_text())["history"]
    assert [row["step"] for row in history] == [3, 6]
    load_latent_codec(out / "model.pt")


def test_stae_roi264_adapts_the_edge_vit_and_exports_a_roi_model(teacher, work, data_root):
    from stae_ros.roi.classifier_file import EdgeViTClassifier
    from stae_ros.roi.node_model import load_roi_model

    cfg = _write_config(CONFIG / "train_roi264_tiny.yaml", work / "roi.yaml", data_root, teacher=str(teacher))
    out = work / "roi_run"
    export = work / "exported" / "roi.pt"
    assert stae_main(["train", "--config", str(cfg), "--out", str(out), "--export", str(export), "--no-progress"]) == 0
    model = load_roi_model(export)
    assert isinstance(model.classifier, EdgeViTClassifier) and model.shape == (8, 32, 32)
    clip = np.zeros((8, 32, 32, 3), np.uint8)
    clip[:, 8:24, 8:24] = 200
    decoded = model.codec().decode(model.codec().encode(clip, model.importance(clip)))
    with torch.no_grad():
        logits = model.classifier(torch.from_numpy(decoded).permute(3, 0, 1, 2)[None].float() / 255)
    assert logits.shape == (1, 12)
    final = json.loads((out / "metrics.json").read_text())["final"]
    assert final["bytes_mean"] > 0 and final["classifier"] == "edge ViT" and final["teacher_acc"] is not None


def test_stae_roi264_own_classifier_and_learned_map_resume(work, data_root):
    from stae_ros.roi.classifier import PixelClassifier
    from stae_ros.roi.node_model import load_roi_model
    from stae_ros.training.registry import run_mode

    cfg = _write_config(CONFIG / "train_roi264_tiny.yaml", work / "roi_own.yaml", data_root,
                        importance={"kind": "learned", "block": 8, "steps": 2, "batch": 2, "distill_steps": 1})
    out = work / "roi_own"
    run_mode(cfg, out, progress=False, stop_after_steps=2)  # the base phase's first checkpoint
    last = json.loads((out / "metrics.json").read_text())["history"][-1]
    assert (last["phase"], last["step"]) == ("base", 2) and not (out / "model.pt").exists()
    assert stae_main(["train", "--config", str(cfg), "--out", str(out), "--resume", "--no-progress"]) == 0
    history = json.loads((out / "metrics.json").read_text())["history"]
    assert [(r["phase"], r["step"]) for r in history] == [("base", 2), ("base", 4), ("finetune", 2), ("finetune", 4)]
    model = load_roi_model(out / "model.pt")
    assert isinstance(model.classifier, PixelClassifier) and model.importance_net is not None


def test_unknown_mode_is_one_line_naming_the_key_and_the_modes(work, data_root, caplog):
    from stae_ros.training.registry import MODES

    cfg = _write_config(CONFIG / "train_latent_tiny.yaml", work / "bad.yaml", data_root, mode="stae-pixels")
    with caplog.at_level(logging.ERROR):
        assert stae_main(["train", "--config", str(cfg), "--out", str(work / "bad"), "--no-progress"]) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "\n" not in errors[0]
    assert "'mode'" in errors[0] and "stae-pixels" in errors[0]
    assert all(mode in errors[0] for mode in MODES)


def test_px_only_options_are_refused_by_payload_modes(work, data_root, caplog):
    cfg = _write_config(CONFIG / "train_latent_tiny.yaml", work / "opts.yaml", data_root)
    with caplog.at_level(logging.ERROR):
        assert stae_main(["train", "--config", str(cfg), "--out", str(work / "opts"), "--stages", "fa"]) == 2
    assert any("--stages" in r.getMessage() for r in caplog.records)


def test_a_mode_whose_module_is_missing_names_it(monkeypatch):
    from stae_ros.training import registry
    from stae_ros.training.errors import TrainingError

    monkeypatch.setitem(registry.MODES, "nowhere", "stae_ros.no_such_module:train")
    with pytest.raises(TrainingError, match="stae_ros.no_such_module:train"):
        registry.resolve_mode("nowhere")


def test_local_mode_trains_through_stae_train(work, data_root):
    from stae_ros.training import registry
    from stae_ros.training.errors import TrainingError

    try:
        registry.resolve_mode("local")
    except TrainingError as exc:
        pytest.skip(f"local mode not available: {exc}")
    from stae_ros.local import load_local_model

    src = CONFIG / "train_local_synth.yaml"
    cfg = _write_config(src, work / "local.yaml", data_root, mode="local", clip={"frames": 8, "height": 32, "width": 32},
                        data={"generate": None, "cache": False, "render_in_memory": False, "stream": False},
                        model={"stem_channels": 4, "stage_channels": [4, 8], "stage_depths": [1, 1], "head_channels": 8},
                        train={"epochs": 2, "steps_per_epoch": 2, "batch_size": 4, "warmup_steps": 0},
                        budget={"preset": ""}, export="", threads=0, device="cpu")
    out = work / "local_run"
    assert registry.run_mode(cfg, out, progress=False, stop_after_steps=2).model_path is not None
    assert stae_main(["train", "--config", str(cfg), "--out", str(out), "--resume", "--no-progress"]) == 0
    assert len(json.loads((out / "metrics.json").read_text())["history"]) == 2
    load_local_model(out / "model.pt")


def _imports_of(path: Path, package: str) -> set[str]:
    """Every stae_ros or studies module a source file imports, at module level or inside functions."""
    import ast

    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{a.name}" for a in node.names)
    return {n for n in names if n.split(".")[0] in ("stae_ros", "studies")}


def test_training_modes_do_not_reach_the_payload_studies():
    """The product's training path (every mode of the registry, the model files it writes) never
    imports the study scripts that render their own synthetic set."""
    from stae_ros.training.registry import MODES

    seen: set[str] = set()
    todo = ["stae_ros.cli.train", "stae_ros.training.registry"] + [t.split(":")[0] for t in MODES.values()]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        rel = Path(*name.split("."))
        for path, package in ((ROOT / rel.with_suffix(".py"), name.rpartition(".")[0]), (ROOT / rel / "__init__.py", name)):
            if path.is_file():
                todo.extend(_imports_of(path, package) - seen)
    assert "stae_ros.training.latent" in seen and "stae_ros.roi.node_model" in seen
    studies = sorted(n for n in seen if n.split(".")[0] == "studies")
    assert not studies, studies


def test_payload_modes_cross_validate_over_a_fold_file(work, plain_root, capsys):
    """`stae train --fold all` on a payload config: one run per fold of folds.csv, pooled in cv.json."""
    rows = ["clip,class,fold"]
    for class_dir in sorted(p for p in plain_root.iterdir() if p.is_dir()):
        for i, video in enumerate(sorted(class_dir.iterdir())):
            rows.append(f"{class_dir.name}/{video.name},{class_dir.name},{i % 3}")
    (plain_root / "folds.csv").write_text("\n".join(rows) + "\n")
    cfg = _write_config(CONFIG / "train_latent_tiny.yaml", work / "latent_folds.yaml", plain_root,
                        data={"generate": None}, train={"steps": 2, "save_every": 2, "refit_prior_steps": 2})
    out = work / "latent_folds"
    assert stae_main(["train", "--config", str(cfg), "--out", str(out), "--fold", "all", "--no-progress"]) == 0
    cv = json.loads((out / "cv.json").read_text())
    assert sorted(cv["folds"]) == ["0", "1", "2"] and cv["pooled"]["test_clips"] == len(rows) - 1
    folds = cv["folds"].values()
    assert cv["pooled"]["accuracy"] == pytest.approx(
        sum(f["accuracy"] * f["test_clips"] for f in folds) / sum(f["test_clips"] for f in folds))
    assert all((out / f"fold{k}" / "model.pt").is_file() for k in range(3))
    assert "pooled over 36 test clips" in capsys.readouterr().out


def _edge_classifier_file(work: Path, data_root: Path) -> Path:
    """A small untrained edge classifier file (`mode: edge` format) for the tiny set's 8x32x32 clips."""
    from stae_ros.data.arrays import load_split_arrays
    from stae_ros.local import LocalClassifier, load_local_model, save_local_model

    names = [str(c) for c in load_split_arrays(data_root, "test", 8, (32, 32), cache=False).class_names]
    arch = {"stem_channels": 4, "stage_channels": [8], "stage_depths": [1], "head_channels": 8, "group_width": 64}
    torch.manual_seed(0)
    net = LocalClassifier(len(names), 8, 32, 32, **arch).eval()
    path = save_local_model(work / "edge_teacher.pt", net, names, (8, 32, 32, 3), arch, {"role": "edge"})
    assert load_local_model(path).class_names == names
    return path


def test_stae_latent_distils_an_edge_classifier_file(work, data_root):
    """The teacher may be an edge classifier file (`mode: edge`): the run reads its clip size, scores it
    on raw clips and distils it into a conv head (a CNN has no ViT blocks to start a vit head from)."""
    from stae_ros.latent.io import load_latent_codec

    path = _edge_classifier_file(work, data_root)
    raw = yaml.safe_load((CONFIG / "train_latent_tiny.yaml").read_text())
    model = {k: v for k, v in raw["model"].items() if not k.startswith("head_")}
    cfg = _write_config(CONFIG / "train_latent_tiny.yaml", work / "latent_edge.yaml", data_root, teacher=str(path))
    raw = yaml.safe_load(cfg.read_text())
    raw["model"] = model  # no head_kind: the teacher decides (conv)
    raw.pop("clip")  # the clip size comes from the teacher's file
    cfg.write_text(yaml.safe_dump(raw))
    out = work / "latent_edge_run"
    assert stae_main(["train", "--config", str(cfg), "--out", str(out), "--no-progress"]) == 0
    assert load_latent_codec(out / "model.pt").cfg.head_kind == "conv"
    final = json.loads((out / "metrics.json").read_text())["final"]
    assert final["distill"] > 0 and 0.0 <= final["teacher_acc"] <= 1.0


def test_stae_roi264_adapts_an_edge_classifier_file(work, data_root):
    """With an edge classifier file as teacher, stae-roi264 fine-tunes a copy of that CNN on decoded clips
    and stores it in the roi model file, which the edge loads back with the fine-tuned weights."""
    from stae_ros.local import LocalClassifier, load_local_model
    from stae_ros.roi.node_model import load_roi_model

    teacher = _edge_classifier_file(work, data_root)
    cfg = _write_config(CONFIG / "train_roi264_tiny.yaml", work / "roi_edge.yaml", data_root, teacher=str(teacher))
    out = work / "roi_edge_run"
    assert stae_main(["train", "--config", str(cfg), "--out", str(out), "--no-progress"]) == 0
    model = load_roi_model(out / "model.pt")
    assert isinstance(model.classifier, LocalClassifier) and model.shape == (8, 32, 32)
    before = load_local_model(teacher).model.state_dict()
    after = model.classifier.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before if before[k].is_floating_point())
    final = json.loads((out / "metrics.json").read_text())["final"]
    assert final["classifier"] == "edge CNN" and 0.0 <= final["teacher_acc"] <= 1.0 and final["bytes_mean"] > 0


def test_stae_px_edge_adapts_an_edge_classifier_to_the_recovered_clips(teacher, work, data_root):
    """mode stae-px-edge fine-tunes a copy of an edge classifier file on FR's output and writes an edge
    classifier file that names the STAE checkpoint it was adapted to; the stae-px mode then labels with
    it (the camera names it in every clip), and refuses it next to another checkpoint, or a file adapted
    to nothing."""
    from stae_ros.local import load_local_model, save_local_model
    from stae_ros.modes.base import ModeContext, model_identity
    from stae_ros.modes.stae_px import PxCamera, PxEdge
    from stae_ros.pipeline.errors import PipelineError
    from stae_ros.training import load_model

    edge_file = _edge_classifier_file(work, data_root)
    cfg = _write_config(CONFIG / "train_px_edge_tiny.yaml", work / "px_edge.yaml", data_root, teacher=str(edge_file),
                        px={"stae": str(teacher)})
    out = work / "px_edge_run"
    assert stae_main(["train", "--config", str(cfg), "--out", str(out), "--no-progress"]) == 0
    file = load_local_model(out / "model.pt")
    assert file.extra["adapted_to"]["mode"] == "stae-px"
    assert file.extra["adapted_to"]["stae_model"] == model_identity(teacher)
    before = load_local_model(edge_file).model.state_dict()
    after = file.model.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before if before[k].is_floating_point())
    final = json.loads((out / "metrics.json").read_text())["final"]
    assert set(final["budgets"]) == {"K8 p1", "K8 p0.25"} and final["score_budget"] == "K8 p0.25"
    assert final["budgets"]["K8 p0.25"]["bytes_mean"] < final["budgets"]["K8 p1"]["bytes_mean"]

    # resumable: a run stopped at its first checkpoint finishes from it
    from stae_ros.training.registry import run_mode

    out2 = work / "px_edge_resume"
    first = run_mode(cfg, out2, progress=False, stop_after_steps=2)
    assert first.history[-1]["step"] == 2 and not (out2 / "model.pt").exists()
    assert stae_main(["train", "--config", str(cfg), "--out", str(out2), "--resume", "--no-progress"]) == 0
    assert [row["step"] for row in json.loads((out2 / "metrics.json").read_text())["history"]] == [2, 4]
    resumed = load_local_model(out2 / "model.pt")
    assert resumed.extra["adapted_to"]["stae_model"] == model_identity(teacher)

    loaded = load_model(teacher)
    ctx = ModeContext(loaded=loaded, model_files={"stae-px": str(out / "model.pt")})
    camera, edge = PxCamera(ctx), PxEdge(ctx)
    assert camera.model_id == edge.model_id == file.model_id
    camera.apply(camera.validate(8, 0.25, {}))
    rng = np.random.default_rng(0)
    clip = rng.integers(0, 255, (8, 32, 32, 3), dtype=np.uint8)
    item = edge.decode(camera.encode(clip).payload)
    logits = edge.classify([item]).logits
    with torch.no_grad():
        rec = edge.recover([item]).clamp(0, 1).mul(255).round().div(255)
        assert torch.allclose(logits, file.model(rec), atol=1e-5)
        assert not torch.allclose(logits, loaded.model.classify(edge.recover([item])), atol=1e-3)

    # another checkpoint (the same architecture, other weights), and a file adapted to nothing
    other = work / "other_stae.pt"
    blob = torch.load(teacher, map_location="cpu", weights_only=False)
    blob["state_dict"] = {k: (v + 0.01 if v.is_floating_point() else v) for k, v in blob["state_dict"].items()}
    torch.save(blob, other)
    with pytest.raises(PipelineError, match="adapted to stae-px on .*this host's STAE checkpoint is other_stae.pt"):
        PxEdge(ModeContext(loaded=load_model(other), model_files={"stae-px": str(out / "model.pt")}))
    raw = save_local_model(work / "raw_edge.pt", file.model, file.class_names, file.shape, file.arch, {"role": "edge"})
    with pytest.raises(PipelineError, match="adapted to raw clips"):
        PxCamera(ModeContext(loaded=loaded, model_files={"stae-px": str(raw)}))


@pytest.mark.parametrize("changes, words", [
    ({"px": {"stae": "runs/x/fold{fold}/model.pt"}}, ["px.stae", "--fold"]),
    ({"px": {"stae": "STAE", "budgets": [[8, 1.5]]}}, ["px budget", "1.5"]),
    ({"px": {"stae": "STAE", "value_bits": 9}}, ["px.value_bits", "9"]),
    ({"teacher": ""}, ["init (or teacher)", "edge classifier file"]),
])
def test_stae_px_edge_refuses_a_bad_config_in_one_line(teacher, work, data_root, caplog, changes, words):
    edge_file = _edge_classifier_file(work, data_root)
    px = dict(changes.get("px", {"stae": "STAE"}))
    px["stae"] = str(teacher) if px["stae"] == "STAE" else px["stae"]
    cfg = _write_config(CONFIG / "train_px_edge_tiny.yaml", work / "px_edge_bad.yaml", data_root,
                        teacher=changes.get("teacher", str(edge_file)), px=px)
    with caplog.at_level(logging.ERROR):
        assert stae_main(["train", "--config", str(cfg), "--out", str(work / "px_edge_bad"), "--no-progress"]) != 0
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "\n" not in errors[0] and all(w in errors[0] for w in words), errors


def test_fold_pooling_weights_each_fold_by_its_test_clips():
    """cv.json's pooled figures are over every tested clip, the edge model's reference on the same stream
    included; a figure that one fold lacks is not pooled."""
    from stae_ros.training.payload_folds import pool_payload_folds

    pooled = pool_payload_folds({0: {"accuracy": 0.5, "edge_model_acc": 1.0, "bytes_mean": 100.0, "test_clips": 10},
                                 1: {"accuracy": 1.0, "edge_model_acc": 0.5, "bytes_mean": 400.0, "test_clips": 30}})
    assert pooled["accuracy"] == pytest.approx(35 / 40) and pooled["edge_model_acc"] == pytest.approx(25 / 40)
    assert pooled["bytes_mean"] == pytest.approx(325.0) and pooled["test_clips"] == 40 and "teacher_acc" not in pooled
    assert "member_accuracy" not in pooled
    members = pool_payload_folds({0: {"accuracy": 0.5, "member_accuracy": [0.4, 0.6], "test_clips": 10},
                                  1: {"accuracy": 1.0, "member_accuracy": [1.0, 0.8], "test_clips": 30}})
    assert members["member_accuracy"] == pytest.approx([34 / 40, 30 / 40])
