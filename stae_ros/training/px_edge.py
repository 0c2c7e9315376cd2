"""`stae train` mode ``stae-px-edge``: the stae-px mode's edge classifier, adapted to the clips FR recovers.

Why: the STAE checkpoint's ViT is what the paper puts behind FR, sized for its small clips. The edge
host can run a far larger classifier (the edge CNN of `stae train` mode ``edge``), but that network has
only seen whole clips; FR's reconstruction of 10% of the pixels is another input. This mode:

1. loads the STAE checkpoint (``px.stae``) whose FA, SA and FR the camera and edge run, frozen;
2. puts every training clip through the real stae-px camera and edge path (the mode's own select,
   codec and FR) at each budget of ``px.budgets``, and keeps the recovered clips as 8-bit frames;
3. fine-tunes a copy of the edge classifier (``init:``, else ``teacher:``; an edge classifier file,
   one network or a seed ensemble) on those clips, all budgets at once (one network serves whichever
   budget the planner picks): CE plus, with a teacher, the KL to the teacher's answer on the *raw*
   clip (the adapted model should say what the edge model says on clean video);
4. scores it on the test clips at every budget and writes an edge classifier file (the
   stae_ros.local format) that names the checkpoint it was adapted to (``extra.adapted_to``): the
   stae-px mode refuses it next to any other checkpoint.

Step 3 is a resumable phase (``last.pt``); step 2 is recomputed on resume (it is deterministic).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .adapt import AdaptSettings
from .errors import TrainingError
from .payload_config import apply_overrides, export_copy, load_payload_config, section, start_run
from .steps import RunState, load_run, restore, run_phase, save_run, write_metrics

__all__ = ["MODE", "PxEdgeSection", "PxEdgeTrainSettings", "recovered_clips", "train_px_edge_mode"]

log = logging.getLogger(__name__)

MODE = "stae-px-edge"
OWN_KEYS = ("px", "train")


@dataclass
class PxEdgeSection:
    """``px:``: the checkpoint whose FR output is adapted to, and the budgets (K, p) it is adapted at."""

    stae: str = ""  #: STAE checkpoint (FA, SA, FR); with --fold, '{fold}' is the fold number
    budgets: list[list[float]] = field(default_factory=lambda: [[16, 1.0], [16, 0.25], [16, 0.1], [16, 0.05]])
    score_budget: list[float] = field(default_factory=lambda: [16, 0.1])  #: the budget `accuracy` reports
    value_bits: int = 8  #: as the camera's value_bits (8 = lossless)
    layout: str = "fast"


@dataclass
class PxEdgeTrainSettings(AdaptSettings):
    """``train:``: the fine-tuning schedule on FR's output."""

    lr: float = 5e-4
    warmup_steps: int = 20
    eval_batch: int = 16


def _budgets(px: PxEdgeSection, frames: int, source: str) -> list[tuple[int, float]]:
    from stae_ros.modes.base import check_budget
    from stae_ros.modes.errors import BudgetError

    if not px.budgets:
        raise TrainingError(f"{source}: px.budgets must name at least one [K, p]")
    if isinstance(px.value_bits, bool) or not isinstance(px.value_bits, int) or not 1 <= px.value_bits <= 8:
        raise TrainingError(f"{source}: px.value_bits must be an integer in [1, 8], got {px.value_bits!r}")
    out = []
    for b in list(px.budgets) + [px.score_budget]:
        if not isinstance(b, (list, tuple)) or len(b) != 2:
            raise TrainingError(f"{source}: px budgets are [K, p] pairs, got {b!r}")
        try:
            out.append(check_budget(int(b[0]), float(b[1]), frames))
        except (BudgetError, TypeError, ValueError) as exc:
            raise TrainingError(f"{source}: px budget {b!r}: {exc}") from exc
    return out


def _stae_path(cfg: Any, px: PxEdgeSection) -> str:
    path = px.stae
    if not path:
        raise TrainingError(f"{cfg.source}: px.stae must name the STAE checkpoint whose recovered clips are adapted to")
    if "{fold}" in path:
        if cfg.data.split != "folds" or cfg.data.test_fold is None:
            raise TrainingError(f"{cfg.source}: px.stae {path!r} names '{{fold}}'; run it with --fold")
        path = path.replace("{fold}", str(int(cfg.data.test_fold)))
    return path


@torch.no_grad()
def recovered_clips(camera: Any, edge: Any, clips: np.ndarray, k: int, p: float, batch: int = 16,
                    desc: str = "", progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(recovered uint8 clips N,T,H,W,3, payload bytes N) of ``clips`` through the stae-px camera and edge
    modes at budget (K, p): select, code, decode and FR exactly as deployed."""
    from tqdm import tqdm

    camera.apply(camera.validate(k, p, {}))
    out = np.empty_like(clips)
    sizes = np.zeros(len(clips), np.int64)
    for s in tqdm(range(0, len(clips), batch), desc=desc, disable=not progress, leave=False, mininterval=2.0):
        items = []
        for i in range(s, min(s + batch, len(clips))):
            enc = camera.encode(np.ascontiguousarray(clips[i]))
            sizes[i] = len(enc.payload)
            items.append(edge.decode(enc.payload))
        rec = edge.recover(items).clamp(0, 1).mul(255.0).round().byte()
        out[s : s + len(items)] = rec.permute(0, 2, 3, 4, 1).cpu().numpy()
    return out, sizes


def _label(k: int, p: float) -> str:
    return f"K{k} p{p:g}"


def train_px_edge_mode(config: str | Path, out_dir: str | Path, resume: bool = False, progress: bool = True,
                       overrides: dict[str, Any] | None = None, stop_after_steps: int = 0) -> Any:
    """Adapt an edge classifier file to a STAE checkpoint's recovered clips (``mode: stae-px-edge``).

    Writes ``last.pt`` (resumable), ``metrics.json`` and ``model.pt`` (an edge classifier file the
    stae-px mode loads as its model file), and copies it to ``export`` when set.
    """
    from stae_ros.local import save_local_model
    from stae_ros.local.io import model_file_id
    from stae_ros.modes.base import ModeContext, state_identity
    from stae_ros.modes.stae_px import PxCamera, PxEdge

    from .adapt import accuracy, adaptation_step
    from .checkpoints import load_model
    from .errors import CheckpointError
    from .loop import TrainResult, prepare_data
    from .teacher import count_gflop, edge_network, is_classifier_file, load_teacher, teacher_logits, trainable_copy

    t_start = time.perf_counter()
    cfg = load_payload_config(config, MODE, OWN_KEYS)
    apply_overrides(cfg, overrides)
    px = section(cfg, "px", PxEdgeSection)
    ts = section(cfg, "train", PxEdgeTrainSettings)
    start_path = cfg.init or cfg.teacher
    if not start_path or not is_classifier_file(start_path):
        raise TrainingError(f"{cfg.source}: init (or teacher) must be an edge classifier file (`stae train` mode edge) "
                            f"to adapt; got {start_path or 'none'!r}")
    stae_path = _stae_path(cfg, px)
    out, dev = start_run(cfg, out_dir)
    try:
        loaded = load_model(stae_path, "cpu")
    except CheckpointError as exc:
        raise TrainingError(f"px.stae: {exc}") from exc
    c = loaded.config.clip
    clip = (int(c.frames), int(c.height), int(c.width))
    budgets = _budgets(px, clip[0], cfg.source)
    score = budgets.pop()
    train_arr, test_arr = prepare_data(cfg.data_config(), clip[0], (clip[1], clip[2]))
    class_names = list(train_arr.class_names)
    if list(loaded.class_names) != class_names:
        raise TrainingError(f"px.stae {stae_path} labels {loaded.class_names[:4]}... ({len(loaded.class_names)}); the data "
                            f"set has {class_names[:4]}... ({len(class_names)})")
    start = load_teacher(start_path, clip, class_names, dev)
    teacher = start if cfg.teacher in ("", start_path) else load_teacher(cfg.teacher, clip, class_names, dev)
    classifier = trainable_copy(start).to(dev)
    ctx = ModeContext(loaded=loaded, options={"value_bits": int(px.value_bits), "layout": px.layout})
    camera, edge = PxCamera(ctx), PxEdge(ctx)
    stae_id = state_identity(loaded)
    log.info("stae-px-edge: %s adapted to %s at %s; train %d clips, test %d", start_path, stae_id,
             ", ".join(_label(*b) for b in budgets), len(train_arr.labels), len(test_arr.labels))

    rec_train, train_bytes = [], {}
    for k, p in budgets:
        x, sizes = recovered_clips(camera, edge, train_arr.clips, k, p, desc=f"recover train {_label(k, p)}", progress=progress)
        rec_train.append(x)
        train_bytes[_label(k, p)] = float(sizes.mean()) if len(sizes) else 0.0
    test_budgets = list(dict.fromkeys(budgets + [score]))
    rec_test = {b: recovered_clips(camera, edge, test_arr.clips, *b, desc=f"recover test {_label(*b)}", progress=progress)
                for b in test_budgets}
    dec_x = torch.from_numpy(np.concatenate(rec_train))
    del rec_train
    train_y = torch.as_tensor(train_arr.labels, dtype=torch.long)

    modules: dict[str, torch.nn.Module] = {"classifier": classifier}
    state = RunState(mode=MODE)
    last = out / "last.pt"
    resume_opt: Any = None
    if resume:
        blob = load_run(last, MODE)
        restore(blob, state, modules)
        resume_opt = blob.get("optimizer")
        log.info("resuming at step %d (done: %s)", state.step, state.done)
    opt = torch.optim.AdamW(classifier.parameters(), lr=ts.lr, weight_decay=ts.weight_decay)
    if resume_opt is not None and state.phase == "finetune":
        opt.load_state_dict(resume_opt)

    def save() -> None:
        save_run(last, state, modules, opt)
        write_metrics(out, state, {"config": cfg.to_dict(), "class_names": class_names})

    if "before" not in state.extra:
        state.extra["before"] = {_label(*b): accuracy(classifier, rec_test[b][0], test_arr.labels, ts.eval_batch, dev)
                                 for b in test_budgets}
        state.extra["teacher_acc"] = accuracy(edge_network(teacher), test_arr.clips, test_arr.labels, ts.eval_batch, dev)
        log.info("before adaptation: raw clips %.3f, %s", state.extra["teacher_acc"], state.extra["before"])
    soft = teacher_logits(teacher, train_arr.clips, dev) if ts.distill > 0 else None
    distill = ts.distill if soft is not None else 0.0
    ft_step = adaptation_step(classifier, opt, dec_x, train_y, soft, distill, ts, cfg.augment, dev)

    score_x = rec_test[score][0]
    evaluate = ((lambda: {"test_acc": accuracy(classifier, score_x, test_arr.labels, ts.eval_batch, dev)})
                if ts.eval_each_save else None)
    finished = run_phase(name="finetune", index=0, state=state, total=ts.steps, save_every=ts.save_every, seed=cfg.seed,
                         step_fn=ft_step, save=save, evaluate=evaluate, progress=progress, stop_after_steps=stop_after_steps)
    model_path = out / "model.pt"
    final: dict[str, Any] = dict(state.history[-1]) if state.history else {}
    if finished:
        classifier.cpu().eval()
        cpu = torch.device("cpu")
        per_budget = {_label(*b): {"accuracy": accuracy(classifier, x, test_arr.labels, ts.eval_batch, cpu),
                                   "bytes_mean": float(s.mean()) if len(s) else 0.0,
                                   "before_adaptation": state.extra["before"][_label(*b)]}
                      for b, (x, s) in rec_test.items()}
        gflop = count_gflop(classifier, torch.zeros(1, 3, *clip))
        final = {"accuracy": per_budget[_label(*score)]["accuracy"], "bytes_mean": per_budget[_label(*score)]["bytes_mean"],
                 "acc_before_adaptation": per_budget[_label(*score)]["before_adaptation"],
                 "teacher_acc": state.extra.get("teacher_acc"), "score_budget": _label(*score), "budgets": per_budget,
                 "train_bytes_mean": train_bytes, "stae_model": stae_id, "gflop_per_clip": gflop,
                 "test_clips": len(test_arr.labels), "wall_s": round(time.perf_counter() - t_start, 1)}
        save_local_model(model_path, classifier, class_names, (*clip, 3), classifier.arch.to_dict(),
                         extra={"name": cfg.name, "role": "edge", "gflop_per_clip": gflop, "init": start_path,
                                "adapted_to": {"mode": "stae-px", "stae_model": stae_id,
                                               "budgets": [list(b) for b in budgets], "value_bits": int(px.value_bits)},
                                "test_acc": final["accuracy"], "data_root": cfg.data.root})
        final["model_id"] = model_file_id(model_path)
        state.extra["final"] = final
        save()
        log.info("stae-px-edge: %s", ", ".join(f"{k} {100 * v['accuracy']:.1f}% ({v['bytes_mean']:.0f} B, before "
                                                f"{100 * v['before_adaptation']:.1f}%)" for k, v in per_budget.items()))
        export_copy(model_path, cfg.export)
    return TrainResult(out_dir=out, model_path=model_path, history=state.history, final=final,
                       wall_s=time.perf_counter() - t_start)
