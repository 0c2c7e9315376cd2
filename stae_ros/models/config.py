"""Model configuration: typed dataclasses mirroring config/model_default.yaml.

The YAML is parsed elsewhere (models/ does no file I/O); ``ModelConfig.from_dict`` takes the
plain dict. Unknown keys are rejected with a ``ConfigError`` naming the key, because a typo in a
config would otherwise silently train the default model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, Mapping, TypeVar

from .errors import BudgetError, ConfigError

__all__ = [
    "ClipConfig",
    "BudgetConfig",
    "FAConfig",
    "SAConfig",
    "FRConfig",
    "ViTConfig",
    "ModelConfig",
    "budget_pixels",
]

T = TypeVar("T")


def budget_pixels(p: float, h: int, w: int) -> int:
    """Pixels kept per kept frame for spatial budget ``p``: ``ceil(p*H*W)`` (with float slack).

    The ``-1e-9`` keeps e.g. ``0.1*64*64 = 409.6000000001`` from rounding up one pixel too many
    when p is a float that is not exactly representable.
    """
    if not isinstance(p, (int, float)) or isinstance(p, bool) or not math.isfinite(p):
        raise BudgetError(f"spatial budget p must be a finite number, got {p!r}")
    if not 0.0 < p <= 1.0:
        raise BudgetError(f"spatial budget p must be in (0, 1], got {p}")
    if h <= 0 or w <= 0:
        raise BudgetError(f"frame size must be positive, got {h}x{w}")
    return max(1, min(h * w, math.ceil(p * h * w - 1e-9)))


def _build(cls: type[T], data: Mapping[str, Any] | None, section: str) -> T:
    """Construct dataclass ``cls`` from ``data``, rejecting keys the dataclass does not know."""
    if data is None:
        return cls()
    if not isinstance(data, Mapping):
        raise ConfigError(f"config section '{section}' must be a mapping, got {type(data).__name__}")
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    for key in data:
        if key not in known:
            raise ConfigError(
                f"unknown key '{key}' in config section '{section}' (known: {', '.join(sorted(known))})"
            )
    try:
        return cls(**dict(data))
    except TypeError as exc:  # pragma: no cover - guarded by the key check above
        raise ConfigError(f"config section '{section}': {exc}") from exc


def _positive(section: str, **values: float) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ConfigError(f"{section}.{name} must be a positive number, got {value!r}")


def _non_negative_int(section: str, **values: int) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"{section}.{name} must be a non-negative integer, got {value!r}")


@dataclass
class ClipConfig:
    """Clip geometry the model is built for (T frames of H x W, C channels)."""

    frames: int = 16
    height: int = 64
    width: int = 64
    channels: int = 3

    def __post_init__(self) -> None:
        _positive("clip", frames=self.frames, height=self.height, width=self.width, channels=self.channels)
        for name in ("frames", "height", "width", "channels"):
            if not isinstance(getattr(self, name), int):
                raise ConfigError(f"clip.{name} must be an integer, got {getattr(self, name)!r}")


@dataclass
class BudgetConfig:
    """The operating points: frame budgets K and spatial budgets p the model is trained for."""

    frame: list[int] = field(default_factory=lambda: [16, 8, 4, 2, 1])
    spatial: list[float] = field(default_factory=lambda: [1.0, 0.5, 0.25, 0.1, 0.05])

    def __post_init__(self) -> None:
        self.frame = [int(k) for k in self.frame]
        self.spatial = [float(p) for p in self.spatial]
        if not self.frame or not self.spatial:
            raise ConfigError("budgets.frame and budgets.spatial must not be empty")
        for k in self.frame:
            if k < 1:
                raise ConfigError(f"budgets.frame holds {k}; frame budgets must be >= 1")
        for p in self.spatial:
            if not 0.0 < p <= 1.0:
                raise ConfigError(f"budgets.spatial holds {p}; spatial budgets must be in (0, 1]")


@dataclass
class FAConfig:
    """Frame attention: a tiny shared 2D conv on [frame, |frame - previous|] then max+avg pooling."""

    hidden: int = 32  #: hidden width of the MLP that runs across frames
    feature_channels: int = 8  #: per-frame conv feature maps before spatial max+avg pooling
    downsample: int = 2  #: FA looks at H/downsample x W/downsample (cheap on the camera)
    motion: bool = True  #: feed |frame - previous frame| next to the frame

    def __post_init__(self) -> None:
        _positive("fa", hidden=self.hidden, feature_channels=self.feature_channels, downsample=self.downsample)


@dataclass
class SAConfig:
    """Spatial attention: channel max+mean (and of the temporal difference) -> conv -> sigmoid."""

    kernel_size: int = 7
    hidden: int = 0  #: 0: one k x k conv (the paper); >0: k x k conv to `hidden` maps, ReLU, 3x3 conv
    motion: bool = True  #: add channel max+mean of |frame - previous frame| as two more inputs
    #: start: ``none`` (PyTorch's random init) or ``motion`` (the score is the motion summed over a
    #: 3x3 neighbourhood: SA keeps the moving pixels and their edges before, or without, any training)
    init: str = "none"

    def __post_init__(self) -> None:
        _positive("sa", kernel_size=self.kernel_size)
        if self.init not in ("none", "motion"):
            raise ConfigError(f"sa.init must be 'none' or 'motion', got {self.init!r}")
        if self.init == "motion" and (not self.motion or self.hidden or self.kernel_size < 3):
            raise ConfigError("sa.init: motion needs sa.motion: true, sa.hidden: 0 and sa.kernel_size >= 3 (one conv over the motion maps)")
        if self.kernel_size % 2 != 1:
            raise ConfigError(f"sa.kernel_size must be odd (same padding), got {self.kernel_size}")
        _non_negative_int("sa", hidden=self.hidden)


@dataclass
class FRConfig:
    """Feature recovery: 3D U-Net on a downsampled clip guiding a full-resolution 3D-2D CNN."""

    base_channels: int = 16  #: width of the 3D U-Net (left branch); doubled at the lower level
    downsample: int = 2  #: the 3D U-Net branch runs at H/downsample x W/downsample
    frame_channels: int = 16  #: width of the per-frame 2D CNN (right branch)
    frame_layers: int = 3  #: 2D conv layers of the right branch after its first (3D) layer
    #: what fills a frame FA dropped: ``none`` (the CNN's output, as in the paper) or ``linear``
    #: (blend of the nearest kept frames, after the CNN filled their missing pixels)
    frame_fill: str = "none"

    def __post_init__(self) -> None:
        if self.frame_fill not in ("none", "linear"):
            raise ConfigError(f"fr.frame_fill must be 'none' or 'linear', got {self.frame_fill!r}")
        _positive(
            "fr",
            base_channels=self.base_channels,
            downsample=self.downsample,
            frame_channels=self.frame_channels,
            frame_layers=self.frame_layers,
        )


@dataclass
class ViTConfig:
    """Video ViT classifier (VideoMAE-style tubelet embedding, pre-norm blocks)."""

    tubelet: list[int] = field(default_factory=lambda: [2, 8, 8])  #: (t, h, w) of one token
    dim: int = 128
    depth: int = 4
    heads: int = 4
    mlp_ratio: float = 2.0
    dropout: float = 0.1
    num_classes: int = 12
    pos_embed: str = "learned"  #: "learned" or "sincos" (fixed)
    pool: str = "mean"  #: "mean" (mean of tokens, VideoMAE fine-tuning), "max" (token-wise max) or "cls"
    stem: str = "none"  #: "none", "diff" (append frame differences), "flow" (diff + normal-flow moments), "curl" (flow + their curl and divergence) or "conv"
    stem_channels: int = 16  #: output channels of the "conv" stem
    #: a linear path from clip-wide motion statistics (per token time step: mean motion-weighted
    #: curl and divergence) straight to the logits, beside the tokens: which way a small shape
    #: turns is one signed number per clip there, while the token path, trained from a model that
    #: had no such input, took >12k rotation examples without separating the pair
    motion_stats: bool = False

    def __post_init__(self) -> None:
        self.tubelet = [int(v) for v in self.tubelet]
        if len(self.tubelet) != 3 or min(self.tubelet) < 1:
            raise ConfigError(f"vit.tubelet must be three positive integers (t, h, w), got {self.tubelet}")
        _positive("vit", dim=self.dim, depth=self.depth, heads=self.heads, mlp_ratio=self.mlp_ratio,
                  num_classes=self.num_classes, stem_channels=self.stem_channels)
        if self.dim % self.heads:
            raise ConfigError(f"vit.dim ({self.dim}) must be divisible by vit.heads ({self.heads})")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"vit.dropout must be in [0, 1), got {self.dropout}")
        if self.pos_embed not in ("learned", "sincos"):
            raise ConfigError(f"vit.pos_embed must be 'learned' or 'sincos', got {self.pos_embed!r}")
        if self.pool not in ("mean", "max", "cls"):
            raise ConfigError(f"vit.pool must be 'mean', 'max' or 'cls', got {self.pool!r}")
        if self.stem not in ("none", "diff", "flow", "curl", "conv"):
            raise ConfigError(f"vit.stem must be 'none', 'diff', 'flow', 'curl' or 'conv', got {self.stem!r}")


@dataclass
class ModelConfig:
    """The whole STAE model: clip geometry, budgets and the four modules."""

    clip: ClipConfig = field(default_factory=ClipConfig)
    budgets: BudgetConfig = field(default_factory=BudgetConfig)
    fa: FAConfig = field(default_factory=FAConfig)
    sa: SAConfig = field(default_factory=SAConfig)
    fr: FRConfig = field(default_factory=FRConfig)
    vit: ViTConfig = field(default_factory=ViTConfig)

    def __post_init__(self) -> None:
        c = self.clip
        for k in self.budgets.frame:
            if k > c.frames:
                raise ConfigError(f"budgets.frame holds K={k} but the clip has only {c.frames} frames")
        for name, size, tub in zip(("frames", "height", "width"), (c.frames, c.height, c.width), self.vit.tubelet):
            if size % tub:
                raise ConfigError(f"clip.{name}={size} is not divisible by vit.tubelet entry {tub}")
        for section, ds in (("fa", self.fa.downsample), ("fr", self.fr.downsample)):
            if c.height % ds or c.width % ds:
                raise ConfigError(f"{section}.downsample={ds} must divide clip height {c.height} and width {c.width}")
        if (c.height // self.fr.downsample) % 2 or (c.width // self.fr.downsample) % 2:
            raise ConfigError("the FR U-Net halves the downsampled frame once: H/fr.downsample and W/fr.downsample must be even")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "ModelConfig":
        """Build from a plain dict (e.g. ``yaml.safe_load`` of config/model_default.yaml)."""
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise ConfigError(f"model config must be a mapping, got {type(data).__name__}")
        sections = {"clip": ClipConfig, "budgets": BudgetConfig, "fa": FAConfig, "sa": SAConfig,
                    "fr": FRConfig, "vit": ViTConfig}
        for key in data:
            if key not in sections:
                raise ConfigError(f"unknown key '{key}' in model config (known: {', '.join(sections)})")
        built = {name: _build(kind, data.get(name), name) for name, kind in sections.items()}
        return cls(**built)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        """Plain dict with the same keys as the YAML (lists, not tuples), round-trips with from_dict."""
        out: dict[str, Any] = {}
        for f in fields(self):
            section = getattr(self, f.name)
            out[f.name] = {g.name: _plain(getattr(section, g.name)) for g in fields(section)}
        return out


def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
