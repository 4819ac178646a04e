"""Hardware rules for `trainer.accelerator` and `trainer.devices` (called by
`lab.config.hardware_rules.check_hardware`): an accelerator name Lightning does not know, an
accelerator this machine does not have (Apple's MPS, a TPU), and a `trainer.devices` value
Lightning cannot parse or this machine cannot give (GPU indices on a CPU run, more GPUs than
are visible).

Lightning says all of these only once the Trainer is built, after the data and the model were
loaded, and in a traceback (`MPSAccelerator can not run on your system`, `torch_xla>=1.13 not
met`, `devices selected with CPUAccelerator should be an int > 0`). Cheap: torch is imported
only where a GPU may be there (see `cuda_available`), Lightning only where torch_xla is
installed.
"""

from __future__ import annotations

import difflib
import importlib.util
import sys
from typing import Any

from omegaconf import DictConfig, ListConfig

from lab.errors import ConfigError

# Lightning's accelerator registry (`AcceleratorRegistry.available_accelerators()`) plus the
# names its connector takes besides (`auto`, `gpu`); tests/test_config_refusals.py checks them.
ACCELERATORS = ("auto", "cpu", "cuda", "gpu", "mps", "tpu")
DEVICES_VALID = "auto, a number of devices >= 1 (-1: every GPU), or GPU indices ([0,1] or '0,1')"


def mps_available() -> bool:
    """Lightning's `MPSAccelerator.is_available()`: Apple silicon with Metal; never elsewhere
    (answered without torch off macOS)."""
    if sys.platform != "darwin":
        return False
    import os
    import platform

    import torch

    return (
        os.getenv("DISABLE_MPS", "0") != "1"
        and bool(torch.backends.mps.is_available())
        and platform.processor() in ("arm", "arm64")
    )


def tpu_available() -> bool:
    """Lightning's `XLAAccelerator.is_available()`: torch_xla installed and a TPU visible."""
    if importlib.util.find_spec("torch_xla") is None:
        return False  # Lightning would stop on its requirement `torch_xla>=1.13`
    try:
        from lightning.pytorch.accelerators import XLAAccelerator

        return bool(XLAAccelerator.is_available())
    except Exception:  # torch_xla present but broken: no TPU for this run
        return False


def available_here(has_cuda: bool) -> str:
    """The accelerators this machine can run, in words (`cpu, cuda`)."""
    names = ["cpu", *(["cuda"] if has_cuda else []), *(["mps"] if mps_available() else [])]
    return ", ".join(names)


def check_accelerator(cfg: DictConfig, has_cuda: bool) -> None:
    """`trainer.accelerator` must be one Lightning knows and this machine has (the CUDA case,
    with its own words, is `check_hardware`'s)."""
    accelerator = cfg.trainer.get("accelerator", "auto")
    if not isinstance(accelerator, str):
        return  # an Accelerator object (a `_target_` node): Lightning's to check
    if accelerator not in ACCELERATORS:
        close = difflib.get_close_matches(accelerator, ACCELERATORS, n=1)
        maybe = f" Did you mean trainer.accelerator={close[0]}?" if close else ""
        raise ConfigError(
            f"trainer.accelerator={accelerator} is not an accelerator Lightning knows.{maybe} "
            f"Valid: {', '.join(ACCELERATORS)} (auto picks {_auto(has_cuda)} here)"
        )
    here = available_here(has_cuda)
    if accelerator == "mps" and not mps_available():
        raise ConfigError(
            "trainer.accelerator=mps needs Apple silicon with Metal (MPS), which this machine "
            f"does not have; available here: {here} (trainer.accelerator=auto picks one)"
        )
    if accelerator == "tpu" and not tpu_available():
        installed = importlib.util.find_spec("torch_xla") is not None
        why = "no TPU is visible" if installed else "torch_xla is not installed"
        raise ConfigError(
            f"trainer.accelerator=tpu needs a TPU and the torch_xla package ({why}); available "
            f"here: {here} (trainer.accelerator=auto picks one)"
        )


def _auto(has_cuda: bool) -> str:
    return "cuda" if has_cuda else "mps" if mps_available() else "cpu"


def parse_devices(value: Any) -> tuple[str, Any] | None:
    """`trainer.devices` as Lightning reads it: ("auto", None), ("count", n), ("all", -1) or
    ("indices", [i, ...]); None when Lightning cannot read it."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return ("all", -1) if value == -1 else ("count", value) if value >= 1 else None
    if isinstance(value, str):
        text = value.strip()
        if text == "auto":
            return ("auto", None)
        if text == "-1":
            return ("all", -1)
        if text.isdigit():
            return ("count", int(text)) if int(text) >= 1 else None
        parts = [part.strip() for part in text.split(",") if part]  # Lightning's own split
        if "," in text and parts and all(part.isdigit() for part in parts):
            return _indices([int(part) for part in parts])
        return None
    if isinstance(value, (ListConfig, list, tuple)):
        items = list(value)
        if all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in items):
            return _indices(items)
    return None


def _indices(items: list[int]) -> tuple[str, Any] | None:
    return ("indices", items) if items and len(set(items)) == len(items) else None


def check_devices(cfg: DictConfig, has_cuda: bool) -> None:
    """`trainer.devices` in a form Lightning reads, and one this run's accelerator can give:
    a process count on CPU (not GPU indices), no more CUDA GPUs than are visible."""
    trainer = cfg.trainer
    value = trainer.get("devices", "auto")
    shown = _show(value)
    parsed = parse_devices(value)
    if parsed is None:
        raise ConfigError(
            f"trainer.devices={shown} is not a device setting; valid: {DEVICES_VALID}"
        )
    accelerator = trainer.get("accelerator", "auto")
    if not isinstance(accelerator, str) or accelerator in ("tpu", "mps"):
        return  # an Accelerator object, a TPU (its own device forms) or MPS (one device)
    kind, number = parsed
    runs_on = accelerator if accelerator != "auto" else _auto(has_cuda)
    if runs_on in ("gpu", "cuda") and has_cuda:
        _check_gpu_count(kind, number, shown)
    elif runs_on == "cpu" and kind in ("indices", "all"):
        why = (
            "trainer.accelerator=cpu runs on CPU"
            if accelerator == "cpu"
            else "no CUDA GPU is visible on this machine"
        )
        meaning = "names GPU indices" if kind == "indices" else "means every GPU"
        raise ConfigError(
            f"trainer.devices={shown} {meaning}, and {why}; on CPU give the number of processes "
            "(trainer.devices=2 strategy=ddp) or leave it at auto (one process)"
        )


def _check_gpu_count(kind: str, number: Any, shown: str) -> None:
    import torch

    count = torch.cuda.device_count()
    wanted = list(range(number)) if kind == "count" else number if kind == "indices" else []
    missing = [i for i in wanted if i >= count]
    if missing:
        raise ConfigError(
            f"trainer.devices={shown} asks for CUDA GPU {missing[0]}, and this machine has "
            f"{count} (0..{count - 1}); give trainer.devices={count} or less, or -1 for every one"
        )


def _show(value: Any) -> str:
    if isinstance(value, ListConfig):
        return "[" + ",".join(str(v) for v in value) + "]"
    if isinstance(value, str):
        return repr(value) if value.strip() != value or "," in value or not value else value
    return str(value).lower() if isinstance(value, bool) else str(value)
