"""`data.history_cut=oldest_turns` (s26b M6) and the SFT summary line's counts (s26b M5).

A long chat keeps its system message and its latest turn; its oldest whole turns are left out
until it fits `data.max_length`. Checked against an oracle computed another way (transformers'
own `apply_chat_template` token counts of the conversation without its first k turns), by
decoding the tokens the data module keeps, by the counts of the one-line summary, and by what
the predictor (lab.predict, lab.serve's /predict) asks the model for a long chat: the same cut
as training's. The tiny Llama's tokenizer and a random tiny Llama; no training.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
import torch
from omegaconf import OmegaConf

from lab.errors import ConfigError, DataError
from lab.tasks.sft.history import cut_oldest_turns, history_cut_problem, turn_starts
from lab.training.tokenizers import build_tokenizer

from conftest import FIXTURES

ROOT = Path(__file__).resolve().parent.parent
TINY_LLAMA = ROOT / "conf/model/tiny_llama.yaml"
MAX_LENGTH = 120  # the long chat: 16 tokens of system message, 48 per pair
SYSTEM = {"role": "system", "content": "You answer film questions."}
FILLER = "the film was long and the plot moved slowly through many scenes"


def _turns(count: int, answer: str = "It is fine.") -> list[dict[str, str]]:
    """`count` user/assistant pairs; user k says `Question k` (k from 1)."""
    chat = []
    for k in range(1, count + 1):
        chat.append({"role": "user", "content": f"Question {k}: {FILLER}?"})
        chat.append({"role": "assistant", "content": f"Answer {k}. {answer}"})
    return chat


def _tokenizer() -> Any:
    cfg = OmegaConf.create({"model": OmegaConf.load(TINY_LLAMA)})
    cfg.model.tokenizer.pretrained_model_name_or_path = str(ROOT / "src/lab/assets/tiny_llama")
    cfg.model.chat_template = None
    return build_tokenizer(cfg)


def _ids(tokenizer: Any, messages: list[dict[str, str]], **options: Any) -> list[int]:
    """The oracle: transformers' own tokens of the rendered conversation."""
    return list(tokenizer.apply_chat_template(messages, return_dict=True, **options)["input_ids"])


def _length(tokenizer: Any, messages: list[dict[str, str]], **options: Any) -> int:
    return len(_ids(tokenizer, messages, **options))


def _oracle_cut(tokenizer: Any, chat: list[dict[str, str]], limit: int) -> int:
    """The fewest leading user/assistant pairs (after the system message) whose removal makes
    the conversation fit `limit`, never the last pair."""
    pairs = (len(chat) - 1) // 2
    for k in range(pairs):
        if _length(tokenizer, [chat[0], *chat[1 + 2 * k :]]) <= limit:
            return k
    return pairs - 1


def _write(folder: Path, splits: dict[str, list[dict[str, Any]]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in splits.items():
        (folder / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


# ------------------------------------------------------------------------- the rule itself
def test_whole_turns_go_oldest_first_keeping_the_system_message_and_the_latest_turn() -> None:
    chat = [SYSTEM, *_turns(4)]
    assert turn_starts(chat) == (1, [1, 3, 5, 7])
    sizes = []  # what `fits` was asked: each candidate, shortest history last

    def fits(kept: list[dict[str, str]]) -> bool:
        sizes.append(len(kept))
        return len(kept) <= 5

    kept, cut = cut_oldest_turns(chat, fits)
    assert cut == 2 and kept == [SYSTEM, *chat[5:]] and sizes == [7, 5]
    # Nothing fits: every turn but the latest goes (the caller then drops or truncates it).
    kept, cut = cut_oldest_turns(chat, lambda kept: False)
    assert (cut, kept) == (3, [SYSTEM, *chat[7:]])
    # A request (ends with the user): its last user message is the latest turn.
    request = [SYSTEM, *_turns(2), {"role": "user", "content": "And now?"}]
    assert cut_oldest_turns(request, lambda kept: False) == ([SYSTEM, request[-1]], 2)
    # A greeting the assistant opens with is a turn of its own; no system message here.
    greeting = [{"role": "assistant", "content": "Hello!"}, *_turns(1)]
    assert cut_oldest_turns(greeting, lambda kept: False) == (greeting[1:], 1)
    # keep_answer: a user message after the final answer does not push the answer out.
    trailing = [*_turns(2), {"role": "user", "content": "Thanks."}]
    assert cut_oldest_turns(trailing, lambda kept: False, keep_answer=True) == (trailing[2:], 1)
    assert cut_oldest_turns(_turns(1), lambda kept: False) == (_turns(1), 0)  # one turn


def test_an_unknown_value_is_refused_naming_the_valid_ones() -> None:
    assert history_cut_problem("none") is None and history_cut_problem(None) is None
    problem = history_cut_problem("newest_turns")
    assert problem is not None and problem.startswith("data.history_cut=newest_turns: use none")
    assert "or oldest_turns" in problem
    from lab.tasks.sft.data import SFTDataModule

    with pytest.raises(ConfigError, match=r"data\.history_cut=middle: use none .* or oldest_turns"):
        SFTDataModule(_tokenizer(), path="unused", history_cut="middle")


# ------------------------------------------------------------------------- the data module
def _long_chat_splits(tokenizer: Any) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Validation rows: a long 5-turn chat (over MAX_LENGTH), a short chat, an empty answer,
    a chat whose latest question alone fills MAX_LENGTH; and the long chat."""
    long_chat = [SYSTEM, *_turns(5)]
    assert _length(tokenizer, long_chat) > MAX_LENGTH
    huge = [*_turns(1), {"role": "user", "content": FILLER * 12}, *_turns(1)[1:]]
    rows = [
        {"messages": long_chat},
        {"messages": _turns(1)},
        {"messages": [*_turns(1)[:1], {"role": "assistant", "content": ""}]},
        {"messages": huge},
    ]
    return rows, long_chat


def _datamodule(tmp_path: Path, rows: list[dict[str, Any]], **options: Any) -> Any:
    from lab.tasks.sft.data import SFTDataModule

    folder = _write(tmp_path / "d", {"train": rows, "validation": rows, "test": rows[:2]})
    datamodule = SFTDataModule(
        _tokenizer(), path=str(folder), max_length=MAX_LENGTH, batch_size=4, **options
    )
    datamodule.setup("fit")
    return datamodule


def test_a_long_chat_keeps_its_latest_turns_and_the_summary_counts_every_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tokenizer = _tokenizer()
    rows, long_chat = _long_chat_splits(tokenizer)
    cut = _oracle_cut(tokenizer, long_chat, MAX_LENGTH)
    assert cut == 3  # the fixture's arithmetic: pairs 4 and 5 fit, 3 to 5 do not
    with caplog.at_level(logging.INFO, logger="lab.tasks.sft.data"):
        datamodule = _datamodule(tmp_path, rows, history_cut="oldest_turns")
    validation = datamodule.datasets["validation"]
    assert validation["row_id"] == [0, 1]
    row = validation[0]
    prompt = tokenizer.decode(row["prompt_input_ids"])
    expected = [SYSTEM, *long_chat[1 + 2 * cut : -1]]  # asked: the last answer left out
    assert row["prompt_input_ids"] == _ids(tokenizer, expected, add_generation_prompt=True)
    assert prompt.startswith("<|begin_of_text|><|start_header_id|>system<|end_header_id|>")
    assert "Question 4" in prompt and "Question 5" in prompt and "Question 3" not in prompt
    assert row["reference"] == "Answer 5. It is fine."
    whole = tokenizer.decode(row["input_ids"])  # the example: the cut chat, answer included
    assert row["input_ids"] == _ids(tokenizer, [SYSTEM, *long_chat[1 + 2 * cut :]])
    assert len(row["input_ids"]) <= MAX_LENGTH and "Answer 4." in whole and "Answer 3." not in whole
    assert datamodule.history_cuts["validation"] == (1, 3)
    assert datamodule.dropped_reasons["validation"] == {"empty": 1, "overlong": 1}
    lines = [
        r.getMessage()
        for r in caplog.records
        if r.getMessage().startswith("sft ") and r.levelno == logging.INFO
    ]
    assert lines[1] == (
        "sft validation: 2 examples, 2 dropped (1 empty answer, 1 prompt >= "
        "data.max_length=120), 1 row lost 3 oldest turns (data.history_cut=oldest_turns), "
        "0 truncated (0.0% of the examples, 0.0% of the 4 rows read)"
    )
    # Training rows are cut by the same rule (the whole conversation must fit).
    train = datamodule.datasets["train"][0]["input_ids"]
    assert train == _ids(tokenizer, [SYSTEM, *long_chat[1 + 2 * cut :]])


def test_without_the_option_a_long_chat_is_dropped_as_before(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tokenizer = _tokenizer()
    rows, long_chat = _long_chat_splits(tokenizer)
    asked = _length(tokenizer, long_chat[:-1], add_generation_prompt=True)
    assert asked >= MAX_LENGTH  # its history alone fills data.max_length: dropped
    with caplog.at_level(logging.INFO, logger="lab.tasks.sft.data"):
        datamodule = _datamodule(tmp_path, rows)
    assert datamodule.datasets["validation"]["row_id"] == [1]
    assert datamodule.dropped["validation"] == 3
    assert datamodule.dropped_reasons["validation"] == {"empty": 1, "overlong": 2}
    lines = [
        r.getMessage()
        for r in caplog.records
        if r.getMessage().startswith("sft ") and r.levelno == logging.INFO
    ]
    assert lines[1] == (
        "sft validation: 1 example, 3 dropped (1 empty answer, 2 prompts >= "
        "data.max_length=120), 0 truncated (0.0% of the examples, 0.0% of the 4 rows read)"
    )
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert [w for w in warnings if w.startswith("sft ")] == [
        "sft validation: 2 of the 4 rows read (50.0%) dropped, their prompts alone filling "
        "data.max_length=120: the validation split is scored on the 1 example left; raise "
        "data.max_length or set data.history_cut=oldest_turns (leave out long chats' oldest "
        "turns)",
        "sft test: 1 of the 2 rows read (50.0%) dropped, their prompts alone filling "
        "data.max_length=120: the test split is scored on the 1 example left; raise "
        "data.max_length or set data.history_cut=oldest_turns (leave out long chats' oldest "
        "turns)",
    ]
    # The train row of the long chat is kept, cut at its end (its later answers lost).
    train = datamodule.datasets["train"]
    assert train[0]["input_ids"] == _ids(tokenizer, long_chat)[:MAX_LENGTH]
    assert train[0]["truncated"]


def test_a_split_left_empty_names_the_reasons_and_the_option(tmp_path: Path) -> None:
    tokenizer = _tokenizer()
    rows, _ = _long_chat_splits(tokenizer)
    from lab.tasks.sft.data import SFTDataModule

    folder = _write(tmp_path / "d", {"train": rows, "validation": rows[2:], "test": rows[:2]})
    datamodule = SFTDataModule(tokenizer, path=str(folder), max_length=MAX_LENGTH)
    with pytest.raises(DataError) as caught:
        datamodule.setup("fit")
    assert str(caught.value) == (
        "the validation split has no examples left: every row was dropped (1 empty answer, "
        "1 prompt >= data.max_length=120), data.on_overlong=drop; raise data.max_length or set "
        "data.history_cut=oldest_turns (leave out long chats' oldest turns)"
    )


# -------------------------------------------------------------------- the predictor, serve
SFT_RUN = [
    "model=tiny_llama",
    "data=chat",
    f"data.path={FIXTURES / 'sft_task'}",
    f"data.max_length={MAX_LENGTH}",
    "task.module.max_new_tokens=8",
    "logger=csv",
]


def _predictor(compose_cfg: Any, *overrides: str) -> Any:
    from lab.build import build_parts
    from lab.tasks.sft.predictor import ChatPredictor

    torch.manual_seed(0)
    cfg = compose_cfg(*SFT_RUN, *overrides)
    parts = build_parts(cfg)
    return ChatPredictor(parts.model.eval(), parts.tokenizer, cfg)


def test_a_served_long_chat_is_cut_as_training_cut_it(
    compose_cfg: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    from lab.inference.cuts import cut_log_line
    from lab.serve import create_app
    from lab.tasks.sft.predictor import greedy_config

    predictor = _predictor(compose_cfg, "++data.history_cut=oldest_turns")
    tokenizer, model = predictor.tokenizer, predictor.model
    asked: list[list[int]] = []  # the prompts `generate` was given
    generate = model.generate

    def recording(**kwargs: Any) -> Any:
        mask = kwargs["attention_mask"]
        asked.extend(
            row[m.bool()].tolist() for row, m in zip(kwargs["input_ids"], mask, strict=True)
        )
        return generate(**kwargs)

    monkeypatch.setattr(model, "generate", recording)
    # A request: its prompt plus max_new_tokens (8) must fit data.max_length.
    request = [SYSTEM, *_turns(4), {"role": "user", "content": "Question 5: which one?"}]
    cut = next(
        k
        for k in range(5)
        if _length(tokenizer, [SYSTEM, *request[1 + 2 * k :]], add_generation_prompt=True) + 8
        <= MAX_LENGTH
    )
    assert cut >= 2
    kept = [SYSTEM, *request[1 + 2 * cut :]]
    expected_ids = _ids(tokenizer, kept, add_generation_prompt=True)
    whole = _length(tokenizer, request, add_generation_prompt=True)
    assert predictor.check({"messages": request}) is None
    (result,) = predictor.predict([{"messages": request}])
    assert asked == [expected_ids]
    decoded = tokenizer.decode(asked[0])
    assert decoded.startswith("<|begin_of_text|><|start_header_id|>system")
    assert "Question 5: which one?" in decoded and "Question 1:" not in decoded
    ids = torch.tensor([expected_ids])
    output = generate(
        input_ids=ids,
        attention_mask=torch.ones_like(ids),
        generation_config=greedy_config(model, tokenizer, 8),
    )
    completion = tokenizer.decode(output[0, ids.shape[1] :], skip_special_tokens=True).strip()
    truncated = {"tokens": whole, "tokens_read": len(expected_ids), "turns_cut": cut}
    assert result == {"completion": completion, "truncated": truncated}
    # A short chat is asked whole and its result says nothing more.
    short = [{"role": "user", "content": "Question 1: which one?"}]
    assert set(predictor.predict([{"messages": short}])[0]) == {"completion"}
    assert predictor.notes() == [
        f"1 chat ran past data.max_length={MAX_LENGTH} tokens: {cut} turns, the oldest, "
        "were left out (data.history_cut=oldest_turns), as in training (each one's 'truncated' "
        "field says how many tokens its prompt has, how many were read and how many turns were "
        "cut)"
    ]
    # lab.serve's /predict answers the same, the cut in the response and in its log line.
    client = TestClient(create_app(predictor))
    assert client.post("/predict", json={"messages": request}).json() == result
    line = cut_log_line([result], predictor)
    assert line is not None and f"input 0: {len(expected_ids)} of {whole} tokens read" in line
    assert f"cut at data.max_length={MAX_LENGTH}, their oldest turns left out" in line
    # A data row (lab.predict on the run's test file) is cut as evaluation cut it: exactly
    # the prompt the data module gives the model for the same row.
    rows, long_chat = _long_chat_splits(tokenizer)
    datamodule = _datamodule(tmp_path, rows, history_cut="oldest_turns")
    predictor.read_data_rows()
    assert predictor.outputs == ("completion", "reference", "truncated")
    asked.clear()
    (answered,) = predictor.predict([{"messages": long_chat}])
    assert asked == [datamodule.datasets["validation"][0]["prompt_input_ids"]]
    assert answered["reference"] == "Answer 5. It is fine."
    assert answered["truncated"]["turns_cut"] == 3


def test_a_run_without_the_option_reads_a_long_chat_whole(compose_cfg: Any) -> None:
    predictor = _predictor(compose_cfg)
    request = [SYSTEM, *_turns(4), {"role": "user", "content": "Question 5: which one?"}]
    assert predictor.fitted(request, None) == (request, None)
    assert predictor.outputs == ("completion",)
    assert set(predictor.predict([{"messages": request}])[0]) == {"completion"}
    assert predictor.notes() == []


def test_the_model_card_states_the_option(compose_cfg: Any) -> None:
    from lab.tasks.sft.card import usage

    _, note = usage(compose_cfg(*SFT_RUN, "++data.history_cut=oldest_turns"))
    assert "by leaving out their oldest whole turns" in note
    assert "(`data.history_cut=oldest_turns`)" in note
    assert "a prompt plus 8 new tokens within 120" in note
    _, plain = usage(compose_cfg(*SFT_RUN))
    assert "history_cut" not in plain and "a longer prompt is read whole" in plain


# ------------------------------------------------------------------------------- inspect
def test_inspect_measures_the_rows_as_training_cuts_them(tmp_path: Path) -> None:
    from datasets import Dataset

    from lab.tasks.sft.inspection import ChatRows

    tokenizer = _tokenizer()
    rows, long_chat = _long_chat_splits(tokenizer)
    train = Dataset.from_list(rows[:2])
    data = OmegaConf.create({"format": "messages", "max_length": MAX_LENGTH})
    plain = ChatRows(data, tokenizer, train)
    _, parsed, _ = plain.read(rows[0])
    assert plain.measure(parsed, "validation").lengths == {
        "chat (messages)": _length(tokenizer, long_chat)
    }
    data.history_cut = "oldest_turns"
    reader = ChatRows(data, tokenizer, train)
    measured = reader.measure(parsed, "validation")
    kept = [SYSTEM, *long_chat[7:]]
    assert measured.lengths == {"chat (messages)": _length(tokenizer, kept)}
    assert measured.facts == {"history cut": {"rows": 1, "turns": 3}}
    # s27c L4: a row whose latest question alone fills max_length is dropped by training
    # however many turns go: not counted as cut, as training's line does not count it
    too_long = [
        SYSTEM,
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": "hi"},
        {"role": "user", "content": "word " * (4 * MAX_LENGTH)},
        {"role": "assistant", "content": "yes"},
    ]
    dropped = reader.measure((too_long, None), "validation")  # (messages, turns trained)
    assert dropped.targets is None  # training drops it
    assert dropped.facts == {"history cut": {"rows": 0, "turns": 0}}
    data.history_cut = "latest"
    with pytest.raises(ConfigError, match=r"data\.history_cut=latest: use none"):
        ChatRows(data, tokenizer, train)


def test_the_card_hyperparameters_name_the_option(compose_cfg: Any) -> None:
    """s27c L5: the option changes what the model read: a row of the card's table."""
    from lab.run_dir.card_hyperparameters import hyperparameter_rows

    rows = dict(hyperparameter_rows(compose_cfg(*SFT_RUN, "++data.history_cut=oldest_turns")))
    assert rows["data.history_cut"] == "oldest_turns"
    assert "data.history_cut" not in dict(hyperparameter_rows(compose_cfg(*SFT_RUN)))
