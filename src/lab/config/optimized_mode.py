"""Which way `optimized_metric` improves when the command line names a metric but no mode.

A task YAML pairs its default metric with its direction (`val/acc` with `max`, `val/loss` with
`min`). A user who changes the metric alone (`optimized_metric=val/loss`, the translation of HF
Trainer's `metric_for_best_model="eval_loss"`) used to keep the task's `max`: the run then kept,
tested and exported its *highest*-loss checkpoint and early stopping counted a rising loss as
improvement, in silence (s32a F-H1). HF Trainer infers `greater_is_better` from the name (lower
is better for a name ending in "loss"); lab does the same through `train.yaml`'s

    optimized_mode: ${lab.optimized_mode:${optimized_metric},
                                          ${oc.select:task.optimized_metric,null},
                                          ${oc.select:task.optimized_mode,null}}

(one line there) so the task's own mode holds for its own metric, a metric named like a loss or an
error (`LOWER_IS_BETTER`) is minimized and any other maximized; `optimized_mode=max|min` on the
command line (or in an experiment) still decides. A resolver rather than a config rule: the
composed config, `config.yaml` and a sweep's study direction (`${optimized_mode}`) all carry
the mode that was used.

`check_optimized_metric` refuses, before anything loads, a metric name validation can never log
(lab names metrics `<stage>/<name>`): HF Trainer's `eval_loss` is lab's `val/loss`, a bare
`loss` has no stage, and a `test/` metric is computed after training, when no checkpoint is
chosen any more. Names of the right shape are checked at the first validation, against what the
head logs (`lab.training.fit.unknown_metric_error`).
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig

from lab.errors import ConfigError

#: Metric names (the part after `val/`) for which a smaller value is better, beside any name
#: ending in "loss" (HF Trainer's rule): language-model perplexity, regression errors, speech
#: and translation error rates.
LOWER_IS_BETTER = frozenset({"perplexity", "ppl", "mse", "mae", "rmse", "wer", "cer", "ter"})


def lower_is_better(metric: str) -> bool:
    """Whether a smaller `metric` (`val/loss`, `val/mse`) is better, from its name alone."""
    name = metric.rsplit("/", 1)[-1].lower()
    return name.endswith("loss") or name in LOWER_IS_BETTER


def optimized_mode(metric: object, task_metric: object, task_mode: object) -> object:
    """The mode for `metric`: the task's `task_mode` where it is the task's own metric (or
    not a single metric name), else `min` for a name `lower_is_better` and `max` otherwise."""
    if not isinstance(metric, str) or metric == task_metric:
        return task_mode
    return "min" if lower_is_better(metric) else "max"


def check_optimized_metric(cfg: DictConfig) -> None:
    """Refuse an `optimized_metric` no validation can log: no `<stage>/` (`loss`, HF's
    `eval_loss`), or a `test/` metric, naming the `val/` metric meant."""
    metric = cfg.get("optimized_metric")
    if not isinstance(metric, str) or metric.startswith("val/"):
        return
    stage, slash, name = metric.partition("/")
    if slash and stage != "test":
        return  # another stage a head of one's own may log: checked at the first validation
    if not slash:
        name = metric.removeprefix("eval_")
        why = (
            "HF Trainer's eval_<name> is lab's val/<name>"
            if name != metric
            else ("lab names metrics <stage>/<name>")
        )
    else:
        why = "the best checkpoint is chosen on validation metrics during training"
    # lab's name of HF's metric, by the task's head (`eval_accuracy` is `val/acc`: s32d G1)
    from lab.config.hf_metrics import lab_metric

    meant, note = lab_metric(name, cfg)
    use = f"use optimized_metric={meant}" + (f" ({note})" if note else "") if meant else note
    raise ConfigError(f"optimized_metric={metric} is never logged by validation ({why}): {use}")


def recorded_direction_note(config: Any, subject: str = "this run chose its") -> str | None:
    """For a recorded run's config: a note where its best checkpoint was chosen by the
    highest value of a lower-is-better metric (`optimized_mode: max` with `val/loss`), as runs
    recorded before 2026-12-07 were when only `optimized_metric` was changed; else None."""
    metric, mode = config.get("optimized_metric"), config.get("optimized_mode")
    if not isinstance(metric, str) or mode != "max" or not lower_is_better(metric):
        return None
    return (
        f"{subject} best checkpoint by the highest {metric} (optimized_mode=max), a "
        "metric for which lower is better: before 2026-12-07 a metric changed alone kept the "
        "task's mode, so its best checkpoint is its worst by that metric (optimized_mode=max "
        "resumes it or continues its sweep as it ran; a new run chooses by the lowest)"
    )
