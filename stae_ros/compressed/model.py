"""The light h264-cd classifier: an I-frame stream, a spiking temporal modulator over the P-frames, late fusion.

In the spirit of the compressed-domain paper (dual encoder + Spiking Temporal Modulator), cut to a
size an edge can run for a few milliseconds per clip on a CPU:

- **I-frame stream**: three strided 3x3 convolutions (BN, ReLU) over the small RGB I-frame, global
  average pool -> ``width`` features (appearance: who and where);
- **P-frame stream (STM)**: per P-frame the motion field (dx, dy) and the residual energy are one
  3-channel map; three conv-LIF layers (conv + BN computed for every time step at once, then a
  leaky integrate-and-fire recurrence over the GOP with a learnable leak and threshold per layer,
  soft reset, and a fast-sigmoid surrogate gradient for the spike). The output is the paper's
  "accumulated analog membrane potential": the last layer's membrane potential averaged over
  ``segments`` stretches of the GOP and ``spatial`` x ``spatial`` regions of the frame. Why not
  one average: an average over the GOP cannot tell a jump (up, then down) from standing still,
  nor a rotation (opposite motion on opposite sides) from no motion;
- **fusion**: the two vectors concatenated, one hidden layer, the classes.

For small real sets (``CDConfig.centre``, ``CDConfig.track``, :class:`CDEnsemble`): the clip can be
centred on its motion before both streams, the head can read the actor's track, and several
networks of one configuration can answer as one.

Simplified from the paper, and why: no unified transformer, Conv-Folding, Multi-Modal Mixer or RRDB
(the ViT of depth 12 alone would cost more than the edge model this mode is meant to undercut); no
accumulation of P-frames back to the I-frame (the LIF membrane integrates the per-frame vectors
itself); motion and residual share one STM instead of two (half the cost, and on the camera's
GOPs the residual is a weak signal on its own).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

__all__ = ["CDConfig", "CDNet", "CDEnsemble", "LIF", "spike", "gop_tensors", "centre_on_motion", "actor_track", "RES_GAIN"]


class _FastSigmoidSpike(torch.autograd.Function):
    """Heaviside forward; derivative of the fast sigmoid ``x / (1 + slope|x|)`` backward."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, slope: float) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        ctx.slope = slope
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad / (1.0 + ctx.slope * x.abs()) ** 2, None


def spike(x: torch.Tensor, slope: float = 5.0) -> torch.Tensor:
    return _FastSigmoidSpike.apply(x, slope)


class LIF(nn.Module):
    """Leaky integrate-and-fire over dim 1 (time) of B,T,... currents, with soft reset.

    u_t = leak * u_(t-1) + I_t ; s_t = H(u_t - v_th) ; u_t <- u_t - s_t * v_th.
    ``leak`` (through a sigmoid) and ``v_th`` (through a softplus) are learnt, one per layer as in
    the paper's dynamic leak and threshold. Returns (spikes B,T,..., membrane potential B,T,...
    before the reset: the analog state the paper's modulator passes on).
    """

    def __init__(self, leak: float = 0.8, threshold: float = 1.0) -> None:
        super().__init__()
        self.leak_logit = nn.Parameter(torch.tensor(float(torch.logit(torch.tensor(leak)))))
        self.th_raw = nn.Parameter(torch.tensor(float(torch.log(torch.expm1(torch.tensor(threshold))))))

    def forward(self, current: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        leak = torch.sigmoid(self.leak_logit)
        th = nn.functional.softplus(self.th_raw) + 1e-3
        fast = not torch.is_grad_enabled()  # inference: a plain comparison, no autograd node per step
        u = torch.zeros_like(current[:, 0])
        spikes, potentials = [], []
        for t in range(current.shape[1]):
            u = current[:, t] + leak * u
            s = (u > th).to(u.dtype) if fast else spike((u - th) / th)
            potentials.append(u)
            u = u - s * th
            spikes.append(s)
        return torch.stack(spikes, 1), torch.stack(potentials, 1)


@dataclass
class CDConfig:
    """Sizes of the network; ``frames`` is the GOP length T (T-1 P-frames), ``grid`` the feature grid."""

    num_classes: int
    frames: int = 16
    grid_h: int = 28
    grid_w: int = 28
    iframe_size: int = 56
    width: int = 32  #: channels of the last layer of each stream (the first two have width/4, width/2)
    hidden: int = 128
    dropout: float = 0.2
    leak: float = 0.8
    threshold: float = 1.0
    #: P-frames summed per STM time step (the paper's accumulated P-frames): 15 P-frames / 3 = 5 steps.
    #: Why: the LIF recurrence is sequential, so its cost is per step, and one P-frame of a fast
    #: camera holds a motion of a pixel or two, below what the coarse grid resolves well
    accumulate: int = 1
    #: append the motion field's curl and divergence (fixed finite differences) to each P-frame map:
    #: rotation and approach/recede are exactly these, and a bar turning about one end shows them
    #: in a few cells only
    flow_derivatives: bool = False
    segments: int = 4  #: the last STM layer's potential is averaged over this many stretches of the GOP
    spatial: int = 2  #: ... and over spatial x spatial regions (order and layout reach the head)
    #: channels of I-frame context fed into the STM at every step (0 = none): the I-frame stream's
    #: first feature map, pooled onto the motion grid and concatenated to each P-frame map. Why: the
    #: I-frame says *where the actor is and how it lies* (a bright bar among muted clutter), and the
    #: motion field alone cannot tell the actor's vectors from the distractors', nor the turning
    #: direction of a bar about its end (that needs the bar's orientation next to its motion)
    iframe_context: int = 0
    #: append the motion accumulated since the I-frame (a running sum of the per-picture vectors,
    #: the paper's P-frames traced back to the I-frame) to each P-frame map: position relative to
    #: the I-frame, which a per-step field does not give once the LIF layers have thresholded it
    cumulative: bool = False
    #: roll each clip (motion grid and I-frame alike, wrapping around) so that the centroid of its
    #: motion energy over the GOP sits in the middle of the grid. Why: where the actor stands is not
    #: the action, and on a small real set (tens of clips per class) a network given the actor at
    #: every position learns the positions; centred, the limbs' motion lands on the same cells
    centre: bool = False
    #: give the head the actor's track: per P-frame, the shift of the motion-and-residual energy's
    #: centroid since the previous P-frame and that energy's spread (4 numbers per P-frame, in grid
    #: cells / grid size). Why: walk, run, skip, side and jump differ in speed and in how the body
    #: bobs, and at a few frames per second a fast actor moves beyond the encoder's motion search,
    #: so its vectors say less than where its changed pixels went
    track: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def steps(self) -> int:
        """STM time steps: the T-1 P-frames in groups of ``accumulate`` (the last group may be shorter)."""
        return -(-(self.frames - 1) // max(self.accumulate, 1))

    def __post_init__(self) -> None:
        if self.num_classes < 1 or self.frames < 2 or self.width < 4 or self.hidden < 1:
            raise ValueError(f"CDConfig needs num_classes >= 1, frames >= 2, width >= 4, hidden >= 1; got {self}")
        if self.accumulate < 1 or self.segments < 1 or self.segments > self.steps or self.spatial < 1:
            raise ValueError(f"CDConfig needs accumulate >= 1, 1 <= segments <= STM steps ({self.steps}) and "
                             f"spatial >= 1; got {self}")
        if min(self.grid_h, self.grid_w, self.iframe_size) < 4:
            raise ValueError(f"CDConfig grid and iframe_size must be >= 4; got {self}")
        if self.iframe_context < 0:
            raise ValueError(f"CDConfig iframe_context must be >= 0; got {self}")


def _conv(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout))


def _curl_div(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Central-difference curl (dv/dx - du/dy) and divergence (du/dx + dv/dy) of a flow B,T,H,W -> B,T,2,H,W."""
    def dx(a: torch.Tensor) -> torch.Tensor:
        return (nn.functional.pad(a, (0, 1, 0, 0), mode="replicate")[..., 1:] -
                nn.functional.pad(a, (1, 0, 0, 0), mode="replicate")[..., :-1]) * 0.5

    def dy(a: torch.Tensor) -> torch.Tensor:
        return (nn.functional.pad(a, (0, 0, 0, 1), mode="replicate")[..., 1:, :] -
                nn.functional.pad(a, (0, 0, 1, 0), mode="replicate")[..., :-1, :]) * 0.5

    return torch.stack([dx(v) - dy(u), dx(u) + dy(v)], dim=2)


class CDNet(nn.Module):
    """forward(iframe B,3,S,S float in [0,1], pframes B,T-1,3,gh,gw) -> logits B,C."""

    def __init__(self, cfg: CDConfig) -> None:
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        self.istream = nn.Sequential(_conv(3, w // 4, 2), nn.ReLU(inplace=True), _conv(w // 4, w // 2, 2),
                                     nn.ReLU(inplace=True), _conv(w // 2, w, 2), nn.ReLU(inplace=True),
                                     nn.AdaptiveAvgPool2d(1), nn.Flatten())
        cin = 3 + (2 if cfg.flow_derivatives else 0) + (2 if cfg.cumulative else 0)
        self.context = None
        if cfg.iframe_context > 0:  # a 1x1 projection of the I-frame stream's first feature map
            self.context = nn.Sequential(nn.Conv2d(w // 4, cfg.iframe_context, 1, bias=False),
                                         nn.BatchNorm2d(cfg.iframe_context), nn.ReLU(inplace=True))
            cin += cfg.iframe_context
        self.convs = nn.ModuleList([_conv(cin, w // 4, 1), _conv(w // 4, w // 2, 2), _conv(w // 2, w, 2)])
        self.lifs = nn.ModuleList([LIF(cfg.leak, cfg.threshold) for _ in self.convs])
        self.pool = nn.AdaptiveAvgPool3d((cfg.segments, cfg.spatial, cfg.spatial))
        n_track = 4 * (cfg.frames - 1) if cfg.track else 0
        self.head = nn.Sequential(nn.Linear(w + w * cfg.segments * cfg.spatial ** 2 + n_track, cfg.hidden),
                                  nn.ReLU(inplace=True), nn.Dropout(cfg.dropout),
                                  nn.Linear(cfg.hidden, cfg.num_classes))

    def stm(self, pframes: torch.Tensor, context: torch.Tensor | None = None) -> tuple[torch.Tensor, list[float]]:
        """The spiking temporal modulator: (the last layer's membrane potential averaged over
        segments x spatial x spatial regions of the GOP, B,w*segments*spatial^2; spike rate per layer).
        ``context`` (B,c,gh,gw, the I-frame's map on the motion grid) joins every step's input."""
        x = pframes
        if self.cfg.flow_derivatives:
            x = torch.cat([x, _curl_div(x[:, :, 0], x[:, :, 1])], dim=2)
        k = self.cfg.accumulate
        if k > 1:  # accumulated P-frames: motion and residual summed over k consecutive pictures
            pad = (-x.shape[1]) % k
            if pad:
                x = torch.cat([x, x.new_zeros(x.shape[0], pad, *x.shape[2:])], dim=1)
            x = x.view(x.shape[0], -1, k, *x.shape[2:]).sum(2)
        if self.cfg.cumulative:  # displacement since the I-frame, at the end of each step
            x = torch.cat([x, x[:, :, :2].cumsum(1)], dim=2)
        if context is not None:
            x = torch.cat([x, context.unsqueeze(1).expand(-1, x.shape[1], -1, -1, -1)], dim=2)
        b, t = x.shape[:2]
        rates = []
        potential = None
        for conv, lif in zip(self.convs, self.lifs):
            cur = conv(x.flatten(0, 1))
            cur = cur.view(b, t, *cur.shape[1:])
            x, potential = lif(cur)
            rates.append(float(x.detach().mean()))
        assert potential is not None
        return self.pool(potential.transpose(1, 2)).flatten(1), rates

    def prepare(self, iframe: torch.Tensor, pframes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """The inputs as the streams read them: centred (``cfg.centre``), plus the actor's track for the
        head (``cfg.track``). They depend on the configuration only, so an ensemble prepares them once."""
        extra = [actor_track(pframes)] if self.cfg.track else []
        if self.cfg.centre:
            iframe, pframes = centre_on_motion(iframe, pframes)
        return iframe, pframes, extra

    def forward(self, iframe: torch.Tensor, pframes: torch.Tensor) -> torch.Tensor:
        return self.classify_prepared(*self.prepare(iframe, pframes))

    def classify_prepared(self, iframe: torch.Tensor, pframes: torch.Tensor, extra: list[torch.Tensor]) -> torch.Tensor:
        """Logits from inputs that :meth:`prepare` made."""
        if self.context is None:
            motion, _ = self.stm(pframes)
            return self.head(torch.cat([self.istream(iframe), motion, *extra], dim=1))
        first = self.istream[:2](iframe)  # the first conv + ReLU, shared by both uses
        motion, _ = self.stm(pframes, self.context_map(first, pframes.shape[-2:]))
        return self.head(torch.cat([self.istream[2:](first), motion, *extra], dim=1))

    def context_map(self, first: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor | None:
        """The I-frame context on the motion grid (B,iframe_context,gh,gw) from the I-frame stream's
        first feature map, or None when the network has no context channels."""
        if self.context is None:
            return None
        return nn.functional.adaptive_avg_pool2d(self.context(first), tuple(grid))


class CDEnsemble(nn.Module):
    """Several CDNets of one configuration (trained from different seeds) answering as one: the log
    of their mean class probabilities. Why: on a small real set the seed alone moves a network by
    several points, and the networks cost little next to the parse they share."""

    def __init__(self, members: list[CDNet]) -> None:
        super().__init__()
        if not members or any(m.cfg != members[0].cfg for m in members):
            raise ValueError("a CDEnsemble needs one or more CDNets of the same configuration")
        self.members = nn.ModuleList(members)
        self.cfg = members[0].cfg

    def forward(self, iframe: torch.Tensor, pframes: torch.Tensor) -> torch.Tensor:
        prepared = self.members[0].prepare(iframe, pframes)  # one configuration: centring and track once
        probs = torch.stack([m.classify_prepared(*prepared).softmax(1) for m in self.members]).mean(0)
        return probs.clamp_min(1e-12).log()


def centre_on_motion(iframe: torch.Tensor, pframes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Roll each clip so the centroid of |motion| summed over its P-frames lands on the middle cell (h // 2, w // 2);
    the I-frame by the same fraction of its size. A clip without motion stays where it is."""
    b, _, _, gh, gw = pframes.shape
    energy = pframes[:, :, :2].abs().sum(dim=(1, 2))  # B,gh,gw
    total = energy.sum(dim=(1, 2))
    ys = torch.arange(gh, dtype=energy.dtype, device=energy.device)
    xs = torch.arange(gw, dtype=energy.dtype, device=energy.device)
    cy = (energy.sum(2) * ys).sum(1) / total.clamp_min(1e-6)
    cx = (energy.sum(1) * xs).sum(1) / total.clamp_min(1e-6)
    moving = total > 1e-3
    sy = torch.where(moving, torch.round(gh // 2 - cy), torch.zeros_like(cy)).long().tolist()
    sx = torch.where(moving, torch.round(gw // 2 - cx), torch.zeros_like(cx)).long().tolist()
    size_y, size_x = iframe.shape[-2:]
    p_out, i_out = [], []
    for k in range(b):
        p_out.append(pframes[k].roll((sy[k], sx[k]), dims=(-2, -1)))
        i_out.append(iframe[k].roll((round(sy[k] * size_y / gh), round(sx[k] * size_x / gw)), dims=(-2, -1)))
    return torch.stack(i_out), torch.stack(p_out)


def actor_track(pframes: torch.Tensor) -> torch.Tensor:
    """B,P,3,gh,gw -> B,4P: per P-frame the centroid's move since the previous P-frame (dy, dx) and
    the spread (std y, std x) of |motion| + residual energy, in units of the grid's size. A P-frame
    without energy keeps the previous centroid (no move) and has no spread."""
    b, p, _, gh, gw = pframes.shape
    energy = pframes[:, :, :2].abs().sum(2) + pframes[:, :, 2].abs()  # B,P,gh,gw
    mass = energy.sum(dim=(2, 3))
    ys = torch.arange(gh, dtype=energy.dtype, device=energy.device) / gh
    xs = torch.arange(gw, dtype=energy.dtype, device=energy.device) / gw
    w = energy / mass.clamp_min(1e-6)[..., None, None]
    cy, cx = (w.sum(3) * ys).sum(2), (w.sum(2) * xs).sum(2)  # B,P
    sy = ((w.sum(3) * (ys - cy[..., None]) ** 2).sum(2)).clamp_min(0).sqrt()
    sx = ((w.sum(2) * (xs - cx[..., None]) ** 2).sum(2)).clamp_min(0).sqrt()
    seen = mass > 1e-6
    cy, cx = _hold_last(cy, seen), _hold_last(cx, seen)
    dy = torch.diff(cy, dim=1, prepend=cy[:, :1])
    dx = torch.diff(cx, dim=1, prepend=cx[:, :1])
    return torch.stack([dy, dx, sy * seen, sx * seen], dim=2).flatten(1)


def _hold_last(v: torch.Tensor, seen: torch.Tensor) -> torch.Tensor:
    """Carry the last value that was seen forward over the steps that were not (B,P)."""
    out = v.clone()
    for t in range(v.shape[1]):
        prev = out[:, t - 1] if t else v[:, 0]
        out[:, t] = torch.where(seen[:, t], v[:, t], prev)
    return out


#: the residual energy (mean |luma error| / 255, typically 0.001..0.05) is multiplied by this before
#: the network, so that the motion (pixels / 4) and the residual start on comparable scales
RES_GAIN = 16.0


def gop_tensors(iframes: Any, mv: Any, residual: Any, device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Network inputs from stacked features: I-frames uint8 N,S,S,3 -> float N,3,S,S in [0,1];
    motion N,P,2,gh,gw and residual N,P,1,gh,gw -> pframes float N,P,3,gh,gw."""
    i = torch.as_tensor(iframes).to(device).permute(0, 3, 1, 2).float().div_(255.0)
    p = torch.cat([torch.as_tensor(mv).to(device).float(), torch.as_tensor(residual).to(device).float() * RES_GAIN], dim=2)
    return i, p
