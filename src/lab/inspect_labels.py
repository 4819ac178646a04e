"""The train-labels table of `python -m lab.inspect`: one row per label, whatever the width,
with a column per validation / test split of its rows of each class (`label_counts`,
`lab.data.inspection_classes`), so a class a split lacks shows as 0 beside train's count.

A list of labels is read down a column. Turned into one column per label (as the split tables
are where they do not fit, `lab.wide_tables`), 20 labels at 60 columns became 20 one-column
tables, and a long label was cut mid-word. Here the counts keep their columns and the label
column takes the width left: a label longer than that folds after a word (`_`, `-`, `.`, `/`
and spaces end a word: `account_access_and_` / `password_reset_problem`, as
`lab.wide_tables.fold_after` folds config keys after their dots), and only a word wider than
the whole column is cut (by the column's folding). Labels are left-aligned, numbers right-aligned.
"""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING, Any

from rich.cells import cell_len

from lab.wide_tables import fold_after

if TYPE_CHECKING:
    from rich.console import Console

TITLE = "train labels"
# More labels than this (150 intents): the table shows the `SHOWN_EACH_END` most and least
# frequent, with a line on the rest; every count is in inspect.json.
TABLE_MAX = 40
SHOWN_EACH_END = 10
MIN_LABEL_WIDTH = 12  # narrower than this, a label column is unreadable: the table overflows
WORD_ENDS = "_-./ "  # a label folds after one of these (`lab.wide_tables.fold_after`)


def print_label_table(report: dict[str, Any], console: Console) -> None:
    """The train label counts of `report` (lab.inspect's), their shares and, where the head
    takes class weights, the weights `balanced` would give, as one table on `console`; then
    a column per other split with its rows of each class (`label_counts`: 0 for a class
    train holds and the split lacks, which a warning names)."""
    labels = report["labels"]
    weighted = bool(report.get("class_weights_option"))
    # token classification counts tags (one per word), not rows
    unit = "tags" if report.get("label_unit") == "tag" else "rows"
    header = [unit, "share"]
    header += ["class weight"] if weighted else []
    others = {
        name: entry["label_counts"]
        for name, entry in (report.get("splits") or {}).items()
        if name != "train" and "label_counts" in entry
    }
    header += list(others)
    rows = [
        [
            str(count),
            f"{labels['shares'][name]:.1%}",
            *([_weight(labels["class_weights"][name])] if weighted else []),
            *(str(counts.get(name, 0)) for counts in others.values()),
        ]
        for name, count in labels["counts"].items()
    ]
    names = [str(name) for name in labels["counts"]]
    summary = None
    if len(names) > TABLE_MAX:
        names, rows, summary = _ends(labels["counts"], names, rows, header[0])
    room = _label_room(console.width, header, rows)
    if room < MIN_LABEL_WIDTH:  # a narrow console: `class weight` over two lines gives room
        header = [h.replace(" ", "\n") for h in header]
        room = _label_room(console.width, header, rows)
    longest = max([cell_len("label"), *(cell_len(name) for name in names)])
    label_width = min(longest, max(room, MIN_LABEL_WIDTH))
    folded = [fold_after(n, label_width, WORD_ENDS) for n in names]
    # Labels training refuses as they are (1-based ids) are listed as stored, not as classes.
    refused = labels.get("refused")
    title = f"{TITLE} as stored (lab.train refuses them: {refused})" if refused else TITLE
    if others:  # the columns after train's: the other splits' own counts
        title += f"; {', '.join(others)}: {unit} per label"
    print_rows(console, header, folded, rows, label_width, title)
    if summary:
        console.print(summary, markup=False, highlight=False)


def _ends(
    counts: dict[Any, int], names: list[str], rows: list[list[str]], unit: str
) -> tuple[list[str], list[list[str]], str]:
    """The most and least frequent `SHOWN_EACH_END` labels' names and rows, most first with
    a `... N more` row between, and a line on all of them (how many, `unit`s per label, the
    labels with none and with one)."""
    values = list(counts.values())
    order = sorted(range(len(names)), key=lambda i: -values[i])  # stable: ties keep order
    top, bottom = order[:SHOWN_EACH_END], order[-SHOWN_EACH_END:]
    gap = len(names) - len(top) - len(bottom)
    shown_names = [names[i] for i in top] + [f"... {gap} more"] + [names[i] for i in bottom]
    shown_rows = [rows[i] for i in top] + [[""] * len(rows[0])] + [rows[i] for i in bottom]
    none, one = values.count(0), values.count(1)
    summary = (
        f"{len(values)} labels, the {SHOWN_EACH_END} most and least frequent shown (all in "
        f"inspect.json): {unit} per label {min(values)} to {max(values)}, median "
        f"{statistics.median(values):g}"
        + (f"; {none} with no train {unit[:-1]}" if none else "")
        + (f"; {one} with one" if one else "")
    )
    return shown_names, shown_rows, summary


def _label_room(width: int, header: list[str], rows: list[list[str]]) -> int:
    """The cells left for the label column of a `width`-wide console beside the counts."""
    widths = [
        max(cell_len(c) for c in [*h.split("\n"), *(row[i] for row in rows)])
        for i, h in enumerate(header)
    ]
    # rich's table: a space of padding each side of a cell, a border between and around.
    return width - sum(widths) - 3 * (len(widths) + 1) - 1


def print_rows(
    console: Console,
    header: list[str],
    names: list[str],
    rows: list[list[str]],
    width: int,
    title: str = TITLE,
) -> None:
    """The table `title`: the (folded) `names` in a left-aligned column `width` wide, then
    `rows`."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title)
    table.add_column("label", justify="left", width=width, overflow="fold")
    for column in header:
        table.add_column(column, justify="right", no_wrap=True)
    for name, row in zip(names, rows, strict=True):
        table.add_row(Text(name), *row)  # Text: a label is never read as rich markup
    console.print(table)


def _weight(weight: float | None) -> str:
    """A class weight as the labels table shows it; "-" for a class without train rows."""
    return "-" if weight is None else f"{weight:.3f}"
