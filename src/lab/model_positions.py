"""How many tokens a model's position table takes: one rule for every limit lab derives from it
(the length check before training, `lab.inspect`'s model limit, the room `lab.predict`,
`lab.serve` and the chat API leave for an answer).

The table has `max_position_embeddings` rows, but not every family numbers its tokens from 0.
RoBERTa-style models (RoBERTa, XLM-R, CamemBERT, Longformer, Data2VecText, XMOD, MPNet, ESM,
...) number them from `padding_idx + 1` (transformers' `create_position_ids_from_input_ids`),
so rows 0..padding_idx are never a token's and only `max_position_embeddings - padding_idx - 1`
tokens fit: 512 of roberta-base's 514. Asking for 514 fails in the first full batch with
"index 514 is out of bounds".

Such a family is recognised by the model itself, not by a list of names, so families added to
transformers later are covered: its position table is an `nn.Embedding` named
`position_embeddings` whose `padding_idx` is set (token positions then start after it; BERT's
has none). A config alone (no weights at hand: the check before the data is tokenized,
`lab.inspect`) is built as an empty skeleton on the meta device to read the same table, in
milliseconds and without memory. Families whose table carries its offset in extra rows
(BART, OPT: `max_position_embeddings + 2` rows in `embed_positions`) take the full
`max_position_embeddings` and are left as they are.
"""

from __future__ import annotations

from typing import Any

#: Why a model takes fewer tokens than its table has rows, in the words of refusals.
OFFSET_REASON = "RoBERTa-style positions start after the padding index"


def position_offset(model: Any) -> int:
    """The rows of the model's position table no token reaches: `padding_idx + 1` for a
    RoBERTa-style table, else 0. `model` is a built model (its modules are read) or a
    transformers config (an empty skeleton is built from it on the meta device); 0 when neither
    tells (a config transformers cannot build a model from)."""
    from torch import nn

    if not isinstance(model, nn.Module):
        model = _skeleton(getattr(model, "config", model))
        if model is None:
            return 0
    rows = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    offsets = [
        module.padding_idx + 1
        for name, module in model.named_modules()
        if isinstance(module, nn.Embedding)
        and name.rsplit(".", 1)[-1] == "position_embeddings"
        and module.num_embeddings == rows  # the text table (not a vision tower's patches)
        and module.padding_idx is not None
    ]
    return max(offsets, default=0)


def usable_positions(model: Any) -> int | None:
    """The most tokens one sequence of `model` may have: `max_position_embeddings` (GPT-2's
    `n_positions` under that name) less `position_offset`; None when the config names no
    table. `model` is a built model or a transformers config."""
    config = getattr(model, "config", model)  # a built model, or its config itself
    rows = getattr(config, "max_position_embeddings", None)
    if not isinstance(rows, int) or isinstance(rows, bool) or rows <= 0:
        return None
    return max(rows - position_offset(model), 0)


def positions_words(rows: int, usable: int) -> str:
    """How a refusal names a table of `rows` of which `usable` take tokens (`usable_positions`):
    "512 positions (max_position_embeddings)", or, RoBERTa-style, "512 usable positions
    (max_position_embeddings=514; RoBERTa-style positions start after the padding index)"."""
    if usable == rows:
        return f"{rows} positions (max_position_embeddings)"
    return f"{usable} usable positions (max_position_embeddings={rows}; {OFFSET_REASON})"


def _skeleton(config: Any) -> Any:
    """The base model `config` describes, built on the meta device (no weights, no memory), or
    None where transformers cannot build one (no such family, a config that needs remote
    code): the length checks then count the table's rows as they are."""
    from transformers import PretrainedConfig

    if not isinstance(config, PretrainedConfig):
        return None
    import copy

    import torch
    from transformers import AutoModel

    try:
        with torch.device("meta"):  # a copy: building may set attributes on the config
            return AutoModel.from_config(copy.deepcopy(config))
    except Exception:  # transformers' words for a family it cannot build vary by family
        return None
