"""The training config (``config/train_*.yaml``) as typed dataclasses.

One file says everything a run needs: which model config to start from (and overrides), where
the data is (and how to generate the synthetic set if it is missing), the per-stage schedule of
the paper's step-by-step training, augmentation, and where the final model goes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from stae_ros.configio import ConfigError, check_keys, deep_merge, load_yaml, typed_fields, typed_value
from stae_ros.errtext import exc_line
from stae_ros.resources import shipped_file

from .errors import TrainConfigError

__all__ = ["STAGES", "StageConfig", "DataConfig", "AugmentConfig", "TrainConfig", "load_train_config"]

#: the paper's step-by-step order
STAGES: tuple[str, ...] = ("classifier", "fa", "sa", "fr")

_TOP_KEYS = ("mode", "name", "seed", "pretrained", "model", "data", "stages", "augment", "device", "threads", "eval", "export", "half")


@dataclass
class StageConfig:
    """Optimiser schedule of one training stage."""

    epochs: int = 1
    lr: float = 1e-3
    batch_size: int = 16
    weight_decay: float = 0.0
    warmup_steps: int = 0
    max_steps_per_epoch: int = 0  #: 0 = whole training split each epoch
    recon_weight: float = 0.0  #: fr stage: weight of the reconstruction MSE next to cross-entropy
    full_budget_prob: float = 0.0  #: fa/sa/fr: probability that a batch uses the full budget (K=T, p=1)
    grad_clip: float = 1.0
    also_freeze: list[str] = field(default_factory=list)  #: extra parameter-name prefixes kept frozen (CPU cost savers, e.g. "fr.first")
    sens_teacher: float = 0.0  #: sa stage: weight of the input-gradient teacher term (stae_ros.sensitivity.teacher)

    def validate(self, name: str) -> None:
        if self.epochs < 0:
            raise TrainConfigError(f"stages.{name}.epochs must be >= 0, got {self.epochs}")
        if self.lr <= 0:
            raise TrainConfigError(f"stages.{name}.lr must be > 0, got {self.lr}")
        if self.batch_size < 1:
            raise TrainConfigError(f"stages.{name}.batch_size must be >= 1, got {self.batch_size}")
        if not 0.0 <= self.full_budget_prob <= 1.0:
            raise TrainConfigError(f"stages.{name}.full_budget_prob must be in [0,1], got {self.full_budget_prob}")


@dataclass
class DataConfig:
    """Where the clips come from."""

    root: str = "datasets/synth"
    generate: dict[str, Any] | None = None  #: kwargs of stae_ros.data.synthetic.generate_dataset when root is missing
    cache: bool = True
    render_in_memory: bool = False  #: synthetic only: render the split from ``generate`` in memory (no video files, no PyAV; same pixels as `stae data synth`, FFV1 being lossless)
    stream: bool = False  #: synthetic only: train on freshly rendered clips every batch (seeds disjoint from the stored splits); the test split is still the stored one
    stream_workers: int = 1  #: processes rendering streamed batches ahead of the training step
    #: class name -> sampling weight of the stream (others 1); the loss is logit-adjusted by
    #: log(weight), so the trained model stays calibrated for balanced classes
    stream_class_weights: dict[str, float] | None = None
    train_limit: int = 0  #: use at most this many training clips (0 = all); for tests
    test_limit: int = 0
    #: where the train/test split comes from: auto (HMDB51 / UCF101 split files, else
    #: <root>/folds.csv or folds_file, else seeded), hmdb51, ucf101, folds or seeded (stae_ros/data/folder.py)
    split: str = "auto"
    split_id: int = 1  #: HMDB51/UCF101 split number
    folds_file: str = ""  #: fold CSV (clip,class,fold), relative to root unless absolute; default <root>/folds.csv
    test_fold: int = 0  #: folds: the fold tested (the others train); `stae train --fold all` runs each in turn
    split_seed: int = 0  #: seeded split: the generator seed
    test_fraction: float = 0.3  #: seeded split: share of each class held out for testing
    short_clip: str = "loop"  #: videos shorter than the clip: loop (default), pad (repeat the last frame) or resample

    def split_spec(self) -> Any:
        """The :class:`stae_ros.data.folder.SplitSpec` these keys describe (raises TrainConfigError)."""
        from stae_ros.data.folder import SHORT_CLIP_POLICIES, SplitSpec

        if self.short_clip not in SHORT_CLIP_POLICIES:
            raise TrainConfigError(f"data.short_clip must be one of {', '.join(SHORT_CLIP_POLICIES)}, got {self.short_clip!r}")
        try:
            return SplitSpec(source=self.split, split_id=int(self.split_id), folds_file=str(self.folds_file or ""),
                             test_fold=int(self.test_fold), seed=int(self.split_seed), test_fraction=float(self.test_fraction))
        except ValueError as exc:
            raise TrainConfigError(f"data: {exc}") from None


@dataclass
class AugmentConfig:
    """Label-preserving augmentation. Time is never reversed (it swaps in/out classes); a flip is off
    by default (it swaps left/right classes) and is for sets whose classes mirror (e.g. Weizmann)."""

    shift: int = 0  #: max random translation in pixels (replicate padding)
    brightness: float = 0.0  #: max additive brightness change
    contrast: float = 0.0  #: max relative contrast change
    noise: float = 0.0  #: std of added Gaussian noise
    hflip: float = 0.0  #: probability of mirroring a clip left-right (only where no class is a mirror of another)


@dataclass
class TrainConfig:
    name: str = "run"
    seed: int = 0
    model: dict[str, Any] = field(default_factory=dict)  #: resolved ModelConfig dict
    data: DataConfig = field(default_factory=DataConfig)
    stages: dict[str, StageConfig] = field(default_factory=dict)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    device: str = "auto"
    threads: int = 0  #: torch.set_num_threads (0 = leave torch's default)
    eval_budgets: list[tuple[int, float]] = field(default_factory=list)  #: (K, p) checked after each epoch
    eval_batch_size: int = 32
    eval_each_epoch: bool = True  #: False: evaluate only after a stage's last epoch (saves time on slow hosts)
    export: str = ""  #: copy the final model here (e.g. models/stae_default.pt)
    pretrained: str = ""  #: local file of ViT weights (e.g. a VideoMAE checkpoint) loaded before stage 1; never downloaded
    half: bool | str = "auto"
    source: str = ""  #: the YAML file this came from

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _dataclass_from(cls: type, data: dict[str, Any] | None, where: str) -> Any:
    """``cls`` built from a config section whose keys and value types are checked first (ConfigError names them)."""
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"{where} must be a mapping of keys to values, got {data!r}")
    data = dict(data or {})
    check_keys(data, cls.__dataclass_fields__.keys(), where=where)
    data = typed_fields(cls, data, where)
    try:
        return cls(**data)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def top_value(raw: dict[str, Any], key: str, kind: Any, default: Any, path: Path) -> Any:
    """A top-level config value checked against ``kind`` (e.g. ``int``, ``str | None``); ConfigError names the key."""
    return typed_value(raw.get(key, default), kind, f"{path}: {key}")


def _eval_budgets(value: Any, path: Path) -> list[tuple[int, float]]:
    if not isinstance(value, list) or not all(isinstance(b, (list, tuple)) and len(b) == 2 for b in value):
        raise ConfigError(f"{path}: eval.budgets must be a list of [K, p] pairs, got {value!r}")
    return [(typed_value(k, int, f"{path}: eval.budgets K"), typed_value(p, float, f"{path}: eval.budgets p"))
            for k, p in value]


def _resolve_model(spec: Any, config_path: Path) -> dict[str, Any]:
    """``model:`` is a path to a model YAML, or a mapping with optional ``base`` path plus overrides."""
    if spec is None:
        spec = {"base": "config/model_default.yaml"}
    if isinstance(spec, str):
        spec = {"base": spec}
    if not isinstance(spec, dict):
        raise ConfigError(f"{config_path}: 'model' must be a path or a mapping")
    spec = dict(spec)
    base = spec.pop("base", None)
    if base is not None and not isinstance(base, str):
        raise ConfigError(f"{config_path}: model.base must be the path of a model YAML, got {base!r}")
    merged: dict[str, Any] = {}
    if base:
        candidates = [Path(base), config_path.parent / base, config_path.parent.parent / base, shipped_file(base)]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise ConfigError(f"{config_path}: model base config {base!r} not found")
        merged = load_yaml(found)
    model = deep_merge(merged, spec)
    _check_model(model, config_path)
    return model


def _check_model(model: dict[str, Any], config_path: Path) -> None:
    """Build the model config once now, so a bad ``model:`` value is named before any data is read."""
    from stae_ros.models import ModelConfig

    vit = model.get("vit") if isinstance(model.get("vit"), dict) else {}
    try:
        ModelConfig.from_dict({**model, "vit": {"num_classes": 2, **vit}})
    except Exception as exc:  # noqa: BLE001 - ConfigError, ValueError, TypeError from the model's own checks
        raise ConfigError(f"{config_path}: model: {exc_line(exc).partition(': ')[2] or exc_line(exc)}") from exc


def load_train_config(path: str | Path) -> TrainConfig:
    """Parse and validate a ``config/train_*.yaml`` file."""
    path = Path(path)
    raw = load_yaml(path, allowed=_TOP_KEYS)
    stages_raw = raw.get("stages") or {}
    if not isinstance(stages_raw, dict):
        raise ConfigError(f"{path}: 'stages' must be a mapping of stage name -> settings")
    check_keys(stages_raw, STAGES, where=f"{path}: stages")
    stages = {name: _dataclass_from(StageConfig, stages_raw.get(name), f"{path}: stages.{name}") for name in STAGES}
    for name, st in stages.items():
        st.validate(name)
    if all(st.epochs == 0 for st in stages.values()):
        raise ConfigError(f"{path}: every stage has epochs: 0, so nothing would be trained "
                          "(to measure a model file as it is, use `stae eval`)")
    ev = raw.get("eval") or {}
    if not isinstance(ev, dict):
        raise ConfigError(f"{path}: 'eval' must be a mapping (budgets, batch_size, each_epoch), got {ev!r}")
    check_keys(ev, ("budgets", "batch_size", "each_epoch"), where=f"{path}: eval")
    budgets = _eval_budgets(ev.get("budgets", []), path)
    for k, p in budgets:
        if k < 1 or not 0.0 < p <= 1.0:
            raise TrainConfigError(f"{path}: eval budget K={k} p={p} is out of range")
    cfg = TrainConfig(
        name=top_value(raw, "name", str, path.stem, path),
        seed=top_value(raw, "seed", int, 0, path),
        model=_resolve_model(raw.get("model"), path),
        data=_dataclass_from(DataConfig, raw.get("data"), f"{path}: data"),
        stages=stages,
        augment=_dataclass_from(AugmentConfig, raw.get("augment"), f"{path}: augment"),
        device=top_value(raw, "device", str, "auto", path),
        threads=top_value(raw, "threads", int, 0, path),
        eval_budgets=budgets,
        eval_batch_size=typed_value(ev.get("batch_size", 32), int, f"{path}: eval.batch_size"),
        eval_each_epoch=typed_value(ev.get("each_epoch", True), bool, f"{path}: eval.each_epoch"),
        export=str(raw.get("export", "") or ""),
        pretrained=str(raw.get("pretrained", "") or ""),
        half=raw.get("half", "auto"),
        source=str(path),
    )
    cfg.data.split_spec()  # validate the split keys now, not after the model is built
    if cfg.half not in (True, False, "auto"):
        raise ConfigError(f"{path}: half must be true, false or auto, got {cfg.half!r}")
    if cfg.threads < 0:
        raise ConfigError(f"{path}: threads must be >= 0 (0 = torch's default), got {cfg.threads}")
    for name in ("shift", "brightness", "contrast", "noise"):
        if getattr(cfg.augment, name) < 0:
            raise ConfigError(f"{path}: augment.{name} must be >= 0, got {getattr(cfg.augment, name)}")
    if not 0.0 <= cfg.augment.hflip <= 1.0:
        raise ConfigError(f"{path}: augment.hflip is a probability in [0, 1], got {cfg.augment.hflip}")
    if cfg.device not in ("auto", "cpu", "cuda") and not cfg.device.startswith("cuda:"):
        raise TrainConfigError(f"{path}: device must be auto, cpu or cuda, got {cfg.device!r}")
    return cfg
