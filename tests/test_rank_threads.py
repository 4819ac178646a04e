"""CPU DDP ranks and their threads (s32b F3): `trainer.devices=3` on 2 cores ran without a
word, and record.json's `hardware.torch_threads` was taken before Lightning's launcher gave each
rank `cores // ranks` threads; `hardware.rank_threads` is what the ranks ran with."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import torch
from lightning.pytorch.accelerators import CPUAccelerator, CUDAAccelerator

from lab.training.rank_threads import RankThreads, oversubscribed_line, warn_if_oversubscribed


def _trainer(devices: int, accelerator: Any = None, rank: int = 0) -> Any:
    return SimpleNamespace(
        num_devices=devices, accelerator=accelerator or CPUAccelerator(), global_rank=rank
    )


def test_more_cpu_ranks_than_cores_is_said_in_one_line(caplog: pytest.LogCaptureFixture) -> None:
    assert oversubscribed_line(_trainer(3), cores=2) == (
        "3 CPU ranks on 2 cores: each rank runs 1 thread and the ranks take turns on the "
        "cores, slower than one rank a core (trainer.devices=2 or fewer; the global batch is "
        "data.batch_size x ranks x trainer.accumulate_grad_batches)"
    )
    assert oversubscribed_line(_trainer(2), cores=2) is None  # one rank a core
    assert oversubscribed_line(_trainer(1), cores=1) is None
    assert oversubscribed_line(_trainer(3, CUDAAccelerator()), cores=2) is None  # GPU ranks
    with caplog.at_level("WARNING", logger="lab.training.rank_threads"):
        warn_if_oversubscribed(_trainer(64))  # more than this machine's cores
        warn_if_oversubscribed(_trainer(64, rank=1))  # said by rank 0 alone
    (record,) = caplog.records
    assert record.levelname == "WARNING" and record.getMessage().startswith("64 CPU ranks on ")


def test_the_record_gets_the_threads_rank_zero_trains_with() -> None:
    written: list[dict[str, Any]] = []
    record: Any = SimpleNamespace(data={"hardware": {"torch_threads": 99}})
    record.write = lambda: written.append(dict(record.data["hardware"]))
    callback = RankThreads(record)
    callback.setup(_trainer(2, rank=1), None, "fit")  # type: ignore[arg-type]
    callback.setup(_trainer(2), None, "validate")  # type: ignore[arg-type]
    assert written == []
    callback.setup(_trainer(2), None, "fit")  # type: ignore[arg-type]
    # torch_threads stays as taken at the start (older records have it alone).
    assert written == [{"torch_threads": 99, "rank_threads": torch.get_num_threads()}]
