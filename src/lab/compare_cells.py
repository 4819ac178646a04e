"""How `lab.compare`'s table shows a configuration key's values: a float as short as tells it
apart.

A sampled learning rate is `3.2034201569725462e-06` in a run's config: whole, it folded in the
middle of the number in an 80-column table (s25c L3). A column of floats is shown with the
fewest significant digits (3 at least, as the sweep summary shows them) at which the values
that differ still look different; `lab.compare`'s CSV keeps every value whole.
"""

from __future__ import annotations

from typing import Any

MIN_DIGITS = 3
MAX_DIGITS = 17  # every float64 is told apart by 17 significant digits


def column_cells(values: list[Any]) -> list[str]:
    """The table's cells for one key's `values` (one per configuration): `str(value)`, except
    in a column of non-integral floats (and ints among them), which shows each with the fewest
    significant digits, from `MIN_DIGITS`, that keep distinct values distinct."""
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if len(numbers) != len(values) or all(float(v).is_integer() for v in numbers):
        return [str(v) for v in values]
    distinct = len({float(v) for v in numbers})
    for digits in range(MIN_DIGITS, MAX_DIGITS + 1):
        cells = [str(v) if isinstance(v, int) else _cell(v, digits) for v in numbers]
        if len(set(cells)) == distinct:
            return cells
    return [str(v) if isinstance(v, int) else repr(v) for v in numbers]


def _cell(value: float, digits: int) -> str:
    """`value` to `digits` significant digits, or Python's own shortest form where that
    already is the value (`0.1`, not `0.100`; `0.0` as the config writes it)."""
    cell = f"{value:.{digits}g}"
    return repr(value) if float(cell) == value else cell
