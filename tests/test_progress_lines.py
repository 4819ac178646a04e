"""Plain progress lines (`lab.training.progress_lines`): one line per validation of a fit, on the
console where it is no terminal (no rich bar drawn there) and in train.log always; above the
live bar in a terminal; a warning when `max_epochs` ends a run before `max_steps`; the limit
that ended a fit (`lab.training.stopping_notes.limit_stop`)."""

from __future__ import annotations

import csv
import io
import logging
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import lightning as L
import pytest
from lightning.pytorch.callbacks import Timer
from lightning.pytorch.demos.boring_classes import BoringModel, RandomDataset
from torch.utils.data import DataLoader

from lab.training import stopping_notes
from lab.training.progress import ProgressBar
from lab.training.progress_lines import interactive_console
from lab.training.stopping_notes import limit_stop

from conftest import TINY_FIXTURE_RUN, lab_command

# The fixture's 56 train rows in batches of 16: 4 steps per epoch.
ELAPSED = r"\d+:\d\d:\d\d"
# Every val/ metric of a two-class run, sorted (`TextClassificationModule`).
VAL_NAMES = (
    "val/acc", "val/f1", "val/f1_positive", "val/loss", "val/mcc", "val/precision", "val/recall",
)  # fmt: skip


def _csv_validations(run_dir: Path) -> list[tuple[str, dict[str, float]]]:
    """Each validation row of the run's CSV log, in order, with the last `train/loss` logged
    before it (as `<value>`, four decimals)."""
    rows = list(csv.DictReader((run_dir / "csv" / "metrics.csv").open()))
    found, loss = [], ""
    for row in rows:
        if row.get("train/loss"):
            loss = f"{float(row['train/loss']):.4f}"
        if row.get("val/acc"):
            found.append((loss, {name: float(row[name]) for name in VAL_NAMES}))
    return found


def _expected(position: str, loss: str, values: dict[str, float]) -> str:
    metrics = " | ".join(f"{name} {values[name]:.4f}" for name in VAL_NAMES)
    return rf"{re.escape(f'{position} | train/loss {loss} | {metrics} | ')}{ELAPSED}"


@pytest.mark.slow
def test_a_run_writing_to_a_file_says_each_validation_and_why_it_stopped(tmp_path: Path) -> None:
    import subprocess

    out = tmp_path / "out.log"
    with out.open("w") as sink:  # stdout and stderr to a file, as under nohup or SLURM
        subprocess.run(
            lab_command("train", *TINY_FIXTURE_RUN, "trainer.max_steps=20", "paths.output_root=o"),
            cwd=tmp_path, stdout=sink, stderr=subprocess.STDOUT, timeout=300, check=True,
        )  # fmt: skip
    console = out.read_text().splitlines()
    run_dir = next((tmp_path / "o" / "runs").glob("*/*"))
    validations = _csv_validations(run_dir)[:2]  # the fit's (not a row logged after it)
    expected = [
        _expected(f"epoch {epoch}/2 | step {4 * epoch}/8", loss, values)
        for epoch, (loss, values) in enumerate(validations, start=1)
    ]
    lines = [line for line in console if line.startswith("epoch ")]
    assert len(lines) == 2, console
    for line, pattern in zip(lines, expected, strict=True):
        assert re.fullmatch(pattern, line), (line, pattern)
    assert (
        "warning: trainer.max_steps=20 will not be reached: trainer.max_epochs=2 stops training "
        "first, at step 8 (4 steps per epoch); set trainer.max_epochs=-1 to train by steps"
    ) in console
    assert (
        "training stopped at trainer.max_epochs=2 (step 8; trainer.max_steps=20 not reached)"
    ) in console
    # No rich bar drawn into the file (Lightning names its bars "Epoch 1/2", "Testing").
    assert not any(re.match(r"Epoch \d|Validation|Testing", line) for line in console)
    logged = [
        line.split("] - ", 1)[-1] for line in (run_dir / "train.log").read_text().splitlines()
    ]
    assert [line for line in logged if line.startswith("epoch ")] == lines
    assert (
        "training stopped at trainer.max_epochs=2 (step 8; trainer.max_steps=20 not reached)"
        in logged
    )


@pytest.mark.slow
def test_a_run_ended_by_max_steps_says_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from lab.config import compose_train_config
    from lab.train import run

    overrides = [*TINY_FIXTURE_RUN, "trainer.max_epochs=5", "trainer.max_steps=6"]
    with caplog.at_level(logging.INFO, logger="lab"):
        run(compose_train_config(overrides, output_dir=tmp_path / "run"))
    said = [r.getMessage() for r in caplog.records if r.name.startswith("lab.")]
    (loss, values), *_ = _csv_validations(tmp_path / "run")
    lines = [line for line in said if line.startswith("epoch ")]
    # Validation runs at an epoch's end: once here, the fit stops in the second epoch (of the
    # 2 that max_steps reaches: not "1/5").
    assert len(lines) == 1
    assert re.fullmatch(_expected("epoch 1/2 | step 4/6", loss, values), lines[0])
    stopped = "training stopped at trainer.max_steps=6 in epoch 2 (trainer.max_epochs=5 not "
    assert f"{stopped}reached)" in said
    assert any(line.startswith("training ran 2 steps after its last validation") for line in said)
    assert not any("will not be reached" in line for line in said)


@pytest.mark.slow
def test_a_streamed_run_s_lines_count_steps(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from lab.config import compose_train_config
    from lab.train import run

    overrides = [
        *TINY_FIXTURE_RUN, "data.streaming=true", "trainer.max_steps=4",
        "trainer.val_check_interval=2",
    ]  # fmt: skip
    with caplog.at_level(logging.INFO, logger="lab"):
        run(compose_train_config(overrides, output_dir=tmp_path / "run"))
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("step ")]
    validations = _csv_validations(tmp_path / "run")[:2]
    assert len(lines) == 2
    for step, (line, (loss, values)) in enumerate(zip(lines, validations, strict=True), 1):
        assert re.fullmatch(_expected(f"step {2 * step}/4", loss, values), line), line
    # One limit (the endless epoch's max_steps), said by the lines: no limit line.
    assert not any(r.getMessage().startswith("training stopped") for r in caplog.records)


class _Logging(BoringModel):  # type: ignore[misc]
    """Logs `train/loss` each step and `val/acc` at each validation, as lab's heads do."""

    def train_dataloader(self) -> DataLoader[Any]:
        return DataLoader(RandomDataset(32, 8), batch_size=2)

    def training_step(self, batch: Any, batch_idx: int) -> Any:
        out = super().training_step(batch, batch_idx)
        self.log("train/loss", out["loss"])
        return out

    def validation_step(self, batch: Any, batch_idx: int) -> Any:
        self.log("val/acc", 0.25)
        return super().validation_step(batch, batch_idx)


def test_in_a_terminal_each_validation_s_line_stays_above_the_live_bar() -> None:
    screen = io.StringIO()
    console = {"file": screen, "force_terminal": True, "force_interactive": True, "width": 100}
    L.Trainer(
        callbacks=[ProgressBar(console_kwargs=console)], logger=False, max_epochs=2,
        enable_checkpointing=False, enable_model_summary=False, limit_val_batches=1,
        accelerator="cpu",
    ).fit(_Logging())  # fmt: skip
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.getvalue())  # terminal codes out
    lines = [line for line in re.split(r"[\r\n]", text) if line.startswith("epoch ")]
    assert len(lines) == 2, text  # printed once each, not redrawn with the bar
    for epoch, line in enumerate(lines, start=1):
        assert re.fullmatch(
            rf"epoch {epoch}/2 \| step {4 * epoch}/8 \| train/loss \d\.\d{{4}} \| "
            rf"val/acc 0\.2500 \| {ELAPSED}",
            line,
        ), text


@pytest.mark.parametrize(
    ("kwargs", "term", "interactive"),
    [
        ({"force_terminal": True}, "xterm-256color", True),  # a terminal, a pty (`script`)
        ({"force_terminal": True}, "dumb", False),  # rich draws no live display there
        ({"file": io.StringIO()}, "xterm-256color", False),  # a file, a pipe
    ],
)
def test_the_bar_is_drawn_only_on_an_interactive_terminal(
    monkeypatch: pytest.MonkeyPatch, kwargs: dict[str, Any], term: str, interactive: bool
) -> None:
    monkeypatch.setenv("TERM", term)
    for name in ("FORCE_COLOR", "TTY_INTERACTIVE", "TTY_COMPATIBLE"):
        monkeypatch.delenv(name, raising=False)
    assert interactive_console(kwargs) is interactive


def _fitted(**fields: Any) -> Any:
    """A stand-in for a fitted Trainer (what `limit_stop` reads)."""
    base = {
        **{"max_steps": -1, "max_epochs": 3, "global_step": 12, "current_epoch": 3},
        **{"callbacks": [], "should_stop": False, "num_training_batches": 4},
        "accumulate_grad_batches": 1,
    }
    return SimpleNamespace(**{**base, **fields})


def test_no_limit_line_where_one_limit_alone_or_an_endless_epoch_ended_the_fit() -> None:
    assert limit_stop(_fitted()) is None
    assert limit_stop(_fitted(max_epochs=-1, max_steps=12)) is None
    assert limit_stop(_fitted(max_steps=12, num_training_batches=float("inf"))) is None


def test_both_limits_reached_at_one_step_are_both_said() -> None:
    """s27d L3: 13 batches an epoch, max_steps=39, max_epochs=3: the last step of epoch 3 is
    both limits, not "max_epochs not reached"."""
    fitted = _fitted(
        max_epochs=3, max_steps=39, num_training_batches=13, current_epoch=3, global_step=39
    )
    assert limit_stop(fitted) == (
        "training stopped at trainer.max_steps=39, the last step of epoch 3: "
        "trainer.max_epochs=3 was reached at the same step"
    )
    fitted.global_step, fitted.max_steps = 30, 30  # mid-epoch 3: max_steps alone
    assert limit_stop(fitted) == (
        "training stopped at trainer.max_steps=30 in epoch 3 (trainer.max_epochs=3 not reached)"
    )


def test_a_fit_ended_by_max_time_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    timer = Timer(duration="00:00:01:30")
    monkeypatch.setattr(timer, "time_remaining", lambda stage: 0.0)
    fitted = _fitted(callbacks=[timer], should_stop=True, current_epoch=2, global_step=7)
    assert (
        limit_stop(fitted) == "training stopped at trainer.max_time=0:01:30 (epoch 2 of 3, step 7)"
    )
    # A schedule laid over more steps than ran is said to have stopped part-way (s24a L2).
    fitted.estimated_stepping_batches, fitted.lr_scheduler_configs = 12, []
    assert limit_stop(fitted) == (  # no schedule (scheduler=none): nothing of one (s24d M2)
        "training stopped at trainer.max_time=0:01:30 (epoch 2 of 3, step 7)"
    )
    fitted.lr_scheduler_configs = [object()]
    assert limit_stop(fitted) == (
        "training stopped at trainer.max_time=0:01:30 (epoch 2 of 3, step 7); the learning-rate "
        "schedule, planned over 12 steps, stopped part-way: fewer trainer.max_epochs / "
        "max_steps fit one to the time"
    )
    record: dict[str, Any] = {}
    monkeypatch.setattr(
        stopping_notes, "history_of", lambda trainer: SimpleNamespace(validations=[])
    )
    monkeypatch.setattr(stopping_notes, "early_stop", lambda trainer, validations: None)
    monkeypatch.setattr(stopping_notes, "unvalidated_tail_note", lambda *args: None)
    monkeypatch.setattr(stopping_notes, "tied_best_note", lambda trainer, validations: None)
    assert stopping_notes.stopping_notes(fitted, record) == [limit_stop(fitted)]
    assert record == {"max_time_stop": {"step": 7, "line": limit_stop(fitted)}}
