"""The parts of a payload training config (``mode: stae-latent | stae-roi264``) that every mode shares.

Why a shared part: every payload must train on the user's own data through the *same* data
loading as the stae-px schedule (``data:`` is a `DataConfig`, read by `loop.prepare_data`), with
the same augmentation, device and export keys; a mode adds only its own sections (``model``,
``train``, ``roi`` ...), which it parses itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stae_ros.configio import ConfigError, check_keys, check_output_file, load_yaml

from .config import AugmentConfig, DataConfig, TrainConfig, _dataclass_from, top_value
from .errors import TrainConfigError

__all__ = ["COMMON_KEYS", "PayloadConfig", "load_payload_config", "apply_overrides", "section", "clip_shape", "start_run",
           "export_copy"]

#: top-level keys every payload mode accepts
COMMON_KEYS = ("mode", "name", "seed", "data", "augment", "device", "threads", "export", "teacher", "init", "clip")


@dataclass
class PayloadConfig:
    """A payload mode's config: the shared keys typed, the mode's own sections as raw mappings."""

    mode: str
    name: str
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    device: str = "auto"
    threads: int = 0
    export: str = ""  #: copy the exported model file here
    teacher: str = ""  #: a stae-ckpt/1 file whose ViT is the edge model (distillation teacher / classifier start); with --fold, '{fold}' is the fold number
    init: str = ""  #: start from this file's weights (mode-specific format)
    clip: dict[str, int] = field(default_factory=dict)  #: frames, height, width (default: the teacher's, else 16x64x64)
    sections: dict[str, Any] = field(default_factory=dict)  #: the mode's own top-level sections
    source: str = ""

    def data_config(self) -> TrainConfig:
        """A `TrainConfig` carrying only what `loop.prepare_data` reads (data, seed), so the payload
        modes load clips exactly as the stae-px schedule does."""
        return TrainConfig(name=self.name, seed=self.seed, data=self.data, augment=self.augment, device=self.device,
                           threads=self.threads, source=self.source)

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def load_payload_config(path: str | Path, mode: str, own_keys: tuple[str, ...]) -> PayloadConfig:
    """Parse the shared keys of a payload config; ``own_keys`` are the mode's extra top-level sections."""
    path = Path(path)
    raw = load_yaml(path, allowed=COMMON_KEYS + tuple(own_keys))
    clip = raw.get("clip") or {}
    if not isinstance(clip, dict):
        raise ConfigError(f"{path}: 'clip' must be a mapping of frames, height, width")
    check_keys(clip, ("frames", "height", "width", "channels"), where=f"{path}: clip")
    cfg = PayloadConfig(
        mode=mode,
        name=top_value(raw, "name", str, path.stem, path),
        seed=top_value(raw, "seed", int, 0, path),
        data=_dataclass_from(DataConfig, raw.get("data"), f"{path}: data"),
        augment=_dataclass_from(AugmentConfig, raw.get("augment"), f"{path}: augment"),
        device=top_value(raw, "device", str, "auto", path),
        threads=top_value(raw, "threads", int, 0, path),
        export=str(raw.get("export", "") or ""),
        teacher=str(raw.get("teacher", "") or ""),
        init=str(raw.get("init", "") or ""),
        clip={k: int(v) for k, v in clip.items() if k != "channels"},
        sections={k: raw[k] for k in own_keys if k in raw},
        source=str(path),
    )
    if cfg.device not in ("auto", "cpu", "cuda") and not cfg.device.startswith("cuda:"):
        raise TrainConfigError(f"{path}: device must be auto, cpu or cuda, got {cfg.device!r}")
    if hasattr(cfg.data, "split_spec"):
        cfg.data.split_spec()  # the split keys fail now, not after the model is built
    return cfg


#: command-line overrides a payload mode takes (the rest are stae-px's); test_fold comes from --fold
PAYLOAD_OVERRIDES = ("device", "export", "threads", "init", "test_fold")


def apply_overrides(cfg: PayloadConfig, overrides: dict[str, Any] | None) -> None:
    """Set the command line's ``--device/--export/--threads/--init`` on ``cfg`` (and ``test_fold``:
    test that fold of the data's fold CSV, no export); others are an error."""
    given = {k: v for k, v in (overrides or {}).items() if v is not None and v not in ("", [], ())}
    unknown = sorted(set(given) - set(PAYLOAD_OVERRIDES))
    if unknown:
        raise TrainConfigError(f"mode {cfg.mode!r} has no option(s) {', '.join('--' + k.replace('_', '-') for k in unknown)} "
                               f"(stae-px only)")
    for key, value in given.items():
        if key == "test_fold":  # '{fold}' in teacher/init names each fold's own edge model
            cfg.data.split, cfg.data.test_fold, cfg.export = "folds", int(value), ""
            cfg.teacher, cfg.init = (p.replace("{fold}", str(int(value))) for p in (cfg.teacher, cfg.init))
        else:
            setattr(cfg, key, int(value) if key == "threads" else str(value))
    if cfg.export:
        check_output_file(cfg.export, "export")


def section(cfg: PayloadConfig, name: str, cls: type, renames: dict[str, str] | None = None) -> Any:
    """The mode section ``name`` as dataclass ``cls`` (unknown keys are a one-line ConfigError).

    ``renames`` maps YAML keys to field names (``lambda`` is a Python keyword)."""
    raw = dict(cfg.sections.get(name) or {})
    if not isinstance(raw, dict):
        raise ConfigError(f"{cfg.source}: '{name}' must be a mapping")
    for yaml_key, attr in (renames or {}).items():
        if yaml_key in raw:
            raw[attr] = raw.pop(yaml_key)
    return _dataclass_from(cls, raw, f"{cfg.source}: {name}")


def clip_shape(cfg: PayloadConfig, checkpoint: str = "") -> tuple[int, int, int]:
    """frames, height, width: the config's ``clip:``, else that of ``checkpoint`` (the model the run
    starts from or distils), else 16x64x64."""
    if cfg.clip:
        c = cfg.clip
    elif checkpoint:
        from .checkpoints import load_checkpoint_dict
        from .teacher import is_classifier_file

        if is_classifier_file(checkpoint):  # an edge classifier file records (T, H, W, C) itself
            from stae_ros.local import load_local_model

            t, h, w, _ = load_local_model(checkpoint).shape
            return int(t), int(h), int(w)
        c = load_checkpoint_dict(checkpoint)["config"].get("clip", {})
    else:
        return 16, 64, 64
    return int(c.get("frames", 16)), int(c.get("height", 64)), int(c.get("width", 64))


def start_run(cfg: PayloadConfig, out_dir: str | Path) -> tuple[Path, Any]:
    """Make the run folder, apply ``threads`` and ``seed``; return the folder and the torch device."""
    import torch

    from .loop import resolve_device

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    dev = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    return out, dev


def export_copy(model_path: str | Path, export: str) -> None:
    """Copy a finished run's model file to ``export`` (the config's ``export:``; empty = nowhere): where a
    node or the package picks it up, while the run folder keeps its own."""
    import logging
    import shutil

    if not export:
        return
    Path(export).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(model_path, export)
    logging.getLogger(__name__).info("exported %s -> %s", model_path, export)
