"""Hydra's sweep grammar as an Optuna search space, and sampled values back as overrides.

    optimizer.lr: tag(log, interval(1e-5, 1e-3))   -> FloatDistribution(1e-5, 1e-3, log=True)
    data.batch_size: choice(16, 32, 64)             -> CategoricalDistribution([16, 32, 64])
    trainer.max_epochs: range(1, 5)                 -> IntDistribution(1, 4)   (stop excluded)
    scheduler.warmup_ratio: range(0.0, 0.2, 0.05)   -> FloatDistribution(0.0, 0.15, step=0.05)
    model: choice(bert, roberta)                    -> a config-group choice, like any other

Anything that is not a sweep (`data.max_length: 128`) is a fixed override of every trial.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from lab.errors import ConfigError

_PLAIN_VALUE = re.compile(r"^[\w./:@+-]+$")


@dataclass
class SearchSpace:
    """The sampled parameters (`distributions`) and the fixed overrides of every trial."""

    distributions: dict[str, Any] = field(default_factory=dict)
    fixed: list[str] = field(default_factory=list)

    def grid(self) -> dict[str, list[Any]]:
        """Every value of every parameter, for the grid sampler (discrete spaces only)."""
        from optuna.distributions import CategoricalDistribution, IntDistribution

        grid: dict[str, list[Any]] = {}
        for name, dist in self.distributions.items():
            if isinstance(dist, CategoricalDistribution):
                grid[name] = list(dist.choices)
            elif isinstance(dist, IntDistribution) and not dist.log:
                grid[name] = list(range(dist.low, dist.high + 1, dist.step))
            elif getattr(dist, "step", None) is not None and not dist.log:
                count = round((dist.high - dist.low) / dist.step)
                grid[name] = [round(dist.low + i * dist.step, 12) for i in range(count + 1)]
            else:
                raise ConfigError(
                    f"the grid sampler needs a discrete space, but {name} is continuous "
                    f"({dist}); use choice(...) or range(...) for it, or another sampler"
                )
        return grid


def parse_search_space(params: dict[str, Any], arguments: list[str]) -> SearchSpace:
    """Build the space from the sweep file's `params` and the command line's overrides.

    Command-line overrides come last and win: `optimizer.lr=1e-4` fixes a parameter the
    sweep file searches, `optimizer.lr='interval(1e-5,1e-4)'` searches it instead.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    lines = [f"{key}={value}" for key, value in (params or {}).items()] + list(arguments)
    try:
        overrides = OverridesParser.create().parse_overrides(lines)
    except OverrideParseException as err:
        raise ConfigError(f"cannot parse the sweep's search space: {err}") from err
    space = SearchSpace()
    for override in overrides:
        key = override.get_key_element()
        space.distributions.pop(key, None)
        space.fixed = [f for f in space.fixed if f.split("=", 1)[0] != key]
        if override.is_sweep_override():
            space.distributions[key] = _distribution(key, override.value())
        else:
            space.fixed.append(str(override.input_line))
    return space


def _distribution(key: str, sweep: Any) -> Any:
    from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, RangeSweep
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    log = "log" in (sweep.tags or set())
    if isinstance(sweep, ChoiceSweep):
        for value in sweep.list:
            if not (value is None or isinstance(value, (bool, int, float, str))):
                raise ConfigError(
                    f"{key}: choice values must be numbers, strings, booleans or null "
                    f"(Optuna stores them as such); got {value!r}"
                )
        choices: list[Any] = list(sweep.list)
        return CategoricalDistribution(choices)
    if isinstance(sweep, RangeSweep):
        start: Any = sweep.start
        stop: Any = sweep.stop
        step: Any = sweep.step
        if all(isinstance(v, int) for v in (start, stop, step)):
            return IntDistribution(start, stop - step, step=step, log=log)
        count = math.ceil((stop - start) / step - 1e-9)  # 0.2 / 0.05 is 4.000000000000001
        high = round(start + (count - 1) * step, 12)
        return FloatDistribution(start, high, step=None if log else step, log=log)
    if isinstance(sweep, IntervalSweep):
        low: Any = sweep.start
        high_end: Any = sweep.end
        if isinstance(low, int) and isinstance(high_end, int):
            return IntDistribution(low, high_end, log=log)
        return FloatDistribution(float(low), float(high_end), log=log)
    raise ConfigError(f"{key}: unsupported sweep {sweep!r}; use choice, range or interval")


def suggest(trial: Any, space: SearchSpace) -> dict[str, Any]:
    """Sample every parameter's value; a trial that already has a value gets it back."""
    from optuna.distributions import CategoricalDistribution, IntDistribution

    values: dict[str, Any] = {}
    for name, dist in space.distributions.items():
        if isinstance(dist, CategoricalDistribution):
            values[name] = trial.suggest_categorical(name, dist.choices)
        elif isinstance(dist, IntDistribution):
            values[name] = trial.suggest_int(
                name, dist.low, dist.high, step=dist.step, log=dist.log
            )
        else:
            values[name] = trial.suggest_float(
                name, dist.low, dist.high, step=dist.step, log=dist.log
            )
    return values


def format_value(value: Any) -> str:
    """A value as Hydra override text: `true`, `null`, `0.001`, `bert`, `'a b'`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(format_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{format_value(v)}" for k, v in value.items()) + "}"
    text = str(value)
    if _PLAIN_VALUE.match(text) and text not in ("true", "false", "null"):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def trial_overrides(values: dict[str, Any]) -> list[str]:
    """`key=value` command-line overrides for a trial's sampled values."""
    return [f"{key}={format_value(value)}" for key, value in values.items()]
