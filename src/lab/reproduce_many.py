"""`python -m lab.reproduce <multirun or sweep folder>`: reproduce every run in it, one after
another, and say in one table which reproduced.

    python -m lab.reproduce outputs/multiruns/2026-12-06/22-26-12_28703-cb63   # seeds 1, 2, 3

A paper's table is a multirun (`-m seed=1,2,3`): Hydra's `multirun.yaml` beside numbered job
folders, each a run. `lab.reproduce <folder>` said only "not a lab run directory" (s27a M5),
and reproducing the table took a shell loop. Now the finished runs under the folder (the runs
`lab.compare <folder>` compares: `lab.compare_find.find_runs`, so no earlier reproduction
inside a run is taken for a run) are reproduced in turn, each into its own
`<run>/reproductions/<name>/` with its own `Recorded vs now` table, all of them under the one
`<name>` (the time the whole reproduction started), so that

    python -m lab.compare <folder>/*/reproductions/<name>

prints the reproduced table, to set beside `lab.compare <folder>`'s; the closing lines give
that command and a table of the runs: the options that tell them apart (their differing
overrides: `seed=2`), how many metrics passed, and pass / FAIL / `error: <why>`.

One run that fails (its metrics differ, its data is gone, a bug: its traceback is printed)
does not stop the others. Exit code: 0 when every run reproduced, 1 when some metrics differ,
2 when some run could not be reproduced at all (bad input, a bug), 130 on Ctrl-C (which stops
the whole folder, naming the reproduction it interrupted). Runs are reproduced one at a time,
in this process: a folder of DDP runs has each reproduction's other ranks started by
Lightning with this command line, and such a rank reproduces only its rank 0's run
(`TARGET_VARIABLE` names that run's reproduction folder: `lab.reproduce_target`).
"""

from __future__ import annotations

import os
import shlex
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

from lab.errors import EXIT_USER_ERROR


@dataclass
class Outcome:
    """How the reproduction of one run of the folder ended."""

    run: Path
    result: str  # "pass", "FAIL" or "error: <why>"
    passed: int = 0
    metrics: int = 0


def is_folder_of_runs(path: Path) -> bool:
    """Whether `path` is no run itself but a folder with runs (record.json) below it."""
    if (path / "record.json").is_file() or not path.is_dir():
        return False
    return next(path.rglob("record.json"), None) is not None


def reproduce_folder(folder: Path, *, rtol: float, atol: float) -> int:
    """Reproduce every finished run under `folder` (module docstring); return the exit code."""
    from lab.compare_find import find_runs, unfinished_line
    from lab.reproduce import EXIT_MISMATCH, print_comparison, reproduce_run
    from lab.reproduce_target import TARGET_VARIABLE, reproduction_name
    from lab.run_dir.records import is_global_rank_zero

    shared = os.environ.get(TARGET_VARIABLE)
    if not is_global_rank_zero() and shared:
        # a DDP rank Lightning started for rank 0's reproduction of one run: that run only
        reproduce_run(Path(shared).parent.parent, rtol=rtol, atol=atol)
        return 0
    unfinished: list[Path] = []
    runs = find_runs([str(folder)], left_out=unfinished)
    name = reproduction_name()
    count = len(runs)
    _say(
        f"reproducing {count} run{'s' * (count != 1)} of {folder} one after another, each "
        f"into <run>/reproductions/{name}/"
    )
    if unfinished:
        _say(unfinished_line(unfinished))
    outcomes: list[Outcome] = []
    for index, run in enumerate(runs, 1):
        _say(f"[{index}/{count}] {run}", rule=True)
        try:
            ok, rows, warnings = reproduce_run(run, rtol=rtol, atol=atol, name=name)
        except Exception as err:  # this run's problem: the others still reproduce
            outcomes.append(Outcome(run, f"error: {_why(err)}"))
            continue
        except BaseException:  # Ctrl-C, SIGTERM: the folder stops; what was done is said
            if outcomes:
                _summary(folder, outcomes)
            raise
        print_comparison(rows, warnings, tolerance=(rtol, atol))
        passed = sum(ok for *_, ok in rows)
        outcomes.append(Outcome(run, "pass" if ok else "FAIL", passed, len(rows)))
    _summary(folder, outcomes)
    reproduced = [o.run for o in outcomes if o.metrics]  # those that left a reproduction
    if reproduced:
        _say(
            "the reproduced table: python -m lab.compare "
            + " ".join(_patterns(folder, reproduced, name))
            + f"; the recorded one: python -m lab.compare {shlex.quote(str(folder))}"
        )
    if any(o.result.startswith("error") for o in outcomes):
        return EXIT_USER_ERROR
    return EXIT_MISMATCH if any(o.result == "FAIL" for o in outcomes) else 0


def _why(err: Exception) -> str:
    """A refusal's own words (a LabError, Hydra refusing an option); a bug's type and
    message, its traceback printed on stderr."""
    from lab.config.cli import user_error_message

    message = user_error_message(err)
    if message is None:
        traceback.print_exception(err)
        message = f"{type(err).__name__}: {err}"
    print(f"error: {message}", file=sys.stderr)
    return message


def _patterns(folder: Path, runs: list[Path], name: str) -> list[str]:
    """Shell patterns matching this reproduction's folders: `<folder>/*/reproductions/<name>`
    (one `*` per level below `folder`; a sweep's `trials/<N>` has two)."""
    depths = sorted({len(run.relative_to(folder).parts) for run in runs})
    base = shlex.quote(str(folder))
    return [f"{base}/{'*/' * depth}reproductions/{name}" for depth in depths]


def _varying(runs: list[Path]) -> dict[Path, str]:
    """Each run's overrides that not every run shares (`seed=2`), from its record.json."""
    import json

    given: dict[Path, list[str]] = {}
    for run in runs:
        try:
            overrides = json.loads((run / "record.json").read_text()).get("overrides")
        except (OSError, ValueError, AttributeError):
            overrides = None
        given[run] = [str(o) for o in overrides] if isinstance(overrides, list) else []
    shared = set.intersection(*(set(o) for o in given.values())) if given else set()
    return {run: " ".join(o for o in items if o not in shared) for run, items in given.items()}


def _summary(folder: Path, outcomes: list[Outcome]) -> None:
    """One row per run: where it is under `folder`, what tells it apart, the verdict."""
    from rich.table import Table

    from lab.training.console import message_console

    varying = _varying([o.run for o in outcomes])
    passed = sum(o.result == "pass" for o in outcomes)
    table = Table(title=f"Reproductions of {folder}: {passed} of {len(outcomes)} reproduced")
    for column in ("run", "overrides", "metrics passed", "result"):
        table.add_column(column, justify="right" if column == "metrics passed" else "left")
    for outcome in outcomes:
        colour = {"pass": "green", "FAIL": "red"}.get(outcome.result, "red")
        table.add_row(
            str(outcome.run.relative_to(folder)),
            varying.get(outcome.run) or "-",
            f"{outcome.passed}/{outcome.metrics}" if outcome.metrics else "-",
            f"[{colour}]{outcome.result}",
        )
    message_console().print(table)


def _say(line: str, rule: bool = False) -> None:
    from rich.text import Text

    from lab.training.console import message_console

    console = message_console()
    if rule:
        console.rule(Text(line), align="left")
    else:
        console.print(Text(line))
