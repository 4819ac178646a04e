"""A chat format's columns, checked before any row is read: the hint of a split lacking its
format's columns (`SFTDataModule`) and `lab.validate`'s pre-flight check (`columns:` in the
head's inspect declaration), in training's words."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from lab.data.column_refusal import missing_columns_message, named_column
from lab.tasks.sft.chat import FORMAT_COLUMNS, ChatError, detect_format


def format_hint(columns: Iterable[str]) -> str:
    """The `data.format` that fits `columns`, for a split lacking its format's columns (new
    data given to a run configured for another format: `lab.eval data.path=...`)."""
    try:
        fits = detect_format(columns)
    except ChatError:
        wanted = "; ".join(f"{name}: {', '.join(cols)}" for name, cols in FORMAT_COLUMNS.items())
        return f"no data.format fits them; each needs its columns ({wanted})"
    return f"these columns fit data.format={fits} (data.format=auto detects it)"


def columns_problem(data: Any, splits: Mapping[str, Sequence[str]]) -> tuple[str, str] | None:
    """`lab.validate`'s pre-flight check of chat files (`columns:` in the head's inspect
    declaration): the split and what training will say of its columns (`splits`: each
    split's columns, train first) under `data.format` (auto: detected from train, as
    training detects it), or None where every split has its format's columns."""
    chosen = str(data.get("format") or "auto")
    for split, columns in splits.items():
        if chosen == "auto":
            try:
                chosen = detect_format(columns)
            except ChatError as err:
                return split, str(err)
        needed = FORMAT_COLUMNS.get(chosen, ())
        missing = [named_column(c, f"data.format={chosen}") for c in needed if c not in columns]
        if missing:
            return split, missing_columns_message(
                missing, split, list(columns), hint=format_hint(columns)
            )
    return None
