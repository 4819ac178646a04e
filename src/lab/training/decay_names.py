"""Which parameters get weight decay: HF Trainer's rule, reproduced.

`transformers.Trainer.get_decay_parameter_names` excludes a parameter when any module on its
path is an `nn.LayerNorm`, or when its dotted name (lower-cased) matches one of the patterns
below: `bias` anywhere in the name (so T5's `relative_attention_bias.weight` too), `layernorm`,
`rmsnorm`, a `norm` name part, or a part ending in `_norm`. lab applies the same rule so a
recipe ported from the HF Trainer decays the same tensors; `tests/test_decay_names.py` compares
the two sets on tiny models of several families and fails if transformers changes its rule.
"""

from __future__ import annotations

import re

from torch import nn

# transformers' `Trainer.get_decay_parameter_names` (v5), pattern for pattern.
_EXCLUDED_NAMES = re.compile(r"bias|layernorm|rmsnorm|(?:^|\.)norm(?:$|\.)|_norm(?:$|\.)")


def decayed_parameter_names(model: nn.Module) -> set[str]:
    """The names (as `model.named_parameters()` gives them) of the parameters to decay."""
    under_layer_norm: set[str] = set()
    for prefix, module in model.named_modules(remove_duplicate=False):
        if isinstance(module, nn.LayerNorm):
            under_layer_norm.update(
                f"{prefix}.{name}" if prefix else name
                for name, _ in module.named_parameters(remove_duplicate=False)
            )
    return {
        name
        for name, _ in model.named_parameters()
        if name not in under_layer_norm and not _EXCLUDED_NAMES.search(name.lower())
    }
