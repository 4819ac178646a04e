"""A console table that never cuts a key: as it is where it fits, else transposed.

`lab.compare` (configurations against keys and metrics) and the sweep summary (trials against
metrics and parameters) show tables whose column titles are keys a user copies back into an
override (`task.module.label_smoothing`). rich would cut or wrap a title that is too wide for
the console (80 columns in a pipe, or `COLUMNS`). `print_fitting_table` prints one row per
item where that fits; else it turns the table: one row per key (its full name, on one line)
and one column per item, folded into as many parts as the width needs (`(1/3)` in the title),
a long value folding inside its cell. With `fold_to` (lab.compare), configurations sit side
by side down to that width each (a long value, a data path, folds over more lines) and a key
wider than `KEY_FOLD_WIDTH` folds after its dots, so the table keeps within the width.
"""

from __future__ import annotations

import re

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table

# A cell that reads as a number: a count, a share, `0 (0)`, `0.8123 ± 0.0100`.
NUMBER = re.compile(r"[-+]?[\d.,]+%?( \([-+]?[\d.,]+%?\)| ± [\d.,]+)?")

#: `fold_to`: the key column's widest (a longer key folds after a dot) and its narrowest
KEY_FOLD_WIDTH = 40
KEY_FLOOR_WIDTH = 24


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
    fold_to: int | None = None,
) -> bool:
    """Print `rows` (one per item, cells in `header`'s order) under `header` on `console`.

    Transposed, the first column (titled `key_title`) holds `header`'s keys and each item is a
    column titled by its entry of `labels`; a value column is at most what the key column
    leaves of the width (at least `min_value_width`). `labels_first`: the untransposed table
    shows the labels too, as its first column (titled `key_title`). `edge=False` drops the
    transposed table's outer border, which gives two more columns of room. Returns whether
    the table was transposed. `fold_to`: transposed, a value column may narrow to this width
    (its values fold) and the key column to `KEY_FLOOR_WIDTH` (keys fold after a dot), so
    more items share a part; see `folded_parts`."""
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
        for i, column in enumerate(shown_header):
            # Numbers right-aligned (their digits line up), text left-aligned (split names,
            # sequence names and labels read from their start).
            # `-` (a value a run lacks) goes either way.
            cells = [row[i] for row in shown_rows if row[i] != "-"]
            numeric = all(NUMBER.fullmatch(cell) for cell in cells)
            table.add_column(column, justify="right" if numeric else "left")
        for row in shown_rows:
            table.add_row(*row)
        console.print(table)
        return False
    if fold_to is not None:
        for number, (chunk, widths) in enumerate(
            parts := folded_parts(
                header, labels, rows, console.width, fold_to, min_value_width, edge
            )
        ):
            part = f" ({number + 1}/{len(parts)})" if len(parts) > 1 else ""
            _print_part(title + part, key_title, header, labels, rows, chunk, widths, console, edge)
        return True
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


def folded_parts(
    header: list[str],
    labels: list[str],
    rows: list[list[str]],
    width: int,
    fold_to: int,
    comfort: int,
    edge: bool = True,
) -> list[tuple[list[int], list[int]]]:
    """The parts of a transposed table whose values and keys may fold: for each part, the
    items it shows and its column widths (the key column's first).

    A part holds as many items as fit `width` at their narrowest: a value column at
    `fold_to` (or its content, if narrower), the key column at `KEY_FLOOR_WIDTH` (or its
    longest key); the items are then spread evenly over the parts. Within a part the room
    left is given out in this order, each step widening the narrowest columns first: value
    columns up to `comfort` (a "mean ± std" cell on one line), the key column up to
    `KEY_FOLD_WIDTH`, value columns up to their content, the key column up to its longest key.
    """
    longest_key = max(cell_len(k) for k in header)
    natural = [
        max(cell_len(c) for c in [label, *row]) for label, row in zip(labels, rows, strict=True)
    ]
    floors = [min(n, fold_to) for n in natural]
    key_floor = min(longest_key, KEY_FLOOR_WIDTH)
    greedy: list[list[int]] = [[]]
    for index, floor in enumerate(floors):
        taken = [key_floor, *(floors[i] for i in greedy[-1]), floor]
        if greedy[-1] and table_width(taken, edge) > width:
            greedy.append([])
        greedy[-1].append(index)
    size = -(-len(natural) // len(greedy))  # the same number of items in each part, or one less
    even = [
        list(range(start, min(start + size, len(natural))))
        for start in range(0, len(natural), size)
    ]
    fits = all(
        table_width([key_floor, *(floors[i] for i in chunk)], edge) <= width for chunk in even
    )
    parts = []
    for chunk in even if fits and len(even) == len(greedy) else greedy:
        widths = [key_floor, *(floors[i] for i in chunk)]
        room = width - table_width(widths, edge)
        values = list(range(1, len(widths)))
        for columns, targets in (
            (values, [min(natural[i], comfort) for i in chunk]),
            ([0], [min(longest_key, KEY_FOLD_WIDTH)]),
            (values, [natural[i] for i in chunk]),
            ([0], [longest_key]),
        ):
            room = _widen(widths, columns, targets, room)
        parts.append((chunk, widths))
    return parts


def _widen(widths: list[int], columns: list[int], targets: list[int], room: int) -> int:
    """Widen `widths[columns]` toward `targets`, the narrowest first, by at most `room`
    columns in all; returns the room left."""
    while room > 0:
        short = [c for c, t in zip(columns, targets, strict=True) if widths[c] < t]
        if not short:
            break
        widths[min(short, key=lambda c: widths[c])] += 1
        room -= 1
    return room


def fold_after(text: str, width: int, breaks: str = "./") -> str:
    """`text` on lines of at most `width` cells, broken only after one of `breaks` (a config
    key after its dots, so each line ends where a part of the key ends; a label also after
    `_`, `-` and spaces). A piece longer than the width is left whole, for the column's own
    folding to cut; a space ending a line is dropped (it would only push the line over)."""
    pieces = [p for p in re.split(f"(?<=[{re.escape(breaks)}])", text) if p]
    lines = [""]
    for piece in pieces:
        if lines[-1] and cell_len(lines[-1] + piece.rstrip(" ")) > width:
            lines.append("")
        lines[-1] += piece
    return "\n".join(line.rstrip(" ") for line in lines if line.strip(" ")) or text


def _print_part(
    title: str,
    key_title: str,
    header: list[str],
    labels: list[str],
    rows: list[list[str]],
    chunk: list[int],
    widths: list[int],
    console: Console,
    edge: bool,
) -> None:
    """One part of `folded_parts`: the items `chunk`, columns of `widths` (the key's first)."""
    table = Table(title=title, width=table_width(widths, edge), show_edge=edge)
    table.add_column(key_title, width=widths[0], overflow="fold")
    for index, width in zip(chunk, widths[1:], strict=True):
        table.add_column(labels[index], width=width, justify="right", overflow="fold")
    for position, key in enumerate(header):
        table.add_row(fold_after(key, widths[0]), *(rows[index][position] for index in chunk))
    console.print(table, crop=False)
