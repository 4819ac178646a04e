"""A folder of split files (train/validation/test.jsonl) read by a data config that maps lab's
splits elsewhere (`data=squad`: test on the source's `validation`, validation carved): the log
names the file each split actually reads, or that it is carved, and warns of a file no split
reads with the override that reads it."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from lab.data.local_files import local_data_files
from lab.data.split_files_named import split_files_line
from lab.log_records import is_file_only

SQUAD_SPLITS = {"train": "train", "validation": None, "test": "validation"}  # conf/data/squad


def _folder(root: Path, *names: str) -> Path:
    root.mkdir()
    for name in names:
        (root / name).write_text(json.dumps({"text": "a", "label": 0}) + "\n")
    return root


def _logged(
    root: Path, splits: dict[str, str | None] | None, caplog: pytest.LogCaptureFixture
) -> logging.LogRecord:
    with caplog.at_level(logging.INFO, logger="lab.data.local_files"):
        local_data_files(root, report=True, splits=splits)
    [record] = caplog.records
    return record


def test_a_test_file_the_mapping_leaves_unread_is_a_warning_naming_the_override(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = _folder(tmp_path / "squad", "train.jsonl", "validation.jsonl", "test.jsonl")
    record = _logged(root, SQUAD_SPLITS, caplog)
    assert record.levelname == "WARNING" and not is_file_only(record)  # on the console
    assert record.getMessage() == (
        f"data.path {root} read as a folder of split files: train=train.jsonl, "
        "validation carved from train, test=validation.jsonl; not read: test.jsonl "
        "(data.splits.validation=validation data.splits.test=test reads each file as the split "
        "it is named after)"
    )


def test_with_the_override_every_file_is_read_and_the_line_is_for_train_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = _folder(tmp_path / "squad", "train.jsonl", "validation.jsonl", "test.jsonl")
    splits = {"train": "train", "validation": "validation", "test": "test"}
    record = _logged(root, splits, caplog)
    assert record.levelname == "INFO" and is_file_only(record)
    assert record.getMessage() == (
        f"data.path {root} read as a folder of split files: train=train.jsonl, "
        "validation=validation.jsonl, test=test.jsonl"
    )


def test_a_folder_without_a_test_file_is_read_as_the_mapping_says(tmp_path: Path) -> None:
    root = _folder(tmp_path / "d", "train.jsonl", "dev.jsonl")
    named = {"train": [str(root / "train.jsonl")], "validation": [str(root / "dev.jsonl")]}
    # sst2's mapping: dev.jsonl is the test split, validation carved; nothing left unread
    assert split_files_line(root, named, [], SQUAD_SPLITS) == (
        False,
        f"data.path {root} read as a folder of split files: train=train.jsonl, "
        "validation carved from train, test=dev.jsonl",
    )
    # a Hub split name (ultrachat's train_sft / test_sft) reads the file named like lab's split
    hub = {"train": "train_sft", "validation": None, "test": "test_sft"}
    assert split_files_line(root, named, [], hub) == (
        True,
        f"data.path {root} read as a folder of split files: train=train.jsonl, "
        "validation carved from train, test carved from train; not read: dev.jsonl "
        "(data.splits.validation=validation reads each file as the split it is named after)",
    )


def test_unread_split_files_and_other_data_files_are_both_named(tmp_path: Path) -> None:
    root = tmp_path / "d"
    named = {s: [str(root / f"{s}.csv")] for s in ("train", "validation", "test")}
    assert split_files_line(root, named, ["extra.csv"], SQUAD_SPLITS) == (
        True,
        f"data.path {root} read as a folder of split files: train=train.csv, validation carved "
        "from train, test=validation.csv; not read: test.csv (data.splits.validation=validation "
        "data.splits.test=test reads each file as the split it is named after); not read: "
        "extra.csv (a split is read from the one file named after it: merge other rows into "
        "that file to use them)",
    )


def test_without_the_mapping_the_files_are_named_by_their_split(tmp_path: Path) -> None:
    root = tmp_path / "d"
    named = {"train": [str(root / "train.csv")], "test": [str(root / "test.csv")]}
    assert split_files_line(root, named, [], None) == (
        False,
        f"data.path {root} read as a folder of split files: train=train.csv, test=test.csv",
    )
