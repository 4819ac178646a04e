"""The common Lightning limits are keys of lab's trainer config (s31c F7): `trainer.
limit_val_batches=1` works without Hydra's `+`; null (the default) is Lightning's default;
a `+` before one, as older commands and recorded runs wrote it, still composes."""

from __future__ import annotations

from typing import Any

import pytest

from lab.config.added_keys import plus_as_set
from lab.config.cli import normalize_argv

STAGES = ("train", "val", "test", "predict")


def test_the_limits_are_null_by_default_and_set_without_plus(compose_cfg: Any) -> None:
    cfg = compose_cfg()
    assert {s: cfg.trainer[f"limit_{s}_batches"] for s in STAGES} == dict.fromkeys(STAGES)
    cfg = compose_cfg("trainer.limit_val_batches=1", "trainer.limit_test_batches=0.5")
    assert (cfg.trainer.limit_val_batches, cfg.trainer.limit_test_batches) == (1, 0.5)


@pytest.mark.parametrize("given", ["+trainer.limit_val_batches=2", "++trainer.limit_val_batches=2"])
def test_a_plus_before_a_limit_still_composes(compose_cfg: Any, given: str) -> None:
    assert compose_cfg(given).trainer.limit_val_batches == 2


def test_only_the_added_keys_lose_their_plus() -> None:
    assert plus_as_set("+trainer.limit_train_batches=4") == "++trainer.limit_train_batches=4"
    assert normalize_argv(["+trainer.limit_predict_batches=1"]) == [
        "++trainer.limit_predict_batches=1"
    ]
    for same in ("+trainer.overfit_batches=2", "trainer.limit_val_batches=1", "+trainer.x"):
        assert plus_as_set(same) == same


def test_null_limits_are_lightnings_defaults() -> None:
    """lab passes every trainer key to `lightning.pytorch.Trainer`: null there is its own
    default (every batch), as if the key were absent."""
    from lab.training.trainer import build_trainer

    limits = {f"limit_{s}_batches": None for s in STAGES}
    trainer = build_trainer(accelerator="cpu", logger=False, **limits)  # type: ignore[arg-type]
    assert [getattr(trainer, f"limit_{s}_batches") for s in STAGES] == [1.0] * 4
