"""The accuracy profile: its schema, how it is measured, and its plots.

Only the schema is imported eagerly (plain json, no torch) so the controller on a robot can load a
profile without torch; measurement and plots are imported on first use.
"""

from __future__ import annotations

from typing import Any

from .schema import SCHEMA_ID, OperatingPoint, Profile, ProfileError, load_profile, save_profile

__all__ = [
    "SCHEMA_ID", "OperatingPoint", "Profile", "ProfileError", "load_profile", "save_profile",
    "measure_profile", "compression_ratio", "summarize", "profile_table", "confusion_matrix",
    "plot_accuracy_vs_bytes", "plot_accuracy_vs_budget", "plot_confusion",
]

_LAZY = {
    "measure_profile": "profile", "compression_ratio": "profile", "summarize": "profile",
    "profile_table": "profile", "confusion_matrix": "profile",
    "plot_accuracy_vs_bytes": "plots", "plot_accuracy_vs_budget": "plots", "plot_confusion": "plots",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
