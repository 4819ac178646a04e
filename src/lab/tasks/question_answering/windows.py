"""Gold answers that the context windows cannot hold, counted as training tokenizes them and as
`lab.inspect` measures them; light, without torch or Lightning.

A context longer than a window is split into windows that overlap by `data.doc_stride`
tokens (`data`). Nothing of the text is lost, but an answer is: a train window's target is the
answer's first and last token only when the whole answer lies inside it, else the
classification token ("no answer here"). An answer that no window holds whole (longer than a
window's context, or crossing from one window into the next beyond their overlap) is so
trained as "no answer" in every window of its row, under SQuAD v1 too, and an evaluated one
can never be predicted exactly: a predicted span lies inside one window. An answer of at most
`doc_stride` tokens always fits a window (where one window ends, the next one's first
`doc_stride` tokens repeat the last ones), so `data.doc_stride` of at least the answer's tokens,
with a `data.max_length` that leaves more context than that beside the question, holds it.

Decoding also keeps spans of at most `task.module.max_answer_length` tokens: an evaluated row
whose gold answers are all longer is never predicted exactly either (`long_answers_note`).

Per row the counts need, for each gold answer, whether some window holds it whole and how many
context tokens it spans (the union over the row's windows: an answer no window holds is still
counted whole). `window_answers` gives them from one tokenizer call with overflowing windows,
at little cost beside it: 0.27 s of CPU for 5,000 contexts of 100-400 words in 5,845 windows of
384 tokens, against 2.6 s for the tokenizer call and 1.5-2.4 s for the offsets `data` keeps.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lab.tasks.question_answering.answers import answer_lists
from lab.tasks.question_answering.decoding import CLS_INDEX

CONTEXT = 1  # the sequence id of the context in a (question, context) pair

# Columns training's tokenizing adds to each window for the counts, removed once counted
# (`QuestionAnsweringDataModule`); a row's facts sit on its first window, the others have
# ROOM -1. FIRST_*: its first gold answer (trained on), ANY_HELD / FEWEST_TOKENS: all of them;
# tokens -1: no answer. QUESTION: its question's tokens (the advice's max_length must leave
# every question room: s31c F3).
ROOM, FIRST_HELD, FIRST_TOKENS = "qa_room", "qa_first_held", "qa_first_tokens"
ANY_HELD, FEWEST_TOKENS, QUESTION = "qa_any_held", "qa_fewest_tokens", "qa_question"
WINDOW_COLUMNS = (ROOM, FIRST_HELD, FIRST_TOKENS, ANY_HELD, FEWEST_TOKENS, QUESTION)
QUESTION_ID = 0  # the sequence id of the question


def window_answers(
    offsets: Sequence[Sequence[Sequence[int]]],
    sequence_ids: Sequence[Sequence[int | None]],
    example_of: Sequence[int],
    cells: Sequence[Any],
) -> list[RowAnswers]:
    """Per row of a tokenized batch (`cells`: its `answers` cells, read by `answer_lists`):
    for each gold answer whether a window holds it whole and its tokens, and the most context
    tokens a window of the row holds. `offsets`, `sequence_ids` and `example_of` are per
    window, as the tokenizer gives them (`offset_mapping`, `sequence_ids(i)`,
    `overflow_to_sample_mapping`)."""
    spans = [answer_spans(cell) for cell in cells]
    held = [[False] * len(row) for row in spans]
    tokens: list[list[set[int]]] = [[set() for _ in row] for row in spans]
    room, question = [0] * len(spans), [0] * len(spans)
    for window, row in enumerate(example_of):
        question[row] = sum(s == QUESTION_ID for s in sequence_ids[window])
        context = [
            (int(o[0]), int(o[1]))
            for o, s in zip(offsets[window], sequence_ids[window], strict=True)
            if s == CONTEXT
        ]
        room[row] = max(room[row], len(context))
        if not context:
            continue
        ends = [end for _, end in context]
        for answer, (start_char, end_char) in enumerate(spans[row]):
            held[row][answer] |= context[0][0] <= start_char and context[-1][1] >= end_char
            # the window's tokens that overlap the answer (their end past its start, their
            # start before its end; offsets grow along the context), kept by their first
            # character: a token two windows share counts once
            for token in context[bisect.bisect_right(ends, start_char) :]:
                if token[0] >= end_char:
                    break
                tokens[row][answer].add(token[0])
    return [
        RowAnswers(held[i], [len(t) for t in tokens[i]], room[i], question[i])
        for i in range(len(spans))
    ]


@dataclass
class RowAnswers:
    """One row's gold answers in its windows (`window_answers`).

    Attributes:
        held: per gold answer, whether some window holds it whole.
        tokens: per gold answer, the context tokens it spans.
        room: the most context tokens one of the row's windows holds (a full window's, where
            the context needs several).
        question: the question's tokens (every window holds it whole).
    """

    held: list[bool]
    tokens: list[int]
    room: int
    question: int = 0


def answer_spans(cell: Any) -> list[tuple[int, int]]:
    """The [start, end) characters of each gold answer of an `answers` cell (none: unanswerable);
    a cell training refuses is refused before this is asked."""
    texts, starts = answer_lists(cell)
    return [(start, start + len(text)) for text, start in zip(texts, starts, strict=True)]


def window_columns(rows: Sequence[RowAnswers], example_of: Sequence[int]) -> dict[str, list[Any]]:
    """`WINDOW_COLUMNS` for the windows of a batch (`example_of`: each window's row), a row's
    facts on its first window."""
    columns: dict[str, list[Any]] = {name: [] for name in WINDOW_COLUMNS}
    for window, row in enumerate(example_of):
        first = window == 0 or example_of[window - 1] != row
        found = rows[row]
        columns[ROOM].append(found.room if first else -1)
        columns[FIRST_HELD].append(first and bool(found.held[:1]) and found.held[0])
        columns[FIRST_TOKENS].append(found.tokens[0] if first and found.tokens else -1)
        columns[ANY_HELD].append(first and any(found.held))
        columns[FEWEST_TOKENS].append(min(found.tokens) if first and found.tokens else -1)
        columns[QUESTION].append(found.question if first else -1)
    return columns


def rows_of_columns(
    columns: dict[str, list[Any]], first_only: bool
) -> list[tuple[int, RowAnswers]]:
    """The rows' facts back from `WINDOW_COLUMNS` (read off a tokenized split), each with its
    first window's index and as one answer: the first (`first_only`: train), else whether any
    is held and the fewest tokens of one."""
    found: list[tuple[int, RowAnswers]] = []
    for i, room in enumerate(columns[ROOM]):
        if room < 0:
            continue
        held, tokens = (FIRST_HELD, FIRST_TOKENS) if first_only else (ANY_HELD, FEWEST_TOKENS)
        count, question = columns[tokens][i], columns[QUESTION][i]
        row = RowAnswers([bool(columns[held][i])], [count], room, question) if count >= 0 else None
        found.append((i, row or RowAnswers([], [], room, question)))
    return found


@dataclass
class SplitAnswers:
    """One split's answers as the windows hold them.

    Attributes:
        trained: the train split's: only each row's first answer counts (it is trained on);
            else every gold answer (evaluated).
        rows: the rows counted.
        missed: rows with an answer that no window holds whole (train: the first answer, which
            is trained on; evaluated: every gold answer).
        longest: of the missed rows, the one whose answer has the most tokens: (its id, that
            answer's tokens, the context tokens of its windows); None without missed rows.
        too_long: evaluated rows whose every gold answer has more than `max_answer_length`
            tokens (`long_answers_note`).
        longest_answer: the most tokens of those rows' shortest answers.
        longest_question: the most tokens of a row's question.
    """

    trained: bool = False
    rows: int = 0
    missed: int = 0
    longest: tuple[str, int, int] | None = None
    too_long: int = 0
    longest_answer: int = 0
    longest_question: int = 0
    shortest: list[int] = field(default_factory=list)  # per row: its fewest answer tokens

    def add(self, qid: str, row: RowAnswers) -> None:
        """Count one row (`window_answers`, `rows_of_columns`)."""
        self.rows += 1
        self.longest_question = max(self.longest_question, row.question)
        held, tokens, room = row.held, row.tokens, row.room
        if self.trained:
            held, tokens = held[:1], tokens[:1]
        self.shortest.append(min(tokens) if tokens else 0)
        if not tokens or any(held):
            return
        self.missed += 1
        answer = min(tokens)
        if self.longest is None or answer > self.longest[1]:
            self.longest = (qid, answer, room)

    def count_long(self, max_answer_length: int) -> None:
        """Set `too_long` / `longest_answer` for decoding's `max_answer_length`."""
        over = [n for n in self.shortest if n > max_answer_length]
        self.too_long, self.longest_answer = len(over), max(over, default=0)


def missed_answers_note(
    max_length: int,
    doc_stride: int,
    splits: Sequence[tuple[str, SplitAnswers]],
    special_tokens: int,
    model_limit: int | None,
    training: bool = True,
) -> str | None:
    """The one line on answers no window holds whole, over `splits` (each: what its rows are
    called, `train`, and its counts; a `trained` split's say that training learns "no answer"
    from them, when `training`); None where every answer fits a window. `special_tokens`: the
    ones a window adds to a pair; `model_limit`: the model's length (None: not known)."""
    shown = [(name, found) for name, found in splits if found.missed]
    if not shown:
        return None
    parts = []
    for name, found in shown:
        what = (
            'their windows all trained as "no answer"'
            if found.trained and training
            else "never predicted exactly: a predicted span lies in one window"
        )
        parts.append(f"{found.missed} of {found.rows} {name} rows ({what})")
    where, (qid, tokens, room) = max(
        ((name, found.longest) for name, found in shown if found.longest),
        key=lambda longest: longest[1][1],
    )  # the first split's, where two are as long
    # doc_stride = its tokens holds it; every row's question must leave more context than
    # that (training's rule), so the longest question of all rows sets the max_length (s31c F3:
    # the advice once took this row's question, and training refused the next one's).
    question = max(
        max(found.longest_question for _, found in splits),
        max_length - special_tokens - room,  # this row's, where no question was counted
    )
    needed = tokens + question + special_tokens + 1  # more context than doc_stride = tokens
    if needed <= max_length:
        fix = f"data.doc_stride={tokens} holds it in a window (data.max_length={max_length} does)"
    elif model_limit is None or needed <= model_limit:
        fix = f"data.doc_stride={tokens} with data.max_length={needed} or more holds it in a window"
    else:
        fix = f"no window of the model's {model_limit} tokens holds it with every question"
    listed = " and of ".join(parts)
    return (
        f"data.max_length={max_length} with data.doc_stride={doc_stride} holds in no window "
        f"whole the answer of {listed}; the longest, id {qid} ({where}), has {tokens} tokens "
        f"against {room} tokens of context a window: {fix}"
    )


def long_answers_note(
    splits: Sequence[tuple[str, SplitAnswers]], max_answer_length: int
) -> str | None:
    """The one line on evaluated rows whose every gold answer is longer than decoding's
    `task.module.max_answer_length` tokens (never predicted exactly), over `splits`; None
    where there are none."""
    for _, found in splits:
        found.count_long(max_answer_length)
    shown = [(name, found) for name, found in splits if found.too_long]
    if not shown:
        return None
    parts = [f"{found.too_long} of {found.rows} {name} rows" for name, found in shown]
    listed = ", ".join(parts[:-1]) + f" and {parts[-1]}" if len(parts) > 1 else parts[0]
    longest = max(found.longest_answer for _, found in shown)
    return (
        f"task.module.max_answer_length={max_answer_length}: {listed} have only gold answers "
        f"longer, which are never predicted exactly (decoding keeps spans of at most "
        f"{max_answer_length} tokens); task.module.max_answer_length={longest} reaches them all"
    )


def answer_token_span(
    offsets: Sequence[Sequence[int]],
    sequence_ids: Sequence[int | None],
    start_char: int,
    end_char: int,
    context_id: int = 1,
) -> tuple[int, int]:
    """The first and last token of the answer chars [start_char, end_char) in one window.

    Returns (CLS_INDEX, CLS_INDEX) when the answer is not wholly inside the window's context
    tokens (a window that holds part of an answer must not teach a cut-off span).
    """
    context = [i for i, s in enumerate(sequence_ids) if s == context_id]
    if not context:
        return CLS_INDEX, CLS_INDEX
    first, last = context[0], context[-1]
    if not (offsets[first][0] <= start_char and offsets[last][1] >= end_char):
        return CLS_INDEX, CLS_INDEX
    start = first
    while start <= last and offsets[start][0] <= start_char:
        start += 1
    end = last
    while end >= first and offsets[end][1] >= end_char:
        end -= 1
    return start - 1, end + 1
