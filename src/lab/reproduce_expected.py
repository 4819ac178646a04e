"""What `lab.reproduce experiment=<name> [overrides]` checks: the metrics of the experiment's
`expected:` block that belong to the run being made, and what the overrides changed of it.

An `expected:` block holds numbers recorded (or published) for the experiment as written: its
seed, its model, its data. `lab.reproduce experiment=paper_tiny seed=2` checked seed 1's
numbers against a seed-2 run and called seed noise (test/acc 0.49 -> 0.51 on 200 rows) a
regression, FAIL and exit 1, without a word about the seed (s27a M4). Now the overrides that
change what the experiment pins are named before the run starts (Ctrl-C stops it), and a
metric outside the tolerance is reported as `differs`, not FAIL, with its own exit code
(`EXIT_NOT_COMPARABLE`, 3): a script tells "not reproduced" (1) from "another run than the
one pinned" (3); both are non-zero. All within tolerance is still exit 0: the pinned numbers
hold for this run too.

What an experiment pins (`overridden`):

- the seed;
- every key the experiment sets to other than lab's default (the config composed with the
  experiment against the one composed without it);
- every config group's option (`model=`, `data=`, `precision=`, ...): one a run switches
  computes other numbers whether or not the experiment named it.

Not pinned: `paths.*`, `logger.*`, `hydra.*` (where a run writes and logs) and `expected.*`
itself (a looser tolerance is a deliberate choice); and a key the experiment leaves at
lab's default (`data.num_workers=4`).

A seed study pins a set of numbers per seed, beside (or instead of) those of the
experiment's own seed; the block's tolerance applies to every seed:

    expected:
      atol: 1e-6
      metrics: {test/acc: 0.49}           # the experiment's own seed (seed: 1)
      seeds:
        2: {metrics: {test/acc: 0.51}}
        3: {metrics: {test/acc: 0.49}}

`seed=2` checks `seeds.2`; a seed with no entry checks `metrics` as an override of the seed
(`differs`, exit 3), or is refused before anything trains when the block has no `metrics`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lab.config.flatten import flatten
from lab.errors import LabError

EXIT_NOT_COMPARABLE = 3
Row = tuple[str, float, float | None, bool]  # metric, expected, now, within tolerance
# Where a run writes and logs, and the block checked: no override of them moves a metric.
NOT_PINNED = ("paths", "logger", "hydra", "expected", "experiment", "sweep")


@dataclass
class ExpectedCheck:
    """The metrics a run of the experiment is checked against, and how it differs from the
    experiment as written."""

    metrics: dict[str, float]
    rtol: float
    atol: float
    seed: Any  # the run's seed
    per_seed: bool  # `metrics` come from `expected.seeds.<seed>`
    overridden: list[str] = field(default_factory=list)  # `seed=2 (pinned: 1)`

    @property
    def comparable(self) -> bool:
        """Whether the run is the one the metrics were pinned for."""
        return not self.overridden


def composed_view(cfg: DictConfig, choices: Mapping[str, Any]) -> tuple[dict[str, Any], dict]:
    """(flat unresolved keys, group choices) of a composed config, as `expected_check`
    compares them: unresolved, so no resolver runs (`${now:}`, a package path)."""
    flat = flatten(OmegaConf.to_container(cfg, resolve=False))
    return flat, {str(k): v for k, v in choices.items() if not str(k).startswith("hydra")}


def expected_check(
    name: str,
    run: tuple[dict[str, Any], dict[str, Any]],
    experiment: tuple[dict[str, Any], dict[str, Any]],
    defaults: dict[str, Any],
    expected: Any,
) -> ExpectedCheck:
    """The check of a run of `experiment=<name>`: `run` and `experiment` are the
    `composed_view`s of the run's config and of the experiment's with no override, `defaults`
    the flat keys of lab's config with no experiment, `expected` the run's `expected` node."""
    block = OmegaConf.to_container(expected) if isinstance(expected, DictConfig) else expected
    if not isinstance(block, Mapping) or not (block.get("metrics") or block.get("seeds")):
        raise LabError(f"experiment {name} has no `expected:` metrics to check")
    rtol, atol = float(block.get("rtol", 0.0)), float(block.get("atol", 0.0))
    (now, now_choices), (pinned, pinned_choices) = run, experiment
    seed = now.get("seed")
    seeds = block.get("seeds") or {}
    if not isinstance(seeds, Mapping):
        raise LabError(
            f"experiment {name}: expected.seeds maps each seed to its numbers "
            "({2: {metrics: {test/acc: 0.91}}}), not a list or a value"
        )
    # `2:` and `"2":` alike: YAML reads `2:` as a number, an override may write text
    entry = next((seeds[key] for key in seeds if str(key) == str(seed)), None)
    if entry is not None:
        metrics = entry.get("metrics") if isinstance(entry, Mapping) else None
        if not metrics:
            raise LabError(f"experiment {name}: expected.seeds.{seed} has no `metrics:`")
    elif block.get("metrics"):
        metrics = block["metrics"]
    else:
        held = ", ".join(str(key) for key in seeds)
        raise LabError(
            f"experiment {name} pins expected metrics for seeds {held}, not for seed={seed}: "
            f"run one of those seeds, or add expected.seeds.{seed}.metrics to the experiment"
        )
    plain = {str(k): float(v) for k, v in dict(metrics).items()}
    overridden = _overridden(now, now_choices, pinned, pinned_choices, defaults)
    if entry is not None:  # the seed is pinned by the block itself
        overridden = [line for line in overridden if not line.startswith("seed=")]
    return ExpectedCheck(plain, rtol, atol, seed, entry is not None, overridden)


def _overridden(
    now: dict[str, Any],
    now_choices: dict[str, Any],
    pinned: dict[str, Any],
    pinned_choices: dict[str, Any],
    defaults: dict[str, Any],
) -> list[str]:
    """`key=value (pinned: value)` for each pinned key or group the run changes;
    the keys inside a switched group are said by the group."""
    lines, switched = [], []
    for group, option in now_choices.items():
        if group.split("/")[0] in NOT_PINNED or option == pinned_choices.get(group):
            continue
        lines.append(f"{group}={option} (pinned: {pinned_choices.get(group)})")
        switched.append(group)
    for key, value in pinned.items():
        top = key.split(".")[0]
        if top in NOT_PINNED or any(key.startswith(f"{group}.") for group in switched):
            continue
        if key != "seed" and defaults.get(key, _UNSET) == value:
            continue  # left at lab's default by the experiment
        if now.get(key, _UNSET) != value:
            lines.append(f"{key}={_shown(now.get(key, _UNSET))} (pinned: {value})")
    # the seed first: the override a seed study makes, and the one most often meant
    return sorted(lines, key=lambda line: not line.startswith("seed="))


_UNSET = object()


def _shown(value: Any) -> str:
    return "(removed)" if value is _UNSET else str(value)


def overridden_warning(name: str, check: ExpectedCheck) -> str:
    """The line said before the run where it is not the one the metrics were pinned for."""
    line = (
        f"experiment {name}'s expected metrics were pinned for its own settings, which this "
        f"run overrides: {_listed(check.overridden)}; a metric outside the tolerance can be "
        f"that change, not a regression: it is reported as `differs`, exit "
        f"{EXIT_NOT_COMPARABLE} (not comparable)"
    )
    if any(item.startswith("seed=") for item in check.overridden):
        line += f"; to pin this seed's numbers: expected.seeds.{check.seed}.metrics"
    return line


def verdict_line(check: ExpectedCheck, rows: Sequence[Row]) -> str:
    """The line under the table of a run that is not the pinned one."""
    differ = sum(not ok for *_, ok in rows)
    if not differ:
        return (
            f"all {len(rows)} metrics within tolerance of those pinned for the experiment's "
            f"own settings, though this run overrides {_listed(check.overridden)}"
        )
    return (
        f"not comparable: {differ} of {len(rows)} metrics differ from those pinned for the "
        f"experiment's own settings, and this run overrides {_listed(check.overridden)}: "
        "without those overrides it checks them"
    )


def _listed(items: list[str], most: int = 4) -> str:
    more = len(items) - most
    return ", ".join(items[:most]) + (f" and {more} more" if more > 0 else "")


def report_experiment(ok: bool, rows: list[Row], check: ExpectedCheck) -> int:
    """Print an experiment's table (and, for a run that is not the pinned one, the verdict
    under it); return the exit code."""
    from lab.reproduce import EXIT_MISMATCH, console_warning, print_comparison

    seed = f" for seed={check.seed}" if check.per_seed else ""
    print_comparison(
        rows,
        [],
        tolerance=(check.rtol, check.atol),
        reference="expected",
        title=f"Expected{seed} vs now",
        outside="FAIL" if check.comparable else "differs",
    )
    if not check.comparable:
        console_warning(verdict_line(check, rows))
    if ok:
        return 0
    return EXIT_MISMATCH if check.comparable else EXIT_NOT_COMPARABLE
