"""Preference losses on sequence log-probabilities (pure torch, no model, no Lightning).

A preference pair is a prompt with a chosen and a rejected completion. The policy's (and the
reference's) log-probability of each completion is the sum of its tokens' log-probabilities
(`sequence_logps`). The losses compare them:

- `sigmoid` (DPO, Rafailov et al., 2023): `-log σ(β Δ)`, Δ = (log π_c - log ref_c) -
  (log π_r - log ref_r). With `label_smoothing` ε > 0 it is conservative DPO (cDPO, Mitchell
  2023): `-(1-ε) log σ(β Δ) - ε log σ(-β Δ)`, the loss of labels flipped with probability ε.
- `ipo` (Azar et al., 2023): `(Δ/len - 1/(2β))²` with each log-ratio divided by its completion's
  token count, as TRL computes it (the IPO authors confirmed that normalised form to TRL).
- `simpo` (Meng et al., 2024): reference-free; the reward is the length-normalised
  log-probability, `-log σ(β (avg log π_c - avg log π_r) - γ)` (cDPO-smoothed like `sigmoid`).

Rewards follow TRL's logging: `β x (log π - log ref)` summed over the completion for `sigmoid`
and `ipo`, `β x avg log π` for `simpo`; accuracy is the share of pairs whose chosen reward is
higher, margin the mean difference.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from lab.tasks.ignore import IGNORE

LOSSES = ("sigmoid", "ipo", "simpo")


class SequenceLogps(NamedTuple):
    """Summed log-probability of each sequence's completion tokens, and their count."""

    total: torch.Tensor  # [rows]
    tokens: torch.Tensor  # [rows], float


class PreferenceLoss(NamedTuple):
    """Per-pair loss and rewards (each [pairs]); rewards are detached."""

    losses: torch.Tensor
    chosen_rewards: torch.Tensor
    rejected_rewards: torch.Tensor


def sequence_logps(logits: torch.Tensor, labels: torch.Tensor) -> SequenceLogps:
    """Log-probability of the labelled tokens of each row, summed (causal shift inside).

    Args:
        logits: [rows, length, vocabulary], the model's output for the input ids.
        labels: [rows, length]: the input ids on completion tokens, `IGNORE` elsewhere. Token t
            is predicted by position t-1, as in the model's own loss.
    """
    targets = labels[:, 1:]
    mask = targets != IGNORE
    safe = targets.masked_fill(~mask, 0)
    # log_softmax in float32 whatever the model's dtype: bf16 sums over 10^2 tokens lose digits.
    log_probs = torch.log_softmax(logits[:, :-1].float(), dim=-1)
    per_token = log_probs.gather(-1, safe.unsqueeze(-1)).squeeze(-1)
    return SequenceLogps((per_token * mask).sum(-1), mask.sum(-1).float())


def preference_loss(
    kind: str,
    chosen: SequenceLogps,
    rejected: SequenceLogps,
    ref_chosen: torch.Tensor | None = None,
    ref_rejected: torch.Tensor | None = None,
    *,
    beta: float = 0.1,
    label_smoothing: float = 0.0,
    simpo_gamma: float = 0.5,
) -> PreferenceLoss:
    """The `kind` loss of each pair (see the module doc).

    Args:
        kind: `sigmoid`, `ipo` or `simpo`.
        chosen / rejected: the policy's completion log-probs (`sequence_logps`).
        ref_chosen / ref_rejected: the reference's summed log-probs ([pairs]); unused by `simpo`.
        beta: inverse temperature (DPO, SimPO) or the IPO regulariser τ.
        label_smoothing: ε of conservative DPO, in [0, 0.5) (`sigmoid` and `simpo`).
        simpo_gamma: SimPO's target reward margin γ.
    """
    if kind not in LOSSES:
        raise ValueError(f"unknown preference loss {kind!r}; choose one of {list(LOSSES)}")
    if kind == "simpo":
        chosen_score = chosen.total / chosen.tokens.clamp(min=1)
        rejected_score = rejected.total / rejected.tokens.clamp(min=1)
        logits = beta * (chosen_score - rejected_score) - simpo_gamma
        losses = _smoothed_logsigmoid(logits, label_smoothing)
        return PreferenceLoss(losses, beta * chosen_score.detach(), beta * rejected_score.detach())
    if ref_chosen is None or ref_rejected is None:
        raise ValueError(f"the {kind} loss needs the reference log-probs")
    chosen_ratio = chosen.total - ref_chosen
    rejected_ratio = rejected.total - ref_rejected
    if kind == "sigmoid":
        losses = _smoothed_logsigmoid(beta * (chosen_ratio - rejected_ratio), label_smoothing)
    else:  # ipo
        delta = chosen_ratio / chosen.tokens.clamp(min=1) - rejected_ratio / rejected.tokens.clamp(
            min=1
        )
        losses = (delta - 1 / (2 * beta)) ** 2
    return PreferenceLoss(losses, beta * chosen_ratio.detach(), beta * rejected_ratio.detach())


def _smoothed_logsigmoid(logits: torch.Tensor, label_smoothing: float) -> torch.Tensor:
    """`-(1-ε) log σ(x) - ε log σ(-x)`: the logistic loss with labels flipped w.p. ε."""
    loss = -F.logsigmoid(logits)
    if label_smoothing:
        loss = loss * (1 - label_smoothing) - F.logsigmoid(-logits) * label_smoothing
    return loss
