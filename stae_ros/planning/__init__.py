"""Deadline-aware budget planning from an accuracy profile and measured link/compute state.

Pure Python + numpy: used by controller_node (ROS) and by `stae bench controller`.
"""

from .errors import PlanningError
from .fallback import FALLBACK_MODE, DeadlineFallback, Due, is_fallback_label
from .estimators import ComputeEstimator, LatencyEstimator, LinkMonitor, RateEstimator, RateSample
from .planner import Decision, Planner
from .points import realisable_points, settings_text

__all__ = ["ComputeEstimator", "DeadlineFallback", "Decision", "Due", "FALLBACK_MODE", "is_fallback_label", "LatencyEstimator", "LinkMonitor", "Planner", "PlanningError", "RateEstimator", "RateSample",
           "realisable_points", "settings_text"]
