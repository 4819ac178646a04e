"""How wide a dynamically padded batch is: its longest row, or that rounded up to a multiple.

Eager CUDA pays a one-time cost for every batch shape it has not met before (kernel
selection, attention plans). On one H200 (BERT-base, bf16, batch 32, max_length 256, IMDB
reviews), a training step at a padded length not seen before took 130-250 ms and one at a
length seen before 50-80 ms; with length-grouped batches almost every batch is a new length,
and throughput fell to 0.35x (lab) and 0.44x (HF Trainer) of ungrouped batches. Rounding
padded lengths up to a multiple of 64 caps the distinct shapes at max_length / 64. On CPU
there is no per-shape cost and the extra padding only costs compute, so `auto` rounds only
when batches go to an accelerator (a CUDA GPU; MPS alike). Measured after the change on the
same H200: lab with grouping ran at 1.52x HF Trainer's grouped run (median step 79 ms
against 179 ms).

`Padding.width` never goes above the head's own limit (`data.max_length`, or the limit of the
padded column): position embeddings stop at the model's limit (BERT: 512), so a width rounded
past the longest row a head can produce must not be made. A batch whose rounded width would
pass the limit is padded to the limit instead. Collation is not cached, so none of this is
part of the tokenization cache's fingerprint.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lab.errors import ConfigError

if TYPE_CHECKING:
    import torch

#: The multiple `auto` rounds to on a CUDA device.
AUTO_MULTIPLE = 64


def multiple_problem(value: Any) -> str | None:
    """What is wrong with `value` as `data.pad_to_multiple_of`, or None (also the config
    check's `FORMS` rule, so a bad value fails before anything loads; no torch import)."""
    if value is None or value == "auto":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        # A quoted number ('8') is text: shown quoted, or it would read as the integer asked for.
        shown = repr(value) if isinstance(value, str) else value
        return (
            f"data.pad_to_multiple_of={shown}: use a positive integer, null (no rounding) or "
            f"auto ({AUTO_MULTIPLE} on a CUDA GPU, no rounding on CPU)"
        )
    return None


def resolve_multiple(value: int | str | None, on_cuda: bool) -> int | None:
    """`data.pad_to_multiple_of` as a multiple, or None for no rounding: `auto` is
    `AUTO_MULTIPLE` when `on_cuda`, else None; 1 rounds nothing either."""
    if problem := multiple_problem(value):
        raise ConfigError(problem)
    if value is None:
        return None
    if value == "auto":
        return AUTO_MULTIPLE if on_cuda else None
    return int(value) if int(value) > 1 else None


@dataclass(frozen=True)
class Padding:
    """Round padded widths up to `multiple` (None: no rounding), never above `limit`."""

    multiple: int | None = None
    limit: int | None = None

    def width(self, longest: int) -> int:
        """The padded width of a batch whose longest row has `longest` tokens."""
        if self.multiple is None:
            return longest
        rounded = -(-longest // self.multiple) * self.multiple
        if self.limit is not None and rounded > self.limit:
            return max(longest, self.limit)
        return rounded

    def limited(self, limit: int | None) -> Padding:
        """The same rounding under another limit (a head's second padded column)."""
        return dataclasses.replace(self, limit=limit)


class PadToWidth:
    """A Hugging Face collator (padding to the longest) that pads to `padding.width` instead.

    HF collators take `pad_to_multiple_of` but round past any limit, so each batch gets the
    collator with `padding="max_length"` at the batch's own width. Labels that follow the
    inputs' width (`DataCollatorForTokenClassification`) follow it here too. (A class, not a
    closure: DataLoader workers pickle it.)
    """

    def __init__(self, collator: Any, padding: Padding, key: str = "input_ids") -> None:
        self.collator = collator
        self.padding = padding
        self.key = key

    def __call__(self, features: list[dict[str, Any]]) -> Any:
        width = self.padding.width(max(len(f[self.key]) for f in features))
        return dataclasses.replace(self.collator, padding="max_length", max_length=width)(features)


def pad_hf(collator: Any, padding: Padding, key: str = "input_ids") -> Any:
    """`collator` itself when `padding` rounds nothing (the batches it always made), else
    `PadToWidth` around it."""
    return collator if padding.multiple is None else PadToWidth(collator, padding, key)


def pad_rows(rows: Sequence[Sequence[int]], width: int, value: int, left: bool) -> torch.Tensor:
    """`rows` as one [len(rows), width] tensor, each padded with `value` on the left or right."""
    import torch

    out = torch.full((len(rows), width), value, dtype=torch.long)
    for i, row in enumerate(rows):
        if len(row):
            span = slice(width - len(row), width) if left else slice(0, len(row))
            out[i, span] = torch.tensor(list(row), dtype=torch.long)
    return out
