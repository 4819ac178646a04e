"""A console table that never cuts a key: as it is where it fits, else transposed.

`lab.compare` (configurations against keys and metrics) and the sweep summary (trials against
metrics and parameters) show tables whose column titles are keys a user copies back into an
override (`task.module.label_smoothing`). rich would cut or wrap a title that is too wide for
the console (80 columns in a pipe, or `COLUMNS`). `print_fitting_table` prints one row per
item where that fits; else it turns the table: one row per key (its full name, on one line)
and one column per item, folded into as many parts as the width needs (`(1/3)` in the title),
a long value folding inside its cell.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table


def print_fitting_table(
    title: str,
    header: list[str],
    rows: list[list[str]],
    console: Console,
    *,
    labels: list[str],
    key_title: str,
    min_value_width: int,
    labels_first: bool = False,
    edge: bool = True,
) -> bool:
    """Print `rows` (one per item, cells in `header`'s order) under `header` on `console`.

    Transposed, the first column (titled `key_title`) holds `header`'s keys and each item is a
    column titled by its entry of `labels`; a value column is at most what the key column
    leaves of the width (at least `min_value_width`). `labels_first`: the untransposed table
    shows the labels too, as its first column (titled `key_title`). `edge=False` drops the
    transposed table's outer border, which gives two more columns of room. Returns whether
    the table was transposed."""
    shown_header = [key_title, *header] if labels_first else header
    shown_rows = (
        [[label, *row] for label, row in zip(labels, rows, strict=True)] if labels_first else rows
    )
    widths = [
        max(cell_len(c) for c in [h, *(row[i] for row in shown_rows)])
        for i, h in enumerate(shown_header)
    ]
    if table_width(widths) <= console.width:
        table = Table(title=title)
        for column in shown_header:
            table.add_column(column, justify="right")
        for row in shown_rows:
            table.add_row(*row)
        console.print(table)
        return False
    key_width = max(cell_len(k) for k in shown_header)
    room = max(console.width - table_width([key_width, 0], edge), min_value_width)
    column_widths = [
        min(max(cell_len(c) for c in [label, *row]), room)
        for label, row in zip(labels, rows, strict=True)
    ]
    chunks: list[list[int]] = [[]]
    for index, width in enumerate(column_widths):
        taken = [key_width, *(column_widths[i] for i in chunks[-1]), width]
        if chunks[-1] and table_width(taken, edge) > console.width:
            chunks.append([])
        chunks[-1].append(index)
    for number, chunk in enumerate(chunks):
        part = f" ({number + 1}/{len(chunks)})" if len(chunks) > 1 else ""
        widths = [key_width, *(column_widths[i] for i in chunk)]
        # Fixed widths and a table exactly as wide as they add up to: rich then never narrows
        # the key column (past a console narrower than the longest key, lines are longer).
        table = Table(title=title + part, width=table_width(widths, edge), show_edge=edge)
        table.add_column(key_title, width=key_width, no_wrap=True)
        for index in chunk:
            table.add_column(
                labels[index], width=column_widths[index], justify="right", overflow="fold"
            )
        for position, key in enumerate(header):
            table.add_row(key, *(rows[index][position] for index in chunk))
        console.print(table, crop=False)
    return True


def table_width(widths: list[int], edge: bool = True) -> int:
    """A rich table's width for columns of these contents: one space of padding on each side
    of a cell, a border between columns, and (`edge`) one before the first and after the last."""
    return sum(widths) + 3 * len(widths) + (1 if edge else -1)
