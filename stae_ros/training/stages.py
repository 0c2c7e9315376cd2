"""The paper's step-by-step schedule: what each stage trains, on which budgets, with which loss.

1. ``classifier``: the ViT on full clips.
2. ``fa``: frame attention, classifier frozen, K sampled per batch (p = 1).
3. ``sa``: spatial attention, FA and classifier frozen, K and p sampled per batch.
4. ``fr``: frame recovery + ViT fine-tuned on the hard (inference) selection, FA/SA frozen.

``predict`` is the matching inference path used for the per-epoch evaluation, so the numbers
logged for a stage describe the model that stage produces (ViT, ViT_FA, ViT_FA+SA, ViT_STAE).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..models.temporal import kept_frames
from .config import STAGES, StageConfig
from .errors import TrainingError

__all__ = ["STAGES", "Budget", "sample_budget", "stage_loss", "predict", "parse_stages"]


@dataclass(frozen=True)
class Budget:
    k: int
    p: float


def parse_stages(text: str | None) -> list[str]:
    """``"fa,sa"`` -> ["fa", "sa"] in schedule order; None/"" -> all stages."""
    if not text:
        return list(STAGES)
    names = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [n for n in names if n not in STAGES]
    if unknown:
        raise TrainingError(f"unknown stage(s) {', '.join(unknown)}; stages are {', '.join(STAGES)}")
    return [s for s in STAGES if s in names]


def sample_budget(stage: str, frames: list[int], spatial: list[float], t: int, cfg: StageConfig, gen: torch.Generator) -> Budget:
    """Draw the (K, p) of one batch for ``stage`` from the budget sets."""
    if stage == "classifier":
        return Budget(t, 1.0)
    if cfg.full_budget_prob > 0 and torch.rand((), generator=gen).item() < cfg.full_budget_prob:
        return Budget(t, 1.0)
    k = int(frames[int(torch.randint(len(frames), (), generator=gen))])
    k = min(k, t)
    if stage == "fa":
        return Budget(k, 1.0)
    if stage == "sa":
        # p = 1 keeps every pixel: nothing for SA to learn from such a batch
        spatial = [q for q in spatial if q < 1.0] or spatial
    p = float(spatial[int(torch.randint(len(spatial), (), generator=gen))])
    return Budget(k, p)


def _ce(logits: torch.Tensor, labels: torch.Tensor, logit_bias: torch.Tensor | None) -> torch.Tensor:
    """Cross-entropy, logit-adjusted (Menon et al. 2021) when the batches over-sample classes:
    training on ``logits + log(weight)`` leaves the raw logits balanced for the test split."""
    return F.cross_entropy(logits if logit_bias is None else logits + logit_bias, labels)


def stage_loss(model: torch.nn.Module, stage: str, clips: torch.Tensor, labels: torch.Tensor, budget: Budget, cfg: StageConfig,
               logit_bias: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Loss and logits of one batch in ``stage`` (the model must already be frozen for it)."""
    if stage == "fr":
        t = clips.shape[2]
        if budget.k >= t and budget.p >= 1.0:
            # full budget: the edge (EdgePipeline) skips FR when every pixel arrived
            logits = model.classify(clips)
            return _ce(logits, labels, logit_bias), logits
        # The hard selection is what the camera sends, so FR + ViT learn on exactly that input.
        with torch.no_grad():
            sel = model.select(clips, budget.k, budget.p)
            zero_filled, mask = model.assemble(clips, sel)
        recovered = model.recover(zero_filled, mask)
        logits = model.classify(recovered)
        loss = _ce(logits, labels, logit_bias)
        if cfg.recon_weight > 0:
            loss = loss + cfg.recon_weight * F.mse_loss(recovered, clips)
        return loss, logits
    logits = model(clips, budget.k, budget.p, stage)
    loss = _ce(logits, labels, logit_bias)
    if stage == "sa" and cfg.sens_teacher > 0:
        from stae_ros.sensitivity.teacher import sa_teacher_loss

        loss = loss + cfg.sens_teacher * sa_teacher_loss(model, clips, labels)
    return loss, logits


@torch.no_grad()
def predict(model: torch.nn.Module, stage: str, clips: torch.Tensor, k: int, p: float) -> torch.Tensor:
    """Inference logits of the model as it stands after ``stage`` (hard selection)."""
    if stage == "classifier" or (stage == "fr" and k >= clips.shape[2] and p >= 1.0):
        return model.classify(clips)  # full budget: the edge skips FR when every pixel arrived
    sel = model.select(clips, k, p)
    zero_filled, mask = model.assemble(clips, sel)
    if stage == "fr":
        return model.classify(model.recover(zero_filled, mask))
    return model.classify(model.fill_dropped_frames(zero_filled, kept_frames(mask)))
