"""A validation split too small to choose by is said before training (`lab.data.small_splits`):
the line by hand, carved or given, and nothing from 30 rows up."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from lab.data.small_splits import FEW_ROWS, small_validation_line, too_few_classes

from conftest import lab_cli


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


def test_a_one_class_train_split_says_what_carving_took() -> None:
    """s24c M5: a 3-row file of classes 0, 1, 1 whose validation and test took the 0 and a 1:
    "the train split has 1 class" is said with the carving that left it so."""
    assert too_few_classes(["1"], ["test", "validation"], 1) == (
        "the train split has 1 class(es) (['1']); classification needs at least 2 (the test and "
        "validation splits were carved from the same file first, leaving 1 train row: where the "
        "file holds other classes, give each more rows, or give test and validation files of "
        "your own)"
    )
    assert too_few_classes(["a"], [], 40) == (
        "the train split has 1 class(es) (['a']); classification needs at least 2"
    )


def test_tiny_files_are_refused_naming_the_carving(tmp_path: Path) -> None:
    """The same through `lab.train`: 3 rows (labels 0, 1, 1) and 2 rows, one line each, exit 2."""
    three, two = tmp_path / "three.csv", tmp_path / "two.csv"
    three.write_text("text,label\ngood film,0\nbad film,1\nawful film,1\n")
    two.write_text("text,label\ngood film,0\nbad film,1\n")
    common = ["model=tiny_bert", "data=csv", "logger=csv", f"paths.output_root={tmp_path / 'o'}"]
    result = lab_cli("train", *common, f"data.path={three}", "data.split_seed=17")
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1] == (
        "error: the train split has 1 class(es) (['1']); classification needs at least 2 (the "
        "test and validation splits were carved from the same file first, leaving 1 train row: "
        "where the file holds other classes, give each more rows, or give test and validation "
        "files of your own)"
    )
    result = lab_cli("train", *common, f"data.path={two}")
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: the train split ({two}) has 1 row(s) left after carving test from it; too few "
        "to carve a validation split from it"
    )
