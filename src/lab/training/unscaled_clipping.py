"""Clipping the gradients of a fused optimizer under bf16-mixed, where nothing is scaled.

Lightning's mixed-precision plugin (`MixedPrecision.clip_gradients`) refuses to clip whenever
the optimizer unscales gradients inside its own step (a fused AdamW: `_step_supports_amp_scaling`),
for 16-mixed and bf16-mixed alike. Under 16-mixed that is right: a GradScaler multiplies the
loss, such an optimizer divides the gradients back only inside `step`, so clipping before it
would clip scaled gradients. Under bf16-mixed there is no scaler (Lightning builds none): the
gradients are the true ones, and clipping them by norm before the fused step is what HF
Trainer does with its default optimizer (`adamw_torch_fused`; accelerate clips with
`torch.nn.utils.clip_grad_norm_`). So lab clips them itself there, with Lightning's own
norm/value clipping minus the refusal, and `optimizer.fused=null` can choose the fused kernel
for a GPU's default bf16-mixed run (one kernel over every parameter, against the foreach
implementation's dozen passes). `TaskModule.configure_gradient_clipping` calls it.
"""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.plugins.precision import MixedPrecision, Precision
from lightning.pytorch.utilities import GradClipAlgorithmType
from torch.optim import Optimizer


def clip_unscaled_gradients(
    trainer: L.Trainer, optimizer: Optimizer, clip_val: float | None, algorithm: Any = None
) -> bool:
    """Clip the gradients to `clip_val` (by norm unless `algorithm` says value) when the
    trainer runs mixed precision without a gradient scaler (bf16-mixed); return whether this
    was done. False, with nothing done, under any other precision plugin (Lightning's own
    clipping is right there) or without clipping (`clip_val` None or 0)."""
    plugin = trainer.precision_plugin
    if not clip_val or not isinstance(plugin, MixedPrecision) or plugin.scaler is not None:
        return False
    name = str(getattr(algorithm, "value", algorithm) or "norm").lower()
    # Precision's clipping, i.e. MixedPrecision's without its refusal of fused optimizers.
    Precision.clip_gradients(plugin, optimizer, float(clip_val), GradClipAlgorithmType(name))
    return True
