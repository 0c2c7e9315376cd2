"""Node parameters: one table per node, declared with descriptors (description, type, range).

The tables are the single definition of each node's parameters: the nodes declare from them, the
YAML files in config/ carry exactly their keys (a test checks), and docs/ros.md lists them.
Ranges are enforced by rclpy itself through the descriptors (IntegerRange/FloatingPointRange);
`choices` and cross-field rules (K <= clip length) are checked by the nodes' on-set callbacks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from stae_ros.modes.registry import mode_names

__all__ = [
    "ParamSpec", "CODECS", "QOS_DEFAULTS", "CAMERA_PARAMS", "EDGE_PARAMS", "CONTROLLER_PARAMS", "LINK_EMULATOR_PARAMS", "NODE_PARAMS",
    "declare_params", "on_set_callback", "param_values",
]


@dataclass(frozen=True)
class ParamSpec:
    """One parameter: name, default (its type fixes the ROS type), why it exists, its limits."""

    name: str
    default: Any
    description: str
    min: float | int | None = None
    max: float | int | None = None
    choices: tuple[str, ...] | None = None
    read_only: bool = False  #: fixed after start (e.g. the model); changing it needs a restart

    def check(self, value: Any) -> str | None:
        """None if `value` is acceptable, else the reason it is not (choices; ranges for clarity)."""
        if isinstance(self.default, bool) != isinstance(value, bool):
            return f"{self.name} must be a {type(self.default).__name__}; got {value!r}"
        if isinstance(self.default, (int, float)) and not isinstance(self.default, bool):
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                return f"{self.name} must be a number; got {value!r}"
            if self.min is not None and value < self.min:
                return f"{self.name}={value} is below its minimum {self.min}"
            if self.max is not None and value > self.max:
                return f"{self.name}={value} is above its maximum {self.max}"
        if self.choices is not None and value not in self.choices:
            return f"{self.name}={value!r} is not one of {list(self.choices)}"
        return None


#: payload modes a camera can send and an edge decode (SemanticClip.codec): the registry's, in its order
CODECS: tuple[str, ...] = mode_names()


def _p(name: str, default: Any, description: str, **kw: Any) -> ParamSpec:
    return ParamSpec(name, default, description, **kw)


#: QoS defaults per topic (reliability, durability, depth), as stae_ros.ros.qos.TOPIC_QOS (kept here
#: too, for code that must not import rclpy: the bag writer records them as offered QoS)
QOS_DEFAULTS: dict[str, tuple[str, str, int]] = {
    "image_raw": ("best_effort", "volatile", 5),
    "semantic_clip": ("reliable", "volatile", 20),
    "action_label": ("reliable", "volatile", 10),
    "ground_truth": ("reliable", "volatile", 10),
    "link_stats": ("reliable", "volatile", 50),
    "budget_command": ("reliable", "transient_local", 1),
}


def _qos(topic: str, what: str) -> tuple[ParamSpec, ...]:
    """qos.<topic>.{reliability,durability,depth}: the QoS this node uses on `topic` (`what`: which endpoint)."""
    rel, dur, depth = QOS_DEFAULTS[topic]
    return (
        _p(f"qos.{topic}.reliability", rel, f"QoS reliability of {what}", choices=("reliable", "best_effort"),
           read_only=True),
        _p(f"qos.{topic}.durability", dur, f"QoS durability of {what}",
           choices=("volatile", "transient_local"), read_only=True),
        _p(f"qos.{topic}.depth", depth, f"QoS history depth (keep last) of {what}", min=1, max=1000,
           read_only=True),
    )


CAMERA_PARAMS: tuple[ParamSpec, ...] = (
    _p("model", "", "STAE checkpoint (.pt); empty = the package's models/stae_default.pt", read_only=True),
    _p("stream_id", "camera", "camera/stream id written into every SemanticClip", read_only=True),
    _p("frame_id", "camera", "header.frame_id of the clips (the camera's optical frame)", read_only=True),
    _p("source", "", "frame source: empty = subscribe the image_raw topic; 'synth' = synthetic test clips; "
       "a video file path; /dev/videoN; or a data set folder (HMDB51 layout, test split)", read_only=True),
    _p("source_fps", 30.0, "frames per second to read the own source at (0 = as fast as possible)", min=0.0, max=1000.0),
    _p("loop", True, "restart the own source (video file, data set) at its end"),
    _p("max_clips", 0, "stop publishing after this many clips (0 = never)", min=0, max=10_000_000),
    _p("synth_seed", 0, "seed of the synthetic data set whose test split source 'synth' plays (as `stae data synth`); "
       "clip i is class i mod 12", min=0, max=2**31 - 1, read_only=True),
    _p("synth_first_index", 150, "per-class index of the first test clip of that data set (its train_per_class; "
       "150 in config/train_synth.yaml, which trained the default model)", min=0, max=2**31 - 1, read_only=True),
    _p("clip_length", 0, "camera frames one clip spans (0 = the model's clip length T); sampled down to T frames",
       min=0, max=4096, read_only=True),
    _p("clip_stride", 0, "camera frames between the starts of consecutive clips (0 = clip_length: no overlap)",
       min=0, max=4096, read_only=True),
    _p("frame_sampling", "uniform", "how T frames are taken from a clip window: 'uniform' over it or the 'last' T",
       choices=("uniform", "last"), read_only=True),
    _p("k", 16, "frame budget K: frames kept per clip (1..T); changed at runtime by BudgetCommand "
       "(stae-px only: stae-latent and stae-roi264 always send K=T)", min=1, max=4096),
    _p("p", 0.1, "spatial budget p: fraction of pixels kept per kept frame (0, 1] "
       "(stae-px only: stae-latent and stae-roi264 always send p=1)", min=0.001, max=1.0),
    _p("codec", "stae-px", "payload mode: stae-px (kept pixels, budget K/p), stae-latent (learned latent), "
       "stae-roi264 (importance-map crop + libx264), h264 (whole clip, libx264) or local (label on the camera, "
       "no clip sent); the whole-clip modes send K=T, p=1 and ignore k/p. Changes at run time (BudgetCommand."
       "payload_mode), together with k, p and codec_settings, all or nothing", choices=CODECS),
    _p("codec_model", "", "model file of the starting codec (the edge must use the same one): the stae-latent / "
       "stae-roi264 codec file, empty = the shipped models/stae_latent_default.pt / models/stae_roi264_default.pt, "
       "the file's clip size setting the camera's (models/stae_latent_112.pt: 16x112x112); for h264 and stae-px "
       "the edge classifier file clips are labelled with (the edge's h264_model / px_model), empty = the STAE "
       "checkpoint's ViT", read_only=True),
    _p("codec_settings", "", "stae-roi264: JSON object of operating-point knobs over the model file's settings "
       "(crf, threshold, mode, frame_select, frame_stride, frame_threshold, frame_action, frame_qp, region_qp, region_grade), e.g. '{\"crf\": 33}'; empty = the "
       "file's; BudgetCommand.codec_settings sets it at runtime. stae-px and stae-latent have none"),
    _p("local_model", "", "model file of the local mode (the camera's own classifier, stae train mode local); "
       "empty = the shipped models/stae_local_default.pt; loaded when the camera first runs local", read_only=True),
    _p("fallback_deadline_s", 0.0, "deadline fallback: a sent clip whose label has not come back on action_label "
       "by this deadline (from the clip's capture) minus the local classifier's time is labelled on the camera "
       "with the local model, so a link outage costs accuracy, not labels (the edge's label, if it still comes, "
       "follows); 0 = off. Set it to the controller's deadline_s and the controller's fallback to true",
       min=0.0, max=3600.0, read_only=True),
    _p("value_bits", 6, "stae-px: bits per kept pixel value (8 = lossless; 6 = error <= 2 grey levels, under camera "
       "noise, ~25% fewer bytes; must match the profile the controller plans with)", min=1, max=8, read_only=True),
    _p("threads", 1, "torch CPU threads for selection (leave cores for capture and DDS)", min=1, max=256, read_only=True),
    _p("wait_for_subscribers", 0, "own source: read no frames until semantic_clip has this many subscribers "
       "(so the first clips are not sent to nobody)", min=0, max=1000),
    _p("wait_for_budget_s", 0.0, "send no clip until a BudgetCommand for this stream arrives (applied or refused) "
       "or this many seconds from start pass (own source: no frames read; image_raw: frames dropped), so a camera "
       "that starts or restarts beside a running controller never sends at a budget the controller would not pick; "
       "0 = start at once with codec, k and p", min=0.0, max=3600.0, read_only=True),
    _p("paused", False, "stop publishing clips (BudgetCommand MODE_PAUSE/MODE_RESUME set it too)"),
    _p("publish_truth", True, "publish the known label of each clip (synth, data set) on ground_truth"),
    _p("publish_original", False, "publish each clip's T model-sized frames as one rgb8 strip on original (for viz)"),
    _p("guidance", True, "take the edge's sensitivity maps (sensitivity_map topic) in modes that use them "
       "(stae-px: SA's pixel choice, stae-roi264: the coded region); false = always the camera's own map"),
    _p("guidance_max_age_clips", 12, "a sensitivity map older than this many clips is stale (own map used)",
       min=1, max=100_000),
    _p("guidance_max_age_s", 5.0, "a sensitivity map older than this many seconds is stale (own map used)",
       min=0.001, max=3600.0),
    _p("guidance_signature_distance", 0.05, "a sensitivity map is stale (scene changed) once the current clip's "
       "scene signature (mean colour per 4x4 cell) differs by more than this (0..1) from the camera's last clip "
       "when the map arrived", min=0.0, max=1.0),
    _p("guidance_weight", 2.0, "stae-px: weight of log(map) added to SA's pixel logits", min=0.0, max=100.0),
    _p("guidance_mix", 0.5, "stae-roi264: share of the map in the importance map (1 = replaces the motion map, "
       "the better choice where moving clutter draws the motion map off the action)",
       min=0.0, max=1.0),
    *_qos("image_raw", "the image_raw subscription"),
    *_qos("semantic_clip", "the semantic_clip publisher"),
    *_qos("ground_truth", "the ground_truth publisher"),
    *_qos("action_label", "the action_label publisher (labels of the local mode)"),
    *_qos("budget_command", "the budget_command subscription"),
)

EDGE_PARAMS: tuple[ParamSpec, ...] = (
    _p("model", "", "STAE checkpoint (.pt); empty = the package's models/stae_default.pt", read_only=True),
    _p("device", "auto", "torch device: 'auto' (CUDA when present), 'cpu', 'cuda' or 'cuda:N'", read_only=True),
    _p("latent_model", "", "stae-latent model file (the camera's codec_model); empty = the shipped "
       "models/stae_latent_default.pt; loaded on the first stae-latent clip", read_only=True),
    _p("roi_model", "", "stae-roi264 model file (the camera's codec_model: codec settings + the classifier "
       "fine-tuned on decoded roi clips); empty = the shipped models/stae_roi264_default.pt; loaded on the first "
       "stae-roi264 clip", read_only=True),
    _p("h264_model", "", "h264 classifier file (an edge classifier of `stae train` mode edge, larger than the camera "
       "could run; the camera's codec_model); empty = the STAE checkpoint's ViT classifies the decoded clip",
       read_only=True),
    _p("px_model", "", "stae-px classifier file (an edge classifier adapted to this STAE checkpoint's recovered "
       "clips by `stae train` mode stae-px-edge; the camera's codec_model); empty = the STAE checkpoint's ViT "
       "classifies FR's output", read_only=True),
    _p("threads", 0, "torch CPU threads (0 = torch's default)", min=0, max=256, read_only=True),
    _p("batch_max", 8, "most clips classified in one batched forward pass", min=1, max=256),
    _p("batch_period_ms", 5.0, "how often the waiting clips are collected into a batch", min=0.5, max=1000.0,
       read_only=True),
    _p("queue_limit", 64, "clips waiting on the edge beyond this are dropped, oldest first", min=1, max=100_000),
    _p("deadline_ms", 0.0, "a clip older than this when its batch starts (capture of its last frame to now) is "
       "dropped unlabelled, counted as stale and reported in LinkStats (ok=false); 0 = label every clip however "
       "late", min=0.0, max=3_600_000.0),
    _p("topk", 5, "entries in ActionLabel.topk_*", min=1, max=100),
    _p("publish_recovered", False, "publish each recovered clip as one rgb8 strip on recovered (for rviz/viz)"),
    _p("namespaces", "", "comma-separated robot namespaces this edge serves, e.g. 'robot1,robot2': for each, "
       "<ns>/semantic_clip in and <ns>/action_label, <ns>/link_stats, <ns>/recovered out (relative names); "
       "empty = the node's own semantic_clip, action_label, ...", read_only=True),
    _p("sensitivity_every", 0, "publish the classifier's input-gradient sensitivity map of every Nth labelled clip "
       "of each input on <ns>/sensitivity_map (modes that support it: stae-px, stae-roi264); a map costs the edge "
       "about 2.7 labels' time (docs/sensitivity.md); 0 = off", min=0,
       max=100_000),
    _p("sensitivity_grid", 8, "cells per side of the sensitivity map", min=1, max=64),
    *_qos("semantic_clip", "the semantic_clip subscription"),
    *_qos("action_label", "the action_label publisher"),
    *_qos("link_stats", "the link_stats publisher"),
)

CONTROLLER_PARAMS: tuple[ParamSpec, ...] = (
    _p("profile", "", "accuracy profile JSON (stae profile); empty = the package's profiles/modes.json (every mode)",
       read_only=True),
    _p("codec", "all", "the modes the controller may choose: all (every registered mode the profile has points "
       "of; BudgetCommand.payload_mode switches the camera) or one mode name (only that mode's points)",
       choices=("all",) + CODECS, read_only=True),
    _p("camera_preset", "", "camera host from config/camera_budgets.yaml whose FLOP rate times each point's camera "
       "half (points that record FLOPs); empty = the profile's measured ms", read_only=True),
    _p("clip_period_s", 0.5, "seconds between two clips of the camera, for the planner's look-ahead (a payload that "
       "holds the link past the next clip is charged for it); 0 = plan each clip alone", min=0.0, max=3600.0),
    _p("hysteresis", 0.005, "gain in expected useful accuracy needed to leave the current point", min=0.0, max=0.99),
    _p("significance", 3.0, "with the fallback: standard errors (over the rate ratios) by which a less accurate "
       "point's gain must exceed zero before the planner leaves a more accurate one; 0 = the hysteresis alone",
       min=0.0, max=100.0),
    _p("fallback", False, "the camera runs its deadline fallback (camera_node fallback_deadline_s = deadline_s): "
       "the planner then counts a late payload as worth the local classifier's accuracy, not 0, and probes a link "
       "it has no statistics of with its most accurate payload (a camera whose status says otherwise is warned "
       "about)", read_only=True),
    _p("stale_after_s", 5.0, "LinkStats older than this say nothing about the link now: the planner then decides "
       "as without statistics (local, probing the link now and then)", min=0.1, max=3600.0),
    _p("codec_model", "", "stae-latent: the model file camera and edge use (their codec_model / latent_model); "
       "only points measured with it are chosen; empty = the shipped models/stae_latent_default.pt",
       read_only=True),
    _p("stream_id", "", "camera the BudgetCommands are for (empty = all cameras)"),
    _p("deadline_s", 1.0, "completion-time deadline per clip in seconds (camera + link + edge)", min=0.001, max=3600.0),
    _p("margin", 0.1, "safety margin on the deadline (fraction kept free)", min=0.0, max=0.95),
    _p("initial_rate_bps", 0.0, "link rate assumed before any LinkStats (0 = wait for measurements)",
       min=0.0, max=1e12),
    _p("min_interval_s", 1.0, "least time between two budget changes (avoids flapping)", min=0.0, max=3600.0),
    _p("feedback_delay_s", 0.1, "time a LinkStats takes to reach this node once the edge published it (about 0 on "
       "the edge host, the downlink's delay on the robot); the edge's own time from receipt to LinkStats is measured "
       "and added: a clip the camera announced on clip_sent counts as overdue only after both", min=0.0, max=60.0),
    _p("decide_period_s", 0.5, "how often the planner re-decides", min=0.01, max=3600.0, read_only=True),
    *_qos("link_stats", "the link_stats subscription"),
    *_qos("budget_command", "the budget_command publisher"),
)

LINK_EMULATOR_PARAMS: tuple[ParamSpec, ...] = (
    _p("trace", "", "mahimahi delivery trace file; empty = a constant rate_bps link", read_only=True),
    _p("rate_bps", 10e6, "link rate in bits/s when no trace is given", min=1e3, max=1e12, read_only=True),
    _p("base_delay_ms", 0.0, "fixed one-way delay added to every message (ms)", min=0.0, max=60_000.0,
       read_only=True),
    _p("queue_limit_bytes", 0, "drop-tail queue size in bytes (0 = unlimited)", min=0, max=2**31 - 1, read_only=True),
    _p("overhead_bytes", 200, "bytes added to each payload for headers when shaping", min=0, max=65_536,
       read_only=True),
    _p("loss", 0.0, "probability that a message is lost on the link (counted and logged)", min=0.0, max=1.0),
    _p("reorder", 0.0, "probability that a message is held back reorder_delay_ms longer, so later ones overtake "
       "it", min=0.0, max=1.0),
    _p("reorder_delay_ms", 50.0, "extra delay of a reordered message (ms)", min=0.0, max=60_000.0),
    _p("duplicate", 0.0, "probability that a message is delivered twice (the edge must label it once)",
       min=0.0, max=1.0),
    _p("seed", 0, "seed of the loss / reorder / duplicate draws (the same seed repeats the same pattern)",
       min=0, max=2**31 - 1, read_only=True),
    *_qos("semantic_clip", "the semantic_clip_in subscription and the semantic_clip_out publisher"),
)

NODE_PARAMS: dict[str, tuple[ParamSpec, ...]] = {
    "camera_node": CAMERA_PARAMS,
    "edge_node": EDGE_PARAMS,
    "controller_node": CONTROLLER_PARAMS,
    "link_emulator_node": LINK_EMULATOR_PARAMS,
}


def _descriptor(spec: ParamSpec) -> Any:
    from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, ParameterType

    types = {bool: ParameterType.PARAMETER_BOOL, int: ParameterType.PARAMETER_INTEGER,
             float: ParameterType.PARAMETER_DOUBLE, str: ParameterType.PARAMETER_STRING}
    desc = spec.description
    if spec.choices:
        desc += f" (one of: {', '.join(spec.choices)})"
    d = ParameterDescriptor(name=spec.name, type=types[type(spec.default)], description=desc,
                            read_only=spec.read_only)
    if isinstance(spec.default, bool):
        return d
    if isinstance(spec.default, int) and spec.min is not None and spec.max is not None:
        d.integer_range = [IntegerRange(from_value=int(spec.min), to_value=int(spec.max), step=0)]
    elif isinstance(spec.default, float) and spec.min is not None and spec.max is not None:
        d.floating_point_range = [FloatingPointRange(from_value=float(spec.min), to_value=float(spec.max), step=0.0)]
    if spec.choices:
        d.additional_constraints = f"one of: {', '.join(spec.choices)}"
    return d


def declare_params(node: Any, specs: Iterable[ParamSpec]) -> dict[str, Any]:
    """Declare every parameter of `specs` on `node`; return their values (YAML/CLI overrides applied).

    Raises ValueError naming the parameter when an override breaks its `choices`.
    """
    values = {}
    for spec in specs:
        param = node.declare_parameter(spec.name, spec.default, _descriptor(spec))
        values[spec.name] = param.value
        reason = spec.check(param.value)
        if reason:
            raise ValueError(f"parameter {reason}")
    return values


def param_values(node: Any, specs: Iterable[ParamSpec]) -> dict[str, Any]:
    """Current values of the declared parameters."""
    return {s.name: node.get_parameter(s.name).value for s in specs}


def on_set_callback(specs: Iterable[ParamSpec], apply: Callable[[Mapping[str, Any]], str | None]) -> Callable:
    """An add_on_set_parameters_callback callback: checks each change against its spec, then
    calls ``apply({name: value})``, which returns None to accept or the reason to reject.

    Rejections come back to the caller (`ros2 param set` prints the reason); nothing is applied
    unless every parameter in the request is valid.
    """
    from rcl_interfaces.msg import SetParametersResult

    table = {s.name: s for s in specs}

    def callback(params: list) -> Any:
        changes: dict[str, Any] = {}
        for prm in params:
            spec = table.get(prm.name)
            if spec is None:  # e.g. use_sim_time: rclpy's own
                continue
            reason = spec.check(prm.value)
            if reason:
                return SetParametersResult(successful=False, reason=reason)
            changes[prm.name] = prm.value
        if changes:
            reason = apply(changes)
            if reason:
                return SetParametersResult(successful=False, reason=reason)
        return SetParametersResult(successful=True)

    return callback


def markdown_table(specs: Iterable[ParamSpec]) -> str:
    """The parameter table docs/ros.md shows for a node (a test keeps the two equal)."""

    def show(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        return repr(v)

    rows = ["| parameter | default | range / choices | runtime | description |", "|---|---|---|---|---|"]
    for s in specs:
        if s.choices:
            limits = ", ".join(s.choices)
        elif s.min is not None and s.max is not None:
            limits = f"{s.min} .. {s.max}"
        else:
            limits = ""
        desc = s.description.replace("|", "\\|")
        rows.append(f"| `{s.name}` | `{show(s.default)}` | {limits} | {'restart' if s.read_only else 'yes'} | {desc} |")
    return "\n".join(rows)


#: first lines of each node's config/<file>.yaml
_YAML_HEADERS: dict[str, str] = {
    "camera_node": "# camera_node parameters (robot side). Keys, types and ranges: stae_ros/ros/params.py and docs/ros.md.\n"
                   "# Used by launch/robot.launch.py, demo.launch.py, multi_robot.launch.py and `stae demo` (the same file).\n",
    "edge_node": "# edge_node parameters (edge/GPU host). Keys, types and ranges: stae_ros/ros/params.py and docs/ros.md.\n"
                 "# Used by launch/edge.launch.py, demo.launch.py, multi_robot.launch.py and `stae demo` (the same file).\n",
    "controller_node": "# controller_node parameters (edge host). Keys, types and ranges: stae_ros/ros/params.py and docs/ros.md.\n"
                       "# Used by launch/edge.launch.py, demo.launch.py, multi_robot.launch.py and `stae demo` (the same file).\n",
}


def yaml_config(node: str) -> str:
    """The text of config/<node's file>.yaml: every parameter at its default, described (a test keeps them equal).

    ``qos.<topic>.<policy>`` parameters nest as rcl reads them (qos: <topic>: <policy>: value).
    """
    import json

    def comment(s: ParamSpec) -> str:
        c = s.description
        if s.min is not None and s.max is not None:
            c += f" [{s.min}..{s.max}]"
        if s.choices and s.name.startswith("qos."):
            c += f" ({' | '.join(s.choices)})"
        if s.read_only:
            c += " (read-only: restart to change)"
        return c

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        return json.dumps(v) if isinstance(v, str) else repr(v)

    out = [_YAML_HEADERS[node].rstrip("\n"), "# '/**' applies to the node under any name and namespace.", "/**:",
           "  ros__parameters:"]
    qos: dict[str, list[tuple[str, ParamSpec]]] = {}
    for s in NODE_PARAMS[node]:
        if s.name.startswith("qos."):
            _, topic, policy = s.name.split(".")
            qos.setdefault(topic, []).append((policy, s))
            continue
        out += [f"    # {comment(s)}", f"    {s.name}: {value(s.default)}"]
    if qos:
        out += ["    # QoS of each topic (docs/ros.md, 'Topics'); a reader and a writer must agree", "    qos:"]
        for topic, items in qos.items():
            out.append(f"      {topic}:")
            for policy, s in items:
                out += [f"        # {comment(s)}", f"        {policy}: {value(s.default)}"]
    return "\n".join(out) + "\n"
