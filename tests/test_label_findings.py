"""Text classification labels as files store them: integer labels written as floats, empty
label cells, booleans, string labels with stray spaces, hidden (-1) labels of a regression
split or of train, 1-based stars under 0-based names, a test split without labels, a number
in a text column. Each is read as the classes it means, or refused in one line naming the row.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from lab.data.label_names import as_integer, integer_label_names
from lab.errors import DataError
from lab.training.tokenizers import build_tokenizer


def _setup(compose_cfg: Any, path: Path, *overrides: str) -> Any:
    """The text-classification data module of `path` (checked and tokenized, as `setup`
    leaves it)."""
    from lab.build import build_datamodule

    data = "data=json" if path.suffix == ".jsonl" else "data=csv"
    cfg = compose_cfg("model=tiny_bert", data, f"data.path={path}", *overrides)
    return build_datamodule(cfg, build_tokenizer(cfg))


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def _all_labels(datamodule: Any) -> list[Any]:
    return [v for split in datamodule.datasets.values() for v in split["labels"]]


# ---------------------------------------------------------------- F9: floats and empty cells
def test_whole_number_floats_are_the_integers_they_are() -> None:
    assert integer_label_names([0.0, 1.0, None, float("nan"), 1.0], None) == (["0", "1"], None)
    assert integer_label_names([1.0, 3.0, 2.0], None) == (["1", "2", "3"], {1: 0, 2: 1, 3: 2})


def test_a_lone_class_gets_no_line_about_counting_from_zero(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """s26c M6: a train split carving left with class 1 alone was told its labels "do not
    count from 0" (the file's did); the one-class refusal that follows says what is wrong."""
    with caplog.at_level(logging.INFO, logger="lab.data.label_names"):
        assert integer_label_names([1, 1], None) == (["1"], {1: 0})
        assert not caplog.records
        integer_label_names([1, 2], None)
    assert [r.getMessage() for r in caplog.records] == [
        "labels 1, 2 do not count from 0: they name the classes, in sorted order (ids 0..1)"
    ]


def test_one_reading_of_integer_labels_for_the_data_layer_and_the_head() -> None:
    """`as_integer` is the rule both `integer_label_names` and the head's checks use."""
    from lab.tasks.text_classification import label_values

    assert label_values.as_integer is as_integer
    read = [as_integer(v) for v in (1.0, -1.0, True, False, 3, 0.5, "1", None)]
    assert read == [1, -1, 1, 0, 3, 0.5, "1", None]
    assert [type(v) for v in read[:5]] == [int] * 5
    nan = as_integer(float("nan"))
    assert isinstance(nan, float) and nan != nan
    assert label_values.integer_values([2.0, True, 0.5, None, "x", float("nan")]) == [2, 1]


def test_float_labels_train_as_integer_classes(compose_cfg: Any, tmp_path: Path) -> None:
    """`DataFrame.to_json` writes a float column of 0/1 as 0.0/1.0."""
    rows = [{"text": f"film {i}", "label": float(i % 2)} for i in range(40)]
    datamodule = _setup(compose_cfg, _jsonl(tmp_path / "reviews.jsonl", rows))
    assert datamodule.model_kwargs()["id2label"] == {0: "0", 1: "1"}
    labels = _all_labels(datamodule)
    assert set(labels) == {0, 1} and all(type(v) is int for v in labels)


@pytest.mark.parametrize("names", [[], ["data.label_names=[neg,pos]"]], ids=["ids", "named"])
def test_an_empty_label_cell_is_named_at_its_line(
    compose_cfg: Any, tmp_path: Path, names: list[str]
) -> None:
    """pandas reads 0/1 with one empty cell as 0.0/1.0/NaN: the empty cell is the error, at
    its line (header = line 1), with or without label names."""
    lines = ["text,label"] + [f"film {i},{'' if i == 18 else i % 2}" for i in range(60)]
    path = tmp_path / "reviews.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as caught:
        _setup(compose_cfg, path, *names)
    assert str(caught.value) == f"{path}:20 column 'label': the cell is empty"


def test_a_fractional_label_is_refused_at_its_line(compose_cfg: Any, tmp_path: Path) -> None:
    rows = [{"text": f"film {i}", "label": float(i % 2)} for i in range(40)]
    rows[12]["label"] = 0.5
    path = _jsonl(tmp_path / "reviews.jsonl", rows)
    with pytest.raises(DataError) as caught:
        _setup(compose_cfg, path)
    assert str(caught.value) == (
        f"{path}:13 column 'label': label 0.5 is not a class id (a whole number) or name; "
        "for a number per row set data.problem_type=regression"
    )


# ---------------------------------------------------------------- F15: booleans
def test_boolean_labels_are_the_classes_false_and_true(compose_cfg: Any, tmp_path: Path) -> None:
    rows = [{"text": f"film {i}", "label": i % 3 == 0} for i in range(40)]
    datamodule = _setup(compose_cfg, _jsonl(tmp_path / "flags.jsonl", rows))
    assert datamodule.model_kwargs()["id2label"] == {0: "False", 1: "True"}
    assert datamodule.model_kwargs()["label2id"] == {"False": 0, "True": 1}
    labels = _all_labels(datamodule)
    assert set(labels) == {0, 1} and all(type(v) is int for v in labels)  # not torch.bool
    train = datamodule.datasets["train"]
    assert train.features["labels"].dtype == "int64"


def test_boolean_labels_under_configured_names_are_ids(compose_cfg: Any, tmp_path: Path) -> None:
    rows = [{"text": f"film {i}", "label": i % 2 == 1} for i in range(40)]
    datamodule = _setup(
        compose_cfg, _jsonl(tmp_path / "flags.jsonl", rows), "data.label_names=[no,yes]"
    )
    assert datamodule.model_kwargs()["id2label"] == {0: "no", 1: "yes"}
    assert datamodule.datasets["train"].features["labels"].dtype == "int64"
    # a tokenization cache holding the bool targets of before is not reused
    assert "boolean labels as ids" in datamodule.fingerprint_parts()


# ---------------------------------------------------------------- F16: surrounding spaces
def test_string_labels_lose_surrounding_spaces_and_say_so(
    compose_cfg: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    train = ["text,label"] + [
        f"film {i},{'neg ' if i in (5, 9) else ('pos', 'neg')[i % 2]}" for i in range(40)
    ]
    (tmp_path / "train.csv").write_text("\n".join(train) + "\n")
    # another split's own spelling of a class is read the same way
    (tmp_path / "test.csv").write_text("text,label\ngood, pos\nbad,neg  \n")
    with caplog.at_level(logging.INFO):
        datamodule = _setup(compose_cfg, tmp_path)
    assert datamodule.model_kwargs()["id2label"] == {0: "neg", 1: "pos"}
    assert datamodule.datasets["test"]["labels"] == [1, 0]
    assert "label 'neg ' read as 'neg' (surrounding spaces removed, 2 train rows)" in caplog.text
    merged = [r for r in caplog.records if "surrounding spaces removed" in r.getMessage()]
    assert [r.levelno for r in merged] == [logging.WARNING]


def test_whole_numbers_written_as_text_are_classes_in_number_order(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """Ratings 1..10 as JSON strings name the classes in the order the same integers would
    ("2" before "10"), not the text's ("10" before "2")."""
    stars = [str(s) for s in (10, 2, 1, 9, 3, 4, 5, 6, 7, 8)]
    for split in ("train", "validation", "test"):
        _jsonl(tmp_path / f"{split}.jsonl", [{"text": f"film {s}", "label": s} for s in stars])
    datamodule = _setup(compose_cfg, tmp_path / "train.jsonl", f"data.path={tmp_path}")
    assert datamodule.model_kwargs()["id2label"] == {i: str(i + 1) for i in range(10)}
    assert datamodule.datasets["test"]["labels"] == [int(s) - 1 for s in stars]


def test_a_blank_string_label_is_an_empty_cell(compose_cfg: Any, tmp_path: Path) -> None:
    rows = [{"text": f"film {i}", "label": ("neg", "pos")[i % 2]} for i in range(40)]
    rows[7]["label"] = "  "
    path = _jsonl(tmp_path / "reviews.jsonl", rows)
    with pytest.raises(DataError) as caught:
        _setup(compose_cfg, path)
    assert str(caught.value) == f"{path}:8 column 'label': the cell is empty"


# ---------------------------------------------------------------- F7: hidden regression labels
def _pairs(path: Path, scores: list[float]) -> None:
    lines = ["sentence1,sentence2,label"] + [f"a {i},b {i},{s}" for i, s in enumerate(scores)]
    path.write_text("\n".join(lines) + "\n")


def test_a_regression_split_of_only_minus_one_is_hidden(compose_cfg: Any, tmp_path: Path) -> None:
    """STS-B's test split on the Hub scores every pair -1.0."""
    _pairs(tmp_path / "train.csv", [i / 8 for i in range(40)])
    _pairs(tmp_path / "test.csv", [-1.0] * 6)
    with pytest.raises(DataError) as caught:
        _setup(compose_cfg, tmp_path, "data=stsb", "data.splits.test=test")
    assert str(caught.value) == (
        f"{tmp_path / 'test.csv'} column 'label': every label is -1, which marks a hidden "
        "label (unlabeled rows, as in GLUE's test splits) that cannot be trained on or scored; "
        "map lab's test split to a labeled one (data.splits.test=...) or null to carve it "
        "from train"
    )


def test_negative_regression_targets_are_kept(compose_cfg: Any, tmp_path: Path) -> None:
    _pairs(tmp_path / "train.csv", [i / 8 - 2 for i in range(40)])
    _pairs(tmp_path / "test.csv", [-1.0, -1.0, -0.5, -1.0])
    datamodule = _setup(compose_cfg, tmp_path, "data=stsb", "data.splits.test=test")
    assert datamodule.datasets["test"]["labels"] == [-1.0, -1.0, -0.5, -1.0]


# ---------------------------------------------------------------- F6: hidden train labels
def test_hidden_train_labels_are_to_be_removed(compose_cfg: Any, tmp_path: Path) -> None:
    """SNLI's train split has rows without a gold label (-1): not 'carve it from train'."""
    from datasets import ClassLabel, Dataset, Features, Value

    features = Features({"text": Value("string"), "label": ClassLabel(names=["no", "yes"])})
    for split, size in (("train", 40), ("validation", 6), ("test", 6)):
        labels = [i % 2 for i in range(size)]
        if split == "train":
            labels[5] = labels[17] = -1
        rows = {"text": [f"{split} {i}" for i in range(size)], "label": labels}
        Dataset.from_dict(rows, features=features).to_parquet(tmp_path / f"{split}.parquet")
    with pytest.raises(DataError) as caught:
        _setup(compose_cfg, tmp_path, "data=json")
    assert str(caught.value) == (
        f"{tmp_path / 'train.parquet'} row 6 (1-based) column 'label': label -1 marks a hidden "
        "label (unlabeled rows, as in GLUE's test splits) that cannot be trained on or scored; "
        "2 train rows have label -1 (no gold label), and lab trains only on labeled rows: "
        "data.drop_labels=[-1] leaves out the rows without a gold label (SNLI's) (or "
        "remove them from the file)"
    )


def test_hidden_labels_of_a_carved_split_are_removed_from_the_train_file(
    compose_cfg: Any, tmp_path: Path
) -> None:
    lines = ["text,label"] + [f"film {i},{-1 if i in (3, 30) else i % 2}" for i in range(60)]
    path = tmp_path / "reviews.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as caught:
        _setup(compose_cfg, path, "data.num_labels=2")
    message = str(caught.value)
    assert message.startswith(f"{path}:5 column 'label': label -1 marks a hidden label")
    assert message.endswith(
        "lab trains only on labeled rows: data.drop_labels=[-1] leaves out the rows without a "
        "gold label (SNLI's) (or remove them from the train file)"
    )


# ---------------------------------------------------------------- F8: 1-based labels
def test_one_based_labels_under_label_names_say_so(compose_cfg: Any, tmp_path: Path) -> None:
    """Yelp's original CSV: stars 1..5 where the preset's names are for ids 0..4."""
    lines = ["text,label"] + [f"review {i},{i % 3 + 1}" for i in range(30)]
    path = tmp_path / "stars.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as caught:
        _setup(compose_cfg, path, "data.label_names=[bad,ok,good]")
    assert str(caught.value) == (
        f"{path}:4 column 'label': label 3 is outside num_labels=3 (valid: 0..2); labels 1..3 "
        "look 1-based; data.label_names lists 3 names for ids 0..2: shift the labels by -1, or "
        "set data.label_names=null to use the values as names"
    )


def test_labels_beyond_the_names_get_no_one_based_advice(compose_cfg: Any, tmp_path: Path) -> None:
    """0..3 under three names: not 1-based; the names given are what to extend (s30b F5)."""
    lines = ["text,label"] + [f"review {i},{i % 4}" for i in range(30)]
    path = tmp_path / "stars.csv"
    path.write_text("\n".join(lines) + "\n")
    advice = r"data\.label_names lists 3: fix the data, or list every class there$"
    with pytest.raises(DataError, match=advice):
        _setup(compose_cfg, path, "data.label_names=[bad,ok,good]")


def _class_zero_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "class 0 (" in r.getMessage()]


def test_labels_one_to_k_minus_one_under_k_names_warn_once(
    compose_cfg: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Stars 1..3 under 3 names with 3 absent from train look like ids 1..2 (no class 0):
    trained as is, with a warning that says so and how to fix 1-based labels."""
    lines = ["text,label"] + [f"review {i},{i % 2 + 1}" for i in range(30)]
    path = tmp_path / "stars.csv"
    path.write_text("\n".join(lines) + "\n")
    with caplog.at_level(logging.WARNING):
        datamodule = _setup(compose_cfg, path, "data.label_names=[bad,ok,good]")
    assert set(_all_labels(datamodule)) == {1, 2}  # read as ids: trained as is
    assert [r.levelno for r in _class_zero_warnings(caplog)] == [logging.WARNING]
    assert _class_zero_warnings(caplog)[0].getMessage() == (
        "class 0 ('bad') has no row in the train split, whose labels lie in 1..2 while "
        "data.label_names lists 3 names for ids 0..2: a subsample that missed class 0 trains as "
        "is; if the labels are 1-based (1..3, 3 absent from train), shift the labels by -1, or "
        "set data.label_names=null to use the values as names"
    )


def test_class_zero_present_or_booleans_do_not_warn(
    compose_cfg: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    lines = ["text,label"] + [f"review {i},{i % 3}" for i in range(30)]
    path = tmp_path / "stars.csv"
    path.write_text("\n".join(lines) + "\n")
    flags = [{"text": f"film {i}", "label": True} for i in range(40)]
    with caplog.at_level(logging.WARNING):
        datamodule = _setup(compose_cfg, path, "data.label_names=[bad,ok,good]")
        _setup(compose_cfg, _jsonl(tmp_path / "flags.jsonl", flags), "data.label_names=[no,yes]")
    assert set(_all_labels(datamodule)) == {0, 1, 2}
    assert _class_zero_warnings(caplog) == []


def test_a_class_label_column_without_class_zero_warns(
    compose_cfg: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The ClassLabel's names, no data.label_names: the fix is the shift alone."""
    from datasets import ClassLabel, Dataset, Features, Value

    features = Features({"text": Value("string"), "label": ClassLabel(names=["neg", "pos"])})
    for split, size in (("train", 40), ("validation", 6), ("test", 6)):
        labels = [1] * size if split == "train" else [i % 2 for i in range(size)]
        rows = {"text": [f"{split} {i}" for i in range(size)], "label": labels}
        Dataset.from_dict(rows, features=features).to_parquet(tmp_path / f"{split}.parquet")
    with caplog.at_level(logging.WARNING):
        _setup(compose_cfg, tmp_path, "data=json")
    assert [r.getMessage() for r in _class_zero_warnings(caplog)] == [
        "class 0 ('neg') has no row in the train split, whose labels are all 1 while column "
        "'label''s ClassLabel lists 2 names for ids 0..1: a subsample that missed class 0 "
        "trains as is; if the labels are 1-based (1..2, 2 absent from train), shift the labels "
        "by -1"
    ]


# ---------------------------------------------------------------- F12 / F14: columns
def test_a_test_split_without_labels_says_how_to_carve_one(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """Kaggle's test.csv of id,text."""
    train = ["text,label"] + [f"film {i},{i % 2}" for i in range(30)]
    (tmp_path / "train.csv").write_text("\n".join(train) + "\n")
    (tmp_path / "test.csv").write_text("id,text\n1,good\n2,bad\n")
    with pytest.raises(DataError) as caught:
        _setup(compose_cfg, tmp_path)
    assert str(caught.value) == (
        f"{tmp_path / 'test.csv'}: column 'label' (data.label_column) is not in the test split; "
        "columns present: id, text; set data.splits.test=null to carve a labeled test split "
        "from train"
    )


def test_a_number_among_texts_is_named_at_its_line(compose_cfg: Any, tmp_path: Path) -> None:
    """`datasets` reads a column of mixed types as Json(decode=True)."""
    rows: list[dict[str, Any]] = [{"text": f"film {i}", "label": i % 2} for i in range(40)]
    rows[7]["text"] = 12345
    path = _jsonl(tmp_path / "reviews.jsonl", rows)
    with pytest.raises(DataError) as caught:
        _setup(compose_cfg, path)
    assert str(caught.value) == f"{path}:8 column 'text': 12345 is a number, not text"


def test_a_carved_split_of_a_mixed_type_file_holding_text_only_passes(tmp_path: Path) -> None:
    """s34b M2: the rows a validation split took from such a file are all text; lab.inspect
    said "holds Json(decode=True) values, not text" of it, naming no row."""
    from datasets import load_dataset

    from lab.tasks.text_classification.text_column import non_text

    rows: list[dict[str, Any]] = [{"text": f"film {i}", "label": i % 2} for i in range(10)]
    rows[3]["text"] = 12345
    table = load_dataset("json", data_files=str(_jsonl(tmp_path / "r.jsonl", rows)))["train"]
    assert getattr(table.features["text"], "dtype", None) is None  # the Json feature
    assert non_text(table, "text") == (3, "12345 is a number, not text")
    assert non_text(table.select([0, 1, 2, 4, 5]), "text") is None


def test_truncation_side_left_keeps_the_last_tokens(compose_cfg: Any, tmp_path: Path) -> None:
    """`data.truncation_side=left` keeps each text's last `max_length` tokens (right, the
    default, its first; the tokenization cache tells them apart), and the tokenizer the run
    exports cuts the same way."""
    from lab.build import build_datamodule

    words = " ".join(f"w{i}" for i in range(40))
    rows = [{"text": f"start {words} end", "label": i % 2} for i in range(12)]
    path = tmp_path / "long.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    kept = {}
    for side in ("right", "left"):
        cfg = compose_cfg(
            "model=tiny_bert",
            "data=json",
            f"data.path={path}",
            "data.max_length=8",
            f"data.truncation_side={side}",
        )
        tokenizer = build_tokenizer(cfg)
        datamodule = build_datamodule(cfg, tokenizer)
        datamodule.setup("fit")
        ids = datamodule.datasets["train"][0]["input_ids"]
        kept[side] = tokenizer.decode(ids, skip_special_tokens=True)
        assert len(ids) == 8 and tokenizer.truncation_side == side
    assert kept["right"].startswith("start") and "end" not in kept["right"]
    assert kept["left"].endswith("end") and "start" not in kept["left"]


# ---------------------------------------------------------------- lab.inspect and lab.eval
def _stars(tmp_path: Path, top: int) -> Path:
    """A folder of train/validation/test CSVs whose labels cycle through 1..`top`."""
    for split, size in (("train", 30), ("validation", 6), ("test", 6)):
        lines = ["text,label"] + [f"{split} review {i},{i % top + 1}" for i in range(size)]
        (tmp_path / f"{split}.csv").write_text("\n".join(lines) + "\n")
    return tmp_path


def _inspected(compose_cfg: Any, folder: Path, *overrides: str) -> dict[str, Any]:
    from lab.data.inspection import inspect_data

    cfg = compose_cfg("model=tiny_bert", "data=csv", f"data.path={folder}", *overrides)
    report: dict[str, Any] = inspect_data(cfg, build_tokenizer(cfg))["report"]
    return report


def _label_warnings(report: dict[str, Any]) -> list[str]:
    """The report's warnings about labels (the fixture's words are unknown tokens too)."""
    return [w for w in report["warnings"] if "class 0" in w or "label" in w]


def test_inspect_warns_of_one_based_labels_in_trainings_words(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """Labels 1..3 under 3 names: the refusal of lab.train, word for word, as a warning of
    each split; the table lists the labels as stored (1, 2, 3), not as the classes training
    refuses them as (class 0 without rows, every row one class up, the 3s left out)."""
    folder = _stars(tmp_path, 3)
    with pytest.raises(DataError) as caught:
        _setup(compose_cfg, folder, "data.label_names=[bad,ok,good]")
    refused = str(caught.value).split(": ", 1)[1]  # after "<file>:<line> column 'label'"
    assert refused == (
        "label 3 is outside num_labels=3 (valid: 0..2); labels 1..3 look 1-based; "
        "data.label_names lists 3 names for ids 0..2: shift the labels by -1, or set "
        "data.label_names=null to use the values as names"
    )
    report = _inspected(compose_cfg, folder, "data.label_names=[bad,ok,good]")
    assert _label_warnings(report) == [
        f"train: 10 rows have label 3; lab.train refuses it: {refused}",
        f"validation: 2 rows have label 3; lab.train refuses it: {refused}",
        f"test: 2 rows have label 3; lab.train refuses it: {refused}",
    ]
    labels = report["labels"]
    # as stored, marked refused: no weights to advise (tests/test_inspect_agrees_with_train.py)
    assert labels["counts"] == {"1": 10, "2": 10, "3": 10}
    assert labels["class_weights"] == {"1": None, "2": None, "3": None}
    assert labels["refused"] == "labels 1..3 look 1-based"
    assert "imbalance_ratio" not in labels


def test_inspect_warns_of_class_zero_in_trainings_words(
    compose_cfg: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Labels 1..2 under 3 names: training's one warning, the same words in lab.inspect, and
    class 0 in the table with 0 rows (no weight: class_weights=balanced refuses it)."""
    folder = _stars(tmp_path, 2)
    with caplog.at_level(logging.WARNING):
        _setup(compose_cfg, folder, "data.label_names=[bad,ok,good]")
    (training,) = [r.getMessage() for r in _class_zero_warnings(caplog)]
    report = _inspected(compose_cfg, folder, "data.label_names=[bad,ok,good]")
    assert _label_warnings(report) == [training]
    assert training.startswith("class 0 ('bad') has no row in the train split, whose labels")
    assert report["labels"]["counts"] == {"bad": 0, "ok": 15, "good": 15}
    assert report["labels"]["class_weights"] == {
        "bad": None,
        "ok": pytest.approx(30 / 45),
        "good": pytest.approx(30 / 45),
    }


def test_inspect_is_quiet_about_labels_training_takes(compose_cfg: Any, tmp_path: Path) -> None:
    """Ids 0..2 under 3 names (the same files shifted by -1): no label warning."""
    for split, size in (("train", 30), ("validation", 6), ("test", 6)):
        lines = ["text,label"] + [f"{split} review {i},{i % 3}" for i in range(size)]
        (tmp_path / f"{split}.csv").write_text("\n".join(lines) + "\n")
    report = _inspected(compose_cfg, tmp_path, "data.label_names=[bad,ok,good]")
    assert _label_warnings(report) == []
    assert report["labels"]["counts"] == {"bad": 10, "ok": 10, "good": 10}


def _evaluating(datamodule: Any) -> None:
    from lab.data.datamodule import Evaluation

    datamodule.evaluation = Evaluation("test", "choose another with split=<name>")


def test_eval_advises_only_the_shift_for_one_based_labels(compose_cfg: Any, tmp_path: Path) -> None:
    """lab.eval pins the model's class names: data.label_names=null cannot help there."""
    from lab.build import build_datamodule

    folder = _stars(tmp_path, 3)
    cfg = compose_cfg(
        "model=tiny_bert", "data=csv", f"data.path={folder}", "data.label_names=[bad,ok,good]"
    )
    with pytest.raises(DataError) as caught:
        build_datamodule(cfg, build_tokenizer(cfg), before_setup=_evaluating)
    assert str(caught.value) == (
        f"{folder / 'train.csv'}:4 column 'label': label 3 is outside num_labels=3 (valid: 0..2); "
        "labels 1..3 look 1-based; the model was trained with 3 class names for ids 0..2: "
        "shift the labels by -1 (lab.eval keeps the trained model's class names)"
    )
    assert "label_names=null" not in str(caught.value)


def test_eval_words_class_zero_for_the_split_evaluated(
    compose_cfg: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from lab.build import build_datamodule

    folder = _stars(tmp_path, 2)
    cfg = compose_cfg(
        "model=tiny_bert", "data=csv", f"data.path={folder}", "data.label_names=[bad,ok,good]"
    )
    with caplog.at_level(logging.WARNING):
        build_datamodule(cfg, build_tokenizer(cfg), before_setup=_evaluating)
    assert [r.getMessage() for r in _class_zero_warnings(caplog)] == [
        "class 0 ('bad') has no row in the test split, whose labels lie in 1..2 while the model "
        "was trained with 3 class names for ids 0..2: a split without class 0 is scored as is; "
        "if the labels are 1-based (1..3, 3 absent from test), shift the labels by -1 (lab.eval "
        "keeps the trained model's class names)"
    ]


# ---------------------------------------------------------------- s17c M5, M6: regression cells
def _scores(path: Path, cells: list[str]) -> Path:
    path.write_text(
        "\n".join(["text,label"] + [f"film {i},{c}" for i, c in enumerate(cells)]) + "\n"
    )
    return path


@pytest.mark.parametrize("row", [3, 30, 57])
def test_the_text_cell_of_a_regression_file_is_named_whichever_split_it_went_to(
    compose_cfg: Any, tmp_path: Path, row: int
) -> None:
    """One word among the scores makes the CSV reader read the whole column as text; every
    split carved from the file then holds numbers as text, and the row named is the word's
    (not the first row of train, whose '0.6' only stands for the column)."""
    cells = [f"{(i % 5) / 5}" for i in range(60)]
    cells[row] = "high"
    path = _scores(tmp_path / "scores.csv", cells)
    with pytest.raises(DataError) as caught:
        _setup(compose_cfg, path, "data.problem_type=regression", "task=text_regression")
    assert str(caught.value).startswith(
        f"{path}:{row + 2} column 'label': regression label 'high' is not a number"
    )


def test_scores_stored_as_text_name_the_first_row(compose_cfg: Any, tmp_path: Path) -> None:
    """Where every cell reads as a number but is text (JSON strings), the first row stands
    for the column, with the advice to store numbers."""
    path = _jsonl(tmp_path / "scores.jsonl", [{"text": f"t{i}", "label": "0.5"} for i in range(40)])
    with pytest.raises(DataError) as caught:
        _setup(compose_cfg, path, "data.problem_type=regression", "task=text_regression")
    assert str(caught.value) == (
        f"{path}:1 column 'label': regression label '0.5' is text; store the scores as numbers"
    )


@pytest.mark.parametrize("cell", ["inf", "-inf"])
def test_an_infinite_regression_target_is_refused_at_its_line(
    compose_cfg: Any, tmp_path: Path, cell: str
) -> None:
    """An infinite score would make every loss and metric NaN (and the divergence warning
    blame the learning rate): refused as a missing one is."""
    cells = [f"{(i % 5) / 5}" for i in range(60)]
    cells[20] = cell
    path = _scores(tmp_path / "scores.csv", cells)
    with pytest.raises(DataError) as caught:
        _setup(compose_cfg, path, "data.problem_type=regression", "task=text_regression")
    assert str(caught.value) == (
        f"{path}:22 column 'label': regression label {float(cell)} is not a finite number"
    )


def test_a_word_among_a_csvs_number_labels_is_named(compose_cfg: Any, tmp_path: Path) -> None:
    """A CSV's 0s and 1s with one "positive": its reader makes the column text, which read as
    three classes ('0', '1', 'positive') without a word; the mix is refused as a JSON file's
    is, at the word's line."""
    labels = ["0", "1"] * 20
    labels[13] = "positive"
    path = tmp_path / "reviews.csv"
    path.write_text(
        "\n".join(["text,label"] + [f"film {i},{v}" for i, v in enumerate(labels)]) + "\n"
    )
    with pytest.raises(DataError) as caught:
        _setup(compose_cfg, path)
    assert str(caught.value) == (
        f"{path}:15 column 'label': label 'positive' is text among labels of numbers ('0', "
        "'1', ...): write every label as numbers"
    )


def test_the_advice_for_a_label_outside_the_classes_is_one_that_can_be_followed() -> None:
    """s30b F5: under a preset's `data.label_names` (RTE's two), "set data.num_labels" was
    refused when followed (`data.num_labels=3 but data.label_names has 2 names`)."""
    from lab.tasks.text_classification.label_values import outside_classes

    start = "label 2 is outside num_labels=2 (valid: 0..1); "
    assert outside_classes(2, 2, one_based=False) == start + "fix the data or set data.num_labels"
    assert outside_classes(2, 2, one_based=False, configured=True) == (
        start + "data.label_names lists 2: fix the data, or list every class there"
    )
    assert outside_classes(2, 2, one_based=False, evaluating=True) == (
        start + "the model was trained with 2 classes: fix the data"
    )


def test_a_stream_without_class_zero_at_its_head_says_how_to_mix_it() -> None:
    """s30e F6: IMDB's files list every positive review first, so a stream's first rows hold
    one class; the warning says the shuffle buffer mixes them, beside the 1-based reading."""
    from lab.tasks.text_classification.label_values import class_zero_unused

    split = "the first 1000 rows of the streamed train split"
    line = class_zero_unused(
        [1], ["neg", "pos"], lister="data.label_names", column="label", split=split
    )
    assert line is not None and line.startswith(
        f"class 0 ('neg') has no row in {split}, whose labels are all 1 while data.label_names "
        "lists 2 names for ids 0..1: the stream (a file sorted by label streams one class first: "
        "a data.shuffle_buffer above its longest run of one class mixes them) trains as is; "
    )
