"""Under DDP every rank's random states travel in the checkpoint rank zero writes, and each
rank restores its own on resume (every rank restored rank zero's before: a model with dropout
drew other masks on the other ranks, and the resumed curve drifted by ~1e-4).

The two ranks run in a script of their own (gloo, 2 processes), not inside the test process:
processes spawned from a pytest worker share its captured output streams."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch

from lab.training.checkpointing import RANK_RNG_KEY, ResumeStateCallback

SCRIPT = """
import socket, sys
from pathlib import Path
from types import SimpleNamespace

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from lab.training.checkpointing import ResumeStateCallback


def stub_trainer(rank, world):
    progress = SimpleNamespace(current=SimpleNamespace(processed=3))
    return SimpleNamespace(
        world_size=world, global_rank=rank, current_epoch=0, callbacks=[], datamodule=None,
        fit_loop=SimpleNamespace(
            epoch_loop=SimpleNamespace(batch_progress=progress),
            epoch_progress=SimpleNamespace(current=SimpleNamespace(ready=1, completed=0)),
        ),
    )


def rank_main(rank, world, port, out):
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world)
    try:
        torch.manual_seed(100 + rank)  # each rank its own stream, as DDP ranks have
        saving = ResumeStateCallback()
        checkpoint = {"callbacks": {}}
        saving.on_save_checkpoint(stub_trainer(rank, world), None, checkpoint)
        checkpoint["state"] = saving.state_dict()  # what rank zero writes: its own states
        expected = torch.rand(4)  # the next draws after the save, on this rank
        if rank == 0:
            torch.save(checkpoint, Path(out) / "checkpoint.pt")
        dist.barrier()
        loaded = torch.load(Path(out) / "checkpoint.pt", weights_only=True)
        torch.manual_seed(7)  # a fresh process's state
        resuming = ResumeStateCallback()
        resuming.on_load_checkpoint(stub_trainer(rank, world), None, loaded)
        resuming.load_state_dict(loaded["state"])
        torch.save({"expected": expected, "resumed": torch.rand(4)},
                   Path(out) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mp.spawn(rank_main, args=(2, port, sys.argv[1]), nprocs=2, join=True)
"""


def test_each_rank_resumes_its_own_random_stream(tmp_path: Path) -> None:
    script = tmp_path / "two_ranks.py"
    script.write_text(SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    checkpoint = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert len(checkpoint[RANK_RNG_KEY]) == 2
    draws = [torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1)]
    for rank, drawn in enumerate(draws):
        assert torch.equal(drawn["resumed"], drawn["expected"]), rank
    assert not torch.equal(draws[0]["expected"], draws[1]["expected"])  # two streams


def test_one_process_checkpoints_have_no_per_rank_states() -> None:
    progress = SimpleNamespace(current=SimpleNamespace(processed=3))
    trainer: Any = SimpleNamespace(
        world_size=1,
        global_rank=0,
        current_epoch=0,
        fit_loop=SimpleNamespace(
            epoch_loop=SimpleNamespace(batch_progress=progress),
            epoch_progress=SimpleNamespace(current=SimpleNamespace(ready=1, completed=0)),
        ),
    )
    checkpoint: dict[str, Any] = {"callbacks": {}}
    ResumeStateCallback().on_save_checkpoint(trainer, None, checkpoint)  # type: ignore[arg-type]
    assert RANK_RNG_KEY not in checkpoint
