"""The data side of sequence-to-sequence (`lab.tasks.seq2seq`): source and target texts read,
checked (`lab.tasks.seq2seq_rows`: one rule with `lab.inspect`), tokenized and padded.

Evaluation rows keep their index into the split (`ROW_ID`), so generations meet their raw,
untruncated references (`references`) on any rank; the test split's row ids (the data's `id`
column where it has one, `test_ids`) name each kept test generation
(`lab.tasks.seq2seq_generations`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from lab.data.cut_counts import CUT_FLAGS, INPUTS, TARGETS, CutCountingDataModule
from lab.data.padding import Padding, PadToWidth, pad_rows
from lab.errors import ConfigError, DataError
from lab.tasks.ignore import IGNORE
from lab.tasks.language_pairs import cell_text
from lab.tasks.seq2seq_rows import Field, RefusedCell, checked_text, fields

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedTokenizerBase

ROW_ID = "row_id"  # column of evaluation rows: their index in the raw split
ID_COLUMN = "id"  # a row's own id where the data has one (XSum, CNN/DailyMail): kept for test
# lab's split names -> the stage names metrics are logged under
STAGES = {"validation": "val", "test": "test"}


class Seq2SeqDataModule(CutCountingDataModule):
    """Tokenizes (prefixed) source texts as inputs and target texts as labels.

    Args:
        source_column / target_column: the input and output text columns (may be the same
            dictionary column, e.g. WMT's `translation`, with `source_lang` / `target_lang`).
        source_lang / target_lang: when set, the column holds a dictionary keyed by language
            and this key is read.
        source_prefix: prepended to every source (T5: `summarize: `,
            `translate English to Romanian: `; BART: none).
        max_source_length / max_target_length: truncation lengths in tokens.
        **kwargs: see `lab.data.datamodule.DataModule`.

    Each split's sources cut at `max_source_length` and targets cut at `max_target_length` are
    counted and said once (`lab.data.cut_counts`): the references generations are scored
    against are not cut, so a cut target caps the score.
    """

    cut_keys: ClassVar[dict[str, str]] = {INPUTS: "max_source_length", TARGETS: "max_target_length"}
    cut_nouns: ClassVar[dict[str, str]] = {INPUTS: "sources", TARGETS: "targets"}

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        *,
        source_column: str = "document",
        target_column: str = "summary",
        source_lang: str | None = None,
        target_lang: str | None = None,
        source_prefix: str | None = "",
        max_source_length: int = 512,
        max_target_length: int = 128,
        **kwargs: Any,
    ) -> None:
        super().__init__(tokenizer, **kwargs)
        for key, value in (
            ("max_source_length", max_source_length),
            ("max_target_length", max_target_length),
        ):
            if value < 1:
                raise ConfigError(f"data.{key}={value}: must be at least 1 token")
        self.source_column = source_column
        self.target_column = target_column
        self.source_lang = source_lang
        self.target_lang = target_lang
        self.source_prefix = source_prefix or ""
        self.max_source_length = max_source_length
        self.max_target_length = max_target_length
        # Untruncated target texts of the evaluation splits, by row: what generations are
        # scored against (truncated labels would flatter long-summary datasets).
        self.references: dict[str, list[str]] = {}
        self.test_ids: list[Any] | None = None  # the test split's `id` column, where it has one

    # ----------------------------------------------------------------- checks
    def _fields(self) -> tuple[Field, Field]:
        """Source and target: role, column, language key, config key of the column."""
        keys = ("source_column", "target_column", "source_lang", "target_lang")
        return fields({key: getattr(self, key) for key in keys})

    def check_split(self, name: str, dataset: Dataset) -> None:
        self.require_columns(name, dataset, {f.key: f.column for f in self._fields()})
        targets: list[str] = []
        for start, batch in self._batches(dataset):
            for field in self._fields():
                for offset, value in enumerate(batch[field.column]):
                    try:
                        text = checked_text(value, field)
                    except RefusedCell as err:  # the rule lab.inspect applies too
                        where = self.where(name, start + offset, field.column)
                        raise DataError(err.at(where)) from err
                    if field.role == "target" and name in STAGES:
                        targets.append(text)
        if name in STAGES:
            self.references[STAGES[name]] = targets
        if name == "test":  # each kept test generation's id (`lab.tasks.seq2seq_generations`)
            has_ids = ID_COLUMN in dataset.column_names
            self.test_ids = list(dataset[ID_COLUMN]) if has_ids else None

    def _batches(self, dataset: Dataset) -> Iterator[tuple[int, dict[str, list[Any]]]]:
        # Column slices of 1000 rows: CNN/DailyMail's train articles would take gigabytes as
        # one Python list.
        columns = sorted({self.source_column, self.target_column})
        start = 0
        for batch in dataset.select_columns(columns).iter(batch_size=1000):
            yield start, batch  # type: ignore[misc]
            start += len(batch[columns[0]])

    # ----------------------------------------------------------------- tokenization
    def fingerprint_parts(self) -> tuple[Any, ...]:
        return (
            self.source_column,
            self.target_column,
            self.source_lang,
            self.target_lang,
            self.source_prefix,
            self.max_source_length,
            self.max_target_length,
            CUT_FLAGS,  # the cut rows' flags, counted and said per split (lab.data.cut_counts)
        )

    def tokenize(self, batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        column, lang = self.source_column, self.source_lang
        sources = [self.source_prefix + cell_text(v, lang) for v in batch[column]]
        column, lang = self.target_column, self.target_lang
        targets = [cell_text(v, lang) for v in batch[column]]
        inputs = self.tokenizer(sources, max_length=self.max_source_length, truncation=True)
        labels = self.tokenizer(
            text_target=targets, max_length=self.max_target_length, truncation=True
        )
        encoded = dict(inputs)
        encoded["labels"] = labels["input_ids"]
        self.mark_cuts(encoded, INPUTS, inputs)  # read off, said and dropped per split
        self.mark_cuts(encoded, TARGETS, labels)
        if ROW_ID in batch:
            encoded[ROW_ID] = batch[ROW_ID]
        return encoded

    def prepare_split(self, name: str, dataset: Dataset) -> Dataset:
        # Evaluation rows keep their index, so generations meet their raw references on any
        # rank; train rows need none (and the model would refuse the extra input).
        if name in STAGES:
            dataset = dataset.add_column(ROW_ID, list(range(len(dataset))))  # type: ignore[arg-type]
        return dataset

    def collate_fn(self) -> Callable[[list[dict[str, Any]]], Any]:
        from transformers import DataCollatorForSeq2Seq

        # Labels padded with IGNORE: padding is not a target. (The model builds its decoder
        # inputs from the labels, with pad tokens where they are IGNORE.)
        sources = self.padding(self.max_source_length)
        if sources.multiple is None:
            return DataCollatorForSeq2Seq(self.tokenizer, label_pad_token_id=IGNORE)
        return Seq2SeqCollator(self.tokenizer, sources, sources.limited(self.max_target_length))

    def module_kwargs(self) -> dict[str, Any]:
        """The tokenizer (to decode generations), the raw references of val and test, and the
        test rows' ids (None: the data has no `id` column)."""
        return {"tokenizer": self.tokenizer, "references": self.references, "ids": self.test_ids}


class Seq2SeqCollator:
    """Sources padded by the tokenizer and labels with IGNORE, each to its own rounded width
    (`lab.data.padding`): `DataCollatorForSeq2Seq` rounds both with one multiple and no
    limit, and pads labels to the sources' width when given one. (A class: workers pickle it.)
    """

    def __init__(
        self, tokenizer: PreTrainedTokenizerBase, sources: Padding, targets: Padding
    ) -> None:
        from transformers import DataCollatorWithPadding

        self.inputs = PadToWidth(DataCollatorWithPadding(tokenizer), sources)
        self.targets = targets
        self.left = tokenizer.padding_side == "left"  # as DataCollatorForSeq2Seq pads labels

    def __call__(self, features: list[dict[str, Any]]) -> Any:
        labels = [f["labels"] for f in features]
        batch = self.inputs([{k: v for k, v in f.items() if k != "labels"} for f in features])
        width = self.targets.width(max(len(label) for label in labels))
        batch["labels"] = pad_rows(labels, width, IGNORE, self.left)
        return batch
