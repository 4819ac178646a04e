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


def _rows(path: Path, rows: list[dict[str, object]]) -> str:
    """`rows` written to `path` as JSON lines, CSV or Parquet (by its suffix)."""
    if path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), path)
    elif path.suffix == ".csv":
        names = list(rows[0])
        lines = [",".join(names)] + [",".join(str(r[n]) for n in names) for r in rows]
        path.write_text("\n".join(lines) + "\n")
    else:
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


@pytest.mark.parametrize(
    ("suffix", "train_label", "hidden"),
    [
        (".jsonl", 2, -1),  # SWAG's test.jsonl as the Hub's to_json writes it
        (".jsonl", "3", ""),  # HellaSwag's: label digit strings, the test's blank
        (".parquet", 4.2, -1.0),  # STS-B's scores, the test's -1.0
        (".csv", 1, -1),  # SST-2 exported to CSV: "-1" as text
    ],
)
def test_an_unread_file_of_hidden_labels_gets_no_override(
    tmp_path: Path, suffix: str, train_label: object, hidden: object
) -> None:
    """s21a M1: following the override would have the split refused (hidden labels cannot
    be scored), so the file is named as rightly left out and the line is for train.log."""
    root = tmp_path / "swag"
    root.mkdir()

    # a text column blank in the test file's first rows is no label (HellaSwag's ctx_b)
    def row(label: object, blank: str) -> dict[str, object]:
        return {"sent1": "A man sits down.", "ctx_b": blank, "label": label}

    named = {
        split: [_rows(root / f"{split}{suffix}", [row(label, blank)] * 3)]
        for split, label, blank in [
            ("train", train_label, "then he talks to the camera at length"),
            ("validation", train_label, "then"),
            ("test", hidden, ""),
        ]
    }
    assert split_files_line(root, named, [], SQUAD_SPLITS) == (
        False,
        f"data.path {root} read as a folder of split files: train=train{suffix}, validation "
        f"carved from train, test=validation{suffix}; not read: test{suffix}, whose 'label' "
        "holds only hidden labels in its first rows (-1 or empty, as in GLUE's and SWAG's test "
        "files: rightly left out)",
    )


def test_a_labeled_file_among_hidden_rows_still_gets_the_override(tmp_path: Path) -> None:
    """Only a file whose first rows are all hidden is left out: one labeled row among them
    (SNLI's -1 rows beside gold labels) keeps the warning and its override."""
    root = tmp_path / "snli"
    root.mkdir()
    rows = [{"premise": "a", "label": 1}, {"premise": "b", "label": -1}]
    named = {s: [_rows(root / f"{s}.jsonl", rows)] for s in ("train", "validation", "test")}
    warn, line = split_files_line(root, named, [], SQUAD_SPLITS)
    assert warn and line.endswith(
        "not read: test.jsonl (data.splits.validation=validation data.splits.test=test reads "
        "each file as the split it is named after)"
    )


def test_one_split_read_as_all_three_is_no_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """s21a M2: lab.eval reads the split it evaluates as all three of lab's; the other files
    of the folder are unread by design, with no warning and no `data.splits.train=` advice."""
    root = _folder(tmp_path / "samsum", "train.jsonl", "validation.jsonl", "test.jsonl")
    record = _logged(root, dict.fromkeys(("train", "validation", "test"), "test"), caplog)
    assert record.levelname == "INFO" and is_file_only(record)
    assert record.getMessage() == (
        f"data.path {root} read as a folder of split files: train=test.jsonl, "
        "validation=test.jsonl, test=test.jsonl"
    )


MNLI_SPLITS = {
    "train": "train",
    "validation": "validation_matched",
    "test": "validation_mismatched",
}


def test_files_named_after_the_hub_splits_a_config_maps_to_are_those_splits(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """s30b F1: `data=mnli` over train / validation_matched / validation_mismatched.jsonl
    carved validation and test from train (test/acc on 40 train rows, a warning aside); the
    files named after the splits the config maps to are read as those splits, as their Hub
    shards (`validation_matched-00000-of-00001.jsonl`) were."""
    root = _folder(
        tmp_path / "mnli", "train.jsonl", "validation_matched.jsonl", "Validation_Mismatched.jsonl"
    )
    record = _logged(root, MNLI_SPLITS, caplog)
    assert record.levelname == "INFO" and is_file_only(record)
    assert record.getMessage() == (
        f"data.path {root} read as a folder of split files: train=train.jsonl, "
        "validation=validation_matched.jsonl, test=Validation_Mismatched.jsonl"
    )
    _, files = local_data_files(root, splits=MNLI_SPLITS)
    assert files == {
        "train": [str(root / "train.jsonl")],
        "validation_matched": [str(root / "validation_matched.jsonl")],
        "validation_mismatched": [str(root / "Validation_Mismatched.jsonl")],
    }
    # Without a mapping to them (a generic config) they are other files, as before.
    assert local_data_files(root)[1] == {"train": [str(root / "train.jsonl")]}


def test_lab_named_files_beside_the_mapped_ones_stand_in_or_are_named_unread(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """`test.jsonl` reads as test where `validation_mismatched` is absent (as before); a
    `validation.jsonl` beside `validation_matched.jsonl` is unread, and said so."""
    names = ("train.jsonl", "validation.jsonl", "validation_matched.jsonl", "test.jsonl")
    root = _folder(tmp_path / "mnli", *names)
    record = _logged(root, MNLI_SPLITS, caplog)
    assert record.levelname == "WARNING"
    assert record.getMessage() == (
        f"data.path {root} read as a folder of split files: train=train.jsonl, "
        "validation=validation_matched.jsonl, test=test.jsonl; not read: validation.jsonl "
        "(data.splits.validation=validation reads each file as the split it is named after)"
    )


def test_files_named_like_other_splits_get_the_mapping_that_reads_them(tmp_path: Path) -> None:
    """s30c N4: `data=json` on MNLI's train / validation_matched / validation_mismatched files
    advised merging them into one file; naming one in data.splits reads it."""
    root = tmp_path / "mnli"
    named = {"train": [str(root / "train.jsonl")]}
    others = ["train_augmented.jsonl", "validation_matched.jsonl", "validation_mismatched.jsonl"]
    plain = {"train": "train", "validation": "validation", "test": "test"}
    assert split_files_line(root, named, others, plain)[1].endswith(
        "; not read: validation_matched.jsonl, validation_mismatched.jsonl (named like splits: "
        "data.splits.validation=<its name> or data.splits.test=<its name> reads one as that "
        "split, e.g. data.splits.validation=validation_matched); not read: "
        "train_augmented.jsonl (a split is read from the one file named after it: merge other "
        "rows into that file to use them)"
    )


def test_files_named_only_after_mapped_splits_are_read_by_the_mapping(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A folder of ultrachat's `train_sft.jsonl` and `test_sft.jsonl`: under its data config
    (train: train_sft) they are its splits; without a mapping to them the Hub layouts' file
    patterns read them as train and test, as before (the first cut of s30b F1 refused the
    folder as having no train file)."""
    root = _folder(tmp_path / "uc", "train_sft.jsonl", "test_sft.jsonl")
    ultrachat = {"train": "train_sft", "validation": None, "test": "test_sft"}
    record = _logged(root, ultrachat, caplog)
    assert record.getMessage() == (
        f"data.path {root} read as a folder of split files: train=train_sft.jsonl, "
        "validation carved from train, test=test_sft.jsonl"
    )
    assert local_data_files(root, splits=ultrachat)[1] == {
        "test_sft": [str(root / "test_sft.jsonl")],
        "train_sft": [str(root / "train_sft.jsonl")],
    }
    assert local_data_files(root)[1] == {
        "train": [str(root / "train_sft.jsonl")],
        "test": [str(root / "test_sft.jsonl")],
    }
