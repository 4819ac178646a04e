"""Build the Lightning Trainer from `conf/trainer`, with lab's own switches.

`trainer.compile=true` compiles the Hugging Face model with `torch.compile` (in place, so
checkpoints and the export keep their parameter names). `trainer.reuse_freed_memory` keeps
freed CPU memory for the next step instead of page-faulting it back, or gives it back to the
OS (`auto`, the default: gives it back only where batches vary in shape and hold blocks above
32 MiB; `lab.training.allocator`; no effect on numbers). `trainer.val_every_n_steps=N`
validates after every N-th optimizer step of the run, as HF's `eval_steps`
(`lab.training.validation_steps`). Every other key is a `lightning.pytorch.Trainer` argument,
checked here so a typo gets the list of valid ones.

`use_distributed_sampler` is always off: lab's data module gives every rank its share itself
(`lab.data.samplers`: the same global batches as one process, length-grouped or not; eval
splits without repeated rows). Lightning's replacement would pad evaluation splits with
repeated rows and cannot enter a batch sampler (`data.group_by_length` under DDP failed).

Under SLURM the Trainer gets Lightning's SLURM environment with its auto-requeue off
(`cluster_plugins`): SIGUSR1, SLURM's warning before a time limit, stops a lab run as SIGTERM
does (`lab.training.checkpointing.PreemptionCheckpoint`), and the job script requeues.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Sequence
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
    compile: bool = False,
    reuse_freed_memory: bool | str = "auto",
    val_every_n_steps: int | None = None,
    **kwargs: Any,
) -> L.Trainer:
    """A `lightning.pytorch.Trainer(**kwargs)`, plus `CompileModel` when `compile`,
    `ReuseFreedMemory(reuse_freed_memory)` (true: keep freed CPU memory, false: give it back,
    `auto`: decide from the data; `lab.training.allocator`) and, given `val_every_n_steps`,
    `ValidateEveryNSteps` with the Trainer arguments it needs
    (`lab.training.validation_steps`)."""
    from lab.config.step_rules import validation_steps_problem
    from lab.training.allocator import ReuseFreedMemory
    from lab.training.validation_steps import ValidateEveryNSteps, validation_arguments

    valid = inspect.signature(L.Trainer.__init__).parameters
    unknown = sorted(set(kwargs) - set(valid))
    if unknown:
        names = ", ".join(sorted(p for p in valid if p != "self"))
        raise ConfigError(
            f"unknown trainer option(s) {unknown}; valid: compile, reuse_freed_memory, "
            f"val_every_n_steps, {names}"
        )
    if problem := validation_steps_problem({**kwargs, "val_every_n_steps": val_every_n_steps}):
        raise ConfigError(problem)
    ours: list[L.Callback] = [CompileModel()] if compile else []
    if reuse_freed_memory not in (True, False, "auto"):
        raise ConfigError(
            f"trainer.reuse_freed_memory={reuse_freed_memory!r}; valid: auto, true, false"
        )
    ours += [ReuseFreedMemory(reuse_freed_memory)]
    if val_every_n_steps is not None:
        ours += [ValidateEveryNSteps(val_every_n_steps)]
        kwargs |= validation_arguments(val_every_n_steps, kwargs.get("accumulate_grad_batches"))
    kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), *ours]
    if kwargs.get("use_distributed_sampler"):
        raise ConfigError(
            "trainer.use_distributed_sampler=true is not supported: lab's data module shards "
            "the data across ranks itself"
        )
    kwargs["use_distributed_sampler"] = False
    given = kwargs.get("plugins") or []  # one, or several (from Hydra: a ListConfig)
    plugins = [given] if isinstance(given, str) or not isinstance(given, Iterable) else [*given]
    kwargs["plugins"] = [*plugins, *cluster_plugins(kwargs.get("strategy"), plugins)]
    return L.Trainer(**kwargs)


def cluster_plugins(strategy: object = None, plugins: Sequence[object] = ()) -> list[Any]:
    """The Trainer's cluster environment under SLURM: Lightning's SLURM environment with its
    auto-requeue off; [] elsewhere (Lightning detects the others itself).

    Lightning's auto-requeue, on by default under SLURM, answers SIGUSR1 by saving
    `hpc_ckpt_<n>.ckpt` in the run directory's root, which lab's resume does not read, and
    running `scontrol requeue` itself, while training goes on. lab stops on SIGUSR1 as on
    SIGTERM instead (`lab.tool_interrupts`): one checkpoint, `last.ckpt`, and one requeue
    path, the job script's with `resume=auto`. Given only where Lightning would choose SLURM
    itself (TorchElastic comes first: torchrun inside an allocation), and not beside a cluster
    environment of the `strategy` or the `plugins` already given (Lightning refuses two).
    """
    from lightning.fabric.plugins.environments import (
        ClusterEnvironment,
        SLURMEnvironment,
        TorchElasticEnvironment,
    )

    chosen = getattr(strategy, "cluster_environment", None) is not None or any(
        isinstance(plugin, ClusterEnvironment) for plugin in plugins
    )
    if chosen or TorchElasticEnvironment.detect() or not SLURMEnvironment.detect():
        return []
    return [SLURMEnvironment(auto_requeue=False)]
