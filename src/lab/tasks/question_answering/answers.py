"""The gold answers of question-answering rows as training reads and refuses them
(`QuestionAnsweringDataModule` checks every row with `checked_answers`, `lab.inspect` lists
what it refuses); light, without torch or Lightning."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def answer_lists(value: Any) -> tuple[list[str], list[int]]:
    """(texts, starts) of an `answers` cell: a {"text", "answer_start"} mapping, or that
    mapping as a JSON string (CSV files)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as err:
            # pandas' to_csv of the Hub's Parquet writes Python's repr of the struct
            # ({'text': array(['Vienna'], dtype=object), ...}), which no JSON reader takes.
            raise ValueError(
                f"{value[:60]!r}{'...' if len(value) > 60 else ''} is not JSON ({err}); in a CSV "
                'file `answers` is JSON: {"text": [...], "answer_start": [...]} (write it with '
                "json.dumps, or keep the data as JSON lines or Parquet)"
            ) from err
    if not isinstance(value, Mapping) or "text" not in value or "answer_start" not in value:
        raise ValueError('expected {"text": [...], "answer_start": [...]}')
    texts, starts = list(value["text"] or []), list(value["answer_start"] or [])
    if len(texts) != len(starts):
        raise ValueError(f"{len(texts)} texts but {len(starts)} answer_start values")
    return [str(t) for t in texts], [int(s) for s in starts]


def checked_answers(context: str, cell: Any) -> tuple[list[str], str | None]:
    """The answer texts of the `answers` cell `cell` and why training refuses it, in the words
    after the row it names (None: it takes it): a cell it cannot read, or an answer that is not
    at its answer_start of `context`."""
    try:
        texts, starts = answer_lists(cell)
    except (ValueError, TypeError) as err:
        return [], f"bad value: {err}"
    for text, start in zip(texts, starts, strict=True):
        found = context[start : start + len(text)] if 0 <= start <= len(context) else None
        if found != text:
            return texts, (
                f"answer {text!r} is not at answer_start {start} of its context "
                + (
                    f"(found {found!r})"
                    if found is not None
                    else f"(out of range: the context has {len(context)} characters)"
                )
            )
    return texts, None


def unanswerable_note(split: str, count: int) -> str:
    """What training warns of a split with `count` questions without an answer read as SQuAD
    v1 (`data.version_2_with_negative=false`), and `lab.inspect` with it."""
    return (
        f"the {split} split has {count} unanswerable questions but "
        "data.version_2_with_negative is false: they are scored as wrong whatever is predicted "
        "(use data=squad_v2 or data.version_2_with_negative=true)"
    )
