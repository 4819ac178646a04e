"""The seq2seq row rule, one for training and `lab.inspect`: every row needs a readable,
non-empty source and target text.

A cell is refused when `lab.tasks.language_pairs.cell_text` cannot read it (no `{language:
text}` dictionary, the language missing, not text) or its text is empty or whitespace only.
`Seq2SeqDataModule.check_split` stops on the first refused cell of a split; `row_warnings`
(the `labels:` of `conf/data/base/inspect/seq2seq.yaml`) counts them per split and side and
names the file's first in the same words (`RefusedCell.at`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from lab.tasks.language_pairs import MissingLanguage, cell_text
from lab.tasks.seq2seq_languages import language_fix

if TYPE_CHECKING:
    from datasets import Dataset
    from omegaconf import DictConfig

ROLES = ("source", "target")


class Field(NamedTuple):
    """The source or the target of a row: its `role`, `column`, language key (`lang`, None for
    a text column), the config key naming the column, and the other side's language."""

    role: str
    column: str
    lang: str | None
    key: str
    other_lang: str | None


class RefusedCell(ValueError):
    """A source or target cell training refuses: `tag` follows the cell's place (the language
    of an empty `{language: text}` entry), `why` is what is wrong with it."""

    def __init__(self, tag: str, why: str) -> None:
        super().__init__(f"{tag}: {why}")
        self.tag = tag
        self.why = why

    def at(self, where: str) -> str:
        """Training's line for the cell at `where` (`<file>:<line> column '<column>'`)."""
        return f"{where}{self.tag}: {self.why}"


def checked_text(value: Any, field: Field) -> str:
    """The text of `field` in a cell, or `RefusedCell` saying why training refuses it (a
    missing language with the fix: `set data.target_lang=de`)."""
    try:
        text = cell_text(value, field.lang)
    except MissingLanguage as err:
        fix = language_fix(field.role, err.present, field.other_lang)
        raise RefusedCell("", f"{err}; {fix}" if fix else str(err)) from err
    except ValueError as err:
        raise RefusedCell("", str(err)) from err
    if not text.strip():
        raise RefusedCell(
            f" [{field.lang!r}]" if field.lang else "",
            f"empty {field.role} text ({field.key}); every row needs a non-empty source and target",
        )
    return text


def fields(data: Mapping[str, Any]) -> tuple[Field, Field]:
    """The source and target `Field`s of a data config (or any mapping of its keys)."""
    langs = {role: data.get(f"{role}_lang") for role in ROLES}
    source, target = (
        Field(
            role,
            str(data.get(f"{role}_column")),
            str(langs[role]) if langs[role] else None,
            f"data.{role}_column",
            str(langs[other]) if langs[other] else None,
        )
        for role, other in zip(ROLES, reversed(ROLES), strict=True)
    )
    return source, target


def row_warnings(data: DictConfig, splits: dict[str, Dataset], names: Any = None) -> list[str]:
    """`lab.inspect`'s use of the rule (`labels:` of the head's inspect declaration): per split
    and side, how many rows hold a cell training refuses, and the file's first in training's
    words, e.g. `train: 1 row has a source text lab.train refuses; the first: data/train.jsonl:7
    column 'document': empty source text (data.source_column); every row needs a non-empty
    source and target`. A missing column is the head's to refuse, not counted here."""
    from lab.data.inspection_places import place
    from lab.data.inspection_refusals import rows_have

    found = []
    for split, dataset in splits.items():
        for field in fields(data):
            column = field.column
            if column not in dataset.column_names:
                continue
            refused: list[tuple[int, RefusedCell]] = []
            for row, value in enumerate(dataset[column][:]):  # a list: one Arrow read
                try:
                    checked_text(value, field)
                except RefusedCell as err:
                    refused.append((row, err))
            if refused:
                row, refusal = refused[0]
                first = refusal.at(f"{place(splits, split, row)} column '{column}'")
                found.append(
                    f"{split}: {rows_have(len(refused))} a {field.role} text lab.train refuses; "
                    f"the first: {first}"
                )
    return found
