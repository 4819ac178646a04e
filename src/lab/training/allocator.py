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

The cost: the process keeps its peak heap until the run ends (at teardown glibc's defaults
are restored and the heap is trimmed; glibc's adaptive mmap threshold stays fixed afterwards
in a long-lived process, as after any `mallopt` call). Numbers are unchanged: this decides where
memory comes from, not what is computed. On a non-glibc C library (macOS, musl) it does nothing. GPU
tensors use CUDA's own caching allocator; this touches only host memory.

**When (`auto`, the default).** Kept memory is reused well only when the steps ask for the same
blocks again, i.e. when most batches have one padded shape (IMDB at 256 tokens: nearly every
batch of 16 holds a review cut at 256). When shapes vary (extractive QA: SQuAD-shaped windows,
median 152 tokens, 4% at the full 384; length-grouped batches; short sentences), the heap is cut
into free chunks that the next long batch's blocks do not fit, and it grows past the live peak
of a step on almost every long batch: MiniLM on 500 SQuAD-shaped questions peaked at 5.5 GB
with the setting against 5.0 GB without, at the same speed (168 s vs 170 s); an HF Trainer
script padding every window to 384 peaked at 4.4 GB (`benchmarks/qa_memory.py`, RESULTS.md).
Where all blocks are small, keeping them costs nothing and glibc's own trimming costs more: the
demo set's sentences (batch 32 x 64 tokens) peaked at 1.42 GB and ran 1.09-1.26x the HF
script's time without the setting, against 1.32 GB and 0.98-1.04x with it. So `auto` turns the
setting off only when both hold: fewer than `ONE_SHAPE_SHARE` of the training batches are
expected to be padded to the split's longest row (`1 - (1 - p)^batch` for random batches where
a share `p` of rows is at the longest length, `p` itself with `data.group_by_length`), and the
longest batch's attention scores (batch x heads x length^2 x 4 bytes) exceed glibc's largest
mmap threshold, 32 MiB (QA windows: 16 x 12 x 384^2 x 4 = 113 MiB; length-grouped IMDB at 256:
50 MiB; the demo set: 6 MiB). Data or models whose shapes are unknown before training
(streamed data) keep the setting on, as before. `true` / `false` force it.

**Off means given back, at a fixed threshold.** Off, blocks of `GIVE_BACK_FROM` (4 MiB) and
more are mapped on their own and unmapped when freed, and the threshold stays there. glibc's
own default is adaptive: once a mapped block is freed, the threshold rises to its size (up
to 32 MiB), and every smaller block then comes from the heap, where varying sizes fragment
it as above. On the 500 SQuAD-shaped questions: glibc's defaults 5.0-5.2 GB, the fixed
threshold 3.92 GB (the HF script padding every window to 384: 4.37 GB), 216 s against 206 s.
"""

from __future__ import annotations

import ctypes
import logging
import platform
from collections.abc import Sequence
from functools import cache
from typing import Any

import lightning as L

log = logging.getLogger(__name__)

# glibc's mallopt parameters (malloc.h) and its documented defaults on 64-bit Linux.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_MMAP_MAX = -4
DEFAULT_TRIM_THRESHOLD = 128 * 1024
DEFAULT_MMAP_THRESHOLD = 128 * 1024
DEFAULT_MMAP_MAX = 65536
# Freed memory at the top of the heap is returned to the OS only above this much: the largest
# value mallopt's `int` takes (2 GiB). A larger Python int would wrap around to 0 in C, which
# means "trim everything", the opposite of what is wanted.
KEEP_UP_TO = 2**31 - 1
# With the setting off, blocks from this size up are mapped on their own and unmapped when
# freed, at a fixed threshold: glibc's adaptive one rises (up to 32 MiB) after such a block
# is freed, and from then on serves blocks of every size below it from the heap, which
# fragments when their sizes vary (see the module). 4 MiB: 3.92 GB peak on QA against 3.88
# GB at 128 KiB, with fewer fresh pages per step (216 s against 225 s).
GIVE_BACK_FROM = 4 * 2**20


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
    """Make this process's `malloc` keep freed memory for reuse (`enabled`: no block mapped on
    its own, no trimming) or give it back (`not enabled`: blocks of `GIVE_BACK_FROM` and more
    are mapped on their own and unmapped when freed; free heap memory is trimmed).

    Returns whether the setting took effect (False off glibc).
    """
    libc = _glibc()
    if libc is None:
        return False
    if enabled:
        done = libc.mallopt(M_MMAP_MAX, 0) and libc.mallopt(M_TRIM_THRESHOLD, KEEP_UP_TO)
    else:
        done = (
            libc.mallopt(M_MMAP_MAX, DEFAULT_MMAP_MAX)
            and libc.mallopt(M_TRIM_THRESHOLD, DEFAULT_TRIM_THRESHOLD)
            and libc.mallopt(M_MMAP_THRESHOLD, GIVE_BACK_FROM)
        )
        libc.malloc_trim(0)
    return bool(done)


def restore_glibc_defaults() -> None:
    """glibc's documented defaults again, and free heap memory returned to the OS. (Its
    adaptive mmap threshold stays fixed at the default: mallopt cannot switch it back on.)"""
    libc = _glibc()
    if libc is None:
        return
    libc.mallopt(M_MMAP_MAX, DEFAULT_MMAP_MAX)
    libc.mallopt(M_TRIM_THRESHOLD, DEFAULT_TRIM_THRESHOLD)
    libc.mallopt(M_MMAP_THRESHOLD, DEFAULT_MMAP_THRESHOLD)
    libc.malloc_trim(0)


# `auto` keeps freed memory when at least this share of training batches has one padded shape,
ONE_SHAPE_SHARE = 0.9
# or when the largest block of a step stays below glibc's largest mmap threshold (32 MiB): the
# heap then holds only blocks glibc keeps there anyway.
MMAP_THRESHOLD_MAX = 32 * 2**20


def one_shape_share(lengths: Sequence[int], batch_size: int, grouped: bool) -> float:
    """The expected share of training batches padded to the longest of `lengths` (the token
    counts of the train split's rows), for batches of `batch_size`, length-`grouped` or not."""
    longest = max(lengths)
    at_longest = sum(length == longest for length in lengths) / len(lengths)
    if grouped:
        return at_longest  # rows of similar length share batches: few batches hold the longest
    return 1.0 - (1.0 - at_longest) ** batch_size


def largest_block_bytes(lengths: Sequence[int], batch_size: int, heads: int) -> int:
    """Bytes of one layer's float32 attention scores for the longest training batch (batch x
    heads x length^2 x 4), the largest block of a transformer's step."""
    return batch_size * heads * max(lengths) ** 2 * 4


def train_lengths(datamodule: Any) -> list[int] | None:
    """Token counts of the rows of `datamodule`'s train split; None when it has no tokenized,
    loaded train split (streamed data)."""
    from datasets import Dataset

    from lab.data.encoding import row_lengths

    train = (getattr(datamodule, "datasets", None) or {}).get("train")
    if not isinstance(train, Dataset) or "input_ids" not in train.column_names or not len(train):
        return None
    return row_lengths(train)


class ReuseFreedMemory(L.Callback):
    """Keeps freed CPU memory for reuse, or gives it back, while a Trainer runs (see the
    module docstring); glibc's defaults again at teardown.

    `auto`: keeps it unless the training batches vary in shape and hold blocks above glibc's
    largest mmap threshold (`one_shape_share`, `largest_block_bytes`)."""

    def __init__(self, mode: bool | str = True) -> None:
        self.mode = mode
        self._set = False
        self._keep: bool | None = None  # decided once: the test pass reuses the fit's decision

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if self._keep is None:  # `auto` reads the train split's token lengths: only once
            self._keep = self.mode is True or (
                self.mode == "auto" and self._pays(trainer, pl_module)
            )
        self._set = reuse_freed_memory(self._keep)
        if not self._set:
            log.debug("trainer.reuse_freed_memory: not a glibc system, nothing changed")

    def _pays(self, trainer: L.Trainer, pl_module: L.LightningModule) -> bool:
        datamodule = getattr(trainer, "datamodule", None)
        lengths = train_lengths(datamodule)
        config = getattr(getattr(pl_module, "model", None), "config", None)
        heads = getattr(config, "num_attention_heads", None)
        if lengths is None or not isinstance(heads, int):
            log.debug("trainer.reuse_freed_memory=auto: on (batch shapes unknown)")
            return True
        batch_size = int(getattr(datamodule, "batch_size", 1))
        grouped = bool(getattr(datamodule, "group_by_length", False))
        share = one_shape_share(lengths, batch_size, grouped)
        block = largest_block_bytes(lengths, batch_size, heads)
        decision = share >= ONE_SHAPE_SHARE or block <= MMAP_THRESHOLD_MAX
        log.debug(
            "trainer.reuse_freed_memory=auto: %s (batches at one shape: %.2f, largest block: "
            "%.0f MiB)",
            "on" if decision else "off",
            share,
            block / 2**20,
        )
        return decision

    # Evaluation keeps freed memory even where training gives it back: its batches are
    # length-sorted, longest first (`lab.data.loaders`), so each batch's freed blocks hold the
    # next, shorter one's and the heap stays at the first batch's size, far below a training
    # step's (no gradients, no saved activations). Given back again when it ends. Measured
    # (MiniLM, 16 no-grad batches of 32 IMDB-length reviews, 2 cores, a fresh process each):
    # 11.8-12.2 s kept against 15.8-16.4 s given back (5.1 million page faults), peak RSS
    # 824-841 MB against 673-674 MB, far under a training step's 4 GB.
    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._evaluation(True)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._evaluation(False)

    def on_test_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._evaluation(True)

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._evaluation(False)

    def _evaluation(self, starting: bool) -> None:
        if self._set and self._keep is False:  # training gives memory back: evaluation keeps it
            reuse_freed_memory(starting)

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if self._set:
            restore_glibc_defaults()
            self._set = False
