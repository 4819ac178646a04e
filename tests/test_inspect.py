"""`lab.inspect`: hand-computed numbers on a fixture written here (percentiles, duplicates,
leakage exact and normalised, truncation share, suggested length, class weights), every
head's data, the JSON and PNG files, and one-line refusals (exit 2)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from lab.data.inspection import inspect_data
from lab.data.inspection_stats import percentiles, suggested_max_length
from lab.data.splits import read_splits
from lab.inspect import main

from conftest import FIXTURES, lab_cli

PNG = b"\x89PNG\r\n\x1a\n"
# "the" is one token of the tiny BERT vocabulary: a row of n words is n + 2 tokens.
TRAIN = [
    ("the", "a"),
    ("the the", "a"),
    ("the the the", "a"),
    ("the the the the", "a"),
    ("the the the the the", "a"),
    ("the the the the the the", "a"),
    ("the the the the the the the", "a"),
    ("the the the the the the the the", "a"),
    ("the the the the the the the the", "a"),  # an exact duplicate of the row above
    ("The  the THE", "b"),  # row 3 after normalising case and whitespace
    ("", "b"),  # empty
]
VALIDATION = [("the the", "a"), ("THE the  the the", "b"), (" ".join(["the"] * 10), "a")]
TEST = [("the the the the the", "a"), (" ".join(["the"] * 9), "b")]


@pytest.fixture
def reviews(tmp_path: Path) -> Path:
    folder = tmp_path / "reviews"
    folder.mkdir()
    for split, rows in (("train", TRAIN), ("validation", VALIDATION), ("test", TEST)):
        with (folder / f"{split}.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["review", "sentiment"])
            writer.writerows(rows)
    return folder


def _args(folder: Path, *extra: str) -> list[str]:
    return [
        "model=tiny_bert",
        "data=csv",
        f"data.path={folder}",
        "data.text_column=review",
        "data.label_column=sentiment",
        "data.max_length=8",
        *extra,
    ]


def _inspect(compose_cfg: Any, *overrides: str) -> dict[str, Any]:
    from hydra.utils import instantiate

    cfg = compose_cfg(*overrides)
    report: dict[str, Any] = inspect_data(cfg, instantiate(cfg.model.tokenizer))["report"]
    return report


def test_numbers_by_hand(compose_cfg: Any, reviews: Path) -> None:
    report = _inspect(compose_cfg, *_args(reviews))
    train = report["splits"]["train"]
    assert [report["splits"][s]["rows"] for s in ("train", "validation", "test")] == [11, 3, 2]
    assert report["carved"] == []
    assert train["empty"] == 1
    assert train["duplicates"] == 1 and train["duplicates_normalized"] == 2
    # Tokens per row: 3..10, 10, 5 and 2 (the empty row: [CLS] [SEP]); sorted
    # 2 3 4 5 5 6 7 8 9 10 10. Nearest rank: p50 the 6th, p90 the 10th, p95/p99 the 11th.
    lengths = train["lengths"]["review"]
    assert lengths == {
        "measured_rows": 11,
        "p50": 6,
        "p90": 10,
        "p95": 10,
        "p99": 10,
        "max": 10,
        "truncated": pytest.approx(3 / 11),  # 9, 10, 10 > data.max_length=8
    }
    # p95 = 10 rounded up to a multiple of 8; the tiny BERT takes 512.
    assert report["max_length"]["review"] == {
        "key": "data.max_length",
        "current": 8,
        "suggested": 16,
    }
    assert report["model_max_length"] == 512
    # Validation: "the the" is a train row; "THE the  the the" is one after normalising.
    assert report["leakage"] == {
        "validation": {"exact": 1, "normalized": 2},
        "test": {"exact": 1, "normalized": 1},
    }
    # Labels: 9 a, 2 b; weights n / (k * count).
    labels = report["labels"]
    assert labels["counts"] == {"a": 9, "b": 2}
    assert labels["class_weights"] == {"a": pytest.approx(11 / 18), "b": pytest.approx(11 / 4)}
    assert labels["imbalance_ratio"] == pytest.approx(4.5)
    warnings = " | ".join(report["warnings"])
    assert "imbalanced labels" in warnings and "class_weights=balanced" in warnings
    assert "train: 1 empty row" in warnings and "train: 1 duplicate row" in warnings
    assert "leakage: 1 validation row(s) also in train (2 after normalising" in warnings
    assert "data.max_length=8 truncates 27% of train rows" in warnings


def test_percentiles_and_suggested_lengths() -> None:
    assert percentiles([5, 1, 4, 2, 3]) == {"p50": 3, "p90": 5, "p95": 5, "p99": 5, "max": 5}
    assert percentiles(list(range(1, 101))) == {
        "p50": 50,
        "p90": 90,
        "p95": 95,
        "p99": 99,
        "max": 100,
    }
    assert suggested_max_length(8, None) == 8
    assert suggested_max_length(9, None) == 16
    assert suggested_max_length(127, None) == 128
    assert suggested_max_length(130, None) == 160  # multiples of 32 from 128 on
    assert suggested_max_length(600, 512) == 512  # never past the model's limit


def test_a_carved_split_is_the_one_training_carves(compose_cfg: Any, tmp_path: Path) -> None:
    from hydra.utils import instantiate

    from lab.data.inspection import load_splits

    folder = tmp_path / "only_train"
    folder.mkdir()
    rows = (FIXTURES / "sentiment" / "train.csv").read_text()
    (folder / "train.csv").write_text(rows)
    cfg = compose_cfg(
        "model=tiny_bert",
        "data=csv",
        f"data.path={folder}",
        "data.text_column=review",
        "data.label_column=sentiment",
        "data.max_train_samples=20",
    )
    splits, carved = load_splits(cfg.data)
    assert carved == ["test", "validation"]
    data = instantiate(cfg.data, tokenizer=instantiate(cfg.model.tokenizer), _convert_="all")
    trained = read_splits(data)  # what training reads, row for row
    for name in ("train", "validation", "test"):
        assert splits[name]["review"][:] == trained[name]["review"][:], name


def test_inspect_refuses_a_train_split_too_small_to_carve(compose_cfg: Any, tmp_path: Path) -> None:
    """`lab.inspect` words a split it cannot carve as training does (one shared rule)."""
    from lab.data.inspection import load_splits
    from lab.errors import DataError

    folder = tmp_path / "one_row"
    folder.mkdir()
    header, first = (FIXTURES / "sentiment" / "train.csv").read_text().splitlines()[:2]
    (folder / "train.csv").write_text(f"{header}\n{first}\n")
    cfg = compose_cfg(
        "model=tiny_bert",
        "data=csv",
        f"data.path={folder}",
        "data.text_column=review",
        "data.label_column=sentiment",
    )
    with pytest.raises(DataError, match="has 1 row\\(s\\); too few to carve a test split"):
        load_splits(cfg.data)


@pytest.mark.parametrize(
    ("overrides", "sequences", "label"),
    [
        (("data=conll2003", f"data.path={FIXTURES / 'ner'}"), ["tokens"], True),
        (("data=go_emotions", f"data.path={FIXTURES / 'aspects'}"), None, True),
        (
            ("data=squad", f"data.path={FIXTURES / 'squad'}", "data.splits.validation=validation"),
            ["question + context"],
            False,
        ),
        (("data=xsum", f"data.path={FIXTURES / 'summaries'}"), ["document", "summary"], False),
        (("data=wmt16_ro_en", f"data.path={FIXTURES / 'translation'}"), None, False),
        (("data=text", f"data.path={FIXTURES / 'lm'}"), ["text"], False),
        (
            ("data=swag", f"data.path={FIXTURES / 'multiple_choice' / 'swag'}"),
            ["sent1 + sent2 + choices"],
            True,
        ),
        (("task=masked_lm", "data=text", f"data.path={FIXTURES / 'lm'}"), ["text"], False),
    ],
)
def test_every_heads_data(
    compose_cfg: Any, overrides: tuple[str, ...], sequences: list[str] | None, label: bool
) -> None:
    report = _inspect(compose_cfg, "model=tiny_bert", *overrides)
    train = report["splits"]["train"]
    assert train["rows"] > 0
    if sequences is not None:
        assert list(train["lengths"]) == sequences
    for stats in train["lengths"].values():
        assert 2 <= stats["p50"] <= stats["p90"] <= stats["p95"] <= stats["p99"] <= stats["max"]
    assert bool(report["labels"].get("counts")) is label


def test_the_tool_writes_json_and_png(reviews: Path, tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "report"
    assert main([*_args(reviews), f"out={out}"]) == 0
    printed = capsys.readouterr().out
    assert "suggested 16" in printed and f"wrote {out / 'inspect.json'}" in printed
    report = json.loads((out / "inspect.json").read_text())
    assert report["data"] == "csv" and report["model"] == "tiny_bert"
    assert report["splits"]["train"]["lengths"]["review"]["p50"] == 6
    assert report["seconds"] > 0
    assert (out / "lengths.png").read_bytes()[:8] == PNG


def test_bad_input_is_one_line_and_exit_2(reviews: Path, tmp_path: Path) -> None:
    result = lab_cli("inspect", *_args(reviews, "data.text_column=body"), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "body" in lines[0] and "review" in lines[0], result.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["data=csv", "data.path=/nowhere/reviews.csv"], "/nowhere/reviews.csv"),
        (["data=nosuch"], "nosuch"),
        (["data=csv", "data.path=x", "sample=-1"], "sample=-1"),
        (["colour=red"], "unknown option 'colour'"),
    ],
)
def test_more_bad_input(args: list[str], words: str, tmp_path: Path) -> None:
    result = lab_cli("inspect", "model=tiny_bert", *args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert words in result.stderr and result.stderr.startswith("error: "), result.stderr
