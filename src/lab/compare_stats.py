"""A `lab.compare` configuration's statistics over its seeds, and its diverged runs.

Statistics are over distinct seeds: a seed's runs are averaged into one value first, so reruns
of a seed neither count as seeds nor make a spread (`1 (2 runs)`, and a line says so). Reruns
of one seed whose metrics differ are named in a line of their own (`disagreeing_seeds`): lab's
reruns are bit-identical on CPU, so a difference says a run is not what its config gives
(resumed after a fault, other code or data), which a mean would hide (s31d L1).

A run *diverged* where its record says so (`record.json` `diverged`: the non-finite losses
`lab.train` found, `lab.training.stopping_notes.divergence`) or, for a run recorded before
that entry, where a loss in its metrics is not finite. Lab's own warning says it: "the
metrics are those of diverged weights" (accuracy 0.5 on two classes from NaN logits). So:

- a diverged run's metrics, finite or not, enter no mean or standard deviation: those are
  over the seeds that did not diverge (its parameter counts, `model/params_*`, are kept).
  A NaN crashed the table for every configuration (s27a H1); a diverged seed's accuracy
  passed for a result (M1);
- the configuration says it: its `seeds` cell counts them (`3 (1 diverged)`), the CSV has
  `n_diverged`, and a line below the table names each diverged run and its seed;
- a configuration all of whose runs diverged keeps its column, every metric `nan`;
- any other non-finite value (a metric one run could not compute) is left out of that
  metric's statistics alone; a metric no finite value is left for is `nan`.

The best line never names a configuration with a diverged run as best (`lab.compare_best`):
its mean over the other seeds would hide that the setting is unstable.
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any

#: `lab.training.stopping_notes.DIVERGED_KEY`, not imported: that module brings Lightning,
#: which `lab.compare` (a quick table) does not load
DIVERGED_KEY = "diverged"
#: metrics of the model itself (its parameter counts), kept from a diverged run
MODEL_PREFIX = "model/"


def diverged(record: dict[str, Any], metrics: dict[str, Any]) -> bool:
    """Whether a run diverged: its record's `diverged` entry, else a non-finite `*/loss`."""
    if record.get(DIVERGED_KEY):
        return True
    return any(
        name.rsplit("/", 1)[-1] == "loss" and not _finite(value) for name, value in metrics.items()
    )


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def configuration_stats(
    seeds: list[Any], metrics: list[dict[str, Any]], failed: list[bool]
) -> dict[str, dict[str, float]]:
    """Each metric's `mean`, `std` (sample, over distinct seeds; 0.0 for one) and `n` (the
    seeds with a finite value) over one configuration's runs (`seeds`, `metrics`, and
    `failed`: whether each diverged, its metrics but `model/` counts then left out). No
    value left: `nan`, n 0."""
    names = sorted({name for values in metrics for name in values})
    stats = {}
    for name in names:
        # `model/params_*` count the model's parameters, whatever its weights hold
        counts = name.startswith(MODEL_PREFIX)
        values = _by_seed(
            seeds,
            [
                m.get(name) if (counts or not bad) and _finite(m.get(name)) else None
                for m, bad in zip(metrics, failed, strict=True)
            ],
        )
        stats[name] = {
            "mean": statistics.fmean(values) if values else math.nan,
            "std": statistics.stdev(values) if len(values) > 1 else (0.0 if values else math.nan),
            "n": len(values),
        }
    return stats


def distinct_seeds(seeds: list[Any]) -> int:
    """How many distinct seeds `seeds` holds (a run with no recorded seed counts as one)."""
    return len(_by_seed(seeds, [0.0] * len(seeds)))


def _by_seed(seeds: list[Any], values: list[Any]) -> list[float]:
    """One value per distinct seed: the mean of that seed's runs' `values` (None: the run
    lacks the metric, left out). A seed of None (no record of it) is its run's own."""
    grouped: dict[Any, list[float]] = {}
    for index, (seed, value) in enumerate(zip(seeds, values, strict=True)):
        if value is not None:
            key = ("run", index) if seed is None else ("seed", repr(seed))
            grouped.setdefault(key, []).append(float(value))
    return [statistics.fmean(group) for group in grouped.values()]


def disagreeing_seeds(
    seeds: list[Any], runs: list[str], metrics: list[dict[str, Any]], failed: list[bool]
) -> list[tuple[Any, list[str], str, list[float]]]:
    """Per seed whose runs (diverged ones aside) differ in a metric: (the seed, its runs, the
    first such metric by name, its values in run order). `model/` counts are left out."""
    by_seed: dict[str, list[int]] = {}
    for index, seed in enumerate(seeds):
        if seed is not None and not failed[index]:
            by_seed.setdefault(repr(seed), []).append(index)
    found = []
    for members in by_seed.values():
        if len(members) < 2:
            continue
        names = sorted({n for i in members for n in metrics[i] if not n.startswith(MODEL_PREFIX)})
        for name in names:
            values = [metrics[i].get(name) for i in members]
            if len({repr(v) for v in values}) > 1:
                shown = [float(v) if v is not None and _finite(v) else math.nan for v in values]
                found.append((seeds[members[0]], [runs[i] for i in members], name, shown))
                break
    return found


def disagreeing_seeds_note(rows: list[dict[str, Any]], name: Any) -> str | None:
    """The line below the table on reruns of one seed whose metrics differ (`name(run)`: its
    folder as the table names runs); None where every seed's runs agree."""
    parts = [
        f"seed {seed}: {', '.join(name(run) for run in runs)} ({metric} "
        f"{' vs '.join(f'{v:.10g}' for v in values)})"
        for row in rows
        for seed, runs, metric, values in row.get("disagreeing", [])
    ]
    if not parts:
        return None
    return (
        f"runs of one configuration and seed differ: {'; '.join(parts)}; lab's reruns are "
        "bit-identical on CPU (on a GPU, within its kernels' nondeterminism), so one of them "
        "is not what its config gives: `python -m lab.reproduce <run>` checks a run"
    )


def read_record(run: Path) -> dict[str, Any]:
    """A run's record.json (`lab.compare_find.unreadable` checked it is a JSON object)."""
    record = json.loads((run / "record.json").read_text())
    return record if isinstance(record, dict) else {}


def seeds_cell(row: dict[str, Any]) -> str:
    """A configuration's `seeds` cell: distinct seeds, with its runs where a seed repeats
    and its diverged runs: `3`, `1 (2 runs)`, `3 (1 diverged)`, `1 (2 runs, 1 diverged)`."""
    seeds, count, failed = row["n_seeds"], len(row["runs"]), len(row.get("diverged", []))
    notes = ([f"{count} runs"] if count != seeds else []) + (
        [f"{failed} diverged"] if failed else []
    )
    return f"{seeds} ({', '.join(notes)})" if notes else str(seeds)


def repeated_seeds_note(rows: list[dict[str, Any]]) -> str | None:
    """The line said below the table where a configuration has more runs than seeds."""
    repeated = [row for row in rows if len(row["runs"]) > row["n_seeds"]]
    if not repeated:
        return None
    return (
        f"{len(repeated)} configuration(s) repeat a seed: a seed's runs are averaged into one "
        "value, and ± is the sample standard deviation over distinct seeds only"
    )


def diverged_note(rows: list[dict[str, Any]], name: Any) -> str | None:
    """The line below the table naming each diverged run (`name(run)`: its folder as the
    table names runs) and its seed, and what was done with its metrics."""
    failed = [
        f"{name(run)} (seed {seed})"
        for row in rows
        for run, seed in zip(row["runs"], row["seeds"], strict=True)
        if run in row.get("diverged", [])
    ]
    if not failed:
        return None
    count = len(failed)
    return (
        f"{count} run{'s' * (count != 1)} diverged (non-finite loss: record.json "
        f"{DIVERGED_KEY}): {', '.join(failed)}; left out of every mean and ± (the metrics of "
        "diverged weights), counted in `seeds`; a configuration with a diverged run is "
        "never named best"
    )
