"""Strategies and precision on a CPU-only machine: DDP with 2 processes (gloo) works and
writes one run directory; GPU-only choices stop before any model is loaded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from lab.errors import ConfigError
from lab.train import run

from conftest import TINY_FIXTURE_RUN

CPU_ONLY = pytest.mark.skipif(torch.cuda.is_available(), reason="checks CPU-only refusals")


@CPU_ONLY
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["strategy=deepspeed_stage_2"], "strategy DeepSpeed needs CUDA GPUs"),
        (["strategy=deepspeed_stage_3_offload"], "strategy DeepSpeed needs CUDA GPUs"),
        (["strategy=fsdp"], "strategy FSDP needs CUDA GPUs"),
        (["precision=16-mixed"], "needs a CUDA GPU"),
        (["trainer.accelerator=gpu"], "no CUDA GPU is visible"),
        (["peft=qlora"], "needs a CUDA GPU"),
    ],
)
def test_gpu_only_choices_fail_before_loading(
    overrides: list[str], message: str, compose_cfg: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lab.models

    def must_not_load(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a model was built before the configuration was rejected")

    monkeypatch.setattr(lab.models, "head_from_config", must_not_load)
    with pytest.raises(ConfigError, match=message):
        run(compose_cfg(*TINY_FIXTURE_RUN, *overrides))


def test_bf16_mixed_on_cpu_trains_and_exports(compose_cfg: Any, tmp_path: Path) -> None:
    metrics = run(compose_cfg(*TINY_FIXTURE_RUN, "precision=bf16-mixed", output_dir=tmp_path / "r"))
    assert 0.0 <= metrics["test/acc"] <= 1.0
    assert (tmp_path / "r" / "model" / "model.safetensors").is_file()


def test_ddp_two_cpu_processes_one_run_directory(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "lab.train",
        *TINY_FIXTURE_RUN,
        "data.batch_size=8",
        "trainer.max_epochs=1",
        "trainer.accelerator=cpu",
        "trainer.devices=2",
        "strategy=ddp",
        "paths.output_root=out",
    ]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = list((tmp_path / "out").glob("runs/*/*"))
    assert len(runs) == 1, runs  # rank 1 reused rank 0's directory
    record = json.loads((runs[0] / "record.json").read_text())
    assert record["status"] == "finished"
    assert (runs[0] / "model" / "config.json").is_file()
    assert result.stdout.count("Final metrics") == 1  # only rank 0 prints the summary
