"""Under DDP every rank's random states travel in the checkpoint rank zero writes, and each
rank restores its own on resume (every rank restored rank zero's before: a model with dropout
drew other masks on the other ranks, and the resumed curve drifted by ~1e-4)."""

from __future__ import annotations

import socket
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from lab.training.checkpointing import RANK_RNG_KEY, ResumeStateCallback


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stub_trainer(rank: int, world: int) -> Any:
    progress = SimpleNamespace(current=SimpleNamespace(processed=3))
    return SimpleNamespace(
        world_size=world,
        global_rank=rank,
        current_epoch=0,
        fit_loop=SimpleNamespace(epoch_loop=SimpleNamespace(batch_progress=progress)),
        callbacks=[],
        datamodule=None,
    )


def _rank(rank: int, world: int, port: int, out: str) -> None:
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world
    )
    try:
        torch.manual_seed(100 + rank)  # each rank its own stream, as DDP ranks have
        saving = ResumeStateCallback()
        checkpoint: dict[str, Any] = {"callbacks": {}}
        saving.on_save_checkpoint(_stub_trainer(rank, world), None, checkpoint)  # type: ignore[arg-type]
        checkpoint["state"] = saving.state_dict()  # what rank zero writes: its own states
        expected = torch.rand(4)  # the next draws after the save, on this rank
        if rank == 0:
            torch.save(checkpoint, Path(out) / "checkpoint.pt")
        dist.barrier()
        loaded = torch.load(Path(out) / "checkpoint.pt", weights_only=True)
        torch.manual_seed(7)  # a fresh process's state
        resuming = ResumeStateCallback()
        resuming.on_load_checkpoint(_stub_trainer(rank, world), None, loaded)  # type: ignore[arg-type]
        resuming.load_state_dict(loaded["state"])
        torch.save({"expected": expected, "resumed": torch.rand(4)}, Path(out) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_each_rank_resumes_its_own_random_stream(tmp_path: Path) -> None:
    mp.spawn(_rank, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    checkpoint = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert len(checkpoint[RANK_RNG_KEY]) == 2
    draws = [torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1)]
    for rank, drawn in enumerate(draws):
        assert torch.equal(drawn["resumed"], drawn["expected"]), rank
    assert not torch.equal(draws[0]["expected"], draws[1]["expected"])  # two streams


def test_one_process_checkpoints_have_no_per_rank_states() -> None:
    checkpoint: dict[str, Any] = {"callbacks": {}}
    ResumeStateCallback().on_save_checkpoint(_stub_trainer(0, 1), None, checkpoint)  # type: ignore[arg-type]
    assert RANK_RNG_KEY not in checkpoint
