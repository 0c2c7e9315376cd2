"""Named errors of the training package; messages say what was wrong and where."""

from __future__ import annotations

__all__ = ["TrainingError", "CheckpointError", "TrainConfigError"]


class TrainingError(RuntimeError):
    """Training cannot start or continue (bad stage name, nothing to resume, data mismatch)."""


class CheckpointError(ValueError):
    """A checkpoint file is missing, is not a stae checkpoint, or does not fit its own config."""


class TrainConfigError(ValueError):
    """A training config has a wrong value (unknown stage, non-positive epochs, bad budget)."""
