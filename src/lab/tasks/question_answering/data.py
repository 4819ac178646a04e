"""`QuestionAnsweringDataModule`: context windows, their offsets and answer token labels.

Rows hold a question, its context and the gold answers, as on the Hub (`id`, `title`,
`context`, `question`, `answers` = {"text": [...], "answer_start": [...]}); an empty answer
list marks an unanswerable question (SQuAD v2). Files in the original SQuAD JSON layout are
flattened into that form on load (see `squad_json`).

Preprocessing follows Hugging Face's `run_qa`: the question comes first and the context is cut
into windows of `max_length` tokens that overlap by `doc_stride` tokens, so a long context
gives several features. A training feature's target is the answer's first and last token
when the answer lies wholly inside the window, else the classification token (index 0), which
stands for "no answer here". Every feature also keeps its example id and its offset mapping
with non-context tokens masked (None), so predictions map back to character spans of the raw
context (see `decoding`).

An answer that no window holds whole is thus trained as "no answer" in every window of its
row, and an evaluated one can never be predicted exactly: `setup` counts such rows per split
and says it in one line (`windows.missed_answers_note`), with the settings that hold the
longest one; each evaluation row's fewest answer tokens go to the task module with its
references, which says the rows whose gold answers are all longer than decoding's
`task.module.max_answer_length` (`windows.long_answers_note`). The per-row facts ride on the
tokenized windows as columns (`windows.WINDOW_COLUMNS`, kept in the tokenization cache) and are
removed once counted, as `lab.data.cut_counts` does with its flags.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lab.data.datamodule import DataModule
from lab.data.padding import Padding, pad_hf
from lab.data.sources import origins_of, set_origins
from lab.errors import ConfigError, DataError
from lab.tasks.question_answering.answers import (
    AnswerSlips,
    answer_lists,
    checked_answers,
    misplaced_further_answers,
    unanswerable_note,
)
from lab.tasks.question_answering.decoding import CLS_INDEX, METADATA_COLUMNS
from lab.tasks.question_answering.question_room import (
    question_room_problem,
    question_tokens,
    training_fix,
)
from lab.tasks.question_answering.squad_json import load_squad_json
from lab.tasks.question_answering.windows import (
    WINDOW_COLUMNS,
    SplitAnswers,
    answer_token_span,
    long_answers_note,
    missed_answers_note,
    rows_of_columns,
    window_answers,
    window_columns,
)

#: the id column of data without one (`data.id_column=null`): `<split>-<n>`, 1-based
NUMBERED_ID = "__lab_question_id__"

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict
    from transformers import PreTrainedTokenizerBase

log = logging.getLogger(__name__)


class QAReferences:
    """One evaluation split as postprocessing needs it.

    (A plain class, not a dataclass: Hydra would read a dataclass passed to `instantiate`
    as a structured config.)

    Attributes:
        ids / questions / contexts: the raw examples, in split order.
        answers: the gold answer texts of each example (empty: unanswerable).
        features: the tokenized split, whose `example_id` and `offset_mapping` columns map
            each feature's tokens back to characters of its example's context.
        counted: its gold answers as the windows hold them (`windows.SplitAnswers`: the
            fewest tokens of each row's answers, for `long_answers_note`), and the split's
            name in messages; None: not counted, or not said (lab.eval: a split it does not
            score, or one it reads again under another name).
    """

    def __init__(
        self,
        ids: list[str],
        questions: list[str],
        contexts: list[str],
        answers: list[list[str]],
        features: Dataset,
        counted: tuple[str, SplitAnswers] | None = None,
    ) -> None:
        self.ids = ids
        self.questions = questions
        self.contexts = contexts
        self.answers = answers
        self.features = features
        self.counted = counted


def long_answers_warning(references: dict[str, QAReferences], max_answer_length: int) -> str | None:
    """The line on evaluated rows whose gold answers are all longer than decoding's
    `task.module.max_answer_length` (`windows.long_answers_note`), for the task module to say
    once it knows that setting; None where there are none."""
    counted = [r.counted for r in references.values() if r.counted is not None]
    return long_answers_note(counted, max_answer_length)


class _QACollator:
    """Drops the postprocessing columns, then pads dynamically (a class: workers pickle it)."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, padding: Padding) -> None:
        from transformers import DataCollatorWithPadding

        self.pad = pad_hf(DataCollatorWithPadding(tokenizer), padding)

    def __call__(self, rows: list[dict[str, Any]]) -> Any:
        return self.pad([{k: v for k, v in r.items() if k not in METADATA_COLUMNS} for r in rows])


class QuestionAnsweringDataModule(DataModule):
    """Splits question + context into overlapping windows and labels answer token spans.

    Args:
        id_column / question_column / context_column / answers_column: the columns;
            `id_column=None` for data without ids: each question is numbered in its split
            (`train-1`, `train-2`, ...; SQuAD scores per question, so each needs an id).
        max_length: tokens per window (question, context part and special tokens).
        doc_stride: tokens shared by consecutive windows of one context.
        version_2_with_negative: the data has unanswerable questions (SQuAD v2): score them
            and let postprocessing answer "" (passed on to the task module).
        **kwargs: see `lab.data.datamodule.DataModule`; `path` may also hold SQuAD JSON.
    """

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        *,
        id_column: str | None = "id",
        question_column: str = "question",
        context_column: str = "context",
        answers_column: str = "answers",
        max_length: int = 384,
        doc_stride: int = 128,
        version_2_with_negative: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(tokenizer, **kwargs)
        if not getattr(tokenizer, "is_fast", False):
            raise ConfigError("question answering needs a fast tokenizer (offset mappings)")
        if not 0 <= doc_stride < max_length:
            raise ConfigError(
                f"data.doc_stride={doc_stride} must be at least 0 and below "
                f"data.max_length={max_length} (it is the overlap of consecutive windows)"
            )
        self.id_column = id_column or NUMBERED_ID
        self.numbered = id_column is None
        self.question_column = question_column
        self.context_column = context_column
        self.answers_column = answers_column
        self.max_length = max_length
        self.doc_stride = doc_stride
        self.version_2_with_negative = version_2_with_negative
        self.references: dict[str, QAReferences] = {}
        self._raw: dict[str, Dataset] = {}
        self._answers: dict[str, SplitAnswers] = {}  # per split tokenized: its answers' count

    # ----------------------------------------------------------------- loading
    def load_raw(self) -> DatasetDict:
        """The Hub's flattened rows; SQuAD JSON under `path` is flattened first (cached);
        with `id_column=None`, each split's questions numbered as their ids."""
        loaded = self._load_rows()
        if not self.numbered:
            return loaded
        numbered = {
            split: rows.add_column(NUMBERED_ID, [f"{split}-{i + 1}" for i in range(len(rows))])
            for split, rows in loaded.items()
        }
        from datasets import DatasetDict

        found = DatasetDict(numbered)
        set_origins(found, origins_of(loaded))  # rows still named by their file and line
        return found

    def _load_rows(self) -> DatasetDict:
        loaded = load_squad_json(self.path)
        return loaded if loaded is not None else super().load_raw()

    def setup(self, stage: str | None = None) -> None:
        """Load, check and tokenize; evaluation features get their row numbers."""
        if self.datasets:
            return
        try:
            super().setup(stage)
        finally:  # said too where a later split fails: the windows may be why
            self._say_missed_answers()
        said = self._said_splits()
        for name, raw in self._raw.items():
            features = self.datasets[name]
            # Evaluation batches carry each feature's row number, so gathered logits find
            # their offsets and example again, whichever rank or batch they came from.
            features = features.add_column("feature_index", list(range(len(features))))
            self.datasets[name] = features
            self.references[name] = QAReferences(
                ids=[str(i) for i in raw[self.id_column]],
                questions=list(raw[self.question_column]),
                contexts=list(raw[self.context_column]),
                answers=[answer_lists(a)[0] for a in raw[self.answers_column]],
                features=features,
                counted=(self.split_name(name), self._answers[name]) if name in said else None,
            )
        self._raw = {}

    def _said_splits(self) -> list[str]:
        """The counted splits whose lines are said, in split order (lab.eval: those it notes,
        one of those it names alike, as it reads one file as each split: an evaluated one,
        whose every gold answer counts)."""
        said: dict[str, str] = {}
        for name in sorted(self._answers, key=lambda split: split == "train"):
            noted = self.noted_splits is None or name in self.noted_splits
            if noted and self.split_name(name) not in said:
                said[self.split_name(name)] = name
        return [name for name in self._answers if name in said.values()]

    def _say_missed_answers(self) -> None:
        """The one line on answers no window holds whole, over the splits said."""
        limit = self.tokenizer.model_max_length
        line = missed_answers_note(
            self.max_length,
            self.doc_stride,
            [(self.split_name(name), self._answers[name]) for name in self._said_splits()],
            self.tokenizer.num_special_tokens_to_add(pair=True),
            int(limit) if limit < 1e6 else None,  # transformers' "no limit" is 1e30
            training=self.evaluation is None,
        )
        if line:
            log.warning(line)

    # ----------------------------------------------------------------- checks
    def check_split(self, name: str, dataset: Dataset) -> None:
        columns = {
            "data.id_column": self.id_column,
            "data.question_column": self.question_column,
            "data.context_column": self.context_column,
            "data.answers_column": self.answers_column,
        }
        hint = (
            "data.id_column=null numbers the questions instead"
            if self.id_column not in dataset.column_names
            else ""
        )
        self.require_columns(name, dataset, columns, hint)
        seen: dict[str, int] = {}
        unanswerable, slips = 0, AnswerSlips()
        for row, (qid, question, context, answers) in enumerate(
            zip(
                dataset[self.id_column],
                dataset[self.question_column],
                dataset[self.context_column],
                dataset[self.answers_column],
                strict=True,
            )
        ):
            if not context or not str(context).strip():
                where = self.where(name, row, self.context_column)
                raise DataError(f"{where} (id {qid}): empty context")
            if not question or not str(question).strip():
                where = self.where(name, row, self.question_column)
                raise DataError(f"{where} (id {qid}): empty question")
            if name != "train" and str(qid) in seen:
                raise DataError(
                    f"{self.where(name, row, self.id_column)}: id {qid} is also used by "
                    f"{self.where(name, seen[str(qid)])}; ids must be unique"
                )
            seen[str(qid)] = row
            texts, refused = checked_answers(context, answers)
            slips.add(row, qid, refused, misplaced_further_answers(context, answers))
            unanswerable += not texts
        slips.report(name, len(dataset), lambda row: self.where(name, row, self.answers_column))
        if unanswerable and not self.version_2_with_negative:
            log.warning(unanswerable_note(name, unanswerable))
        if name != "train":
            self._raw[name] = dataset  # for postprocessing, see setup

    # ----------------------------------------------------------------- tokenization
    def fingerprint_parts(self) -> tuple[Any, ...]:
        return (
            self.id_column,
            self.question_column,
            self.context_column,
            self.answers_column,
            self.max_length,
            self.doc_stride,
            CLS_INDEX,
            WINDOW_COLUMNS,  # caches written before lack the columns the counts read
        )

    def _tokenize_split(self, name: str, dataset: Dataset) -> Dataset:
        encoded = super()._tokenize_split(name, dataset)
        columns = encoded.select_columns([*WINDOW_COLUMNS, "example_id"]).to_dict()
        found = SplitAnswers(trained=name == "train")
        for window, row in rows_of_columns(columns, first_only=found.trained):
            found.add(str(columns["example_id"][window]), row)
        self._answers[name] = found
        # The counts' columns are for this count only: the model and the collator never see them.
        return encoded.remove_columns(list(WINDOW_COLUMNS))

    def tokenize(self, batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        # Leading spaces of some SQuAD questions would only use up window room.
        questions = [str(q).lstrip() for q in batch[self.question_column]]
        self._check_question_room(questions, batch[self.id_column])
        encoded = self.tokenizer(
            questions,
            batch[self.context_column],
            truncation="only_second",
            max_length=self.max_length,
            stride=self.doc_stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
        )
        example_of = encoded.pop("overflow_to_sample_mapping")
        all_offsets = encoded.pop("offset_mapping")
        all_sequence_ids = [encoded.sequence_ids(i) for i in range(len(all_offsets))]
        rows = window_answers(all_offsets, all_sequence_ids, example_of, batch[self.answers_column])
        starts, ends, example_ids, masked_offsets = [], [], [], []
        for i, offsets in enumerate(all_offsets):
            row = example_of[i]
            sequence_ids = all_sequence_ids[i]
            texts, answer_starts = answer_lists(batch[self.answers_column][row])
            if texts:  # SQuAD trains on the first gold answer
                start, end = answer_token_span(
                    offsets, sequence_ids, answer_starts[0], answer_starts[0] + len(texts[0])
                )
            else:
                start = end = CLS_INDEX
            starts.append(start)
            ends.append(end)
            example_ids.append(str(batch[self.id_column][row]))
            masked_offsets.append(
                [list(o) if s == 1 else None for o, s in zip(offsets, sequence_ids, strict=True)]
            )
        encoded["start_positions"] = starts
        encoded["end_positions"] = ends
        encoded["example_id"] = example_ids
        encoded["offset_mapping"] = masked_offsets
        return {**encoded, **window_columns(rows, example_of)}

    def _check_question_room(self, questions: list[str], ids: list[Any]) -> None:
        # The tokenizer aborts the process (a Rust panic) when a question leaves no more
        # room for the context than doc_stride; say which question instead.
        # One rule and one wording with lab.predict / lab.serve (`question_room`).
        lengths = question_tokens(self.tokenizer, questions)
        for qid, length in zip(ids, lengths, strict=True):
            problem = question_room_problem(
                self.tokenizer,
                length,
                self.max_length,
                self.doc_stride,
                what=f"question id {qid}",
                fix=training_fix(self.max_length),
            )
            if problem is not None:
                raise DataError(problem)

    def collate_fn(self) -> Callable[[list[dict[str, Any]]], Any]:
        return _QACollator(self.tokenizer, self.padding(self.max_length))

    def module_kwargs(self) -> dict[str, Any]:
        """The evaluation splits' raw examples and windows, and whether questions may be
        unanswerable (both for postprocessing)."""
        return {
            "references": dict(self.references),
            "version_2_with_negative": self.version_2_with_negative,
        }
