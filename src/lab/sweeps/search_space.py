"""Hydra's sweep grammar as an Optuna search space, and sampled values back as overrides.

    optimizer.lr: tag(log, interval(1e-5, 1e-3))   -> FloatDistribution(1e-5, 1e-3, log=True)
    data.batch_size: choice(16, 32, 64)             -> CategoricalDistribution([16, 32, 64])
    trainer.max_epochs: range(1, 5)                 -> IntDistribution(1, 4)   (stop excluded)
    scheduler.warmup_ratio: range(0.0, 0.2, 0.05)   -> FloatDistribution(0.0, 0.15, step=0.05)
    model: choice(bert, roberta)                    -> a config-group choice, like any other

Anything that is not a sweep (`data.max_length: 128`) is a fixed override of every trial.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from typing import Any

from lab.errors import ConfigError
from lab.sweeps.space_checks import range_problem

log = logging.getLogger(__name__)

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
        searched = space.distributions.pop(key, None)
        if searched is not None and not override.is_sweep_override():
            # Said, as a plain override silently dropped a dimension of the sweep file's.
            log.info(
                "%s on the command line fixes %s for every trial: it is no longer searched",
                override.input_line,
                key,
            )
        space.fixed = [f for f in space.fixed if f.split("=", 1)[0] != key]
        if override.is_sweep_override():
            space.distributions[key] = _distribution(key, override.value())
        else:
            space.fixed.append(str(override.input_line))
    return space


def _distribution(key: str, sweep: Any) -> Any:
    """The Optuna distribution of one sweep; a range Optuna would refuse is a `ConfigError`
    naming the key and the sweep as written (checked before anything of the sweep exists)."""
    from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, RangeSweep

    # The one tag read is `log`; any other (a typo: `tag(lgo, ...)`) would silently search
    # a linear scale. A choice takes none: its values are listed, not scaled.
    tags = sorted(sweep.tags or ()) if hasattr(sweep, "tags") else []
    allowed = [] if isinstance(sweep, ChoiceSweep) else ["log"]
    if unknown := [t for t in tags if t not in allowed]:
        reads = (
            "no tag" if not allowed else "one tag: tag(log, interval(...)) or tag(log, range(...))"
        )
        raise ConfigError(
            f"{key}: tag {', '.join(repr(t) for t in unknown)} means nothing to the search "
            f"space; {'a choice' if not allowed else 'a range or interval'} reads {reads}"
        )
    if isinstance(sweep, ChoiceSweep):
        for value in sweep.list:
            if not (value is None or isinstance(value, (bool, int, float, str))):
                raise ConfigError(
                    f"{key}: choice values must be numbers, strings, booleans or null "
                    f"(Optuna stores them as such); got {value!r}"
                )
    elif not isinstance(sweep, (RangeSweep, IntervalSweep)):
        raise ConfigError(f"{key}: unsupported sweep {sweep!r}; use choice, range or interval")
    if (problem := _range_problem(sweep)) is not None:
        raise ConfigError(f"{key}: {_sweep_text(sweep)} {problem}")
    try:
        distribution = _build(sweep)
    except ValueError as err:  # anything the checks above missed: still one line, with the key
        raise ConfigError(f"{key}: {_sweep_text(sweep)} is not a valid range: {err}") from err
    # Values the key does not take (`optimizer.lr=interval(-1,-0.5)`) would fail every trial's
    # range check, one by one, in a study made for nothing: refused here, with the rest.
    if (problem := range_problem(key, distribution)) is not None:
        raise ConfigError(f"{key}: {_sweep_text(sweep)} {problem}")
    return distribution


def _range_problem(sweep: Any) -> str | None:
    """What makes a range or interval empty or unusable, in words; None when it is fine."""
    from hydra.core.override_parser.types import IntervalSweep, RangeSweep

    log = "log" in (sweep.tags or set())
    if isinstance(sweep, IntervalSweep):
        low: Any = sweep.start  # Hydra types them Optional; the parser always sets them
        high: Any = sweep.end
        if low > high:
            return "has low > high"
        if log and low <= 0:
            return "needs low > 0 on a log scale"
        return None
    if not isinstance(sweep, RangeSweep):
        return None
    start: Any = sweep.start
    stop: Any = sweep.stop
    step: Any = sweep.step
    if step <= 0:
        return "needs a step > 0"
    if stop <= start:
        return "is empty: a range excludes its stop, so stop must be > start"
    if log and start <= 0:
        return "needs start > 0 on a log scale"
    if log and all(isinstance(v, int) for v in (start, stop, step)) and step != 1:
        return "on a log scale needs step 1 (Optuna samples log-scaled integers unstepped)"
    return None


def _build(sweep: Any) -> Any:
    from hydra.core.override_parser.types import ChoiceSweep, RangeSweep
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    log = "log" in (sweep.tags or set())
    if isinstance(sweep, ChoiceSweep):
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
    low: Any = sweep.start
    high_end: Any = sweep.end
    if isinstance(low, int) and isinstance(high_end, int):
        return IntDistribution(low, high_end, log=log)
    return FloatDistribution(float(low), float(high_end), log=log)


def _sweep_text(sweep: Any) -> str:
    """A sweep as the grammar writes it: `tag(log, interval(0, 0.001))`, `choice(16, 32)`."""
    from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, RangeSweep

    if isinstance(sweep, ChoiceSweep):
        text = f"choice({', '.join(_choice_text(v) for v in sweep.list)})"
    elif isinstance(sweep, IntervalSweep):
        text = f"interval({sweep.start:g}, {sweep.end:g})"
    elif isinstance(sweep, RangeSweep):
        # A float range keeps its `.0`: range(1.0, 5.0) steps through floats, range(1, 5) ints.
        step = "" if sweep.step == 1 and isinstance(sweep.step, int) else f", {_num(sweep.step)}"
        text = f"range({_num(sweep.start)}, {_num(sweep.stop)}{step})"
    else:
        text = repr(sweep)
    tags = sorted(sweep.tags or ())
    return f"tag({', '.join(tags)}, {text})" if tags else text


def _num(value: Any) -> str:
    return repr(value) if isinstance(value, float) and value.is_integer() else f"{value:g}"


def _choice_text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else format_value(value)


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
