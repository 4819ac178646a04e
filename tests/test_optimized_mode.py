"""`optimized_mode` follows a metric changed alone (s32a F-H1), and metric names validation never
logs are refused before anything loads (F-M1): `lab.config.optimized_mode`."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from omegaconf import OmegaConf

from lab.config import compose_train_config
from lab.config.optimized_mode import lower_is_better, optimized_mode
from lab.config.rules import validate_config
from lab.errors import ConfigError


def _compose(tmp_path: Path, *overrides: str) -> Any:
    return compose_train_config(list(overrides), output_dir=tmp_path / "run")


def test_names_of_losses_and_errors_are_lower_is_better() -> None:
    # HF Trainer's rule (a name ending in "loss") plus perplexity and the error metrics.
    for name in ("val/loss", "val/nll_loss", "val/LOSS", "val/perplexity", "val/mse", "val/mae"):
        assert lower_is_better(name), name
    for name in ("val/acc", "val/f1", "val/spearman", "val/rouge1", "val/exact_match", "val/bleu"):
        assert not lower_is_better(name), name


def test_the_task_keeps_its_mode_for_its_own_metric() -> None:
    # A head whose default metric is a loss keeps min; one with an odd name keeps its own.
    assert optimized_mode("val/perplexity", "val/perplexity", "min") == "min"
    assert optimized_mode("val/odd", "val/odd", "min") == "min"
    assert optimized_mode("val/loss", "val/acc", "max") == "min"
    assert optimized_mode("val/f1", "val/acc", "max") == "max"
    assert optimized_mode("val/acc", "val/loss", "min") == "max"
    assert optimized_mode(None, "val/acc", "max") == "max"  # not one metric name: the task's


def test_a_changed_metric_brings_its_mode_to_checkpointing_and_early_stopping(
    tmp_path: Path,
) -> None:
    cfg = _compose(tmp_path)
    assert (cfg.optimized_metric, cfg.optimized_mode) == ("val/acc", "max")
    cfg = _compose(tmp_path, "optimized_metric=val/loss", "callbacks=early_stopping")
    assert cfg.optimized_mode == "min"
    assert cfg.callbacks.model_checkpoint.mode == "min"
    assert (cfg.callbacks.early_stopping.monitor, cfg.callbacks.early_stopping.mode) == (
        "val/loss",
        "min",
    )
    # The record is the resolved config: the mode that was used is written down.
    assert "optimized_mode: min" in OmegaConf.to_yaml(cfg, resolve=True)


def test_an_explicit_mode_still_decides(tmp_path: Path) -> None:
    cfg = _compose(tmp_path, "optimized_metric=val/loss", "optimized_mode=max")
    assert (cfg.optimized_mode, cfg.callbacks.model_checkpoint.mode) == ("max", "max")
    cfg = _compose(tmp_path, "task=text_regression", "data=stsb", "optimized_metric=val/mse")
    assert cfg.optimized_mode == "min"


@pytest.mark.parametrize(
    ("metric", "message"),
    [
        (
            "eval_loss",
            "optimized_metric=eval_loss is never logged by validation (HF Trainer's "
            "eval_<name> is lab's val/<name>): use optimized_metric=val/loss",
        ),
        (
            "acc",
            "optimized_metric=acc is never logged by validation (lab names metrics "
            "<stage>/<name>): use optimized_metric=val/acc",
        ),
        (
            "test/acc",
            "optimized_metric=test/acc is never logged by validation (the best checkpoint is "
            "chosen on validation metrics during training): use optimized_metric=val/acc",
        ),
        (  # HF's name of text classification's val/acc (s32d G1: was val/accuracy)
            "eval_accuracy",
            "optimized_metric=eval_accuracy is never logged by validation (HF Trainer's "
            "eval_<name> is lab's val/<name>): use optimized_metric=val/acc (lab's name of "
            "HF's accuracy)",
        ),
        (
            "eval_rouge1",
            "optimized_metric=eval_rouge1 is never logged by validation (HF Trainer's "
            "eval_<name> is lab's val/<name>): this task's head logs no rouge1; pick one of "
            "its metrics: val/loss, val/acc, val/f1, val/precision, val/recall, val/mcc, "
            "val/f1_positive",
        ),
    ],
)
def test_a_metric_validation_never_logs_is_refused_before_anything_loads(
    tmp_path: Path, metric: str, message: str
) -> None:
    cfg = _compose(tmp_path, f"optimized_metric={metric}", "optimized_mode=min")
    with pytest.raises(ConfigError) as caught:
        validate_config(cfg)
    assert str(caught.value) == message


def test_early_stoppings_missing_metric_is_lab_s_one_line() -> None:
    # With callbacks=early_stopping, EarlyStopping looks before ModelCheckpoint (Lightning
    # runs checkpoint callbacks last) and raises its own RuntimeError: worded as the
    # checkpoint's refusal is.
    from lab.training.fit import unknown_metric_error

    logged = ["val/acc", "val/f1", "val/loss"]
    trainer: Any = SimpleNamespace(
        lightning_module=SimpleNamespace(), callback_metrics=dict.fromkeys(logged, 0.5)
    )
    lightning = RuntimeError(
        "Early stopping conditioned on metric `val/los` which is not available. Pass in or "
        "modify your `EarlyStopping` callback to use any of the following: `val/acc`"
    )
    cfg = OmegaConf.create({"optimized_metric": "val/los"})
    assert str(unknown_metric_error(lightning, cfg, trainer)) == (
        "optimized_metric=val/los is no metric this run's validation logs; it logged: "
        "val/acc, val/f1, val/loss. Did you mean optimized_metric=val/loss? Start the run "
        "again with one of them (no best checkpoint could be chosen)"
    )
    other = RuntimeError("Early stopping conditioned on metric `val/acc` which is not available.")
    assert unknown_metric_error(other, cfg, trainer) is None  # another metric: not ours


def test_a_run_that_maximized_a_loss_is_told_so_where_its_record_is_read(tmp_path: Path) -> None:
    """s32d G3: a run recorded before 2026-12-07 with `optimized_metric=val/loss` alone ran
    with the task's max; lab.reproduce, lab.eval, a refused resume and a refused sweep
    continuation say that its best checkpoint is its worst by that metric, and how to go on."""
    from lab.config.optimized_mode import recorded_direction_note
    from lab.run_dir.resume import differences_message

    old = {"optimized_metric": "val/loss", "optimized_mode": "max"}
    note = recorded_direction_note(old)
    assert note == (
        "this run chose its best checkpoint by the highest val/loss (optimized_mode=max), a "
        "metric for which lower is better: before 2026-12-07 a metric changed alone kept the "
        "task's mode, so its best checkpoint is its worst by that metric (optimized_mode=max "
        "resumes it or continues its sweep as it ran; a new run chooses by the lowest)"
    )
    assert recorded_direction_note(old, "its trials chose their").startswith(  # a sweep's
        "its trials chose their best checkpoint by the highest val/loss"
    )
    for fine in (
        {"optimized_metric": "val/loss", "optimized_mode": "min"},
        {"optimized_metric": "val/acc", "optimized_mode": "max"},
        {"optimized_metric": "val/acc", "optimized_mode": "min"},  # deliberate, not a loss
    ):
        assert recorded_direction_note(fine) is None, fine
    run_dir = tmp_path / "old_run"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(old)))
    refusal = differences_message(
        run_dir, {"overrides": []}, ["  optimized_mode: 'max' -> 'min'"], note=None
    )
    assert f"  optimized_mode: 'max' -> 'min'\n{note}\n" in refusal
    other = differences_message(run_dir, {"overrides": []}, ["  seed: 1 -> 2"], note=None)
    assert "highest val/loss" not in other  # only where the mode is what differs


def test_an_early_stopping_monitor_changed_alone_brings_its_own_mode(tmp_path: Path) -> None:
    """s34k M1: `callbacks.early_stopping.monitor=val/loss` kept val/acc's max, so a rising
    loss counted as improvement and the run never stopped early."""
    cfg = _compose(
        tmp_path, "callbacks=early_stopping", "callbacks.early_stopping.monitor=val/loss"
    )
    stopping, checkpoint = cfg.callbacks.early_stopping, cfg.callbacks.model_checkpoint
    assert (stopping.monitor, stopping.mode) == ("val/loss", "min")
    assert (cfg.optimized_mode, checkpoint.monitor, checkpoint.mode) == ("max", "val/acc", "max")
    # The run's own metric keeps the run's mode, explicit or inferred; an explicit one decides.
    cfg = _compose(tmp_path, "callbacks=early_stopping", "optimized_mode=min")
    assert (cfg.callbacks.early_stopping.mode, cfg.callbacks.model_checkpoint.mode) == (
        "min",
        "min",
    )
    cfg = _compose(
        tmp_path, "callbacks=early_stopping", "callbacks.early_stopping.monitor=val/loss",
        "callbacks.early_stopping.mode=max",
    )  # fmt: skip
    assert cfg.callbacks.early_stopping.mode == "max"
    cfg = _compose(tmp_path, "callbacks.model_checkpoint.monitor=val/loss")
    assert cfg.callbacks.model_checkpoint.mode == "min"


def test_an_early_stopping_monitor_never_logged_is_named_by_its_own_key() -> None:
    """s34k M3: a Lightning traceback (exit 1) after an epoch; now lab's one line naming
    `callbacks.early_stopping.monitor`."""
    from lab.training.fit import unknown_metric_error

    trainer: Any = SimpleNamespace(
        lightning_module=SimpleNamespace(), callback_metrics=dict.fromkeys(["val/acc"], 0.5)
    )
    lightning = RuntimeError(
        "Early stopping conditioned on metric `val/xyz` which is not available. Pass in or "
        "modify your `EarlyStopping` callback to use any of the following: `val/acc`"
    )
    cfg = OmegaConf.create(
        {"optimized_metric": "val/acc", "callbacks": {"early_stopping": {"monitor": "val/xyz"}}}
    )
    assert str(unknown_metric_error(lightning, cfg, trainer)) == (
        "callbacks.early_stopping.monitor=val/xyz is no metric this run's validation logs; it "
        "logged: val/acc. Start the run again with one of them"
    )


def test_patience_0_is_refused_as_lightning_reads_it_as_1(tmp_path: Path) -> None:
    """s34k M2: HF's early_stopping_patience=0 stops after the first evaluation; Lightning's
    patience 0 stops exactly as 1 does."""
    cfg = _compose(tmp_path, "callbacks=early_stopping", "callbacks.early_stopping.patience=0")
    with pytest.raises(ConfigError) as caught:
        validate_config(cfg)
    assert str(caught.value) == (
        "callbacks.early_stopping.patience=0 is out of range; valid: an integer >= 1 "
        "(Lightning stops at 0 as at 1)"
    )
