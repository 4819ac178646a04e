"""A tokenizer without a padding token under a head whose batches it must pad, checked before
anything loads.

`model=tiny_gpt2 data=demo` (GPT-2 classifies text) failed at the first batch, after the run
directory and the model were made: `Asking to pad but the tokenizer does not have a padding
token`. The classification, tagging, QA and multiple-choice heads pad each batch with the
tokenizer's pad token (the causal LM, SFT and DPO data modules give a tokenizer without one
its end-of-text token themselves); a sequence-classification head of a decoder also reads the
model config's `pad_token_id` to find each row's last token ("Cannot handle batch sizes > 1
if no padding token is defined"). The refusal gives the fix Hugging Face's recipes use: the
end-of-text token as the pad token, for the tokenizer and for the model config.

Whether a tokenizer has a pad token is read from its files, where they are at hand without a
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
    """Refuse a tokenizer known to have no pad token under a head whose batches need one,
    unless `model.add_special_tokens.pad_token` gives it one (and, for a sequence-classification
    head, `model.network.pad_token_id` gives the model the pad id)."""
    head = str(cfg.task.get("head") or "")
    if not head.endswith(PADDED_HEADS):
        return
    files = tokenizer_files(cfg.model)
    if files is None or files.get("pad_token", "") is not None:
        return  # unknown, or a pad token of its own
    special = cfg.model.get("add_special_tokens") or {}
    needs_token = not special.get("pad_token")
    needs_id = head.endswith("ForSequenceClassification") and _pad_id(cfg.model) is None
    if not (needs_token or needs_id):
        return
    eos = _token(files.get("eos_token"))
    token = eos if needs_token else _token(special.get("pad_token"))
    eos_id = _eos_id(cfg.model) if token is not None and token == eos else None
    pad_id = f"+model.network.pad_token_id={eos_id if eos_id is not None else '<its id>'}"
    if not needs_token:  # the pad token is given, its id is not
        raise ConfigError(
            f"{_model_name(cfg)}'s config has no pad_token_id, and the head of "
            f"{_task_name(cfg)} finds each row's last token by it; give the id of the pad token "
            f"{token!r}: {pad_id}"
        )
    fixes = [f"\"+model.add_special_tokens.pad_token='{token or '<token>'}'\""]
    problem = (
        f"{_model_name(cfg)}'s tokenizer has no padding token, and {_task_name(cfg)} pads its "
        "batches"
    )
    if needs_id:
        fixes.append(pad_id)
        problem += " (and its head finds each row's last token by the pad id)"
    if token is None:
        raise ConfigError(f"{problem}; give it one: {' '.join(fixes)}")
    raise ConfigError(
        f"{problem}; give it the end-of-text token {eos!r}, as Hugging Face's recipes do: "
        f"{' '.join(fixes)}"
    )


def _pad_id(model: DictConfig) -> Any:
    """The pad id the model config will have, where the config says one (None: not set)."""
    given = OmegaConf.select(model, "network.pad_token_id", default=None)
    if given is not None or model.get("pretrained"):
        return given  # a pretrained config.json: the tokenizer files' null pad says enough
    return OmegaConf.select(model, "network.config.pad_token_id", default=None)


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


def _eos_id(model: DictConfig) -> int | None:
    """The model config's end-of-text id: from its config node or a local `config.json`."""
    node = OmegaConf.select(model, "network.config", default=None)
    value: Any = None
    if isinstance(node, DictConfig) and not model.get("pretrained"):
        value = node.get("eos_token_id")
    elif isinstance(model.get("pretrained"), str):
        path = _local_file(str(model.pretrained), "config.json")
        try:
            value = json.loads(path.read_text()).get("eos_token_id") if path else None
        except (OSError, ValueError, AttributeError):
            value = None
    if isinstance(value, list) and value:
        value = value[0]
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _model_name(cfg: DictConfig) -> str:
    pretrained = cfg.model.get("pretrained")
    if pretrained:
        return f"model.pretrained={pretrained}"
    return f"model={group_choices().get('model', '<config>')}"


def _task_name(cfg: DictConfig) -> str:
    task = group_choices().get("task")
    return f"task={task}" if task else str(cfg.task.get("head", "the head")).rsplit(".", 1)[-1]
