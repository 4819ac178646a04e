"""Acceptance findings on reading data and on `lab.inspect`: a folder of split files says which
file is which split and names the data files it does not read; inspect reports the share of
unknown tokens, hidden (-1) and empty labels in every split, rounded label numbers, and prints
its tables whole when piped."""

from __future__ import annotations

import csv
import gzip
import logging
from pathlib import Path
from typing import Any

import pytest

from lab.data.local_files import local_data_files
from lab.log_records import is_file_only


def _csv(
    path: Path, rows: list[tuple[Any, ...]], header: tuple[str, ...] = ("text", "label")
) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


# ----------------------------------------------------------------------------- F17
def test_a_folder_of_split_files_names_its_splits_and_warns_of_files_not_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "extra"
    root.mkdir()
    for name in ("train.csv", "dev.csv", "test.csv", "train_augmented.csv", "unlabeled.csv"):
        _csv(root / name, [("good", 1)])
    (root / "README.md").write_text("# notes\n")  # not a data file: not listed
    (root / "old").mkdir()
    with caplog.at_level(logging.INFO, logger="lab.data.local_files"):
        builder, files = local_data_files(root, report=True)
    assert builder == "csv" and sorted(files) == ["test", "train", "validation"]
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        (
            "WARNING",
            f"data.path {root} read as a folder of split files: train=train.csv, "
            "validation=dev.csv, test=test.csv; not read: train_augmented.csv, unlabeled.csv "
            "(a split is read from the one file named after it: merge other rows into that "
            "file to use them)",
        )
    ]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="lab.data.local_files"):
        local_data_files(root)  # the config check: quiet
    assert caplog.records == []


def test_a_folder_of_only_split_files_is_a_report_for_the_log_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "plain"
    root.mkdir()
    for name in ("train.jsonl.gz", "validation.jsonl.gz"):
        (root / name).write_bytes(gzip.compress(b'{"text": "a", "label": 0}\n'))
    (root / "notes.txt.bak").write_text("not data")
    with caplog.at_level(logging.INFO, logger="lab.data.local_files"):
        local_data_files(root, report=True)
    [record] = caplog.records
    assert record.levelname == "INFO" and is_file_only(record)  # train.log, not the console
    assert record.getMessage() == (
        f"data.path {root} read as a folder of split files: train=train.jsonl.gz, "
        "validation=validation.jsonl.gz"
    )
