"""s31c's extractive-QA findings: an off-by-one answer_start is said as such, with the count of
rows like it (F1); a further gold answer's answer_start, which nothing reads, is a warning, not
a refusal (F2); the advice on answers no window holds leaves every question room (F3);
lab.inspect says training's refusal of a question too long for the windows (F4); the cards
do not send readers to PyPI's unrelated `lab` (F5)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from lab.errors import DataError
from lab.tasks.question_answering.answers import checked_answers, misplaced_further_answers
from lab.tasks.question_answering.windows import SplitAnswers, missed_answers_note

CONTEXT = "I was in Kraków. Then Kraków again."  # 'Kraków' at 9 and 22


def _row(qid: str, answers: list[tuple[str, int]], question: str = "where") -> dict[str, Any]:
    return {
        "id": qid,
        "title": "t",
        "context": CONTEXT,
        "question": question,
        "answers": {"text": [t for t, _ in answers], "answer_start": [s for _, s in answers]},
    }


def _write(folder: Path, splits: dict[str, list[dict[str, Any]]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for split, rows in splits.items():
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


QA = ("model=tiny_bert", "data=squad", "data.splits.validation=validation", "data.splits.test=test")


# ------------------------------------------------------------------------------------ F1
def test_a_misplaced_answer_says_where_its_text_is() -> None:
    def why(text: str, start: int) -> str | None:
        return checked_answers(CONTEXT, {"text": [text], "answer_start": [start]})[1]

    assert why("Kraków", 9) is None
    assert why("Kraków", 10) == (
        "answer 'Kraków' is not at answer_start 10 of its context (found 'raków.'; the text is "
        "at 9, 1 character before)"
    )
    assert why("Kraków", 19) == (  # nearer the second place: 3 characters after
        "answer 'Kraków' is not at answer_start 19 of its context (found 'en Kra'; the text is "
        "at 22, 3 characters after)"
    )
    assert why("Warsaw", 9) == (
        "answer 'Warsaw' is not at answer_start 9 of its context (found 'Kraków'; the text is "
        "nowhere in the context)"
    )
    assert why("Kraków", 99) == (
        "answer 'Kraków' is not at answer_start 99 of its context (out of range: the context "
        "has 35 characters; the text is at 22, 77 characters before)"
    )


def test_training_counts_the_rows_it_refuses_for_a_misplaced_answer(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """Six off-by-one rows were met one run at a time; the refusal names the first and counts
    them all."""
    from lab.build import build_datamodule
    from lab.training.tokenizers import build_tokenizer

    good, slipped = _row("ok", [("Kraków", 9)]), _row("bad", [("Kraków", 10)])
    train = [good, slipped, good, {**slipped, "id": "bad2"}, good, good]
    folder = _write(tmp_path / "qa", {"train": train, "validation": [good], "test": [good]})
    cfg = compose_cfg(*QA, f"data.path={folder}")
    with pytest.raises(DataError) as refused:
        build_datamodule(cfg, build_tokenizer(cfg))
    assert str(refused.value) == (
        f"{folder}/train.jsonl:2 column 'answers' (id bad): answer 'Kraków' is not at "
        "answer_start 10 of its context (found 'raków.'; the text is at 9, 1 character "
        "before); 2 of 6 train rows have such an answer (`python -m lab.inspect` with these "
        "data options lists them)"
    )


# ------------------------------------------------------------------------------------ F2
FURTHER = (
    "answer 'Kraków' is not at answer_start 23 of its context (found 'raków '; the text is at "
    "22, 1 character before); only the answers' texts are scored, so no metric reads it"
)


def test_a_further_answers_slip_is_a_warning_in_training_and_inspect(
    compose_cfg: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Scoring reads the gold answers' texts; training's span and every split's loss read the
    first answer's place only. A dev set's second annotator off by one stopped the run."""
    from datasets import load_dataset

    from lab.build import build_datamodule
    from lab.tasks.question_answering.inspection import label_warnings
    from lab.training.tokenizers import build_tokenizer

    good = _row("ok", [("Kraków", 9)])
    two = _row("two", [("Kraków", 9), ("Kraków", 23)])
    assert checked_answers(CONTEXT, two["answers"])[1] is None
    assert misplaced_further_answers(CONTEXT, two["answers"]) == FURTHER.split("; only")[0]
    folder = _write(tmp_path / "qa", {"train": [good] * 4, "validation": [good], "test": [two]})
    cfg = compose_cfg(*QA, f"data.path={folder}")
    with caplog.at_level(logging.WARNING):
        build_datamodule(cfg, build_tokenizer(cfg))  # not refused
    said = [r.getMessage() for r in caplog.records if "further gold answer" in r.getMessage()]
    assert said == [
        f"test: 1 row has a further gold answer not at its answer_start; the first, "
        f"{folder}/test.jsonl:1 column 'answers' (id two): {FURTHER}"
    ]
    splits = {
        name: load_dataset("json", data_files=str(folder / f"{name}.jsonl"), split="train")
        for name in ("train", "validation", "test")
    }
    assert label_warnings(cfg.data, splits, None) == [
        f"test: 1 row has a further gold answer not at its answer_start; the first, row 1 "
        f"(id two): {FURTHER}"
    ]


# ------------------------------------------------------------------------------------ F3
def test_the_no_window_advice_leaves_every_question_room() -> None:
    """The advice took the missed row's question (5 tokens) and training then refused another
    row's longer one; it now takes the longest question counted. 3 special tokens."""
    from lab.tasks.question_answering.windows import RowAnswers

    found = SplitAnswers(trained=True)
    found.add("long", RowAnswers([False], [4], 24, question=5))  # 32 - 3 - 5 = 24 of context
    found.add("wordy", RowAnswers([True], [1], 19, question=10))
    line = missed_answers_note(32, 2, [("train", found)], 3, None)
    assert line is not None
    # doc_stride 4 holds the 4-token answer; 4 + 10 + 3 + 1 = 18 <= 32: the run's length does
    assert line.endswith(
        "the longest, id long (train), has 4 tokens against 24 tokens of context a window: "
        "data.doc_stride=4 holds it in a window (data.max_length=32 does)"
    )
    line = missed_answers_note(16, 2, [("train", found)], 3, None)
    assert line is not None and line.endswith(
        "data.doc_stride=4 with data.max_length=18 or more holds it in a window"
    )
    assert missed_answers_note(16, 2, [("train", found)], 3, 17) is not None
    assert str(missed_answers_note(16, 2, [("train", found)], 3, 17)).endswith(
        "no window of the model's 17 tokens holds it with every question"
    )


# ------------------------------------------------------------------------------------ F4
def test_inspect_says_trainings_refusal_of_a_question_too_long(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """A question that leaves a window no more context than the overlap: training refuses
    the first; lab.inspect left such rows out without a word. tiny_bert: a word a token."""
    from datasets import load_dataset

    from lab.tasks.question_answering.inspection import window_warnings
    from lab.training.tokenizers import build_tokenizer

    rows = [
        _row("short", [("Kraków", 9)], "is"),  # 16 - 3 special - 1 = 12 tokens of context
        _row("long", [("Kraków", 9)], "is it the"),  # 10 > the overlap's 8
        _row("longer", [("Kraków", 9)], "is it the the it is"),  # 7: refused
    ]
    folder = _write(tmp_path / "qa", {"train": rows, "validation": rows[:1], "test": rows[:1]})
    cfg = compose_cfg(*QA, f"data.path={folder}", "data.max_length=16", "data.doc_stride=8")
    splits = {
        name: load_dataset("json", data_files=str(folder / f"{name}.jsonl"), split="train")
        for name in ("train", "validation", "test")
    }
    lines = window_warnings(cfg.data, splits, build_tokenizer(cfg), cfg.task, 0)
    assert lines[0] == (
        "train: 1 row has a question lab.train refuses; the first (row 3): question id longer "
        "has 6 tokens, which leaves 7 tokens of context per window: need more than "
        "data.doc_stride=8; raise data.max_length (now 16) or lower data.doc_stride; the "
        "longest has 6 tokens: data.max_length=18 or more holds every one"
    )
