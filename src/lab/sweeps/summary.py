"""The end-of-sweep console summary: trial counts, the best trials, where the files are.

The table exists to show which values won, so a parameter's name is never cut: one row per
trial where that fits the console (80 columns in a pipe, or `COLUMNS`); else transposed, like
`lab.compare`'s table, one row per metric and parameter (its full key) and one column per
trial, in as many parts as the width needs. trials.csv has every trial and every key too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.cells import cell_len
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
    rows = [
        [
            str(trial.number),
            *(f"{v:.4f}" for v in trial.values),
            *(_short(trial.params.get(p)) for p in params),
        ]
        for trial in shown
    ]
    print_trials_table(title, ["trial", *names, *params], rows, console)
    console.print(f"Sweep directory: [bold]{sweep_dir}[/bold] (trials.csv, best.json, plots/)")
    if "best" in summary:
        best = summary["best"]
        console.print(f"Best trial {best['number']}: [bold]{best[RUN_DIR]}[/bold]")
    if plots:
        console.print("Plots: " + ", ".join(p.name for p in plots))


def print_trials_table(
    title: str, header: list[str], rows: list[list[str]], console: Console
) -> None:
    """`rows` (trial number first, then the metrics' and parameters' cells) under `header`:
    one row per trial where that fits `console`'s width, else transposed (see the module
    docs): every key is printed whole, on one line."""
    widths = [
        max(cell_len(c) for c in [h, *(row[i] for row in rows)]) for i, h in enumerate(header)
    ]
    if _table_width(widths) <= console.width:
        table = Table(title=title)
        for column in header:
            table.add_column(column, justify="right")
        for row in rows:
            table.add_row(*row)
        console.print(table)
        return
    keys = header[1:]
    # The header row reads "trial | 3 | 0 | 5": the first column's title names the others.
    labels = [row[0] for row in rows]
    key_width = max(cell_len(k) for k in header)
    # A value wider than what the key column leaves (a long group choice) folds in its cell.
    room = max(console.width - _table_width([key_width, 0], edge=False), len("0.0000"))
    column_widths = [
        min(max(cell_len(c) for c in [label, *row[1:]]), room)
        for label, row in zip(labels, rows, strict=True)
    ]
    chunks: list[list[int]] = [[]]
    for index, width in enumerate(column_widths):
        taken = [key_width, *(column_widths[i] for i in chunks[-1]), width]
        if chunks[-1] and _table_width(taken, edge=False) > console.width:
            chunks.append([])
        chunks[-1].append(index)
    for number, chunk in enumerate(chunks):
        part = f" ({number + 1}/{len(chunks)})" if len(chunks) > 1 else ""
        widths = [key_width, *(column_widths[i] for i in chunk)]
        # Fixed widths and a table exactly as wide as they add up to: rich then never narrows
        # the key column (past a console narrower than the longest key, lines are longer).
        # No outer border: its two columns let five trials of a 27-character key fit in 80.
        table = Table(title=title + part, width=_table_width(widths, edge=False), show_edge=False)
        table.add_column(header[0], width=key_width, no_wrap=True)
        for index in chunk:
            table.add_column(
                labels[index], width=column_widths[index], justify="right", overflow="fold"
            )
        for position, key in enumerate(keys, start=1):
            table.add_row(key, *(rows[index][position] for index in chunk))
        console.print(table, crop=False)


def _table_width(widths: list[int], edge: bool = True) -> int:
    """A rich table's width for columns of these contents: one space of padding on each side
    of a cell, a border between columns, and (`edge`) one before the first and after the last
    (lab.compare's formula)."""
    return sum(widths) + 3 * len(widths) + (1 if edge else -1)


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
