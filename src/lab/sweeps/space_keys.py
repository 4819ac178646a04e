"""The refusal of a sweep whose overrides do not compose, said alike by `lab.train -m` and
`lab.validate -m`.

`lab.train -m sweep=mine` with `params: {optimizer.lrr: ...}` is refused by the sweeper before
the study exists: `the sweep's overrides do not compose: 'optimizer.lrr' is not a config key.
Did you mean optimizer.lr? ...`. `lab.validate -m` parsed the same search space but never
asked whether its keys exist, and said "config ok" (s31f F3). `check_space_keys` gives it the
sweeper's line for a key that is no key, from the same probes (`lab.sweeps.probes`) and the
same hint (`lab.config.cli.unknown_key_hints`); `compose_refusal` is the line both print.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lab.errors import ConfigError


def compose_refusal(changed_values: Sequence[str], reason: str) -> str:
    """`the sweep's overrides do not compose[ (at <values>, ...)]: <reason>`; `changed_values`:
    the overrides of a later choice value the failing config took (none for the first)."""
    value = " ".join(changed_values)
    at = f" (at {value}, a value the search space holds)" if value else ""
    return f"the sweep's overrides do not compose{at}: {reason}"


def check_space_keys(space: Any, choices: Sequence[str], config_dirs: Sequence[str]) -> None:
    """Refuse a search space (`lab.sweeps.search_space.SearchSpace`) whose fixed or sampled
    overrides name a key that does not exist, as the sweeper does; `choices`: the config
    groups (a searched group is composed at each of its values); `config_dirs`: your config
    folders' search-path entries."""
    from lab.config.cli import unknown_key_hints
    from lab.config.paths import conf_dir
    from lab.sweeps.probes import changed, probes
    from lab.sweeps.search_space import trial_overrides

    groups = set(choices)
    tried = probes(space.distributions, lambda key: _group_of(key) in groups)
    for probe in tried:
        overrides = [*space.fixed, *trial_overrides(probe)]
        hints = unknown_key_hints(overrides, str(conf_dir()), "train", list(config_dirs))
        if hints:
            changed_values = trial_overrides(changed(probe, tried[0]))
            raise ConfigError(compose_refusal(changed_values, "; ".join(hints)))


def _group_of(key: str) -> str:
    """The group an override key chooses (`model`, `+model@encoder` -> `model`)."""
    return key.lstrip("+~").split("@", 1)[0]
