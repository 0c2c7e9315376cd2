"""Named errors of the planner and estimators."""

from __future__ import annotations

__all__ = ["PlanningError"]


class PlanningError(ValueError):
    """Impossible planner settings (deadline <= 0, margin outside [0, 1)) or estimator input."""
