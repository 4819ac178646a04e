"""Hardware rules of `validate_config` (`lab.config.rules`): a GPU accelerator, fp16, DeepSpeed
or FSDP without a visible CUDA GPU; an accelerator or `trainer.devices` this machine cannot
give (`lab.config.accelerator_rules`: MPS, TPU, every GPU or GPU indices on CPU); flash
attention without CUDA or flash-attn; a strategy whose package is missing; a quantized (QLoRA)
base without CUDA or bitsandbytes; bitsandbytes optimizers on a CPU machine. Cheap to import
(no torch in the common path)."""

from __future__ import annotations

import ctypes
import importlib.util
import sys
from pathlib import Path

from omegaconf import DictConfig

from lab.config.accelerator_rules import check_accelerator, check_devices, mps_available
from lab.errors import ConfigError


def cuda_available() -> bool:
    """`torch.cuda.is_available()`, answered without importing torch where it must be False.

    Importing torch takes seconds, more than `lab.validate` may spend. A torch build without
    its CUDA library, or a Linux machine without the CUDA driver, cannot see a CUDA GPU;
    anything else (a GPU machine, ROCm, another OS) is left to torch itself.
    """
    if "torch" not in sys.modules and not _may_have_cuda():
        return False
    import torch

    return bool(torch.cuda.is_available())


def _may_have_cuda() -> bool:
    spec = importlib.util.find_spec("torch")
    if sys.platform != "linux" or spec is None or not spec.submodule_search_locations:
        return True
    lib = Path(next(iter(spec.submodule_search_locations))) / "lib"
    names = [p.name for p in lib.iterdir()] if lib.is_dir() else []
    if not names or any("torch_hip" in name for name in names):
        return True  # unknown layout, or ROCm (torch.cuda runs on HIP): ask torch
    if not any("torch_cuda" in name for name in names):
        return False  # a CPU-only build of torch
    try:
        ctypes.CDLL("libcuda.so.1")  # the driver torch itself would load
    except OSError:
        return False
    return True


def scales_loss(precision: str) -> bool:
    """Whether Lightning's `precision` multiplies the loss by a gradient scaler (16-mixed):
    gradients are then scaled until the optimizer step unscales them."""
    return precision in ("16-mixed", "16")


def check_hardware(cfg: DictConfig) -> None:
    """Stop early, in words, when the config asks for hardware this machine does not have."""
    accelerator = str(cfg.trainer.get("accelerator", "auto"))
    precision = str(cfg.trainer.get("precision", "32-true"))
    has_cuda = cuda_available()
    # `gpu` is Lightning's alias of cuda, or of mps on Apple silicon.
    if not has_cuda and (accelerator == "cuda" or (accelerator == "gpu" and not mps_available())):
        raise ConfigError(
            f"trainer.accelerator={accelerator} but no CUDA GPU is visible on this machine; "
            "use trainer.accelerator=cpu (or auto)"
        )
    check_accelerator(cfg, has_cuda)
    # Lightning reads -1 as every GPU and a list as GPU indices; its CPU accelerator wants a
    # process count and refused them only after the data and the model were loaded.
    check_devices(cfg, has_cuda)
    target = strategy_target(cfg)
    for name, package in (("DeepSpeed", "deepspeed"), ("FSDP", None)):
        if name.lower() in target.lower():
            if not has_cuda:
                raise ConfigError(
                    f"strategy {name} needs CUDA GPUs and none is visible; use strategy=ddp "
                    "(or auto) on this machine"
                )
            if package and importlib.util.find_spec(package) is None:
                raise ConfigError(
                    f"strategy {name} needs the {package} package: pip install {package}"
                )
    if precision.startswith("16") and not has_cuda:
        raise ConfigError(
            f"precision={precision} (fp16) needs a CUDA GPU; on CPU use precision=bf16-mixed "
            "or precision=32"
        )
    clip = cfg.trainer.get("gradient_clip_val")
    if cfg.get("optimizer", {}).get("fused") and clip and scales_loss(precision):
        raise ConfigError(
            f"optimizer.fused=true with precision={precision} cannot clip gradients (a fused "
            "optimizer unscales them inside its step, after clipping would run; "
            f"trainer.gradient_clip_val={clip}); set trainer.gradient_clip_val=null, "
            "optimizer.fused=false or precision=bf16-mixed"
        )
    check_attention(cfg, has_cuda)


def check_attention(cfg: DictConfig, has_cuda: bool) -> None:
    """Flash attention (`model.network.attn_implementation=flash_attention_2|3`) needs a CUDA
    GPU and the flash-attn package; transformers would say so only after the data is read."""
    attention = str((cfg.model.get("network") or {}).get("attn_implementation") or "")
    if not attention.startswith("flash_attention"):
        return
    key = f"model.network.attn_implementation={attention}"
    if not has_cuda:
        raise ConfigError(f"{key} needs a CUDA GPU; on this machine use sdpa (the default)")
    if importlib.util.find_spec("flash_attn") is None:
        raise ConfigError(f"{key} needs the flash-attn package: pip install flash-attn")


def strategy_target(cfg: DictConfig) -> str:
    """The trainer's strategy: its `_target_` class path, or its Lightning name (`auto`)."""
    strategy = cfg.trainer.get("strategy", "auto")
    if isinstance(strategy, DictConfig):
        return str(strategy.get("_target_", ""))
    return str(strategy)


def check_quantized_base(cfg: DictConfig) -> None:
    """A 4/8-bit base model (`peft.quantization`, QLoRA) needs CUDA and bitsandbytes."""
    quantization = (cfg.get("peft") or {}).get("quantization")
    if quantization:
        from lab.training.adapters import check_quantization

        check_quantization(quantization)


def check_optimizer_hardware(cfg: DictConfig) -> None:
    """The bitsandbytes optimizers (adamw_8bit, paged_*) need CUDA: refused on a CPU machine
    before anything loads (torch is imported only for those)."""
    optimizer = cfg.get("optimizer") or {}
    if str(optimizer.get("optimizer_class") or "").startswith("bitsandbytes."):
        from lab.training.optim import check_optimizer

        check_optimizer(optimizer)
