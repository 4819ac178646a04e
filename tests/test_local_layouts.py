"""`data.path` in the layouts people have: a dataset folder as the Hub stores it (downloaded
with `hf download <id> --repo-type dataset`), a `save_to_disk` folder, and files
named after lab's splits for a data config written for the Hub's split names.

The Hub folders are built here as the Hub lays them out (README `configs`, shard names
`<split>-00000-of-00003-<hash>.parquet`, a folder per configuration), from the repo's fixtures.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import pytest

from lab.data.local_files import local_data_files
from lab.errors import DataError

from conftest import FIXTURES

SFT = FIXTURES / "sft_task"


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _parquet(path: Path, rows: list[dict[str, Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)


def _shards(folder: Path, split: str, rows: list[dict[str, Any]], count: int) -> None:
    """`rows` as the Hub shards a split: `<split>-0000k-of-0000n-<hash>.parquet`, in order."""
    size = -(-len(rows) // count)
    for k in range(count):
        name = f"{split}-{k:05d}-of-{count:05d}-a3ecf92756993583.parquet"
        _parquet(folder / name, rows[k * size : (k + 1) * size])


def _readme(root: Path, configs: dict[str, dict[str, str]]) -> None:
    """A dataset card whose YAML header declares `configs` ({config: {split: glob}})."""
    lines = ["---", "license: mit", "configs:"]
    for config, splits in configs.items():
        lines += [f"- config_name: {config}", "  data_files:"]
        for split, glob in splits.items():
            lines += [f"  - split: {split}", f"    path: {glob}"]
    (root / "README.md").write_text("\n".join([*lines, "---", "# a dataset card", ""]))


GENERATED = {
    "messages": [{"role": "user", "content": "GEN"}, {"role": "assistant", "content": "x"}]
}


def _ultrachat_snapshot(root: Path, *, readme: bool = True) -> tuple[int, int]:
    """UltraChat 200k's layout: `data/{train,test}_{sft,gen}-*.parquet` (the `gen` splits
    must not leak into `sft`). Returns the train_sft and test_sft row counts."""
    train, test = _jsonl(SFT / "train.jsonl"), _jsonl(SFT / "test.jsonl")
    _shards(root / "data", "train_sft", train, 3)
    _shards(root / "data", "test_sft", test, 1)
    _shards(root / "data", "train_gen", [GENERATED] * 7, 1)
    _shards(root / "data", "test_gen", [GENERATED] * 3, 1)
    if readme:
        names = ("train_sft", "test_sft", "train_gen", "test_gen")
        _readme(root, {"default": {name: f"data/{name}-*" for name in names}})
    return len(train), len(test)


def _sft_datamodule(compose_cfg: Any, path: Path, *extra: str) -> Any:
    from lab.build import build_datamodule
    from lab.training.tokenizers import build_tokenizer

    cfg = compose_cfg("model=tiny_llama", "data=ultrachat", f"data.path={path}", *extra)
    return build_datamodule(cfg, build_tokenizer(cfg))


def _all_prompts(datamodule: Any) -> list[str]:
    texts = []
    for split in ("train", "validation", "test"):
        ids = datamodule.datasets[split]["input_ids"]
        texts += [datamodule.tokenizer.decode(row) for row in ids]
    return texts


@pytest.mark.parametrize("readme", [True, False], ids=["readme_configs", "shard_names"])
def test_a_hub_dataset_folder_is_read_with_the_hubs_split_names(
    compose_cfg: Any, tmp_path: Path, readme: bool
) -> None:
    """`data=ultrachat data.path=<snapshot>`: train_sft (three shards, in order) trains, test_sft
    tests, train_gen is left alone, exactly as `data=ultrachat` reads the Hub."""
    root = tmp_path / "ultrachat_200k"
    train_rows, test_rows = _ultrachat_snapshot(root, readme=readme)
    _, files = local_data_files(root)
    assert [Path(f).name[:24] for f in files["train_sft"]] == [
        "train_sft-00000-of-00003",
        "train_sft-00001-of-00003",
        "train_sft-00002-of-00003",
    ]
    assert sorted(files) == ["test_gen", "test_sft", "train_gen", "train_sft"]

    datamodule = _sft_datamodule(compose_cfg, root)
    sizes = datamodule.raw_sizes
    assert sizes["train"] + sizes["validation"] == train_rows  # validation carved (1%)
    assert sizes["test"] == test_rows
    assert datamodule.source_of("train") == f"{root} split train_sft"
    assert datamodule.source_of("test").endswith("test_sft-00000-of-00001-a3ecf92756993583.parquet")
    assert not any("GEN" in text for text in _all_prompts(datamodule))


def test_shard_names_are_split_names_exactly_where_datasets_would_merge_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Pointed at the `data/` folder itself (no README there), `datasets`' keyword patterns
    would read train_sft and train_gen as one `train` split; lab keeps them apart."""
    root = tmp_path / "ultrachat_200k"
    _ultrachat_snapshot(root)
    with caplog.at_level(logging.INFO, logger="lab.data.local_files"):
        builder, files = local_data_files(root / "data", report=True)
    assert builder == "parquet"
    assert sorted(files) == ["test_gen", "test_sft", "train_gen", "train_sft"]
    assert len(files["train_sft"]) == 3 and len(files["train_gen"]) == 1
    assert (
        f"data.path {root / 'data'} read as a dataset folder: test_gen (1 file), "
        "test_sft (1 file), train_gen (1 file), train_sft (3 files)"
    ) in caplog.messages
    # s23c L3: with the data config's splits, which one each of lab's reads, and the rest
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="lab.data.local_files"):
        local_data_files(
            root / "data", report=True, splits={"train": "train_sft", "test": "test_sft"}
        )
    assert caplog.messages[-1].endswith(
        "; lab's splits: train=train_sft, validation carved from train, test=test_sft; "
        "not read: test_gen, train_gen"
    )
    # s31e N9: a train split the folder lacks (data=ultrafeedback's train_prefs) is not said
    # to be carved from, nor validation and test from it; training's refusal follows
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="lab.data.local_files"):
        local_data_files(
            root / "data", report=True, splits={"train": "train_prefs", "test": "test_prefs"}
        )
    assert caplog.messages[-1].endswith(
        "train_sft (3 files); lab's train split reads 'train_prefs', which the folder lacks; "
        "not read: test_gen, test_sft, train_gen, train_sft"
    )


def _glue_snapshot(root: Path, *, readme: bool) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """GLUE's layout: a folder per configuration, `<config>/<split>-00000-of-00001.parquet`."""
    rows: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for config, count in (("sst2", 30), ("mrpc", 12)):
        rows[config] = {}
        for split, offset in (("train", 0), ("validation", 1000), ("test", 2000)):
            rows[config][split] = [
                {"sentence": f"{config} {split} sentence {i}", "label": i % 2, "idx": offset + i}
                for i in range(count + offset // 1000)
            ]
            _shards(root / config, split, rows[config][split], 1)
    if readme:
        _readme(
            root,
            {
                c: {s: f"{c}/{s}-*" for s in ("train", "validation", "test")}
                for c in ("sst2", "mrpc")
            },
        )
    return rows


@pytest.mark.parametrize("readme", [True, False], ids=["readme_configs", "config_folders"])
def test_data_hub_config_picks_one_configuration_of_a_folder_that_holds_several(
    compose_cfg: Any, tmp_path: Path, readme: bool
) -> None:
    """`data=sst2 data.path=<glue snapshot>`: sst2's files only (data.hub_config=sst2), GLUE's
    validation split as lab's test split, as `data=sst2` reads the Hub."""
    from lab.build import build_datamodule
    from lab.training.tokenizers import build_tokenizer

    root = tmp_path / "glue"
    rows = _glue_snapshot(root, readme=readme)
    cfg = compose_cfg("model=tiny_bert", "data=sst2", f"data.path={root}")
    datamodule = build_datamodule(cfg, build_tokenizer(cfg))
    sizes = datamodule.raw_sizes
    assert sizes["train"] + sizes["validation"] == len(rows["sst2"]["train"])
    assert sizes["test"] == len(rows["sst2"]["validation"])
    assert "sst2/validation-00000-of-00001" in datamodule.source_of("test")


def test_a_missing_validation_split_never_reads_the_split_test_reads(
    compose_cfg: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """sst2 tests on GLUE's `validation` split. `data.splits.validation=<missing>` fell back
    to the split named like lab's, `validation`: validation and test were the same rows. It
    is carved from train now (with the warning a missing renamed split gets); a missing name
    whose lab-named split nothing else reads is read from there, said in one line."""
    from lab.build import build_datamodule
    from lab.training.tokenizers import build_tokenizer

    root = tmp_path / "glue"
    rows = _glue_snapshot(root, readme=False)
    cfg = compose_cfg(
        "model=tiny_bert", "data=sst2", f"data.path={root}", "data.splits.validation=nope"
    )
    with caplog.at_level(logging.INFO):
        datamodule = build_datamodule(cfg, build_tokenizer(cfg))
    assert "sst2/validation-00000-of-00001" in datamodule.source_of("test")
    assert "sst2/train-00000-of-00001" in datamodule.source_of("validation")  # carved
    sizes = datamodule.raw_sizes
    assert sizes["train"] + sizes["validation"] == len(rows["sst2"]["train"])
    assert "data.splits.validation=nope but the dataset has no such split" in caplog.text
    caplog.clear()
    cfg = compose_cfg("model=tiny_bert", "data=sst2", f"data.path={root}", "data.splits.test=nope")
    with caplog.at_level(logging.INFO):
        datamodule = build_datamodule(cfg, build_tokenizer(cfg))
    assert "sst2/test-00000-of-00001" in datamodule.source_of("test")
    assert (
        "data.splits.test=nope: the local data has no such split; reading its 'test' split "
        "(splits present: test, train, validation)"
    ) in caplog.text


def test_one_configuration_folder_keeps_every_split_by_its_name(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """IMDB's snapshot without its README: `plain_text/{train,test,unsupervised}-*.parquet`.
    datasets' split patterns dropped `unsupervised`, so `data.splits.test=unsupervised` read
    `test`; every split is kept by its exact name, as in a folder of shards."""
    root = tmp_path / "imdb"
    for split in ("train", "test", "unsupervised"):
        _shards(root / "plain_text", split, [{"text": f"{split} review", "label": 0}], 1)
    with caplog.at_level(logging.INFO, logger="lab.data.local_files"):
        _, files = local_data_files(root, None, report=True)
    assert sorted(files) == ["test", "train", "unsupervised"]
    assert all(len(group) == 1 and "plain_text" in group[0] for group in files.values())
    # The log names the folder read (GLUE's `sst2/` by data.hub_config alike).
    assert (
        f"data.path {root} read as a dataset folder, folder plain_text/: test (1 file), "
        "train (1 file), unsupervised (1 file)"
    ) in caplog.messages


def test_a_folder_of_several_configurations_without_hub_config_names_them(
    tmp_path: Path,
) -> None:
    root = tmp_path / "glue"
    _glue_snapshot(root, readme=True)
    with pytest.raises(
        DataError,
        match=r"several configurations \(sst2, mrpc\); pick one with data\.hub_config=<name>",
    ):
        local_data_files(root)
    with pytest.raises(
        DataError, match=r"no configuration 'cola'; it has sst2, mrpc \(data\.hub_config=<name>\)"
    ):
        local_data_files(root, "cola")


def test_the_readmes_default_configuration_is_read_and_named_in_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """dair-ai/emotion: `split` (marked `default: true`) and `unsplit`. Without
    data.hub_config the default is read, as `datasets` does, and the log line says which
    configuration that was and how to pick the other."""
    root = tmp_path / "emotion"
    rows = [{"text": f"t{i}", "label": i % 6} for i in range(12)]
    _shards(root / "split", "train", rows[:8], 1)
    _shards(root / "split", "test", rows[8:], 1)
    _shards(root / "unsplit", "train", rows, 1)
    (root / "README.md").write_text(
        "---\nconfigs:\n- config_name: split\n  data_files:\n  - split: train\n"
        "    path: split/train-*\n  - split: test\n    path: split/test-*\n  default: true\n"
        "- config_name: unsplit\n  data_files:\n  - split: train\n    path: unsplit/train-*\n"
        "---\n# emotion\n"
    )
    with caplog.at_level(logging.INFO, logger="lab.data.local_files"):
        _, files = local_data_files(root, report=True)
        _, unsplit = local_data_files(root, "unsplit", report=True)
    assert sorted(files) == ["test", "train"] and "/split/" in files["train"][0]
    assert list(unsplit) == ["train"] and "/unsplit/" in unsplit["train"][0]
    assert caplog.messages == [
        f"data.path {root} read as a dataset folder, configuration 'split' (the README's "
        "default; data.hub_config picks another: split, unsplit): train (1 file), test (1 file)",
        f"data.path {root} read as a dataset folder, configuration 'unsplit' "
        "(data.hub_config): train (1 file)",
    ]


def test_configuration_folders_without_a_readme_are_not_merged(tmp_path: Path) -> None:
    """tweet_eval's or GLUE's folders copied without the README: the same columns in each,
    which datasets' patterns would read as one split of mixed rows and label names."""
    root = tmp_path / "glue"
    _glue_snapshot(root, readme=False)
    with pytest.raises(
        DataError,
        match=r"the train split's files lie in several folders \(mrpc, sst2\), which are "
        r"configurations .* data\.hub_config=<folder>",
    ):
        local_data_files(root)
    assert [Path(f).parent.name for f in local_data_files(root, "mrpc")[1]["train"]] == ["mrpc"]
    with pytest.raises(DataError, match=r"no configuration 'cola'; it has mrpc, sst2 \("):
        local_data_files(root, "cola")  # the folders, not datasets' `default`
    # SmolTalk fetched with `--include "data/all/*" "data/smol-magpie-ultra/*"`: the folders
    # sit under `data/`; `data.hub_config=all` finds `data/all/`, and no other name merges them.
    smol = tmp_path / "smoltalk"
    for config in ("all", "smol-magpie-ultra"):
        for split in ("train", "test"):
            _shards(smol / "data" / config, split, [{"messages": [], "source": config}], 1)
    for config in (None, "default"):
        with pytest.raises(DataError, match=r"several folders \(all, smol-magpie-ultra\)"):
            local_data_files(smol, config)
    picked = local_data_files(smol, "all")[1]
    assert {Path(f).parent.name for files in picked.values() for f in files} == {"all"}
    # One configuration's folder (stanfordnlp/imdb's `plain_text/`) is read as it is.
    only = tmp_path / "imdb"
    _shards(only / "plain_text", "train", [{"text": "a", "label": 0}], 1)
    _shards(only / "plain_text", "test", [{"text": "b", "label": 1}], 1)
    assert sorted(local_data_files(only)[1]) == ["test", "train"]


def test_a_save_to_disk_folder_keeps_its_splits_and_label_names(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """`DatasetDict.save_to_disk` output: its splits, and its `ClassLabel` names reach the
    model's id2label."""
    import datasets

    from lab.build import build_datamodule
    from lab.training.tokenizers import build_tokenizer

    features = datasets.Features(
        {"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["neg", "pos"])}
    )
    split_rows = {"train": 40, "validation": 8, "test": 10}
    saved = datasets.DatasetDict(
        {
            split: datasets.Dataset.from_dict(
                {
                    "text": [f"{split} text {i}" for i in range(n)],
                    "label": [i % 2 for i in range(n)],
                },
                features=features,
            )
            for split, n in split_rows.items()
        }
    )
    saved.save_to_disk(str(tmp_path / "saved"))
    cfg = compose_cfg("model=tiny_bert", "data=json", f"data.path={tmp_path / 'saved'}")
    datamodule = build_datamodule(cfg, build_tokenizer(cfg))
    assert datamodule.raw_sizes == split_rows
    assert datamodule.model_kwargs()["id2label"] == {0: "neg", 1: "pos"}


def test_a_config_written_for_hub_split_names_reads_files_named_like_labs_splits(
    compose_cfg: Any,
) -> None:
    """`data=ultrachat` maps train -> train_sft and test -> test_sft; a local folder of
    train.jsonl / test.jsonl stands in for them (test is read, not carved)."""
    datamodule = _sft_datamodule(compose_cfg, SFT)
    sizes = datamodule.raw_sizes
    assert sizes["train"] + sizes["validation"] == len(_jsonl(SFT / "train.jsonl"))
    assert sizes["test"] == len(_jsonl(SFT / "test.jsonl"))
    assert datamodule.source_of("test") == str(SFT / "test.jsonl")


def test_a_bad_row_in_a_sharded_split_is_named_by_its_shard_and_row(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """Rows of a split of several shards are counted across them, in name order, and named
    in their own shard (s28a H1)."""
    root = tmp_path / "ultrachat_200k"
    _ultrachat_snapshot(root)
    second = sorted((root / "data").glob("train_sft-00001-*"))[0]
    import pyarrow.parquet as pq

    rows = pq.read_table(second).to_pylist()
    rows[4] = {**rows[4], "messages": [{"role": "robot", "content": "x"}]}
    _parquet(second, rows)
    with pytest.raises(DataError) as caught:
        _sft_datamodule(compose_cfg, root)
    assert str(caught.value).startswith(f"{second} row 5 (1-based) column 'messages'")
    assert "unknown role 'robot'" in str(caught.value)


def test_a_missing_column_is_named_before_any_model_loads(compose_cfg: Any, tmp_path: Path) -> None:
    """The config check reads the first shard of each split the run uses."""
    from lab.config.data_rules import check_local_data

    root = tmp_path / "glue"
    for split in ("train", "validation"):
        _shards(root / "sst2", split, [{"text": "hi", "label": 0}] * 4, 2)
    cfg = compose_cfg("model=tiny_bert", "data=sst2", f"data.path={root}")
    with pytest.raises(
        DataError,
        match=r"train-00000-of-00002-a3ecf92756993583\.parquet: column 'sentence' "
        r"\(data\.text_column\) is not in the train split; columns present: text, label",
    ):
        check_local_data(cfg)


def test_a_hub_dataset_folder_streams_shard_by_shard(tmp_path: Path) -> None:
    from lab.data.sources import Source
    from lab.data.streaming import open_splits

    root = tmp_path / "ultrachat_200k"
    train_rows, _ = _ultrachat_snapshot(root)
    splits, origins = open_splits(Source(path=str(root)))
    assert splits["train_sft"].num_shards == 3
    assert origins["train_sft"].describe() == f"{root} split train_sft"
    assert sum(1 for _ in splits["train_sft"]) == train_rows


def test_an_empty_folder_says_which_layouts_are_read(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("nothing here")
    with pytest.raises(DataError, match=r"holds no data files: expected train\..*save_to_disk"):
        local_data_files(tmp_path)


def test_files_whose_names_say_no_split_are_train_as_datasets_reads_them(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# reviews\n")
    (tmp_path / "reviews.csv").write_text("text,label\ngood,1\nbad,0\n")
    assert local_data_files(tmp_path) == ("csv", {"train": [str(tmp_path / "reviews.csv")]})


# Every head's fixture, and the overrides that read it (as in tests/test_golden_heads.py).
HEAD_FIXTURES = {
    "text_classification": (("model=tiny_bert", "data=csv", "data.text_column=review",
        "data.label_column=sentiment"), FIXTURES / "sentiment"),
    "token_classification": (("model=tiny_bert", "data=conll2003"), FIXTURES / "ner"),
    "multi_label": (("model=tiny_bert", "data=go_emotions", "data.label_names=null"),
        FIXTURES / "aspects"),
    "regression": (("model=tiny_bert", "data=json", "data.problem_type=regression",
        "task=text_regression", "data.label_column=score"), FIXTURES / "ratings"),
    "question_answering": (("model=tiny_bert", "data=squad", "data.max_length=64",
        "data.doc_stride=16"), FIXTURES / "squad"),
    "multiple_choice": (("model=tiny_bert", "data=swag"), FIXTURES / "multiple_choice" / "swag"),
    "summarization": (("model=tiny_bart", "data=xsum"), FIXTURES / "summaries"),
    "translation": (("model=tiny_bart", "data=wmt16_ro_en"), FIXTURES / "translation"),
    "sft": (("model=tiny_llama", "data=chat"), SFT),
    "preferences": (("model=tiny_llama", "data=preferences"), FIXTURES / "preferences"),
}  # fmt: skip


def _fixture_rows(file: Path) -> list[dict[str, Any]]:
    if file.suffix == ".csv":
        import csv

        with file.open(newline="") as handle:
            return list(csv.DictReader(handle))
    return _jsonl(file)


@pytest.mark.parametrize("head", sorted(HEAD_FIXTURES))
def test_every_head_reads_its_data_from_a_hub_dataset_folder_as_from_files(
    head: str, compose_cfg: Any, tmp_path: Path
) -> None:
    """The fixture's files rewritten as the Hub stores a dataset (Parquet shards under
    `data/`, README configs) give the same splits and the same tokenized rows."""
    from lab.build import build_datamodule
    from lab.training.tokenizers import build_tokenizer

    options, folder = HEAD_FIXTURES[head]
    snapshot = tmp_path / "snapshot"
    splits = {}
    for file in sorted(folder.iterdir()):
        if file.stem in ("train", "validation", "test") and file.suffix in (".csv", ".jsonl"):
            _shards(snapshot / "data", file.stem, _fixture_rows(file), 1)
            splits[file.stem] = f"data/{file.stem}-*"
    _readme(snapshot, {"default": splits})

    def built(path: Path) -> Any:
        cfg = compose_cfg(*options, f"data.path={path}", output_dir=tmp_path / path.name)
        return build_datamodule(cfg, build_tokenizer(cfg))

    from_files, from_hub_folder = built(folder), built(snapshot)
    assert from_hub_folder.raw_sizes == from_files.raw_sizes
    for split in ("train", "validation", "test"):
        ours, theirs = from_hub_folder.datasets[split], from_files.datasets[split]
        assert ours.column_names == theirs.column_names
        assert ours["input_ids"] == theirs["input_ids"], split


def test_a_parquet_split_that_cannot_be_read_is_not_called_mis_encoded(tmp_path: Path) -> None:
    """Shards of one split with different columns: datasets' own reason, not "not valid UTF-8"
    (Parquet is binary: the encoding probe is for text files)."""
    from lab.data.sources import load_local

    _parquet(tmp_path / "train-00000-of-00002.parquet", [{"text": "a", "label": 0}])
    _parquet(tmp_path / "train-00001-of-00002.parquet", [{"sentence": "b", "label": 1}])
    with pytest.raises(
        DataError,
        match=r"the train split's files have different columns: .*train-00000-of-00002.parquet "
        r"has text, label; .*train-00001-of-00002.parquet has sentence, label$",
    ) as caught:
        load_local(tmp_path)
    assert "UTF-8" not in str(caught.value)


def test_a_failed_load_lab_words_prints_none_of_datasets_own_error_lines(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """datasets logs `Failed to read file ...` (with a schema dump) before it raises; where lab
    words the failure in one line, those records are not handed on (they repeated it, with
    offsets that contradicted lab's)."""
    from lab.data.sources import load_local

    _parquet(tmp_path / "train-00000-of-00002.parquet", [{"text": "a", "label": 0}])
    _parquet(tmp_path / "train-00001-of-00002.parquet", [{"sentence": "b", "label": 1}])
    latin = tmp_path / "latin" / "train.csv"
    latin.parent.mkdir()
    latin.write_bytes("text,label\ncaf\xe9,1\n".encode("latin-1"))
    with caplog.at_level(logging.DEBUG):
        for path in (tmp_path, latin):
            with pytest.raises(DataError):
                load_local(path)
    assert [r.getMessage() for r in caplog.records if r.name.startswith("datasets")] == []


def test_a_split_file_of_other_columns_that_is_not_read_does_not_stop_the_run(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """A Kaggle folder: train.csv with labels, test.csv without (id, text). With the test split
    carved from train (`data.splits.test=null`), test.csv's other columns do not matter."""
    from lab.build import build_datamodule
    from lab.training.tokenizers import build_tokenizer

    rows = [f"review {i},{'good' if i % 2 else 'bad'}" for i in range(40)]
    (tmp_path / "train.csv").write_text("\n".join(["text,category", *rows]) + "\n")
    (tmp_path / "test.csv").write_text("id,text\n1,unlabeled\n2,rows\n")
    cfg = compose_cfg(
        "model=tiny_bert",
        "data=csv",
        f"data.path={tmp_path}",
        "data.label_column=category",
        "data.splits.test=null",
    )
    datamodule = build_datamodule(cfg, build_tokenizer(cfg))
    assert sum(datamodule.raw_sizes.values()) == 40
    assert datamodule.label_names == ["bad", "good"]


def test_split_files_whose_column_types_differ_are_read_each_with_its_own(tmp_path: Path) -> None:
    """A regression test.csv of whole numbers (all -1, or scores 0/1/2) beside float train
    scores: one joint schema cannot hold both (datasets failed: `Float value -0.56 was
    truncated converting to int64`); each split is read alone, with its own types, and the
    head's checks decide later (the all -1 refusal, tested in test_label_findings)."""
    from lab.data.sources import load_local

    (tmp_path / "train.csv").write_text("text,label\na,-0.56\nb,2.25\n")
    (tmp_path / "validation.csv").write_text("text,label\nc,1.5\n")
    (tmp_path / "test.csv").write_text("text,label\nd,-1\ne,-1\n")
    loaded = load_local(tmp_path)
    assert loaded["train"]["label"] == [-0.56, 2.25]
    assert loaded["validation"]["label"] == [1.5]
    assert loaded["test"]["label"] == [-1, -1]
    assert loaded["test"].features["label"].dtype == "int64"


@pytest.mark.slow
def test_regression_trains_on_a_whole_number_test_split_beside_float_scores(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """Valid whole-number scores in one split file (0, 1, 2) train and score as numbers."""
    from lab.train import run

    data = tmp_path / "data"
    data.mkdir()
    scores = [0.5, 1.25, -0.75, 2.5] * 2
    rows = "".join(f"{w} {w},{s}\n" for w, s in zip("abcdefgh", scores, strict=True))
    (data / "train.csv").write_text("text,label\n" + rows)
    (data / "validation.csv").write_text("text,label\n" + rows[:24])
    (data / "test.csv").write_text("text,label\na a,0\nb b,1\nc c,2\nd d,1\n")
    overrides = ["model=tiny_bert", "task=text_regression", "data=csv", f"data.path={data}"]
    overrides += ["data.problem_type=regression", "trainer.max_epochs=1", "logger=csv"]
    metrics = run(compose_cfg(*overrides))
    assert metrics["test/mse"] >= 0 and math.isfinite(metrics["test/mse"])


def test_a_missing_relative_data_path_names_the_folder_it_was_read_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """s22b M2: a relative path (on the command line or in a --config-dir file) is read from
    the folder lab runs in; the refusal says which folder that was."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError) as refused:
        local_data_files("data/x.csv")
    assert str(refused.value) == (
        f"data.path does not exist: data/x.csv (relative to {tmp_path}, where lab runs)"
    )


def test_a_glob_is_refused_with_the_folder_to_give(tmp_path: Path) -> None:
    """`data.path=<folder>/train-*.parquet` (datasets' data_files idiom) was "does not exist"
    though it matched 3 shards (s33b F2): now said to be a pattern, with how many files it
    matches and the folder to give, whose Hub-named shards are then read as their splits."""
    rows = [{"text": f"row {i}", "label": i % 2} for i in range(9)]
    _shards(tmp_path, "train", rows, 3)
    pattern = tmp_path / "train-*.parquet"
    with pytest.raises(DataError) as caught:
        local_data_files(pattern)
    assert str(caught.value) == (
        f"data.path={pattern} is a pattern (it matches 3 file(s)); data.path takes a file or a "
        f"folder: give the folder, data.path={tmp_path}, whose files named after a split "
        "(train.jsonl, or Hub shards train-00000-of-00003.parquet) are read as that split"
    )
    with pytest.raises(DataError, match=r"is a pattern \(it matches no file\)"):
        local_data_files(tmp_path / "nothing-*.jsonl", key="data.interleave[1].path")
    _, files = local_data_files(tmp_path)  # the folder advised: the three shards, as train
    assert [Path(f).name for f in files["train"]] == sorted(p.name for p in tmp_path.iterdir())
