"""What `lab.inspect` measures in a row, and how a head that reads whole rows is measured.

`TextSpec` is one measured sequence (the declared `sequences:` of
`conf/data/base/inspect/<head>.yaml`). A head whose rows are not texts in columns (SFT chats,
DPO pairs) names a `RowReader` kept with its code (`rows:`); `read_split` passes every row of a
split through it, adds up the unknown tokens of the sequences it encodes and, where the reader
gives a row's labels (SFT), the tokens training learns from (`Targets`). The rules and numbers
are described in `lab.data.inspection`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lab.errors import DataError

if TYPE_CHECKING:
    from datasets import Dataset

    from lab.data.inspection_tokens import TokenCount

IGNORE = -100  # the label of a token the loss skips (Hugging Face's and every head's)
EXAMPLES = 2  # rows per split whose labels are kept whole, for `lab.inspect` to show


@dataclass(frozen=True)
class TextSpec:
    """One measured sequence: its columns (a pair when two or more) and how to read them."""

    name: str
    columns: tuple[str, ...]
    max_length: int | None
    max_length_key: str | None = None
    words: bool = False
    lang: str | None = None
    choices: str | tuple[str, ...] | None = None
    windowed: bool = False  # rows over the maximum are split into windows (QA), not cut
    packed: tuple[str, int] | None = None  # rows joined, cut in blocks: (its key, tokens)


class Skip(Exception):
    """A row training leaves out or refuses: `reason` is its kind (a key of
    `RowReader.left_out`), the message says what is wrong with it."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Targets:
    """A row as training keeps it (cut at the maximum length): its input ids and its labels,
    `IGNORE` where the loss skips the token. The others are its targets."""

    ids: list[int]
    labels: list[int]

    @property
    def count(self) -> int:
        """How many tokens are targets."""
        return sum(1 for label in self.labels if label != IGNORE)


@dataclass
class Measured:
    """What `RowReader.measure` finds in one row: tokens per sequence name of its `specs`,
    tokens of the prompt, facts to sum up, the ids of every sequence the model is given
    (uncut; their unknown tokens are counted), and the row's `Targets` where the head has
    labels to show (None also for a row training drops)."""

    lengths: dict[str, int]
    prompt: int
    facts: dict[str, Any] = field(default_factory=dict)
    ids: list[list[int]] = field(default_factory=list)
    targets: Targets | None = None


class RowReader:
    """How a head that reads whole rows is measured (`rows:` in its inspect declaration).

    `read` sees every row (no tokenizer: cheap) and gives its key (duplicates, leakage, empty
    rows), what `measure` needs, and facts to sum up (`inspection_stats.summarize_facts`);
    `measure` sees the sampled rows and gives a `Measured` (tokens per sequence of `specs`, of
    the prompt, the ids encoded, the labels). Both raise `Skip` for a row training would not
    tokenize.
    """

    specs: list[TextSpec]
    columns: tuple[str, ...]  # what every split must have; a skipped row's key is read from them
    left_out: dict[str, str]  # Skip reason -> what training does with such rows
    targets_rule: str | None = None  # which tokens are targets, in words; None: no labels shown

    def read(self, row: dict[str, Any]) -> tuple[str, Any, dict[str, Any]]:
        """(key, what `measure` takes, facts) of one row (every column, by name)."""
        raise NotImplementedError

    def measure(self, parsed: Any, split: str) -> Measured:
        """What one read row holds (see `Measured`)."""
        raise NotImplementedError


def as_skip(
    err: ValueError, kind: type[Exception], reason: str, columns: dict[str, str] | None = None
) -> Skip:
    """A head's refusal of a row as a `Skip`: `reason` when `err` is a `kind`, else
    "unreadable"; the message starts with the column the head names (`err.column`, a field
    that `columns` maps to its configured column)."""
    column = getattr(err, "column", None)
    column = (columns or {}).get(column, column) if column else None
    return Skip(
        reason if isinstance(err, kind) else "unreadable",
        f"{column}: {err}" if column else str(err),
    )


@dataclass
class ReadSplit:
    """What `inspect_data` counts in a split: every row's key (duplicates, leakage), tokens per
    sequence of the measured rows; from a `RowReader` also their prompt tokens, the rows left
    out per reason (index, message), the facts of `read` and `measure`, and, where it gives
    labels, the rows with labels, their tokens and targets, and the first `EXAMPLES` of them
    (row index, `Targets`)."""

    keys: list[str] = field(default_factory=list)
    left_out: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    facts: list[dict[str, Any]] = field(default_factory=list)
    lengths: dict[str, list[int]] = field(default_factory=dict)
    prompts: list[int] = field(default_factory=list)
    labeled_rows: int = 0
    labeled_tokens: int = 0
    targets: int = 0
    examples: list[tuple[int, Targets]] = field(default_factory=list)


def _column_values(dataset: Dataset, column: str) -> list[Any]:
    """A column's cells as training reads them: from Arrow (fast), except where a feature
    needs decoding (messages with differing keys are stored as Json text, which `datasets`
    decodes to the mappings training sees)."""
    from datasets.features.features import require_decoding

    if require_decoding(dataset.features[column]):
        return list(dataset[column])
    return dataset.with_format("arrow")[column].to_pylist()  # type: ignore[no-any-return]


def read_split(
    reader: RowReader,
    name: str,
    dataset: Dataset,
    measured: Sequence[int],
    count: TokenCount | None = None,
) -> ReadSplit:
    """Every row of `dataset` through `reader.read`, the rows `measured` through `measure`;
    `count` adds up the unknown tokens of the ids `measure` encodes."""
    require_columns(dataset, reader.columns, name)
    table = {c: _column_values(dataset, c) for c in dataset.column_names}
    wanted = set(measured)
    found = ReadSplit(lengths={spec.name: [] for spec in reader.specs})
    parsed: dict[int, Any] = {}
    for i in range(len(dataset)):
        row = {c: values[i] for c, values in table.items()}
        try:
            key, parsed_row, facts = reader.read(row)
        except Skip as skip:
            found.left_out.setdefault(skip.reason, []).append((i, str(skip)))
            found.keys.append("\x1f".join(cell_text(row[c]) for c in reader.columns))
            continue
        found.keys.append(key)
        found.facts.append(facts)
        if i in wanted:
            parsed[i] = parsed_row
    for i in sorted(measured):  # in row order: the examples are the first rows kept
        if i not in parsed:  # left out above
            continue
        try:
            result = reader.measure(parsed[i], name)
        except Skip as skip:
            found.left_out.setdefault(skip.reason, []).append((i, str(skip)))
            continue
        for sequence, value in result.lengths.items():
            found.lengths[sequence].append(value)
        found.prompts.append(result.prompt)
        found.facts.append(result.facts)
        if count is not None:
            for ids in result.ids:
                count.add(ids)
        if result.targets is not None:
            found.labeled_rows += 1
            found.labeled_tokens += len(result.targets.labels)
            found.targets += result.targets.count
            if len(found.examples) < EXAMPLES:
                found.examples.append((i, result.targets))
    return found


def cell_text(value: Any, lang: str | None = None) -> str:
    """A cell as text: the `lang` entry of a translation dict, list items joined (words, or
    chat message contents), "" for None."""
    if isinstance(value, dict) and lang:
        value = value.get(lang)
    if isinstance(value, list):  # words, or chat messages ({role, content})
        return " ".join(str(v.get("content", "")) if isinstance(v, dict) else str(v) for v in value)
    return "" if value is None else str(value)


def row_keys(dataset: Dataset, specs: Sequence[TextSpec], split: str) -> list[str]:
    """Each row's text (every measured column, choices included), joined: duplicates and
    leakage compare these."""
    columns = sorted({c for s in specs for c in s.columns} | choice_columns(specs))
    require_columns(dataset, columns, split)
    # Each (column, language) read once: a translation column is two texts, one per side.
    parts: list[tuple[str, str | None]] = []
    for c in columns:
        langs = sorted({str(s.lang) for s in specs if c in s.columns and s.lang})
        parts += [(c, lang) for lang in langs] if langs else [(c, None)]
    table = {c: _cells(dataset, c) for c in columns}
    return [
        "\x1f".join(cell_text(table[c][i], lang) for c, lang in parts) for i in range(len(dataset))
    ]


def require_columns(
    dataset: Dataset,
    columns: Sequence[str],
    split: str,
    keys: Mapping[str, str] | None = None,
    where: str = "",
) -> None:
    """Refuse `split` when it lacks any of `columns`, in training's words (each column with
    its config key from `keys`, then the columns present)."""
    from lab.data.column_refusal import missing_columns_message, named_column

    missing = [
        named_column(c, (keys or {}).get(c)) for c in columns if c not in dataset.column_names
    ]
    if missing:
        raise DataError(missing_columns_message(missing, split, dataset.column_names, where=where))


def choice_columns(specs: Sequence[TextSpec]) -> set[str]:
    found: set[str] = set()
    for spec in specs:
        if isinstance(spec.choices, str):
            found.add(spec.choices)
        elif spec.choices:
            found.update(spec.choices)
    return found


def _cells(dataset: Dataset, column: str) -> list[Any]:
    """`column`'s cells as training reads them: a column `datasets` keeps as JSON text (one
    that mixes types, e.g. a list of words with one text among them) decoded, as its rows
    are; any other straight from Arrow (faster)."""
    if type(dataset.features.get(column)).__name__ == "Json":
        return list(dataset[column])
    return dataset.with_format("arrow")[column].to_pylist()  # type: ignore[no-any-return]
