"""`stae bench controller`: trace-driven evaluation of the deadline-aware budget controller.

For each uplink trace (the mahimahi cellular traces in ../shared/traces, any ``--trace`` files, and
``--synthetic N`` random fading traces so the result is not tuned to three files) a stream of clips
(one every ``--interval`` s) is pushed through a :class:`~stae_ros.link.TraceShaper`. Policies:

* ``controller``: the :class:`~stae_ros.planning.Planner` chooses each clip's operating point from
  the :class:`~stae_ros.planning.LinkMonitor`'s outlook, fed only with deliveries whose LinkStats
  would have reached the camera by then (receive time + ``--feedback-ms``), plus the camera's own
  record of what it sent and has not seen acknowledged (the queue ahead of the new clip, and what a
  late clip says about the link);
* ``fixed K/p``: every profile point, always;
* ``oracle``: per clip, the most accurate point whose *actual* completion (asking the shaper,
  i.e. knowing the future link) meets the deadline, greedily, else the fastest.

Completion = (clip complete) -> camera compute -> link (queueing + transmission + base delay) ->
edge compute. Bytes per clip are drawn from a log-normal with the profile's mean and p95 (same
draws for every policy). Reported: deadline-hit rate, mean profile accuracy of the chosen points,
"useful accuracy" (accuracy counted only for clips that met the deadline), p50/p95 completion,
mean bytes. Output: JSON, a Markdown table and one PNG per trace.
"""

from __future__ import annotations

import argparse
import dataclasses
import heapq
import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..link import DeliveryTrace, TraceShaper, load_trace, save_trace, synthetic_fading_trace
from ..planning import DeadlineFallback, Due, LinkMonitor, Planner, RateEstimator
from ..planning.planner import point_label
from ..plotting import save_figure
from ..profiling.schema import OperatingPoint, Profile, load_profile
from ..resources import find_data_file

__all__ = ["register_args", "run", "simulate", "synthetic_profile", "point_name", "PolicyResult", "default_trace_dir"]

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]


def default_trace_dir() -> Path | None:
    """$STAE_TRACES, else ../shared/traces next to the repo, else None."""
    env = os.environ.get("STAE_TRACES")
    for cand in ([Path(env)] if env else []) + [REPO.parent / "shared" / "traces"]:
        if cand.is_dir():
            return cand
    return None


def synthetic_profile(frames: int = 16, height: int = 64, width: int = 64) -> Profile:
    """A stand-in profile shaped like stae-px's (bytes ~ K*p, accuracy falling with both budgets).

    Only used when no measured profile exists; results with it say so.
    """
    pts = []
    px = height * width * 3
    for k in (16, 8, 4, 2, 1):
        for p in (1.0, 0.5, 0.25, 0.1, 0.05):
            nbytes = 120 + k * p * px * 0.75 + k * height * width / 8 * min(1.0, 4 * p * (1 - p) + 0.05)
            acc = 0.93 - 0.045 * math.log2(16 / k) ** 1.3 - 0.035 * math.log2(1 / p) ** 1.2
            pts.append(OperatingPoint("stae-px", k, p, float(max(0.1, acc)), float(nbytes), float(nbytes * 1.15), 6.0 + 0.6 * k, 25.0, 0))
    return Profile(name="synthetic-standin", clip={"frames": frames, "height": height, "width": width, "channels": 3}, points=pts)


@dataclass
class PolicyResult:
    name: str
    completion_s: np.ndarray  #: per clip; inf when dropped
    accuracy: np.ndarray  #: profile accuracy of the chosen point per clip
    nbytes: np.ndarray
    k: np.ndarray
    p: np.ndarray
    t_clip: np.ndarray
    rate_est_bps: np.ndarray = field(default_factory=lambda: np.zeros(0))
    modes: list[str] = field(default_factory=list)  #: the mode of each clip's point
    labels: list[str] = field(default_factory=list)  #: each clip's point (mode and setting)
    p_hit: np.ndarray = field(default_factory=lambda: np.zeros(0))  #: controller: predicted P(on time) per clip
    fallback: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  #: clips labelled by the camera's deadline fallback
    edge_completion_s: np.ndarray | None = None  #: per clip, when its chosen point's own label came (before any fallback)

    def summary(self, deadline_s: float) -> dict[str, float]:
        hit = self.completion_s <= deadline_s
        finite = self.completion_s[np.isfinite(self.completion_s)]
        return {
            "clips": int(self.completion_s.size),
            "hit_rate": float(hit.mean()),
            "mean_accuracy": float(self.accuracy.mean()),
            "useful_accuracy": float((self.accuracy * hit).mean()),
            "p50_s": float(np.percentile(self.completion_s, 50)) if finite.size else math.inf,
            "p95_s": float(np.percentile(self.completion_s, 95)) if finite.size else math.inf,
            "dropped": int((~np.isfinite(self.completion_s)).sum()),
            "mean_bytes": float(self.nbytes.mean()),
            "switches": int(sum(a != b for a, b in zip(self.labels, self.labels[1:]))),
            "mode_switches": int(sum(a != b for a, b in zip(self.modes, self.modes[1:]))),
            "modes": {m: self.modes.count(m) for m in sorted(set(self.modes))},
            "fallbacks": int(self.fallback.sum()),
        }


def _size_factors(n: int, profile: Profile, seed: int) -> np.ndarray:
    """Per-clip standard normals; a point's bytes = mean * exp(sigma*z - sigma^2/2) (mean-preserving)."""
    return np.random.default_rng(seed).standard_normal(n)


def _bytes_for(pt: OperatingPoint, z: float) -> int:
    if pt.bytes_mean <= 0:
        return 0  # the camera labels the clip itself: nothing crosses the link
    ratio = pt.bytes_p95 / pt.bytes_mean if pt.bytes_mean > 0 else 1.0
    sigma = max(0.0, math.log(max(ratio, 1.0)) / 1.645)
    return max(1, int(round(pt.bytes_mean * math.exp(sigma * z - 0.5 * sigma * sigma))))


def simulate(
    trace: DeliveryTrace,
    profile: Profile,
    policy: str | OperatingPoint,
    *,
    deadline_s: float = 1.0,
    interval_s: float = 0.5,
    duration_s: float | None = None,
    margin: float = 0.1,
    hysteresis: float = 0.005,
    up_hold: int = 1,
    significance: float = 3.0,
    rate_window: int = 10,
    rate_quantile: float = 0.2,
    queue_limit_bytes: int | None = None,
    base_delay_ms: float = 20.0,
    feedback_ms: float = 20.0,
    seed: int = 0,
    start_s: float = 0.0,
    camera_gflops: float | None = None,
    stale_after_s: float = 5.0,
    fallback: bool = False,
) -> PolicyResult:
    """Run one policy ("controller", "oracle" or a fixed OperatingPoint) over one trace.

    ``camera_gflops`` is the target camera's effective rate: points that record their camera FLOPs
    then take FLOPs / rate on the camera (for every policy alike), the others their measured ms.
    The camera is one processor: a clip's camera half starts when the previous work is done.

    ``fallback``: the camera's deadline fallback (:class:`~stae_ros.planning.DeadlineFallback`),
    for every policy alike, when the profile has a point that sends nothing: a sent clip whose
    label has not reached the camera by the time the camera classifier must start is labelled on
    the camera, and that label counts when the edge's misses the deadline.
    """
    duration = trace.duration_s if duration_s is None else min(duration_s, trace.duration_s)
    n = max(1, int(duration / interval_s))
    z = _size_factors(n, profile, seed)
    shaper = TraceShaper(trace, queue_limit_bytes, base_delay_ms)
    comp = np.full(n, math.inf)
    acc = np.zeros(n)
    nb = np.zeros(n, dtype=np.int64)
    ks = np.zeros(n, dtype=np.int64)
    ps = np.zeros(n)
    modes: list[str] = []
    labels: list[str] = []
    p_hit = np.full(n, np.nan)
    rate_log = np.full(n, np.nan)
    tclip = start_s + np.arange(1, n + 1) * interval_s
    monitor = LinkMonitor(RateEstimator(window=rate_window, quantile=rate_quantile, base_delay_s=base_delay_ms / 1000.0),
                          feedback_delay_s=feedback_ms / 1000.0, stale_after_s=stale_after_s)
    # the planner counts a payload's bits in the packets the estimator measured the rate in
    planner = Planner(profile, deadline_s, margin=margin, hysteresis=hysteresis, up_hold=up_hold,
                      significance=significance, period_s=interval_s, camera_gflops=camera_gflops,
                      packet_bytes=monitor.estimator.packet_bytes, fallback=fallback)
    pending: list[tuple[float, int, int, float]] = []  # LinkStats in flight back: (arrives_s, seq, bytes, sent_s)
    local_pt = planner.fallback_point  # None without the fallback, or without a point that labels on the camera
    fb: DeadlineFallback[None] | None = (DeadlineFallback(deadline_s, planner.camera_s(local_pt))
                                         if local_pt is not None else None)
    fb_done = np.full(n, math.inf)  # when the camera's fallback label of each clip was ready (from its capture)
    camera_free = -math.inf  # the camera is one processor: its next work starts no earlier
    labels_back: list[tuple[float, int]] = []  # (when the edge's label reaches the camera, seq), a heap

    def labels_by(now_s: float) -> None:
        while labels_back and labels_back[0][0] <= now_s:
            fb.labelled(heapq.heappop(labels_back)[1])

    def fall_back(items: list[Due[None]], begin_s: float) -> None:
        """The camera labels ``items`` itself, one after the other, from ``begin_s`` on."""
        nonlocal camera_free
        for due in items:
            begin = max(begin_s, camera_free)
            if begin + fb.local_s > due.capture_s + deadline_s:
                fb.missed += 1
                continue
            camera_free = begin + fb.local_s
            fb_done[due.seq] = camera_free - due.capture_s

    def fallbacks_until(until_s: float) -> None:
        """Each pending clip whose label is still out when its fallback must start, in time order."""
        while fb is not None and (start := fb.next_start()) is not None and start <= until_s:
            labels_by(start)
            if fb.next_start() == start:
                fall_back(fb.due(start), start)

    for i in range(n):
        t_c = float(tclip[i])
        fallbacks_until(t_c)
        t_cam = max(t_c, camera_free)  # when this clip's camera half can start
        if policy == "controller":
            pending.sort()
            while pending and pending[0][0] <= t_c:
                arrives, seq, nbytes, sent = pending.pop(0)
                monitor.on_feedback(seq, nbytes, sent, arrives - feedback_ms / 1000.0)
            rate, queue, ratios = monitor.outlook(t_c, monitor.estimator.ratios.samples())
            bound = monitor.rate_bps(t_c)  # for the plot: the estimate capped by what a late clip proves
            rate_log[i] = bound if bound is not None else np.nan
            decision = planner.choose(rate, queue_s=queue, ratios=ratios)
            pt, p_hit[i] = decision.point, decision.p_hit
        elif policy == "oracle":
            actual: dict[int, float] = {}
            for cand in planner.points:
                t_s = t_cam + planner.camera_s(cand)
                cand_bytes = _bytes_for(cand, z[i])
                d = t_s if cand_bytes == 0 else shaper.predict(cand_bytes, t_s)
                actual[id(cand)] = math.inf if d is None else d + planner.edge_s(cand) - t_c
            pt = planner.oracle(actual)
        elif isinstance(policy, OperatingPoint):
            pt = policy
        else:
            raise ValueError(f"unknown policy {policy!r}")
        nbytes = _bytes_for(pt, z[i])
        if fb is not None and planner.camera_s(pt) > 0:
            # earliest deadline first: fallbacks that would come due during this clip's camera half go first
            labels_by(t_cam)
            fall_back(fb.due(t_cam, planner.camera_s(pt)), t_cam)
            t_cam = max(t_cam, camera_free)
        t_send = t_cam + planner.camera_s(pt)
        camera_free = t_send
        if nbytes == 0:
            comp[i] = t_send + planner.edge_s(pt) - t_c
        else:
            d = shaper.send(nbytes, t_send)
            if policy == "controller":
                monitor.on_sent(i, nbytes, t_send)
            if d is not None:
                comp[i] = d + planner.edge_s(pt) - t_c
                pending.append((d + feedback_ms / 1000.0, i, nbytes, t_send))
            if fb is not None:
                fb.sent(i, t_c, None)
                if math.isfinite(comp[i]):  # the edge's label reaches the camera a feedback delay after it is ready
                    heapq.heappush(labels_back, (t_c + comp[i] + feedback_ms / 1000.0, i))
        acc[i], nb[i], ks[i], ps[i] = pt.accuracy, nbytes, pt.k, pt.p
        modes.append(pt.codec)
        labels.append(point_label(pt))
    fallbacks_until(math.inf)
    rescued = (comp > deadline_s) & (fb_done <= deadline_s)
    own = comp.copy()
    if local_pt is not None:
        comp[rescued], acc[rescued] = fb_done[rescued], local_pt.accuracy
    name = policy if isinstance(policy, str) else point_name(policy)
    return PolicyResult(name, comp, acc, nb, ks, ps, tclip, rate_log, modes, labels, p_hit, rescued, own)


def point_name(pt: OperatingPoint) -> str:
    """'fixed K=8 p=0.25', or with the profile's own label for codecs whose knobs are not K/p."""
    label = pt.extra.get("label") if isinstance(pt.extra, dict) else None
    if label:
        return f"fixed {pt.codec} {label}"
    return f"fixed K={pt.k} p={pt.p:g}" + (f" {pt.codec}" if pt.codec != "stae-px" else "")


# ---------------------------------------------------------------------------------- plots
def plot_trace(path: Path, trace: DeliveryTrace, results: dict[str, PolicyResult], deadline_s: float, duration_s: float) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ctrl, orc = results["controller"], results["oracle"]
    fig, axes = plt.subplots(3, 1, figsize=(10, 8), sharex=True)
    start = int(max(0.0, math.floor(float(ctrl.t_clip[0])) - 1)) if ctrl.t_clip.size else 0  # --start
    w = trace.windowed_bps(1.0, start + duration_s)
    axes[0].step(np.arange(w.size)[start:], w[start:] / 1e6, where="post", label="trace capacity (1 s windows)", color="0.3")
    axes[0].plot(ctrl.t_clip, ctrl.rate_est_bps / 1e6, ".", ms=3, label="controller rate estimate", color="tab:blue")
    axes[0].set_ylabel("Mbps")
    axes[0].set_yscale("symlog", linthresh=0.1)
    axes[0].legend(loc="upper right", fontsize=8)
    axes[0].set_title(f"{trace.name}: mean {trace.mean_bps() / 1e6:.2f} Mbps, deadline {deadline_s:g} s")
    if len(set(ctrl.modes) | set(orc.modes)) > 1:
        # several modes: each clip's point (mode and setting), most accurate at the top
        point_acc: dict[str, float] = {}  # a point's accuracy (a clip the fallback labelled carries local's: max)
        for lab, a in zip([*ctrl.labels, *orc.labels], [*ctrl.accuracy, *orc.accuracy]):
            point_acc[lab] = max(float(a), point_acc.get(lab, 0.0))
        order = sorted(point_acc, key=point_acc.__getitem__)
        row = {lab: i for i, lab in enumerate(order)}
        axes[1].step(ctrl.t_clip, [row[lab] for lab in ctrl.labels], where="post", label="controller", color="tab:blue")
        axes[1].step(orc.t_clip, [row[lab] for lab in orc.labels], where="post", label="oracle", color="tab:green", alpha=0.6)
        axes[1].set_yticks(range(len(order)), order, fontsize=7)
        axes[1].set_ylabel("point")
    else:
        axes[1].step(ctrl.t_clip, ctrl.k, where="post", label="controller K", color="tab:blue")
        axes[1].step(orc.t_clip, orc.k, where="post", label="oracle K", color="tab:green", alpha=0.6)
        axes[1].set_ylabel("K (frames)")
        ax2 = axes[1].twinx()
        ax2.step(ctrl.t_clip, ctrl.p, where="post", color="tab:orange", label="controller p")
        ax2.set_ylabel("p", color="tab:orange")
    axes[1].legend(loc="upper left", fontsize=8)
    fixed = [r for n, r in results.items() if n.startswith("fixed")]
    best_fixed = max(fixed, key=lambda r: (r.accuracy * (r.completion_s <= deadline_s)).mean()) if fixed else None
    for r, color in ((ctrl, "tab:blue"), (orc, "tab:green"), (best_fixed, "tab:red")):
        if r is None:
            continue
        c = np.where(np.isfinite(r.completion_s), r.completion_s, np.nan)
        axes[2].plot(r.t_clip, c, ".", ms=3, color=color, label=r.name)
    if ctrl.fallback.any():
        axes[2].plot(ctrl.t_clip[ctrl.fallback], ctrl.completion_s[ctrl.fallback], "x", ms=5, color="k",
                     label="controller: labelled by the camera's fallback")
    axes[2].axhline(deadline_s, color="k", ls="--", lw=1, label="deadline")
    axes[2].set_yscale("log")
    axes[2].set_ylabel("completion (s)")
    axes[2].set_xlabel("time (s)")
    axes[2].legend(loc="upper right", fontsize=8)
    return save_figure(fig, path, 90)


# ---------------------------------------------------------------------------------- CLI
def register_args(parser: argparse.ArgumentParser) -> None:
    from stae_ros.cli.validate import float_in, int_in

    parser.add_argument("--profile", type=Path, action="append", default=[],
                        help="accuracy profile JSON, repeatable: the points of every mode, all measured with the same edge "
                             "model on the same clips (default: profiles/modes.json, every mode, as controller_node; else "
                             "profiles/default.json; else a synthetic stand-in)")
    parser.add_argument("--camera-preset", action="append", default=[], metavar="NAME",
                        help="camera host from config/camera_budgets.yaml whose FLOP rate times each point's camera half "
                             "(repeatable: one evaluation per preset; default: the points' measured ms on this host)")
    parser.add_argument("--trace", type=Path, action="append", default=[], help="extra mahimahi trace file (repeatable)")
    parser.add_argument("--trace-dir", type=Path, default=None, help="folder of *.up traces (default: $STAE_TRACES or ../shared/traces)")
    parser.add_argument("--synthetic", type=int_in(0, 1000), default=5, help="number of random fading traces to add (default 5)")
    parser.add_argument("--duration", type=float_in(0.0, 1e6, lo_open=True), default=300.0, help="seconds of each trace to replay (default 300, capped at the trace length)")
    parser.add_argument("--start", type=float_in(0.0), default=0.0,
                        help="second of each trace where the replay starts (default 0; e.g. a later stretch of a long trace)")
    parser.add_argument("--interval", type=float_in(0.0, 3600.0, lo_open=True), default=0.5, help="seconds between clips (default 0.5)")
    parser.add_argument("--deadline", type=float_in(0.0, 3600.0, lo_open=True), default=1.0, help="completion deadline per clip in seconds (default 1.0)")
    parser.add_argument("--margin", type=float_in(0.0, 0.99), default=0.1, help="planner safety margin (fraction of the deadline)")
    parser.add_argument("--hysteresis", type=float_in(0.0, 0.99), default=0.005, help="gain in expected useful accuracy needed to leave the current point (default 0.005)")
    parser.add_argument("--significance", type=float_in(0.0, 100.0), default=3.0,
                        help="with --fallback: standard errors (over the rate ratios) by which a less accurate point's "
                             "gain must exceed zero before the planner leaves a more accurate one; 0 = the hysteresis "
                             "alone (default 3)")
    parser.add_argument("--queue-bytes", type=int_in(1), default=None, help="drop-tail link queue in bytes (default unlimited, as mahimahi)")
    parser.add_argument("--base-delay-ms", type=float_in(0.0, 60000.0), default=20.0, help="one-way propagation delay (ms)")
    parser.add_argument("--feedback-ms", type=float_in(0.0, 60000.0), default=20.0, help="delay of LinkStats back to the camera (ms)")
    parser.add_argument("--stale-after-s", type=float_in(0.1, 3600.0), default=5.0,
                        help="link statistics older than this (nothing in flight) say nothing about the link now: the "
                             "camera then plans blind, local and a probe now and then (the controller node's "
                             "stale_after_s; default 5)")
    parser.add_argument("--fallback", action="store_true",
                        help="the camera's deadline fallback, for every policy alike: a sent clip whose label is not "
                             "back when the local classifier must start is labelled on the camera (camera_node "
                             "fallback_deadline_s; the planner then values a late payload at local's accuracy, as "
                             "controller_node with fallback: true)")
    parser.add_argument("--seed", type=int_in(0), default=0, help="seed of synthetic traces and payload sizes")
    parser.add_argument("--out", type=Path, default=Path("bench_results/controller"), help="output folder (JSON, Markdown, PNGs)")


def _collect_traces(args: argparse.Namespace) -> list[DeliveryTrace]:
    traces: list[DeliveryTrace] = []
    tdir = args.trace_dir if args.trace_dir is not None else default_trace_dir()
    if tdir is not None:
        traces += [load_trace(p) for p in sorted(Path(tdir).glob("*.up"))]
    traces += [load_trace(p) for p in args.trace]
    syn_dir = Path(args.out) / "synthetic_traces"
    for s in range(args.synthetic):
        rng = np.random.default_rng(1000 + args.seed * 100 + s)
        tr = synthetic_fading_trace(
            seed=1000 + args.seed * 100 + s,
            duration_s=min(args.duration, 180.0),
            mean_bps=float(10 ** rng.uniform(5.7, 7.0)),  # 0.5 .. 10 Mbps
            fade_rate_hz=float(rng.uniform(0.02, 0.1)),
            fade_depth=float(rng.uniform(0.03, 0.3)),
        )
        save_trace(tr, syn_dir / f"{tr.name}.up")
        traces.append(tr)
    return traces


def _known_modes_only(profile: Profile) -> Profile:
    """``profile`` without the points of modes this package does not have (as the controller node skips
    them: a camera could not realise them), saying which; none left is an error."""
    from ..modes.registry import mode_names

    unknown = sorted({pt.codec for pt in profile.points if pt.codec not in mode_names()})
    if not unknown:
        return profile
    kept = [pt for pt in profile.points if pt.codec in mode_names()]
    if not kept:
        raise SystemExit(f"stae bench controller: the profile has no point of a known mode (it has {', '.join(unknown)}; "
                         f"modes: {', '.join(mode_names())})")
    log.warning("profile points of unknown modes left out: %s", ", ".join(unknown))
    return dataclasses.replace(profile, points=kept)


def run(args: argparse.Namespace, progress: Callable[[Any], Any] | None = None) -> int:
    from ..profiling.schema import ProfileError, merge_profiles

    shipped = [find_data_file("", f"profiles/{name}") for name in ("modes.json", "default.json")]
    paths = list(args.profile) or [path for path in shipped if path.is_file()][:1]
    try:
        if paths:
            profile = merge_profiles([load_profile(p) for p in paths])
            prof_desc = ", ".join(str(p) for p in paths)
        else:
            profile = synthetic_profile()
            prof_desc = "synthetic stand-in (no profiles/modes.json or default.json)"
            log.warning("no profiles/modes.json or default.json: using a synthetic stand-in profile")
    except ProfileError as exc:
        raise SystemExit(f"stae bench controller: {exc}") from exc
    profile = _known_modes_only(profile)
    presets = _camera_presets(args.camera_preset)
    traces = _collect_traces(args)
    if not traces:
        where = f" ({args.trace_dir} is not a folder)" if args.trace_dir and not Path(args.trace_dir).is_dir() else ""
        raise SystemExit(f"stae bench controller: no traces{where}: pass --trace FILE, --trace-dir DIR or --synthetic N")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sim_kw = dict(
        deadline_s=args.deadline, interval_s=args.interval, duration_s=args.duration, margin=args.margin,
        hysteresis=args.hysteresis, significance=args.significance, queue_limit_bytes=args.queue_bytes,
        base_delay_ms=args.base_delay_ms, feedback_ms=args.feedback_ms, seed=args.seed, start_s=args.start, stale_after_s=args.stale_after_s,
        fallback=args.fallback,
    )
    reports: dict[str, Any] = {}
    md_parts = []
    for preset_name, gflops in presets:
        sub = out if len(presets) == 1 else out / preset_name
        report = evaluate(traces, profile, sim_kw, sub, camera_gflops=gflops)
        report["profile"] = prof_desc
        report["camera_preset"] = {"name": preset_name, "rate_gflops": gflops}
        reports[preset_name] = report
        md_parts.append(f"### Camera: {preset_name}\n\n" + markdown_table(report, args.deadline))
    full = reports if len(presets) > 1 else next(iter(reports.values()))
    (out / "controller.json").write_text(json.dumps(full, indent=2, default=float) + "\n")
    md = "\n".join(md_parts)
    (out / "controller.md").write_text(md)
    print(md)
    return 0


def _camera_presets(names: list[str]) -> list[tuple[str, float | None]]:
    """(name, effective GFLOP/s) per requested preset; [("this host (measured ms)", None)] when none is named."""
    if not names:
        return [("this host (measured ms)", None)]
    from ..profiling.budgets import BudgetError, camera_budget

    out = []
    for name in names:
        try:
            out.append((name, camera_budget(name).rate_gflops))
        except BudgetError as exc:
            raise SystemExit(f"stae bench controller: --camera-preset: {exc}") from exc
    return out


#: what the controller is held to on every trace (useful accuracy and hit rate as fractions)
TARGETS = {
    "vs_best_single_fixed": "useful accuracy >= the best single fixed choice's",
    "vs_best_fixed_per_trace": "useful accuracy >= the best fixed choice per trace (hindsight) - 0.01",
    "vs_oracle": "useful accuracy >= the oracle's - 0.02",
    "hit_rate_vs_oracle": "hit rate >= the oracle's - 0.01",
}


def _targets(ctrl: dict[str, float], oracle: dict[str, float], best_fixed: dict[str, float],
             single_fixed: dict[str, float]) -> dict[str, bool]:
    eps = 1e-9
    return {
        "vs_best_single_fixed": ctrl["useful_accuracy"] >= single_fixed["useful_accuracy"] - eps,
        "vs_best_fixed_per_trace": ctrl["useful_accuracy"] >= best_fixed["useful_accuracy"] - 0.01 - eps,
        "vs_oracle": ctrl["useful_accuracy"] >= oracle["useful_accuracy"] - 0.02 - eps,
        "hit_rate_vs_oracle": ctrl["hit_rate"] >= oracle["hit_rate"] - 0.01 - eps,
    }


def evaluate(traces: list[DeliveryTrace], profile: Profile, sim_kw: dict[str, Any], out: Path,
             camera_gflops: float | None = None) -> dict[str, Any]:
    """Every policy on every trace: per-trace summaries, the aggregate, the targets, and the plots."""
    from tqdm import tqdm

    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"settings": {k: v for k, v in sim_kw.items()}, "traces": {}}
    all_results: dict[str, dict[str, PolicyResult]] = {}
    for tr in tqdm(traces, desc="traces", unit="trace"):
        results: dict[str, PolicyResult] = {}
        for pol in ["controller", "oracle", *profile.points]:
            r = simulate(tr, profile, pol, camera_gflops=camera_gflops, **sim_kw)
            if r.name in results:  # two points with the same knobs: keep both
                r.name = f"{r.name} #{sum(n.startswith(r.name) for n in results) + 1}"
            results[r.name] = r
        all_results[tr.name] = results
        summ = {name: r.summary(sim_kw["deadline_s"]) for name, r in results.items()}
        fixed = {n: s for n, s in summ.items() if n.startswith("fixed")}
        best_fixed = max(fixed, key=lambda n: fixed[n]["useful_accuracy"])
        png = plot_trace(out / f"{tr.name}.png", tr, results, sim_kw["deadline_s"], min(sim_kw["duration_s"], tr.duration_s))
        report["traces"][tr.name] = {
            "trace": tr.summary(),
            "controller": summ["controller"],
            "oracle": summ["oracle"],
            "best_fixed": {"name": best_fixed, **fixed[best_fixed]},
            "fixed": fixed,
            "plot": str(png),
        }
    keys = ("hit_rate", "mean_accuracy", "useful_accuracy", "p50_s", "p95_s", "mean_bytes", "switches")
    agg: dict[str, dict[str, Any]] = {}
    for pol in ("controller", "oracle", "best_fixed"):
        rows = [t[pol] for t in report["traces"].values()]
        agg[pol] = {k: float(np.mean([r[k] for r in rows])) for k in keys}
    # the single fixed point that is best on average over all traces (what one would deploy without a controller)
    names = list(next(iter(report["traces"].values()))["fixed"])
    avg_fixed = {n: float(np.mean([t["fixed"][n]["useful_accuracy"] for t in report["traces"].values()])) for n in names}
    best_global = max(avg_fixed, key=avg_fixed.get)
    agg["best_single_fixed"] = {
        "name": best_global,
        **{k: float(np.mean([t["fixed"][best_global][k] for t in report["traces"].values()])) for k in keys},
    }
    for t in report["traces"].values():
        t["best_single_fixed"] = {"name": best_global, **t["fixed"][best_global]}
        t["targets"] = _targets(t["controller"], t["oracle"], t["best_fixed"], t["best_single_fixed"])
    agg_targets = _targets(agg["controller"], agg["oracle"], agg["best_fixed"], agg["best_single_fixed"])
    report["aggregate"] = agg
    report["targets"] = {
        "definitions": TARGETS,
        "aggregate": agg_targets,
        "traces_met": {k: int(sum(t["targets"][k] for t in report["traces"].values())) for k in TARGETS},
        "traces": len(report["traces"]),
    }
    report["calibration"] = calibration([r["controller"] for r in all_results.values()],
                                        sim_kw["deadline_s"] * (1.0 - sim_kw["margin"]))
    report["summary_plot"] = str(plot_summary(out / "controller_summary.png", report))
    return report


CALIBRATION_BINS = (0.0, 0.5, 0.8, 0.9, 0.95, 0.98, 0.995, 1.0 + 1e-9)


def calibration(results: list[PolicyResult], budget_s: float) -> list[dict[str, float]]:
    """Predicted P(on time) against the share of those clips that met the planning budget, by bin:
    the check that the planner's probabilities mean what they say (each about the chosen point's own
    label, not a fallback's)."""
    pred = np.concatenate([r.p_hit for r in results]) if results else np.zeros(0)
    hit = (np.concatenate([(r.completion_s if r.edge_completion_s is None else r.edge_completion_s) <= budget_s
                           for r in results]) if results else np.zeros(0, bool))
    ok = np.isfinite(pred)
    pred, hit = pred[ok], hit[ok]
    rows = []
    for lo, hi in zip(CALIBRATION_BINS, CALIBRATION_BINS[1:]):
        m = (pred >= lo) & (pred < hi)
        if m.any():
            rows.append({"from": lo, "to": min(hi, 1.0), "clips": int(m.sum()), "predicted": float(pred[m].mean()),
                         "measured": float(hit[m].mean())})
    return rows


def plot_summary(path: Path, report: dict[str, Any]) -> Path:
    """Useful accuracy and hit rate per trace for the controller, the oracle and the fixed choices."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(report["traces"])
    pols = (("controller", "tab:blue"), ("oracle", "tab:green"), ("best_fixed", "tab:red"), ("best_single_fixed", "tab:gray"))
    labels = {"best_fixed": "best fixed per trace (hindsight)", "best_single_fixed": "best single fixed"}
    x = np.arange(len(names))
    fig, axes = plt.subplots(2, 1, figsize=(max(8, 1.2 * len(names)), 7), sharex=True)
    for ax, key, title in ((axes[0], "useful_accuracy", "useful accuracy (correct and on time)"), (axes[1], "hit_rate", "deadline hit rate")):
        for j, (pol, color) in enumerate(pols):
            vals = [report["traces"][n][pol][key] for n in names]
            ax.bar(x + (j - 1.5) * 0.2, vals, 0.2, color=color, label=labels.get(pol, pol))
        ax.set_ylabel(title)
        lo = min(report["traces"][n][p][key] for n in names for p, _ in pols)
        ax.set_ylim(max(0.0, lo - 0.05), 1.0)
    handles, texts = axes[0].get_legend_handles_labels()
    fig.legend(handles, texts, fontsize=8, ncol=4, loc="upper center")
    axes[1].set_xticks(x, [n.replace(".up", "") for n in names], rotation=30, ha="right", fontsize=8)
    return save_figure(fig, path, 90, rect=(0, 0, 1, 0.95))


def _fmt_s(v: float) -> str:
    return "inf" if not math.isfinite(v) else f"{v:.2f}"


def markdown_table(report: dict[str, Any], deadline_s: float) -> str:
    def row_label(pol: str, s: dict[str, Any]) -> str:
        name = str(s.get("name", "")).replace("fixed ", "") or "hindsight"
        return {"best_fixed": f"best fixed per trace ({name})", "best_single_fixed": f"best single fixed ({name})"}.get(pol, pol)

    pols = ("controller", "oracle", "best_fixed", "best_single_fixed")
    lines = [
        f"Profile: {report['profile']}; deadline {deadline_s:g} s; one clip every {report['settings']['interval_s']:g} s.",
        "",
        "| trace | mean Mbps | policy | hit rate | mean acc | useful acc | mean bytes | switches | p50 s | p95 s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, t in report["traces"].items():
        mbps = t["trace"]["mean_bps"] / 1e6
        for pol in pols:
            s = t[pol]
            lines.append(
                f"| {name} | {mbps:.2f} | {row_label(pol, s)} | {s['hit_rate']:.3f} | {s['mean_accuracy']:.3f} | "
                f"{s['useful_accuracy']:.3f} | {s['mean_bytes']:.0f} | {s['switches']} | {_fmt_s(s['p50_s'])} | {_fmt_s(s['p95_s'])} |"
            )
    agg = report["aggregate"]
    lines += ["", "| all traces (mean) | hit rate | mean acc | useful acc | mean bytes | switches | p50 s | p95 s |",
              "|---|---|---|---|---|---|---|---|"]
    for pol in pols:
        s = agg[pol]
        lines.append(f"| {row_label(pol, s)} | {s['hit_rate']:.3f} | {s['mean_accuracy']:.3f} | {s['useful_accuracy']:.3f} | "
                     f"{s['mean_bytes']:.0f} | {s['switches']:.1f} | {_fmt_s(s['p50_s'])} | {_fmt_s(s['p95_s'])} |")
    tg = report.get("targets")
    if tg:
        lines += ["", "| controller target | traces met | all traces (mean) |", "|---|---|---|"]
        for key, text in tg["definitions"].items():
            lines.append(f"| {text} | {tg['traces_met'][key]} of {tg['traces']} | {'met' if tg['aggregate'][key] else 'missed'} |")
        cal = report.get("calibration") or []
        if cal:
            lines += ["", "| controller's P(on time) | clips | mean predicted | measured |", "|---|---|---|---|"]
            lines += [f"| {c['from']:g}–{c['to']:g} | {c['clips']} | {c['predicted']:.3f} | {c['measured']:.3f} |" for c in cal]
        modes = {m: n for t in report["traces"].values() for m, n in t["controller"].get("modes", {}).items()}
        if len(modes) > 1:
            lines += ["", "Modes the controller chose (clips, all traces): "
                      + ", ".join(f"{m} {sum(t['controller']['modes'].get(m, 0) for t in report['traces'].values())}" for m in sorted(modes))]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="stae bench controller", description=__doc__.splitlines()[0])
    register_args(parser)
    logging.basicConfig(level=logging.INFO)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
