"""`MultipleChoiceDataModule`: multiple-choice rows checked, tokenized and batched.

The endings are several columns (SWAG: `ending0`..`ending3`) or one column holding a list
(HellaSwag: `endings`); labels are the right ending's index, as an integer or a digit string
(HellaSwag stores `"0"`..`"3"`). Bad rows fail before any model loads, naming row and column.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from lab.data.cut_counts import CUT_FLAGS, INPUTS, CutCountingDataModule
from lab.errors import DataError
from lab.tasks.multiple_choice.inputs import (
    Choice,
    choice_encoding,
    choice_inputs,
    pad_choices,
    split_choices,
)
from lab.tasks.multiple_choice.labels import first_row_endings, label_index, label_problem

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedTokenizerBase


class MultipleChoiceDataModule(CutCountingDataModule):
    """Checks and tokenizes multiple-choice rows (see the module doc for the layout).

    A question with a (context, ending) pair over `max_length` is counted as cut, and the
    splits' counts said in one line (`lab.data.cut_counts`), as lab.predict says them.

    Args:
        context_column: the text the endings continue (SWAG `sent1`, HellaSwag `ctx_a`).
        prefix_column: text put before every ending (SWAG `sent2`, HellaSwag `ctx_b`), or
            None; a null or empty value adds nothing.
        ending_columns: one column per ending (a list of names), or one column holding a
            list of endings (a name).
        label_column: the right ending's index, `0..N-1`, as an integer or a digit string.
        num_choices: N, the endings every row must have; None: as many as the first train row.
        max_length: truncation length in tokens of each (context, prefix + ending) pair.
        **kwargs: see `lab.data.datamodule.DataModule`.
    """

    cut_nouns: ClassVar[dict[str, str]] = {INPUTS: "questions"}

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        *,
        context_column: str = "sent1",
        prefix_column: str | None = "sent2",
        ending_columns: str | Sequence[str] = ("ending0", "ending1", "ending2", "ending3"),
        label_column: str = "label",
        num_choices: int | None = None,
        max_length: int = 128,
        **kwargs: Any,
    ) -> None:
        super().__init__(tokenizer, **kwargs)
        self.context_column = context_column
        self.prefix_column = prefix_column or None
        self.list_column = ending_columns if isinstance(ending_columns, str) else None
        self.ending_columns = [] if self.list_column else [str(c) for c in ending_columns]
        if not self.list_column and len(self.ending_columns) < 2:
            raise DataError(
                f"data.ending_columns={self.ending_columns}: name one column per ending (at "
                "least 2), or one column that holds a list of endings"
            )
        if self.ending_columns and num_choices not in (None, len(self.ending_columns)):
            raise DataError(
                f"data.num_choices={num_choices} but data.ending_columns names "
                f"{len(self.ending_columns)} columns: {self.ending_columns}"
            )
        self.label_column = label_column
        self.num_choices = num_choices
        self.max_length = max_length
        self.prepared_test: Dataset | None = None

    # ----------------------------------------------------------------- checks
    def _require_columns(self, split: str, dataset: Dataset) -> None:
        wanted = {"data.context_column": self.context_column}
        if self.prefix_column:
            wanted["data.prefix_column"] = self.prefix_column
        if self.list_column:
            wanted["data.ending_columns"] = self.list_column
        for i, column in enumerate(self.ending_columns):
            wanted[f"data.ending_columns[{i}]"] = column
        wanted["data.label_column"] = self.label_column
        self.require_columns(split, dataset, wanted)
        dtype = getattr(dataset.features.get(self.list_column or ""), "dtype", None)
        if dtype in ("string", "large_string"):
            raise DataError(
                f"{self.source_of(split) or f'the {split} split'} column '{self.list_column}': "
                "holds text, not a list of endings; "
                "name one column per ending (data.ending_columns=[...]) or store the list in "
                ".jsonl/.parquet"
            )

    def describe_labels(self, train: Dataset) -> None:
        """Check the train columns and learn N from the first row when not configured."""
        self._require_columns("train", train)
        if self.num_choices is None:
            self.num_choices = first_row_endings(train, self.list_column, self.ending_columns)
        if self.num_choices < 2:
            raise DataError(
                f"data.num_choices={self.num_choices} (or the first train row's endings): "
                "multiple choice needs at least 2 endings"
            )

    def check_split(self, name: str, dataset: Dataset) -> None:
        """Every row: text context, optional text prefix, N text endings, a label in 0..N-1."""
        self._require_columns(name, dataset)
        count = self.num_choices or 0
        # Lists, not `datasets`' lazy Columns, which hand out one cell per step (slow).
        contexts = dataset[self.context_column][:]
        prefixes = dataset[self.prefix_column][:] if self.prefix_column else [None] * len(dataset)
        endings = (
            dataset[self.list_column][:]
            if self.list_column
            else list(zip(*(dataset[c][:] for c in self.ending_columns), strict=True))
        )
        rows = zip(contexts, prefixes, endings, dataset[self.label_column][:], strict=True)
        for row, (context, prefix, choices, label) in enumerate(rows):
            if not isinstance(context, str):
                where = self.where(name, row, self.context_column)
                raise DataError(f"{where}: the context is {context!r}, not text")
            if prefix is not None and not isinstance(prefix, str):
                raise DataError(
                    f"{self.where(name, row, self.prefix_column)}: the prefix is {prefix!r}, "
                    "not text"
                )
            if not isinstance(choices, (list, tuple)):
                raise DataError(
                    f"{self.where(name, row, self.list_column)}: {choices!r} is not a list of "
                    f'{count} endings (e.g. ["ending 0", "ending 1", ...])'
                )
            if len(choices) != count:
                raise DataError(
                    f"{self.where(name, row, self.list_column)}: {len(choices)} endings, "
                    f"expected {count} (data.num_choices, or the first train row's count when "
                    "null)"
                )
            for i, ending in enumerate(choices):
                if not isinstance(ending, str):
                    column = self.ending_columns[i] if self.ending_columns else self.list_column
                    where = self.where(name, row, column)
                    raise DataError(f"{where}: ending {i} is {ending!r}, not text")
            refused = label_problem(label, count)
            if refused is not None:
                raise DataError(f"{self.where(name, row, self.label_column)}: {refused}")

    # ----------------------------------------------------------------- tokenization
    def fingerprint_parts(self) -> tuple[Any, ...]:
        return (
            self.context_column,
            self.prefix_column,
            self.list_column,
            self.ending_columns,
            self.label_column,
            self.max_length,
            CUT_FLAGS,  # the cut questions' flags, counted and said per split
        )

    def choices(self, batch: dict[str, list[Any]]) -> list[Choice]:
        """The questions of a batch of raw rows (columns as configured)."""
        size = len(batch[self.context_column])
        prefixes = batch[self.prefix_column] if self.prefix_column else [None] * size
        endings = (
            batch[self.list_column]
            if self.list_column
            else [list(e) for e in zip(*(batch[c] for c in self.ending_columns), strict=True)]
        )
        return [
            Choice(context, prefix or "", list(ending))
            for context, prefix, ending in zip(
                batch[self.context_column], prefixes, endings, strict=True
            )
        ]

    def tokenize(self, batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        choices = self.choices(batch)
        pairs = choice_encoding(self.tokenizer, choices, self.max_length)[0]
        rows = split_choices(pairs, choices)
        encoded: dict[str, list[Any]] = {key: [row[key] for row in rows] for key in rows[0]}
        encoded["labels"] = [
            label_index(v, self.num_choices or 0) for v in batch[self.label_column]
        ]
        # A question is cut where any of its pairs is (read off, said and dropped per split).
        self.mark_cuts(encoded, INPUTS, pairs, [len(c.endings) for c in choices])
        return encoded

    def collate_fn(self) -> Callable[[list[dict[str, Any]]], Any]:
        """Pad to the longest pair in the batch (rounded by `padding`): inputs
        [batch, N, tokens], labels [batch]."""

        padding = self.padding(self.max_length)

        def collate(rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
            batch = pad_choices(self.tokenizer, rows, padding)
            batch["labels"] = torch.tensor([row["labels"] for row in rows], dtype=torch.long)
            return batch

        return collate

    def module_kwargs(self) -> dict[str, Any]:
        """N (for the metrics) and the test examples the report shows."""
        return {"num_choices": self.num_choices, "test_examples": self.test_examples}

    def test_examples(self, count: int) -> tuple[list[Choice], list[int], dict[str, torch.Tensor]]:
        """The first `count` raw test questions, their labels and their padded model inputs."""
        if self.prepared_test is None or count < 1:
            return [], [], {}
        raw = self.prepared_test[:count]
        choices = self.choices(raw)
        labels = [label_index(v, self.num_choices or 0) or 0 for v in raw[self.label_column]]
        if not choices:
            return [], [], {}
        inputs = pad_choices(
            self.tokenizer, choice_inputs(self.tokenizer, choices, self.max_length)
        )
        return choices, labels, inputs

    def prepare_split(self, name: str, dataset: Dataset) -> Dataset:
        if name == "test":
            self.prepared_test = dataset  # kept (an Arrow view) for the report's examples
        return dataset
