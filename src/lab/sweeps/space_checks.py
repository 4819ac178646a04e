"""The search space held to what its keys accept, before anything of a sweep exists.

Two kinds of values reach a trial that lab's grammar checks (`search_space`) do not cover:

- the values a distribution searches: `optimizer.lr=interval(-1,-0.5)` parses, and the study
  would be created only for every trial to fail the run's range check, one by one. Its bounds
  and choices are held to the key's rule in `lab.config.ranges` (`range_problem`).
- the trials of `hydra.sweeper.enqueue_trials`: Optuna takes an enqueued value as it is. One
  outside its distribution is used with a warning (`lr=0.5` in `interval(1e-4,1e-2)`), one
  the distribution cannot hold (`-0.1` on a log scale) raises in the worker after the trial
  was created, and every later run of the command met the same trial again
  (`check_enqueued`).

Each problem is a `ConfigError` of one line, which the sweeper prints and exits 2 on.
"""

from __future__ import annotations

import math
from typing import Any

from lab.config.ranges import Rule, rule_for
from lab.errors import ConfigError

# A range of more values than this is judged by its ends (and the rule's alternatives), not
# value by value: enough for any range a sweep steps through, cheap to list.
_LISTED = 1000


def range_problem(key: str, distribution: Any) -> str | None:
    """What makes `distribution` search values `key` does not accept (its rule in
    `lab.config.ranges`), in words that follow the sweep's text; None when every value it
    can sample is valid, or the key has no rule."""
    from optuna.distributions import CategoricalDistribution, IntDistribution

    rule = rule_for(key)
    if rule is None:
        return None
    if isinstance(distribution, CategoricalDistribution):
        for choice in distribution.choices:
            if (problem := rule.problem(choice)) is not None:
                return f"holds {show_value(choice)}, which is {problem}; valid: {rule.valid()}"
        return None
    values = _listed(distribution)
    if values is not None:  # a range: each of its values, so a gap in the rule is found
        for value in values:
            if (problem := rule.problem(value)) is not None:
                return f"searches {show_value(value)}, which is {problem}; valid: {rule.valid()}"
        return None
    if not isinstance(distribution, IntDistribution) and _integers_only(rule):
        # Hydra's interval samples floats whatever its ends: 8.5 is no batch size.
        return (
            f"samples numbers that are not integers; valid: {rule.valid()} (range(...) or "
            "choice(...) search integers)"
        )
    return _span_problem(rule, distribution.low, distribution.high)


def _integers_only(rule: Rule) -> bool:
    numeric = [a for a in rule.alternatives if a.kind == "number" and a.literal is None]
    return bool(numeric) and all(a.integer for a in numeric)


def _span_problem(rule: Rule, low: Any, high: Any) -> str | None:
    """The problem of a continuous (or too long to list) span [low, high] under `rule`."""
    bad = [(v, p) for v in (low, high) if (p := rule.problem(v)) is not None]
    if len(bad) == 2:
        (lo, lo_problem), (hi, hi_problem) = bad
        which = (
            f"both ends {lo_problem}"
            if lo_problem == hi_problem
            else f"{show_value(lo)} {lo_problem}, {show_value(hi)} {hi_problem}"
        )
        return f"searches {show_value(lo)} to {show_value(hi)}, {which}; valid: {rule.valid()}"
    if bad:
        value, problem = bad[0]
        return f"searches {show_value(value)}, which is {problem}; valid: {rule.valid()}"
    # Both ends valid: the values between are, when one alternative holds both ends (each
    # alternative is an interval). `-1 or int >= 1` holds -1 and 3 but not 0.
    spanning = any(
        a.kind == "number" and a.literal is None and a.accepts(low) and a.accepts(high)
        for a in rule.alternatives
    )
    if spanning:
        return None
    return (
        f"searches values between {show_value(low)} and {show_value(high)} that are not valid; "
        f"valid: {rule.valid()}"
    )


def _listed(distribution: Any) -> list[Any] | None:
    """Every value of a stepped (discrete) distribution, when there are few enough; None for
    a continuous one or a long range."""
    from optuna.distributions import IntDistribution

    # An int distribution steps even on a log scale (Optuna allows only step 1 there); a
    # float one steps only when it is a range.
    step = distribution.step
    if step is None:
        return None
    count = math.floor((distribution.high - distribution.low) / step + 1e-9) + 1
    if count > _LISTED:
        return None
    if isinstance(distribution, IntDistribution):
        return list(range(distribution.low, distribution.high + 1, step))
    return [round(distribution.low + i * step, 12) for i in range(count)]


def check_enqueued(entries: list[Any], distributions: dict[str, Any]) -> list[dict[str, Any]]:
    """The enqueued trials as flat `{key: value}` mappings (a nested `{optimizer: {lr: x}}`
    is `{optimizer.lr: x}`, the key the study stores); a `ConfigError` naming the entry, the
    key, the value and what is valid for a key that is not searched, a value its key does not
    accept (`lab.config.ranges`) or one outside the key's search space."""
    checked = []
    for index, entry in enumerate(entries):
        where = f"hydra.sweeper.enqueue_trials[{index}]"
        if not isinstance(entry, dict):
            raise ConfigError(
                f"{where}={show_value(entry)}: an enqueued trial is a mapping of searched keys to "
                "values, e.g. hydra.sweeper.enqueue_trials=[{optimizer.lr:5e-5}]"
            )
        flat = _flatten(entry)
        for key, value in flat.items():
            distribution = distributions.get(key)
            if distribution is None:
                searched = ", ".join(sorted(distributions)) or "none"
                raise ConfigError(
                    f"{where}: {key} is not searched, so its value would be ignored; an "
                    f"enqueued trial sets searched keys (searched: {searched})"
                )
            space = describe(distribution)
            rule = rule_for(key)
            if rule is not None and (problem := rule.problem(value)) is not None:
                raise ConfigError(
                    f"{where}: {key}={show_value(value)} is {problem} ({key} takes "
                    f"{rule.valid()}); valid: its search space, {space}"
                )
            if not contains(distribution, value):
                raise ConfigError(
                    f"{where}: {key}={show_value(value)} is outside its search space; "
                    f"valid: {space}"
                )
        checked.append(flat)
    return checked


def contains(distribution: Any, value: Any) -> bool:
    """Whether `value` is one `distribution` can sample (of its type, within its bounds, on
    its step): what an enqueued value must be for the trial to be one of the search."""
    from optuna.distributions import CategoricalDistribution, IntDistribution

    if isinstance(distribution, CategoricalDistribution):
        # 1 == True in Python, and Optuna matches a choice by equality: keep bools apart.
        return any(
            choice == value and isinstance(choice, bool) == isinstance(value, bool)
            for choice in distribution.choices
        )
    if not isinstance(value, (int, float)) or isinstance(value, bool) or math.isnan(value):
        return False
    if isinstance(distribution, IntDistribution) and not isinstance(value, int):
        return False
    if not distribution.low <= value <= distribution.high:
        return False
    step = distribution.step
    if step is None or distribution.log:
        return True
    steps = (value - distribution.low) / step
    return abs(steps - round(steps)) < 1e-9 * max(1.0, abs(steps))


def describe(distribution: Any) -> str:
    """A distribution's values in words: `one of 16, 32`, `a number in [0.0001, 0.01] on a log
    scale`, `an integer in [2, 4]`, `a number in [0, 0.15] in steps of 0.05`."""
    from optuna.distributions import CategoricalDistribution, IntDistribution

    if isinstance(distribution, CategoricalDistribution):
        return "one of " + ", ".join(show_value(c) for c in distribution.choices)
    kind = "an integer" if isinstance(distribution, IntDistribution) else "a number"
    text = f"{kind} in [{show_value(distribution.low)}, {show_value(distribution.high)}]"
    if distribution.log:
        return text + " on a log scale"
    stepped = distribution.step is not None
    if stepped and not (isinstance(distribution, IntDistribution) and distribution.step == 1):
        return text + f" in steps of {show_value(distribution.step)}"
    return text


def _flatten(entry: dict[Any, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in entry.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            flat.update(_flatten(value, name))
        else:
            flat[name] = value
    return flat


def show_value(value: Any) -> str:
    """A value as the command line writes it: `0.0001`, `-1`, `2.0` (a float, whole), `null`,
    `true`, `bert`."""
    if isinstance(value, float):
        return repr(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def check_fixed_overrides(composed: Any, fixed: list[str]) -> None:
    """Refuse a plain override every trial shares whose value its key's range refuses
    (`scheduler.warmup_ratio=2`: each trial would fail on it), in `composed`, a trial's
    config. Only keys a range rule covers: others are not resolved here (a path may
    interpolate `${hydra:...}`, known only inside a trial)."""
    from lab.config.ranges import FORMS, check_keys

    keys = [o.split("=", 1)[0].lstrip("+~") for o in fixed if "=" in o]
    check_keys(composed, [key for key in keys if rule_for(key) or key in FORMS])
