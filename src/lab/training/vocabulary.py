"""New tokens (`model.add_tokens`, `model.add_special_tokens`): the tokenizer gains them, the
model's embeddings get a row for each, and a PEFT run trains those rows.

Two steps, because the data is tokenized between them:

1. `add_vocabulary(tokenizer, cfg.model)` right after the tokenizer is built (before the data
   is tokenized, so the new tokens are never split). A token the vocabulary already has is
   skipped with a warning saying so; the run goes on.
2. `resize_embeddings(model, tokenizer)` once the head is built (`lab.training.freezing.
   prepare_model`): the embedding table grows to the tokenizer's size when it is smaller, and
   the new tokens' rows (input embeddings, and an untied output layer) start at the mean of
   the rows of the tokens the tokenizer had before, a start that keeps the model's first
   predictions close to what they were (the recipe of Hewitt, "Initializing new word
   embeddings", 2021).

What step 1 added is remembered per tokenizer object (a weak map: nothing is written into the
library's objects), and what step 2 initialised per model, where `new_token_rows(model)` gives
`lab.training.adapters.apply_peft` the rows a LoRA adapter must train
(`trainable_token_indices`). The tokenizer is exported as it is, so the export has the tokens.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch

from lab.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AddedTokens:
    """What `add_vocabulary` did: the tokenizer's size before, and the new tokens' ids."""

    old_size: int
    ids: tuple[int, ...]


_ADDED: weakref.WeakKeyDictionary[Any, AddedTokens] = weakref.WeakKeyDictionary()
_NEW_ROWS: weakref.WeakKeyDictionary[Any, tuple[int, ...]] = weakref.WeakKeyDictionary()


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable):
        return [str(item) for item in value]
    raise ConfigError(f"model.add_special_tokens values are tokens or lists of tokens: {value!r}")


def add_vocabulary(tokenizer: Any, model_cfg: Any) -> AddedTokens:
    """Add `model_cfg.add_tokens` and `model_cfg.add_special_tokens` to `tokenizer`.

    `add_special_tokens` maps a special-token role (`pad_token`, `additional_special_tokens`,
    ...) to a token or a list of tokens. A token already in the vocabulary gets no new id (a
    warning says so); a special one still takes its role. Returns what was added.
    """
    tokens = [str(t) for t in (model_cfg.get("add_tokens") or [])]
    special = {str(k): v for k, v in dict(model_cfg.get("add_special_tokens") or {}).items()}
    old_size = len(tokenizer)
    if not tokens and not special:
        return AddedTokens(old_size, ())
    vocabulary = tokenizer.get_vocab()
    roles = set(getattr(tokenizer, "SPECIAL_TOKENS_ATTRIBUTES", ())) | {
        "additional_special_tokens",
        "extra_special_tokens",
    }
    unknown = sorted(set(special) - roles)
    if unknown:
        raise ConfigError(
            f"model.add_special_tokens: unknown role(s) {', '.join(unknown)}; "
            f"valid: {', '.join(sorted(roles))}"
        )
    special_tokens = {role: _strings(value) for role, value in special.items()}
    for token in [*tokens, *(t for values in special_tokens.values() for t in values)]:
        if token in vocabulary:
            log.warning(
                "%s: '%s' is already in the tokenizer's vocabulary (id %d); "
                "it keeps its id and embedding row",
                "model.add_tokens" if token in tokens else "model.add_special_tokens",
                token,
                vocabulary[token],
            )
    new_tokens = [t for t in dict.fromkeys(tokens) if t not in vocabulary]
    if new_tokens:
        tokenizer.add_tokens(new_tokens)
    if special_tokens:
        tokenizer.add_special_tokens(
            {
                role: values if role.endswith("special_tokens") else values[0]
                for role, values in special_tokens.items()
            },
            replace_extra_special_tokens=False,
        )
    added = [
        t
        for t in dict.fromkeys([*new_tokens, *(t for v in special_tokens.values() for t in v)])
        if t not in vocabulary
    ]
    result = AddedTokens(old_size, tuple(tokenizer.convert_tokens_to_ids(added)))
    _ADDED[tokenizer] = result
    log.debug("added %d tokens to the tokenizer: %s", len(added), ", ".join(added))
    return result


def check_vocabulary_added(tokenizer: Any, model_cfg: Any) -> None:
    """Every configured new token must be in `tokenizer` by now: `add_vocabulary` runs where
    the tokenizer is built, before the data is tokenized (a missing call would drop the
    option silently, and the data would hold the tokens split into pieces)."""
    special = dict(model_cfg.get("add_special_tokens") or {}).values()
    wanted = [str(t) for t in (model_cfg.get("add_tokens") or [])]
    wanted += [t for value in special for t in _strings(value)]
    if tokenizer is None or not wanted:
        return
    vocabulary = tokenizer.get_vocab()
    missing = [t for t in wanted if t not in vocabulary]
    if missing:
        raise RuntimeError(
            f"model.add_tokens / add_special_tokens: {', '.join(missing)} not in the tokenizer; "
            "lab.training.vocabulary.add_vocabulary must run on it before the data is tokenized"
        )


def added_tokens(tokenizer: Any) -> AddedTokens | None:
    """What `add_vocabulary` added to this tokenizer object, or None."""
    try:
        return _ADDED.get(tokenizer)
    except TypeError:  # an object that cannot be weakly referenced was never recorded
        return None


def resize_embeddings(model: Any, tokenizer: Any) -> tuple[int, ...]:
    """Give the tokens `add_vocabulary` added to `tokenizer` embedding rows in `model`.

    The table grows to `len(tokenizer)` when smaller; each new token's row (input embeddings,
    an untied output layer and its bias) is set to the mean of the rows of the first
    `old_size` ids. Returns the initialised row ids (none when nothing was added).
    """
    added = added_tokens(tokenizer)
    if added is None or not added.ids:
        return ()
    if model.get_input_embeddings().num_embeddings < len(tokenizer):
        model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    rows = torch.tensor(added.ids)
    output = model.get_output_embeddings()
    matrices = [model.get_input_embeddings().weight]
    if output is not None:
        if output.weight is not matrices[0]:  # untied (a tied one is the same tensor)
            matrices.append(output.weight)
        bias = getattr(output, "bias", None)
        if bias is not None and bias.shape[0] == output.weight.shape[0]:
            matrices.append(bias)
    with torch.no_grad():
        for matrix in matrices:
            matrix[rows] = matrix[: added.old_size].mean(dim=0).to(matrix.dtype)
    _NEW_ROWS[model] = added.ids
    return added.ids


def new_token_rows(model: Any) -> tuple[int, ...]:
    """The embedding rows `resize_embeddings` initialised in `model` (none: empty)."""
    try:
        return _NEW_ROWS.get(model, ())
    except TypeError:
        return ()


def warn_if_new_rows_frozen(model: Any) -> None:
    """Warn where `model.freeze` / `model.freeze_layers` froze the input embeddings that hold
    the added tokens' rows (and no adapter trains those rows alone): they would keep their
    starting (mean) rows for the whole run, unseen by the optimizer."""
    rows = new_token_rows(model)
    embedding = model.get_input_embeddings() if rows else None
    if embedding is None or embedding.weight.requires_grad:
        return
    log.warning(
        "model.add_tokens: the input embeddings are frozen (model.freeze_layers freezes them "
        "with the bottom blocks; or a model.freeze pattern), so the %d added tokens keep their "
        "starting (mean) embedding rows all run; to train them, freeze blocks by model.freeze "
        "patterns that leave the embeddings out, or use peft=lora (it trains those rows alone)",
        len(rows),
    )
