"""A tokenizer with neither a padding token nor an end-of-text token under a head whose
batches it must pad, checked before anything loads.

The classification, tagging, QA and multiple-choice heads pad each batch with the tokenizer's
pad token. A decoder's tokenizer often has none (GPT-2); lab then pads with its end-of-text
token, as Hugging Face's recipes do by hand (`lab.training.tokenizers.pad_with_end_of_text`,
and the model config's `pad_token_id`, which a decoder's sequence-classification head reads to
find each row's last token, in `lab.build.build_model`). Only a tokenizer with neither token
cannot pad: refused here, with the override that gives it one, instead of "Asking to pad but
the tokenizer does not have a padding token" at the first batch.

Whether a tokenizer has the tokens is read from its files, where they are at hand without a
download: a local folder (`model.pretrained`, lab's packaged tiny tokenizers) or the Hugging
Face cache. Only a `tokenizer_config.json` that says `"pad_token": null` is taken as none; a
file that does not name one leaves it to the tokenizer class, which is not imported here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lab.config.task_fit import group_choices
from lab.errors import ConfigError

# transformers' heads fed batches padded with the tokenizer's pad token, by class-name ending.
PADDED_HEADS = (
    "ForSequenceClassification",
    "ForTokenClassification",
    "ForQuestionAnswering",
    "ForMultipleChoice",
)


def check_pad_token(cfg: DictConfig) -> None:
    """Refuse a tokenizer known to have neither a pad token nor an end-of-text token to pad
    with under a head whose batches need one, unless `model.add_special_tokens.pad_token`
    gives it one."""
    head = str(cfg.task.get("head") or "")
    if not head.endswith(PADDED_HEADS):
        return
    files = tokenizer_files(cfg.model)
    if files is None or files.get("pad_token", "") is not None:
        return  # unknown, or a pad token of its own
    if _token(files.get("eos_token")) is not None:
        return  # lab pads with it (`lab.training.tokenizers.pad_with_end_of_text`)
    if (cfg.model.get("add_special_tokens") or {}).get("pad_token"):
        return
    raise ConfigError(
        f"{_model_name(cfg)}'s tokenizer has no padding token nor an end-of-text token to pad "
        f"with, and {_task_name(cfg)} pads its batches; give it one: "
        "\"+model.add_special_tokens.pad_token='<pad>'\""
    )


def tokenizer_files(model: DictConfig) -> dict[str, Any] | None:
    """The special tokens the tokenizer's files declare (`tokenizer_config.json` over
    `special_tokens_map.json`), where its folder is local or cached; None otherwise."""
    try:
        name = OmegaConf.select(model, "tokenizer.pretrained_model_name_or_path", default=None)
    except Exception:  # an interpolation that resolves only at build time
        return None
    if not isinstance(name, str) or not name:
        return None
    found: dict[str, Any] = {}
    for file in ("special_tokens_map.json", "tokenizer_config.json"):
        path = _local_file(name, file)
        if path is None:
            continue
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # unreadable: the tokenizer loader's error to word
        if isinstance(loaded, dict):
            found.update(loaded)
    return found or None


def _local_file(name: str, file: str) -> Path | None:
    folder = Path(name).expanduser()
    if folder.is_dir():
        path = folder / file
        return path if path.is_file() else None
    if name.count("/") > 1 or name.startswith((".", "/", "~")):
        return None  # a local path that does not exist: check_model_files' to refuse
    try:  # the Hugging Face cache, without network
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(name, file)
    except Exception:  # not an id the hub library takes
        return None
    return Path(cached) if isinstance(cached, str) else None


def _token(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) and value else None


def _model_name(cfg: DictConfig) -> str:
    pretrained = cfg.model.get("pretrained")
    if pretrained:
        return f"model.pretrained={pretrained}"
    return f"model={group_choices().get('model', '<config>')}"


def _task_name(cfg: DictConfig) -> str:
    task = group_choices().get("task")
    return f"task={task}" if task else str(cfg.task.get("head", "the head")).rsplit(".", 1)[-1]
