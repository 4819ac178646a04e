"""The gold answers of question-answering rows as training reads and refuses them
(`QuestionAnsweringDataModule` checks every row with `checked_answers`, `lab.inspect` lists
what it refuses); light, without torch or Lightning."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lab.errors import DataError

log = logging.getLogger(__name__)


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
    after the row it names (None: it takes it): a cell it cannot read, or a first answer that
    is not at its answer_start of `context`. Only the first answer's place is read (training's
    span and every split's loss come from it); further answers are scored by their text alone,
    so a slip in their answer_start is `misplaced_further_answers`' note, not a refusal (s31c
    F2: one annotator's offset in a dev set stopped the run)."""
    try:
        texts, starts = answer_lists(cell)
    except (ValueError, TypeError) as err:
        return [], f"bad value: {err}"
    if texts and (slip := _misplaced(context, texts[0], starts[0])):
        return texts, slip
    return texts, None


def misplaced_further_answers(context: str, cell: Any) -> str | None:
    """The first answer after the first that is not at its answer_start of `context`, in the
    words of `checked_answers`; None when every one is (or the cell is unreadable: that is
    `checked_answers`' refusal)."""
    try:
        texts, starts = answer_lists(cell)
    except (ValueError, TypeError):
        return None
    for text, start in zip(texts[1:], starts[1:], strict=True):
        if slip := _misplaced(context, text, start):
            return slip
    return None


def _misplaced(context: str, text: str, start: int) -> str | None:
    """`answer 'Kraków' is not at answer_start 696 of its context (found 'raków.'; the text is
    at 695, 1 character before)`, or None where it is. Where the text lies is said (s31c F1:
    an off-by-one answer_start, a common slip of converted SQuAD sets, read as a mismatch)."""
    found = context[start : start + len(text)] if 0 <= start <= len(context) else None
    if found == text:
        return None
    what = (
        f"found {found!r}"
        if found is not None
        else f"out of range: the context has {len(context)} characters"
    )
    place = _where_it_is(context, text, start)
    return f"answer {text!r} is not at answer_start {start} of its context ({what}; {place})"


def _where_it_is(context: str, text: str, start: int) -> str:
    """`the text is at 695, 1 character before` (its nearest place), or that it is nowhere."""
    places, at = [], context.find(text) if text else -1
    while at >= 0:
        places.append(at)
        at = context.find(text, at + 1)
    if not places:
        return "the text is nowhere in the context"
    nearest = min(places, key=lambda place: (abs(place - start), place))
    gap = abs(nearest - start)
    side = "before" if nearest < start else "after"
    return f"the text is at {nearest}, {gap} character{'' if gap == 1 else 's'} {side}"


def unanswerable_note(split: str, count: int) -> str:
    """What training warns of a split with `count` questions without an answer read as SQuAD
    v1 (`data.version_2_with_negative=false`), and `lab.inspect` with it."""
    return (
        f"the {split} split has {count} unanswerable questions but "
        "data.version_2_with_negative is false: they are scored as wrong whatever is predicted "
        "(use data=squad_v2 or data.version_2_with_negative=true)"
    )


@dataclass
class AnswerSlips:
    """The answers of one split that are not where their answer_start says, gathered over all
    its rows: training refuses the first misplaced first answer with the count of such rows
    (s31c F1: six off-by-one rows were met one run at a time), and warns once of misplaced
    further answers, which no number reads."""

    refused: list[tuple[int, Any, str]] = field(default_factory=list)  # (row, id, why)
    further: list[tuple[int, Any, str]] = field(default_factory=list)

    def add(self, row: int, qid: Any, refused: str | None, further: str | None) -> None:
        """Note row `row`'s refusal (`checked_answers`) and further-answer slip, if any."""
        if refused is not None:
            self.refused.append((row, qid, refused))
        elif further is not None:
            self.further.append((row, qid, further))

    def report(self, split: str, rows: int, where: Callable[[int], str]) -> None:
        """Raise on the first refused row, counting the others; else warn of the further
        answers. `where(row)` names a row (`train.jsonl:3 column 'answers'`)."""
        if self.refused:
            row, qid, why = self.refused[0]
            more = len(self.refused) - 1
            count = (
                f"; {len(self.refused)} of {rows} {split} rows have such an answer "
                "(`python -m lab.inspect` with these data options lists them)"
                if more
                else ""
            )
            raise DataError(f"{where(row)} (id {qid}): {why}{count}")
        if self.further:
            row, qid, why = self.further[0]
            log.warning(
                further_answers_note(split, len(self.further), f"{where(row)} (id {qid})", why)
            )


def further_answers_note(split: str, count: int, first: str, why: str) -> str:
    """Training's warning on `count` rows of `split` with a further gold answer not at its
    answer_start (`first`: the first such row, named; `why`: `misplaced_further_answers`'
    words), and `lab.inspect`'s."""
    rows = "1 row has" if count == 1 else f"{count} rows have"
    return (
        f"{split}: {rows} a further gold answer not at its answer_start; the first, {first}: "
        f"{why}; only the answers' texts are scored, so no metric reads it"
    )
