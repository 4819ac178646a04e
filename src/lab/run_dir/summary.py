"""The end-of-run summary: a table of final metrics and where everything was written."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from lab.training.console import message_console

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
    names = sorted({key.split("/", 1)[1] for key in metrics if "/" in key})
    stages = [s for s in ("val", "test") if any(k.startswith(f"{s}/") for k in metrics)]
    table = Table(title=f"Final metrics ({tested})")
    table.add_column("metric")
    for stage in stages:
        table.add_column(stage, justify="right")
    for name in names:
        cells = [metrics.get(f"{stage}/{name}") for stage in stages]
        if any(c is not None for c in cells):
            table.add_row(name, *("" if c is None else f"{c:.4f}" for c in cells))
    console.print(table)
    console.print(f"Run directory: [bold]{output_dir}[/bold]")
    model_dir = output_dir / "model"
    if model_dir.is_dir():
        console.print(f"Exported model: [bold]{model_dir}[/bold]")
