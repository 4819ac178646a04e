"""A validation split too small to choose by is said before training (`lab.data.small_splits`):
the line by hand, carved or given, and nothing from 30 rows up."""

from __future__ import annotations

from types import SimpleNamespace

from lab.data.small_splits import FEW_ROWS, small_validation_line


def _data(rows: int, carved: bool) -> SimpleNamespace:
    return SimpleNamespace(
        raw_sizes={"train": 100, "validation": rows, "test": 20},
        carved=["validation"] if carved else [],
        val_fraction=0.1,
    )


def test_a_carved_split_of_two_rows_names_data_val_fraction() -> None:
    assert small_validation_line(_data(2, carved=True)) == (
        "the validation split holds 2 rows: one row moves a rate such as accuracy by 0.5, and "
        "the best checkpoint, early stopping and a sweep's objective follow its metric, so "
        "their choices rest on 2 rows; a larger data.val_fraction (now 0.1 of train) carves more"
    )


def test_a_given_file_of_one_row_names_a_larger_file() -> None:
    line = small_validation_line(_data(1, carved=False))
    assert line is not None and line.startswith("the validation split holds 1 row: ")
    assert "by 1, and" in line and "rest on 1 row;" in line
    assert line.endswith(
        "a validation file of more rows (data.splits.validation) gives steadier choices"
    )


def test_nothing_from_thirty_rows_or_without_a_validation_split() -> None:
    assert FEW_ROWS == 30
    assert small_validation_line(_data(29, carved=True)) is not None
    assert small_validation_line(_data(30, carved=True)) is None
    assert small_validation_line(SimpleNamespace(raw_sizes={}, carved=[])) is None
