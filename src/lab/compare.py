"""`python -m lab.compare <run dirs | sweep or multirun dirs>`: a table of runs.

    python -m lab.compare outputs/multiruns/2026-11-23/10-00-00_123-ab   # every run under it
    python -m lab.compare outputs/runs/*/* --output compare.csv
    python -m lab.compare outputs/multiruns/<...> --sort test/acc      # best first by test/acc
    python -m lab.compare outputs/runs --eval-data new_test.csv        # on a later evaluation

Rows are configurations: runs whose resolved configs (and config-group choices) differ only
in the seed (and in their paths) are one row, their metrics given as mean and sample standard
deviation over the seeds (`lab.compare_rows`, `lab.compare_stats`). Runs of a seed already
counted (a rerun) add no seed: they are averaged into that seed's value first, the `seeds`
cell says `1 (2 runs)`, and a line below the table says so, so a spread over reruns is never
shown as seed variance (one seed: its mean alone, no ±).
Columns are the config-group choices that differ (`model`: `tiny_bert` / `minilm`, from each
run's `.hydra/hydra.yaml`), the config keys that differ between rows, except those the choices
alone set (a model switch's dozen `model.network.*` keys: a line counts them, `--all-keys`
prints them, the CSV has them: `lab.compare_choices`), the number of distinct seeds, and every
final metric (`metrics.json`). Written as CSV (`--output x.csv`, one column per statistic) or
as the printed table in markdown (`--output x.md`: `lab.compare_output`), and printed (val/ and
test/ metrics, and `model/params_*` where they differ between configurations; `± = sample
standard deviation over seeds (n-1)` below it): where one row per configuration is wider than
the console (80 columns in a pipe, or `COLUMNS`), the table is printed transposed, one column
per configuration (named by its choices, `minilm demo`, where those tell the configurations
apart, else by its run folders below the folder all runs share; a line below names the
folders), in as many parts as the width needs: 2-4 configurations side by side at 80 columns, a
long value folding in its column and a key longer than 40 columns folding after a dot. A config
key a run does not have shows `-` (a null shows `None`); the CSV leaves its cell empty.
A run that diverged (record.json `diverged`: NaN losses) is no result: its metrics enter no
mean, its configuration's `seeds` cell counts it (`3 (1 diverged)`; every run diverged: its
metrics `nan`), a line names it and its seed, and a configuration with one is never named
best (`lab.compare_stats`). A run whose record.json, metrics.json or config.yaml cannot be
read (not JSON, cut short) is left out with a warning naming the file and why; the others are
compared. Runs that did not finish (no metrics.json) are left out in a line naming each with
its seed and its configuration in the table (`lab.compare_unfinished`). So is, in a folder
walked, a run inside another run's folder (a reproduction, `<run>/reproductions/<time>/`): it
is no rerun of the run's seed; a reproduction's folder given itself is compared as a run
(`lab.compare_find`).

Which is best: where every run records the same `optimized_metric` and `optimized_mode`
(their config.yaml, as training followed them) and every configuration has that metric, a line
below the table names the configuration with the best mean over its seeds
(`best by val/acc (max): <its name in the table> (<its differing keys>) 0.8083 ± 0.0589`);
runs that optimized different metrics get a line saying so instead (`lab.compare_best`).
Configurations validated on different rows (their records' digests differ: demo against IMDB)
get one best line per data (`best on data=imdb data.path=... (40 rows, sha256 1006b04d) by
...`: `lab.compare_data`).
`--sort METRIC` (a metrics.json key; one no run has is refused, exit 2) orders the
configurations best first, in the table and the CSV: by `--sort-mode`, else the runs'
`optimized_mode` where METRIC is their optimized metric, else smallest first for a loss or
perplexity, largest for the rest; configurations without METRIC (or all diverged) last.

`--eval-data PATH`: each run's metrics are its newest `lab.eval` evaluation of PATH as it reads
now, not its metrics.json; runs without one are left out in a line naming the command that
makes one (`lab.compare_evals`). `--sort` says its order in a line below the table.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Collection
from pathlib import Path
from typing import Any

from rich.cells import cell_len
from rich.console import Console

from lab.compare_best import (
    MODES,
    best_lines,
    check_sort_metric,
    optimized_targets,
    sort_mode,
    sorted_line,
    sorted_rows,
)
from lab.compare_cells import column_cells
from lab.compare_choices import choice_labels
from lab.compare_find import find_runs, nested_line, unfinished_line, unreadable
from lab.compare_output import (
    STD_NOTE,
    check_output_suffix,
    has_spread,
    metric_cells,
    shown_metrics,
    write_output,
)
from lab.compare_rows import MISSING, compare_runs, is_run_label
from lab.compare_stats import (
    disagreeing_seeds_note,
    diverged_note,
    repeated_seeds_note,
)
from lab.compare_unfinished import describe_unfinished
from lab.errors import EXIT_USER_ERROR, LabError
from lab.tool_outputs import check_output
from lab.wide_tables import print_fitting_table

__all__ = ["MISSING", "compare_runs", "find_runs", "is_run_label", "main", "print_table"]


def print_table(
    differing: list[str],
    rows: list[dict[str, Any]],
    console: Console,
    hidden: Collection[str] = (),
) -> None:
    """The comparison as a rich table: the `differing` choices and keys (`hidden`: the keys
    left out, which the choices explain: a line says how many), val/test metrics as mean ±
    std, and the model's parameter counts (`model/params_*`) where they differ between
    configurations.

    One row per configuration where that fits the console's width (a pipe's: 80 columns, or
    `COLUMNS`); else transposed, one row per key and metric and one column per configuration
    (named by its choices, else by its run folder, shortened to what tells the runs apart),
    the configurations folded into as many tables as the width needs (2-4 side by side at 80
    columns): no value is cut short; a long value folds, and so does a key longer than 40
    columns, after a dot."""
    names = shown_metrics(rows)
    count = sum(len(r["runs"]) for r in rows)
    title = f"{count} run{'s' * (count != 1)}, {len(rows)} configuration{'s' * (len(rows) != 1)}"
    header = [*differing, "seeds", *names]
    shown = [column_cells([row[k] for row in rows]) for k in differing]
    lines = [
        [*(column[i] for column in shown), *metric_cells(row, names)] for i, row in enumerate(rows)
    ]
    root, labels = run_labels(rows)
    transposed = print_fitting_table(
        title,
        header,
        lines,
        console,
        labels=labels,
        key_title="key / metric",
        # A "mean ± std" cell on one line where the room allows, folded below that (to
        # `1 (2 runs)`'s width) so that 2-4 configurations share 80 columns.
        min_value_width=_STATS_WIDTH,
        fold_to=_FOLD_WIDTH,
    )
    lines_below = [STD_NOTE] if has_spread(rows, names) else []  # which std ± is (s32e F5)
    # One line each however long (the terminal wraps it; a pipe keeps it whole, to copy).
    by_choices = choice_labels(rows) is not None
    if transposed and by_choices:  # the folders behind each choice label
        by = ", ".join(rows[0]["choices"])
        lines_below.append(f"Columns: configurations by their {by}; run folders under {root}")
    elif transposed:  # else each row names its configuration's values itself
        lines_below.append(f"Columns: run folders under {root}")
    for label, row in zip(labels, rows, strict=True) if transposed else ():
        folders = [_below(Path(run), Path(root)) for run in row["runs"]]
        if label != ",".join(folders):  # a shortened name (`<first> +N`): every folder
            lines_below.append(f"  {label}: {', '.join(folders)}")
    if hidden:  # the expanded keys of a model or dataset switch (s27a M2)
        groups = [g for g in differing if g in rows[0].get("choices", {})]
        lines_below.append(
            f"{len(hidden)} more key{'s' * (len(hidden) != 1)} differ as the "
            f"{' and '.join(groups)} choice{'s' * (len(groups) != 1)} set"
            f"{'s' * (len(groups) == 1)} them (not the command line): --all-keys prints "
            "them, --output x.csv writes them"
        )
    note = repeated_seeds_note(rows)
    if note:  # reruns of a seed are not seeds: say what ± is over
        lines_below.append(note)
    note = diverged_note(rows, lambda run: _below(Path(run), Path(root)))
    if note:  # whose metrics are left out of the means, and why
        lines_below.append(note)
    note = disagreeing_seeds_note(rows, lambda run: _below(Path(run), Path(root)))
    if note:  # a seed's reruns that differ: not hidden in its mean
        lines_below.append(note)
    for text in lines_below:
        console.print(text, soft_wrap=True, highlight=False, markup=False)


_STATS_WIDTH = len("0.0000 ± 0.0000")
_FOLD_WIDTH = len("1 (2 runs)")


def run_labels(rows: list[dict[str, Any]]) -> tuple[str, list[str]]:
    """(the folder every run lies under, each configuration's name): its differing group
    choices (`minilm demo`) where those tell every configuration apart
    (`lab.compare_choices.choice_labels`), else its runs' folders below that root (`3`,
    `0,4`), or where those are long its first and `+N` for the other seeds'
    (`10-00-00_123-ab/0 +2`); a line below the table then names every folder."""
    paths = [Path(path) for row in rows for path in row["runs"]]
    mixed = len({path.is_absolute() for path in paths}) > 1  # `a/0 /abs/a/1`: made absolute
    paths = [path.absolute() if mixed else path for path in paths]
    root = Path(os.path.commonpath(paths)) if len(paths) > 1 else paths[0].parent
    labels = []
    for row in rows:
        names = [_below(Path(run), root) for run in row["runs"]]
        together = ",".join(names)
        # no wider than a "mean ± std" cell, so the name does not widen its column
        short = len(names) == 1 or cell_len(together) <= _STATS_WIDTH
        labels.append(together if short else f"{names[0]} +{len(names) - 1}")
    return str(root), choice_labels(rows) or labels


def _below(run: Path, root: Path) -> str:
    run = run.absolute() if run.is_absolute() != root.is_absolute() else run  # named both ways
    return str(run.relative_to(root)) if run != root else run.name


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m lab.compare", description=__doc__.split("\n")[0]
    )
    parser.add_argument("paths", nargs="+", help="run directories, or folders holding runs")
    parser.add_argument(
        "--output",
        default=None,
        help="file to write: x.csv (CSV, every key and statistic) or x.md (the table as "
        "markdown); none by default",
    )
    parser.add_argument(
        "--sort",
        metavar="METRIC",
        help="order the configurations best first by this metric's mean (a metrics.json key)",
    )
    parser.add_argument(
        "--sort-mode",
        choices=MODES,
        help="max or min (default: the runs' optimized_mode where METRIC is their "
        "optimized_metric, else min for a loss or perplexity, else max)",
    )
    parser.add_argument(
        "--eval-data",
        metavar="PATH",
        help="compare each run's newest lab.eval evaluation of this data file as it is now "
        "(<run>/eval/<time>/metrics.json), not its metrics.json",
    )
    parser.add_argument(
        "--all-keys",
        action="store_true",
        help="print every differing config key, also those the differing config-group "
        "choices (model=, data=) set (the CSV always has them)",
    )
    args = parser.parse_args(argv)
    if args.sort_mode and not args.sort:
        parser.error("--sort-mode applies to --sort METRIC")
    left_out: list[Path] = []
    nested: list[Path] = []
    try:
        if args.eval_data and not Path(args.eval_data).exists():
            raise LabError(f"--eval-data {args.eval_data} does not exist")
        runs = find_runs(args.paths, left_out, nested)
    except LabError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USER_ERROR
    # Lines on what is left out, said (on stderr, before the table) once the table's
    # configurations are known: a run that did not finish is named with its own (s27a L3).
    said_first = [nested_line(nested)] if nested else []  # no rerun of its run's seed
    readable = []
    for run in runs:  # one damaged run must not sink the table of the others
        problem = unreadable(run)
        if problem:
            said_first.append(f"warning: left out {run}: cannot read {problem}")
        else:
            readable.append(run)
    output = Path(args.output) if args.output else None
    metrics_of, said, explained = None, None, set[str]()
    try:
        if not readable:
            paths = ", ".join(args.paths)
            raise LabError(f"no run left to compare under {paths}: the warnings above say why")
        if output is not None:  # before the table: a bad path is said alone
            check_output_suffix(output)
            check_output(output)
        if args.eval_data:
            readable, metrics_of, said = _evaluated(readable, args.eval_data, said_first)
        differing, rows = compare_runs(readable, metrics_of, explained)
        if args.sort:  # an unknown metric is said before any table
            check_sort_metric(rows, args.sort)
    except LabError as err:
        _say([unfinished_line(left_out)] if left_out else [], said_first)
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USER_ERROR
    hidden = [] if args.all_keys else [k for k in differing if k in explained]
    shown = [k for k in differing if k not in hidden]
    labels = run_labels(rows)[1]
    if left_out:  # said, not silently dropped: a sweep's failed trials are among them
        described = describe_unfinished(left_out, rows, labels, shown)
        _say([unfinished_line(left_out, described)], said_first)
    else:
        _say([], said_first)
    targets, order = optimized_targets(readable), None
    if args.sort:
        mode = sort_mode(args.sort, args.sort_mode, targets)
        rows, order = sorted_rows(rows, args.sort, mode), sorted_line(args.sort, mode)
        labels = run_labels(rows)[1]
    console = Console()
    print_table(shown, rows, console, hidden)
    # an evaluation of one file (--eval-data) is on one data: no best per data there
    best = best_lines(rows, labels, shown, targets, per_data=not args.eval_data)
    for text in (said, order, *best):  # where the numbers come from, their order, the best
        if text:
            console.print(text, soft_wrap=True, highlight=False, markup=False)
    if output is not None:
        from lab.run_dir.disk import describe_os_error

        try:  # its folder is made, as lab.predict makes an output's
            output.parent.mkdir(parents=True, exist_ok=True)
            write_output(output, differing, shown, rows)
        except OSError as err:  # a full disk: found by the write itself
            print(f"error: {describe_os_error(err, output)}", file=sys.stderr)
            return EXIT_USER_ERROR
        print(f"Written: {args.output}")
    return 0


def _say(unfinished: list[str], others: list[str]) -> None:
    for text in (*unfinished, *others):
        print(text, file=sys.stderr)


def _evaluated(
    runs: list[Path], data: str, said: list[str]
) -> tuple[list[Path], dict[Path, Any], str]:
    """(the runs with an evaluation of `data` as it is now, their metrics, the line saying
    where those come from); the line on the others is added to `said` (`lab.compare_evals`)."""
    from lab.compare_evals import choose, left_out_line, one_split, source_line

    chosen, missing, changed = choose(runs, Path(data))
    if missing:
        said.append(left_out_line(missing, changed, data))
    if not chosen:
        raise LabError(f"no run compared has an evaluation of {data} as it is now")
    split = one_split(chosen, data)  # one split's numbers, never two averaged
    kept = [run for run in runs if run in chosen]
    return kept, {run: chosen[run][1]["metrics"] for run in kept}, source_line(chosen, data, split)


if __name__ == "__main__":
    from lab.config.cli import run_tool

    run_tool(main)  # Ctrl-C: one line and exit 130, as every tool
