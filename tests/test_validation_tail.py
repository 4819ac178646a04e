"""A `trainer.val_every_n_steps` run whose last step is no multiple of N is warned about before
it trains (s32a F-M3): HF Trainer also evaluates at the final step, lab does not, so the last
steps' weights are never validated. `lab.validate` says it from the config (a warning, exit 0),
training's start from the run's exact last step."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from lab.config.validation_tail import config_tail_warning, tail_warning
from lab.training.progress_lines import unvalidated_tail_warning
from lab.training.validation_steps import ValidateEveryNSteps

THIRTY = (
    "the last 2 steps (after step 28 of 30) are never validated: trainer.max_steps=30 is no "
    "multiple of trainer.val_every_n_steps=4 (HF's Trainer would also evaluate at step 30); to "
    "validate the final weights make trainer.max_steps a multiple of 4 (28 or 32)"
)


def test_the_line() -> None:
    assert tail_warning(4, 30, "trainer.max_steps=30") == THIRTY
    assert tail_warning(4, 29, "trainer.max_steps=29") == (
        "the last step (after step 28 of 29) is never validated: trainer.max_steps=29 is no "
        "multiple of trainer.val_every_n_steps=4 (HF's Trainer would also evaluate at step 29); "
        "to validate the final weights make trainer.max_steps a multiple of 4 (28 or 32)"
    )
    assert tail_warning(4, 28, "trainer.max_steps=28") is None  # validated at the end
    assert tail_warning(4, 3, "trainer.max_steps=3") is None  # no validation at all: not this


def test_from_the_config(compose_cfg: Any) -> None:
    steps = ("trainer.max_steps=30", "trainer.val_every_n_steps=4")
    assert config_tail_warning(compose_cfg(*steps, "trainer.max_epochs=-1")) == THIRTY
    assert config_tail_warning(compose_cfg(*steps)) == (
        f"{THIRTY} (unless trainer.max_epochs=3 ends training first)"
    )
    assert config_tail_warning(compose_cfg("trainer.max_steps=28", steps[1])) is None
    assert config_tail_warning(compose_cfg(steps[0])) is None  # validation by epochs


def test_lab_validate_warns_and_passes(capsys: pytest.CaptureFixture[str]) -> None:
    from lab.validate import main

    given = ["model=tiny_bert", "trainer.max_steps=30", "trainer.val_every_n_steps=4"]
    assert main([*given, "trainer.max_epochs=-1"]) == 0
    captured = capsys.readouterr()
    assert captured.err == f"warning: {THIRTY}\n"
    assert captured.out.endswith("config ok: no rule broken (no data or weights were loaded)\n")


def _trainer(**fields: Any) -> Any:
    base = {
        "callbacks": [ValidateEveryNSteps(4)],
        "num_training_batches": 10,
        "accumulate_grad_batches": 1,
        "max_steps": 30,
        "max_epochs": -1,
    }
    return SimpleNamespace(**{**base, **fields})


def test_at_training_start_from_the_runs_last_step() -> None:
    assert unvalidated_tail_warning(_trainer()) == THIRTY
    # max_epochs ends it first: 3 epochs of 5 steps (10 batches, accumulation 2) = step 15
    assert unvalidated_tail_warning(_trainer(max_epochs=3, accumulate_grad_batches=2)) == (
        "the last 3 steps (after step 12 of 15) are never validated: step 15, where "
        "trainer.max_epochs=3 ends training, is no multiple of trainer.val_every_n_steps=4 "
        "(HF's Trainer would also evaluate at step 15); to validate the final weights make "
        "trainer.max_steps a multiple of 4 (12 or 16)"
    )
    assert unvalidated_tail_warning(_trainer(max_steps=28)) is None
    assert unvalidated_tail_warning(_trainer(callbacks=[])) is None  # by epochs: not this
