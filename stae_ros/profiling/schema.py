"""The accuracy profile: what each operating point costs and buys.

`stae profile` writes it, the planner and `controller_node` read it. The file is JSON so a
person can read it and a robot without torch can load it. Schema id ``stae-profile/1``; the
fields are documented in docs/profile_schema.md.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..resources import shipped_file

SCHEMA_ID = "stae-profile/1"

#: keys of OperatingPoint.extra that describe a point (how it was made, what was measured at it)
#: rather than set it; everything else in ``extra`` is a codec knob the camera must apply
DESCRIPTIVE_KEYS = frozenset({"label", "lambda", "map", "model_not_shipped",
                              # measurement statistics that `stae profile` records per point
                              "codec_version", "bytes_min", "bytes_max", "camera_ms_p95", "edge_ms_p95",
                              "edge_batch", "compression_ratio",
                              # whose answers the accuracy is (the model a clip names)
                              "model_id"})

__all__ = ["SCHEMA_ID", "DESCRIPTIVE_KEYS", "OperatingPoint", "Profile", "ProfileError", "load_profile", "merge_profiles",
           "save_profile"]


class ProfileError(ValueError):
    """A profile file is missing fields, has the wrong schema id, or holds impossible values."""


@dataclass(frozen=True)
class OperatingPoint:
    """One (codec, K, p) setting and what it measured on the test split."""

    codec: str  #: payload codec name, as in SemanticClip.codec (e.g. "stae-px")
    k: int  #: frames kept of the clip (frame budget K)
    p: float  #: fraction of pixels kept per kept frame (spatial budget p), 0 < p <= 1
    accuracy: float  #: top-1 accuracy on the test split, 0..1
    bytes_mean: float  #: mean encoded payload bytes per clip
    bytes_p95: float  #: 95th percentile of payload bytes per clip
    camera_ms: float  #: camera-side ms per clip (select + encode), one CPU thread
    edge_ms: float  #: edge-side ms per clip (decode + recover + classify)
    n_clips: int = 0  #: clips the numbers were measured on
    extra: dict[str, Any] = field(default_factory=dict)  #: codec-specific knobs (e.g. crf, lambda)
    camera_gflop: float | None = None  #: camera-side FLOPs per clip / 1e9 (counted), None = not counted
    edge_gflop: float | None = None  #: edge-side FLOPs per clip / 1e9 (counted), None = not counted

    def completion_s(self, rate_bps: float, camera_scale: float = 1.0, edge_scale: float = 1.0) -> float:
        """Device compute + bytes/rate + edge compute, in seconds (the paper's completion time)."""
        if rate_bps <= 0:
            return math.inf
        return (self.camera_ms * camera_scale + self.edge_ms * edge_scale) / 1000.0 + self.bytes_mean * 8.0 / rate_bps

    @property
    def shipped(self) -> bool:
        """False when the point needs a model file that is not in the package (``model_not_shipped``)."""
        return "model_not_shipped" not in self.extra

    def codec_settings(self) -> dict[str, Any]:
        """The knobs a camera sets to realise this point besides K and p (BudgetCommand.codec_settings):
        ``extra`` without its descriptive keys and empty values; {} for stae-px."""
        return {k: v for k, v in self.extra.items() if k not in DESCRIPTIVE_KEYS and v not in ("", None)}

    def validate(self) -> None:
        for name in ("k", "p", "accuracy"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or (name == "k" and not isinstance(value, int)):
                raise ProfileError(f"operating point {self.codec} has {name}={value!r}; expected a "
                                   f"{'whole number' if name == 'k' else 'number'}")
        if self.k < 1:
            raise ProfileError(f"operating point {self.codec} has k={self.k}; k must be >= 1")
        if not (0.0 < self.p <= 1.0):
            raise ProfileError(f"operating point {self.codec} k={self.k} has p={self.p}; p must be in (0, 1]")
        if not (0.0 <= self.accuracy <= 1.0):
            raise ProfileError(f"operating point {self.codec} k={self.k} p={self.p} has accuracy {self.accuracy}")
        for name in ("bytes_mean", "bytes_p95", "camera_ms", "edge_ms", "camera_gflop", "edge_gflop"):
            value = getattr(self, name)
            if value is None and name.endswith("gflop"):
                continue
            if not isinstance(value, (int, float)) or not (value >= 0.0) or math.isinf(value):
                raise ProfileError(f"operating point {self.codec} k={self.k} p={self.p} has {name}={value}")


@dataclass
class Profile:
    """All operating points measured for one model on one data set."""

    name: str
    clip: dict[str, int]  #: frames, height, width, channels of the clips measured
    points: list[OperatingPoint]
    model: str = ""  #: checkpoint path the profile was measured with
    dataset: str = ""  #: data set description (root and split)
    command: str = ""  #: the command line that produced the file
    created: str = ""  #: ISO 8601 time of measurement
    host: dict[str, Any] = field(default_factory=dict)  #: cpu, threads, torch version
    schema: str = SCHEMA_ID

    @property
    def raw_float32_bytes(self) -> int:
        c = self.clip
        return 4 * c["frames"] * c["height"] * c["width"] * c["channels"]

    def best_accuracy(self) -> float:
        return max((pt.accuracy for pt in self.points), default=0.0)

    def validate(self) -> None:
        if self.schema != SCHEMA_ID:
            raise ProfileError(f"profile schema is {self.schema!r}; expected {SCHEMA_ID!r}")
        for key in ("frames", "height", "width", "channels"):
            if int(self.clip.get(key, 0)) < 1:
                raise ProfileError(f"profile clip.{key} is missing or < 1")
        if not self.points:
            raise ProfileError("profile has no operating points")
        for pt in self.points:
            pt.validate()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Profile":
        try:
            points = [OperatingPoint(**pt) for pt in data["points"]]
            profile = cls(
                name=str(data["name"]),
                clip={k: int(v) for k, v in data["clip"].items()},
                points=points,
                model=str(data.get("model", "")),
                dataset=str(data.get("dataset", "")),
                command=str(data.get("command", "")),
                created=str(data.get("created", "")),
                host=dict(data.get("host", {})),
                schema=str(data.get("schema", "")),
            )
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ProfileError(f"profile is missing or has a malformed field: {type(exc).__name__}: {exc}") from exc
        profile.validate()
        return profile


def merge_profiles(profiles: list[Profile]) -> Profile:
    """One profile holding the points of several, which must describe the same edge model, data set and clip.

    A planner that mixes points measured with different classifiers or test clips compares
    accuracies that mean different things (one set's 70% may be another's 90%), so mixing is
    refused with an error naming the field that differs.
    """
    if not profiles:
        raise ProfileError("no profiles to merge")
    first = profiles[0]
    for other in profiles[1:]:
        for name in ("model", "dataset", "clip"):
            a, b = getattr(first, name), getattr(other, name)
            if a != b:
                raise ProfileError(f"profiles {first.name!r} and {other.name!r} differ in {name} ({a!r} vs {b!r}): "
                                   "their accuracies are not comparable; measure every mode into one profile "
                                   "with `stae profile`")
    if len(profiles) == 1:
        return first
    points = [pt for prof in profiles for pt in prof.points]
    merged = Profile(name="+".join(p.name for p in profiles), clip=dict(first.clip), points=points, model=first.model,
                     dataset=first.dataset, command=" ; ".join(p.command for p in profiles if p.command),
                     created=max(p.created for p in profiles), host=dict(first.host))
    merged.validate()
    return merged


def load_profile(path: str | Path) -> Profile:
    """Read and check a profile; a relative ``profiles/...`` path outside a checkout is the installed file."""
    path = shipped_file(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ProfileError(f"profile file not found: {path}") from exc
    except json.JSONDecodeError as exc:
        raise ProfileError(f"profile {path} is not valid JSON: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"profile {path} cannot be read: {exc}") from exc
    if not isinstance(data, dict):
        raise ProfileError(f"profile {path} must be a JSON object, got {type(data).__name__}")
    try:
        return Profile.from_dict(data)
    except ProfileError as exc:
        raise ProfileError(f"profile {path}: {exc}") from exc


def save_profile(profile: Profile, path: str | Path) -> Path:
    profile.validate()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(profile.to_dict(), indent=2) + "\n")
    return path
