"""Which configuration of a `lab.compare` table is best, and the table in that order.

The runs say themselves what "best" means: each run's resolved `config.yaml` records the
`optimized_metric` and `optimized_mode` its checkpointing and early stopping followed
(`conf/train.yaml`; the task sets the default, val/acc max for classification). Where every
run compared records the same pair and every configuration has that metric, the line below the
table names the configuration with the best mean over its seeds. Runs that optimized different
metrics (or the same one in opposite directions) have no common "best": a line says so instead,
and `--sort METRIC` orders them by a metric the user chooses.

Two more rules keep the line from naming a winner it cannot stand behind (s27a M1, M3):
- configurations scored on different data (their records' digests of the validation rows
  differ: `lab.compare_data`) are not ranked against each other: a line says so, and one best
  line per data follows, each naming the data and the keys that differ on it;
- a configuration with a diverged run (`lab.compare_stats`) is no candidate, even where its
  mean over the other seeds is the highest: it is named after the best as not considered,
  with its count of diverged runs and that mean.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lab.compare_cells import column_cells
from lab.compare_data import data_groups, group_name, scored_split
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
    metric (an evaluation on other data holds test/ metrics only). Every configuration is
    taken to be scored on the same data: `best_lines` chooses per data."""
    lines = best_lines(rows, labels, differing, targets, per_data=False)
    return lines[0] if lines else None


def best_lines(
    rows: list[dict[str, Any]],
    labels: list[str],
    differing: list[str],
    targets: set[tuple[Any, Any]],
    *,
    per_data: bool = True,
) -> list[str]:
    """`best_line`'s line, or, where the configurations were scored on different data
    (`per_data`; `lab.compare_data`), a line saying so and one best line per data:
    `best on data=demo (200 rows, sha256 7a379c08) by val/acc (max): ...`."""
    if len(rows) < 2:
        return []
    if len(targets) > 1:
        said = ", ".join(f"{metric} ({mode})" for metric, mode in sorted(targets, key=repr))
        return [f"no best configuration: the runs optimized different metrics: {said}"]
    ((metric, mode),) = targets
    if metric is None or mode not in MODES or any(metric not in row["metrics"] for row in rows):
        return []
    # each key's values as the table shows them (a sampled rate short: `lab.compare_cells`)
    cells = {key: column_cells([row[key] for row in rows]) for key in differing}
    groups = data_groups(rows, metric) if per_data else [list(range(len(rows)))]
    if len(groups) == 1:
        return [_best(rows, labels, cells, metric, mode, "")]
    split = scored_split(metric)
    lines = [
        f"{metric} is of {len(groups)} different {split} sets (their rows differ: record.json "
        f"data.{split}.sha256): no best across them; the best on each:"
    ]
    for number, members in enumerate(groups):
        on = group_name(rows, groups, number, cells, metric)
        # the keys named are those that tell apart the configurations on this data
        inside = {k: [v[i] for i in members] for k, v in cells.items()}
        inside = {k: v for k, v in inside.items() if len(set(v)) > 1}
        lines.append(
            _best(
                [rows[i] for i in members], [labels[i] for i in members], inside, metric, mode, on
            )
        )
    return lines


def _best(
    rows: list[dict[str, Any]],
    labels: list[str],
    cells: dict[str, list[str]],
    metric: str,
    mode: str,
    on: str,
) -> str:
    """The best line among `rows` (all scored on the data named `on`, "" where that is every
    configuration's): a configuration with a diverged run, or no finite mean, is no candidate
    and is named after the best as not considered (`lab.compare_stats`)."""
    where = f" on {on}" if on else ""
    means = [row["metrics"][metric]["mean"] for row in rows]
    candidates = [
        i for i, row in enumerate(rows) if not row.get("diverged") and math.isfinite(means[i])
    ]
    left = "; ".join(
        f"{_name(labels[i], cells, i)}: {_why_not(rows[i], metric)}"
        for i in range(len(rows))
        if i not in candidates
    )
    if not candidates:
        return f"no best configuration{where}: none is a candidate: {left}"
    top = (max if mode == "max" else min)(means[i] for i in candidates)
    best = [i for i in candidates if means[i] == top]
    named = "; ".join(
        f"{_name(labels[i], cells, i)} {format_stats(rows[i]['metrics'][metric])}" for i in best
    )
    tied = ", tied" if len(best) > 1 else ""
    alone = ", the only configuration scored on it" if on and len(rows) == 1 else ""
    close = _close_call([rows[i] for i in candidates], labels, candidates, best, metric, mode)
    skipped = f"; not considered: {left}" if left else ""
    return f"best{where} by {metric} ({mode}){tied}: {named}{alone}{close}{skipped}"


def _why_not(row: dict[str, Any], metric: str) -> str:
    """Why a configuration is no candidate: its diverged runs (and its mean over the
    others, which alone would hide them), or no finite value of `metric`."""
    failed, count = len(row.get("diverged", [])), len(row["runs"])
    stats = row["metrics"][metric]
    if not failed:
        return f"no finite {metric}"
    if failed == count:
        return f"{({1: 'its run', 2: 'both runs'}).get(count, f'all {count} runs')} diverged"
    return f"{failed} of {count} runs diverged ({format_stats(stats)} over the others)"


def _close_call(
    candidates: list[dict[str, Any]],
    labels: list[str],
    indices: list[int],
    best: list[int],
    metric: str,
    mode: str,
) -> str:
    """`; the next, <label> <stats>, is within one standard deviation over seeds: ...` where
    the runner-up's mean lies within the best's sample standard deviation (or its own, where
    larger) over two or more seeds: on small data the order of two such configurations is
    often the seeds' (s24c M3). "" for a tie, or with no spread to judge by. `candidates`:
    the rows that may be best, `indices` theirs in `labels`, `best` among `indices`."""
    others = [i for i in indices if i not in best]
    if len(best) > 1 or not others:
        return ""
    row_of = dict(zip(indices, candidates, strict=True))
    sign = -1 if mode == "max" else 1
    runner = min(others, key=lambda i: sign * row_of[i]["metrics"][metric]["mean"])
    top, next_ = row_of[best[0]]["metrics"][metric], row_of[runner]["metrics"][metric]
    spreads = [stats["std"] for stats in (top, next_) if stats["n"] > 1]
    if not spreads or abs(top["mean"] - next_["mean"]) >= max(spreads):
        return ""
    return (
        f"; the next, {labels[runner]} {format_stats(next_)}, is within one standard deviation "
        "over seeds of it: more seeds (or a larger validation split) would tell them apart"
    )


def _name(label: str, cells: dict[str, list[str]], index: int) -> str:
    # the key values as the table prints them (a key the configuration lacks: `-`)
    keys = " ".join(f"{key}={values[index]}" for key, values in cells.items())
    return f"{label} ({keys})" if keys else label


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
    without it, or whose mean is `nan` (every run diverged), last, in their own order (a
    stable sort: ties keep the table's order)."""
    known = [
        row for row in rows if math.isfinite(row["metrics"].get(metric, {}).get("mean", math.nan))
    ]
    known.sort(key=lambda row: row["metrics"][metric]["mean"], reverse=mode == "max")
    return known + [row for row in rows if not any(row is k for k in known)]


def check_sort_metric(rows: list[dict[str, Any]], metric: str) -> None:
    """A `LabError` naming the metrics present where no configuration has `metric`."""
    present = sorted({name for row in rows for name in row["metrics"]})
    if metric not in present:
        raise LabError(
            f"--sort {metric}: no run compared has that metric; metrics present: "
            f"{', '.join(present) or 'none'}"
        )
