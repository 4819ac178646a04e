"""`trainer.reuse_freed_memory`: keep freed CPU memory for reuse instead of page-faulting it
back every training step.

Why: glibc's `malloc` serves every block above its mmap threshold (at most 32 MiB) with a fresh
`mmap` and gives it back with `munmap` on free. A CPU training step allocates many such
blocks: at batch 16 x 256 tokens one layer's attention probabilities alone are 16 x 12 x 256 x
256 x 4 bytes = 50 MiB, and the step allocates them (and their dropout masks and gradients)
over and over. Each fresh block arrives as zeroed pages through page faults: measured on a
2-core AMD EPYC, MiniLM, 16 x 256, about 330,000 page faults (over 1 GiB of fresh pages) per
step; without them the step is 1.21x faster (`benchmarks/allocator.py`, `RESULTS.md`). The
usual advice for PyTorch on CPU is to preload jemalloc or TCMalloc; `mallopt` gets the same
effect inside the process, with no library to install and nothing to set before Python
starts: no block is mmapped (all come from the heap) and freed memory stays in the heap for
the next step (no trim).

The cost: the process keeps its peak heap until the run ends (at teardown the defaults are
restored and the heap is trimmed; glibc's adaptive mmap threshold stays fixed afterwards in a
long-lived process, as after any `mallopt` call). Numbers are unchanged: this decides where
memory comes from, not what is computed. On a non-glibc C library (macOS, musl) it does nothing. GPU
tensors use CUDA's own caching allocator; this touches only host memory.
"""

from __future__ import annotations

import ctypes
import logging
import platform
from functools import cache

import lightning as L

log = logging.getLogger(__name__)

# glibc's mallopt parameters (malloc.h) and its documented defaults on 64-bit Linux.
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
DEFAULT_TRIM_THRESHOLD = 128 * 1024
DEFAULT_MMAP_MAX = 65536
# Freed memory at the top of the heap is returned to the OS only above this much: the largest
# value mallopt's `int` takes (2 GiB). A larger Python int would wrap around to 0 in C, which
# means "trim everything", the opposite of what is wanted.
KEEP_UP_TO = 2**31 - 1


@cache
def _glibc() -> ctypes.CDLL | None:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]  # out-of-range values raise, not wrap
    libc.malloc_trim.argtypes = [ctypes.c_size_t]
    return libc


def reuse_freed_memory(enabled: bool) -> bool:
    """Make this process's `malloc` keep freed memory for reuse (`enabled`) or restore glibc's
    defaults and return free heap memory to the OS (`not enabled`).

    Returns whether the setting took effect (False off glibc).
    """
    libc = _glibc()
    if libc is None:
        return False
    if enabled:
        done = libc.mallopt(M_MMAP_MAX, 0) and libc.mallopt(M_TRIM_THRESHOLD, KEEP_UP_TO)
    else:
        done = libc.mallopt(M_MMAP_MAX, DEFAULT_MMAP_MAX) and libc.mallopt(
            M_TRIM_THRESHOLD, DEFAULT_TRIM_THRESHOLD
        )
        libc.malloc_trim(0)
    return bool(done)


class ReuseFreedMemory(L.Callback):
    """Keeps freed CPU memory for reuse while a Trainer runs (see the module docstring)."""

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if not reuse_freed_memory(True):
            log.debug("trainer.reuse_freed_memory: not a glibc system, nothing changed")

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        reuse_freed_memory(False)
