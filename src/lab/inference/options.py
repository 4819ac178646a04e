"""Options of `lab.predict` and `lab.serve` beyond the run: numbers, and `lab.predict`'s
column mapping.

`columns.<field>=<column>` reads the head's input `<field>` from the file's `<column>` (a
file with `review` where the head reads `text`: `columns.text=review`), as the run's data
config named its columns (`data.text_column=review`). The head's fields are those of its
predictor (`Predictor.accepted_fields`), and `id`, which `lab.predict` passes through.
"""

from __future__ import annotations

from typing import Any

from lab.errors import LabError
from lab.inference.rows import RowError

COLUMNS = "columns"  # the option group: columns.<field>=<column>
PASSED_THROUGH = "id"  # not read by any head: copied to the output row


def positive_int(values: dict[str, str], key: str, default: int | None = None) -> int | None:
    """The option `key=` of `values` as an integer of at least 1 (`default` when not given);
    anything else is a `LabError` naming it."""
    if key not in values:
        return default
    text = values[key]
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise LabError(f"{key} must be a positive integer, got {key}={text}")
    return number


def parse_columns(overrides: list[str]) -> dict[str, str]:
    """`{field: column}` of the `columns.<field>=<column>` arguments (as `parse_options`
    returns them for the passthrough group `columns`)."""
    mapping: dict[str, str] = {}
    for override in overrides:
        key, _, column = override.partition("=")
        group, dot, field = key.partition(".")
        if group != COLUMNS or not dot or not field or "." in field:
            raise LabError(
                f"'{override}': map a field of the head to a column of the file as "
                f"{COLUMNS}.<field>=<column>, e.g. {COLUMNS}.text=review"
            )
        if not column:
            raise LabError(f"'{override}': name the file's column that holds '{field}'")
        mapping[field] = column
    return mapping


def check_columns(mapping: dict[str, str], fields: tuple[str, ...], head: str) -> None:
    """Refuse a mapping of a field the head does not read (after the predictor is built:
    its fields come from the run's config)."""
    valid = (*fields, PASSED_THROUGH)
    unknown = [field for field in mapping if field not in valid]
    if unknown:
        raise LabError(
            f"{COLUMNS}.{unknown[0]}: '{unknown[0]}' is not an input field of this run "
            f"({head}); its fields: {', '.join(fields)} (and {PASSED_THROUGH}, passed through)"
        )


def map_columns(row: dict[str, Any], mapping: dict[str, str]) -> dict[str, Any] | RowError:
    """`row` with each mapped field read from its column (the column's own name dropped);
    a row without a mapped column is an error naming it, which keeps the row's `id` (read
    as a good row's would be) so its output row still joins back to the input."""
    mapped = {name: value for name, value in row.items() if name not in mapping.values()}
    mapped.update({field: row[column] for field, column in mapping.items() if column in row})
    missing = [(field, column) for field, column in mapping.items() if column not in row]
    if not missing:
        return mapped
    field, column = missing[0]
    present = ", ".join(str(name) for name in row) or "none"
    # An `id` mapped from a missing column is unknown: not the file's own `id` column.
    known = PASSED_THROUGH in mapped and all(f != PASSED_THROUGH for f, _ in missing)
    return RowError(
        f"missing column '{column}' ({COLUMNS}.{field}={column}; columns present: {present})",
        {PASSED_THROUGH: mapped[PASSED_THROUGH]} if known else None,
    )
