"""Whether the model in memory holds a checkpoint's weights, so testing "the best checkpoint"
after the fit need not load it.

A run whose best validation is its last (a one-epoch fine-tune; any run still improving at
the end) has the best checkpoint's weights in memory when `fit` returns. Loading that file
again for the test pass reads and deserializes the whole checkpoint, optimizer state
included (MiniLM: 272 MB, of which 91 MB are weights), to copy back the same numbers, and
the loaded copy sits beside the model meanwhile. `holds_weights_of` decides by comparing the
tensors themselves, not by trusting step numbers: a callback may change the weights after
the last checkpoint without an optimizer step (stochastic weight averaging swaps in its
average at the end of training), and then the file is loaded as before. The file is
memory-mapped and read weights-only, so the comparison reads the weights once and never
the optimizer state.

Single-device runs only: under DDP every rank would have to agree, and sharded strategies
(FSDP, DeepSpeed) write folders or hold shards; those load the checkpoint as before.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import lightning as L

log = logging.getLogger(__name__)


def holds_weights_of(trainer: L.Trainer, module: L.LightningModule, checkpoint: str | None) -> bool:
    """True when `checkpoint` (a Lightning checkpoint file) was written at the trainer's
    current step and every tensor of its `state_dict` equals `module`'s (same names, dtypes,
    shapes and values), under a single-device strategy; False in every other case (then the caller
    loads the checkpoint)."""
    import torch
    from lightning.pytorch.strategies import SingleDeviceStrategy

    from lab.training.checkpoint_writer import holds_written_weights, read_checkpoint

    if not checkpoint or not isinstance(trainer.strategy, SingleDeviceStrategy):
        return False
    if holds_written_weights(checkpoint, module.state_dict(), trainer.global_step):
        return True  # written from these very tensors, unchanged since: no need to read it
    try:
        saved: Any = read_checkpoint(checkpoint, map_location="cpu", mmap=True, weights_only=True)
        if int(saved.get("global_step", -1)) != trainer.global_step:
            return False
        stored, current = saved.get("state_dict"), module.state_dict()
        if not isinstance(stored, dict) or stored.keys() != current.keys():
            return False
        with torch.no_grad():
            return all(_same_tensor(current[name], stored[name]) for name in current)
    except Exception as err:  # an unreadable or unusual checkpoint: load it as before
        log.debug("comparing the weights with %s failed (%s): loading it", checkpoint, err)
        return False


def _same_tensor(current: Any, stored: Any) -> bool:
    import torch

    if not isinstance(current, torch.Tensor) or not isinstance(stored, torch.Tensor):
        return bool(current == stored)
    if type(current) is not torch.Tensor or type(stored) is not torch.Tensor:
        return False  # a subclass (4-bit parameters, DTensor): equality is not plain values
    if current.dtype != stored.dtype or current.shape != stored.shape:
        return False
    return bool(torch.equal(current, stored.to(current.device)))
