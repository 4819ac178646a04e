"""Parameter-efficient fine-tuning (the `peft` config group): LoRA, QLoRA, IA3.

`apply_peft` wraps the built Hugging Face head with a `peft` adapter config: only the adapter
weights and the task head (`modules_to_save`, set by peft for classification task types)
train, plus, under LoRA, the embedding rows of tokens added by `model.add_tokens`.
`check_quantization` stops a 4/8-bit base (QLoRA) early, in words, where it cannot run.
The export writes both forms: `model/` merged (a plain transformers model for `pipeline`) and
`adapter/` (the adapter alone, applied on the base model it names).
"""

from __future__ import annotations

import copy
import importlib.util
import logging
from pathlib import Path
from typing import Any

from lab.errors import ConfigError

log = logging.getLogger(__name__)


def parameter_counts(model: Any) -> dict[str, float]:
    """Trainable and total parameter counts, and the trainable share in percent."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"trainable": trainable, "total": total, "trainable_percent": 100.0 * trainable / total}


def apply_peft(model: Any, peft_config: Any) -> Any:
    """Wrap `model` with the adapter described by `peft_config` and log what trains.

    Embedding rows of tokens added by `model.add_tokens` (`lab.training.vocabulary`) train
    too: LoRA's `trainable_token_indices` trains those rows alone, every other row stays.
    """
    from peft import get_peft_model

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
    wrapped = get_peft_model(model, peft_config)
    counts = parameter_counts(wrapped)
    log.info(
        "PEFT %s: %d of %d parameters train (%.3f%%)",
        type(peft_config).__name__,
        counts["trainable"],
        counts["total"],
        counts["trainable_percent"],
    )
    return wrapped


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


def is_peft_model(model: Any) -> bool:
    """True for a model wrapped by `peft`."""
    return hasattr(model, "peft_config") and hasattr(model, "merge_and_unload")


def export_peft(model: Any, directory: Path, adapter_directory: Path) -> None:
    """Save the adapter alone, and a merged copy (the live model stays wrapped)."""
    model.save_pretrained(adapter_directory)
    merged = copy.deepcopy(model).merge_and_unload()
    merged.save_pretrained(directory)
