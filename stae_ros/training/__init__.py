"""Step-by-step STAE training (classifier -> FA -> SA -> FR), checkpoints and controls."""

from .checkpoints import CHECKPOINT_FORMAT, LoadedModel, load_checkpoint_dict, load_model, save_checkpoint
from .config import STAGES, AugmentConfig, DataConfig, StageConfig, TrainConfig, load_train_config
from .errors import CheckpointError, TrainConfigError, TrainingError
from .loop import TrainResult, evaluate_accuracy, resolve_device, to_float_clips, train
from .stages import parse_stages, predict, sample_budget, stage_loss

__all__ = [
    "CHECKPOINT_FORMAT", "LoadedModel", "load_checkpoint_dict", "load_model", "save_checkpoint",
    "STAGES", "AugmentConfig", "DataConfig", "StageConfig", "TrainConfig", "load_train_config",
    "CheckpointError", "TrainConfigError", "TrainingError",
    "TrainResult", "evaluate_accuracy", "resolve_device", "to_float_clips", "train",
    "parse_stages", "predict", "sample_budget", "stage_loss",
]
