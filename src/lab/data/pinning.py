"""`data.pin_memory`: batches in page-locked (pinned) host memory before they go to the GPU.

Lightning copies each batch to the GPU with `non_blocking=True`. From pinned memory that copy
is queued on the stream behind the step still running, and the CPU goes on launching the
next step. From ordinary (pageable) memory the CUDA driver first stages the data through a
pinned buffer of its own and may wait for the stream to do it, a GPU sync per step, which
costs most where the step is bound by the CPU that launches it (BERT-base at 8% MFU on an
H200, benchmarks/RESULTS.md). HF Trainer pins by default (`dataloader_pin_memory=True`).
`auto` pins when batches go to a CUDA GPU; on CPU pinning would only copy each batch once
more. Cheap to import (no torch): `lab.config.ranges` checks the value before anything loads.
"""

from __future__ import annotations

from typing import Any


def pin_memory_problem(value: Any) -> str | None:
    """What is wrong with `value` as `data.pin_memory`, or None when it is true, false or auto."""
    if isinstance(value, bool) or value == "auto":
        return None
    shown = repr(value) if isinstance(value, str) else "null" if value is None else value
    return f"data.pin_memory={shown}: use true, false or auto (true when batches go to a CUDA GPU)"


def resolve_pin_memory(value: bool | str, device_type: str) -> bool:
    """`data.pin_memory` for batches that go to a device of `device_type` (`cuda`, `cpu`, ...)."""
    if value == "auto":
        return device_type == "cuda"
    return bool(value)
