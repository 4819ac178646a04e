"""`data.drop_labels`: SNLI's rows without a gold label (-1 in every split) left out
of every split, with their count said, the other rows' line numbers kept; and the advice a
partly hidden split gets without it."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from lab.data.dropped_labels import marks
from lab.errors import DataError
from lab.training.tokenizers import build_tokenizer


def _snli_like(folder: Path) -> dict[str, list[int]]:
    """Parquet splits with a ClassLabel, as the Hub's SNLI: -1 rows in each split."""
    from datasets import ClassLabel, Dataset, Features, Value

    names = ["entailment", "neutral", "contradiction"]
    features = Features(
        {
            "premise": Value("string"),
            "hypothesis": Value("string"),
            "label": ClassLabel(names=names),
        }
    )
    hidden = {"train": [4, 11], "validation": [2], "test": [0, 7]}
    labels: dict[str, list[int]] = {}
    for split, size in (("train", 36), ("validation", 12), ("test", 12)):
        labels[split] = [-1 if i in hidden[split] else i % 3 for i in range(size)]
        rows = {
            "premise": [f"{split} premise {i}" for i in range(size)],
            "hypothesis": [f"{split} hypothesis {i}" for i in range(size)],
            "label": labels[split],
        }
        Dataset.from_dict(rows, features=features).to_parquet(folder / f"{split}.parquet")
    return labels


def _setup(compose_cfg: Any, folder: Path, *overrides: str) -> Any:
    from lab.build import build_datamodule

    cfg = compose_cfg(
        "model=tiny_bert",
        "data=json",
        f"data.path={folder}",
        "data.text_column=premise",
        "data.text_pair_column=hypothesis",
        *overrides,
    )
    return build_datamodule(cfg, build_tokenizer(cfg))


def test_rows_without_a_gold_label_are_left_out_of_every_split(
    compose_cfg: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    labels = _snli_like(tmp_path)
    with caplog.at_level(logging.WARNING, logger="lab.data.dropped_labels"):
        datamodule = _setup(compose_cfg, tmp_path, "data.drop_labels=[-1]")
    for split in ("train", "validation", "test"):
        kept = [label for label in labels[split] if label != -1]
        assert datamodule.datasets[split]["labels"] == kept
    # the kept rows keep their places in the files: validation's row 3 is the file's row 4
    assert list(datamodule.row_indices["validation"][:3]) == [0, 1, 3]
    assert [r.getMessage() for r in caplog.records] == [
        f"data.drop_labels: left out 2 of 36 rows of {tmp_path / 'train.parquet'} labelled -1",
        f"data.drop_labels: left out 2 of 12 rows of {tmp_path / 'test.parquet'} labelled -1",
        f"data.drop_labels: left out 1 of 12 rows of {tmp_path / 'validation.parquet'} labelled -1",
    ]
    assert datamodule.label_names == ["entailment", "neutral", "contradiction"]


def test_a_partly_hidden_split_is_advised_to_drop_them_with_its_count(
    compose_cfg: Any, tmp_path: Path
) -> None:
    from datasets import Dataset

    _snli_like(tmp_path)
    # train without -1 (else train's refusal comes first)
    train = Dataset.from_parquet(str(tmp_path / "train.parquet"))
    train.filter(lambda row: row["label"] != -1).to_parquet(tmp_path / "train.parquet")
    with pytest.raises(DataError) as caught:
        _setup(compose_cfg, tmp_path)
    assert str(caught.value) == (
        f"{tmp_path / 'validation.parquet'} row 3 (1-based) column 'label': label -1 marks a "
        "hidden label (unlabeled rows, as in GLUE's test splits) that cannot be trained on or "
        "scored; 1 of 12 validation rows has label -1: data.drop_labels=[-1] leaves out the "
        "rows without a gold label (SNLI's) of every split"
    )


def test_carved_splits_hold_labelled_rows_only(compose_cfg: Any, tmp_path: Path) -> None:
    lines = ["text,label"] + [f"film {i},{-1 if i % 10 == 3 else i % 2}" for i in range(60)]
    path = tmp_path / "reviews.csv"
    path.write_text("\n".join(lines) + "\n")
    from lab.build import build_datamodule

    cfg = compose_cfg("model=tiny_bert", "data=csv", f"data.path={path}", "data.drop_labels=-1")
    datamodule = build_datamodule(cfg, build_tokenizer(cfg))
    sizes = {name: len(split) for name, split in datamodule.datasets.items()}
    assert sum(sizes.values()) == 54  # 60 rows, 6 of them -1
    assert set(_labels(datamodule)) == {0, 1}
    assert datamodule.label_names == ["0", "1"]


def _labels(datamodule: Any) -> list[int]:
    return [v for split in datamodule.datasets.values() for v in split["labels"]]


@pytest.mark.parametrize(
    ("cell", "dropped"),
    [(-1, True), (-1.0, True), ("-1", True), (" -1 ", True), (1, False), (True, False),
     (None, False), ([-1], False), ("neutral", False)],
)  # fmt: skip
def test_what_a_mark_matches(cell: Any, dropped: bool) -> None:
    assert marks([-1])(cell) is dropped


def test_a_run_recorded_before_the_setting_resumes_without_a_difference() -> None:
    from lab.run_dir.resume import config_differences

    recorded = {"data": {"label_column": "label"}}
    assert (
        config_differences(recorded, {"data": {"label_column": "label", "drop_labels": []}}) == []
    )
    assert config_differences(
        recorded, {"data": {"label_column": "label", "drop_labels": [-1]}}
    ) == ["  data.drop_labels: '<absent>' -> [-1]"]
    # data.csv_quoting (lab.data.csv_quotes) came later too
    assert (
        config_differences(recorded, {"data": {"label_column": "label", "csv_quoting": "csv"}})
        == []
    )


def test_a_stream_leaves_them_out_as_it_is_read(compose_cfg: Any, tmp_path: Path) -> None:
    labels = _snli_like(tmp_path)
    datamodule = _setup(
        compose_cfg, tmp_path, "data.streaming=true", "data.drop_labels=[-1]", "trainer.max_steps=2"
    )
    for split in ("validation", "test"):
        kept = [label for label in labels[split] if label != -1]
        assert datamodule.datasets[split]["labels"] == kept
    assert list(datamodule.row_indices["test"][:2]) == [1, 2]  # row 0 is -1
    streamed = [row["label"] for row in datamodule.train_plan.mixture()]
    assert sorted(streamed) == sorted(label for label in labels["train"] if label != -1)


def test_lab_inspect_reads_the_splits_training_reads(tmp_path: Path) -> None:
    from omegaconf import OmegaConf

    from lab.data.inspection import load_splits

    labels = _snli_like(tmp_path)
    data = OmegaConf.create(
        {"path": str(tmp_path), "label_column": "label", "drop_labels": -1, "split_seed": 42}
    )
    splits, carved = load_splits(data)
    assert carved == []
    for split in ("train", "validation", "test"):
        assert sorted(splits[split]["label"]) == sorted(v for v in labels[split] if v != -1)
