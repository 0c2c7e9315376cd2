"""Named exceptions of stae_ros.models: every message says what was wrong and what was expected."""

from __future__ import annotations

__all__ = ["ModelError", "ConfigError", "BudgetError", "ShapeError", "StageError", "PretrainedLoadError"]


class ModelError(Exception):
    """Base of all errors raised by stae_ros.models."""


class ConfigError(ModelError, ValueError):
    """A model configuration has an unknown key, a missing section or an impossible value."""


class BudgetError(ModelError, ValueError):
    """A frame budget K or spatial budget p is outside what the clip allows."""


class ShapeError(ModelError, ValueError):
    """A tensor does not have the shape the model was configured for."""


class StageError(ModelError, ValueError):
    """An unknown training stage name was given."""


class PretrainedLoadError(ModelError, ValueError):
    """External weights cannot be mapped onto the ViT (wrong embedding width, depth, ...)."""
