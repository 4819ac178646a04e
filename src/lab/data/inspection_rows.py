"""What `lab.inspect` measures in a row, and how a head that reads whole rows is measured.

`TextSpec` is one measured sequence (the declared `sequences:` of
`conf/data/base/inspect/<head>.yaml`). A head whose rows are not texts in columns (SFT chats,
DPO pairs) names a `RowReader` kept with its code (`rows:`); `read_split` passes every row of a
split through it. The rules and numbers are described in `lab.data.inspection`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lab.errors import DataError

if TYPE_CHECKING:
    from datasets import Dataset


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


class Skip(Exception):
    """A row training leaves out or refuses: `reason` is its kind (a key of
    `RowReader.left_out`), the message says what is wrong with it."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class RowReader:
    """How a head that reads whole rows is measured (`rows:` in its inspect declaration).

    `read` sees every row (no tokenizer: cheap) and gives its key (duplicates, leakage, empty
    rows), what `measure` needs, and facts to sum up (`inspection_stats.summarize_facts`);
    `measure` sees the sampled rows and gives tokens per sequence of `specs` and the tokens of
    the prompt. Both raise `Skip` for a row training would not tokenize.
    """

    specs: list[TextSpec]
    columns: tuple[str, ...]  # what every split must have; a skipped row's key is read from them
    left_out: dict[str, str]  # Skip reason -> what training does with such rows

    def read(self, row: dict[str, Any]) -> tuple[str, Any, dict[str, Any]]:
        """(key, what `measure` takes, facts) of one row (every column, by name)."""
        raise NotImplementedError

    def measure(self, parsed: Any, split: str) -> tuple[dict[str, int], int, dict[str, Any]]:
        """(tokens per sequence name, tokens of the prompt, facts) of one read row."""
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
    out per reason (index, message) and the facts of `read` and `measure`."""

    keys: list[str] = field(default_factory=list)
    left_out: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    facts: list[dict[str, Any]] = field(default_factory=list)
    lengths: dict[str, list[int]] = field(default_factory=dict)
    prompts: list[int] = field(default_factory=list)


def read_split(
    reader: RowReader, name: str, dataset: Dataset, measured: Sequence[int]
) -> ReadSplit:
    """Every row of `dataset` through `reader.read`, the rows `measured` through `measure`."""
    missing = [c for c in reader.columns if c not in dataset.column_names]
    if missing:
        raise DataError(
            f"the {name} split lacks column(s) {', '.join(missing)}; columns present: "
            f"{', '.join(dataset.column_names)} (set data.<key>_column=...)"
        )
    table = {c: dataset.with_format("arrow")[c].to_pylist() for c in dataset.column_names}
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
    for i in measured:
        if i not in parsed:  # left out above
            continue
        try:
            lengths, prompt, facts = reader.measure(parsed[i], name)
        except Skip as skip:
            found.left_out.setdefault(skip.reason, []).append((i, str(skip)))
            continue
        for sequence, value in lengths.items():
            found.lengths[sequence].append(value)
        found.prompts.append(prompt)
        found.facts.append(facts)
    return found


def cell_text(value: Any, lang: str | None = None) -> str:
    """A cell as text: the `lang` entry of a translation dict, list items joined (words, or
    chat message contents), "" for None."""
    if isinstance(value, dict) and lang:
        value = value.get(lang)
    if isinstance(value, list):  # words, or chat messages ({role, content})
        return " ".join(str(v.get("content", "")) if isinstance(v, dict) else str(v) for v in value)
    return "" if value is None else str(value)
