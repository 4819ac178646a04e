"""Build the Lightning Trainer from `conf/trainer`, with lab's own switches.

`trainer.compile=true` compiles the Hugging Face model with `torch.compile` (in place, so
checkpoints and the export keep their parameter names). `trainer.reuse_freed_memory` keeps
freed CPU memory for the next step instead of page-faulting it back, or gives it back to the
OS (`auto`, the default: gives it back only where batches vary in shape and hold blocks above
32 MiB; `lab.training.allocator`; no effect on numbers). Every other key is a
`lightning.pytorch.Trainer` argument, checked here so a typo gets the list of valid ones.

`use_distributed_sampler` is always off: lab's data module gives every rank its share itself
(`lab.data.samplers`: the same global batches as one process, length-grouped or not; eval
splits without repeated rows). Lightning's replacement would pad evaluation splits with
repeated rows and cannot enter a batch sampler (`data.group_by_length` under DDP failed).
"""

from __future__ import annotations

import inspect
from typing import Any

import lightning as L

from lab.errors import ConfigError


class CompileModel(L.Callback):
    """`torch.compile` the task module's Hugging Face model before training starts."""

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        model = getattr(pl_module, "model", None)
        if model is not None and not getattr(model, "_lab_compiled", False):
            model.compile()
            model._lab_compiled = True


def build_trainer(
    compile: bool = False, reuse_freed_memory: bool | str = "auto", **kwargs: Any
) -> L.Trainer:
    """A `lightning.pytorch.Trainer(**kwargs)`, plus `CompileModel` when `compile` and
    `ReuseFreedMemory(reuse_freed_memory)` (true: keep freed CPU memory, false: give it back,
    `auto`: decide from the data; `lab.training.allocator`)."""
    from lab.training.allocator import ReuseFreedMemory

    valid = inspect.signature(L.Trainer.__init__).parameters
    unknown = sorted(set(kwargs) - set(valid))
    if unknown:
        names = ", ".join(sorted(p for p in valid if p != "self"))
        raise ConfigError(
            f"unknown trainer option(s) {unknown}; valid: compile, reuse_freed_memory, {names}"
        )
    ours: list[L.Callback] = [CompileModel()] if compile else []
    if reuse_freed_memory not in (True, False, "auto"):
        raise ConfigError(
            f"trainer.reuse_freed_memory={reuse_freed_memory!r}; valid: auto, true, false"
        )
    ours += [ReuseFreedMemory(reuse_freed_memory)]
    kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), *ours]
    if kwargs.get("use_distributed_sampler"):
        raise ConfigError(
            "trainer.use_distributed_sampler=true is not supported: lab's data module shards "
            "the data across ranks itself"
        )
    kwargs["use_distributed_sampler"] = False
    return L.Trainer(**kwargs)
