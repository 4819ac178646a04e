"""The closing lines of a plain multirun (`python -m lab.train -m seed=1,2 ...`).

Each job ends with its own table and run directory; after the last one, nothing said where
the jobs were gathered or how to see them side by side. `MultirunEnd`, a Hydra callback
(`hydra.callbacks` in `conf/hydra/default.yaml`), says it once the sweep returns:

    Multirun directory: outputs/multiruns/2026-12-05/10-00-00_123-ab (2 finished runs)
    Compare the runs: python -m lab.compare outputs/multiruns/2026-12-05/10-00-00_123-ab

lab's Optuna sweeper (`sweep=...`) ends with a summary of its own (the best trial, its
files), so only Hydra's basic sweeper gets these lines. A multirun whose job failed raises
before Hydra calls the callback: its traceback is the last word.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"


class MultirunEnd(Callback):
    """Hydra callback: after a plain multirun, name its folder and the command comparing it."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """Print `closing_lines` where the sweep was Hydra's basic one."""
        if str(config.hydra.sweeper.get("_target_", "")) != BASIC_SWEEPER:
            return
        folder = Path(str(config.hydra.sweep.dir)).resolve()
        if not folder.is_dir():
            return
        from rich.markup import escape

        from lab.training.console import message_console

        console = message_console()
        for name, value in closing_lines(folder):
            # escape: a folder named `runs[lr]` is a path, not rich markup
            console.print(f"{name}: [bold]{escape(value)}[/bold]", highlight=False)


def closing_lines(folder: Path) -> list[tuple[str, str]]:
    """`(name, value)` of each closing line of the multirun gathered in `folder`: the folder
    with its count of runs, then the `lab.compare` command (where a run finished)."""
    runs = sorted(p.parent for p in folder.rglob("record.json"))
    finished = sum((run / "metrics.json").is_file() for run in runs)
    count = f"{finished} finished run{'s' * (finished != 1)}"
    if finished != len(runs):
        count += f" of {len(runs)}"
    lines = [("Multirun directory", f"{folder} ({count})")]
    if finished:
        lines.append(("Compare the runs", f"python -m lab.compare {shlex.quote(str(folder))}"))
    return lines
