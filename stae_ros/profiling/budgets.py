"""Camera compute budgets: how many FLOPs per clip the camera host can spend, from cited figures.

A preset (``config/camera_budgets.yaml``) says which host it models, the effective fp32 PyTorch
throughput of ONE core of it on small video/mobile networks (``rate_gflops``), the clip period and
the share of that core the classifier may use. Its budget is::

    budget_gflop_per_clip = rate_gflops * period_s * utilisation

The loader recomputes that product and refuses a file whose stated budget disagrees with it, so a
budget can never drift away from its derivation. docs/camera_budget.md gives the derivation and
the sources of each rate. `measure_host_rate` times the same kind of network on this host, for the
host preset that the bench's ms can be compared with.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stae_ros.configio import ConfigError, check_keys, load_yaml

__all__ = ["SCHEMA_ID", "DEFAULT_BUDGETS_FILE", "CameraBudget", "BudgetError", "load_camera_budgets",
           "camera_budget", "measure_host_rate"]

SCHEMA_ID = "stae-camera-budgets/1"
DEFAULT_BUDGETS_FILE = "config/camera_budgets.yaml"
_PRESET_KEYS = ("description", "device", "rate_gflops", "period_s", "utilisation", "budget_gflop_per_clip",
                "derivation", "sources", "measured_with")
_SOURCE_KEYS = ("title", "url", "figure")


class BudgetError(ConfigError):
    """A camera-budget file or preset is missing, malformed, or inconsistent."""


@dataclass(frozen=True)
class CameraBudget:
    """One camera host: its effective rate and the FLOPs per clip it allows."""

    name: str
    device: str
    rate_gflops: float  #: effective fp32 GFLOP/s of one core on small conv/video networks
    period_s: float  #: one clip every period_s seconds
    utilisation: float  #: share of that core the classifier may use (the rest: capture, ROS, slack)
    budget_gflop_per_clip: float
    description: str = ""
    derivation: str = ""
    sources: tuple[dict[str, str], ...] = field(default_factory=tuple)
    measured_with: str = ""

    def fits(self, gflop_per_clip: float) -> bool:
        return gflop_per_clip <= self.budget_gflop_per_clip

    def ms_per_clip(self, gflop_per_clip: float) -> float:
        """Estimated ms on this host's one core for a network of that cost, at the preset's rate."""
        return gflop_per_clip / self.rate_gflops * 1000.0

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "device": self.device, "rate_gflops": self.rate_gflops, "period_s": self.period_s,
                "utilisation": self.utilisation, "budget_gflop_per_clip": self.budget_gflop_per_clip}


def _positive(where: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise BudgetError(f"{where}: '{key}' must be a positive number, got {value!r}")
    return float(value)


def _preset(path: Path, name: str, raw: Any) -> CameraBudget:
    where = f"{path}: presets.{name}"
    if not isinstance(raw, dict):
        raise BudgetError(f"{where} must be a mapping")
    check_keys(raw, _PRESET_KEYS, where=where)
    for key in ("device", "rate_gflops", "period_s", "utilisation", "budget_gflop_per_clip", "sources"):
        if key not in raw:
            raise BudgetError(f"{where}: '{key}' is missing")
    rate = _positive(where, "rate_gflops", raw["rate_gflops"])
    period = _positive(where, "period_s", raw["period_s"])
    util = _positive(where, "utilisation", raw["utilisation"])
    if util > 1.0:
        raise BudgetError(f"{where}: 'utilisation' must be in (0, 1], got {util}")
    budget = _positive(where, "budget_gflop_per_clip", raw["budget_gflop_per_clip"])
    expected = rate * period * util
    if abs(budget - expected) > 0.01 * expected + 1e-9:
        raise BudgetError(f"{where}: 'budget_gflop_per_clip' is {budget} but rate_gflops * period_s * utilisation "
                          f"= {rate} * {period} * {util} = {expected:.4g}")
    sources = raw["sources"]
    if not isinstance(sources, list) or not sources:
        raise BudgetError(f"{where}: 'sources' must be a non-empty list of {{title, url, figure}}")
    for i, src in enumerate(sources):
        if not isinstance(src, dict):
            raise BudgetError(f"{where}: sources[{i}] must be a mapping")
        check_keys(src, _SOURCE_KEYS, where=f"{where}: sources[{i}]")
        for key in _SOURCE_KEYS:
            if not isinstance(src.get(key), str) or not src[key].strip():
                raise BudgetError(f"{where}: sources[{i}].{key} must be a non-empty string")
    return CameraBudget(name=name, device=str(raw["device"]), rate_gflops=rate, period_s=period, utilisation=util,
                        budget_gflop_per_clip=budget, description=str(raw.get("description", "")),
                        derivation=str(raw.get("derivation", "")), sources=tuple(dict(s) for s in sources),
                        measured_with=str(raw.get("measured_with", "")))


def load_camera_budgets(path: str | Path = DEFAULT_BUDGETS_FILE) -> tuple[dict[str, CameraBudget], str]:
    """(presets by name, default preset name) from a camera-budgets YAML file."""
    path = Path(path)
    if not path.is_file():
        from stae_ros.resources import find_data_file

        found = find_data_file(None, str(path))  # installed share dir, then the source checkout
        if not found.is_file():
            raise BudgetError(f"camera budgets file not found: {path}")
        path = found
    try:
        raw = load_yaml(path, allowed=("schema", "default", "presets"), required=("schema", "default", "presets"))
    except BudgetError:
        raise
    except ConfigError as exc:
        raise BudgetError(str(exc)) from exc
    if raw["schema"] != SCHEMA_ID:
        raise BudgetError(f"{path}: 'schema' is {raw['schema']!r}, expected {SCHEMA_ID!r}")
    presets_raw = raw["presets"]
    if not isinstance(presets_raw, dict) or not presets_raw:
        raise BudgetError(f"{path}: 'presets' must be a non-empty mapping of name -> preset")
    presets = {str(name): _preset(path, str(name), body) for name, body in presets_raw.items()}
    default = str(raw["default"])
    if default not in presets:
        raise BudgetError(f"{path}: 'default' names {default!r}, which is not a preset ({', '.join(presets)})")
    return presets, default


def camera_budget(name: str | None = None, path: str | Path = DEFAULT_BUDGETS_FILE) -> CameraBudget:
    """The preset ``name`` (the file's default when None); an unknown name is a BudgetError listing the others."""
    presets, default = load_camera_budgets(path)
    name = name or default
    if name not in presets:
        raise BudgetError(f"unknown camera budget preset {name!r}; {path} has {', '.join(presets)}")
    return presets[name]


def measure_host_rate(frames: int = 16, height: int = 112, width: int = 112, repeats: int = 7,
                      threads: int = 1) -> dict[str, float]:
    """Effective GFLOP/s of one host thread on the reference networks of the budget derivation.

    ``local_3d``: the local classifier's default architecture on a T,H,W clip (a mobile-class,
    depthwise 3D CNN); ``resnet18_2d``: a dense ResNet-18 on a 224x224 image, the network whose
    Raspberry Pi 4 figure anchors the Pi rates. Their ratio is how much slower per FLOP a
    depthwise network runs than a dense one. Minimum over ``repeats`` timed runs after a warm-up.
    """
    import torch

    from stae_ros.local import LocalClassifier

    from .flops import count_flops

    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        out: dict[str, float] = {}
        nets = {"local_3d": (LocalClassifier(10, frames, height, width).eval(), torch.rand(1, 3, frames, height, width)),
                "resnet18_2d": (_resnet18().eval(), torch.rand(1, 3, 224, 224))}
        for name, (net, x) in nets.items():
            flops = count_flops(net, x).gflop
            with torch.no_grad():
                net(x)
                best = float("inf")
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    net(x)
                    best = min(best, time.perf_counter() - t0)
            out[f"{name}_gflop"] = flops
            out[f"{name}_ms"] = best * 1000.0
            out[f"{name}_gflops"] = flops / best
        out["mobile_to_dense"] = out["local_3d_gflops"] / out["resnet18_2d_gflops"]
        return out
    finally:
        torch.set_num_threads(old)


def _resnet18() -> Any:
    """torchvision's ResNet-18 layout (3.6 GFLOP at 224x224), built here: the package does not use torchvision."""
    from torch import nn

    class Basic(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int) -> None:
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                                      nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
            self.short = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                          if stride != 1 or cin != cout else nn.Identity())

        def forward(self, x: Any) -> Any:
            return (self.body(x) + self.short(x)).relu()

    layers: list[nn.Module] = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [Basic(cin, cout, stride), Basic(cout, cout, 1)]
        cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 1000)]
    return nn.Sequential(*layers)


if __name__ == "__main__":  # python -m stae_ros.profiling.budgets: this host's one-thread rates
    import json

    print(json.dumps({k: round(v, 4) for k, v in measure_host_rate().items()}, indent=2))
