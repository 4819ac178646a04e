"""Class names of a streamed classification run (`lab.data.stream_class_labels`).

* Parquet written by `datasets` (one file; a Hub layout of shards in a config folder) and a
  `save_to_disk` folder carry a `ClassLabel`: a streamed run names its classes (and counts
  them) by it, as the same files read whole do: AG News' four names, not "0".."2".
* A label-sorted stream (every negative first) with a `ClassLabel` has both classes although
  its head holds one; a tiny model trains on it and exports `neg`/`pos`.
* A validation/test split cut from such a head holds one class: a warning says so and how to
  give the source a split of its own; a head of both classes gives none.
* Without names, a one-class head is refused naming what it read (the first N streamed rows,
  `data.stream_sample_rows`), not "the train split".
* Features a stream does not know (None: a Hub JSON stream may report none) or that declare
  no `ClassLabel` leave the rows as read.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from lab.errors import DataError

AG_NEWS = ["World", "Sports", "Business", "Sci/Tech"]
SENTIMENT = ["neg", "pos"]


def _dataset(labels: list[int], names: list[str]) -> Any:
    from datasets import ClassLabel, Dataset, Features, Value

    features = Features({"text": Value("string"), "label": ClassLabel(names=names)})
    rows = {"text": [f"news story number {i}" for i in range(len(labels))], "label": labels}
    return Dataset.from_dict(rows, features=features)


def _write(layout: str, root: Path, labels: list[int], names: list[str]) -> list[str]:
    """`labels` as files of `layout` under `root`, and the overrides that read them."""
    data = _dataset(labels, names)
    if layout == "one_parquet_file":  # `Dataset.to_parquet`: the names are in the schema
        data.to_parquet(str(root / "news.parquet"))
        return [f"data.path={root / 'news.parquet'}"]
    if layout == "hub_shards":  # GLUE's sst2/train-0000{0,1}-of-00002.parquet
        half = len(data) // 2
        (root / "hub" / "news").mkdir(parents=True)
        for index, rows in enumerate([range(half), range(half, len(data))]):
            data.select(rows).to_parquet(
                str(root / "hub" / "news" / f"train-0000{index}-of-00002.parquet")
            )
        return [f"data.path={root / 'hub'}", "data.hub_config=news"]
    from datasets import DatasetDict

    DatasetDict({"train": data}).save_to_disk(str(root / "disk"))
    return [f"data.path={root / 'disk'}"]


def _datamodule(compose_cfg: Any, *overrides: str) -> Any:
    from hydra.utils import instantiate

    from lab.build import build_datamodule

    cfg = compose_cfg("model=tiny_bert", "data=json", "data.batch_size=8", *overrides)
    datamodule = build_datamodule(cfg, instantiate(cfg.model.tokenizer))
    datamodule.setup()
    return datamodule


STREAMED = [
    "data.streaming=true",
    "data.stream_sample_rows=12",
    "data.max_eval_samples=12",
    "data.max_test_samples=12",
]


@pytest.mark.parametrize("layout", ["one_parquet_file", "hub_shards", "save_to_disk"])
def test_a_stream_names_its_classes_by_the_files_class_label(
    layout: str, compose_cfg: Any, tmp_path: Path
) -> None:
    # 72 rows of ids 0, 1, 2 in turn: the ClassLabel names four classes (Sci/Tech has no row)
    paths = _write(layout, tmp_path, [i % 3 for i in range(72)], AG_NEWS)
    streamed = _datamodule(compose_cfg, *paths, *STREAMED)
    expected = {0: "World", 1: "Sports", 2: "Business", 3: "Sci/Tech"}
    assert streamed.model_kwargs()["id2label"] == expected
    assert streamed.num_labels == 4
    # the validation/test rows cut from the stream's head keep the names too
    assert streamed.raw_sizes == {"validation": 12, "test": 12}
    # the oracle: the same files read whole (the non-streamed path)
    whole = _datamodule(compose_cfg, *paths)
    assert whole.model_kwargs()["id2label"] == streamed.model_kwargs()["id2label"]


def test_a_cut_of_one_class_is_warned_of_and_a_mixed_cut_is_not(
    compose_cfg: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sorted_root, mixed_root = tmp_path / "sorted", tmp_path / "mixed"
    sorted_root.mkdir()
    mixed_root.mkdir()
    # every negative first (IMDB on the Hub): the first 24 rows, cut as validation and test,
    # are all 'neg'; the next 12 (the train sample) too
    paths = _write("one_parquet_file", sorted_root, [0] * 40 + [1] * 40, SENTIMENT)
    with caplog.at_level(logging.WARNING, logger="lab.data.stream_setup"):
        datamodule = _datamodule(compose_cfg, *paths, *STREAMED)
    assert datamodule.model_kwargs()["id2label"] == {0: "neg", 1: "pos"}
    source = sorted_root / "news.parquet"
    assert [r.getMessage() for r in caplog.records if r.name == "lab.data.stream_setup"] == [
        f"the {split} split cut from the head of the train stream (the first 12 rows of "
        f"{source}) holds one label, 'neg' (column 'label'): its metrics say little (is the "
        f"file sorted by label?); give the source a {split} split of its own (a {split} file "
        f"beside train, or data.splits.{split}=<the source's split>)"
        for split in ("validation", "test")
    ]
    caplog.clear()
    paths = _write("one_parquet_file", mixed_root, [i % 2 for i in range(80)], SENTIMENT)
    with caplog.at_level(logging.WARNING, logger="lab.data.stream_setup"):
        _datamodule(compose_cfg, *paths, *STREAMED)
    assert not [r for r in caplog.records if r.name == "lab.data.stream_setup"]


def test_a_one_class_head_without_names_is_refused_naming_the_rows_read(
    compose_cfg: Any, tmp_path: Path
) -> None:
    rows = [{"text": f"review {i}", "label": 0 if i < 40 else 1} for i in range(80)]
    train = tmp_path / "data" / "train.jsonl"
    train.parent.mkdir()
    train.write_text("".join(json.dumps(row) + "\n" for row in rows))
    with pytest.raises(DataError) as caught:
        _datamodule(compose_cfg, f"data.path={train.parent}", *STREAMED)
    assert str(caught.value) == (
        "the first 12 rows of the streamed train split (data.stream_sample_rows=12) hold 1 "
        "class(es) (['0']); classification needs at least 2: set data.label_names to the "
        "classes (a file sorted by label shows one class first), or read more rows "
        "(data.stream_sample_rows)"
    )


def test_unknown_features_or_no_class_label_leave_the_rows_as_read() -> None:
    from datasets import ClassLabel, Dataset, List, Value

    from lab.data.stream_class_labels import class_label_features, with_class_labels

    rows = Dataset.from_dict({"text": ["a", "b"], "label": [1, 0], "tags": [[0, 1], [1]]})
    assert with_class_labels(rows, None, "hub") is rows
    plain = {"text": Value("string"), "label": Value("int64"), "tags": List(Value("int64"))}
    assert with_class_labels(rows, plain, "hub") is rows
    assert class_label_features(None) == {}
    # a list of tags (token classification's) is typed too
    tags = List(ClassLabel(names=["O", "B-PER"]))
    typed = with_class_labels(rows, {**plain, "tags": tags}, "hub")
    assert typed.features["tags"] == tags and typed["tags"] == [[0, 1], [1]]
    assert typed.features["label"] == Value("int64")
    # an id its ClassLabel has no name for: one line naming the stream and column
    with pytest.raises(DataError, match=r"^hub column 'label': Class label 1 greater than"):
        with_class_labels(rows, {"label": ClassLabel(names=["only"])}, "hub")


@pytest.mark.slow
def test_a_label_sorted_stream_with_a_class_label_trains_and_exports_the_names(
    compose_cfg: Any, tmp_path: Path
) -> None:
    from lab.train import run

    paths = _write("one_parquet_file", tmp_path, [0] * 40 + [1] * 40, SENTIMENT)
    cfg = compose_cfg(
        "model=tiny_bert",
        "data=json",
        *paths,
        *STREAMED,
        "data.batch_size=8",
        "data.max_length=16",
        "trainer.max_steps=2",
        "logger=csv",
        output_dir=tmp_path / "run",
    )
    metrics = run(cfg)
    assert "test/acc" in metrics
    config = json.loads((tmp_path / "run" / "model" / "config.json").read_text())
    assert config["id2label"] == {"0": "neg", "1": "pos"}
    assert config["label2id"] == {"neg": 0, "pos": 1}
