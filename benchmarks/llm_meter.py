"""A Lightning callback that measures training tokens/s and peak memory inside a
`python -m lab.train` run, for `gpu_check.sh`'s LLM part (added to the run as
`+callbacks.llm_meter={_target_: llm_meter.LLMMeter, path: ..., warmup: N}` with this folder on
PYTHONPATH; it only reads clocks, counters and the model's config).

Each training step is timed from `on_train_batch_start` to `on_train_batch_end` (after the
optimizer step), with the GPU synchronised at both ends, so validations, checkpoints and data
waits between steps are not counted. The first `warmup` steps (CUDA kernels chosen, allocator
grown) are left out of the rate. Tokens per step: the real tokens of the batch (the sum of its
`attention_mask`; packed SFT rows carry none, and all of their `input_ids` count) and the
padded ones (`input_ids.numel()`). Peak memory: `torch.cuda.max_memory_allocated` and
`max_memory_reserved` from the start of fit (the weights included) to the end of training; on
CPU the process's peak RSS instead.

At the end of training, rank 0 writes one JSON object to `path`: steps, timed steps, seconds,
tokens, tokens/s (per rank; `world_size` says how many ranks ran alike), peak memory in GiB,
the attention kernel the model runs (`config._attn_implementation`), parameter counts (total
and trainable; a 4-bit bitsandbytes weight counts as stored, two values a byte, so half its
size), the parameters' dtypes, and the device.
"""

from __future__ import annotations

import json
import resource
import time
from collections import Counter
from pathlib import Path
from typing import Any

import lightning as L
import torch

GIB = 2**30


def batch_tokens(batch: Any) -> tuple[int, int]:
    """(real tokens, padded tokens) of a training batch: a dict with `input_ids`."""
    ids = batch["input_ids"]
    padded = int(ids.numel())
    mask = batch.get("attention_mask")
    return (int(mask.sum()) if mask is not None else padded), padded


def model_facts(module: L.LightningModule) -> dict[str, Any]:
    """The attention kernel, parameter counts and dtypes of the module's model."""
    config = next(
        (m.config for m in module.modules() if hasattr(getattr(m, "config", None), "model_type")),
        None,
    )
    params = list(module.parameters())
    dtypes: Counter[str] = Counter()  # parameters (elements, as stored) per dtype
    for p in params:
        dtypes[str(p.dtype).removeprefix("torch.")] += p.numel()
    return {
        "attn_implementation": getattr(config, "_attn_implementation", None),
        "total_params": sum(p.numel() for p in params),
        "trainable_params": sum(p.numel() for p in params if p.requires_grad),
        "param_dtypes": dict(dtypes),
    }


class LLMMeter(L.Callback):
    """Times each training step and records peak memory; writes a JSON summary to `path`."""

    def __init__(self, path: str, warmup: int = 1) -> None:
        self.path = Path(path)
        self.warmup = warmup
        self.steps: list[tuple[float, int, int]] = []  # (seconds, real tokens, padded tokens)
        self.started = 0.0

    def _sync(self, module: L.LightningModule) -> None:
        if module.device.type == "cuda":
            torch.cuda.synchronize(module.device)

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if pl_module.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(pl_module.device)

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        self._sync(pl_module)
        self.started = time.perf_counter()

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        self._sync(pl_module)
        self.steps.append((time.perf_counter() - self.started, *batch_tokens(batch)))

    def summary(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Any]:
        """What `on_train_end` writes (see the module doc)."""
        timed = self.steps[self.warmup :] or self.steps  # too few steps: time them all
        seconds = sum(s for s, _, _ in timed)
        tokens = sum(t for _, t, _ in timed)
        padded = sum(p for _, _, p in timed)
        device = pl_module.device
        result: dict[str, Any] = {
            "steps": len(self.steps),
            "timed_steps": len(timed),
            "seconds": seconds,
            "tokens": tokens,
            "padded_tokens": padded,
            "tokens_per_s": tokens / seconds if seconds else 0.0,
            "padded_tokens_per_s": padded / seconds if seconds else 0.0,
            "world_size": trainer.world_size,
            "precision": str(trainer.precision),
            "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
            **model_facts(pl_module),
        }
        if device.type == "cuda":
            result["peak_allocated_gib"] = torch.cuda.max_memory_allocated(device) / GIB
            result["peak_reserved_gib"] = torch.cuda.max_memory_reserved(device) / GIB
        else:  # ru_maxrss is in KiB on Linux
            result["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        return result

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        result = self.summary(trainer, pl_module)
        if trainer.is_global_zero:
            self.path.write_text(json.dumps(result, indent=2) + "\n")
