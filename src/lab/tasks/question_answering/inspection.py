"""What `lab.inspect` says about extractive-QA answers, by the rule training applies
(`conf/data/base/inspect/question_answering.yaml` names `label_warnings` under `labels:`).

Training refuses a row whose `answers` cell it cannot read or whose answer is not at its
answer_start of the context; `lab.inspect` gives, per split, the first such row with its id
in training's words (`answers.checked_answers`, the function `QuestionAnsweringDataModule`
checks every row with) and how many rows it refuses; and, as training warns, unanswerable
questions in data read as SQuAD v1 (scored wrong whatever is predicted). Answers are no
classes: no value is counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lab.data.inspection_places import place
from lab.data.inspection_refusals import rows_have
from lab.tasks.question_answering.answers import checked_answers, unanswerable_note

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
        refused = unanswerable = 0
        named: list[str] = []  # every refused row, by id (else by its place), for fixing
        first: tuple[int, Any, str] | None = None
        cells = zip(ids, dataset[context_column], dataset[answers_column], strict=True)
        for row, (qid, context, answers) in enumerate(cells):
            # an empty context is refused before its answers, in other words; not a label's
            if not isinstance(context, str) or not context.strip():
                continue
            texts, why = checked_answers(context, answers)
            unanswerable += why is None and not texts
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
        if unanswerable and not version_2:  # training's warning, not a refusal
            found.append(unanswerable_note(split, unanswerable))
    return found
