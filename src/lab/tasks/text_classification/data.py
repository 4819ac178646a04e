"""`TextClassificationDataModule`: the data side of sequence classification (single text or
text pair), shared by the three problem types of `data.problem_type`.

`single_label` (one class per row), `multi_label` (a list of classes per row) or `regression`
(one number per row). Labels may be stored as integers (`0..num_labels-1`) or as strings;
names come from, in order: `data.label_names`, the dataset's `ClassLabel` feature, or the
sorted distinct values of the train split. They reach the exported model as `id2label` /
`label2id`. Each split is checked before tokenizing (columns, text cells, labels: a label -1
is a hidden one, as in GLUE's test splits, unless it names a class).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lab.data.datamodule import DataModule
from lab.data.label_names import integer_label_names, reconcile_label_names
from lab.errors import DataError

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedTokenizerBase


# data.problem_type -> the Hugging Face config's problem_type (which picks the loss)
PROBLEM_TYPES = {
    "single_label": "single_label_classification",
    "multi_label": "multi_label_classification",
    "regression": "regression",
}


class TextClassificationDataModule(DataModule):
    """Tokenizes `text_column` (and `text_pair_column`), maps `label_column` to class ids.

    Args:
        text_column / text_pair_column / label_column: column names in the data.
        label_names: class names in id order; None to take them from the data.
        num_labels: the number of classes the config declares (checked against the data).
        max_length: truncation length in tokens.
        problem_type: `single_label`, `multi_label` (a list of labels per row) or
            `regression` (a number per row).
        **kwargs: see `lab.data.datamodule.DataModule`.
    """

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        *,
        text_column: str = "text",
        text_pair_column: str | None = None,
        label_column: str = "label",
        label_names: Sequence[str] | None = None,
        num_labels: int | None = None,
        max_length: int = 128,
        problem_type: str = "single_label",
        **kwargs: Any,
    ) -> None:
        super().__init__(tokenizer, **kwargs)
        if problem_type not in PROBLEM_TYPES:
            raise DataError(
                f"data.problem_type={problem_type}: use one of {', '.join(PROBLEM_TYPES)}"
            )
        self.problem_type = problem_type
        self.text_column = text_column
        self.text_pair_column = text_pair_column
        self.label_column = label_column
        self.label_names: list[str] | None = [str(n) for n in label_names] if label_names else None
        if self.label_names and num_labels is not None and num_labels != len(self.label_names):
            raise DataError(
                f"data.num_labels={num_labels} but data.label_names has "
                f"{len(self.label_names)} names: {self.label_names}"
            )
        self.num_labels = (
            num_labels
            if num_labels is not None
            else (len(self.label_names) if self.label_names else None)
        )
        self.max_length = max_length
        # label value -> class id where the labels are values rather than ids: strings, and
        # integers that do not count from 0 (1-5 stars); None where they are the ids.
        self._label_ids: dict[Any, int] | None = None

    # ----------------------------------------------------------------- labels
    def describe_labels(self, train: Dataset) -> None:
        self._require_columns("train", train)
        if self.problem_type == "regression":
            self.label_names, self.num_labels = [self.label_column], 1
            return
        feature = train.features[self.label_column]
        values = train[self.label_column]
        if self.problem_type == "multi_label":  # a list per row: look at the elements
            feature = getattr(feature, "feature", feature)
            values = [v for row in values if row for v in row]
        string_labels = getattr(feature, "dtype", None) in ("string", "large_string")
        if self.label_names is not None and hasattr(feature, "names"):
            self.label_names = reconcile_label_names(
                self.label_names, feature.names, self.label_column
            )
        if self.label_names is None:
            if hasattr(feature, "names"):  # a ClassLabel column
                self.label_names = list(feature.names)
            elif string_labels:
                self.label_names = sorted({v for v in values if v is not None})
            else:
                self.label_names, self._label_ids = integer_label_names(values, self.num_labels)
        if string_labels:
            self._label_ids = dict(self.label2id)
        if self.num_labels is None:
            self.num_labels = len(self.label_names)
        if self.num_labels < 2:
            raise DataError(
                f"the train split has {self.num_labels} class(es) ({self.label_names}); "
                "classification needs at least 2"
            )

    @property
    def label2id(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.label_names or [])}

    def model_kwargs(self) -> dict[str, Any]:
        """The head's label settings, for `from_pretrained` / `from_config`."""
        names = self.label_names or []
        return {
            "num_labels": self.num_labels,
            "id2label": dict(enumerate(names)),
            "label2id": self.label2id,
            # Picks the head's loss: cross-entropy, BCE-with-logits or MSE.
            "problem_type": PROBLEM_TYPES[self.problem_type],
        }

    # ----------------------------------------------------------------- checks
    def _require_columns(self, split: str, dataset: Dataset) -> None:
        wanted = {"data.text_column": self.text_column, "data.label_column": self.label_column}
        if self.text_pair_column:
            wanted["data.text_pair_column"] = self.text_pair_column
        self.require_columns(split, dataset, wanted)

    def check_split(self, name: str, dataset: Dataset) -> None:
        self._require_columns(name, dataset)
        for column in filter(None, (self.text_column, self.text_pair_column)):
            _check_text_column(self, name, dataset, column)
        if self.problem_type == "regression":
            for row, value in enumerate(dataset[self.label_column]):
                if not isinstance(value, (int, float)) or value != value:  # None, text or NaN
                    raise DataError(
                        f"{self.where(name, row, self.label_column)}: regression label "
                        f"{value!r} is not a number"
                    )
            return
        for row, value in enumerate(dataset[self.label_column]):
            if self.problem_type == "multi_label":
                if not isinstance(value, list):
                    raise DataError(
                        f"{self.where(name, row, self.label_column)}: multi-label rows need a "
                        f"list of labels, got {value!r}"
                    )
                for element in value:
                    self._check_label(name, row, element)
            else:
                self._check_label(name, row, value)

    def _check_label(self, name: str, row: int, value: Any) -> None:
        if self._label_ids is not None and value in self._label_ids:
            return  # a class the data names (integer labels -1/1 included)
        # GLUE and others publish test sets with every label hidden as -1; an export without
        # ClassLabel (IMDB's CSV or Parquet) may hold it as text, or cast to the other
        # splits' string type: -1 is hidden in any column type unless it names a class.
        if (
            self.problem_type == "single_label"
            and not isinstance(value, bool)
            and (value == -1 or value == "-1")
        ):
            raise DataError(
                f"{self.where(name, row, self.label_column)}: label -1 marks a hidden label "
                f"(unlabeled rows, as in GLUE's test splits) that cannot be trained on or "
                "scored; "
                + self.another_split(
                    f"map lab's {name} split to a labeled one (data.splits.{name}=...) or "
                    "null to carve it from train"
                )
            )
        if self._label_ids is not None:
            raise DataError(
                f"{self.where(name, row, self.label_column)}: label {value!r} is not one of "
                f"the label names {self.label_names}"
            )
        if not isinstance(value, int) or not 0 <= value < (self.num_labels or 0):
            raise DataError(
                f"{self.where(name, row, self.label_column)}: label {value!r} is outside "
                f"num_labels={self.num_labels} "
                f"(valid: 0..{(self.num_labels or 0) - 1}); fix the data or set data.num_labels"
            )

    # ----------------------------------------------------------------- tokenization
    def fingerprint_parts(self) -> tuple[Any, ...]:
        return (
            self.text_column,
            self.text_pair_column,
            self.label_column,
            self.label_names if self._label_ids is not None else None,
            self.max_length,
            self.problem_type,
            self.num_labels if self.problem_type == "multi_label" else None,
        )

    def tokenize(self, batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        pairs = batch[self.text_pair_column] if self.text_pair_column else None
        encoded = self.tokenizer(
            batch[self.text_column], pairs, truncation=True, max_length=self.max_length
        )
        labels = batch[self.label_column]
        ids = self._label_ids
        if self.problem_type == "regression":
            labels = [float(v) for v in labels]
        elif self.problem_type == "multi_label":  # multi-hot float vectors (BCE targets)
            labels = [
                _multi_hot([ids[v] for v in row] if ids else row, self.num_labels or 0)
                for row in labels
            ]
        elif ids is not None:
            labels = [ids[v] for v in labels]
        encoded["labels"] = labels
        return dict(encoded)


def _multi_hot(ids: list[int], size: int) -> list[float]:
    vector = [0.0] * size
    for i in ids:
        vector[i] = 1.0
    return vector


def _check_text_column(data: DataModule, split: str, dataset: Dataset, column: str) -> None:
    # Checked on the Arrow column (type and null count) so a 600k-row split is not
    # copied into Python objects just to find that every value is fine.
    dtype = getattr(dataset.features[column], "dtype", None)
    if dtype not in ("string", "large_string"):
        raise DataError(
            f"{data.source_of(split) or f'the {split} split'} column '{column}': holds "
            f"{dtype or dataset.features[column]} values, not text"
        )
    import pyarrow.compute as pc

    values = dataset.with_format("arrow")[column]
    if values.null_count:  # an empty CSV cell, a JSON null: no text at all
        row = next(i for i, v in enumerate(dataset[column]) if v is None)
        raise DataError(f"{data.where(split, row, column)}: the cell is empty")
    # An empty or blank string is text, as HF's tokenizers take it (special tokens only):
    # kept, but said, since it is mostly a scraping or export mistake.
    blank = pc.equal(pc.utf8_trim_whitespace(values), "")
    count = int(pc.sum(blank).as_py() or 0)
    if count:
        first = int(pc.index(blank, True).as_py())
        rows = f"{count} rows" if count > 1 else "1 row"
        log.warning(
            "%s: the text is empty or only whitespace (%s of the %s split, this the first); "
            "kept as empty inputs",
            data.where(split, first, column),
            rows,
            split,
        )
