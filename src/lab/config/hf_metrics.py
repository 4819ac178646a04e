"""HF's metric names (`metric_for_best_model`, `eval_<name>`) as lab's `val/` metric names.

HF Trainer's metric names are what a `compute_metrics` returns, by `evaluate`'s names
(`accuracy`, `matthews_correlation`), prefixed `eval_`; lab's heads log their own
(text classification's `acc`, `mcc`). A head declares its names and HF's names of them
(`TaskModule.metric_names`, `TaskModule.hf_metric_names`), read here from the task's module
class, imported without building anything: `metric_for_best_model=eval_accuracy` becomes
`optimized_metric=val/acc`, not `val/accuracy`, which the run would only refuse after its first
validation (s32d G1).
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf


def lab_metric(given: str, cfg: DictConfig | None) -> tuple[str | None, str]:
    """(lab's `val/<name>` for HF's metric `given`, a note) under `cfg`'s task: `eval_accuracy`
    -> `val/acc` ("lab's name of HF's accuracy") for text classification; (None, the head's
    metrics to pick from) for a name the head declares it does not log; `val/<given>` without
    a note where the head declares nothing (a head of one's own)."""
    name = given.removeprefix("eval_").removeprefix("val/")
    head = _head_class(cfg)
    aliases: dict[str, str] = getattr(head, "hf_metric_names", {}) or {}
    names: tuple[str, ...] = getattr(head, "metric_names", ()) or ()
    if name in aliases:
        return f"val/{aliases[name]}", f"lab's name of HF's {name}"
    if names and name not in names:
        listed = ", ".join(f"val/{n}" for n in names)
        return None, f"this task's head logs no {name}; pick one of its metrics: {listed}"
    return f"val/{name}", ""


def _head_class(cfg: DictConfig | None) -> Any:
    """The class of `cfg`'s `task.module._target_` (imported, nothing built), or None."""
    if cfg is None:
        return None
    target = OmegaConf.select(cfg, "task.module._target_", default=None)
    if not isinstance(target, str):
        return None
    from lab.config.target_imports import locate

    found, problem = locate(target)
    return None if problem else found
