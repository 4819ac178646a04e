"""JSON files written by pandas' `DataFrame.to_json` in a layout that is not one row per object.

lab reads JSON as `datasets` does: JSON Lines (one object per line, a row each) or one array of
row objects. `df.to_json(path)` writes neither by default: its `columns` layout is one object
of columns, each an object keyed by row number (`{"text": {"0": "...", "1": "..."}, "label":
{...}}`), which `datasets` reads as ONE row whose cells are structs of every value. The other
object layouts (`index`, `split`, `table`) are read as one row too, under columns that name
rows or pandas' own keys. A file in such a layout is refused naming the layout and the line
that writes the file lab reads, `df.to_json(path, orient="records", lines=True)`, rather than
for being too small to carve a test split from, or for lacking the configured columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from lab.errors import DataError

if TYPE_CHECKING:
    from datasets import Dataset

#: how each layout is written, and what it holds
LAYOUTS = {
    "columns": "one JSON object of columns, each keyed by row number",
    "index": "one JSON object of rows keyed by row number",
    "split": "one JSON object of columns, index and data",
    "table": "one JSON object of a schema and data",
}
FIX = 'write it one row per line with df.to_json(path, orient="records", lines=True)'


def layout_of_columns(columns: Sequence[str]) -> str | None:
    """The pandas layout whose top-level keys are `columns` as `datasets` reads them: `index`
    (0, 1, 2...), `split` or `table`; None for any other columns. (`columns` is told by the
    cells, `columns_layout`: its keys are the real column names.)"""
    names = [str(c) for c in columns]
    if len(names) >= 2 and names == [str(i) for i in range(len(names))]:
        return "index"
    if set(names) == {"columns", "index", "data"}:
        return "split"
    if set(names) == {"schema", "data"}:
        return "table"
    return None


def layout_hint(columns: Sequence[str]) -> str | None:
    """Advice for a split refused for lacking its columns whose columns are a pandas layout's
    keys (said with the refusal, `lab.data.column_refusal`), or None."""
    layout = layout_of_columns(columns)
    if layout is None:
        return None
    return f"the file looks like {_layout_named(layout)}, not one row per object: {FIX}"


def columns_layout(dataset: Dataset) -> bool:
    """Whether `dataset` is a `columns`-layout file as `datasets` reads it: one row, every
    column a struct whose fields are row numbers (the DataFrame's index: 0, 1, 2..., or what
    a filter left of it)."""
    import pyarrow as pa

    if len(dataset) != 1:
        return False
    schema = dataset.data.table.schema  # the Arrow table under datasets' wrapper
    if not len(schema):
        return False
    for field in schema:
        if not pa.types.is_struct(field.type):
            return False
        names = [field.type.field(i).name for i in range(field.type.num_fields)]
        if not names or not all(name.isdigit() for name in names):
            return False
    return True


def refuse_pandas_layouts(
    loaded: Mapping[str, Dataset], data_files: Mapping[str, list[str]]
) -> None:
    """Refuse the first JSON split (of one file) `datasets` read from a pandas object layout."""
    for split, files in data_files.items():
        if split not in loaded or len(files) != 1:
            continue
        dataset = loaded[split]
        layout = "columns" if columns_layout(dataset) else None
        if layout is None and len(dataset) == 1:
            layout = layout_of_columns(dataset.column_names)
        if layout is not None:
            raise DataError(f"{files[0]} is {_layout_named(layout)}, read as 1 row; {FIX}")


def _layout_named(layout: str) -> str:
    call = "default DataFrame.to_json()" if layout == "columns" else _call(layout)
    return f"pandas' {call} layout ({LAYOUTS[layout]})"


def _call(layout: str) -> str:
    return f'DataFrame.to_json(orient="{layout}")'
