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
from lab.data.inspection_stats import percentiles, suggested_max_length, summarize_facts
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


def test_regression_scores_are_numbers_not_classes(compose_cfg: Any, tmp_path: Path) -> None:
    # STS-B's scores include whole numbers (0.0, 5.0): with data.problem_type=regression they
    # are summarised as numbers, and no class-weight advice follows, whatever their values.
    folder = tmp_path / "scores"
    folder.mkdir()
    for split in ("train", "validation", "test"):
        with (folder / f"{split}.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["review", "sentiment"])
            writer.writerows([("the", 5.0), ("the the", 5.0), ("the the the", 5.0), ("a", 0.0)])
    report = _inspect(compose_cfg, *_args(folder, "data.problem_type=regression"))
    assert report["labels"] == {"numeric": {"mean": 3.75, "min": 0.0, "max": 5.0}}
    assert not any("imbalanced" in warning for warning in report["warnings"])


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


def _sentiment_csv(compose_cfg: Any, folder: Path, *overrides: str) -> Any:
    """The config of `data=csv` on a folder of sentiment-fixture CSV files."""
    return compose_cfg(
        "model=tiny_bert",
        "data=csv",
        f"data.path={folder}",
        "data.text_column=review",
        "data.label_column=sentiment",
        *overrides,
    )


def test_a_carved_split_is_the_one_training_carves(compose_cfg: Any, tmp_path: Path) -> None:
    from hydra.utils import instantiate

    from lab.data.inspection import load_splits

    folder = tmp_path / "only_train"
    folder.mkdir()
    rows = (FIXTURES / "sentiment" / "train.csv").read_text()
    (folder / "train.csv").write_text(rows)
    cfg = _sentiment_csv(compose_cfg, folder, "data.max_train_samples=20")
    splits, carved = load_splits(cfg.data)
    assert carved == ["test", "validation"]
    data = instantiate(cfg.data, tokenizer=instantiate(cfg.model.tokenizer), _convert_="all")
    trained = read_splits(data)  # what training reads
    for name in ("train", "validation", "test"):
        # the same rows, in file order (a carved split is a shuffle; "the first" row a
        # warning names is then the file's first, as training's errors name it)
        assert sorted(splits[name]["review"][:]) == sorted(trained[name]["review"][:]), name
        indices = splits.places[name][1]
        assert list(indices) == sorted(indices), name


def test_inspect_refuses_a_train_split_too_small_to_carve(compose_cfg: Any, tmp_path: Path) -> None:
    """`lab.inspect` words a split it cannot carve as training does (one shared rule)."""
    from lab.data.inspection import load_splits
    from lab.errors import DataError

    folder = tmp_path / "one_row"
    folder.mkdir()
    header, first = (FIXTURES / "sentiment" / "train.csv").read_text().splitlines()[:2]
    (folder / "train.csv").write_text(f"{header}\n{first}\n")
    cfg = _sentiment_csv(compose_cfg, folder)
    with pytest.raises(DataError, match="has 1 row\\(s\\); too few to carve a test split"):
        load_splits(cfg.data)


@pytest.mark.parametrize(
    ("overrides", "sequences", "label"),
    [
        (("data=conll2003", f"data.path={FIXTURES / 'ner'}"), ["tokens"], True),
        (
            ("data=go_emotions", f"data.path={FIXTURES / 'aspects'}", "data.label_names=null"),
            None,
            True,
        ),
        (
            ("data=squad", f"data.path={FIXTURES / 'squad'}", "data.splits.validation=validation"),
            ["question + context"],
            False,
        ),
        (("data=xsum", f"data.path={FIXTURES / 'summaries'}"), ["document", "summary"], False),
        (
            ("data=wmt16_ro_en", f"data.path={FIXTURES / 'translation'}"),
            ["translation[en]", "translation[ro]"],
            False,
        ),
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
    # A data option that does not exist: lab.train's one line, not Hydra's three.
    result = lab_cli("inspect", *_args(reviews, "data.foo=1"), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: 'data.foo' is not a config key. Valid keys of data: "), line


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


def test_a_streamed_dataset_is_read_whole_and_says_so(reviews: Path, tmp_path: Path) -> None:
    result = lab_cli("inspect", *_args(reviews), "data.streaming=true", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(
        "data.streaming=true: lab.inspect reads the splits whole, as map-style data; a "
        "streamed run cuts a missing validation/test split from the head of train"
    )


# ----------------------------------------------------------------------------- chat and pairs
# The tiny Llama's chat template: <|begin_of_text|>, then per message a 5-token header
# (<|start_header_id|> role <|end_header_id|> \n \n), the content and <|eot_id|>: a chat has
# 1 + sum(6 + content tokens) tokens, and the prompt before an assistant turn ends with that
# turn's header (5 tokens). `_tiny_llama` checks the content tokens below.
CONTENT_TOKENS = {"hi": 1, "ok": 1, "the": 1, "hi there": 2, "a b c": 3, "What is two plus two?": 6}
ASK = "What is two plus two?"


def _chat(*turns: tuple[str, str]) -> list[dict[str, str]]:
    return [{"role": role, "content": content} for role, content in turns]


def _jsonl(folder: Path, **splits: list[dict[str, Any]]) -> Path:
    folder.mkdir()
    for split, rows in splits.items():
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def _tiny_llama(compose_cfg: Any, *overrides: str) -> tuple[dict[str, Any], Any]:
    from hydra.utils import instantiate

    cfg = compose_cfg("model=tiny_llama", *overrides)
    tokenizer = instantiate(cfg.model.tokenizer)
    for text, count in CONTENT_TOKENS.items():
        assert len(tokenizer(text, add_special_tokens=False)["input_ids"]) == count, text
    return inspect_data(cfg, tokenizer)["report"], tokenizer


def test_chat_rows_are_measured_as_templated_tokens(compose_cfg: Any, tmp_path: Path) -> None:
    hi_ok = {"messages": _chat(("user", "hi"), ("assistant", "ok"))}
    folder = _jsonl(
        tmp_path / "chats",
        train=[
            hi_ok,  # 1 + 7 + 7 = 15 tokens; the answer starts at 1 + 7 + 5 = 13
            {  # 1 + 7 + 8 + 7 + 7 + 9 = 39; first answer at 1 + 7 + 8 + 5 = 21 >= 20: dropped
                "messages": _chat(
                    ("system", "the"),
                    ("user", "hi there"),
                    ("assistant", "ok"),
                    ("user", "hi"),
                    ("assistant", "a b c"),
                )
            },
            {"messages": _chat(("user", "hi"), ("assistant", " "))},  # empty answer
            {"messages": _chat(("user", "hi"), ("bot", "ok"))},  # a role training refuses
            hi_ok,  # a duplicate: 15
            {"messages": _chat(("user", "the"), ("assistant", "hi there"))},  # 16
            {"messages": _chat(("user", ASK), ("assistant", "a b c"))},  # 22 > 20, answer at 18
        ],
        validation=[
            # 30 tokens. Evaluation generates the last turn, so its prompt is all before it:
            # 1 + 7 + 7 + 7 + 5 = 27 >= 20, dropped (as a train row it would be truncated).
            {
                "messages": _chat(
                    ("user", "hi"), ("assistant", "ok"), ("user", "the"), ("assistant", "hi there")
                )
            },
            hi_ok,  # 15, also a train row
        ],
        test=[{"messages": _chat(("user", "ok"), ("assistant", "hi"))}],  # 15
    )
    report, _ = _tiny_llama(compose_cfg, "data=chat", f"data.path={folder}", "data.max_length=20")
    train, validation = report["splits"]["train"], report["splits"]["validation"]
    assert [train["rows"], train["empty"], train["duplicates"]] == [7, 0, 1]
    # Measured: 15 39 15 16 22, sorted 15 15 16 22 39; nearest rank p50 the 3rd, p90+ the 5th.
    assert train["lengths"] == {
        "chat (messages)": {
            "measured_rows": 5,
            "p50": 16,
            "p90": 39,
            "p95": 39,
            "p99": 39,
            "max": 39,
            "truncated": pytest.approx(1 / 5),  # the 22-token row (its prompt fits)
            "dropped": pytest.approx(1 / 5),  # the 39-token row: 21 prompt tokens
        }
    }
    assert validation["lengths"]["chat (messages)"]["dropped"] == pytest.approx(1 / 2)
    assert validation["lengths"]["chat (messages)"]["truncated"] == 0.0
    assert report["leakage"]["validation"] == {"exact": 1, "normalized": 1}
    assert {k: v["rows"] for k, v in train["left_out"].items()} == {
        "empty answer": 1,
        "unreadable": 1,
    }
    assert "unknown role 'bot'" in train["left_out"]["unreadable"]["first"]
    # s23c L2: the first such row by its file and line, as other warnings name rows
    assert "train.jsonl:3: " in train["left_out"]["empty answer"]["first"]
    assert "train.jsonl:4: " in train["left_out"]["unreadable"]["first"]
    # Facts of the 5 rows read: turns 2 5 2 2 2; messages per role.
    assert train["facts"] == {
        "turns": {"p50": 2, "p90": 5, "p95": 5, "p99": 5, "max": 5},
        "roles": {"assistant": 6, "system": 1, "user": 6},
    }
    assert report["max_length"]["chat (messages)"] == {
        "key": "data.max_length",
        "current": 20,
        "suggested": 40,  # p95 39 rounded up to a multiple of 8
    }
    warnings = " | ".join(report["warnings"])
    assert "train: 1 row(s) not tokenized: empty answer (data.on_empty" in warnings
    assert "train: 1 row(s) not tokenized: unreadable" in warnings
    assert "data.max_length=20: 20.0% of train rows have a prompt of as many tokens" in warnings
    assert "data.max_length=20: 50.0% of validation rows have a prompt" in warnings
    assert "data.max_length=20 truncates 20% of train rows" in warnings


def test_prompt_completion_and_alpaca_rows(compose_cfg: Any, tmp_path: Path) -> None:
    pairs = _jsonl(
        tmp_path / "pairs",
        train=[
            {"prompt": "hi", "completion": "ok"},  # a user and an assistant turn: 15
            {"prompt": ASK, "completion": "a b c"},  # 1 + 12 + 9 = 22
            {"prompt": "hi there", "completion": "ok"},  # 1 + 8 + 7 = 16
        ],
        validation=[{"prompt": "the", "completion": "ok"}],
        test=[{"prompt": "ok", "completion": "the"}],
    )
    report, _ = _tiny_llama(compose_cfg, "data=chat", f"data.path={pairs}")
    lengths = report["splits"]["train"]["lengths"]["chat (prompt_completion)"]
    assert [lengths[k] for k in ("measured_rows", "p50", "max", "truncated")] == [3, 16, 22, 0.0]
    assert report["splits"]["train"]["facts"]["turns"]["max"] == 2

    alpaca = _jsonl(
        tmp_path / "alpaca",
        train=[
            {"instruction": "hi", "input": "the", "output": "ok"},  # user "hi\n\nthe": 18
            {"instruction": "hi", "input": "ok", "output": "ok"},  # 18; the input tells it apart
            {"instruction": "hi", "input": "", "output": "ok"},  # 15
            {"instruction": "hi", "input": "the", "output": ""},  # empty answer
        ],
        validation=[{"instruction": "the", "input": "", "output": "ok"}],
        test=[{"instruction": "ok", "input": "", "output": "hi"}],
    )
    report, _ = _tiny_llama(compose_cfg, "data=chat", f"data.path={alpaca}")  # format: auto
    train = report["splits"]["train"]
    assert train["duplicates"] == 0
    assert train["lengths"]["chat (alpaca)"]["p50"] == 18
    assert train["lengths"]["chat (alpaca)"]["measured_rows"] == 3
    assert train["left_out"]["empty answer"]["rows"] == 1


@pytest.mark.parametrize("shape", ["strings", "messages"])
def test_preference_pairs(compose_cfg: Any, tmp_path: Path, shape: str) -> None:
    """Strings become a user and an assistant turn (the tokenizer has a chat template); message
    lists that start alike share those turns as the prompt (UltraFeedback: no prompt column
    needed). Both shapes of a row measure the same."""

    def row(prompt: str, chosen: str, rejected: str) -> dict[str, Any]:
        if shape == "strings":
            return {"prompt": prompt, "chosen": chosen, "rejected": rejected}
        ask = ("user", prompt)
        return {
            "chosen": _chat(ask, ("assistant", chosen)),
            "rejected": _chat(ask, ("assistant", rejected)),
        }

    folder = _jsonl(
        tmp_path / "prefs",
        train=[
            row("hi", "ok", "a b c"),  # prompt 1 + 7 + 5 = 13; sides 15 and 17
            row(ASK, "hi there", "ok"),  # prompt 18 >= 18: dropped; sides 21 and 20
            row("hi", "ok", "ok"),  # a tie
            row("the", ASK, "hi"),  # prompt 13; sides 20 (> 18: truncated) and 15
        ],
        validation=[row("hi", "the", "ok")],
        test=[row("ok", "hi", "the")],
    )
    report, _ = _tiny_llama(
        compose_cfg, "data=preferences", f"data.path={folder}", "data.max_length=18"
    )
    train = report["splits"]["train"]
    lengths = train["lengths"]
    assert list(lengths) == ["prompt", "prompt + chosen", "prompt + rejected"]
    assert [lengths["prompt"][k] for k in ("measured_rows", "p50", "max")] == [3, 13, 18]
    assert "truncated" not in lengths["prompt"]  # the limit is on whole sequences
    # prompt + chosen: 15 21 20; prompt + rejected: 17 20 15 (the 20 is the dropped row's).
    chosen, rejected = lengths["prompt + chosen"], lengths["prompt + rejected"]
    assert [chosen[k] for k in ("p50", "max")] == [20, 21]
    assert [rejected[k] for k in ("p50", "max")] == [17, 20]
    assert chosen["truncated"] == pytest.approx(1 / 3) and rejected["truncated"] == 0.0
    assert chosen["dropped"] == rejected["dropped"] == pytest.approx(1 / 3)
    assert train["left_out"] == {
        "tie": {
            "rows": 1,
            "training": "data.on_tie drops such pairs or stops",
            "first": f"{folder / 'train.jsonl'}:3: chosen: chosen equals rejected",
        }
    }
    # s30a F6: the pairs training keeps and cuts a reply of (the last row), as its line counts.
    assert train["facts"] == {
        "chosen_longer": pytest.approx(2 / 3),
        "reply cut": pytest.approx(1 / 3),
    }
    # One limit over both sides: one suggestion, from the longer side's p95 (21 -> 24).
    assert report["max_length"]["prompt + chosen"]["suggested"] == 24
    assert report["max_length"]["prompt + rejected"]["suggested"] == 24
    dropped = [w for w in report["warnings"] if "leaves no answer token" in w]
    assert len(dropped) == 1 and "33.3% of train rows" in dropped[0]


def test_a_string_pair_without_a_prompt_cannot_be_read(compose_cfg: Any, tmp_path: Path) -> None:
    folder = _jsonl(
        tmp_path / "prefs",
        train=[
            {"prompt": "hi", "chosen": "ok", "rejected": "the"},
            {"prompt": "", "chosen": "ok", "rejected": "the"},
        ],
        validation=[{"prompt": "hi", "chosen": "ok", "rejected": "the"}],
        test=[{"prompt": "hi", "chosen": "ok", "rejected": "the"}],
    )
    report, _ = _tiny_llama(compose_cfg, "data=preferences", f"data.path={folder}")
    left = report["splits"]["train"]["left_out"]
    assert (
        list(left) == ["unreadable"]
        and "prompt must be a non-empty string" in left["unreadable"]["first"]
    )
    assert report["splits"]["train"]["lengths"]["prompt"]["measured_rows"] == 1


def test_chat_messages_with_differing_keys_are_read_as_training_reads_them(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """One message with a key the others lack (`name`) makes `datasets` store the messages as
    Json text; inspect decodes them as training does (it called every row unreadable)."""
    rows = [{"messages": _chat(("user", f"hi {i}"), ("assistant", "ok"))} for i in range(10)]
    rows[0]["messages"][0]["name"] = "ann"
    folder = _jsonl(tmp_path / "chats", train=rows, validation=rows[:2], test=rows[:2])
    report, _ = _tiny_llama(compose_cfg, "data=chat", f"data.path={folder}")
    train = report["splits"]["train"]
    assert train["left_out"] == {}
    assert train["lengths"]["chat (messages)"]["measured_rows"] == 10
    assert train["targets"]["tokens"] > 0 and train["targets"]["share"] > 0


def test_the_class_weights_advice_is_given_only_to_heads_that_take_it(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """Multi-label has no `task.module.class_weights`: the imbalance is said, the option not."""
    rows = [{"text": f"review {i}", "labels": [0 if i < 9 else 1]} for i in range(11)]
    folder = _jsonl(tmp_path / "aspects", train=rows, validation=rows[:3], test=rows[:3])
    overrides = ("model=tiny_bert", "data=go_emotions", f"data.path={folder}")
    multi = _inspect(compose_cfg, *overrides, "data.label_names=null", "data.text_column=text")
    (imbalance,) = [w for w in multi["warnings"] if w.startswith("imbalanced labels")]
    assert imbalance == "imbalanced labels: the largest class has 4.5x the rows of the smallest"
    assert multi["class_weights_option"] is False


def test_chat_data_needs_a_chat_template(compose_cfg: Any, tmp_path: Path) -> None:
    from hydra.utils import instantiate

    from lab.errors import ConfigError

    folder = _jsonl(tmp_path / "chats", train=[{"prompt": "hi", "completion": "ok"}] * 10)
    cfg = compose_cfg("model=tiny_bert", "data=chat", f"data.path={folder}")
    with pytest.raises(ConfigError, match=r"model\.chat_template"):
        inspect_data(cfg, instantiate(cfg.model.tokenizer))


def test_summarize_facts() -> None:
    rows = [
        {"turns": 2, "roles": {"user": 1, "assistant": 1}, "longer": True},
        {"turns": 4, "roles": {"user": 2, "assistant": 2}, "longer": False},
        {"turns": 3, "roles": {"system": 1, "user": 1, "assistant": 1}, "longer": False},
    ]
    assert summarize_facts(rows) == {
        "turns": {"p50": 3, "p90": 4, "p95": 4, "p99": 4, "max": 4},
        "roles": {"assistant": 4, "system": 1, "user": 4},
        "longer": pytest.approx(1 / 3),
    }


def test_the_tool_inspects_chat_data(tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "report"
    data = FIXTURES / "sft" / "prompt_completion.jsonl"
    assert main(["model=tiny_llama", "data=chat", f"data.path={data}", f"out={out}"]) == 0
    printed = capsys.readouterr().out
    assert "chat (prompt_completion)" in printed and "dropped" in printed
    assert "train: turns p50 2" in printed and "roles assistant" in printed
    report = json.loads((out / "inspect.json").read_text())
    assert report["splits"]["train"]["lengths"]["chat (prompt_completion)"]["max"] > 0


# Rows of the fixtures over data.max_length: SFT 28 (some dropped and some cut in every split),
# DPO 20 (some dropped in every split).
SFT_OVER = ("data=chat", f"data.path={FIXTURES / 'sft_task'}", "data.max_length=28")
DPO_OVER = ("data=preferences", f"data.path={FIXTURES / 'preferences'}", "data.max_length=20")


@pytest.mark.parametrize(
    ("overrides", "sequence"), [(SFT_OVER, "chat (messages)"), (DPO_OVER, "prompt + chosen")]
)
def test_the_rows_inspection_drops_and_cuts_are_the_ones_training_does(
    compose_cfg: Any, overrides: tuple[str, ...], sequence: str
) -> None:
    """The same config through the head's data module: as many rows dropped for their prompt
    (SFT counts them in `dropped`, DPO lists them in `overlong`) and cut at data.max_length
    (SFT's `truncated_share`) in every split."""
    from hydra.utils import instantiate

    cfg = compose_cfg("model=tiny_llama", *overrides)
    tokenizer = instantiate(cfg.model.tokenizer)
    report = inspect_data(cfg, tokenizer)["report"]
    datamodule = instantiate(cfg.data, tokenizer=tokenizer, _convert_="all")
    datamodule.setup("fit")
    sft = sequence.startswith("chat")
    for name in ("train", "validation", "test"):
        stats = report["splits"][name]["lengths"][sequence]
        rows = stats["measured_rows"]
        dropped = datamodule.dropped[name] if sft else len(datamodule.overlong[name])
        assert round(stats["dropped"] * rows) == dropped > 0, name
        if sft:
            cut = round(datamodule.truncated_share[name] * len(datamodule.datasets[name]))
            assert round(stats["truncated"] * rows) == cut > 0, name


def test_every_row_reader_declaration_names_a_reader_of_its_head() -> None:
    """Each `rows:` of conf/data/base/inspect/*.yaml names a `RowReader` kept with the head
    whose data module the file declares, so a renamed or moved reader fails here."""
    from hydra.utils import get_class
    from omegaconf import OmegaConf

    from lab.config.paths import conf_dir
    from lab.data.inspection_rows import RowReader

    readers = 0
    for path in sorted((conf_dir() / "data" / "base" / "inspect").glob("*.yaml")):
        declared = OmegaConf.load(path)
        if not declared.get("rows"):
            continue
        reader = get_class(str(declared.rows))
        assert issubclass(reader, RowReader), path.name
        head = str(declared.data_module).rsplit(".", 2)[0]  # lab.tasks.sft
        assert reader.__module__.startswith(head + "."), (path.name, reader.__module__)
        readers += 1
    assert readers >= 2  # sft, dpo


def test_what_training_says_of_reading_the_data_is_said_too(
    reviews: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A `data.splits` name the files lack: training reads the split named like lab's and says
    so; lab.inspect said nothing (the line was an INFO record with no handler). A split carved
    from train stays train.log's (file-only) note in a run, and is not said here either."""
    (reviews / "validation.csv").unlink()
    out = tmp_path / "report"
    assert main([*_args(reviews, "data.splits.test=tset"), f"out={out}"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "data.splits.test=tset: the local data has no such split; reading its 'test' split "
        "(splits present: test, train)"
    ]
    assert json.loads((out / "inspect.json").read_text())["carved"] == ["validation"]
