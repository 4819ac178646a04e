"""The class names a stream declares, kept on the rows lab reads from its head; and a word
when a split cut from that head holds one class.

Parquet written by `datasets` (a Hub dataset's shards, `Dataset.to_parquet`), an Arrow
folder from `save_to_disk` and a Hub dataset with a card carry each label column's
`ClassLabel` in their features, and `datasets` reports it on the stream
(`IterableDataset.features`). lab reads the first rows of a stream into small `Dataset`s
(validation, test, and the train sample the head learns its classes from); built from Python
rows they saw bare ids, so a streamed run named its classes "0", "1" where the same files
read whole gave "neg", "pos", and a label-sorted file (IMDB: every negative first) had one
class in its head. `with_class_labels` puts the stream's `ClassLabel`s back on those rows.
A stream whose features are unknown (None: a Hub JSON stream may report none) or declare no
`ClassLabel` is left as read (its names come from `data.label_names` or the rows).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from lab.errors import DataError

if TYPE_CHECKING:
    from datasets import Dataset


def _holds_class_label(feature: Any) -> bool:
    """Whether `feature` is a `ClassLabel` or holds one (a list of tags, a struct)."""
    from datasets import ClassLabel

    if isinstance(feature, ClassLabel):
        return True
    if isinstance(feature, Mapping):
        return any(map(_holds_class_label, feature.values()))
    if isinstance(feature, (list, tuple)):
        return any(map(_holds_class_label, feature))
    inner = getattr(feature, "feature", None)  # datasets' List / LargeList / Sequence
    return inner is not None and _holds_class_label(inner)


def class_label_features(features: Mapping[str, Any] | None) -> dict[str, Any]:
    """{column: feature} of the columns of a stream's `features` that hold a `ClassLabel`;
    empty where the features are unknown (None)."""
    if not features:
        return {}
    return {column: f for column, f in features.items() if _holds_class_label(f)}


def with_class_labels(dataset: Dataset, features: Mapping[str, Any] | None, where: str) -> Dataset:
    """`dataset` (rows read from a stream, described in messages as `where`) with each of its
    columns that the stream's `features` declare a `ClassLabel` for typed so, as `datasets`
    types them when it reads the files whole."""
    from datasets import Dataset, Features

    declared = {
        c: f for c, f in class_label_features(features).items() if c in dataset.column_names
    }
    if not declared:
        return dataset
    typed = Features({**dataset.features, **declared})
    # Built again from the Arrow columns: `cast_column` would run a `map` (a progress bar
    # on the console for a few rows); here only the declared columns are converted.
    columns = {c: dataset.data.column(c) for c in dataset.column_names}
    try:
        return Dataset.from_dict(columns, features=typed)
    except ValueError as err:  # an id its ClassLabel has no name for
        named = ", ".join(f"'{c}'" for c in declared)
        raise DataError(f"{where} column {named}: {err} (the files' ClassLabel)") from err


def single_class_warning(
    split: str, dataset: Dataset, column: str | None, where: str, rows: int
) -> str | None:
    """The warning for a validation/test `split` cut from the head of the train stream
    (`where`: its source; `rows` rows) whose label `column` holds one value: its metrics say
    little (a file sorted by label puts one class first). None where it holds more, or the
    head has no such column (`column` None or absent)."""
    if not column or column not in dataset.column_names or rows < 2:
        return None
    values = {_hashable(v) for v in dataset[column] if v is not None}
    if len(values) != 1:
        return None
    (value,) = values
    feature = dataset.features[column]
    if hasattr(feature, "int2str") and isinstance(value, int) and 0 <= value < feature.num_classes:
        value = feature.int2str(value)  # the class's name, as training calls it
    return (
        f"the {split} split cut from the head of the train stream (the first {rows} rows of "
        f"{where}) holds one label, {value!r} (column '{column}'): its metrics say little "
        "(is the file sorted by label?); give the source a "
        f"{split} split of its own (a {split} file beside train, or "
        f"data.splits.{split}=<the source's split>)"
    )


def _hashable(value: Any) -> Any:
    """A cell as a set member (a list of labels as a tuple, a struct as its text)."""
    if isinstance(value, list):
        return tuple(map(_hashable, value))
    return repr(value) if isinstance(value, dict) else value
