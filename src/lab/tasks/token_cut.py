"""Words of a tagged row past `data.max_length`: scored as missed, not left out.

A row longer than the truncation length loses its last words to the cut; their tags cannot be
trained. Left out of the scores as well, the entities among them would vanish from recall
(a file of 90 gold entities scored recall 1.0 on the 47 before the cut). So the tokenizer's
output keeps the gold tags of the cut words as `cut_labels` (ids, one per word), the collator
pads them into the evaluation batch, and `EntityScores` appends them to the row's gold tags,
predicted as `O`: an entity past the cut counts as missed, as it is for anyone reading the
model's output. The model never sees the column (`without_cut`). Training says once per split
how many rows the cut reaches (`cut_note`, in the wording of every head's line on its cut rows:
`lab.data.cut_counts.cut_line`), as `lab.inspect` reports the share beforehand.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from lab.data.cut_counts import at_limit_advice, cut_line, model_length, split_rows
from lab.tasks.ignore import IGNORE

CUT = "cut_labels"


def cut_words(word_ids: Sequence[int | None], words: int, full: bool) -> range:
    """The words of a row of `words` words after the last one its encoding (`word_ids`)
    holds, where the encoding is `max_length` long (`full`: it may have been cut)."""
    if not full:
        return range(0)
    present = [w for w in word_ids if w is not None]
    return range(max(present) + 1 if present else 0, words)


def collate_with_cut(collate: Callable[[list[dict[str, Any]]], Any]) -> Callable[..., Any]:
    """`collate` for rows that may hold `CUT`: the rest collated by it, `CUT` padded with
    IGNORE into a `[batch, longest cut]` tensor (at least one column)."""

    def collated(rows: list[dict[str, Any]]) -> Any:
        if not rows or CUT not in rows[0]:
            return collate(rows)
        cuts = [list(row[CUT]) for row in rows]
        batch = collate([{k: v for k, v in row.items() if k != CUT} for row in rows])
        width = max(1, *map(len, cuts))
        batch[CUT] = torch.tensor([cut + [IGNORE] * (width - len(cut)) for cut in cuts])
        return batch

    return collated


def without_cut(batch: dict[str, Any]) -> dict[str, Any]:
    """`batch` as the model takes it (no `CUT`)."""
    return {k: v for k, v in batch.items() if k != CUT} if CUT in batch else batch


def cut_note(
    split: str, cuts: Sequence[Sequence[int]], max_length: int, tokenizer: Any = None
) -> str | None:
    """A train.log line on the rows of `split` whose words run past `max_length` (`cuts`: the
    split's `CUT` column), or None when no row is cut; at the model's own limit (`tokenizer`'s
    `model_max_length`) it says that no longer setting exists (NER has no left cut)."""
    rows = sum(1 for cut in cuts if len(cut))
    words = sum(len(cut) for cut in cuts)
    why = f"{words} words past the cut: not trained on, and scored as missed where evaluated"
    at_limit = tokenizer is not None and model_length(tokenizer) == max_length
    advice = at_limit_advice("data.max_length", max_length, "rows", None) if at_limit else ""
    return cut_line(
        "data.max_length", max_length, (rows, 0), len(cuts), split_rows(split), why, advice=advice
    )
