"""`trainer.reuse_freed_memory` (lab.training.allocator): freed CPU blocks come back without page
faults; `auto` keeps them unless the training batches vary in shape and hold big blocks."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from lab.errors import ConfigError
from lab.training import allocator
from lab.training.allocator import (
    ReuseFreedMemory,
    largest_block_bytes,
    one_shape_share,
    train_lengths,
)
from lab.training.trainer import build_trainer

ON_GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"

# Run in a fresh process (glibc's own defaults cannot be restored once changed): a block of
# `mebibytes`, written (so its pages are touched), then freed; the page faults it cost.
FAULTS = """
import json, resource, torch
from lab.training.allocator import restore_glibc_defaults, reuse_freed_memory

def faults_for(mebibytes):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = torch.ones(mebibytes * 2**18)  # float32
    del block
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
"""


def page_faults(script: str) -> dict[str, Any]:
    """The JSON that `script` (after `FAULTS`) prints, run in a fresh interpreter."""
    code = FAULTS + textwrap.dedent(script)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


PAGES_IN_1MIB = 2**20 // 4096


@pytest.mark.skipif(not ON_GLIBC, reason="mallopt is glibc's")
def test_freed_block_is_reused_without_page_faults_and_defaults_come_back() -> None:
    faults = page_faults(
        """
        faults_for(64)
        glibc = faults_for(64)
        took_effect = reuse_freed_memory(True)
        # The heap grows to hold the block: sometimes a second region beside the first before
        # a freed one is reused (a small allocation can land after the freed block; seen in 3
        # of 10 processes), never a third in 40; four calls leave room for both.
        [faults_for(64) for _ in range(4)]
        reused = [faults_for(64) for _ in range(3)]
        restore_glibc_defaults()
        restored = faults_for(64)
        print(json.dumps({"took_effect": took_effect, "glibc": glibc, "reused": reused,
                          "restored": restored}))
        """
    )
    assert faults["took_effect"] is True
    # glibc maps a block this large afresh each time: one fault per 4 KiB page (or more).
    assert faults["glibc"] >= 64 * PAGES_IN_1MIB * 0.9
    # Kept in the heap: the same block again costs (almost) no faults.
    assert max(faults["reused"]) < 64 * PAGES_IN_1MIB * 0.02
    # Restored: mapped afresh again.
    assert faults["restored"] >= 64 * PAGES_IN_1MIB * 0.9


@pytest.mark.skipif(not ON_GLIBC, reason="mallopt is glibc's")
def test_given_back_blocks_are_mapped_afresh_where_glibc_would_keep_them() -> None:
    """An 8 MiB block, freed and asked for again: glibc's adaptive threshold rises to 8 MiB
    after the first free and serves the block from the heap after that; given back, it is
    mapped afresh every time (the heap never holds blocks of varying activation sizes)."""
    faults = page_faults(
        """
        glibc = [faults_for(8) for _ in range(6)]
        took_effect = reuse_freed_memory(False)
        given_back = [faults_for(8) for _ in range(3)]
        print(json.dumps({"took_effect": took_effect, "glibc": glibc, "given_back": given_back}))
        """
    )
    assert faults["took_effect"] is True
    # glibc: the first block mapped (one fault per page), later ones from the heap (which
    # may first grow once more to hold it: seen in 3 of 14 processes).
    assert faults["glibc"][0] >= 8 * PAGES_IN_1MIB * 0.9
    assert sum(f < 8 * PAGES_IN_1MIB * 0.1 for f in faults["glibc"][2:]) >= 2
    # Given back: every block mapped afresh.
    assert min(faults["given_back"]) >= 8 * PAGES_IN_1MIB * 0.9


def test_trainer_gets_the_callback_with_the_configured_mode() -> None:
    def ours(trainer: object) -> list[object]:
        return [c.mode for c in trainer.callbacks if isinstance(c, ReuseFreedMemory)]  # type: ignore[attr-defined]

    assert ours(build_trainer(accelerator="cpu", logger=False)) == ["auto"]
    assert ours(build_trainer(reuse_freed_memory=False, accelerator="cpu", logger=False)) == [False]


def test_unknown_trainer_option_lists_lab_switches() -> None:
    with pytest.raises(ConfigError, match=r"unknown trainer option\(s\) \['max_epoch'\]") as err:
        build_trainer(max_epoch=3)
    assert "compile, reuse_freed_memory, " in str(err.value)
    assert "max_epochs" in str(err.value)


# ----------------------------------------------------------------------------- auto
class Rows:
    """A data module stand-in: a tokenized train split and its batching."""

    def __init__(self, lengths: list[int], batch_size: int, grouped: bool = False) -> None:
        from datasets import Dataset

        self.datasets = {"train": Dataset.from_dict({"input_ids": [[1] * n for n in lengths]})}
        self.batch_size = batch_size
        self.group_by_length = grouped


def test_one_shape_share_is_the_chance_a_batch_holds_a_longest_row() -> None:
    # Half the rows at the longest length (4): a random batch of 2 misses it with 0.5^2.
    assert one_shape_share([4, 4, 2, 3], 2, grouped=False) == pytest.approx(0.75)
    # Grouped by length, only the batches of the longest rows have that shape.
    assert one_shape_share([4, 4, 2, 3], 2, grouped=True) == pytest.approx(0.5)
    # IMDB-like: 60% of reviews cut at the limit, batch 16: all but 0.4^16.
    assert one_shape_share([256] * 6 + [100] * 4, 16, grouped=False) == pytest.approx(1 - 0.4**16)
    # QA-like: 1 window in 25 at the limit, batch 16: fewer than half the batches.
    assert one_shape_share([384] + [150] * 24, 16, grouped=False) == pytest.approx(
        1 - (24 / 25) ** 16
    )


def test_train_lengths_are_the_token_counts_of_the_train_split_or_unknown() -> None:
    assert train_lengths(Rows([3, 1, 2], batch_size=2)) == [3, 1, 2]
    assert train_lengths(None) is None
    assert train_lengths(type("Streamed", (), {"datasets": {}})()) is None


class StandIn:
    """A trainer (its `datamodule`) or a LightningModule (its HF `model`) stand-in."""

    def __init__(self, datamodule: object = None, heads: int | None = 12) -> None:
        self.datamodule = datamodule
        config = type("Config", (), {"num_attention_heads": heads} if heads else {})()
        self.model = type("Model", (), {"config": config})()


def test_largest_block_is_one_layers_attention_scores_for_the_longest_batch() -> None:
    assert largest_block_bytes([384] + [150] * 24, 16, 12) == 16 * 12 * 384 * 384 * 4  # 113 MiB


QA = [384] + [150] * 24  # 1 window in 25 at the limit: under half the batches of 16
IMDB = [256] * 6 + [100] * 4  # most reviews cut at the limit: nearly every batch


@pytest.mark.parametrize(
    ("mode", "lengths", "batch", "heads", "kept"),
    [
        ("auto", IMDB, 16, 12, True),  # one shape: keep freed memory
        ("auto", QA, 16, 12, False),  # shapes vary, 113 MiB blocks: give back
        ("auto", [64] + [20] * 24, 32, 12, True),  # shapes vary, blocks of 6 MiB: keep
        (True, QA, 16, 12, True),  # forced
        (False, IMDB, 16, 12, False),  # forced
        ("auto", None, 16, 12, True),  # lengths unknown (streamed): as before
        ("auto", QA, 16, None, True),  # a model without attention heads: as before
    ],
)
def test_auto_keeps_freed_memory_unless_shapes_vary_and_blocks_are_big(
    mode: bool | str,
    lengths: list[int] | None,
    batch: int,
    heads: int | None,
    kept: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[bool | str] = []
    monkeypatch.setattr(allocator, "reuse_freed_memory", lambda on: calls.append(on) or True)
    monkeypatch.setattr(allocator, "restore_glibc_defaults", lambda: calls.append("restored"))
    callback = ReuseFreedMemory(mode)
    trainer = StandIn(Rows(lengths, batch_size=batch) if lengths else None)
    module = StandIn(heads=heads)
    callback.setup(trainer, module, "fit")  # type: ignore[arg-type]
    callback.teardown(trainer, module, "fit")  # type: ignore[arg-type]
    assert calls == [kept, "restored"]
    # The test pass after the fit: the same decision, without reading the lengths again.
    monkeypatch.setattr(allocator, "train_lengths", lambda datamodule: pytest.fail("read twice"))
    callback.setup(trainer, module, "test")  # type: ignore[arg-type]
    callback.teardown(trainer, module, "test")  # type: ignore[arg-type]
    assert calls == [kept, "restored", kept, "restored"]


def test_an_unknown_reuse_freed_memory_value_is_refused_in_words() -> None:
    with pytest.raises(ConfigError, match=r"reuse_freed_memory='sometimes'; valid: auto, true"):
        build_trainer(reuse_freed_memory="sometimes", accelerator="cpu", logger=False)


@pytest.mark.parametrize("mode", [False, True])
def test_evaluation_keeps_freed_memory_where_training_gives_it_back(
    mode: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Length-sorted evaluation batches (longest first) reuse each other's blocks: where
    training gives freed memory back (shapes vary), evaluation keeps it, then gives it back
    (16 batches of 32 IMDB-length reviews: 12 s kept against 16 s given back)."""
    calls: list[bool] = []

    def record(enabled: bool) -> bool:
        calls.append(enabled)
        return True

    monkeypatch.setattr(allocator, "reuse_freed_memory", record)
    callback = ReuseFreedMemory(mode)
    trainer: Any = object()
    callback.setup(trainer, trainer, "fit")
    callback.on_validation_start(trainer, trainer)
    callback.on_validation_end(trainer, trainer)
    callback.on_test_start(trainer, trainer)
    callback.on_test_end(trainer, trainer)
    assert calls == ([True] if mode else [False, True, False, True, False])
