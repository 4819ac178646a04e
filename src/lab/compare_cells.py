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
    """The table's cells for one key's `values` (one per configuration or trial): `str(value)`,
    except the non-integral floats of a column (and ints among them), each shown with the
    fewest significant digits, from `MIN_DIGITS`, that keep its distinct numbers distinct; a
    cell that is no number (a null, a key a run lacks) stays as it prints."""
    numeric = [isinstance(v, int | float) and not isinstance(v, bool) for v in values]
    numbers = [v for v, is_number in zip(values, numeric, strict=True) if is_number]
    if all(float(v).is_integer() for v in numbers):
        return [str(v) for v in values]
    distinct = len({float(v) for v in numbers})
    shown = [str(v) if isinstance(v, int) else repr(v) for v in numbers]
    for digits in range(MIN_DIGITS, MAX_DIGITS + 1):
        cells = [str(v) if isinstance(v, int) else _cell(v, digits) for v in numbers]
        if len(set(cells)) == distinct:
            shown = cells
            break
    rest = iter(shown)
    return [
        next(rest) if is_number else str(v) for v, is_number in zip(values, numeric, strict=True)
    ]


def _cell(value: float, digits: int) -> str:
    """`value` to `digits` significant digits, or Python's own shortest form where that
    already is the value (`0.1`, not `0.100`; `0.0` as the config writes it)."""
    cell = f"{value:.{digits}g}"
    return repr(value) if float(cell) == value else cell
