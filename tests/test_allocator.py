"""`trainer.reuse_freed_memory` (lab.training.allocator): freed CPU blocks come back without page
faults."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import textwrap

import pytest

from lab.errors import ConfigError
from lab.training.allocator import ReuseFreedMemory
from lab.training.trainer import build_trainer

ON_GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"

# A 64 MiB tensor, written (so its pages are touched), then freed: the page faults it costs.
# In a fresh process, because glibc's own defaults cannot be restored once changed.
SCRIPT = textwrap.dedent(
    """
    import json, resource, torch
    from lab.training.allocator import reuse_freed_memory

    def faults_for_a_64mib_block():
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        block = torch.ones(16 * 2**20)
        del block
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

    faults_for_a_64mib_block()
    glibc = faults_for_a_64mib_block()
    took_effect = reuse_freed_memory(True)
    # The heap grows to hold the block: sometimes a second region beside the first before a
    # freed one is reused (a small allocation can land after the freed block; seen in 3 of
    # 10 processes), never a third in 40; four calls leave room for both.
    [faults_for_a_64mib_block() for _ in range(4)]
    reused = [faults_for_a_64mib_block() for _ in range(3)]
    reuse_freed_memory(False)
    restored = faults_for_a_64mib_block()
    print(json.dumps({"took_effect": took_effect, "glibc": glibc, "reused": reused,
                      "restored": restored}))
    """
)
PAGES_IN_64MIB = 64 * 2**20 // 4096


@pytest.mark.skipif(not ON_GLIBC, reason="mallopt is glibc's")
def test_freed_block_is_reused_without_page_faults_and_defaults_come_back() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=True
    )
    faults = json.loads(done.stdout.strip().splitlines()[-1])
    assert faults["took_effect"] is True
    # glibc maps a block this large afresh each time: one fault per 4 KiB page (or more).
    assert faults["glibc"] >= PAGES_IN_64MIB * 0.9
    # Kept in the heap: the same block again costs (almost) no faults.
    assert max(faults["reused"]) < PAGES_IN_64MIB * 0.02
    # Restored: mapped afresh again.
    assert faults["restored"] >= PAGES_IN_64MIB * 0.9


def test_trainer_gets_the_callback_by_default_and_not_when_off() -> None:
    def ours(trainer: object) -> list[object]:
        return [c for c in trainer.callbacks if isinstance(c, ReuseFreedMemory)]  # type: ignore[attr-defined]

    assert len(ours(build_trainer(accelerator="cpu", logger=False))) == 1
    assert ours(build_trainer(reuse_freed_memory=False, accelerator="cpu", logger=False)) == []


def test_unknown_trainer_option_lists_lab_switches() -> None:
    with pytest.raises(ConfigError, match=r"unknown trainer option\(s\) \['max_epoch'\]") as err:
        build_trainer(max_epoch=3)
    assert "compile, reuse_freed_memory, " in str(err.value)
    assert "max_epochs" in str(err.value)
