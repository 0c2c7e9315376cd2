"""The stae-roi264 model file: what a camera and an edge that speak `stae-roi264` both load.

One file holds the codec settings (CRF, importance threshold, crop/fill, background block), the
importance map the camera uses (the hand-made motion map, or a trained `ImportanceNet` with its
weights), the clip shape, the class names, and the edge classifier fine-tuned on *decoded* roi
clips. Why one file: the classifier is only right for the artefacts of the settings it was
fine-tuned on (grey outside the crop window, CRF blocking), so the two must travel together.

Build the shipped file (fine-tunes the payload study's raw-clip `PixelClassifier` on crop
CRF 33 + 38 decoded training clips; ~6 min on one busy CPU thread):

    python -m stae_ros.roi.node_model --out models/stae_roi264_default.pt --crf 38 --train-crfs 33,38 --steps 200
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..cli.validate import float_in, int_in
from ..torchfile import read_torch_file
from .classifier_file import classifier_from_record, classifier_record, record_shape
from .codec import RoiCodec, RoiLimits, RoiSettings
from .errors import RoiError
from .h264 import X264Settings
from .importance import ImportanceNet, motion_importance, motion_importance_fa

__all__ = ["MODEL_FORMAT", "ROI_KNOBS", "ROI_TEXT_KNOBS", "RoiModelError", "RoiModel", "save_roi_model", "load_roi_model", "settings_to_dict",
           "settings_from_dict"]

log = logging.getLogger(__name__)

MODEL_FORMAT = "stae-roi264-model/1"
IMPORTANCE_KINDS = ("motion", "learned")
#: the operating-point knobs a camera can change at run time (profile points' ``extra``,
#: BudgetCommand.codec_settings); the rest of the settings stay the model file's
ROI_KNOBS = ("crf", "threshold", "mode", "frame_select", "frame_stride", "frame_threshold", "frame_action", "frame_qp",
             "region_qp", "region_grade")
#: the knobs that take text; the others are numbers
ROI_TEXT_KNOBS = ("mode", "frame_action", "frame_select", "region_grade")
FRAME_ACTIONS = ("hold", "zones")
REGION_GRADES = ("binary", "graded")
FRAME_SELECTS = ("", "motion", "uniform")


class RoiModelError(RoiError):
    """A stae-roi264 model file is missing, of another format, or inconsistent."""


def settings_to_dict(s: RoiSettings) -> dict[str, Any]:
    """Plain types only, so the file loads with torch.load(weights_only=True)."""
    d = asdict(s)
    d["x264"] = asdict(s.x264)
    return d


def settings_from_dict(d: dict[str, Any]) -> RoiSettings:
    d = dict(d)
    x = X264Settings(**d.pop("x264", {}))
    s = RoiSettings(**d, x264=x)
    if s.mode not in ("fill", "crop"):
        raise RoiModelError(f"roi settings mode {s.mode!r}; use 'fill' or 'crop'")
    if s.background not in ("mean", "grey"):
        raise RoiModelError(f"roi settings background {s.background!r}; use 'mean' or 'grey'")
    if not (math.isfinite(s.threshold) and 0.0 <= s.threshold <= 1.0):
        raise RoiModelError(f"roi settings threshold {s.threshold} is outside [0, 1]")
    if not (0.0 <= float(x.crf) <= 51.0):
        raise RoiModelError(f"roi settings CRF {x.crf} is outside libx264's 0..51")
    if s.frame_action not in FRAME_ACTIONS:
        raise RoiModelError(f"roi settings frame_action {s.frame_action!r}; use one of {list(FRAME_ACTIONS)}")
    if not (0 <= int(s.frame_qp) <= 51):
        raise RoiModelError(f"roi settings frame_qp {s.frame_qp} is outside libx264's 0..51")
    if isinstance(s.region_qp, bool) or not isinstance(s.region_qp, int) or not (0 <= s.region_qp <= 51):
        raise RoiModelError(f"roi settings region_qp {s.region_qp!r} is not a whole number in libx264's 0..51")
    if s.region_grade not in REGION_GRADES:
        raise RoiModelError(f"roi settings region_grade {s.region_grade!r}; use one of {list(REGION_GRADES)}")
    return s


@dataclass
class RoiModel:
    """Loaded model file: codec settings + importance map (camera) and classifier (edge)."""

    settings: RoiSettings
    importance_spec: dict[str, Any]  #: {"kind": "motion", "block", "dilate"} or {"kind": "learned", "block", "width"}
    shape: tuple[int, int, int]  #: T, H, W of the clips it codes and classifies
    class_names: list[str]
    classifier: torch.nn.Module  #: decoded clip B,3,T,H,W in [0,1] -> logits B,num_classes
    meta: dict[str, Any] = field(default_factory=dict)
    importance_net: ImportanceNet | None = None
    path: Path | None = None

    def importance(self, clip: np.ndarray) -> np.ndarray:
        """uint8 T,H,W,3 -> block importance T,hb,wb in [0,1] (what RoiCodec.encode takes)."""
        if self.importance_net is not None:
            return self.importance_net.importance(clip)
        spec = self.importance_spec
        block, dilate = int(spec["block"]), int(spec.get("dilate", 1))
        if spec.get("frame_select"):  # FA: the same map, gated per frame (frames below it are held)
            return motion_importance_fa(clip, block, dilate, frame_threshold=self.settings.frame_threshold,
                                        keep_threshold=self.settings.threshold, select=spec["frame_select"],
                                        stride=int(spec.get("frame_stride", 2)))
        return motion_importance(clip, block, dilate)

    def with_knobs(self, knobs: Mapping[str, Any]) -> RoiModel:
        """This model with an operating point's knobs (`ROI_KNOBS`) applied to the file's own
        settings; knobs not given keep the file's values. The classifier is shared, not copied.

        Why: the planner's roi points differ only in these knobs, so a camera realises any of them
        from one model file; every problem is a RoiModelError naming the knob.
        """
        unknown = sorted(set(knobs) - set(ROI_KNOBS))
        if unknown:
            raise RoiModelError(f"unknown stae-roi264 setting(s) {unknown}; known: {list(ROI_KNOBS)}")

        def number(name: str, lo: float, hi: float) -> float | None:
            if name not in knobs:
                return None
            v = knobs[name]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (lo <= float(v) <= hi):
                raise RoiModelError(f"stae-roi264 setting {name}={v!r} must be a number in [{lo:g}, {hi:g}]")
            return float(v)

        crf, threshold = number("crf", 0.0, 51.0), number("threshold", 0.0, 1.0)
        frame_threshold, stride = number("frame_threshold", 0.0, 1.0), number("frame_stride", 1, 64)
        frame_qp, region_qp = number("frame_qp", 0, 51), number("region_qp", 0, 51)
        for name, value in (("frame_stride", stride), ("frame_qp", frame_qp), ("region_qp", region_qp)):
            if value is not None and value != int(value):
                raise RoiModelError(f"stae-roi264 setting {name}={knobs[name]!r} must be a whole number")
        def choice(name: str, current: str, allowed: tuple[str, ...]) -> str:
            v = knobs.get(name, current)
            if v not in allowed:
                raise RoiModelError(f"stae-roi264 setting {name}={v!r} is not one of {list(allowed)}")
            return v

        action = choice("frame_action", self.settings.frame_action, FRAME_ACTIONS)
        select = choice("frame_select", self.importance_spec.get("frame_select", ""), FRAME_SELECTS)
        mode = choice("mode", self.settings.mode, ("fill", "crop"))
        grade = choice("region_grade", self.settings.region_grade, REGION_GRADES)
        settings = replace(
            self.settings,
            threshold=self.settings.threshold if threshold is None else threshold,
            frame_threshold=self.settings.frame_threshold if frame_threshold is None else frame_threshold,
            mode=mode,
            frame_action=action,
            frame_qp=self.settings.frame_qp if frame_qp is None else int(frame_qp),
            region_qp=self.settings.region_qp if region_qp is None else int(region_qp),
            region_grade=grade,
            x264=self.settings.x264 if crf is None else replace(self.settings.x264, crf=crf),
        )
        spec = dict(self.importance_spec)
        if select:
            if self.importance_net is not None:
                raise RoiModelError("frame_select needs the motion importance map; this model's map is learned")
            if not 0.0 < settings.frame_threshold <= 1.0:
                raise RoiModelError(f"frame_select {select!r} needs frame_threshold in (0, 1]; got {settings.frame_threshold:g}")
            spec["frame_select"] = select
            spec["frame_stride"] = int(stride if stride is not None else spec.get("frame_stride", 2))
        else:
            spec.pop("frame_select", None)
            spec.pop("frame_stride", None)
        return replace(self, settings=settings, importance_spec=spec)

    def codec(self, limits: RoiLimits | None = None) -> RoiCodec:
        """A RoiCodec with this file's settings; decoder limits default to exactly this clip size."""
        t, h, w = self.shape
        return RoiCodec(self.settings, limits or RoiLimits(max_frames=t, max_side=max(h, w)))


def save_roi_model(path: str | Path, settings: RoiSettings, importance_spec: dict[str, Any],
                   shape: tuple[int, int, int], class_names: list[str], classifier: torch.nn.Module,
                   meta: dict[str, Any] | None = None, importance_net: ImportanceNet | None = None) -> Path:
    """Write one model file. `classifier` is a `PixelClassifier` (latent encoder + head, no quantiser)
    or the edge model's ViT (`classifier_file.EdgeViTClassifier`)."""
    kind = importance_spec.get("kind")
    if kind not in IMPORTANCE_KINDS:
        raise RoiModelError(f"importance kind {kind!r}; use one of {IMPORTANCE_KINDS}")
    if (kind == "learned") != (importance_net is not None):
        raise RoiModelError("a 'learned' importance map needs its ImportanceNet (and a 'motion' map none)")
    try:
        record = classifier_record(classifier)
    except ValueError as exc:
        raise RoiModelError(str(exc)) from exc
    blob: dict[str, Any] = {
        "format": MODEL_FORMAT,
        "clip": {"frames": int(shape[0]), "height": int(shape[1]), "width": int(shape[2]), "channels": 3},
        "class_names": list(class_names),
        "settings": settings_to_dict(settings),
        "importance": dict(importance_spec),
        "classifier": record,
        "meta": dict(meta or {}),
    }
    if importance_net is not None:
        blob["importance"]["width"] = int(importance_net.net[0].out_channels)
        blob["importance"]["block"] = int(importance_net.block)
        blob["importance_state_dict"] = importance_net.state_dict()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(blob, path)
    return path


def make_classifier(latent_config: dict[str, Any]) -> torch.nn.Module:
    """An untrained PixelClassifier of the payload studies for this latent config (remembered on it)."""
    from stae_ros.latent.model import LatentConfig, LatentModel

    from .classifier import PixelClassifier

    clf = PixelClassifier(LatentModel(LatentConfig(**latent_config)))
    clf.latent_config = dict(latent_config)
    return clf.eval()


def load_roi_model(path: str | Path) -> RoiModel:
    """Read and check a file written by `save_roi_model`; every problem is a RoiModelError naming
    the file and the field (missing, truncated or foreign files included)."""
    path = Path(path)
    blob = read_torch_file(path, RoiModelError, "stae-roi264 model file")
    if not isinstance(blob, dict) or blob.get("format") != MODEL_FORMAT:
        found = blob.get("format") if isinstance(blob, dict) else type(blob).__name__
        raise RoiModelError(f"{path} is not a {MODEL_FORMAT} file (format {found!r})")
    where = ["format"]  # the field being checked, for the error message

    def at(name: str) -> None:
        where[0] = name

    try:
        return _roi_model_from_blob(path, blob, at)
    except RoiModelError:
        raise
    except Exception as exc:  # noqa: BLE001 - KeyError, TypeError, ValueError, RuntimeError of a bad field
        raise RoiModelError(f"{path}: field {where[0]!r} is missing or malformed: {type(exc).__name__}: {exc}") from exc


def _positive_int(value: Any, name: str, path: Path) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < 1:
        raise RoiModelError(f"{path}: field {name!r} is {value!r}; expected a positive integer")
    return int(value)


def _roi_model_from_blob(path: Path, blob: dict[str, Any], at) -> RoiModel:
    at("clip")
    clip = blob["clip"]
    shape = tuple(_positive_int(clip[k], f"clip.{k}", path) for k in ("frames", "height", "width"))
    at("class_names")
    if not isinstance(blob["class_names"], (list, tuple)):
        raise RoiModelError(f"{path}: field 'class_names' is a {type(blob['class_names']).__name__}, not a list")
    names = [str(n) for n in blob["class_names"]]
    at("settings")
    try:
        settings = settings_from_dict(blob["settings"])
    except RoiModelError as exc:
        raise RoiModelError(f"{path}: field 'settings': {exc}") from exc
    at("importance")
    spec = dict(blob["importance"])
    at("classifier")
    cls = dict(blob["classifier"])
    cls_shape, cls_classes = record_shape(cls)  # a PixelClassifier's latent_config or the edge ViT's model_config
    if spec.get("kind") not in IMPORTANCE_KINDS:
        raise RoiModelError(f"{path}: importance kind {spec.get('kind')!r}; known: {IMPORTANCE_KINDS}")
    block = _positive_int(spec.get("block", 0), "importance.block", path)
    if shape[1] % block or shape[2] % block:
        raise RoiModelError(f"{path}: importance block {block} does not divide the {shape[1]}x{shape[2]} frame")
    if cls_shape != shape:
        raise RoiModelError(f"{path}: classifier is for clips {cls_shape[0]}x{cls_shape[1]}x{cls_shape[2]}, "
                            f"the codec for {shape}")
    if cls_classes != len(names) or not names:
        raise RoiModelError(f"{path}: classifier has {cls_classes} classes, the file names {len(names)}")
    try:
        at("classifier.state_dict")
        classifier = classifier_from_record(cls)
    except (RuntimeError, TypeError, KeyError, ValueError, AttributeError) as exc:
        raise RoiModelError(f"{path}: classifier weights do not fit its config: {exc}") from exc
    net = None
    if spec["kind"] == "learned":
        at("importance_state_dict")
        try:
            net = ImportanceNet(width=_positive_int(spec.get("width"), "importance.width", path), block=block)
            net.load_state_dict(blob["importance_state_dict"])
        except (RuntimeError, KeyError, TypeError, ValueError, RoiError) as exc:
            raise RoiModelError(f"{path}: learned importance map does not load: {exc}") from exc
        net.eval()
    at("meta")
    meta = blob.get("meta", {})
    return RoiModel(settings, spec, shape, names, classifier.eval(), dict(meta) if isinstance(meta, dict) else {}, net, path)


# ---- building the shipped file --------------------------------------------------------------


def _transcode(codec: RoiCodec, importance, clips: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    out = np.empty_like(clips)
    sizes = np.zeros(len(clips), np.int64)
    for i, clip in enumerate(clips):
        data = codec.encode(clip, importance(clip))
        sizes[i] = len(data)
        out[i] = codec.decode(data)
    return out, sizes


def build(out: Path, crf: float, train_crfs: list[float], steps: int, threshold: float = 0.5, mode: str = "crop",
          block: int = 8, dilate: int = 1, bg_block: int = 16, lr: float = 1e-3, batch: int = 16, seed: int = 0,
          data_dir: str = "out/payloads", eval_crfs: list[float] | None = None) -> dict[str, Any]:
    """Fine-tune the payload study's raw-clip classifier on decoded roi clips and write the model file.

    Same recipe as a `stae_ros.roi.evaluate` operating point (warm start = the cached raw-clip
    classifier, AdamW lr 1e-3, cosine), but on the decoded training clips of several CRFs at once,
    so one classifier serves every CRF the camera might be set to.
    """
    from .baseline import StudyConfig, base_classifier
    from .classifier import clone, evaluate_classifier, train_classifier
    from .dataset import load_payload_data

    t_start = time.time()
    torch.set_num_threads(1)
    data = load_payload_data(data_dir)
    study = StudyConfig(out_dir=data_dir, seed=seed)
    base = base_classifier(data, study)  # cached: out/payloads/latent_base_0.0001.pt
    t, h, w = data.train_clips.shape[1:4]
    imp = lambda clip: motion_importance(clip, block, dilate)  # noqa: E731

    def codec_at(c: float) -> RoiCodec:
        return RoiCodec(RoiSettings(threshold=threshold, background="mean", bg_block=bg_block, mode=mode,
                                    x264=X264Settings(crf=float(c))))

    xs, ys = [], []
    for c in train_crfs:
        t0 = time.time()
        x, _ = _transcode(codec_at(c), imp, data.train_clips)
        xs.append(x)
        ys.append(data.train_labels)
        log.info("train clips at CRF %g transcoded in %.0f s", c, time.time() - t0)
    xtr, ytr = np.concatenate(xs), np.concatenate(ys)
    del xs
    model = clone(base)
    torch.manual_seed(seed)
    t0 = time.time()
    train_classifier(model, xtr, ytr, steps, batch, lr=lr, seed=seed + 1, desc="roi classifier")
    train_s = time.time() - t0
    del xtr
    results = {}
    for c in sorted(set(eval_crfs or []) | set(train_crfs) | {crf}):
        xte, sizes = _transcode(codec_at(c), imp, data.test_clips)
        results[f"{c:g}"] = {
            "accuracy": evaluate_classifier(model, xte, data.test_labels),
            "accuracy_raw_clip_classifier": evaluate_classifier(base, xte, data.test_labels),
            "bytes_mean": float(sizes.mean()),
            "bytes_p95": float(np.percentile(sizes, 95)),
        }
        log.info("CRF %g: %s", c, results[f"{c:g}"])
    from stae_ros.latent.model import LatentConfig

    lcfg = LatentConfig(frames=t, height=h, width=w, num_classes=data.num_classes).to_dict()
    clf = make_classifier(lcfg)
    clf.load_state_dict(model.state_dict())
    meta = {
        "command": "python -m stae_ros.roi.node_model " + " ".join(sys.argv[1:]),
        "recipe": (f"PixelClassifier warm start {study.base_model} (raw clips, 600 steps), fine-tuned {steps} steps "
                   f"(AdamW lr {lr:g}, batch {batch}, cosine, seed {seed}) on the decoded {mode} roi training clips at "
                   f"CRF {', '.join(f'{c:g}' for c in train_crfs)} (motion map block {block}, dilate {dilate}, "
                   f"threshold {threshold:g})"),
        "data": f"synthetic seed 0, {len(data.train_labels)} train / {len(data.test_labels)} test clips "
                f"(stae_ros.roi.dataset.load_payload_data)",
        "test": results,
        "train_crfs": list(train_crfs),
        "finetune_s": round(train_s, 1),
        "wall_s": round(time.time() - t_start, 1),
        "load1": os.getloadavg()[0],
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    settings = RoiSettings(threshold=threshold, background="mean", bg_block=bg_block, mode=mode,
                           x264=X264Settings(crf=float(crf)))
    save_roi_model(out, settings, {"kind": "motion", "block": block, "dilate": dilate}, (t, h, w),
                   data.class_names, clf, meta)
    log.info("wrote %s (%d bytes) in %.0f s", out, out.stat().st_size, time.time() - t_start)
    return meta


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m stae_ros.roi.node_model", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("models/stae_roi264_default.pt"), help="model file to write")
    ap.add_argument("--crf", type=float_in(0.0, 51.0), default=38.0, help="CRF the camera codes at (stored in the file)")
    ap.add_argument("--train-crfs", default="33,38", help="CRFs whose decoded training clips fine-tune the classifier")
    ap.add_argument("--eval-crfs", default="", help="more CRFs to report test accuracy at")
    ap.add_argument("--steps", type=int_in(0), default=200, help="fine-tuning steps (batch 16)")
    ap.add_argument("--threshold", type=float_in(0.0, 1.0), default=0.5, help="importance threshold of kept blocks")
    ap.add_argument("--mode", choices=("crop", "fill"), default="crop")
    ap.add_argument("--data-dir", default="out/payloads", help="where the payload study caches clips and the warm start")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    build(args.out, args.crf, [float(c) for c in args.train_crfs.split(",") if c],
          args.steps, threshold=args.threshold, mode=args.mode, data_dir=args.data_dir,
          eval_crfs=[float(c) for c in args.eval_crfs.split(",") if c])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
