"""What `lab.compare` writes (`--output`) and the cells its table shows.

`--output x.csv` writes CSV (every differing key, one column per statistic, `write_csv`);
`--output x.md` writes the table as printed, as markdown to paste into a paper or a pull
request, with the line saying what ± is (`write_markdown`). `--output x.md` wrote CSV into the
`.md` file (s32e F5): any other suffix is refused, in one line naming the two.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from lab.compare_best import format_stats
from lab.compare_cells import column_cells
from lab.compare_rows import MISSING
from lab.compare_stats import seeds_cell
from lab.errors import LabError

# What a table's `mean ± std` cell's ± is, said under the printed table and the markdown one.
STD_NOTE = "± = sample standard deviation over seeds (n-1)"
SUFFIXES = {".csv": "CSV", ".md": "a markdown table"}


def check_output_suffix(path: Path) -> None:
    """A `LabError` for an `--output` whose suffix is neither `.csv` nor `.md`."""
    if path.suffix.lower() not in SUFFIXES:
        said = " or ".join(f"{suffix} ({what})" for suffix, what in SUFFIXES.items())
        raise LabError(f"--output {path}: name a {said} file")


def write_output(
    path: Path, differing: list[str], shown: list[str], rows: list[dict[str, Any]]
) -> None:
    """`path` as its suffix says (`check_output_suffix` has checked it): CSV of `differing`
    keys, or the markdown table of the `shown` ones."""
    if path.suffix.lower() == ".md":
        write_markdown(path, shown, rows)
    else:
        write_csv(path, differing, rows)


def write_csv(path: Path, differing: list[str], rows: list[dict[str, Any]]) -> None:
    """One line per configuration: its differing choices and keys (every one: the printed
    table leaves out those the choices explain), `n_runs`, `n_seeds` (distinct),
    `n_diverged` (its diverged runs), the seeds of its runs, `runs` (its run folders as found,
    `;`-separated), and `<metric>_mean` and `<metric>_std` (over the distinct seeds that did
    not diverge; `nan` where none is left; the std empty for one seed) columns, with Unix
    line ends. A key a configuration lacks is an empty cell; a null is `None`, as printed."""
    names = sorted({m for row in rows for m in row["metrics"]})
    columns = [*differing, "n_runs", "n_seeds", "n_diverged", "seeds", "runs"]
    for name in names:
        columns += [f"{name}_mean", f"{name}_std"]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            line: dict[str, Any] = {k: "" if row[k] is MISSING else str(row[k]) for k in differing}
            line.update(
                n_runs=len(row["runs"]),
                n_seeds=row["n_seeds"],
                n_diverged=len(row["diverged"]),
                seeds=" ".join(map(str, row["seeds"])),
                runs=";".join(row["runs"]),
            )
            for name, stats in row["metrics"].items():
                # One seed has no sample standard deviation: an empty cell, not 0.0.
                spread = stats["std"] if stats["n"] > 1 else ""
                line[f"{name}_mean"], line[f"{name}_std"] = stats["mean"], spread
            writer.writerow(line)


def write_markdown(path: Path, shown: list[str], rows: list[dict[str, Any]]) -> None:
    """The printed table (one row per configuration: its `shown` keys, seeds and metrics,
    the cells as printed) as a markdown table, and `STD_NOTE` below it where a cell has ±."""
    names = shown_metrics(rows)
    header = [*shown, "seeds", *names]
    keys = [column_cells([row[k] for row in rows]) for k in shown]
    lines = [
        [*(column[i] for column in keys), *metric_cells(row, names)] for i, row in enumerate(rows)
    ]
    text = [_markdown_row(header), _markdown_row(["---"] * len(header))]
    text += [_markdown_row(line) for line in lines]
    if has_spread(rows, names):
        text += ["", STD_NOTE]
    path.write_text("\n".join(text) + "\n")


def _markdown_row(cells: list[str]) -> str:
    """`| a | b |`, a `|` in a cell escaped (a data path may hold one)."""
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def shown_metrics(rows: list[dict[str, Any]]) -> list[str]:
    """The metrics the printed table shows: every val/ and test/ metric, then the model's
    (`model/params_trainable`, ...) where they differ between configurations (full fine-tuning
    against LoRA or frozen layers); the CSV has every metric."""
    names = sorted({m for row in rows for m in row["metrics"]})
    scores = [m for m in names if m.startswith(("val/", "test/"))]
    model = [
        m
        for m in names
        if m.startswith("model/")
        and len({repr(row["metrics"].get(m, {}).get("mean")) for row in rows}) > 1
    ]
    return scores + model


def metric_cells(row: dict[str, Any], names: list[str]) -> list[str]:
    """One configuration's cells after its keys' (`lab.compare_cells`): its number of distinct
    seeds (`1 (2 runs)` where runs repeat a seed, `3 (1 diverged)`), and each metric as mean ±
    std over the seeds (the mean alone for one seed; a count as a whole number; `nan` where
    every run diverged)."""
    cells = [seeds_cell(row)]
    for name in names:
        stats = row["metrics"].get(name)
        cells.append("" if stats is None else format_stats(stats, _digits(name)))
    return cells


def has_spread(rows: list[dict[str, Any]], names: list[str]) -> bool:
    """Whether a metric cell of `names` shows `mean ± std` (two seeds or more)."""
    return any(
        "±" in format_stats(stats, _digits(name))
        for row in rows
        for name in names
        if (stats := row["metrics"].get(name)) is not None
    )


def _digits(name: str) -> int:
    return 0 if name.startswith("model/") else 4  # parameter counts
