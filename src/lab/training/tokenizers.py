"""The run's tokenizer: `model.tokenizer`, with `model.chat_template` put in when given.

`model.chat_template` gives a model without a chat template (a base model) one, or replaces the
template an instruct model ships: a Jinja string, or the path of a file holding one (`.jinja`,
as `save_pretrained` writes it). It is saved with the tokenizer, so an exported run serves with
the template it was trained with.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lab.errors import ConfigError

# Heads whose rows are given words, each encoded as a word of running text (`token_words`).
WORD_HEADS = ("ForTokenClassification",)
# Jinja's statement and expression openers: a value holding one is a template, not a path.
_JINJA = ("{%", "{{")


log = logging.getLogger(__name__)


def build_tokenizer(cfg: DictConfig) -> Any:
    """Instantiate `cfg.model.tokenizer`, apply `cfg.model.chat_template` (when set) and add
    `model.add_tokens` / `model.add_special_tokens` (before any data is tokenized with it)."""
    from hydra.utils import instantiate

    from lab.training.vocabulary import add_vocabulary

    try:
        tokenizer = instantiate(cfg.model.tokenizer)
    except Exception as err:
        cause = err.__cause__ or err  # Hydra's instantiate wraps what from_pretrained raises
        if not isinstance(cause, (OSError, ValueError)):
            raise
        # Offline and not cached, a Hub id that does not exist, a folder without tokenizer
        # files: the user's environment or input, not a bug.
        why = " ".join(str(cause).split())[:400].rstrip(".")
        raise ConfigError(
            f"the tokenizer of model.pretrained={cfg.model.get('pretrained')} cannot be loaded: "
            f"{type(cause).__name__}: {why}. Without network access, point model.pretrained at "
            "a local directory saved with save_pretrained"
        ) from err
    head = str(OmegaConf.select(cfg, "task.head", default="") or "")
    if head.endswith(WORD_HEADS) and byte_level_without_prefix_space(tokenizer):
        # Given words (`is_split_into_words`): without it, a byte-level BPE tokenizer (RoBERTa,
        # GPT-2, BART, Qwen) encodes every word as at the start of a text (`Lee`, not `ĠLee`),
        # so training sees tokens that running text never gives it; what Hugging Face's own
        # run_ner.py sets for these families. Saved with the tokenizer, so text is read alike.
        tokenizer = instantiate(cfg.model.tokenizer, add_prefix_space=True)
    template = cfg.model.get("chat_template")
    if template:
        tokenizer.chat_template = read_chat_template(str(template))
    add_vocabulary(tokenizer, cfg.model)
    pad_with_end_of_text(tokenizer, str(OmegaConf.select(cfg, "task.head", default="") or ""))
    return tokenizer


def byte_level_without_prefix_space(tokenizer: Any) -> bool:
    """Whether `tokenizer` pre-tokenizes byte-level (GPT-2's `Ġ` for a leading space) without
    adding that space to a text's (or a given word's) first word."""
    import json

    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return False
    spec = json.loads(backend.to_str()).get("pre_tokenizer")
    if not isinstance(spec, dict):
        return False
    nodes = spec.get("pretokenizers") or [spec]  # a Sequence's, or the one pre-tokenizer
    return any(
        isinstance(node, dict)
        and node.get("type") == "ByteLevel"
        and node.get("add_prefix_space") is False
        for node in nodes
    )


def pad_with_end_of_text(tokenizer: Any, head: str) -> None:
    """Give a tokenizer without a pad token its end-of-text token as one, under a head whose
    batches are padded (GPT-2 and other decoders classifying, tagging, answering): what
    Hugging Face's recipes do by hand. The padded positions are masked out, so which token
    fills them changes nothing; the exported tokenizer keeps it, so pipelines pad alike. A
    sequence-classification head also needs the id in its config (`lab.build.build_model`)."""
    from lab.config.padding_rules import PADDED_HEADS

    if tokenizer.pad_token is not None or tokenizer.eos_token is None:
        return
    if not head.endswith(PADDED_HEADS):
        return
    tokenizer.pad_token = tokenizer.eos_token
    log.info(
        "The tokenizer has no padding token: padding with its end-of-text token %r",
        tokenizer.eos_token,
    )


def read_chat_template(value: str) -> str:
    """`value` itself when it is a Jinja template, else the text of the file it names."""
    if any(opener in value for opener in _JINJA):
        return value
    path = Path(value).expanduser()
    if not path.is_file():
        raise ConfigError(
            f"model.chat_template={value!r} is neither a Jinja template (it has no '{{{{' or "
            "'{%') nor an existing file"
        )
    text = path.read_text(encoding="utf-8")
    if not any(opener in text for opener in _JINJA):
        raise ConfigError(f"model.chat_template: {path} holds no Jinja template")
    return text
