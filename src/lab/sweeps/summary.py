"""The end-of-sweep console summary: trial counts, the best trials, where the files are."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from lab.sweeps.results import RUN_DIR, best_summary
from lab.training.console import message_console

TOP = 5


def print_sweep_summary(
    study: Any, sweep_dir: Path, plots: list[Path], console: Console | None = None
) -> None:
    """Print the best (or Pareto-optimal) trials and the sweep directory."""
    from optuna.trial import TrialState

    console = console or message_console()
    summary = best_summary(study)
    counts = ", ".join(f"{n} {state}" for state, n in summary["trials"].items() if n)
    names = list(summary["objectives"])
    complete = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    if len(study.directions) == 1:
        reverse = study.direction.name == "MAXIMIZE"
        shown = sorted(complete, key=lambda t: t.value, reverse=reverse)[:TOP]
        title = f"Study {study.study_name}: top {len(shown)} trials ({counts})"
    else:
        shown = sorted(study.best_trials, key=lambda t: t.number)
        title = f"Study {study.study_name}: Pareto front ({counts})"
    params = sorted({p for t in shown for p in t.params})
    table = Table(title=title)
    for column in ["trial", *names, *params]:
        table.add_column(column, justify="right")
    for trial in shown:
        values = [f"{v:.4f}" for v in trial.values]
        table.add_row(str(trial.number), *values, *(_short(trial.params.get(p)) for p in params))
    console.print(table)
    console.print(f"Sweep directory: [bold]{sweep_dir}[/bold] (trials.csv, best.json, plots/)")
    if "best" in summary:
        best = summary["best"]
        console.print(f"Best trial {best['number']}: [bold]{best[RUN_DIR]}[/bold]")
    if plots:
        console.print("Plots: " + ", ".join(p.name for p in plots))


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
