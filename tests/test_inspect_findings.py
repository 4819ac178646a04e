"""Acceptance findings on reading data and on `lab.inspect`: a folder of split files says which
file is which split and names the data files it does not read; inspect reports the share of
unknown tokens, hidden (-1) and empty labels in every split, rounded label numbers, and prints
its tables whole when piped."""

from __future__ import annotations

import csv
import gzip
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf

from lab.data.local_files import local_data_files
from lab.log_records import is_file_only

from conftest import FIXTURES


def _csv(
    path: Path, rows: list[tuple[Any, ...]], header: tuple[str, ...] = ("text", "label")
) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


# ----------------------------------------------------------------------------- F17
def test_a_folder_of_split_files_names_its_splits_and_warns_of_files_not_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "extra"
    root.mkdir()
    for name in ("train.csv", "dev.csv", "test.csv", "train_augmented.csv", "unlabeled.csv"):
        _csv(root / name, [("good", 1)])
    (root / "README.md").write_text("# notes\n")  # not a data file: not listed
    (root / "old").mkdir()
    with caplog.at_level(logging.INFO, logger="lab.data.local_files"):
        builder, files = local_data_files(root, report=True)
    assert builder == "csv" and sorted(files) == ["test", "train", "validation"]
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        (
            "WARNING",
            f"data.path {root} read as a folder of split files: train=train.csv, "
            "validation=dev.csv, test=test.csv; not read: train_augmented.csv, unlabeled.csv "
            "(a split is read from the one file named after it: merge other rows into that "
            "file to use them)",
        )
    ]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="lab.data.local_files"):
        local_data_files(root)  # the config check: quiet
    assert caplog.records == []


def test_a_folder_of_only_split_files_is_a_report_for_the_log_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "plain"
    root.mkdir()
    for name in ("train.jsonl.gz", "validation.jsonl.gz"):
        (root / name).write_bytes(gzip.compress(b'{"text": "a", "label": 0}\n'))
    (root / "notes.txt.bak").write_text("not data")
    with caplog.at_level(logging.INFO, logger="lab.data.local_files"):
        local_data_files(root, report=True)
    [record] = caplog.records
    assert record.levelname == "INFO" and is_file_only(record)  # train.log, not the console
    assert record.getMessage() == (
        f"data.path {root} read as a folder of split files: train=train.jsonl.gz, "
        "validation=validation.jsonl.gz"
    )


# ----------------------------------------------------------------------------- lab.inspect
def _inspect(compose_cfg: Any, folder: Path, *overrides: str) -> dict[str, Any]:
    from hydra.utils import instantiate

    from lab.data.inspection import inspect_data

    cfg = compose_cfg(
        "data=csv",
        f"data.path={folder}",
        "data.text_column=text",
        "data.label_column=label",
        *overrides,
    )
    report: dict[str, Any] = inspect_data(cfg, instantiate(cfg.model.tokenizer))["report"]
    return report


def _splits(root: Path, **splits: list[tuple[Any, ...]]) -> Path:
    root.mkdir()
    for split, rows in splits.items():
        _csv(root / f"{split}.csv", rows)
    return root


ENGLISH = [("the film", "pos"), ("the the", "neg"), ("the", "pos"), ("the the the", "neg")]


def test_the_share_of_unknown_tokens_is_reported_and_warned_of(
    compose_cfg: Any, tmp_path: Path
) -> None:
    # Under the tiny BERT's English WordPiece vocabulary every Chinese character and the emoji
    # is [UNK]; "the" is a token of its own.
    folder = _splits(
        tmp_path / "zh",
        train=ENGLISH,
        validation=[("这部电影", "pos"), ("the 😀", "neg")],
        test=ENGLISH[:2],
    )
    report = _inspect(compose_cfg, folder, "model=tiny_bert")
    # validation: 4 + 1 unknown of 6 text tokens ([CLS] and [SEP] are not counted)
    assert report["splits"]["validation"]["unknown_tokens"] == pytest.approx(5 / 6)
    assert report["splits"]["train"]["unknown_tokens"] == 0.0
    assert report["unknown_token"] == "[UNK]"
    assert (
        "validation: 83% of tokens are the unknown token [UNK]: this tokenizer does not cover "
        "the text (language, script, emoji?); WordPiece also makes one unknown token of any "
        "run of more than 100 characters without a space (Thai, Japanese kana, a URL), so the "
        "token lengths and the suggested maximum can undercount such text"
    ) in report["warnings"]
    assert not any(w.startswith(("train: ", "test: ")) for w in report["warnings"])


def test_a_byte_level_tokenizer_has_no_unknown_tokens_to_count(
    compose_cfg: Any, tmp_path: Path
) -> None:
    # GPT-2 names <|endoftext|> its unknown token, but text never becomes it.
    folder = _splits(tmp_path / "zh", train=ENGLISH, validation=[("这部电影", "pos")] * 2)
    report = _inspect(compose_cfg, folder, "model=tiny_gpt2")
    assert report["unknown_token"] is None
    assert all("unknown_tokens" not in e for e in report["splits"].values())
    assert not any("unknown token" in w for w in report["warnings"])


def test_hidden_and_empty_labels_are_warned_of_in_every_split(
    compose_cfg: Any, tmp_path: Path
) -> None:
    folder = _splits(
        tmp_path / "glue",
        train=[("the film", 1), ("the the", 0), ("the", ""), ("a", 1), ("the a", 0)],
        validation=[("a a", 0), ("a the", -1), ("the a a", -1)],  # SNLI: rows without gold
        test=[("a b", -1), ("the b", -1)],  # GLUE: every test label hidden
    )
    report = _inspect(compose_cfg, folder, "model=tiny_bert")
    gaps = {name: entry["label_gaps"] for name, entry in report["splits"].items()}
    assert gaps == {
        "train": {"empty": 1, "hidden": 0, "first_empty": f"{folder / 'train.csv'}:4"},
        "validation": {"empty": 0, "hidden": 2},
        "test": {"empty": 0, "hidden": 2},
    }
    assert {
        # named as training names the row (the file's line 4: its header is line 1)
        f"train: 1 row has no label (an empty cell) ({folder / 'train.csv'}:4): lab.train "
        "refuses it",
        # a split of its own: replaced as training advises (rows of train would be removed)
        "validation: 2 rows have label -1 (a hidden label, as SNLI's rows without a gold "
        "label): lab.train refuses them; data.drop_labels=[-1] leaves them out of every split",
        "test: every label is -1 (hidden labels, as in GLUE's test splits): lab.train refuses "
        "this split; map data.splits.test to a labeled split (or null to carve it from train)",
    } <= set(report["warnings"])


def test_label_gaps_read_text_labels_and_spare_a_class_named_minus_one(tmp_path: Path) -> None:
    from datasets import Dataset

    from lab.data.inspection_stats import label_gaps

    text = Dataset.from_dict({"label": ["pos", " ", None, "-1", " -1"]})
    # `first_empty`: the first empty cell's row (0-based), for the warning to name
    assert label_gaps(text, "label") == {"empty": 2, "hidden": 2, "first_empty": 1}
    numbers = Dataset.from_dict({"label": [1.0, float("nan"), None, -1.0]})
    assert label_gaps(numbers, "label") == {"empty": 2, "hidden": 1, "first_empty": 1}
    assert label_gaps(numbers, "label", hidden=False) == {"empty": 2, "hidden": 0, "first_empty": 1}
    tags = Dataset.from_dict({"label": [[0, -1], None]})  # lists: only a null cell counts
    assert label_gaps(tags, "label") == {"empty": 1, "hidden": 0, "first_empty": 1}
    assert label_gaps(Dataset.from_dict({"label": [0, 1]}), "label") == {"empty": 0, "hidden": 0}


def test_regression_labels_are_rounded_and_a_hidden_test_split_is_named(
    compose_cfg: Any, tmp_path: Path
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path / "stsb"
    folder.mkdir()
    scores = {"train": [0.04, 5.0, 2.5, 1.2], "validation": [1.0, 3.0], "test": [-1.0, -1.0]}
    for split, values in scores.items():
        table = pa.table(
            {
                "text": pa.array(["the", "the the", "a", "a the"][: len(values)]),
                "label": pa.array(values, type=pa.float32()),  # as STS-B on the Hub
            }
        )
        pq.write_table(table, folder / f"{split}.parquet")
    report = _inspect(compose_cfg, folder, "model=tiny_bert", "data.problem_type=regression")
    # float32 0.04 and 1.2 are 0.03999999910593033 and 1.2000000476837158 as float64
    assert report["labels"] == {"numeric": {"mean": 2.185, "min": 0.04, "max": 5.0}}
    assert (
        "test: every label is -1 (hidden labels, as in GLUE's test splits): its scores would "
        "be against -1; map data.splits.test to a labeled split (or null to carve it from train)"
    ) in report["warnings"]


def test_piped_tables_are_turned_not_cut(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    """At a pipe's 80 columns a table too wide is printed turned, every title and cell whole
    (rich cut them to `sequen…`, `trunca…`); text in brackets is not read as markup."""
    from lab.inspect import show

    monkeypatch.setenv("COLUMNS", "80")
    stats = {"measured_rows": 3, "p50": 20, "p90": 30, "p95": 31, "p99": 33, "max": 33}
    lengths = {
        "chat (messages)": {**stats, "truncated": 0.25, "dropped": 0.125},
        "translation[en]": stats,
    }
    report = {
        "data": "chat",
        "model": "tiny_bert",
        "carved": ["validation"],
        "splits": {
            name: {
                "rows": 3,
                "empty": 0,
                "duplicates": 0,
                "duplicates_normalized": 0,
                "lengths": lengths,
                "unknown_tokens": 0.5,
            }
            for name in ("train", "validation")
        },
        "unknown_token": "[UNK]",
        "leakage": {"validation": {"exact": 0, "normalized": 0}},
        "max_length": {},
        "model_max_length": 512,
        "labels": {"numeric": {"mean": 2.18512, "min": 0.03999999910593033, "max": 5.0}},
        "warnings": ["validation: 50% of tokens are the unknown token [UNK]: ..."],
    }
    show(report)
    printed = capsys.readouterr().out
    assert "…" not in printed
    assert max(len(line) for line in printed.splitlines() if "━" in line) <= 80
    for whole in (
        "chat (messages)",
        "translation[en]",
        "truncated",
        "dropped",
        "validation (carved)",
        "12.5%",
    ):
        assert whole in printed, whole
    assert "unknown tokens ([UNK]): train 50.0%, validation 50.0%" in printed
    assert "train labels: numbers, mean 2.185, min 0.04, max 5" in printed
    assert "warning: validation: 50% of tokens are the unknown token [UNK]: ..." in printed
    assert "up to 10,000 rows a split" in printed  # the default sample
    show({**report, "sample": 0})  # s23b L7: every row measured is not "sampled rows"
    assert "every row" in capsys.readouterr().out


def test_a_length_over_the_models_positions_is_warned_of_as_training_refuses_it(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """tiny_bert has 512 positions: data.max_length=1024 is training's refusal (said before
    it reads the data), said by inspect too; 128 fits and says nothing."""
    folder = _splits(tmp_path / "en", train=ENGLISH, validation=ENGLISH, test=ENGLISH)
    over = _inspect(compose_cfg, folder, "model=tiny_bert", "data.max_length=1024")
    assert over["positions"] == (
        "data.max_length=1024 is over the model's 512 positions (max_position_embeddings); "
        "set data.max_length=512 or less"
    )
    assert f"lab.train refuses this: {over['positions']}" in over["warnings"]
    fits = _inspect(compose_cfg, tmp_path / "en", "model=tiny_bert", "data.max_length=128")
    assert fits["positions"] is None
    assert not any("positions" in w for w in fits["warnings"])


def test_rotary_positions_are_no_limit_for_inspect_as_for_training(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """tiny_llama's config node names 1024 positions and no rope keys; the LlamaConfig it
    builds has rotary positions, which training does not limit (the run trains at 2048), so
    inspect says nothing either. Likewise a saved transformers 5 Llama config (rope_parameters,
    no rope_theta); a saved GPT-2 config keeps its learned table's limit."""
    from transformers import GPT2Config, LlamaConfig

    from lab.config.model_rules import positions_problem

    cfg = compose_cfg("model=tiny_llama", "data=chat", f"data.path={FIXTURES / 'sft'}")
    assert cfg.model.network.config.max_position_embeddings == 1024
    lengths = OmegaConf.create({"max_length": 2048})
    assert positions_problem(cfg.model, lengths) is None
    llama, gpt2 = tmp_path / "llama", tmp_path / "gpt2"
    LlamaConfig(max_position_embeddings=1024).save_pretrained(llama)
    GPT2Config(n_positions=1024).save_pretrained(gpt2)
    saved = json.loads((llama / "config.json").read_text())
    assert "rope_parameters" in saved and "rope_theta" not in saved
    for folder, refused in ((llama, None), (gpt2, "data.max_length=2048 is over the model's")):
        model = OmegaConf.create({"pretrained": str(folder)})
        found = positions_problem(model, lengths)
        assert found is None if refused is None else found.startswith(refused), found


def test_hidden_train_labels_are_to_be_removed_from_the_train_file(
    compose_cfg: Any, tmp_path: Path
) -> None:
    folder = _splits(
        tmp_path / "snli",
        train=[("the film", 1), ("the the", 0), ("the", -1), ("a", 1), ("the a", 0)],
        validation=[("a a", 0), ("a the", 1)],
        test=[("a b", 1), ("the b", 0)],
    )
    # Named classes (data.label_names, or a ClassLabel): -1 names none, a hidden label, as
    # training reads it.
    named = _inspect(compose_cfg, folder, "model=tiny_bert", "data.label_names=[neg,pos]")
    assert (
        "train: 1 row has label -1 (a hidden label, as SNLI's rows without a gold label): "
        "lab.train refuses them; data.drop_labels=[-1] leaves them out of every split"
    ) in named["warnings"]
    assert named["labels"]["counts"] == {"neg": 2, "pos": 2}
    # Bare integers -1, 0, 1 name three classes (training's line says so, and how to read -1
    # as SNLI's): inspect counts the classes training trains, -1 among them.
    bare = _inspect(compose_cfg, folder, "model=tiny_bert")
    assert not [w for w in bare["warnings"] if "hidden label" in w]
    assert bare["labels"]["counts"] == {"-1": 1, "0": 2, "1": 2}


@pytest.mark.parametrize(
    ("train", "counts"),
    [
        # a stray 5 beside 0 and 1: training makes 6 classes (2-4 without rows)
        ([("a", 0), ("b", 1), ("c", 1), ("d", 5)],
         {"0": 1, "1": 2, "2": 0, "3": 0, "4": 0, "5": 1}),
        # "negative " is training's "negative" (a label's spaces are not part of it)
        ([("a", "negative"), ("b", "negative "), ("c", "positive"), ("d", "positive")],
         {"negative": 2, "positive": 2}),
    ],
)  # fmt: skip
def test_the_balance_table_counts_the_classes_training_trains(
    compose_cfg: Any, tmp_path: Path, train: list[tuple[Any, ...]], counts: dict[str, int]
) -> None:
    """The table and its class weights come from training's own classes (`train_classes`),
    not a reading of its own: 3 classes and weights over 3 where training trains 6."""
    folder = _splits(tmp_path / "d", train=train, validation=train[:2], test=train[:2])
    report = _inspect(compose_cfg, folder, "model=tiny_bert")
    assert report["labels"]["counts"] == counts
    total, classes = sum(counts.values()), len(counts)
    for name, count in counts.items():
        weight = report["labels"]["class_weights"][name]
        assert weight == (pytest.approx(total / (classes * count)) if count else None)


def test_qa_contexts_over_the_maximum_are_windows_and_tags_are_counted_as_tags(
    compose_cfg: Any,
) -> None:
    """Extractive QA splits a long context into windows: inspect said "truncates 100%" of a
    head that cuts nothing. Token classification's balance counts tags (one per word): its
    table said "rows", and advised balanced class weights training refuses while a tag of
    the label list has no train word."""
    from lab.data.inspection import inspect_data
    from lab.training.tokenizers import build_tokenizer

    overrides = ("model=tiny_bert", "data=squad", f"data.path={FIXTURES / 'squad'}")
    cfg = compose_cfg(*overrides, "data.max_length=32", "data.doc_stride=8")
    report = inspect_data(cfg, build_tokenizer(cfg))["report"]
    [windows] = [w for w in report["warnings"] if "data.max_length=32" in w]
    assert windows.startswith("data.max_length=32: 100% of train rows are longer (question + ")
    assert "split into overlapping windows, none cut" in windows
    assert not any("truncates" in w for w in report["warnings"])
    cfg = compose_cfg("model=tiny_bert", "data=conll2003", f"data.path={FIXTURES / 'ner'}")
    report = inspect_data(cfg, build_tokenizer(cfg))["report"]
    assert report["label_unit"] == "tag"
    assert report["labels"]["counts"]["B-MISC"] == 0
    [imbalance] = [w for w in report["warnings"] if w.startswith("imbalanced labels")]
    assert (
        "x the tags of the smallest; task.module.class_weights=balanced needs train rows of "
        "every class (B-MISC, I-MISC have none): give one weight per class instead" in imbalance
    )


def test_multi_label_shares_are_of_rows_tags_of_tags() -> None:
    """s21a L2: in a multi-label table a class's share is of the rows holding it (2 of 4
    rows: 50%), not of the 6 labels given (33%); a head's tags (NER) stay shares of tags."""
    from lab.data.inspection_stats import label_balance

    rows = [[0, 1], [1], [0, 1, 2], [1]]
    per_row = label_balance(rows, ["joy", "anger", "fear"], per_row=True)
    assert per_row["counts"] == {"joy": 2, "anger": 4, "fear": 1}
    assert per_row["shares"] == {"joy": 0.5, "anger": 1.0, "fear": 0.25}
    tags = label_balance(rows, ["O", "B-PER", "I-PER"])
    assert tags["shares"] == {"O": 2 / 7, "B-PER": 4 / 7, "I-PER": 1 / 7}
