"""A question too long for the run's windows: one rule and one wording for training and for
`lab.predict` / `lab.serve`.

Each window holds the question whole and `data.max_length` less the question and the special
tokens of context; consecutive windows overlap by `data.doc_stride` tokens, so a window needs
more context than that. The tokenizer fails otherwise, and not in words: with no room left it
raises `Truncation error: Sequence to truncate too short to respect the provided max_length`,
and with some room but no more than the stride it panics (a `PanicException`, which is no
`Exception`: it took `lab.predict` down whole). Training refused such a question by its id;
predict answered with the raw error (s26b M8). Both now say `question_room_problem`'s words.
"""

from __future__ import annotations

from typing import Any


def question_tokens(tokenizer: Any, questions: list[str]) -> list[int]:
    """Each question's tokens without special tokens (leading spaces already dropped, as the
    windows read it)."""
    return [len(ids) for ids in tokenizer(questions, add_special_tokens=False)["input_ids"]]


def question_room_problem(
    tokenizer: Any, length: int, max_length: int, doc_stride: int, *, what: str, fix: str
) -> str | None:
    """Why a question of `length` tokens leaves too little context per window of
    `max_length` tokens overlapping by `doc_stride`, or None: `what` names the question
    (`question id q7`), `fix` says what to change (training: the settings; predict: the
    question, the run's windows being fixed)."""
    room = max_length - tokenizer.num_special_tokens_to_add(pair=True) - length
    if room > doc_stride:
        return None
    return (
        f"{what} has {length} tokens, which leaves {max(room, 0)} tokens of context per "
        f"window: need more than data.doc_stride={doc_stride}; {fix}"
    )


def training_fix(max_length: int) -> str:
    """What training's refusal asks for (the settings of the run being trained)."""
    return f"raise data.max_length (now {max_length}) or lower data.doc_stride"


def predict_fix(max_length: int) -> str:
    """What `lab.predict` / `lab.serve`'s refusal asks for: the run's windows are fixed."""
    return f"shorten the question (this run reads windows of data.max_length={max_length} tokens)"
