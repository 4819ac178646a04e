"""Hugging Face datasets internals lab depends on.

Tokenized splits are cached under a fingerprint of (the raw data, the tokenizer, the data
module's settings), passed as `Dataset.map(new_fingerprint=...)`. The raw data's part is the
fingerprint datasets itself tracks through every load and transform, kept in the private
`Dataset._fingerprint`; no public accessor returns it, and hashing the rows again would cost
a pass over the data on every run.
"""

from __future__ import annotations

from typing import Any


def fingerprint(dataset: Any) -> str:
    """The content fingerprint datasets keeps for `dataset` (changes when its data changes)."""
    return str(dataset._fingerprint)
