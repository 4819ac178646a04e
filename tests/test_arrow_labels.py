"""Label-column checks read with Arrow compute (`lab.tasks.text_classification.arrow_labels`):
the same answers as reading each label in Python (the rule they replace), for every column
type a label may have, and for the rows a `select` left."""

from __future__ import annotations

from typing import Any

import pytest
from datasets import ClassLabel, Dataset, Features, Value

from lab.errors import DataError
from lab.tasks.text_classification.arrow_labels import (
    all_numbers,
    distinct_labels,
    label_array,
    minus_one_rows,
)
from lab.tasks.text_classification.data import TextClassificationDataModule


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    from transformers import AutoTokenizer

    from lab.config.paths import package_path

    return AutoTokenizer.from_pretrained(package_path("lab", "assets/tiny_bert"))


def _split(labels: list[Any], features: Features | None = None) -> Dataset:
    texts = [f"pair {i}" for i in range(len(labels))]
    return Dataset.from_dict({"text": texts, "label": labels}, features=features)


def _python_every_minus_one(dataset: Dataset) -> bool:
    """The rule the Arrow check replaced, verbatim."""
    labels = dataset["label"]
    return bool(labels) and all(value == -1 for value in labels)


# ---------------------------------------------------------------- regression: every label -1
@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ([-1.0, -1.0, -1.0, -1.0], True),  # STS-B's test split
        ([-1.0, 0.5, -1.0, 4.2], False),  # -1 among real scores
        ([0.5, 1.0, 2.25, 5.0], False),
        ([-1, -1, -1], True),  # an integer column
        ([-1, 3, -1], False),
        ([2, 3, 4], False),
    ],
    ids=["float-all", "float-some", "float-none", "int-all", "int-some", "int-none"],
)
def test_every_label_minus_one_as_python_says(
    tokenizer: Any, labels: list[Any], expected: bool
) -> None:
    data = TextClassificationDataModule(tokenizer, problem_type="regression")
    dataset = _split(labels)
    values = label_array(dataset, "label")
    assert data._every_label_minus_one(dataset, values) is expected
    assert _python_every_minus_one(dataset) is expected
    assert minus_one_rows(values) == (-1, labels.count(-1))
    assert all_numbers(values)


def test_every_label_minus_one_edge_columns(tokenizer: Any) -> None:
    data = TextClassificationDataModule(tokenizer, problem_type="regression")
    empty = _split([-1.0]).select([])
    assert not data._every_label_minus_one(empty, label_array(empty, "label"))
    # the rows a select left, not the table underneath
    kept = _split([-1.0, 2.0, -1.0]).select([0, 2])
    assert data._every_label_minus_one(kept, label_array(kept, "label"))
    dropped = _split([-1.0, 2.0, -1.0]).select([1, 2])
    assert not data._every_label_minus_one(dropped, label_array(dropped, "label"))
    flags = _split([True, True])  # booleans are not -1 (True == -1 is False in Python too)
    assert minus_one_rows(label_array(flags, "label")) == (-1, 0)
    assert not data._every_label_minus_one(flags, label_array(flags, "label"))


def test_a_mixed_column_is_read_in_python(tokenizer: Any, tmp_path: Any) -> None:
    """`datasets` reads a JSON column of numbers and booleans as Json: Arrow cannot say."""
    from datasets import load_dataset

    path = tmp_path / "mixed.jsonl"
    path.write_text('{"text": "a", "label": -1}\n{"text": "b", "label": -1.0}\n')
    mixed = load_dataset("json", data_files=str(path), split="train")
    path.write_text('{"text": "a", "label": -1}\n{"text": "b", "label": true}\n')
    other = load_dataset("json", data_files=str(path), split="train")
    assert minus_one_rows(label_array(other, "label")) is None
    data = TextClassificationDataModule(tokenizer, problem_type="regression")
    assert not data._every_label_minus_one(other, label_array(other, "label"))
    assert data._every_label_minus_one(mixed, label_array(mixed, "label")) is (
        _python_every_minus_one(mixed)
    )
    assert _python_every_minus_one(mixed)


def test_a_label_that_is_no_number_is_still_named_at_its_row(tokenizer: Any) -> None:
    """The Arrow pass only says "all fine"; a NaN or empty score is found row by row."""
    data = TextClassificationDataModule(tokenizer, problem_type="regression")
    for labels, row in (([0.5, float("nan"), 1.0], 2), ([0.5, 1.0, None], 3)):
        dataset = _split(labels)
        assert not all_numbers(label_array(dataset, "label"))
        missing = rf"row {row} \(1-based\) column 'label': the regression label is missing"
        with pytest.raises(DataError, match=missing):
            data.check_split("test", dataset)


# ---------------------------------------------------------------- single label: hidden train rows
@pytest.mark.parametrize(
    ("labels", "options", "features", "expected"),
    [
        ([0, 1, -1, 1, -1], {"num_labels": 2}, None, 2),
        ([-1, 0, 1, -1], {}, None, 0),  # -1/0/1 sentiment: -1 names a class
        ([-1.0, 1.0, 0.0], {"num_labels": 2}, None, 1),  # pandas' floats
        ([0.0, 1.0, 1.0], {"num_labels": 2}, None, 0),
        (["neg", "pos", "-1", "-1"], {}, None, 0),  # the string "-1" is one of the classes
        (["neg", "pos", "-1", " -1"], {"label_names": ["neg", "pos"]}, None, 1),  # only "-1"
        (["neg", "pos", "neg"], {"label_names": ["neg", "pos"]}, None, 0),
        (
            [0, 1, -1],
            {},
            Features({"text": Value("string"), "label": ClassLabel(names=["no", "yes"])}),
            1,
        ),
        ([True, False, True], {}, None, 0),
    ],
    ids=[
        "int-some",
        "int-named",
        "float-some",
        "float-none",
        "str-named",
        "str-some",
        "str-none",
        "classlabel",
        "bool",
    ],
)
def test_hidden_train_rows_as_python_counts_them(
    tokenizer: Any,
    labels: list[Any],
    options: dict[str, Any],
    features: Features | None,
    expected: int,
) -> None:
    data = TextClassificationDataModule(tokenizer, **options)
    train = _split(labels, features)
    data.describe_labels(train)
    assert data._hidden_train_rows == expected
    assert sum(map(data._is_hidden, train["label"])) == expected  # the rule it replaced


def test_hidden_train_rows_of_a_mixed_column_are_counted_in_python(
    tokenizer: Any, tmp_path: Any
) -> None:
    from datasets import load_dataset

    path = tmp_path / "mixed.jsonl"
    rows = [
        '{"text": "a", "label": -1}',
        '{"text": "b", "label": "-1"}',
        '{"text": "c", "label": 1}',
    ]
    path.write_text("\n".join(rows) + "\n")
    train = load_dataset("json", data_files=str(path), split="train")
    assert minus_one_rows(label_array(train, "label")) is None
    data = TextClassificationDataModule(tokenizer, num_labels=2)
    data.describe_labels(train)
    assert data._hidden_train_rows == 2


# ---------------------------------------------------------------- distinct labels
def test_distinct_labels_as_python_reads_them(tmp_path: Any) -> None:
    from datasets import load_dataset

    def distinct(labels: list[Any]) -> list[Any] | None:
        found = distinct_labels(label_array(_split(labels), "label"))
        return None if found is None else sorted(found, key=repr)

    assert distinct([2, 1, 2, 1]) == [1, 2]
    assert distinct([2.0, 1.0, 2.0]) == [1.0, 2.0]
    assert distinct([[1, 2], [], None, [2, 3]]) == [1, 2, 3]  # multi-label: the elements
    assert distinct(["b", "a", "b"]) == ["a", "b"]
    path = tmp_path / "mixed.jsonl"
    path.write_text('{"text": "a", "label": 1}\n{"text": "b", "label": "x"}\n')
    mixed = load_dataset("json", data_files=str(path), split="train")
    assert distinct_labels(label_array(mixed, "label")) is None  # read in Python instead
