"""One multiple-choice question, and its endings paired, tokenized and padded for the model.

Training (`data`), the test report (`module`) and serving (`predictor`) all go through
`choice_encoding` (`choice_inputs` splits it per question) and `pad_choices`: one pairing rule,
whatever the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import torch

if TYPE_CHECKING:
    from transformers import BatchEncoding, PreTrainedTokenizerBase

    from lab.data.padding import Padding


class Choice(NamedTuple):
    """One multiple-choice question: what the endings continue, and the endings."""

    context: str
    prefix: str
    endings: list[str]


def choice_inputs(
    tokenizer: PreTrainedTokenizerBase, choices: Sequence[Choice], max_length: int
) -> list[dict[str, list[list[int]]]]:
    """Tokenize each question's N `(context, prefix + " " + ending)` pairs: one dict per
    question whose values (input_ids, attention_mask, ...) hold N token lists."""
    return split_choices(choice_encoding(tokenizer, choices, max_length)[0], choices)


def choice_encoding(
    tokenizer: PreTrainedTokenizerBase, choices: Sequence[Choice], max_length: int
) -> tuple[BatchEncoding, list[str], list[str]]:
    """The truncating tokenizer call on every question's pairs, one question's after another
    (`split_choices` gives each its own), with the pairs' first and second texts: what the
    predictor reads its cut pairs from (`lab.inference.cuts.input_cuts`)."""
    first = [c.context for c in choices for _ in c.endings]
    # An empty prefix (HellaSwag's ctx_b often is) adds nothing, not a leading space.
    second = [" ".join(p for p in (c.prefix, e) if p) for c in choices for e in c.endings]
    # A pair over max_length is cut longest first (the tokenizer's `truncation=True`).
    return tokenizer(first, second, truncation=True, max_length=max_length), first, second


def split_choices(
    encoded: BatchEncoding, choices: Sequence[Choice]
) -> list[dict[str, list[list[int]]]]:
    """`encoded` (`choice_encoding`) as one dict per question of `choices`."""
    rows, start = [], 0
    for choice in choices:
        stop = start + len(choice.endings)
        rows.append({key: values[start:stop] for key, values in encoded.items()})
        start = stop
    return rows


def pad_choices(
    tokenizer: PreTrainedTokenizerBase,
    rows: Sequence[dict[str, Any]],
    padding: Padding | None = None,
) -> dict[str, torch.Tensor]:
    """Pad every pair of every row to the longest in the batch, or to `padding.width` of it
    (training's `data.pad_to_multiple_of`): tensors [rows, N, tokens].

    All rows must have the same N. Keys other than the tokenizer's (e.g. `labels`) are left
    out; the caller adds them.
    """
    keys = [k for k in rows[0] if k != "labels"]
    count = len(rows[0]["input_ids"])
    flat = [{k: row[k][i] for k in keys} for row in rows for i in range(count)]
    if padding is None or padding.multiple is None:
        padded = tokenizer.pad(flat, padding=True, return_tensors="pt")
    else:
        width = padding.width(max(len(pair["input_ids"]) for pair in flat))
        padded = tokenizer.pad(flat, padding="max_length", max_length=width, return_tensors="pt")
    return {k: v.view(len(rows), count, -1) for k, v in padded.items()}
