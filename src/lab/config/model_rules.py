"""Config rules that read the model's own config (never its weights): `model.freeze_layers`
against the model's depth, and the tokens `model.add_tokens` / `add_special_tokens` name.

The depth comes from what is at hand without loading anything: the config node of a model
built from config (`model.network.config`), or the `config.json` of a local pretrained
directory. A Hub id is not looked up (nothing is downloaded here); its depth is checked when
the model is built (`lab.training.freezing.freeze`, with the same numbers). The count is the
one `freeze` uses: the longest stack of blocks, which for an encoder-decoder is the longer
of its encoder and decoder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from lab.errors import ConfigError

# Transformers' names for the number of blocks, by model family.
DEPTH_KEYS = ("num_hidden_layers", "n_layer", "n_layers", "num_layers")
ENCODER_DECODER_KEYS = (
    ("encoder_layers", "decoder_layers"),  # BART, Marian, mBART
    ("num_layers", "num_decoder_layers"),  # T5
)


def model_depth(model_config: dict[str, Any]) -> int | None:
    """The number of blocks a transformers config describes, or None when it does not say."""

    def number(key: str) -> int | None:
        value = model_config.get(key)
        return value if isinstance(value, int) and value > 0 else None

    if model_config.get("is_encoder_decoder"):
        for encoder, decoder in ENCODER_DECODER_KEYS:
            if (depth := number(encoder)) is not None:
                return max(depth, number(decoder) or depth)
        return None
    return next((n for key in DEPTH_KEYS if (n := number(key)) is not None), None)


# A config's key for its position table's rows, by model family (transformers maps each to
# `max_position_embeddings` once the config is built: GPT-2's `n_positions`, older `n_ctx`).
POSITION_ROW_KEYS = ("max_position_embeddings", "n_positions", "n_ctx")


def known_model_config(model: DictConfig) -> dict[str, Any] | None:
    """The model's config as a dict (`model` is the run config's `model` section): a local
    `model.pretrained` directory's `config.json` (weights load from there, whatever the config
    node says), else the config node of a model built from config; None when neither is at
    hand (a Hub id)."""
    pretrained = model.get("pretrained")
    if isinstance(pretrained, str) and pretrained:
        file = Path(pretrained).expanduser() / "config.json"
        if not file.is_file():
            return None
        try:
            loaded = json.loads(file.read_text())
        except (OSError, ValueError):
            return None  # an unreadable file is the loader's error to word
        return loaded if isinstance(loaded, dict) else None
    network = model.get("network") or {}
    node = network.get("config") if isinstance(network, DictConfig) else None
    if not isinstance(node, DictConfig):
        return None
    target = str(node.get("_target_", ""))
    # The class fixes what its config does not say: an encoder-decoder family.
    values: dict[str, Any] = {
        "is_encoder_decoder": any(name in target for name in ("Bart", "T5", "Marian"))
    }
    keys = {
        *POSITION_ROW_KEYS,
        *DEPTH_KEYS,
        *(k for pair in ENCODER_DECODER_KEYS for k in pair),
    }
    for key in keys:
        try:
            values[key] = node.get(key)
        except Exception:  # an interpolation that resolves only at build time
            continue
    return values


def check_freeze_depth(cfg: DictConfig) -> None:
    """`model.freeze_layers` at most the model's number of blocks, where that is known."""
    layers = cfg.model.get("freeze_layers")
    if not isinstance(layers, int) or layers <= 0:
        return
    model_config = known_model_config(cfg.model)
    depth = model_depth(model_config) if model_config is not None else None
    if depth is not None and layers > depth:
        raise ConfigError(
            f"model.freeze_layers={layers} but the model has {depth} blocks; use 0..{depth} "
            "(embeddings + the bottom N blocks)"
        )


LENGTH_KEYS = ("max_length", "block_size", "max_source_length", "max_target_length")


def check_positions(model: Any, data: DictConfig) -> None:
    """No sequence may be longer than the model's position table (GPT-2: 1024): an index past
    it fails deep in the first long batch, maybe hours in. Checked once the model's config is
    known, before training; `model` is the built model or its transformers config. The limit
    is the tokens the table takes (`lab.model_positions.usable_positions`: roberta-base's 514
    rows take 512). Models without a position table (T5, rotary) are not limited."""
    from lab.model_positions import positions_words, usable_positions

    config = getattr(model, "config", model)  # a built model, or its config itself
    positions = getattr(config, "max_position_embeddings", None)
    if not isinstance(positions, int) or getattr(config, "position_embedding_type", "") in (
        "relative_key",
        "relative_key_query",
    ):
        return
    if any(getattr(config, key, None) for key in ("rope_theta", "rope_scaling", "rope_parameters")):
        return  # rotary positions: the table size is a training length, not a hard limit
    lengths = {key: value for key in LENGTH_KEYS if isinstance(value := data.get(key), int)}
    usable = usable_positions(model) if lengths else None  # no skeleton built for nothing
    for key, value in lengths.items():
        if usable is not None and value > usable:
            raise ConfigError(
                f"data.{key}={value} is over the model's {positions_words(positions, usable)}; "
                f"set data.{key}={usable} or less"
            )


def check_model_positions(cfg: DictConfig) -> None:
    """`check_positions` before anything loads (`lab.validate`, training's pre-flight rules),
    where the model's config is at hand without weights (built from config, or a local
    `model.pretrained` folder): the line training would end with after loading. A length over
    the table's rows (as the config node or `config.json` gives them) is over any usable count,
    and only then is the config built (transformers imported, seconds) for training's exact
    words; a length that fits the rows but not a RoBERTa-style table's usable positions is
    refused when training builds it, before the data is tokenized (`lab.build`)."""
    known = known_model_config(cfg.model) or {}
    # The table's rows under each family's name for them: GPT-2's config says `n_positions`
    # (s31e N3: tiny_gpt2 passed lab.validate, then training refused its 512).
    found = [known.get(key) for key in POSITION_ROW_KEYS]
    rows = next((v for v in found if isinstance(v, int) and not isinstance(v, bool)), None)
    if rows is None:
        return
    lengths = [v for key in LENGTH_KEYS if isinstance(v := cfg.data.get(key), int)]
    if any(length > rows for length in lengths):
        problem = positions_problem(cfg.model, cfg.data)
        if problem is not None:
            raise ConfigError(problem)


def positions_problem(model: DictConfig, data: DictConfig) -> str | None:
    """`check_positions`' refusal for the model's config where it is at hand without weights
    (lab.inspect says it before tokenizing); None when the lengths fit or the config is not
    known (a Hub id)."""
    config = built_model_config(model)
    if config is None:
        return None
    try:
        check_positions(config, data)
    except ConfigError as err:
        return str(err)
    return None


def built_model_config(model: DictConfig) -> Any:
    """The `transformers` config object training builds the model from (no weights): a local
    `model.pretrained` directory's, else the config node's, instantiated, so its class fills in
    what the node leaves out (a Llama's rotary positions). None when neither is at hand or it
    cannot be built (the loader's error to word)."""
    pretrained = model.get("pretrained")
    try:
        if isinstance(pretrained, str) and pretrained:
            folder = Path(pretrained).expanduser()
            if not (folder / "config.json").is_file():
                return None
            from transformers import AutoConfig

            return AutoConfig.from_pretrained(folder)
        network = model.get("network") or {}
        node = network.get("config") if isinstance(network, DictConfig) else None
        if not isinstance(node, DictConfig) or not node.get("_target_"):
            return None
        from hydra.utils import instantiate

        return instantiate(node)
    except Exception:  # a broken config is training's to refuse, in its words
        return None


def check_added_tokens(cfg: DictConfig) -> None:
    """Every token `model.add_tokens` names is one token: a string (or a number, read as its
    text), not empty, no list (`model.add_tokens=[[a]]` would add the token "['a']"); the same
    for each value of `model.add_special_tokens`, which may also be a list of tokens."""
    model = cfg.model
    tokens = model.get("add_tokens")
    if tokens is None:
        tokens = []
    elif not isinstance(tokens, ListConfig):
        raise ConfigError(
            f"model.add_tokens is a list of tokens, e.g. [SKU-123,ERR_TIMEOUT]; got {tokens!r}"
        )
    for token in tokens:
        _check_token("model.add_tokens", token)
    special = model.get("add_special_tokens") or {}
    roles = special.items() if isinstance(special, DictConfig) else ()
    for role, value in roles:
        for token in value if isinstance(value, ListConfig) else [value]:
            _check_token(f"model.add_special_tokens.{role!s}", token)


def _check_token(key: str, token: Any) -> None:
    if isinstance(token, (DictConfig, ListConfig)):
        shown = OmegaConf.to_container(token, resolve=True)
        raise ConfigError(f"{key}: each token is one string; got {shown!r}")
    if token is None or isinstance(token, bool) or not str(token).strip():
        raise ConfigError(f"{key}: each token is one string, not empty; got {token!r}")
