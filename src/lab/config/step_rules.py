"""Rules of the step-counted options a Hugging Face Trainer recipe maps onto.

* `trainer.val_every_n_steps=N` (HF's `eval_steps`; `lab.training.validation_steps`) decides
  alone when to validate: refused beside a `trainer.val_check_interval` other than its
  default 1.0 (batches, or a share of an epoch) or any `trainer.check_val_every_n_epoch`
  (epochs), and above `trainer.max_steps` (the run would never validate, and keep no best
  checkpoint).
* the periodic `last.ckpt` writer (`PeriodicLastCheckpoint`, `callbacks.last_checkpoint`)
  keeps one file: a `save_top_k` other than 0 (HF's `save_total_limit`, tried there) was a
  Lightning traceback once the callback was built (`monitor=None` has no top K to keep).
  The refusal names what keeps several checkpoints: the best-checkpoint callback's
  `save_top_k`.
* `range_hint`: words a range refusal adds for a value that means something elsewhere
  (`scheduler.warmup_steps=0.1`: transformers v5 reads a float below 1 as a share of the run).

Standard library and OmegaConf only: `lab.validate` stays cheap.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omegaconf import DictConfig

from lab.errors import ConfigError

PERIODIC_LAST = "lab.training.periodic_checkpoint.PeriodicLastCheckpoint"
BEST_CHECKPOINT = "lightning.pytorch.callbacks.ModelCheckpoint"


def validation_steps_problem(trainer: Mapping[str, Any]) -> str | None:
    """What is wrong with `trainer.val_every_n_steps` beside the other `trainer` options
    (a mapping of them), or None (also when it is not set)."""
    every = trainer.get("val_every_n_steps")
    if every is None:
        return None
    interval = trainer.get("val_check_interval", 1.0)
    if not (isinstance(interval, float) and interval == 1.0):
        return (
            f"trainer.val_every_n_steps={every} and trainer.val_check_interval={interval} both "
            "say when to validate: val_every_n_steps counts optimizer steps across the run (HF's "
            "eval_steps), val_check_interval counts batches; keep one (val_check_interval=1.0 "
            "is its default)"
        )
    if "check_val_every_n_epoch" in trainer:
        given = trainer.get("check_val_every_n_epoch")
        return (
            f"trainer.val_every_n_steps={every} validates every {every} optimizer steps, "
            "counted across epochs, and at no epoch's end; remove "
            f"trainer.check_val_every_n_epoch={'null' if given is None else given}"
        )
    max_steps = trainer.get("max_steps")
    if isinstance(max_steps, int) and 0 < max_steps < every:
        return (
            f"trainer.val_every_n_steps={every} is more than trainer.max_steps={max_steps}: the "
            f"run would never validate (and keep no best checkpoint); give at most {max_steps}"
        )
    return None


def check_validation_steps(cfg: DictConfig) -> None:
    """Refuse `trainer.val_every_n_steps` where it cannot decide alone (see the module)."""
    if problem := validation_steps_problem(cfg.trainer):
        raise ConfigError(problem)


def check_last_checkpoint(cfg: DictConfig) -> None:
    """Refuse a `save_top_k` other than 0 on the periodic `last.ckpt` writer (see the module)."""
    callbacks = cfg.get("callbacks") or {}
    nodes = {str(k): v for k, v in callbacks.items() if isinstance(v, DictConfig)}
    best = next(
        (name for name, node in nodes.items() if node.get("_target_") == BEST_CHECKPOINT),
        "model_checkpoint",
    )
    for name, node in nodes.items():
        keep = node.get("save_top_k", 0)
        if node.get("_target_") != PERIODIC_LAST or keep == 0:
            continue
        raise ConfigError(
            f"callbacks.{name}.save_top_k={keep}: callbacks.{name} keeps one file, last.ckpt "
            f"(the resume point, rewritten every callbacks.{name}.every_n_train_steps steps and "
            "at the end), so its save_top_k must stay 0; to keep several checkpoints, "
            f"callbacks.{best}.save_top_k=K keeps the K best by optimized_metric (-1: every "
            "validated one)"
        )


def range_hint(key: str, value: Any) -> str:
    """Words to add to the range refusal of `key=value` ('' for none): where the value means
    something in transformers, the lab key that means the same."""
    fraction = isinstance(value, float) and 0 < value < 1
    if key == "scheduler.warmup_steps" and fraction:
        return f"; a share of the run's steps is scheduler.warmup_ratio={value}"
    return ""
