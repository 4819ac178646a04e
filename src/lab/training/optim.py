"""Optimizer and learning-rate schedule factories referenced by `conf/optimizer` and
`conf/scheduler`. Both are used as Hydra partials: the TaskModule supplies the model and the
number of training steps, which are only known once the Trainer is set up."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def _decays(module: nn.Module, param_name: str) -> bool:
    # Biases and normalisation weights are not decayed (BERT's recipe, and HF Trainer's).
    # Norm layers are found by type name so LayerNorm, RMSNorm and T5LayerNorm all count.
    return not (param_name.endswith("bias") or "norm" in type(module).__name__.lower())


def adamw(
    model: nn.Module,
    lr: float = 5e-5,
    weight_decay: float = 0.01,
    betas: Sequence[float] = (0.9, 0.999),
    eps: float = 1e-8,
    fused: bool | None = None,
) -> torch.optim.AdamW:
    """AdamW with no weight decay on biases and normalisation weights."""
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    seen: set[int] = set()
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            # Tied weights (GPT-2's input embedding is its output layer) appear under two
            # modules; the optimizer must hold each tensor once.
            if param.requires_grad and id(param) not in seen:
                seen.add(id(param))
                (decay if _decays(module, name) else no_decay).append(param)
    groups = [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=lr, betas=tuple(betas), eps=eps, fused=fused)  # type: ignore[arg-type]


def warmup_scheduler(
    optimizer: torch.optim.Optimizer,
    num_training_steps: int,
    name: str = "linear",
    warmup_steps: int = 0,
    warmup_ratio: float = 0.0,
) -> torch.optim.lr_scheduler.LRScheduler:
    """A `transformers` schedule with warmup given as steps or as a share of all steps.

    `name` is any `transformers.SchedulerType` (linear, cosine, constant_with_warmup, ...).
    `warmup_steps` wins when both are set.
    """
    from transformers import get_scheduler

    if warmup_steps and warmup_ratio:
        raise ValueError("set scheduler.warmup_steps or scheduler.warmup_ratio, not both")
    warmup = warmup_steps or round(warmup_ratio * num_training_steps)
    return get_scheduler(
        name, optimizer, num_warmup_steps=warmup, num_training_steps=num_training_steps
    )
