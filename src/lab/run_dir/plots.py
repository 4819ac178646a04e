"""Figures of a finished run, written to `<run dir>/plots/` and sent to W&B as images.

    curves.png             training loss, validation loss and the optimized metric by step
                           (read back from the CSV log: every value the run logged)
    confusion_matrix.png   classification: counts, true label by row (from test_report.json)
    entity_f1.png          token classification: test F1 and support per entity type

A run without the CSV logger has no curves; a plot that cannot be drawn is skipped with a
log line, never an error: figures are a view of results that are already saved.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def write_run_plots(run_dir: Path, report: dict[str, Any], optimized_metric: str) -> list[Path]:
    """Draw every figure the run has data for; return the PNG paths."""
    import matplotlib

    matplotlib.use("Agg")
    out = run_dir / "plots"
    drawers = {
        "curves": lambda: _curves(run_dir / "csv" / "metrics.csv", optimized_metric),
        "confusion_matrix": lambda: _confusion(report),
        "entity_f1": lambda: _entity_f1(report),
    }
    written = []
    for name, draw in drawers.items():
        try:
            figure = draw()
        except Exception as err:  # a figure is never worth failing a finished run
            log.info("plot %s skipped: %s", name, err)
            continue
        if figure is None:
            continue
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"{name}.png"
        figure.tight_layout()
        figure.savefig(path, dpi=120)
        import matplotlib.pyplot as plt

        plt.close(figure)
        written.append(path)
    return written


def read_metric_series(metrics_csv: Path) -> dict[str, list[tuple[int, float]]]:
    """`{metric: [(step, value), ...]}` from a Lightning CSV log (empty cells skipped)."""
    series: dict[str, list[tuple[int, float]]] = {}
    with metrics_csv.open(newline="") as handle:
        for row in csv.DictReader(handle):
            step = int(float(row.get("step") or 0))
            for key, value in row.items():
                if key in ("step", "epoch") or value in (None, ""):
                    continue
                series.setdefault(key, []).append((step, float(value)))
    return series


def _curves(metrics_csv: Path, optimized_metric: str) -> Any:
    if not metrics_csv.is_file():
        return None
    import matplotlib.pyplot as plt

    series = read_metric_series(metrics_csv)
    panels = [["train/loss", "val/loss"]]
    if optimized_metric not in ("val/loss",) and optimized_metric in series:
        panels.append([optimized_metric])
    figure, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.5), squeeze=False)
    for axis, names in zip(axes[0], panels, strict=True):
        for name in names:
            if name in series:
                steps, values = zip(*series[name], strict=True)
                axis.plot(
                    steps,
                    values,
                    marker="o" if name.startswith("val/") else None,
                    markersize=3,
                    label=name,
                )
        axis.set_xlabel("step")
        axis.set_title(" / ".join(names))
        axis.legend()
        axis.grid(alpha=0.3)
    return figure


def _confusion(report: dict[str, Any]) -> Any:
    matrix = report.get("confusion_matrix")
    if not matrix:
        return None
    import matplotlib.pyplot as plt

    labels = report.get("labels") or [str(i) for i in range(len(matrix))]
    size = max(3.5, 0.5 * len(labels) + 2)
    figure, axis = plt.subplots(figsize=(size, size))
    image = axis.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=axis, fraction=0.046)
    axis.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    axis.set_yticks(range(len(labels)), labels)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    peak = max(max(row) for row in matrix) or 1
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            axis.text(
                j,
                i,
                str(count),
                ha="center",
                va="center",
                color="white" if count > peak / 2 else "black",
            )
    axis.set_title("test confusion matrix")
    return figure


def _entity_f1(report: dict[str, Any]) -> Any:
    entities = report.get("entities")
    if not entities:
        return None
    import matplotlib.pyplot as plt

    names = sorted(entities)
    figure, axis = plt.subplots(figsize=(max(4, 0.8 * len(names) + 2), 3.5))
    bars = axis.bar(names, [entities[n]["f1"] for n in names])
    for bar, name in zip(bars, names, strict=True):
        axis.text(
            bar.get_x() + bar.get_width() / 2,
            bar.get_height(),
            f"n={entities[name]['support']}",
            ha="center",
            va="bottom",
            fontsize=8,
        )
    axis.set_ylim(0, 1.05)
    axis.set_ylabel("F1")
    axis.set_title("test F1 per entity type")
    return figure


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
