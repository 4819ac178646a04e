"""`data.pin_memory` (`lab.data.pinning`): every loader a run builds hands out pinned batches
when they go to a CUDA GPU (`auto`), none on CPU, and a value that is not true, false or auto
is refused before anything loads."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import torch

from lab.build import build_datamodule
from lab.data.pinning import pin_memory_problem, resolve_pin_memory
from lab.errors import ConfigError
from lab.training.tokenizers import build_tokenizer

from conftest import TINY_FIXTURE_RUN


def _on(device: str) -> Any:
    return SimpleNamespace(
        strategy=SimpleNamespace(root_device=torch.device(device)), world_size=1, global_rank=0
    )


def _loaders(datamodule: Any) -> list[Any]:
    return [
        datamodule.train_dataloader(),
        datamodule.val_dataloader(),
        datamodule.test_dataloader(),
    ]


@pytest.mark.parametrize(
    ("value", "device", "pinned"),
    [
        ("auto", "cuda", True),
        ("auto", "cpu", False),
        ("auto", "mps", False),  # only CUDA gains from page-locked memory
        (True, "cpu", True),
        (False, "cuda", False),
    ],
)
def test_pin_memory_resolves_by_the_device_batches_go_to(
    value: bool | str, device: str, pinned: bool
) -> None:
    assert resolve_pin_memory(value, device) is pinned


@pytest.mark.parametrize("extra", [[], ["data.streaming=true", "trainer.max_steps=2"]])
def test_every_loader_pins_batches_bound_for_a_cuda_gpu_and_none_on_cpu(
    compose_cfg: Any, extra: list[str]
) -> None:
    cfg = compose_cfg(*TINY_FIXTURE_RUN, *extra)
    assert cfg.data.pin_memory == "auto"
    datamodule = build_datamodule(cfg, build_tokenizer(cfg))
    datamodule.trainer = _on("cpu")
    if extra:  # the streamed train split has a loader of its own
        from lab.data.streaming import StreamLoader

        assert isinstance(datamodule.train_dataloader(), StreamLoader)
    assert [loader.pin_memory for loader in _loaders(datamodule)] == [False] * 3
    datamodule.trainer = _on("cuda")  # a DataLoader only pins when it iterates
    assert [loader.pin_memory for loader in _loaders(datamodule)] == [True] * 3
    datamodule.pin_memory = False
    assert [loader.pin_memory for loader in _loaders(datamodule)] == [False] * 3


def test_a_bad_pin_memory_value_is_refused_in_words(compose_cfg: Any) -> None:
    from lab.config.rules import validate_config

    expected = "data.pin_memory='yes': use true, false or auto (true when batches go to a CUDA GPU)"
    assert pin_memory_problem("yes") == expected
    assert pin_memory_problem(1) == (
        "data.pin_memory=1: use true, false or auto (true when batches go to a CUDA GPU)"
    )
    assert pin_memory_problem(None) == (
        "data.pin_memory=null: use true, false or auto (true when batches go to a CUDA GPU)"
    )
    with pytest.raises(ConfigError) as refused:
        validate_config(compose_cfg(*TINY_FIXTURE_RUN, "data.pin_memory=yes"))
    assert expected in str(refused.value)
