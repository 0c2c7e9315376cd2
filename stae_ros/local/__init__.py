"""The `local` mode's classifier: a small video CNN that runs on the camera within its compute budget.

It is the baseline that offloading has to beat: what a robotics team tries first.
"""

from .crossval import crossval_local
from .errors import LocalInputError, LocalModelError
from .io import MODEL_FORMAT, LocalModelFile, load_local_model, save_local_model
from .model import LocalArch, LocalClassifier, LocalEnsemble
from .train import LocalTrainConfig, LocalTrainError, LocalTrainResult, load_local_config, train_local

__all__ = [
    "MODEL_FORMAT",
    "LocalArch",
    "LocalClassifier",
    "LocalEnsemble",
    "LocalInputError",
    "LocalModelError",
    "LocalModelFile",
    "load_local_model",
    "save_local_model",
    "LocalTrainConfig",
    "LocalTrainError",
    "LocalTrainResult",
    "load_local_config",
    "train_local",
    "crossval_local",
]
