"""Digests that say whether data (or a tokenizer) is the same as before: cache keys of the
tokenized splits and the row fingerprints a run records."""

from __future__ import annotations

import contextlib
import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedTokenizerBase


def content_fingerprint(dataset: Dataset) -> str:
    """SHA-256 of a split's rows as loaded (after splitting and subsampling), in order.

    Hashes the Arrow IPC serialisation of each batch: the same rows give the same digest on
    any machine (for one pyarrow version), whatever file or cache they were read from.
    """
    import hashlib

    import pyarrow as pa

    digest = hashlib.sha256()
    for batch in dataset.with_format("arrow").iter(batch_size=10_000):
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, batch.schema) as writer:
            writer.write_table(batch)
        digest.update(sink.getvalue().to_pybytes())
    return digest.hexdigest()


# Per tokenizer object: its digest and what it was taken of (size, template). Serialising a
# vocabulary costs ~60 ms, and every split asks for it.
_DIGESTS: weakref.WeakKeyDictionary[Any, tuple[tuple[int, Any], str]] = weakref.WeakKeyDictionary()


def tokenizer_fingerprint(tokenizer: PreTrainedTokenizerBase) -> str:
    """A digest of the tokenizer's vocabulary and rules (what tokenized output depends on),
    its added tokens and its chat template (`model.chat_template` changes what chat rows
    become). Taken once per tokenizer object, again if its size or template changes."""
    taken_of = (len(tokenizer), getattr(tokenizer, "chat_template", None))
    known = _DIGESTS.get(tokenizer)
    if known is not None and known[0] == taken_of:
        return known[1]
    digest = _tokenizer_digest(tokenizer)
    # An object that cannot be weakly referenced is not remembered.
    with contextlib.suppress(TypeError):
        _DIGESTS[tokenizer] = (taken_of, digest)
    return digest


def _tokenizer_digest(tokenizer: PreTrainedTokenizerBase) -> str:
    import json

    from datasets.fingerprint import Hasher

    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return Hasher.hash(tokenizer)
    state = json.loads(backend.to_str())
    # Calling a fast tokenizer with truncation/padding stores those settings in its backend;
    # they say nothing about the vocabulary, and would make the hash depend on call history.
    state.pop("truncation", None)
    state.pop("padding", None)
    template = getattr(tokenizer, "chat_template", None)
    return Hasher.hash((type(tokenizer).__name__, json.dumps(state, sort_keys=True), template))
