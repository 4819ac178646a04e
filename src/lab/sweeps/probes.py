"""The trial configs the sweeper composes before a study exists, to refuse a bad value first.

A choice over a config group composes differently for each value:
`model=choice(tiny_bert, tiny_bertt)` names an option that is not, and checking the first
value only let the study be created and every trial of the second fail on it, one by one.
Each value of such a choice is composed once, beside the other parameters at their first
value (or low end): one config per value, not the cross product, so the check grows with
the values listed, not with the grid.

A choice of a plain key's values (`seed=choice(1, ..., 40)`) composes like its first value:
the key exists (the first config proved it), its values were held to the key's range when
the space was parsed, and a value selects no config. Composing each (a quarter of a second
apiece) would only slow the command down.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def probes(distributions: dict[str, Any], is_group: Callable[[str], bool]) -> list[dict[str, Any]]:
    """The parameter values to compose: all at their first value, then each further value of
    each choice over a config group (`is_group(name)`) in turn. A range composes as its low
    end: it searches a plain key's numbers, checked when the space was parsed."""
    first = {name: _first(dist) for name, dist in distributions.items()}
    configs = [first]
    for name, dist in distributions.items():
        if not is_group(name):
            continue
        for value in list(getattr(dist, "choices", ()))[1:]:
            configs.append({**first, name: value})
    return configs


def _first(distribution: Any) -> Any:
    choices = getattr(distribution, "choices", None)
    return choices[0] if choices else distribution.low


def changed(probe: dict[str, Any], first: dict[str, Any]) -> dict[str, Any]:
    """The values in which `probe` differs from the first probe (none for the first)."""
    # By type too: choice(1, true) holds 1 and True, which Python finds equal.
    return {
        name: value
        for name, value in probe.items()
        if type(value) is not type(first.get(name)) or value != first.get(name)
    }
