"""Parameter-efficient fine-tuning (the `peft` config group): LoRA, QLoRA, IA3.

`apply_peft` wraps the built Hugging Face head with a `peft` adapter config: only the adapter
weights and the task head (`modules_to_save`, set by peft for classification task types)
train, plus, under LoRA, the embedding rows of tokens added by `model.add_tokens`.
`check_quantization` stops a 4/8-bit base (QLoRA) early, in words, where it cannot run;
`keep_unquantized` keeps the modules trained whole (`modules_to_save`) out of it.
The export writes both forms: `model/` merged (a plain transformers model for `pipeline`) and
`adapter/` (the adapter alone, applied on the base model it names).
"""

from __future__ import annotations

import copy
import importlib.util
import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from lab.errors import ConfigError

log = logging.getLogger(__name__)


def parameter_counts(model: Any) -> dict[str, float]:
    """Trainable and total parameter counts, and the trainable share in percent.

    A head peft trains whole (`modules_to_save`) is held twice while training: the frozen
    original beside the trained copy. The original is not counted: the total is the model that
    trains (and merges into the export), not the head twice."""
    params = [p for name, p in model.named_parameters() if ".original_module." not in name]
    total = sum(p.numel() for p in params)
    trainable = sum(p.numel() for p in params if p.requires_grad)
    return {"trainable": trainable, "total": total, "trainable_percent": 100.0 * trainable / total}


def apply_peft(model: Any, peft_config: Any) -> Any:
    """Wrap `model` with the adapter described by `peft_config` and log what trains.

    Embedding rows of tokens added by `model.add_tokens` (`lab.training.vocabulary`) train
    too: LoRA's `trainable_token_indices` trains those rows alone, every other row stays.
    """
    from peft import get_peft_model

    from lab.compat.peft import pass_every_input
    from lab.training.vocabulary import new_token_rows

    rows = new_token_rows(model)
    if rows and hasattr(peft_config, "trainable_token_indices"):
        if peft_config.trainable_token_indices is None:
            peft_config.trainable_token_indices = list(rows)
    elif rows:
        log.warning(
            "%s cannot train single embedding rows: the %d added tokens keep their initial "
            "(mean) embedding; use peft=lora to train them",
            type(peft_config).__name__,
            len(rows),
        )
    match_conv1d(model, peft_config)
    check_target_modules(model, peft_config)
    keep_whole_out_of_all_linear(peft_config)
    wrapped = pass_every_input(get_peft_model(model, peft_config))
    counts = parameter_counts(wrapped)
    log.info(
        "PEFT %s: %d of %d parameters train (%.3f%%)",
        type(peft_config).__name__,
        counts["trainable"],
        counts["total"],
        counts["trainable_percent"],
    )
    return wrapped


# The heads peft's task wrappers train whole (`modules_to_save`), added by the wrapper itself
# (peft 0.22: `PeftModelForTokenClassification` / `...ForSequenceClassification` name
# `classifier`, `score` and DistilBERT's `pre_classifier`, `PeftModelForQuestionAnswering`
# `qa_outputs`).
PEFT_HEADS = {
    "TOKEN_CLS": ("classifier", "score", "pre_classifier"),
    "SEQ_CLS": ("classifier", "score", "pre_classifier"),
    "QUESTION_ANS": ("qa_outputs",),
}


def keep_whole_out_of_all_linear(peft_config: Any) -> None:
    """`target_modules="all-linear"` puts LoRA on every linear layer, the task head too where
    peft does not leave it out itself (token classification's `classifier`, QA's
    `qa_outputs`): peft then refused the head lab trains whole (`modules_to_save`) with a
    TypeError (s22d H2). The modules trained whole are excluded from the adapter's targets."""
    task_type = str(getattr(peft_config, "task_type", None) or "").rsplit(".", 1)[-1]
    whole = list(getattr(peft_config, "modules_to_save", None) or [])
    whole += [m for m in PEFT_HEADS.get(task_type, ()) if m not in whole]
    if getattr(peft_config, "target_modules", None) != "all-linear" or not whole:
        return
    if not hasattr(peft_config, "exclude_modules"):
        return
    excluded = peft_config.exclude_modules
    excluded = [excluded] if isinstance(excluded, str) else list(excluded or [])
    peft_config.exclude_modules = excluded + [m for m in whole if m not in excluded]


def check_target_modules(model: Any, peft_config: Any) -> None:
    """Refuse an adapter target that names no module of `model`, naming the layers it has.

    A list of names matches as peft matches it (a module whose name is the target or ends in
    `.` + target); peft itself only fails when no name matches (a 60-line traceback), and
    drops a misspelled name beside a valid one without a word: `[query, vlaue]` trained LoRA
    on `query` alone (s34c F1, F2). A string (a regular expression, `all-linear`) is peft's
    to match."""
    targets = getattr(peft_config, "target_modules", None)
    if targets is None or isinstance(targets, str):
        return
    names = [name for name, _ in model.named_modules() if name]
    unmatched = sorted(  # (peft's config holds the list as a set)
        target
        for target in targets
        if not any(name == target or name.endswith("." + target) for name in names)
    )
    if unmatched:
        verb = "matches" if len(unmatched) == 1 else "match"
        raise ConfigError(
            f"peft target_modules {', '.join(map(repr, unmatched))} {verb} no module of "
            f"{type(model).__name__} (set by model.lora_target_modules or "
            f"peft.config.target_modules); its layers: {', '.join(adaptable_layer_names(model))}"
            ", or all-linear"
        )


def adaptable_layer_names(model: Any) -> list[str]:
    """The distinct last names of `model`'s layers an adapter can target (linear, embedding,
    convolution; transformers' `Conv1D`), in the model's order."""
    from torch import nn
    from transformers.pytorch_utils import Conv1D

    kinds = (nn.Linear, nn.Embedding, nn.Conv1d, nn.Conv2d, Conv1D)
    found = [
        name.rsplit(".", 1)[-1]
        for name, module in model.named_modules()
        if name and isinstance(module, kinds)
    ]
    return list(dict.fromkeys(found))


def match_conv1d(model: Any, peft_config: Any) -> None:
    """Set `fan_in_fan_out` for a model whose layers are transformers' `Conv1D` (GPT-2's family).

    `Conv1D` stores its weight transposed (fan_in, fan_out); peft needs `fan_in_fan_out=True`
    there and, left at its default False, sets it itself with a UserWarning on screen that asks
    nothing of the user. Setting it first gives the same adapter without the warning.
    """
    from transformers.pytorch_utils import Conv1D

    if getattr(peft_config, "fan_in_fan_out", None) is False and any(
        isinstance(module, Conv1D) for module in model.modules()
    ):
        peft_config.fan_in_fan_out = True


def check_quantization(
    quantization: Any,
    what: str = "peft=qlora (a 4-bit bitsandbytes base model)",
    instead: str = "use peft=lora on this machine",
) -> None:
    """A quantized (bitsandbytes) base needs CUDA and the bitsandbytes package."""
    if quantization is None:
        return
    import torch

    if not torch.cuda.is_available():
        raise ConfigError(f"{what} needs a CUDA GPU and none is visible; {instead}")
    if importlib.util.find_spec("bitsandbytes") is None:
        raise ConfigError(f"{what} needs the bitsandbytes package: pip install bitsandbytes")


def unquantized_modules(cfg: DictConfig) -> list[str]:
    """The modules a run keeps in float under a 4/8-bit base: the user's
    `peft.quantization.llm_int8_skip_modules`, the head's `task.peft_modules_to_save` and the
    user's `peft.config.modules_to_save`, in that order, each once.

    peft trains the head of a classification / QA task type whole (a copy of the module, set to
    `requires_grad`); a 4-bit bitsandbytes weight cannot require gradients, so such a head must
    load unquantized ("only Tensors of floating point dtype can require gradients" otherwise).
    peft decides those names inside its model classes, out of reach before the model exists, so
    each task YAML names them next to its `peft_task_type` (a test checks they agree).
    """
    peft = cfg.get("peft") or {}
    groups = (
        (peft.get("quantization") or {}).get("llm_int8_skip_modules"),
        cfg.task.get("peft_modules_to_save"),
        (peft.get("config") or {}).get("modules_to_save"),
    )
    names: list[str] = []
    for group in groups:
        for name in [group] if isinstance(group, str) else group or ():
            if str(name) not in names:
                names.append(str(name))
    return names


def keep_unquantized(quantization: Any, modules: list[str]) -> Any:
    """`quantization` (a `BitsAndBytesConfig`, or None) with `modules` in its
    `llm_int8_skip_modules` (bitsandbytes' list for 4-bit too): they load in float.

    No modules leaves the list as it was: None lets transformers choose (lm_head), which a list
    would replace. Their names match as transformers matches them (a suffix of the module's
    name: `classifier` keeps `bert.classifier` and `classifier.out_proj`).
    """
    if quantization is not None and modules:
        given = list(quantization.llm_int8_skip_modules or [])
        quantization.llm_int8_skip_modules = given + [m for m in modules if m not in given]
    return quantization


def is_peft_model(model: Any) -> bool:
    """True for a model wrapped by `peft`."""
    return hasattr(model, "peft_config") and hasattr(model, "merge_and_unload")


def export_peft(model: Any, directory: Path, adapter_directory: Path) -> None:
    """Save the adapter alone, and a merged copy (the live model stays wrapped). The adapter's
    `base_model_name_or_path` is made absolute where it is a relative folder (see
    `lab.run_dir.card_base.local_base_path`)."""
    import json

    from lab.run_dir.card_base import local_base_path

    model.save_pretrained(adapter_directory)
    config_file = Path(adapter_directory) / "adapter_config.json"
    if config_file.is_file():
        config = json.loads(config_file.read_text())
        base = config.get("base_model_name_or_path")
        if isinstance(base, str) and base and local_base_path(base) != base:
            config["base_model_name_or_path"] = local_base_path(base)
            config_file.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    merged = copy.deepcopy(model).merge_and_unload()
    merged.save_pretrained(directory)
