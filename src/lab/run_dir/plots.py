"""Figures of a finished run, written to `<run dir>/plots/` and sent to W&B as images.

    curves.png    training loss, validation loss and the optimized metric by step
                  (read back from the CSV log: every value the run logged; a marker on each
                  point of a short series), a dotted line at the tested best checkpoint's step
    <name>.png    each figure the head declares in `task.report_plots` (name -> a partial
                  `fn(report) -> Figure | None` drawn from test_report.json), e.g.
                  `confusion_matrix` (classification) and `entity_f1` (token classification)

A run without the CSV logger has no curves; a plot that cannot be drawn or saved is skipped
with a warning, never an error (and leaves no file): figures are a view of results that are
already saved. Names in
scripts the default font lacks (CJK, Thai, emoji class names) are drawn with an installed
fallback font; where none has them, their ticks are numbered and train.log says so in one line
(`lab.run_dir.plot_fonts`).
"""

from __future__ import annotations

import csv
import json
import logging
import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import partial
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from lab.log_records import FILE_ONLY_RECORD
from lab.run_dir.plot_fonts import (
    fallback_families,
    number_undrawable_ticks,
    plot_fonts,
    undrawn_line,
)

log = logging.getLogger(__name__)


def write_run_plots(run_dir: Path, report: dict[str, Any], cfg: DictConfig) -> list[Path]:
    """Draw curves.png and every `cfg.task.report_plots` figure the run has data for.

    A run config from before heads declared their figures (no `task.report_plots`) gets the
    curves alone. Returns the PNG paths written. A figure that fails at any point (drawing,
    layout, saving: a bug, a full disk, memory) is skipped with a warning and leaves no file:
    the run's results are already saved, and a figure is never worth failing it.
    """
    import matplotlib

    matplotlib.use("Agg")
    drawers: dict[str, Callable[[], Any]] = {
        "curves": partial(curves_figure, run_dir / "csv" / "metrics.csv", cfg),
    }
    for name, spec in (cfg.task.get("report_plots") or {}).items():
        drawers[str(name)] = partial(_report_plot, spec, report)
    written = []
    undrawn: dict[str, list[str]] = {}
    # Class names in any script: CJK / Thai / emoji fonts as fallbacks where installed, and
    # matplotlib's per-character warnings replaced by one train.log line (`plot_fonts`).
    with _fonts():
        for name, draw in drawers.items():
            try:
                path = _write_figure(draw, run_dir / "plots" / f"{name}.png", name, undrawn)
            except Exception as err:  # a figure is never worth failing a finished run
                log.warning("plot %s skipped: %s", name, _reason(err))
                continue
            if path is not None:
                written.append(path)
    if undrawn:  # a report on the figures, not a call to action: train.log only
        log.info(undrawn_line(undrawn), extra=FILE_ONLY_RECORD)
    return written


def missing_curves_note(run_dir: Path) -> str | None:
    """Why a finished run's plots/ has no curves.png where it has no CSV log (`logger=none`,
    `logger=tensorboard`: s34d L2); None where it has one."""
    if (run_dir / "csv" / "metrics.csv").is_file():
        return None
    return (
        "no plots/curves.png: it is drawn from the CSV log (csv/metrics.csv), which no logger wrote"
    )


def _write_figure(
    draw: Callable[[], Any], path: Path, name: str, undrawn: dict[str, list[str]]
) -> Path | None:
    """Draw one figure and save it at `path` (None where there is nothing to draw); the
    texts no font draws are added to `undrawn[name]`. Whatever fails, every figure opened
    here is closed (a figure that failed half-drawn would hold its memory to the end of the
    process) and no partial file is left: the PNG is written under a `.part` name and moved
    in once complete, so an earlier figure of the name is never left half replaced."""
    import matplotlib.pyplot as plt

    opened = set(plt.get_fignums())
    part = path.with_name(path.name + ".part")
    figure = None
    try:
        figure = draw()
        if figure is None:
            return None
        if missing := number_undrawable_ticks(figure):
            undrawn[name] = missing
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.tight_layout()
        figure.savefig(part, dpi=120, format="png")
        part.replace(path)
    except BaseException:
        undrawn.pop(name, None)
        part.unlink(missing_ok=True)
        raise
    finally:
        for number in set(plt.get_fignums()) - opened:
            plt.close(number)
        if figure is not None:
            plt.close(figure)
    return path


def _fonts() -> AbstractContextManager[Any]:
    """`plot_fonts()`, or where looking for the fallback fonts fails, the current fonts (names
    in other scripts are then numbered ticks, `number_undrawable_ticks`)."""
    import matplotlib

    try:
        families = fallback_families()
    except Exception as err:  # the font cache unreadable: the figures are drawn all the same
        log.info("plot fonts: no fallback fonts (%s)", _reason(err))
        families = list(matplotlib.rcParams["font.family"])
    return plot_fonts(families)


def _reason(err: BaseException) -> str:
    """An error in a few words for a one-line log: MemoryError has no message of its own."""
    return str(err) or type(err).__name__


def _report_plot(spec: Any, report: dict[str, Any]) -> Any:
    from hydra.utils import instantiate

    return instantiate(spec)(report)


def read_metric_series(
    metrics_csv: Path, *, during_fit: bool = False
) -> dict[str, list[tuple[int, float]]]:
    """`{metric: [(step, value), ...]}` from a Lightning CSV log (empty cells skipped).

    `during_fit`: only the rows logged while training, not the test row, nor (in runs of
    lab before 2026-12-05) the best checkpoint's validation logged again after fit (at the last
    step with the epoch count fit ended at, one past the last epoch trained): drawn on the
    curve, that earlier epoch's value looked like a jump at the end."""
    with metrics_csv.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if during_fit:
        trained = [_epoch(row) for row in rows if row.get("train/loss") not in (None, "")]
        if trained:
            rows = [row for row in rows if _epoch(row) <= max(trained)]
    series: dict[str, list[tuple[int, float]]] = {}
    for row in rows:
        step = int(float(row.get("step") or 0))
        for key, value in row.items():
            if key in ("step", "epoch") or value in (None, ""):
                continue
            series.setdefault(key, []).append((step, float(value)))
    return series


def _epoch(row: dict[str, str]) -> float:
    """A row's epoch; a row without one (the learning-rate monitor's) counts as epoch 0."""
    return float(row.get("epoch") or 0)


# One colour per metric whatever else is drawn: val/loss stays orange on a run without train/loss.
COLORS = {"train/loss": "tab:blue", "val/loss": "tab:orange"}
OTHER_COLOR = "tab:green"  # the optimized metric, alone in its panel
# A series with this few points gets a marker on every point: a line through one point is
# invisible, and a few points joined by straight lines hide where the values were logged.
FEW_POINTS = 25
BEST_LABEL = "best (tested)"


def curves_figure(metrics_csv: Path, cfg: DictConfig) -> Any:
    """The figure of curves.png from a run's CSV log (`metrics_csv`), or None where the fit
    logged nothing it draws; `cfg` names the optimized metric, drawn in a panel of its own."""
    if not metrics_csv.is_file():
        return None
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    optimized_metric = str(cfg.optimized_metric)

    series = read_metric_series(metrics_csv, during_fit=True)
    panels = [["train/loss", "val/loss"]]
    if optimized_metric not in ("val/loss",) and optimized_metric in series:
        panels.append([optimized_metric])
    # A panel without a value logged during the fit (a run shorter than its logging
    # interval) is left out; without any, there is no figure.
    panels = [names for names in panels if any(name in series for name in names)]
    if not panels:
        return None
    best = best_tested_step(metrics_csv.parent.parent)
    figure, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.5), squeeze=False)
    for axis, names in zip(axes[0], panels, strict=True):
        for name in names:
            if name in series:
                steps, values = zip(*series[name], strict=True)
                few = name.startswith("val/") or len(steps) <= FEW_POINTS
                axis.plot(
                    # Lightning's CSV logs the index of the step (0 for the first); the console,
                    # the checkpoint names and the best line count steps done (1 for the first).
                    [step + 1 for step in steps],
                    values,
                    marker="o" if few else None,
                    markersize=3 if len(steps) > 1 else 5,
                    color=COLORS.get(name, OTHER_COLOR),
                    label=name,
                )
        if best is not None:
            axis.axvline(best, color="0.4", linestyle=":", linewidth=1, label=BEST_LABEL)
        # Steps are whole numbers, also around a single point (one integer in view).
        axis.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        axis.set_xlabel("step")
        axis.set_title(" / ".join(names))
        axis.legend()
        axis.grid(alpha=0.3)
    return figure


def best_tested_step(run_dir: Path) -> int | None:
    """The step of the best checkpoint the run tested (its `best-...-step<N>.ckpt`, the newest
    where there are several; read from the file where its name holds no step), or None: a
    run that tested its last weights (`record.json`), or whose best checkpoint is gone."""
    from lab.run_dir.summary import BEST

    try:
        record = json.loads((run_dir / "record.json").read_text())
    except (OSError, ValueError):
        record = {}
    if record.get("tested", BEST) != BEST:
        return None
    best = sorted((run_dir / "checkpoints").glob("best-*.ckpt"), key=_modified)
    if not best:
        return None
    if found := re.search(r"step(\d+)", best[-1].name):
        return int(found.group(1))
    from lab.training.validation_metrics import checkpoint_step

    return checkpoint_step(best[-1])  # a `filename` without the step: read from the file


def _modified(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:  # removed while listed: sorts first, never taken for the newest
        return 0.0


def log_plots(loggers: list[Any], plots: list[Path]) -> None:
    """Send the figures to loggers that take images (W&B), keyed `plots/<name>`."""
    for logger in loggers:
        if not hasattr(logger, "log_image"):
            continue
        for path in plots:
            try:
                logger.log_image(key=f"plots/{path.stem}", images=[str(path)])
            except Exception as err:  # W&B down: the PNG is on disk anyway
                log.warning("could not send %s to %s: %s", path.name, type(logger).__name__, err)
