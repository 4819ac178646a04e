"""`lab.inspect` says what `lab.train` says of the same data (acceptance findings s19c F1, F4,
F5, F7, F8): a test file without the label column is refused, the file named, in training's
words; the GLUE folder's unlabeled `test.tsv` is not offered as a split; the classes bare
integers -1, 0, 1 name and a label read without its spaces are said as training says them;
1-based labels are listed as stored, not as the classes training refuses them as."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from lab.data.split_files_named import split_files_line
from lab.errors import DataError
from lab.training.tokenizers import build_tokenizer

SST2_SPLITS = {"train": "train", "validation": None, "test": "validation"}  # conf/data/sst2


def _tsv(path: Path, header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> Path:
    lines = ["\t".join(header)] + ["\t".join(map(str, row)) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def _glue_folder(root: Path) -> Path:
    """GLUE's original SST-2 layout: train.tsv and dev.tsv of `sentence, label`, and a
    test.tsv of `index, sentence` (its labels are not published)."""
    root.mkdir()
    _tsv(root / "train.tsv", ("sentence", "label"), [(f"train {i}", i % 2) for i in range(20)])
    _tsv(root / "dev.tsv", ("sentence", "label"), [(f"dev {i}", i % 2) for i in range(6)])
    _tsv(root / "test.tsv", ("index", "sentence"), [(i, f"test {i}") for i in range(6)])
    return root


def _inspect(compose_cfg: Any, *overrides: str) -> dict[str, Any]:
    from lab.data.inspection import inspect_data

    cfg = compose_cfg("model=tiny_bert", *overrides)
    return inspect_data(cfg, build_tokenizer(cfg))["report"]  # type: ignore[no-any-return]


def _refusals(compose_cfg: Any, *overrides: str) -> tuple[str, str]:
    """(lab.inspect's refusal, the training data module's) of the same data."""
    from lab.build import build_datamodule

    with pytest.raises(DataError) as inspected:
        _inspect(compose_cfg, *overrides)
    cfg = compose_cfg("model=tiny_bert", *overrides)
    with pytest.raises(DataError) as trained:
        build_datamodule(cfg, build_tokenizer(cfg))
    return str(inspected.value), str(trained.value)


# ----------------------------------------------------------------------------- F1
def test_a_test_file_without_the_label_column_is_refused_as_training_refuses_it(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """data=csv reads test.tsv as the test split: lab.inspect used to show its 6 rows and
    exit 0, while lab.train refused it."""
    root = _glue_folder(tmp_path / "sst2")
    inspected, trained = _refusals(
        compose_cfg, "data=csv", f"data.path={root}", "data.text_column=sentence"
    )
    # dev.tsv is labeled: GLUE's practice (test on it, carve validation) comes first
    expected = (
        f"{root / 'test.tsv'}: column 'label' (data.label_column) is not in the test split; "
        "columns present: index, sentence; set data.splits.test=validation "
        f"data.splits.validation=null to test on the labeled validation split ({root / 'dev.tsv'}) "
        "and carve validation from train, as GLUE's results are reported (its test labels are "
        "hidden); or data.splits.test=null to carve a labeled test split from train"
    )
    assert inspected == expected  # lab.inspect's words are training's
    assert trained == expected


def test_a_split_read_without_the_label_column_is_refused_with_its_source_named() -> None:
    """Splits whose files have no header to peek (a Hub dataset, a save_to_disk folder) are
    checked once read: train first, then the others with training's way out."""
    import numpy as np
    from datasets import Dataset

    from lab.data.inspection_columns import require_label_column
    from lab.data.inspection_places import PlacedSplits
    from lab.data.origins import Origin

    labeled = Dataset.from_dict({"text": ["a", "b"], "label": [0, 1]})
    hidden = Dataset.from_dict({"idx": [0, 1], "text": ["c", "d"]})
    places = {"test": (Origin("glue", "hub", split="test"), np.arange(2))}
    splits = PlacedSplits({"train": labeled, "validation": labeled, "test": hidden}, places)
    with pytest.raises(DataError) as caught:
        require_label_column(splits, "label", {"label": "data.label_column"})
    assert str(caught.value) == (
        "glue split test: column 'label' (data.label_column) is not in the test split; columns "
        "present: idx, text; set data.splits.test=null to carve a labeled test split from train"
    )
    # train without it: no split to carve from, so no way out but the column (NER's tags)
    splits = PlacedSplits({"train": hidden, "test": labeled}, {})
    with pytest.raises(DataError) as caught:
        require_label_column(splits, "ner_tags", {"ner_tags": "data.tags_column"})
    assert str(caught.value) == (
        "column 'ner_tags' (data.tags_column) is not in the train split; columns present: idx, text"
    )


# ----------------------------------------------------------------------------- F7
def test_an_unlabeled_test_file_left_out_is_said_to_be_rightly_left_out(tmp_path: Path) -> None:
    """data=sst2 over GLUE's original folder tests on dev.tsv: test.tsv has no labels, so the
    override that would read it as the test split (which training refuses) is not offered,
    and nothing needs doing (a line for train.log, not a warning)."""
    root = _glue_folder(tmp_path / "sst2")
    named = {s: [str(root / f)] for s, f in [("train", "train.tsv"), ("validation", "dev.tsv")]}
    named["test"] = [str(root / "test.tsv")]
    assert split_files_line(root, named, [], SST2_SPLITS) == (
        False,
        f"data.path {root} read as a folder of split files: train=train.tsv, validation carved "
        "from train, test=dev.tsv; not read: test.tsv, without train's column 'label' (no "
        "labels, as in GLUE's test files: rightly left out)",
    )
    # both carved: the labeled dev.tsv keeps its override, which reads it alone
    carved: dict[str, str | None] = {"train": "train", "validation": None, "test": None}
    assert split_files_line(root, named, [], carved) == (
        True,
        f"data.path {root} read as a folder of split files: train=train.tsv, validation carved "
        "from train, test carved from train; not read: dev.tsv (data.splits.validation="
        "validation reads each file as the split it is named after); not read: test.tsv, "
        "without train's column 'label' (no labels, as in GLUE's test files: rightly left out)",
    )


def test_a_pandas_index_column_train_alone_has_is_no_missing_label(tmp_path: Path) -> None:
    """`DataFrame.to_csv` without index=False heads train.csv with an unnamed index column;
    a test.csv written without it lacks no data: the override is still offered."""
    root = tmp_path / "d"
    root.mkdir()
    (root / "train.csv").write_text(",text,label\n0,good,1\n1,bad,0\n")
    (root / "validation.csv").write_text("text,label\nfine,1\n")
    (root / "test.csv").write_text("text,label\nawful,0\n")
    named = {s: [str(root / f"{s}.csv")] for s in ("train", "validation", "test")}
    warn, line = split_files_line(root, named, [], SST2_SPLITS)
    assert warn and line.endswith(
        "not read: test.csv (data.splits.validation=validation data.splits.test=test reads each "
        "file as the split it is named after)"
    )


# ----------------------------------------------------------------------------- F4
def _lab_lines(caplog: pytest.LogCaptureFixture, words: str) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if words in r.getMessage()]


def test_the_classes_bare_integers_name_are_said_once_in_trainings_words(
    compose_cfg: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rows = [{"text": f"row {i}", "label": (-1, 0, 1)[i % 3]} for i in range(30)]
    path = tmp_path / "snli_like.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    with caplog.at_level(logging.INFO, logger="lab"):
        report = _inspect(compose_cfg, "data=json", f"data.path={path}")
    assert _lab_lines(caplog, "do not count from 0") == [
        (
            logging.INFO,
            "labels -1, 0, 1 do not count from 0: they name the classes, in sorted order (ids "
            "0..2); if -1 marks rows without a label (SNLI's), remove those rows from the file",
        )
    ]
    assert list(report["labels"]["counts"]) == ["-1", "0", "1"]  # training's three classes


def test_a_label_read_without_its_spaces_is_said_with_its_train_rows(
    compose_cfg: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Train has 'neg ' in rows 3 and 7 beside 'neg'; the test split's own 'neg ' is read the
    same way but not counted: the count says whose rows it counts."""
    train = [("good film", "pos"), ("bad film", "neg")] * 5
    train[3] = train[7] = ("bad film", "neg ")
    (tmp_path / "train.csv").write_text(
        "text,label\n" + "".join(f"{text} {i},{label}\n" for i, (text, label) in enumerate(train))
    )
    (tmp_path / "validation.csv").write_text("text,label\nfine,pos\nawful,neg\n")
    (tmp_path / "test.csv").write_text("text,label\nnice,pos\nworse,neg \n")
    with caplog.at_level(logging.INFO, logger="lab"):
        report = _inspect(compose_cfg, "data=csv", f"data.path={tmp_path}")
    assert _lab_lines(caplog, "surrounding spaces") == [
        (logging.WARNING, "label 'neg ' read as 'neg' (surrounding spaces removed, 2 train rows)")
    ]
    assert report["labels"]["counts"] == {"neg": 5, "pos": 5}


# ----------------------------------------------------------------------------- F5
def test_one_based_labels_are_listed_as_stored_not_as_the_classes_training_refuses(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """Stars 1..3 under 3 names: read as ids, the table said 'bad' 0 rows, 'ok' = the rows
    of 1, 'good' = the rows of 2, and left out the 3s. Listed as stored instead, without
    weights (training refuses them), and no imbalance advice."""
    counts = {"train": (6, 3, 1), "validation": (1, 1, 1), "test": (1, 1, 1)}
    for split, (ones, twos, threes) in counts.items():
        labels = [1] * ones + [2] * twos + [3] * threes
        lines = [f"{split} review {i},{label}" for i, label in enumerate(labels)]
        (tmp_path / f"{split}.csv").write_text("text,label\n" + "\n".join(lines) + "\n")
    report = _inspect(
        compose_cfg, "data=csv", f"data.path={tmp_path}", "data.label_names=[bad,ok,good]"
    )
    labels = report["labels"]
    assert labels["counts"] == {"1": 6, "2": 3, "3": 1}
    assert labels["shares"] == {"1": 0.6, "2": 0.3, "3": 0.1}
    assert labels["class_weights"] == {"1": None, "2": None, "3": None}
    assert labels["refused"] == "labels 1..3 look 1-based"
    assert not [w for w in report["warnings"] if "imbalanced" in w]  # 6x, but refused
    assert "train: 1 row has label 3; lab.train refuses it: label 3 is outside" in "\n".join(
        report["warnings"]
    )
    from lab.inspect_labels import print_label_table

    console = Console(width=100, record=True)
    print_label_table(report, console)
    shown = console.export_text()
    title = " ".join(shown.split("┏")[0].split())  # rich wraps a title to the table's width
    assert title == (
        "train labels as stored (lab.train refuses them: labels 1..3 look 1-based); "
        "validation, test: rows per label"
    )
    assert [line.split("│")[1].strip() for line in shown.splitlines() if "│" in line] == [
        "1",
        "2",
        "3",
    ]


# ----------------------------------------------------------------------------- F8
def test_a_split_file_without_the_text_column_is_named(compose_cfg: Any, tmp_path: Path) -> None:
    (tmp_path / "train.jsonl").write_text(
        "".join(json.dumps({"text": f"t {i}", "label": i % 2}) + "\n" for i in range(20))
    )
    (tmp_path / "test.jsonl").write_text(json.dumps({"sentence": "s", "label": 0}) + "\n")
    inspected, trained = _refusals(compose_cfg, "data=json", f"data.path={tmp_path}")
    expected = (
        f"{tmp_path / 'test.jsonl'}: column 'text' (data.text_column) is not in the test split; "
        "columns present: sentence, label"
    )
    assert inspected == expected  # lab.inspect's words are training's
    assert trained == expected


def test_a_json_array_split_without_the_text_column_is_named_once_read(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """A JSON array (`records` orient) has no first line to peek: the split is checked once
    read, and named by its file as training names it."""
    rows = [{"text": f"t {i}", "label": i % 2} for i in range(20)]
    (tmp_path / "train.json").write_text(json.dumps(rows))
    (tmp_path / "test.json").write_text(json.dumps([{"sentence": "s", "label": 0}]))
    inspected, trained = _refusals(compose_cfg, "data=json", f"data.path={tmp_path}")
    expected = (
        f"{tmp_path / 'test.json'}: column 'text' (data.text_column) is not in the test split; "
        "columns present: sentence, label"
    )
    assert inspected == expected  # lab.inspect's words are training's
    assert trained == expected
