"""`lab.inspect` on chat and preference data: the SFT training targets (labels not -100) it
reports and shows are the labels the SFT data module makes, with and without
`task.module.train_on_prompt`; the unknown-token share of chats and pairs, hand-computed under
the tiny BERT's WordPiece vocabulary."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from lab.data.inspection import inspect_data
from lab.inspect import main
from lab.training.tokenizers import build_tokenizer

from conftest import FIXTURES

SPLITS = ("train", "validation", "test")
SFT = ("model=tiny_llama", "data=chat", f"data.path={FIXTURES / 'sft_task'}")
# The fixture's first train row: its user turn, and the assistant's reply.
FIRST_ASK, FIRST_REPLY = "Digits for: seven three eight", "7 3 8"


def _jsonl(folder: Path, **splits: list[dict[str, Any]]) -> Path:
    folder.mkdir()
    for split, rows in splits.items():
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def _chat(user: str, assistant: str) -> dict[str, Any]:
    return {
        "messages": [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    }


def _marked(runs: list[list[Any]], target: bool) -> str:
    return "".join(text for text, is_target in runs if is_target == target)


@pytest.mark.parametrize("on_prompt", [False, True])
def test_the_targets_shown_are_the_labels_training_makes(compose_cfg: Any, on_prompt: bool) -> None:
    """data.max_length=28 cuts some rows and drops others (their prompt fills it) in every
    split: the counts are over the rows the data module keeps, cut as it cuts them."""
    from hydra.utils import instantiate

    cfg = compose_cfg(
        *SFT, "data.max_length=28", f"task.module.train_on_prompt={str(on_prompt).lower()}"
    )
    tokenizer = build_tokenizer(cfg)
    report = inspect_data(cfg, tokenizer)["report"]
    datamodule = instantiate(cfg.data, tokenizer=tokenizer, _convert_="all")
    datamodule.setup("fit")
    for name in SPLITS:
        labels = datamodule.datasets[name]["labels"]
        tokens = sum(len(row) for row in labels)
        targets = sum(1 for row in labels for label in row if label != -100)
        assert report["splits"][name]["targets"] == {
            "rows": len(labels),
            "tokens": tokens,
            "targets": targets,
            "share": pytest.approx(targets / tokens),
        }, name
    shown = report["targets"]
    assert shown["rule"].endswith(f"(task.module.train_on_prompt={str(on_prompt).lower()})")
    assert [e["row"] for e in shown["examples"]] == [0, 1]  # both kept at 28 tokens
    first_rows = datamodule.datasets["train"].select(range(2))
    for example, row in zip(shown["examples"], first_rows, strict=True):
        counted = sum(1 for label in row["labels"] if label != -100)
        assert [example["tokens"], example["targets"]] == [len(row["labels"]), counted]
    runs = shown["examples"][0]["runs"]
    targets, others = _marked(runs, True), _marked(runs, False)
    assert FIRST_REPLY in targets
    if on_prompt:  # every token but <|begin_of_text|>
        assert FIRST_ASK in targets and others == "<|begin_of_text|>"
    else:  # the reply and its end of turn; the user turn and the headers are not targets
        assert targets == f"{FIRST_REPLY}<|eot_id|>"
        assert FIRST_ASK in others and FIRST_ASK not in targets
        assert shown["examples"][0]["targets"] == 4  # "7", " 3", " 8", <|eot_id|>


def test_the_tool_prints_the_targets_marked(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "1000")  # one line per row: the marks are not wrapped
    assert main([*SFT, f"out={tmp_path / 'report'}"]) == 0
    printed = capsys.readouterr().out
    report = json.loads((tmp_path / "report" / "inspect.json").read_text())
    train = report["splits"]["train"]["targets"]
    assert (
        "targets (labels): the assistant's turns (task.module.train_on_prompt=false); "
        f"train {train['share']:.1%} of {train['tokens']:,} tokens"
    ) in printed
    first = report["targets"]["examples"][0]
    assert (
        f"train row 0: {first['targets']} of {first['tokens']} tokens are targets "
        f"({first['share']:.1%}), marked [[ ]]:"
    ) in printed
    line = printed.split("train row 0:")[1].splitlines()[1]
    assert re.findall(r"\[\[(.*?)\]\]", line) == [f"{FIRST_REPLY}<|eot_id|>"]
    assert f"user<|end_header_id|>\\n\\n{FIRST_ASK}<|eot_id|>" in line  # outside the marks


# A template of words only: the tiny BERT has no ":" or "<|...|>", each would be [UNK].
WORDS_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }} {{ m['content'] }} {% endfor %}"
    "{% if add_generation_prompt %}assistant {% endif %}"
)
# Tokens of the tiny BERT's WordPiece vocabulary: "user" is use ##r, "assistant" a ##ss ##is
# ##ta ##nt, "ok" o ##k; each Chinese character and the emoji is one [UNK].
PIECES = {"user": 2, "assistant": 5, "hi": 1, "ok": 2, "the": 1, "这部电影": 4, "😀": 1}


def _check_pieces(tokenizer: Any) -> None:
    for text, count in PIECES.items():
        assert len(tokenizer(text, add_special_tokens=False)["input_ids"]) == count, text


def test_the_unknown_share_of_chats(compose_cfg: Any, tmp_path: Path) -> None:
    template = tmp_path / "words.jinja"
    template.write_text(WORDS_TEMPLATE)
    folder = _jsonl(
        tmp_path / "chats",
        # "user 这部电影 assistant the 😀": 2 + 4 + 5 + 1 + 1 = 13 tokens, 5 [UNK];
        # "user hi assistant ok": 2 + 1 + 5 + 2 = 10 tokens, none
        train=[_chat("这部电影", "the 😀"), _chat("hi", "ok")],
        validation=[_chat("the", "hi")],
        test=[_chat("hi", "the")],
    )
    cfg = compose_cfg("model=tiny_bert", "data=chat", f"data.path={folder}")
    cfg.model.chat_template = str(template)
    tokenizer = build_tokenizer(cfg)
    _check_pieces(tokenizer)
    report = inspect_data(cfg, tokenizer)["report"]
    assert report["unknown_token"] == "[UNK]"
    assert report["splits"]["train"]["unknown_tokens"] == pytest.approx(5 / 23)
    assert report["splits"]["validation"]["unknown_tokens"] == 0.0
    assert report["word_chars_limit"] == 100  # tiny_bert's WordPiece, as BERT's
    assert (
        "train: 22% of tokens are the unknown token [UNK]: this tokenizer does not cover the "
        "text (language, script, emoji?); WordPiece also makes one unknown token of any run "
        "of more than 100 characters without a space (Thai, Japanese kana, a URL), so the "
        "token lengths and the suggested maximum can undercount such text"
    ) in report["warnings"]
    assert not any(w.startswith(("validation: ", "test: ")) for w in report["warnings"])


def test_a_wordpiece_tokenizer_names_its_word_limit(compose_cfg: Any) -> None:
    """s20d L2: 140 Thai letters without a space are one [UNK] under WordPiece (a length of 1
    that undercounts the text), which the unknown-token warning names; byte-level BPE has no
    such limit."""
    from lab.data.inspection_tokens import word_chars_limit

    wordpiece = build_tokenizer(compose_cfg("model=tiny_bert"))
    assert word_chars_limit(wordpiece) == 100
    thai = "ภาษาไทย" * 20
    assert wordpiece(thai, add_special_tokens=False)["input_ids"] == [wordpiece.unk_token_id]
    assert word_chars_limit(build_tokenizer(compose_cfg("model=tiny_gpt2"))) is None


def test_the_unknown_share_of_preference_pairs(compose_cfg: Any, tmp_path: Path) -> None:
    """Without a chat template a pair is prompt + side as plain text, [CLS] and [SEP] around
    (not counted); both sides count, each with its prompt."""
    folder = _jsonl(
        tmp_path / "prefs",
        train=[
            # "这部电影 the": 4 [UNK] + 1; "这部电影 😀": 5 [UNK]
            {"prompt": "这部电影", "chosen": " the", "rejected": " 😀"},
            # "the hi": 2; "the ok": 3
            {"prompt": "the", "chosen": " hi", "rejected": " ok"},
        ],
        validation=[{"prompt": "the", "chosen": " hi", "rejected": " ok"}],
        test=[{"prompt": "hi", "chosen": " the", "rejected": " ok"}],
    )
    cfg = compose_cfg("model=tiny_bert", "data=preferences", f"data.path={folder}")
    tokenizer = build_tokenizer(cfg)
    assert not tokenizer.chat_template
    _check_pieces(tokenizer)
    report = inspect_data(cfg, tokenizer)["report"]
    assert report["splits"]["train"]["unknown_tokens"] == pytest.approx(9 / 15)
    assert report["splits"]["test"]["unknown_tokens"] == 0.0
    assert "train: 60% of tokens are the unknown token [UNK]" in " | ".join(report["warnings"])
    assert "targets" not in report  # no labels to show for pairs
