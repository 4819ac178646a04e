"""Knobs of a Hugging Face Trainer recipe ported to lab (acceptance s26a: M1, H1, L1).

* `trainer.val_every_n_steps=N` (HF's `eval_steps`) validates after every N-th optimizer
  step of the run, never inside an accumulation group nor at an epoch's end, and resumes
  exactly; it is refused beside another validation interval.
* `callbacks.last_checkpoint.save_top_k=K` (HF's `save_total_limit`, tried there) is a
  one-line refusal naming `callbacks.model_checkpoint.save_top_k`, not a Lightning traceback.
* `scheduler.warmup_steps=0.1` (transformers v5's warmup share) names `scheduler.warmup_ratio`.
"""

from __future__ import annotations

import csv
import inspect
import json
from pathlib import Path
from typing import Any

import pytest

from lab.config.rules import validate_config
from lab.errors import EXIT_INTERRUPTED, ConfigError

from conftest import SENTIMENT, TINY_FIXTURE_RUN, lab_cli

HELPERS = Path(__file__).resolve().parent / "helpers"
FAULT_INJECTION = {"PYTHONPATH": str(HELPERS)}  # `fault_injection.KillAtStep` (tests/helpers)

# 56 train rows in batches of 12: 5 batches an epoch (the last of 8 rows), accumulated in
# twos: 3 optimizer steps an epoch (the last of one batch). Epochs end at steps 3, 6 (and 9);
# with validation every 2 steps, at 2, 4, 6 and 8 (step 6 is also an epoch's end, step 3 is
# one without a validation). Every validated checkpoint is kept: its name gives the step.
EVERY_TWO_STEPS = [
    *TINY_FIXTURE_RUN,
    "data.batch_size=12",
    "trainer.max_epochs=-1",
    "trainer.max_steps=8",
    "trainer.accumulate_grad_batches=2",
    "trainer.val_every_n_steps=2",
    "callbacks.model_checkpoint.save_top_k=-1",
    "callbacks.last_checkpoint.every_n_train_steps=2",
    "+callbacks.fault={_target_: fault_injection.KillAtStep}",
    "paths.output_root=out",
]


def _only_run(root: Path) -> Path:
    (run_dir,) = root.glob("runs/*/*")
    return run_dir


def _validated_steps(run_dir: Path) -> list[int]:
    names = (run_dir / "checkpoints").glob("best-*.ckpt")
    return sorted(int(path.stem.rsplit("step", 1)[1]) for path in names)


def _validation_rows(run_dir: Path) -> list[dict[str, str]]:
    with (run_dir / "csv" / "metrics.csv").open() as handle:
        return [row for row in csv.DictReader(handle) if row.get("val/loss")]


def _train_losses(run_dir: Path) -> list[tuple[str, str]]:
    with (run_dir / "csv" / "metrics.csv").open() as handle:
        rows = csv.DictReader(handle)
        return [(r["step"], r["train/loss"]) for r in rows if r.get("train/loss")]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cwd = tmp_path_factory.mktemp("uninterrupted")
    result = lab_cli("train", *EVERY_TWO_STEPS, cwd=cwd, env=FAULT_INJECTION)
    assert result.returncode == 0, result.stderr[-3000:]
    return _only_run(cwd / "out")


# ----------------------------------------------------------------------------- validation
@pytest.mark.slow
def test_validates_after_every_second_optimizer_step_across_epochs(uninterrupted: Path) -> None:
    assert _validated_steps(uninterrupted) == [2, 4, 6, 8]
    # Four validations, no more: none at step 3 (epoch 1's end), none mid-group. The CSV log
    # writes a validation under the step count before it (Lightning's logger step).
    rows = _validation_rows(uninterrupted)
    assert [(int(r["epoch"]), int(r["step"])) for r in rows] == [(0, 1), (1, 3), (1, 5), (2, 7)]
    record = json.loads((uninterrupted / "record.json").read_text())
    assert record["status"] == "finished"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("signal_name", "step"),
    [
        ("SIGKILL", 5),
        ("SIGTERM", 5),
        ("SIGTERM", 4),  # its checkpoint once made every later CSV row one step high
    ],
)
def test_a_run_stopped_mid_way_resumes_to_the_same_validations(
    uninterrupted: Path, tmp_path: Path, signal_name: str, step: int
) -> None:
    """SIGKILL after step 5: the resume starts from step 4's last.ckpt, written after step
    4's validation (which must not run again). SIGTERM on step 5 (inside epoch 1, no
    validation): from that step. SIGTERM on step 4: the stop comes after that step's
    validation, and the checkpoint holds it."""
    kill = {"LAB_TEST_KILL_AT_STEP": str(step), "LAB_TEST_KILL_SIGNAL": signal_name}
    first = lab_cli("train", *EVERY_TWO_STEPS, cwd=tmp_path, env={**FAULT_INJECTION, **kill})
    expected = -9 if signal_name == "SIGKILL" else EXIT_INTERRUPTED
    assert first.returncode == expected, first.stderr[-3000:]
    resumed = lab_cli("train", *EVERY_TWO_STEPS, "resume=auto", cwd=tmp_path, env=FAULT_INJECTION)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    run_dir = _only_run(tmp_path / "out")
    record = json.loads((run_dir / "record.json").read_text())
    assert [r["from_step"] for r in record["resumes"]] == [4 if signal_name == "SIGKILL" else step]
    assert _validated_steps(run_dir) == [2, 4, 6, 8]
    assert _validation_rows(run_dir) == _validation_rows(uninterrupted)
    assert _train_losses(run_dir) == _train_losses(uninterrupted)
    assert (run_dir / "metrics.json").read_text() == (uninterrupted / "metrics.json").read_text()


@pytest.mark.slow
def test_a_streamed_split_validates_every_n_steps_and_says_what_went_unvalidated(
    tmp_path: Path,
) -> None:
    args = [*TINY_FIXTURE_RUN, "data.streaming=true", "trainer.max_steps=8",
            "trainer.accumulate_grad_batches=2", "trainer.val_every_n_steps=3",
            "callbacks.model_checkpoint.save_top_k=-1", "paths.output_root=out"]  # fmt: skip
    result = lab_cli("train", *args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = _only_run(tmp_path / "out")
    assert _validated_steps(run_dir) == [3, 6]
    assert (
        "training ran 2 steps after its last validation (step 6 of 8): those weights were never "
        "validated, so the tested and exported weights are the best validated ones; to "
        "validate at the end, let a validation fall on the last step (trainer.max_steps, "
        "trainer.val_every_n_steps)"
    ) in result.stdout


def test_the_rule_counts_optimizer_steps_and_leaves_lightning_s_rule_after_the_fit() -> None:
    """The rule in isolation, on a stand-in trainer: a multiple of N validates only on the
    micro-batch that stepped; a stop requested mid-group validates (Lightning's rule)."""
    from types import SimpleNamespace

    from lightning.pytorch.loops.training_epoch_loop import _TrainingEpochLoop

    from lab.training.validation_steps import ValidateEveryNSteps

    stepping = {"now": True}
    epoch_loop = SimpleNamespace(_should_accumulate=lambda: not stepping["now"])
    fit_loop = SimpleNamespace(epoch_loop=epoch_loop, _can_stop_early=True)
    trainer: Any = SimpleNamespace(
        fit_loop=fit_loop, enable_validation=True, should_stop=False, global_step=0
    )
    callback = ValidateEveryNSteps(4)
    callback.setup(trainer, None, "fit")  # type: ignore[arg-type]
    rule = epoch_loop._should_check_val_fx

    def answers(steps: range) -> list[int]:
        found = []
        for step in steps:
            trainer.global_step = step
            for stepped in (False, True):  # a group of two micro-batches
                stepping["now"] = stepped
                if rule(None):
                    found.append(step)
        return found

    assert answers(range(0, 13)) == [4, 8, 12]
    trainer.should_stop = True
    trainer.global_step, stepping["now"] = 5, False
    assert rule(None)
    fit_loop._can_stop_early = False
    assert not rule(None)
    callback.teardown(trainer, None, "fit")  # type: ignore[arg-type]
    assert not hasattr(epoch_loop, "_should_check_val_fx")
    # The names the rule stands in for and reads are Lightning's (the compat module's reach).
    assert list(inspect.signature(_TrainingEpochLoop._should_check_val_fx).parameters) == [
        "self",
        "data_fetcher",
    ]


def test_lightning_s_fit_loop_has_what_the_rule_reaches() -> None:
    import lightning as L

    from lab.compat.lightning import (
        accumulating,
        can_stop_early,
        replace_validation_rule,
        restore_validation_rule,
    )

    trainer = L.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False)
    assert can_stop_early(trainer) is True
    assert accumulating(trainer) is False
    replace_validation_rule(trainer, lambda: True)
    assert trainer.fit_loop.epoch_loop._should_check_val_fx(None) is True
    restore_validation_rule(trainer)
    assert "_should_check_val_fx" not in vars(trainer.fit_loop.epoch_loop)
    assert callable(trainer.fit_loop.epoch_loop._should_check_val_fx)


def test_build_trainer_hands_lightning_an_interval_across_epochs() -> None:
    from lab.training.trainer import build_trainer
    from lab.training.validation_steps import ValidateEveryNSteps

    trainer = build_trainer(
        val_every_n_steps=5, accumulate_grad_batches=2, logger=False, enable_progress_bar=False
    )
    assert trainer.check_val_every_n_epoch is None
    assert trainer.val_check_interval == 10  # batches: only Lightning's bookkeeping reads it
    # So early stopping (and the best checkpoint) act at each validation's end, not only at
    # the epoch's, where they would read the epoch's last validation alone.
    from lightning.pytorch.callbacks import EarlyStopping

    stopper = EarlyStopping(monitor="val/loss")
    stopper.setup(trainer, None, "fit")  # type: ignore[arg-type]
    assert stopper._check_on_train_epoch_end is False
    (callback,) = [c for c in trainer.callbacks if isinstance(c, ValidateEveryNSteps)]
    assert callback.every == 5
    with pytest.raises(ConfigError, match="both say when to validate"):
        build_trainer(val_every_n_steps=5, val_check_interval=0.5, logger=False)
    plain = build_trainer(logger=False, enable_progress_bar=False)
    assert plain.check_val_every_n_epoch == 1
    assert not any(isinstance(c, ValidateEveryNSteps) for c in plain.callbacks)


# ----------------------------------------------------------------------------- refusals
VALIDATION_CONFLICT = (
    "trainer.val_every_n_steps=4 and trainer.val_check_interval={} both say when to "
    "validate: val_every_n_steps counts optimizer steps across the run (HF's eval_steps), "
    "val_check_interval counts batches; keep one (val_check_interval=1.0 is its default)"
)
LAST_CHECKPOINT = (
    "callbacks.last_checkpoint.save_top_k={}: callbacks.last_checkpoint keeps one file, "
    "last.ckpt (the resume point, rewritten every "
    "callbacks.last_checkpoint.every_n_train_steps steps and at the end), so its save_top_k "
    "must stay 0; to keep several checkpoints, callbacks.model_checkpoint.save_top_k=K keeps "
    "the K best by optimized_metric (-1: every validated one)"
)
REFUSALS = [
    pytest.param(
        ["trainer.val_every_n_steps=4", "trainer.val_check_interval=5"],
        VALIDATION_CONFLICT.format(5),
        id="beside-an-interval-in-batches",
    ),
    pytest.param(
        ["trainer.val_every_n_steps=4", "trainer.val_check_interval=0.5"],
        VALIDATION_CONFLICT.format(0.5),
        id="beside-an-epoch-share",
    ),
    pytest.param(
        ["trainer.val_every_n_steps=4", "+trainer.check_val_every_n_epoch=null"],
        "trainer.val_every_n_steps=4 validates every 4 optimizer steps, counted across epochs, "
        "and at no epoch's end; remove trainer.check_val_every_n_epoch=null",
        id="beside-check-val-every-n-epoch",
    ),
    pytest.param(
        ["trainer.val_every_n_steps=40", "trainer.max_steps=20"],
        "trainer.val_every_n_steps=40 is more than trainer.max_steps=20: the run would never "
        "validate (and keep no best checkpoint); give at most 20",
        id="never-reached",
    ),
    pytest.param(
        ["trainer.val_every_n_steps=0"],
        "trainer.val_every_n_steps=0 is out of range; valid: null or an integer >= 1 "
        "(optimizer steps; null: off)",
        id="zero",
    ),
    pytest.param(
        ["callbacks.last_checkpoint.save_top_k=3"], LAST_CHECKPOINT.format(3), id="keep-three"
    ),
    pytest.param(
        ["callbacks.last_checkpoint.save_top_k=-1"], LAST_CHECKPOINT.format(-1), id="keep-all"
    ),
    pytest.param(
        ["scheduler.warmup_steps=0.1"],
        "scheduler.warmup_steps=0.1 is not an integer; valid: an integer >= 0; a share of the "
        "run's steps is scheduler.warmup_ratio=0.1",
        id="warmup-share",
    ),
]


@pytest.mark.parametrize(("overrides", "message"), REFUSALS)
def test_refused_by_the_config_rules(compose_cfg: Any, overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        validate_config(compose_cfg("model=tiny_bert", "data=demo", *overrides))
    assert str(caught.value) == message


@pytest.mark.parametrize(
    "overrides",
    [
        ["scheduler.warmup_steps=1.5"],  # not a share: the range's words alone
        ["scheduler.warmup_steps=-0.5"],
    ],
)
def test_other_warmup_values_get_the_range_s_words_alone(
    compose_cfg: Any, overrides: list[str]
) -> None:
    with pytest.raises(ConfigError) as caught:
        validate_config(compose_cfg("model=tiny_bert", "data=demo", *overrides))
    assert "warmup_ratio" not in str(caught.value)
    assert str(caught.value).endswith("valid: an integer >= 0")


@pytest.mark.parametrize(
    "overrides",
    [
        ["trainer.val_every_n_steps=4"],
        ["trainer.val_every_n_steps=4", "trainer.val_check_interval=1.0"],
        ["trainer.val_every_n_steps=20", "trainer.max_steps=20"],
        ["trainer.val_every_n_steps=4", "data.streaming=true", "trainer.max_steps=20"],
        ["callbacks.last_checkpoint.save_top_k=0"],
    ],
)
def test_fitting_configs_pass(compose_cfg: Any, overrides: list[str]) -> None:
    validate_config(compose_cfg("model=tiny_bert", "data=demo", *overrides))


def test_both_tools_refuse_a_kept_last_checkpoint_count_in_one_line(tmp_path: Path) -> None:
    """H1: it was a Hydra instantiation traceback (exit 1) once the callbacks were built."""
    args = ["model=tiny_bert", "data=csv", f"data.path={SENTIMENT}", "data.text_column=review",
            "data.label_column=sentiment", "callbacks.last_checkpoint.save_top_k=3"]  # fmt: skip
    validated = lab_cli("validate", *args, cwd=tmp_path)
    trained = lab_cli("train", *args, "logger=csv", "paths.output_root=out", cwd=tmp_path)
    assert (validated.returncode, trained.returncode) == (2, 2), trained.stderr[-3000:]
    line = f"error: {LAST_CHECKPOINT.format(3)}"
    assert validated.stderr.strip() == line
    assert trained.stderr.strip().splitlines()[-1] == line
    assert "Traceback" not in trained.stderr
    (run_dir,) = (tmp_path / "out" / "runs").glob("*/*")
    assert not (run_dir / "checkpoints").exists()
