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
