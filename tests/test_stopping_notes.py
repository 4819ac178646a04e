"""After the fit, lab says when early stopping ended training and when later validations
tied the best checkpoint's value (`lab.training.stopping_notes`).

Unit tests on stand-in trainers with Lightning's own callbacks in the states a fit leaves them
in; one tiny real run (slow) checks the lines and the record entry end to end.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.callbacks.early_stopping import EarlyStoppingReason

from lab.training.stopping_notes import stopping_notes
from lab.training.validation_metrics import Validation, ValidationHistory

from conftest import TINY_FIXTURE_RUN

# The accepted run of finding F4/F5: val/acc 0.516 then 1.0 four times, patience 3 of 20 epochs.
PLATEAU = [0.516, 1.0, 1.0, 1.0, 1.0]


def history(values: list[float], *, per_epoch: bool = True) -> ValidationHistory:
    """A history of `val/acc` validations: one per epoch, or every 100 steps in one epoch."""
    recorder = ValidationHistory()
    recorder.validations = [
        Validation(
            i if per_epoch else 0, 4 * (i + 1) if per_epoch else 100 * (i + 1), {"val/acc": v}
        )
        for i, v in enumerate(values)
    ]
    return recorder


def stopper(
    reason: EarlyStoppingReason, *, best: float, epoch: int, **kwargs: Any
) -> EarlyStopping:
    """Lightning's EarlyStopping on val/acc as a fit that it stopped leaves it."""
    callback = EarlyStopping(monitor="val/acc", mode="max", **{"patience": 3, **kwargs})
    callback.stopping_reason = reason
    callback.wait_count = callback.patience
    callback.best_score = torch.tensor(best)
    callback.stopped_epoch = epoch
    return callback


def best_checkpoint(tmp_path: Path, score: float, step: int | None = None) -> ModelCheckpoint:
    """Lightning's ModelCheckpoint on val/acc holding a best checkpoint (written at `step`;
    a path that cannot be read when None)."""
    callback = ModelCheckpoint(dirpath=tmp_path, monitor="val/acc", mode="max")
    path = tmp_path / "best.ckpt"
    if step is not None:
        torch.save({"global_step": step}, path)
    callback.best_model_path = str(path)
    callback.best_model_score = torch.tensor(score)
    return callback


def trainer(*callbacks: Any, should_stop: bool = True, **kwargs: Any) -> Any:
    """A stand-in for the fitted Trainer (what `stopping_notes` reads)."""
    fields = {"global_step": 20, "max_epochs": 20, "max_steps": -1, "callback_metrics": {}}
    # Read by `limit_stop` and by the totals the positions count against (`total_steps`).
    fields.update(current_epoch=5, num_training_batches=4, accumulate_grad_batches=1)
    recorded = [c for c in callbacks if isinstance(c, ValidationHistory) and c.validations]
    if recorded:  # the fit ended on its last validation, unless a test says otherwise
        fields["global_step"] = recorded[0].validations[-1].step
    return SimpleNamespace(
        callbacks=list(callbacks),
        checkpoint_callbacks=[c for c in callbacks if isinstance(c, ModelCheckpoint)],
        should_stop=should_stop,
        **{**fields, **kwargs},
    )


def test_an_early_stop_on_a_plateau_is_said_and_recorded(tmp_path: Path) -> None:
    stop = stopper(EarlyStoppingReason.PATIENCE_EXHAUSTED, best=1.0, epoch=4)
    fitted = trainer(stop, best_checkpoint(tmp_path, 1.0, step=8), history(PLATEAU))
    record: dict[str, Any] = {}
    assert stopping_notes(fitted, record) == [
        "early stopping: val/acc did not improve for 3 validations in a row (patience 3; best "
        "1.0000 at epoch 2/20); training stopped after epoch 5/20",
        "best val/acc 1.0000 first reached at epoch 2/20; 3 later validations tied it: the "
        "tested weights are the first (a checkpoint is kept only when val/acc strictly improves)",
    ]
    assert record == {
        "early_stopping": {
            "monitor": "val/acc",
            "reason": "patience_exhausted",
            "best": 1.0,
            "patience": 3,
            "min_delta": 0.0,
            "stopped_after_epoch": 5,
            "stopped_at_step": 20,
            "max_epochs": 20,
            "max_steps": -1,
        }
    }


def test_with_final_weights_last_the_lines_speak_of_the_last_weights(tmp_path: Path) -> None:
    """s27c M1/M2: under `final_weights=last` the tested weights are not the best checkpoint's:
    the early stop says which are exported, the tie line (of the best checkpoint) is left out,
    and a tail after the last validation is said to be what is tested."""
    stop = stopper(EarlyStoppingReason.PATIENCE_EXHAUSTED, best=1.0, epoch=4)
    fitted = trainer(stop, best_checkpoint(tmp_path, 1.0, step=8), history(PLATEAU))
    assert stopping_notes(fitted, {}, final_last=True) == [
        "early stopping: val/acc did not improve for 3 validations in a row (patience 3; best "
        "1.0000 at epoch 2/20); training stopped after epoch 5/20; final_weights=last: the "
        "tested and exported weights are those it stopped with (step 20), not the best it names",
    ]
    tail = trainer(
        best_checkpoint(tmp_path, 0.9, step=12),
        history([0.5, 0.7, 0.9]),
        should_stop=False,
        global_step=15,
    )
    assert stopping_notes(tail, {}, final_last=True) == [
        "training ran 3 steps after its last validation (step 12 of 15): with final_weights=last "
        "those weights are the ones tested and exported, validated once after training; to "
        "validate them during it, let a validation fall on the last step (trainer.max_steps, "
        "trainer.val_check_interval, trainer.check_val_every_n_epoch)"
    ]


def test_nothing_is_said_when_training_ran_its_course_and_improved(tmp_path: Path) -> None:
    idle = EarlyStopping(monitor="val/acc", mode="max", patience=3)
    fitted = trainer(
        idle, best_checkpoint(tmp_path, 0.9, step=12), history([0.5, 0.7, 0.9]), should_stop=False
    )
    record: dict[str, Any] = {}
    assert stopping_notes(fitted, record) == []
    assert record == {}


def test_a_stop_that_lightning_overruled_is_not_reported(tmp_path: Path) -> None:
    # Signalled before trainer.min_epochs: Lightning trained on to max_epochs.
    stop = stopper(EarlyStoppingReason.PATIENCE_EXHAUSTED, best=0.9, epoch=1)
    fitted = trainer(stop, history([0.9, 0.8, 0.85]), should_stop=False)
    record: dict[str, Any] = {}
    assert stopping_notes(fitted, record) == []
    assert record == {}


def test_a_streamed_run_names_steps_and_min_delta(tmp_path: Path) -> None:
    stop = stopper(
        EarlyStoppingReason.PATIENCE_EXHAUSTED, best=1.0, epoch=0, patience=2, min_delta=0.01
    )
    fitted = trainer(
        stop,
        best_checkpoint(tmp_path, 1.0, step=100),
        history([1.0, 1.0, 1.0], per_epoch=False),
        global_step=300,
        max_steps=1000,
        num_training_batches=math.inf,  # one endless epoch
    )
    assert stopping_notes(fitted, {}) == [
        "early stopping: val/acc did not improve by more than min_delta=0.01 for 2 validations "
        "in a row (patience 2; best 1.0000 at step 100/1000); training stopped after step "
        "300/1000",
        "best val/acc 1.0000 first reached at step 100/1000; 2 later validations tied it: the "
        "tested weights are the first (a checkpoint is kept only when val/acc strictly improves)",
    ]


@pytest.mark.parametrize(
    ("reason", "kwargs", "current", "what"),
    [
        (
            EarlyStoppingReason.STOPPING_THRESHOLD,
            {"stopping_threshold": 0.95},
            0.96875,
            "val/acc = 0.9688 reached stopping_threshold=0.95",
        ),
        (
            EarlyStoppingReason.DIVERGENCE_THRESHOLD,
            {"divergence_threshold": 0.1},
            0.0625,
            "val/acc = 0.0625 passed divergence_threshold=0.1",
        ),
        (
            EarlyStoppingReason.NON_FINITE_METRIC,
            {},
            float("nan"),
            "val/acc = nan is not finite (best 0.5000)",
        ),
    ],
)
def test_the_other_stopping_reasons_are_named(
    reason: EarlyStoppingReason, kwargs: dict[str, Any], current: float, what: str
) -> None:
    stop = stopper(reason, best=0.5, epoch=2, **kwargs)
    metrics = {"val/acc": torch.tensor(current)}
    record: dict[str, Any] = {}
    notes = stopping_notes(trainer(stop, callback_metrics=metrics, global_step=12), record)
    assert notes == [f"early stopping: {what}; training stopped after epoch 3/20"]
    assert record["early_stopping"]["reason"] == reason.name.lower()


def test_a_never_improved_best_is_recorded_as_null() -> None:
    # A first validation already NaN: EarlyStopping's best is still -inf (not JSON).
    stop = stopper(EarlyStoppingReason.NON_FINITE_METRIC, best=float("-inf"), epoch=0)
    record: dict[str, Any] = {}
    notes = stopping_notes(
        trainer(stop, callback_metrics={"val/acc": torch.tensor(float("nan"))}), record
    )
    assert notes == [
        "early stopping: val/acc = nan is not finite; training stopped after epoch 1/20"
    ]
    assert record["early_stopping"]["best"] is None


def test_no_tie_is_claimed_when_the_best_checkpoint_is_not_the_first_tied(tmp_path: Path) -> None:
    # A resume from a checkpoint without the history: the tie the history shows may not
    # be where the best value was first reached.
    fitted = trainer(best_checkpoint(tmp_path, 1.0, step=4), history([0.5, 1.0, 1.0]))
    assert stopping_notes(fitted, {}) == []


def test_one_later_tie_is_singular(tmp_path: Path) -> None:
    fitted = trainer(best_checkpoint(tmp_path, 1.0), history([0.5, 1.0, 1.0]), max_epochs=3)
    assert stopping_notes(fitted, {}) == [
        "best val/acc 1.0000 first reached at epoch 2/3; 1 later validation tied it: the "
        "tested weights are the first (a checkpoint is kept only when val/acc strictly improves)"
    ]


def test_a_step_counts_against_the_total_the_progress_lines_give(tmp_path: Path) -> None:
    # max_epochs=3 of 50 steps stops the fit at step 150, before max_steps=200: the progress
    # lines say `step 20/150`, and so does the note (it said `/200`).
    recorder = ValidationHistory()
    recorder.validations = [Validation(0, step, {"val/acc": 0.5}) for step in (20, 40, 60)]
    fitted = trainer(
        best_checkpoint(tmp_path, 0.5, step=20),
        recorder,
        max_epochs=3,
        max_steps=200,
        num_training_batches=50,
    )
    assert stopping_notes(fitted, {})[-1].startswith(
        "best val/acc 0.5000 first reached at step 20/150; 2 later validations tied it"
    )


def test_the_history_records_each_validation_and_its_monitors_survive_a_checkpoint(
    tmp_path: Path,
) -> None:
    recorder = ValidationHistory()
    monitored = [EarlyStopping(monitor="val/loss"), ModelCheckpoint(monitor="val/acc"), recorder]
    metrics = {
        "val/acc": torch.tensor(0.75),
        "val/loss": torch.tensor(0.5),
        "val/f1": torch.tensor(0.6),
    }
    logged = {**metrics, "train/loss": torch.tensor(0.9), "epoch": torch.tensor(1.0)}
    fitting = SimpleNamespace(
        state=SimpleNamespace(fn="fit"),
        callbacks=monitored,
        callback_metrics=metrics,
        logged_metrics=logged,
    )
    for sanity, epoch, step in ((True, 0, 0), (False, 0, 4), (False, 1, 8)):
        fitting.sanity_checking, fitting.current_epoch, fitting.global_step = sanity, epoch, step
        recorder.on_validation_end(fitting, None)  # type: ignore[arg-type]
    val_logged = {"val/acc": 0.75, "val/loss": 0.5, "val/f1": pytest.approx(0.6)}
    assert recorder.validations == [
        Validation(0, 4, {"val/acc": 0.75, "val/loss": 0.5}, val_logged),
        Validation(1, 8, {"val/acc": 0.75, "val/loss": 0.5}, val_logged),
    ]
    assert recorder.logged_at(8) == val_logged
    assert recorder.logged_at(5) is None  # no validation at step 5
    # Into a checkpoint and back, as a resumed run loads it (weights only): the monitored
    # values come back; the logged metrics are not trusted across processes (None), so the
    # best checkpoint of a resumed run is validated again.
    torch.save({"state": recorder.state_dict()}, tmp_path / "state.pt")
    resumed = ValidationHistory()
    resumed.load_state_dict(torch.load(tmp_path / "state.pt", weights_only=True)["state"])
    assert resumed.validations == [
        Validation(0, 4, {"val/acc": 0.75, "val/loss": 0.5}),
        Validation(1, 8, {"val/acc": 0.75, "val/loss": 0.5}),
    ]
    assert resumed.logged_at(8) is None


@pytest.mark.slow
def test_a_real_early_stop_is_logged_and_recorded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from lab.config import compose_train_config
    from lab.train import run

    # A learning rate too small to change any prediction: val/acc is the same every epoch,
    # so the first validation is the best, the second ties it and patience 1 stops there.
    overrides = [
        *TINY_FIXTURE_RUN,
        "callbacks=early_stopping",
        "callbacks.early_stopping.patience=1",
        "trainer.max_epochs=5",
        "optimizer.lr=1e-12",
    ]
    with caplog.at_level(logging.INFO, logger="lab.training.fit"):
        run(compose_train_config(overrides, output_dir=tmp_path / "run"))
    lines = [r.getMessage() for r in caplog.records if r.name == "lab.training.fit"]
    record = json.loads((tmp_path / "run" / "record.json").read_text())
    stopped = record["early_stopping"]
    assert (stopped["stopped_after_epoch"], stopped["max_epochs"]) == (2, 5)
    best = f"{stopped['best']:.4f}"
    assert (
        f"early stopping: val/acc did not improve for 1 validation in a row (patience 1; best "
        f"{best} at epoch 1/5); training stopped after epoch 2/5"
    ) in lines
    assert (
        f"best val/acc {best} first reached at epoch 1/5; 1 later validation tied it: the tested "
        "weights are the first (a checkpoint is kept only when val/acc strictly improves)"
    ) in lines


def test_divergence_lists_the_non_finite_losses() -> None:
    from lab.training.stopping_notes import divergence, divergence_note, last_train_loss

    trainer: Any = SimpleNamespace(callback_metrics={"train/loss": torch.tensor(float("nan"))})
    metrics = {"val/acc": 0.5, "val/loss": float("inf"), "test/loss": 0.7}
    found = divergence(metrics, last_train_loss(trainer))
    assert list(found) == ["train/loss", "val/loss"]  # test/loss is finite; val/acc no loss
    assert math.isnan(found["train/loss"]) and found["val/loss"] == float("inf")
    assert divergence_note(found) == (
        "training diverged (train/loss=nan, val/loss=inf): the metrics are those of diverged "
        "weights; lower optimizer.lr or lengthen the warmup (scheduler.warmup_ratio)"
    )
    healthy: Any = SimpleNamespace(callback_metrics={"train/loss": torch.tensor(0.3)})
    assert divergence({"val/loss": 0.5, "test/loss": 0.6}, last_train_loss(healthy)) == {}


@pytest.mark.slow
def test_a_diverged_run_is_said_and_recorded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """lr 1e30: the losses are NaN while val/acc stays a finite number (argmax of NaN
    logits): the run says it diverged and record.json keeps which losses."""
    from lab.config import compose_train_config
    from lab.train import run

    overrides = [*TINY_FIXTURE_RUN, "trainer.max_epochs=1", "optimizer.lr=1e30"]
    with caplog.at_level(logging.WARNING, logger="lab.training.fit"):
        metrics = run(compose_train_config(overrides, output_dir=tmp_path / "run"))
    assert math.isnan(metrics["val/loss"]) and math.isfinite(metrics["val/acc"])
    record = json.loads((tmp_path / "run" / "record.json").read_text())
    assert set(record["diverged"]) == {"train/loss", "val/loss", "test/loss"}
    assert record["status"] == "finished"
    warned = [r.getMessage() for r in caplog.records if r.name == "lab.training.fit"]
    assert any(w.startswith("training diverged (train/loss=nan, val/loss=nan") for w in warned)


def test_steps_trained_after_the_last_validation_are_said(tmp_path: Path) -> None:
    """`trainer.max_steps=75` at 50 steps an epoch: steps 51-75 were never validated, and the
    tested and exported weights are step 50's (the README's train-by-steps recipe did this
    without a word)."""
    checkpoint, validated = best_checkpoint(tmp_path, 0.9, step=50), history([0.9])
    validated.validations = [Validation(0, 50, {"val/acc": 0.9})]
    fitted = trainer(checkpoint, validated, should_stop=False, global_step=75)
    assert stopping_notes(fitted, {}) == [
        "training ran 25 steps after its last validation (step 50 of 75): those weights were "
        "never validated, so the tested and exported weights are the best validated ones; to "
        "validate at the end, let a validation fall on the last step (trainer.max_steps, "
        "trainer.val_check_interval, trainer.check_val_every_n_epoch)"
    ]
    assert stopping_notes(trainer(checkpoint, validated, should_stop=False), {}) == []
