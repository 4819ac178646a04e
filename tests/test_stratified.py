"""Validation and test carved from train with each class in its share (`data.stratify`,
`lab.data.stratified`): counts by hand, the plain split's size, and what is left plain."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from datasets import Dataset

from lab.data.stratified import carve, stratified_indices, stratifies

ROOT = Path(__file__).resolve().parents[1]


def _rows(labels: list[Any]) -> Dataset:
    return Dataset.from_dict({"text": [f"row {i}" for i in range(len(labels))], "label": labels})


@pytest.mark.parametrize("seed", [0, 1, 42])
def test_a_balanced_file_gives_each_side_both_classes(seed: int) -> None:
    """s24c M1: 8 and 8 rows carved plainly gave a validation of `[0, 0]`."""
    parts, by_class = carve(_rows([0] * 8 + [1] * 8), 0.25, seed, "label")
    assert by_class
    assert Counter(parts["test"]["label"]) == {0: 2, 1: 2}
    assert Counter(parts["train"]["label"]) == {0: 6, 1: 6}
    # Every row once, on one side.
    assert sorted([*parts["train"]["text"], *parts["test"]["text"]]) == sorted(
        f"row {i}" for i in range(16)
    )


def test_shares_by_hand_with_the_plain_splits_size() -> None:
    """100/60/40 rows, 1/4: shares 25, 15, 10 exactly; 1/8: 12.5, 7.5, 5 -> 12, 7, 5 whole,
    and 25 - 24 = 1 row left, to the largest remainder (0.5: classes 0 and 1 tie, 0 first);
    1/16: 6.25, 3.75, 2.5 -> 6, 3, 2, and 13 - 11 = 2 left, to classes 1 (0.75) and 2 (0.5)."""
    codes = [0] * 100 + [1] * 60 + [2] * 40
    for fraction, expected in (
        (1 / 4, {0: 25, 1: 15, 2: 10}),
        (1 / 8, {0: 13, 1: 7, 2: 5}),
        (1 / 16, {0: 6, 1: 4, 2: 3}),
    ):
        kept, carved = stratified_indices(np.array(codes), fraction, seed=3)
        assert len(carved) == math.ceil(fraction * 200)  # as datasets' plain split takes
        assert Counter(codes[i] for i in carved) == expected
        assert sorted([*kept, *carved]) == list(range(200))


def test_a_class_of_one_row_stays_in_train() -> None:
    """Its share (0.5 of a row) is never its last row: training must see each class."""
    parts, _ = carve(_rows(["a"] * 9 + ["rare"]), 0.5, 0, "label")
    assert "rare" in parts["train"]["label"] and "rare" not in parts["test"]["label"]
    assert len(parts["test"]) == 5


def test_classes_of_one_row_each_still_give_the_split_its_size() -> None:
    """Two rows, one per class (a test's tiny file): the carved split still gets its row."""
    parts, by_class = carve(_rows([0, 1]), 0.1, 0, "label")
    assert by_class and (len(parts["train"]), len(parts["test"])) == (1, 1)


def test_strings_and_nulls_are_classes() -> None:
    parts, by_class = carve(_rows(["pos", "neg", None, "pos", "neg", None] * 3), 1 / 3, 7, "label")
    assert by_class and Counter(parts["test"]["label"]) == {"pos": 2, "neg": 2, None: 2}


@pytest.mark.parametrize(
    "labels",
    [
        [0.5 * i for i in range(20)],  # a regression target: no classes
        [[i % 2, 1] for i in range(20)],  # multi-label ids
    ],
    ids=["floats", "lists"],
)
def test_other_labels_are_split_as_datasets_splits_them(labels: list[Any]) -> None:
    parts, by_class = carve(_rows(labels), 0.2, 5, "label")
    plain = _rows(labels).train_test_split(test_size=0.2, seed=5)
    assert not by_class and list(parts["test"]["text"]) == list(plain["test"]["text"])


def test_no_column_is_a_plain_split() -> None:
    parts, by_class = carve(_rows([0, 1] * 10), 0.2, 5, None)
    plain = _rows([0, 1] * 10).train_test_split(test_size=0.2, seed=5)
    assert not by_class and list(parts["test"]["text"]) == list(plain["test"]["text"])


def test_the_same_seed_carves_the_same_rows() -> None:
    labels = [i % 3 for i in range(30)]
    first, _ = carve(_rows(labels), 0.2, 11, "label")
    again, _ = carve(_rows(labels), 0.2, 11, "label")
    other, _ = carve(_rows(labels), 0.2, 12, "label")
    assert list(first["test"]["text"]) == list(again["test"]["text"])
    assert list(first["test"]["text"]) != list(other["test"]["text"])


def _sixteen_rows(folder: Path) -> Path:
    folder.mkdir(parents=True)
    rows = [{"text": f"review number {i}", "label": i % 2} for i in range(16)]
    (folder / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def test_training_carves_by_class_and_an_old_run_carves_plainly(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """A lone train file: test carved by class (25% of 16: 2 + 2), then validation (25% of
    the 12 left: 3 rows, 2 + 1, the tie of remainders to class 0); `data.stratify=false`, as
    runs recorded before it are read, carves as datasets does."""
    from lab.data.splits import read_splits
    from lab.run_dir.config_upgrade import ADDED_SETTINGS
    from lab.tasks.text_classification.data import TextClassificationDataModule

    folder = _sixteen_rows(tmp_path / "rows")
    options: dict[str, Any] = {"path": str(folder), "val_fraction": 0.25, "test_fraction": 0.25}
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(ROOT / "src/lab/assets/tiny_bert")
    split = read_splits(TextClassificationDataModule(tokenizer, stratify=True, **options))
    assert [Counter(split[name]["label"]) for name in ("validation", "test")] == [
        {0: 2, 1: 1},
        {0: 2, 1: 2},
    ]
    assert ADDED_SETTINGS["data.stratify"] is False
    # A run recorded before the key: its config lacks it, the data module's default is plain.
    plain = read_splits(TextClassificationDataModule(tokenizer, **options))
    rows = Dataset.from_json(str(folder / "train.jsonl"))
    carved = rows.train_test_split(test_size=0.25, seed=42)
    assert list(plain["test"]["text"]) == list(carved["test"]["text"])
    assert compose_cfg().data.stratify is True  # new runs: lab's YAML
    # An integer regression target is no class (s24e M5): split plainly.
    rated = read_splits(
        TextClassificationDataModule(tokenizer, stratify=True, problem_type="regression", **options)
    )
    assert list(rated["test"]["text"]) == list(carved["test"]["text"])


def test_which_heads_carve_by_class() -> None:
    """Single-label classification with `data.stratify` true; not an old run's config (no
    key), not regression or multi-label, not a head without a label column."""
    single = {"problem_type": "single_label", "label_column": "label"}
    assert stratifies(True, single)
    assert not stratifies(None, single)  # a config recorded before the key
    assert not stratifies(True, {**single, "problem_type": "regression"})
    assert not stratifies(True, {**single, "problem_type": "multi_label"})
    assert not stratifies(True, {"label_column": "label"})  # multiple choice: no problem type
