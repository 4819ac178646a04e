"""A Hub dataset folder's card names the classes its files do not carry (Parquet written by
pandas, CSV): lab applies them as `datasets.load_dataset(<folder>)` does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from lab.data.card_labels import card_label_names
from lab.data.sources import load_local

CARD = """---
dataset_info:
{infos}
configs:
{configs}
---

# A dataset card
"""
NAMES = "        names:\n          '0': World\n          '1': Sports\n          '2': Business\n"


def _info(config: str, names: str = NAMES) -> str:
    return (
        f"- config_name: {config}\n  features:\n  - name: text\n    dtype: string\n"
        f"  - name: label\n    dtype:\n      class_label:\n{names}"
    )


def _folder(root: Path, configs: list[str], suffix: str = "parquet") -> Path:
    for config in configs:
        (root / config).mkdir(parents=True)
        for split in ("train", "test"):
            frame = pd.DataFrame({"text": ["a b", "c d", "e f"], "label": [0, 2, 1]})
            target = root / config / f"{split}-00000-of-00001.{suffix}"
            frame.to_parquet(target) if suffix == "parquet" else frame.to_csv(target, index=False)
    listed = "\n".join(
        f"- config_name: {c}\n  data_files:\n  - split: train\n    path: {c}/train-*\n"
        f"  - split: test\n    path: {c}/test-*"
        for c in configs
    )
    (root / "README.md").write_text(
        CARD.format(infos="\n".join(_info(c) for c in configs), configs=listed)
    )
    return root


@pytest.mark.parametrize("suffix", ["parquet", "csv"])
def test_the_cards_class_names_name_the_label_ids(tmp_path: Path, suffix: str) -> None:
    folder = _folder(tmp_path / "ag_news", ["default"], suffix)
    loaded = load_local(folder)
    for split in ("train", "test"):
        feature = loaded[split].features["label"]
        assert feature.names == ["World", "Sports", "Business"], split
        assert loaded[split]["label"] == [0, 2, 1]  # the ids as stored


def test_each_configuration_takes_its_own_names(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "tweet_eval", ["emotion", "sentiment"])
    readme = (folder / "README.md").read_text()
    other = (
        "        names:\n          '0': negative\n          '1': neutral\n          '2': positive\n"
    )
    parts = readme.split("- config_name: sentiment\n  features", 1)
    (folder / "README.md").write_text(
        parts[0] + "- config_name: sentiment\n  features" + parts[1].replace(NAMES, other, 1)
    )
    assert card_label_names(folder, "sentiment")["label"] == ["negative", "neutral", "positive"]
    assert card_label_names(folder, "emotion")["label"] == ["World", "Sports", "Business"]
    loaded = load_local(folder, "sentiment")
    assert loaded["train"].features["label"].names == ["negative", "neutral", "positive"]


def test_ids_the_names_do_not_cover_are_left_for_training_to_word(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "d", ["default"])
    frame = pd.DataFrame({"text": ["a", "b"], "label": [0, 7]})
    frame.to_parquet(folder / "default" / "train-00000-of-00001.parquet")
    loaded = load_local(folder)
    for split in ("train", "test"):  # every split or none: one column, one type
        assert not hasattr(loaded[split].features["label"], "names")


def test_a_streamed_run_takes_the_cards_class_names(compose_cfg: Any, tmp_path: Path) -> None:
    """`data.streaming=true` over the same folder: the head's classes are the card's names
    (they were the bare ids "0".."2"), and the streamed batches carry the stored ids."""
    from hydra.utils import instantiate

    from lab.build import build_datamodule

    folder = _folder(tmp_path / "ag_news", ["default"], "csv")
    rows = pd.DataFrame({"text": [f"news {i}" for i in range(40)], "label": [0, 2, 1, 1] * 10})
    rows.to_csv(folder / "default" / "train-00000-of-00001.csv", index=False)
    cfg = compose_cfg(
        "model=tiny_bert",
        "data=csv",
        f"data.path={folder}",
        "data.streaming=true",
        "data.stream_sample_rows=16",
        "data.max_eval_samples=8",
        "data.batch_size=8",
        "data.shuffle_buffer=0",
    )
    datamodule = build_datamodule(cfg, instantiate(cfg.model.tokenizer))
    assert datamodule.label_names == ["World", "Sports", "Business"]
    batch = next(iter(datamodule.train_dataloader()))
    assert batch["labels"].tolist() == [0, 2, 1, 1] * 2  # rows 9-16: 8 were cut as validation
