"""What `lab.inspect` says about extractive-QA answers, by the rule training applies
(`conf/data/base/inspect/question_answering.yaml` names `label_warnings` under `labels:`).

Training refuses a row whose `answers` cell it cannot read or whose answer is not at its
answer_start of the context; `lab.inspect` gives, per split, the first such row with its id
in training's words (`answers.checked_answers`, the function `QuestionAnsweringDataModule`
checks every row with) and how many rows it refuses; and, as training warns, unanswerable
questions in data read as SQuAD v1 (scored wrong whatever is predicted). Answers are no
classes: no value is counted.

`window_warnings` (the declaration's `windows:`) gives training's lines on answers the windows
cannot hold (`windows`): rows whose answer no window holds whole, and evaluated rows whose gold
answers are all longer than `task.module.max_answer_length`, over the measured rows of each
split (the `sample=` rows whose lengths are measured), windowed as training windows them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lab.data.inspection_places import place
from lab.data.inspection_refusals import rows_have
from lab.tasks.question_answering.answers import (
    checked_answers,
    further_answers_note,
    misplaced_further_answers,
    unanswerable_note,
)
from lab.tasks.question_answering.question_room import question_room_problem, training_fix
from lab.tasks.question_answering.windows import (
    SplitAnswers,
    long_answers_note,
    missed_answers_note,
    window_answers,
)

if TYPE_CHECKING:
    from datasets import Dataset
    from omegaconf import DictConfig


# Refused rows named per split (training stops at the first; these are to fix at once).
NAMED_PER_SPLIT = 20


def label_warnings(
    data: DictConfig, splits: dict[str, Dataset], names: Sequence[str] | None
) -> list[str]:
    """Per split, the first row whose answers training refuses, named as training names it
    (its file and line, and its id where the data has ids), and the rows it refuses so
    (`names` is not needed: answers are spans, not classes)."""
    id_column = data.get("id_column")  # null: the questions are numbered (no id to show)
    context_column = str(data.get("context_column") or "context")
    answers_column = str(data.get("answers_column") or "answers")
    version_2 = bool(data.get("version_2_with_negative"))
    found = []
    for split, dataset in splits.items():
        columns = (context_column, answers_column, *([str(id_column)] if id_column else []))
        if any(c not in dataset.column_names for c in columns):  # the head's to refuse
            continue
        ids = dataset[str(id_column)] if id_column else [None] * len(dataset)
        refused = unanswerable = further = 0
        first_further: tuple[int, Any, str] | None = None  # training's warning, not a refusal
        named: list[str] = []  # every refused row, by id (else by its place), for fixing
        first: tuple[int, Any, str] | None = None
        cells = zip(ids, dataset[context_column], dataset[answers_column], strict=True)
        for row, (qid, context, answers) in enumerate(cells):
            # an empty context is refused before its answers, in other words; not a label's
            if not isinstance(context, str) or not context.strip():
                continue
            texts, why = checked_answers(context, answers)
            unanswerable += why is None and not texts
            if why is None and (slip := misplaced_further_answers(context, answers)):
                further += 1
                first_further = first_further or (row, qid, slip)
            if why is not None:
                refused += 1
                first = first or (row, qid, why)
                if len(named) < NAMED_PER_SPLIT:
                    named.append(str(qid) if qid is not None else place(splits, split, row))
        if first is not None:
            row, qid, why = first
            where = place(splits, split, row) + ("" if qid is None else f", id {qid}")
            rest = f" ({refused - len(named)} more)" if refused > len(named) else ""
            every = f"; all: {', '.join(named)}{rest}" if refused > 1 else ""
            found.append(
                f"{split}: {rows_have(refused)} an answer lab.train refuses; the first "
                f"({where}): lab.train refuses it: {why}{every}"
            )
        elif first_further is not None:  # training warns only where it refuses nothing
            row, qid, slip = first_further
            name = place(splits, split, row) + ("" if qid is None else f" (id {qid})")
            found.append(further_answers_note(split, further, name, slip))
        if unanswerable and not version_2:  # training's warning, not a refusal
            found.append(unanswerable_note(split, unanswerable))
    return found


BATCH = 1000  # rows windowed per tokenizer call


def window_warnings(
    data: DictConfig, splits: dict[str, Dataset], tokenizer: Any, task: DictConfig, sample: int
) -> list[str]:
    """Training's lines on answers the windows cannot hold (`windows.missed_answers_note`,
    `windows.long_answers_note` with `task.module.max_answer_length`), over each split's
    measured rows (`sample`, seeded as the lengths are; 0: all). A row training refuses (its
    answer, an empty text, a question that leaves no room for context) is the other
    warnings' to name, and left out here."""
    from lab.data.inspection_stats import sample_indices

    id_column = data.get("id_column")
    columns = [
        str(data.get(key) or key.removesuffix("_column"))
        for key in ("question_column", "context_column", "answers_column")
    ]
    max_length, doc_stride = int(data.max_length), int(data.doc_stride)
    special = tokenizer.num_special_tokens_to_add(pair=True)
    seed = int(data.get("seed") or 0)
    counted: list[tuple[str, SplitAnswers]] = []
    refused: list[str] = []  # training's refusal of a question too long for the windows
    for split, dataset in splits.items():
        if any(c not in dataset.column_names for c in (*columns, *filter(None, [id_column]))):
            continue  # the head's to refuse
        indices = sample_indices(len(dataset), sample, seed)
        sampled = len(indices) < len(dataset)
        rows = dataset.select(indices) if sampled else dataset
        ids = rows[str(id_column)] if id_column else [f"{split}-{i + 1}" for i in indices]
        kept, long_questions = _windowed_rows(
            rows, columns, tokenizer, max_length - special - doc_stride
        )
        if long_questions:  # s31c F4: training refuses these; inspect left them out unsaid
            row, length = long_questions[0]
            problem = question_room_problem(
                tokenizer,
                length,
                max_length,
                doc_stride,
                what=f"question id {ids[row]}",
                fix=training_fix(max_length),
            )
            longest = max(n for _, n in long_questions)
            refused.append(
                f"{split}: {rows_have(len(long_questions))} a question lab.train refuses; the "
                f"first ({place(splits, split, int(indices[row]))}): {problem}; the longest has "
                f"{longest} tokens: data.max_length={longest + special + doc_stride + 1} or "
                "more holds every one"
            )
        found = SplitAnswers(trained=split == "train")
        for start in range(0, len(kept), BATCH):
            batch = kept[start : start + BATCH]
            questions, contexts, cells = ([row[k] for row in batch] for k in range(1, 4))
            encoded = tokenizer(
                questions,
                contexts,
                truncation="only_second",
                max_length=max_length,
                stride=doc_stride,
                return_overflowing_tokens=True,
                return_offsets_mapping=True,
            )
            windows = encoded["offset_mapping"]
            sequence_ids = [encoded.sequence_ids(i) for i in range(len(windows))]
            answers = window_answers(
                windows, sequence_ids, encoded["overflow_to_sample_mapping"], cells
            )
            for (row, *_), answer in zip(batch, answers, strict=True):
                found.add(str(ids[row]), answer)
        counted.append((f"{'measured ' if sampled else ''}{split}", found))
    limit = tokenizer.model_max_length
    lines = [
        *refused,
        missed_answers_note(
            max_length, doc_stride, counted, special, int(limit) if limit < 1e6 else None
        ),
        long_answers_note(
            [(name, found) for name, found in counted if not found.trained],
            int((task.get("module") or {}).get("max_answer_length") or 30),
        ),
    ]
    return [line for line in lines if line]


def _windowed_rows(
    rows: Dataset, columns: list[str], tokenizer: Any, most_question: int
) -> tuple[list[tuple[int, str, str, Any]], list[tuple[int, int]]]:
    """(row, question, context, answers cell) of the rows training windows: a readable answer
    at its place, a question and a context, and a question of less than `most_question`
    tokens; and (row, question tokens) of those whose question is longer (it leaves the
    windows no more context than their overlap: training refuses it, and the tokenizer would
    abort)."""
    question_column, context_column, answers_column = columns
    cells = zip(rows[question_column], rows[context_column], rows[answers_column], strict=True)
    kept = []
    for row, (question, context, answers) in enumerate(cells):
        if not (isinstance(question, str) and question.strip()):
            continue
        if not (isinstance(context, str) and context.strip()):
            continue
        if checked_answers(context, answers)[1] is None:
            kept.append((row, question.lstrip(), context, answers))
    if not kept:
        return [], []
    lengths = [
        len(ids)
        for ids in tokenizer([q for _, q, _, _ in kept], add_special_tokens=False)["input_ids"]
    ]
    windowed = [row for row, n in zip(kept, lengths, strict=True) if n < most_question]
    too_long = [(row[0], n) for row, n in zip(kept, lengths, strict=True) if n >= most_question]
    return windowed, too_long
