"""What a sweep optimizes: `hydra.sweeper.metric` and `hydra.sweeper.direction` as two lists
of one length, refused in one line otherwise.

One direction is not stretched over a list of metrics: `metric=[val/acc,val/loss]` with the
default `direction=maximize` would maximize the loss too, and the Pareto front would be
meaningless without a word. With more than one metric the directions are written as a list,
one per metric, in the metrics' order. Also the one line a multi-objective sweep says about its
pruner, which it cannot use (Optuna prunes single-objective studies only).
"""

from __future__ import annotations

import logging
from typing import Any

from omegaconf import OmegaConf

from lab.errors import ConfigError

log = logging.getLogger(__name__)

DIRECTIONS = {"max": "maximize", "maximize": "maximize", "min": "minimize", "minimize": "minimize"}


def objectives(metric: Any, direction: Any) -> tuple[list[str], list[str]]:
    """The sweep's metrics and their directions (`maximize`/`minimize`), one each; a
    `ConfigError` for an unknown direction or a count that does not match the metrics."""
    metrics = as_list(metric)
    written = as_list(direction)
    directions = [DIRECTIONS.get(d.lower()) for d in written]
    if None in directions:
        raise ConfigError(
            f"hydra.sweeper.direction={show(direction)}: use maximize or minimize "
            "(or a list of them, one per metric)"
        )
    if len(directions) == len(metrics) and (len(metrics) == 1 or is_list(direction)):
        return metrics, [str(d) for d in directions]
    example = ",".join(("maximize", "minimize")[i % 2] for i in range(len(metrics)))
    given = (
        f"hydra.sweeper.direction={show(direction)} is one direction"
        if not is_list(direction)
        else f"hydra.sweeper.direction={show(direction)} has {len(directions)}"
    )
    raise ConfigError(
        f"hydra.sweeper.metric={show(metric)} has {len(metrics)} metrics but {given}: give "
        f"one per metric, in their order, e.g. hydra.sweeper.direction=[{example}]"
    )


def note_unused_pruner(metrics: list[str], pruner_cfg: Any) -> None:
    """Say, in one info line, that a multi-objective sweep does not prune, when a pruner
    other than `none` is configured (the sweep files' default is the median pruner)."""
    target = str(pruner_cfg.get("_target_", "")) if pruner_cfg is not None else ""
    if len(metrics) > 1 and target and not target.endswith("NopPruner"):
        log.info(
            "%d metrics (multi-objective): pruning is off, Optuna prunes single-objective "
            "studies only (the configured %s is not used)",
            len(metrics),
            target.rsplit(".", 1)[-1],
        )


def is_list(value: Any) -> bool:
    """Whether a setting was written as a list (`[a,b]`), as Hydra or a test hands it."""
    return isinstance(value, (list, tuple)) or OmegaConf.is_list(value)


def as_list(value: Any) -> list[str]:
    """A setting that may be one value or a list, as a list of strings."""
    return [str(v) for v in value] if is_list(value) else [str(value)]


def show(value: Any) -> str:
    """A setting as the command line writes it: `maximize`, `[val/acc,val/loss]`."""
    return f"[{','.join(as_list(value))}]" if is_list(value) else str(value)
