"""Cells of a translation column keyed by language (WMT's `translation`: `{"en": ..., "ro":
...}`), for training (`cell_text`) and for `lab.predict` / `lab.serve` rows (`pair_problem`):
each fault said as what it is (not a dictionary, a CSV cell spelling one, a language missing,
a number, an empty text). Training's and `lab.inspect`'s row rule: `lab.tasks.seq2seq_rows`."""

from __future__ import annotations

from typing import Any


class MissingLanguage(ValueError):
    """A `{language: text}` cell without the language asked for; `present`: the ones it has."""

    def __init__(self, message: str, present: list[str]) -> None:
        super().__init__(message)
        self.present = present


def cell_text(value: Any, lang: str | None) -> str:
    """The text of one cell: the cell itself, or its `lang` entry for dictionary columns.

    Raises `ValueError` saying what is wrong with the cell (the caller names the row):
    `MissingLanguage` for a dictionary without `lang`."""
    if lang is not None:
        if not isinstance(value, dict):
            # A CSV cell is text even when it spells a dictionary in JSON.
            spelled = isinstance(value, str) and value.lstrip().startswith("{")
            raise ValueError(
                f"is {type(value).__name__}, not a {{language: text}} dictionary"
                + (
                    "; a CSV cell holds text: give this column in jsonl or parquet"
                    if spelled
                    else ""
                )
            )
        if value.get(lang) is None:  # absent, or null where other rows have the key
            present = [str(k) for k, v in value.items() if v is not None]
            raise MissingLanguage(
                f"has no '{lang}' text (data.source_lang / data.target_lang); languages "
                f"present: {', '.join(present) or 'none'}",
                present,
            )
        value = value[lang]
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(
            f"holds {type(value).__name__}, not text"
            + (
                "; for a column of {language: text} set data.source_lang/target_lang"
                if isinstance(value, dict)
                else ""
            )
        )
    return value


def pair_problem(row: dict[str, Any], column: str | None, lang: str | None) -> str | None:
    """For a predict row without `text` that gives the run's `column` of `{language: text}`:
    why its `lang` text cannot be read, or None once `row["text"]` holds it (also None when
    the row does not use that form: the predictor's own checks follow)."""
    if column is None:
        return None
    given = [f for f in ("text", column) if row.get(f) is not None]
    if len(given) == 2:
        return f"give either 'text' or '{column}', not both"
    if given != [column]:
        row.pop(column, None)  # lab.serve's absent field (None): the `text` checks follow
        return None
    pair = row[column]
    if not isinstance(pair, dict):
        return (
            f"field '{column}' must be a {{language: text}} dictionary, got {type(pair).__name__}"
        )
    value = pair.get(lang)
    if value is None:
        languages = ", ".join(map(str, pair)) or "none"
        return f"field '{column}' has no '{lang}' text (languages: {languages})"
    if not isinstance(value, str):
        return f"field '{column}' has '{lang}': {type(value).__name__}, not text"
    if not value.strip():
        return f"field '{column}' has an empty '{lang}' text"
    row["text"] = value
    del row[column]  # read: a second check (lab.serve's) sees the `text` form only
    return None
