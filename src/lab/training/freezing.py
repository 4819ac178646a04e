"""Freezing parameters (`model.freeze`, `model.freeze_layers`) and the layer structure that
freezing and layer-wise learning-rate decay (`optimizer.layer_decay`) share.

A transformer is embeddings, a stack of identical blocks, and whatever sits above the stack
(final norm, pooler, task head). The stack is found without knowing the family: the outermost
`nn.ModuleList` whose items all have one type, the longest one (the first of equal ones, so an
encoder-decoder's encoder). BERT's `encoder.layer`, GPT-2's `transformer.h`, Llama's
`model.layers`, T5's `encoder.block` and BART's `encoder.layers` are found this way; a
mixture-of-experts list sits inside a block and is not outermost. The embeddings are the input
embedding layer (`get_input_embeddings()`), every parameter registered before the first
block (position and token-type embeddings, the embedding norm) and every other parameter
outside the blocks with `embed` in its name (BART's `layernorm_embedding`, DeBERTa's
`rel_embeddings`).

`prepare_model` is what `lab.build.build_model` calls on a freshly built head: new vocabulary
rows first (`lab.training.vocabulary`), then freezing, so a resized embedding is frozen too.
"""

from __future__ import annotations

import difflib
import fnmatch
import logging
from collections.abc import Sequence
from typing import Any

from torch import nn

from lab.errors import ConfigError

log = logging.getLogger(__name__)


def find_blocks(model: nn.Module) -> tuple[str, nn.ModuleList]:
    """The model's stack of blocks: (its module name, the `nn.ModuleList`).

    Raises `ConfigError` for a model without one (nothing to count layers in).
    """
    candidates = [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, nn.ModuleList)
        and len(module) > 0
        and len({type(child) for child in module}) == 1
    ]
    outermost = [
        (name, module)
        for name, module in candidates
        if not any(other != name and name.startswith(f"{other}.") for other, _ in candidates)
    ]
    if not outermost:
        raise ConfigError(
            f"{type(model).__name__} has no stack of identical blocks (an nn.ModuleList) to "
            "count layers in; use model.freeze=[patterns] instead of model.freeze_layers"
        )
    # max() keeps the first of equally long lists: an encoder-decoder's encoder.
    return max(outermost, key=lambda item: len(item[1]))


def parameter_layers(model: nn.Module) -> tuple[dict[str, int], int]:
    """Each parameter's layer, and the top layer: ({name: layer}, L + 1) for L blocks.

    Layer 0 is the embeddings (see the module doc), layer k + 1 is block k, layer L + 1
    everything else (above the blocks, or beside them: an encoder-decoder's decoder). Names
    are those of `model.named_parameters()` (each tied tensor once).
    """
    prefix, blocks = find_blocks(model)
    top = len(blocks) + 1
    get_embedding = getattr(model, "get_input_embeddings", None)
    embedding: nn.Module | None = get_embedding() if callable(get_embedding) else None
    embedding_ids = {id(p) for p in embedding.parameters()} if embedding is not None else set()
    layers: dict[str, int] = {}
    seen_block = False
    for name, param in model.named_parameters():
        if name.startswith(f"{prefix}."):
            seen_block = True
            layers[name] = int(name[len(prefix) + 1 :].split(".", 1)[0]) + 1
        elif id(param) in embedding_ids or not seen_block or "embed" in name.lower():
            layers[name] = 0
        else:
            layers[name] = top
    return layers, top


def freeze(model: nn.Module, patterns: Sequence[str] = (), layers: int = 0) -> int:
    """Set `requires_grad=False` on the parameters `patterns` match and on the embeddings plus
    the bottom `layers` blocks; return how many parameters (elements) were frozen.

    A pattern is an `fnmatch` pattern over parameter names (`bert.encoder.layer.0.*`,
    `*.attention.*`); a pattern naming a module (`bert.embeddings`) freezes all of it. A pattern
    that matches nothing, or `layers` beyond the model's depth, is a `ConfigError`.
    """
    names = dict(model.named_parameters())
    chosen: set[str] = set()
    for pattern in patterns:
        matched = {
            name
            for name in names
            if fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(name, f"{pattern}.*")
        }
        if not matched:
            raise ConfigError(_no_match(model, pattern, list(names)))
        chosen |= matched
    if layers:
        if layers < 0:
            raise ConfigError(f"model.freeze_layers={layers} must be >= 0")
        found, top = parameter_layers(model)
        prefix, _ = find_blocks(model)
        if layers > top - 1:
            raise ConfigError(
                f"model.freeze_layers={layers} but {type(model).__name__} has {top - 1} blocks "
                f"({prefix}); use 0..{top - 1}"
            )
        chosen |= {name for name, layer in found.items() if layer <= layers}
    for name in chosen:
        names[name].requires_grad_(False)
    frozen = sum(names[name].numel() for name in chosen)
    if chosen:
        log.debug("froze %d parameter tensors (%d values)", len(chosen), frozen)
    return frozen


def _no_match(model: nn.Module, pattern: str, names: list[str]) -> str:
    modules = [
        name for name, m in model.named_modules() if name and next(m.parameters(), None) is not None
    ]
    close = difflib.get_close_matches(pattern, modules + names, n=5, cutoff=0.5)
    if not close:  # nothing alike: show where the names start
        close = sorted({name.split(".")[0] for name in names})[:5]
    return (
        f"model.freeze pattern '{pattern}' matches no parameter of {type(model).__name__}; "
        f"close names: {', '.join(close)}"
    )


def prepare_model(model: Any, tokenizer: Any, model_cfg: Any) -> Any:
    """The model options applied to a freshly built head: the tokens the tokenizer gained
    (`model.add_tokens` / `add_special_tokens`) get embedding rows, then `model.freeze` and
    `model.freeze_layers` freeze. Returns `model` (changed in place)."""
    from lab.training.vocabulary import check_vocabulary_added, resize_embeddings

    check_vocabulary_added(tokenizer, model_cfg)
    resize_embeddings(model, tokenizer)
    freeze(model, list(model_cfg.get("freeze") or []), int(model_cfg.get("freeze_layers") or 0))
    return model
