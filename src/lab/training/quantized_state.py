"""Load a checkpoint of a 4-bit (QLoRA) model back into a 4-bit model.

bitsandbytes' `Linear4bit` writes its quantization state next to its packed weight
(`<weight>.absmax`, `.quant_map`, `.nested_*`, `.quant_state.bitsandbytes__nf4`) but reads
none of it back in `load_state_dict` (bitsandbytes 0.50: only transformers' `from_pretrained`
reads it), so a strict load of such a checkpoint fails on "Unexpected key(s)": the best
checkpoint restored for the test, a resumed run, `lab.eval checkpoint=best`. Those weights are
the frozen base: the live model, loaded from the same base, already holds that state, and the
packed weight itself still loads. This module is the one place that knows the names.
"""

from __future__ import annotations

from typing import Any

import torch


def without_quantization_state(
    module: torch.nn.Module, state_dict: dict[str, Any]
) -> dict[str, Any]:
    """`state_dict` less the entries that describe a 4-bit weight of `module` (its
    `quant_state`), which no `load_state_dict` reads; unchanged for a model without one."""
    quantized = [
        f"{name}."
        for name, param in module.named_parameters()
        if getattr(param, "quant_state", None) is not None
    ]
    if not quantized:
        return state_dict
    prefixes = tuple(quantized)
    return {key: value for key, value in state_dict.items() if not key.startswith(prefixes)}
