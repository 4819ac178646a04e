"""The end-of-run summary: a table of final metrics and where everything was written.

Printed on the screen, and written to the run's `train.log` as plain text too (as a
file-only record): a batch job's log or a run directory looked at months later holds the
same table and paths the user saw.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

from rich.console import Console
from rich.table import Table

from lab.log_records import FILE_ONLY_RECORD
from lab.training.console import message_console

log = logging.getLogger(__name__)

BEST = "best checkpoint"
LAST = "last weights"  # no best checkpoint (no validation before training ended): the model as is


def print_summary(
    metrics: dict[str, float],
    output_dir: Path,
    console: Console | None = None,
    tested: str = BEST,
) -> None:
    """Print val/test metrics side by side (`tested`: the weights they are of, in the table's
    title), then the run directory and exported model."""
    console = console or message_console()
    table = metrics_table(metrics)
    logged = plain_text(table)  # without the title: rich would wrap it to the table's width
    table.title = title = f"Final metrics ({tested})"
    lines = [f"Run directory: {output_dir}"]
    model_dir = output_dir / "model"
    if model_dir.is_dir():
        lines.append(f"Exported model: {model_dir}")
    console.print(table)
    for line in lines:
        name, path = line.split(": ", 1)
        console.print(f"{name}: [bold]{path}[/bold]")
    log.info("%s\n%s\n%s", title, logged, "\n".join(lines), extra=FILE_ONLY_RECORD)


def metrics_table(metrics: dict[str, float]) -> Table:
    """The val/test metrics side by side, one row per metric name, four decimals."""
    names = sorted({key.split("/", 1)[1] for key in metrics if "/" in key})
    stages = [s for s in ("val", "test") if any(k.startswith(f"{s}/") for k in metrics)]
    table = Table()
    table.add_column("metric")
    for stage in stages:
        table.add_column(stage, justify="right")
    for name in names:
        cells = [metrics.get(f"{stage}/{name}") for stage in stages]
        if any(c is not None for c in cells):
            table.add_row(name, *("" if c is None else format_metric(c) for c in cells))
    return table


def format_metric(value: float) -> str:
    """A metric as lab's tables show it (the final table, `lab.eval`'s, the model card): four
    decimals, so values line up and read alike across tools (`0.0833`, `2.9857`)."""
    return f"{value:.4f}"


def plain_text(table: Table) -> str:
    """`table` as rich draws it, without colour or terminal codes (for a log file)."""
    sink = io.StringIO()
    Console(file=sink, width=120, color_system=None, force_terminal=False).print(table)
    return sink.getvalue().rstrip()
