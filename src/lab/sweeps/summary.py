"""The end-of-sweep console summary: trial counts, the best trials, where the files are.

The table exists to show which values won, so a parameter's name is never cut: one row per
trial where that fits the console (80 columns in a pipe, or `COLUMNS`); else transposed, like
`lab.compare`'s table, one row per metric and parameter (its full key) and one column per
trial, in as many parts as the width needs. trials.csv has every trial and every key too.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from lab.compare_cells import column_cells
from lab.sweeps.results import RUN_DIR, best_summary, importance_skipped
from lab.training.console import message_console
from lab.wide_tables import print_fitting_table

TOP = 5


def print_sweep_summary(
    study: Any, sweep_dir: Path, plots: list[Path], console: Console | None = None
) -> None:
    """Print the best (or Pareto-optimal) trials, the sweep directory, the best trial's run
    directory and the command that reproduces it."""
    from optuna.trial import TrialState

    console = console or message_console()
    summary = best_summary(study)
    counts = ", ".join(f"{n} {state}" for state, n in summary["trials"].items() if n)
    names = list(summary["objectives"])
    complete = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    if len(study.directions) == 1:
        reverse = study.direction.name == "MAXIMIZE"
        shown = sorted(complete, key=lambda t: t.value, reverse=reverse)[:TOP]
        title = f"Study {study.study_name}: {_top(len(shown))} ({counts})"
    else:
        shown = sorted(study.best_trials, key=lambda t: t.number)
        title = f"Study {study.study_name}: Pareto front ({counts})"
    params = sorted({p for t in shown for p in t.params})
    # A sampled float with as few digits as tell the trials apart (`lab.compare_cells`): at
    # three, 1.0000016e-05 and 1.0000071e-05 were both `1e-05` (s26c M4).
    cells = [column_cells([trial.params.get(p) for trial in shown]) for p in params]
    objectives = [
        objective_cells(name, [trial.values[k] for trial in shown]) for k, name in enumerate(names)
    ]
    rows = [
        [
            str(trial.number),
            *(column[i] for column in objectives),
            *(column[i] for column in cells),
        ]
        for i, trial in enumerate(shown)
    ]
    print_trials_table(title, ["trial", *names, *params], rows, console)
    console.print(f"Sweep directory: [bold]{sweep_dir}[/bold] (trials.csv, best.json, plots/)")
    if "best" in summary:
        best = summary["best"]
        console.print(f"Best trial {best['number']}: [bold]{best[RUN_DIR]}[/bold]")
        if tied := tied_with_best(complete, best["number"]):  # Optuna keeps the first: said
            console.print(
                f"Tied with it: trial {', trial '.join(str(n) for n in tied)} (the same "
                f"{names[0]}; the lowest number is named best)"
            )
        console.print(f"Reproduce it: {escape(reproduce_command(best[RUN_DIR]))}")
    elif shown:  # a Pareto front: no one best, any of its trials
        command = reproduce_command(sweep_dir / "trials") + "/<number>"
        console.print(f"Reproduce one: {escape(command)}")
    skipped = importance_skipped(study)
    if plots or skipped:
        drawn = ", ".join(p.name for p in plots) or "none"
        why = f" (param_importances.png skipped: {skipped})" if skipped else ""
        console.print(f"Plots: {drawn}{why}")


def tied_with_best(complete: list[Any], best: int) -> list[int]:
    """The numbers of the other complete trials whose value equals trial `best`'s exactly
    (one objective): Optuna names the first of them best, with no word of the others (s29b
    F3), where a researcher would run the tied trials again with more seeds."""
    value = next((t.value for t in complete if t.number == best), None)
    if value is None:
        return []
    return sorted(t.number for t in complete if t.number != best and t.value == value)


def reproduce_command(run_dir: str | Path) -> str:
    """The command that runs a trial again from its recorded config and compares its metrics
    with the recorded ones (`lab.reproduce`), its directory quoted for a POSIX shell."""
    return f"python -m lab.reproduce {shlex.quote(str(run_dir))}"


def print_trials_table(
    title: str, header: list[str], rows: list[list[str]], console: Console
) -> None:
    """`rows` (trial number first, then the metrics' and parameters' cells) under `header`:
    one row per trial where that fits `console`'s width, else transposed (see the module
    docs): every key is printed whole, on one line."""
    print_fitting_table(
        title,
        header[1:],
        [row[1:] for row in rows],
        console,
        labels=[row[0] for row in rows],
        key_title=header[0],
        labels_first=True,
        min_value_width=len("0.0000"),
        # No outer border: its two columns let five trials of a 27-character key fit in 80.
        edge=False,
    )


def _top(shown: int) -> str:
    """`top trial`, `top 5 trials`, or `no complete trial` (every trial failed or pruned)."""
    if shown == 0:
        return "no complete trial"
    return "top trial" if shown == 1 else f"top {shown} trials"


#: an objective's decimals: 4, more where the trials shown differ only further down
OBJECTIVE_DECIMALS, MOST_DECIMALS = 4, 12


def objective_cells(name: str, values: list[float]) -> list[str]:
    """One objective's cells for the trials shown: a parameter count (`model/params_*`) whole;
    else 4 decimals, or the fewest more that keep distinct values distinct, so the order the
    table ranks is seen (s31d L2: 0.69312924 and 0.69314271 both printed `0.6931`)."""
    if name.startswith("model/"):
        return [f"{v:.0f}" for v in values]
    distinct = len(set(values))
    for decimals in range(OBJECTIVE_DECIMALS, MOST_DECIMALS + 1):
        cells = [f"{v:.{decimals}f}" for v in values]
        if len(set(cells)) == distinct:
            return cells
    return cells
