"""More CPU ranks than cores is said by `lab.validate` too, in `lab.train`'s words (s32d G6:
`lab.validate ... trainer.devices=3 strategy=ddp trainer=cpu` said `config ok` and nothing
on 2 cores): one function for both, a warning, exit 0."""

from __future__ import annotations

from typing import Any

import pytest

from lab.training import rank_cores
from lab.training.rank_cores import config_ranks_over_cores_line, ranks_over_cores_line

THREE_ON_TWO = (
    "3 CPU ranks on 2 cores: each rank runs 1 thread and the ranks take turns on the cores, "
    "slower than one rank a core (trainer.devices=2 or fewer; the global batch is "
    "data.batch_size x ranks x trainer.accumulate_grad_batches)"
)


def test_the_line() -> None:
    assert ranks_over_cores_line(3, cores=2) == THREE_ON_TWO
    assert ranks_over_cores_line(2, cores=2) is None  # one rank a core


def test_from_the_config(compose_cfg: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    cpu = ("trainer=cpu", "strategy=ddp")
    assert config_ranks_over_cores_line(compose_cfg(*cpu, "trainer.devices=3"), 2) == THREE_ON_TWO
    assert config_ranks_over_cores_line(compose_cfg(*cpu, "trainer.devices=2"), 2) is None
    gpu = compose_cfg("trainer=gpu", "strategy=ddp", "trainer.devices=3")
    assert config_ranks_over_cores_line(gpu, 2) is None  # GPU ranks
    monkeypatch.setattr("lab.config.hardware_rules.cuda_available", lambda: True)
    assert config_ranks_over_cores_line(compose_cfg("trainer.devices=3"), 2) is None  # auto: GPU
    monkeypatch.setattr(rank_cores, "_on_cpu", lambda trainer: True)
    auto = compose_cfg("trainer.devices=auto")  # no known number of ranks
    assert config_ranks_over_cores_line(auto, 2) is None
    assert config_ranks_over_cores_line(compose_cfg("trainer.devices=3"), 2) == THREE_ON_TWO
    monkeypatch.setattr(rank_cores, "_on_cpu", lambda trainer: False)  # GPU ranks
    assert config_ranks_over_cores_line(compose_cfg("trainer.devices=3"), 2) is None


def test_the_trainers_line_is_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from lightning.pytorch.accelerators import CPUAccelerator

    from lab.training.rank_threads import oversubscribed_line

    trainer: Any = SimpleNamespace(num_devices=3, accelerator=CPUAccelerator())
    assert oversubscribed_line(trainer, cores=2) == THREE_ON_TWO


def test_lab_validate_warns_and_passes(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from lab.validate import main

    monkeypatch.setattr(rank_cores, "usable_cores", lambda: 2)
    assert main(["model=tiny_bert", "trainer=cpu", "strategy=ddp", "trainer.devices=3"]) == 0
    captured = capsys.readouterr()
    assert captured.err == f"warning: {THREE_ON_TWO}\n"
    assert captured.out.endswith("config ok: no rule broken (no data or weights were loaded)\n")
    assert main(["model=tiny_bert", "trainer=cpu", "strategy=ddp", "trainer.devices=2"]) == 0
    assert capsys.readouterr().err == ""
