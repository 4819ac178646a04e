"""`data.label_names` against a dataset's own ClassLabel names: refused when they cannot name
the same ids, kept (with a warning) when only the wording differs."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from lab.data.label_names import reconcile_label_names
from lab.errors import DataError


def test_same_names_pass_and_wording_differences_keep_the_configured_names(caplog) -> None:  # type: ignore[no-untyped-def]
    assert reconcile_label_names(["neg", "pos"], ["neg", "pos"], "label") == ["neg", "pos"]
    with caplog.at_level(logging.WARNING):
        names = reconcile_label_names(["1 star", "2 stars"], ["1 star", "2 star"], "label")
    assert names == ["1 star", "2 stars"]
    assert "differ from column 'label''s class names ['1 star', '2 star']" in caplog.text


def test_another_order_or_count_is_refused() -> None:
    with pytest.raises(
        DataError, match=r"in another order \(the dataset's id order is \['neg', 'pos'\]\)"
    ):
        reconcile_label_names(["pos", "neg"], ["neg", "pos"], "label")
    with pytest.raises(DataError, match=r"has 3 names .* holds 2 classes \['neg', 'pos'\]"):
        reconcile_label_names(["neg", "pos", "mixed"], ["neg", "pos"], "label")


def test_a_classification_run_refuses_names_in_another_order_than_the_class_labels(
    compose_cfg, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from datasets import ClassLabel, Dataset, Features, Value
    from hydra.utils import instantiate

    features = Features({"text": Value("string"), "label": ClassLabel(names=["neg", "pos"])})
    for split in ("train", "validation", "test"):
        rows = {"text": ["good", "bad"], "label": [1, 0]}
        Dataset.from_dict(rows, features=features).to_parquet(tmp_path / f"{split}.parquet")
    cfg = compose_cfg("model=tiny_bert", "data=imdb", f"data.path={tmp_path}")
    datamodule = instantiate(cfg.data, tokenizer=instantiate(cfg.model.tokenizer), _convert_="all")
    datamodule.setup("fit")
    assert datamodule.label_names == ["neg", "pos"]
    cfg = compose_cfg(
        "model=tiny_bert", "data=imdb", f"data.path={tmp_path}", "data.label_names=[pos,neg]"
    )
    datamodule = instantiate(cfg.data, tokenizer=instantiate(cfg.model.tokenizer), _convert_="all")
    with pytest.raises(DataError, match="in another order"):
        datamodule.setup("fit")


def test_integer_labels_are_ids_from_0_and_named_values_otherwise(caplog) -> None:  # type: ignore[no-untyped-def]
    from lab.data.label_names import integer_label_names

    assert integer_label_names([1, 0, 2, None], None) == (["0", "1", "2"], None)
    # 1-5 stars and -1/0/1 sentiment are values: named, and mapped in sorted order.
    assert integer_label_names([5, 1, 3, 2, 4], None) == (
        ["1", "2", "3", "4", "5"],
        {1: 0, 2: 1, 3: 2, 4: 3, 5: 4},
    )
    assert integer_label_names([0, -1, 1], None) == (["-1", "0", "1"], {-1: 0, 0: 1, 1: 2})
    # data.num_labels says the values are ids, whatever the train split holds.
    assert integer_label_names([1, 2], 4) == (["0", "1", "2", "3"], None)
    with caplog.at_level(logging.WARNING):
        assert integer_label_names([0, 1, 0, 5], None) == ([str(i) for i in range(6)], None)
    assert "class ids 0..5, but 2, 3, 4 never occur in train" in caplog.text
    assert "set data.num_labels=6 to confirm" in caplog.text


def test_star_ratings_train_five_classes_named_by_their_values(compose_cfg, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from hydra.utils import instantiate

    for split, stars in (("train", [1, 2, 3, 4, 5, 5]), ("validation", [2, 4]), ("test", [7])):
        lines = ["body,stars", *(f"review {i},{s}" for i, s in enumerate(stars))]
        (tmp_path / f"{split}.csv").write_text("\n".join(lines) + "\n")
    cfg = compose_cfg(
        "model=tiny_bert",
        "data=csv",
        f"data.path={tmp_path}",
        "data.text_column=body",
        "data.label_column=stars",
    )
    datamodule = instantiate(cfg.data, tokenizer=instantiate(cfg.model.tokenizer), _convert_="all")
    with pytest.raises(
        DataError, match=r"test.csv:2 column 'stars': label 7 never occurs in train"
    ):
        datamodule.setup("fit")
    (tmp_path / "test.csv").write_text("body,stars\nreview,3\n")
    datamodule = instantiate(cfg.data, tokenizer=instantiate(cfg.model.tokenizer), _convert_="all")
    datamodule.setup("fit")
    assert datamodule.label_names == ["1", "2", "3", "4", "5"]
    assert datamodule.model_kwargs()["id2label"] == {0: "1", 1: "2", 2: "3", 3: "4", 4: "5"}
    assert datamodule.datasets["train"]["labels"] == [0, 1, 2, 3, 4, 4]
    assert datamodule.datasets["validation"]["labels"] == [1, 3]
    assert datamodule.datasets["test"]["labels"] == [2]


def test_lab_inspect_checks_label_names_as_training_does(compose_cfg, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from datasets import ClassLabel, Dataset, Features, Value
    from hydra.utils import instantiate

    from lab.data.inspection import inspect_data

    features = Features({"text": Value("string"), "label": ClassLabel(names=["pos", "neg"])})
    rows = {"text": ["good", "bad", "fine"], "label": [0, 0, 0]}  # all the dataset's "pos"
    for split in ("train", "validation", "test"):
        Dataset.from_dict(rows, features=features).to_parquet(tmp_path / f"{split}.parquet")
    cfg = compose_cfg("model=tiny_bert", "data=imdb", f"data.path={tmp_path}")  # names neg, pos
    with pytest.raises(DataError, match="in another order"):
        inspect_data(cfg, instantiate(cfg.model.tokenizer))
    cfg = compose_cfg(
        "model=tiny_bert", "data=imdb", f"data.path={tmp_path}", "data.label_names=null"
    )
    report = inspect_data(cfg, instantiate(cfg.model.tokenizer))["report"]
    # the ClassLabel's own names in id order; every class listed, "neg" with 0 rows
    counts = report["labels"]["counts"]
    assert list(counts) == ["pos", "neg"] and counts["neg"] == 0 < counts["pos"]
