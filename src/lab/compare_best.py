"""Which configuration of a `lab.compare` table is best, and the table in that order.

The runs say themselves what "best" means: each run's resolved `config.yaml` records the
`optimized_metric` and `optimized_mode` its checkpointing and early stopping followed
(`conf/train.yaml`; the task sets the default, val/acc max for classification). Where every
run compared records the same pair and every configuration has that metric, the line below the
table names the configuration with the best mean over its seeds. Runs that optimized different
metrics (or the same one in opposite directions) have no common "best": a line says so instead,
and `--sort METRIC` orders them by a metric the user chooses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lab.compare_cells import column_cells
from lab.errors import LabError

MODES = ("max", "min")


def format_stats(stats: dict[str, Any], digits: int = 4) -> str:
    """A metric's statistics as the table shows them: `mean ± std` over two or more seeds
    (for a count, whenever there are two), else the mean alone."""
    if stats["n"] > 1 and (digits or stats["std"] > 0):  # seeds change no count
        return f"{stats['mean']:.{digits}f} ± {stats['std']:.{digits}f}"
    return f"{stats['mean']:.{digits}f}"


def optimized_targets(runs: list[Path]) -> set[tuple[Any, Any]]:
    """The distinct (`optimized_metric`, `optimized_mode`) pairs the runs' `config.yaml`
    record; (None, None) for a run that records neither (a config older than the keys)."""
    pairs = set()
    for run in runs:
        config = OmegaConf.load(run / "config.yaml")  # a mapping: `unreadable` checked it
        assert isinstance(config, DictConfig)
        pairs.add((config.get("optimized_metric"), config.get("optimized_mode")))
    return pairs


def best_line(
    rows: list[dict[str, Any]],
    labels: list[str],
    differing: list[str],
    targets: set[tuple[Any, Any]],
) -> str | None:
    """The line below the table naming the best configuration by the runs' own optimized
    metric and mode (`targets`, from `optimized_targets`), by mean over seeds:
    `best by val/acc (max): 0,1 (optimizer.lr=0.0002) 0.8083 ± 0.0589`, each configuration
    named by its label in the table (`labels`) and the values of the keys that tell it apart.
    Why there is none where the runs optimized different metrics; None where there is a single
    configuration, where runs do not record the keys, or where a configuration lacks the
    metric (an evaluation on other data holds test/ metrics only)."""
    if len(rows) < 2:
        return None
    if len(targets) > 1:
        said = ", ".join(f"{metric} ({mode})" for metric, mode in sorted(targets, key=repr))
        return f"no best configuration: the runs optimized different metrics: {said}"
    ((metric, mode),) = targets
    if metric is None or mode not in MODES:
        return None
    if any(metric not in row["metrics"] for row in rows):
        return None
    means = [row["metrics"][metric]["mean"] for row in rows]
    top = max(means) if mode == "max" else min(means)
    best = [index for index, mean in enumerate(means) if mean == top]
    # each key's values as the table shows them (a sampled rate short: `lab.compare_cells`)
    shown = {key: column_cells([row[key] for row in rows]) for key in differing}
    named = "; ".join(
        _named(rows[i], labels[i], {k: v[i] for k, v in shown.items()}, metric) for i in best
    )
    tied = ", tied" if len(best) > 1 else ""
    return (
        f"best by {metric} ({mode}){tied}: {named}{_close_call(rows, labels, best, metric, mode)}"
    )


def _close_call(
    rows: list[dict[str, Any]], labels: list[str], best: list[int], metric: str, mode: str
) -> str:
    """`; the next, <label> <stats>, is within one standard deviation over seeds: ...` where
    the runner-up's mean lies within the best's sample standard deviation (or its own, where
    larger) over two or more seeds: on small data the order of two such configurations is
    often the seeds' (s24c M3). "" for a tie, or with no spread to judge by."""
    others = [i for i in range(len(rows)) if i not in best]
    if len(best) > 1 or not others:
        return ""
    sign = -1 if mode == "max" else 1
    runner = min(others, key=lambda i: sign * rows[i]["metrics"][metric]["mean"])
    top, next_ = rows[best[0]]["metrics"][metric], rows[runner]["metrics"][metric]
    spreads = [stats["std"] for stats in (top, next_) if stats["n"] > 1]
    if not spreads or abs(top["mean"] - next_["mean"]) >= max(spreads):
        return ""
    return (
        f"; the next, {labels[runner]} {format_stats(next_)}, is within one standard deviation "
        "over seeds of it: more seeds (or a larger validation split) would tell them apart"
    )


def _named(row: dict[str, Any], label: str, cells: dict[str, str], metric: str) -> str:
    # the key values as the table prints them (a key the configuration lacks: `-`)
    keys = " ".join(f"{key}={cell}" for key, cell in cells.items())
    name = f"{label} ({keys})" if keys else label
    return f"{name} {format_stats(row['metrics'][metric])}"


#: metric names (their last part) that are better smaller: `test/loss`, `val/perplexity`
SMALLER_IS_BETTER = ("loss", "perplexity", "ppl")


def sort_mode(metric: str, given: str | None, targets: set[tuple[Any, Any]]) -> str:
    """`--sort-mode` as given, else the runs' `optimized_mode` where `metric` is the
    optimized metric they all share, else `min` for a loss or a perplexity (`--sort test/loss`
    put the worst first: s24d M1), else `max`."""
    if given is not None:
        return given
    if len(targets) == 1:
        ((optimized, mode),) = targets
        if optimized == metric and mode in MODES:
            return str(mode)
    last = metric.rsplit("/", 1)[-1]
    return "min" if any(word in last for word in SMALLER_IS_BETTER) else "max"


def sorted_line(metric: str, mode: str) -> str:
    """The line below the table saying its order: `Sorted by test/loss, smallest first.`"""
    return f"Sorted by {metric}, {'largest' if mode == 'max' else 'smallest'} first."


def sorted_rows(rows: list[dict[str, Any]], metric: str, mode: str) -> list[dict[str, Any]]:
    """`rows` best first by their mean of `metric` (`mode`: max or min); configurations
    without it last, in their own order (a stable sort: ties keep the table's order)."""
    known = [row for row in rows if metric in row["metrics"]]
    known.sort(key=lambda row: row["metrics"][metric]["mean"], reverse=mode == "max")
    return known + [row for row in rows if metric not in row["metrics"]]


def check_sort_metric(rows: list[dict[str, Any]], metric: str) -> None:
    """A `LabError` naming the metrics present where no configuration has `metric`."""
    present = sorted({name for row in rows for name in row["metrics"]})
    if metric not in present:
        raise LabError(
            f"--sort {metric}: no run compared has that metric; metrics present: "
            f"{', '.join(present) or 'none'}"
        )
