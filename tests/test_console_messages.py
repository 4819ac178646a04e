"""lab's printed lines and warnings: paths and commands on one line, notes where they belong."""

from __future__ import annotations

import io
import logging
import warnings
from pathlib import Path
from typing import Any

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.demos.boring_classes import BoringModel, RandomDataset
from omegaconf import OmegaConf
from torch.utils.data import DataLoader

from lab.data.splits import carve_splits
from lab.eval_table import print_metrics
from lab.log_records import is_file_only
from lab.reproduce import print_comparison
from lab.run_dir.summary import LAST, print_summary
from lab.training.console import QuietConsole, message_console
from lab.training.library_warnings import fit_warnings, no_best_checkpoint_note

# Longer than 80 columns, with a date a word-wrapping console would split at its hyphen.
LONG = Path(
    "/tmp/a_rather_long_output_root/runs/2026-12-03/11-54-07_27484-e164/reproductions/2026-12-03_11-54-28"
)


@pytest.fixture
def piped(monkeypatch: pytest.MonkeyPatch) -> None:
    """Standard output as in a pipe: not a terminal, which rich takes as 80 columns."""
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.delenv("FORCE_COLOR", raising=False)


def _lines(text: str) -> list[str]:
    return text.splitlines()


def test_run_summary_prints_paths_on_one_line_and_fits_the_table(
    piped: None, tmp_path: Path
) -> None:
    screen = io.StringIO()
    console = message_console(file=screen)
    assert console.width == 80 and not console.is_terminal
    output_dir = tmp_path / LONG.relative_to("/")
    (output_dir / "model").mkdir(parents=True)
    print_summary({"val/" + "x" * 120: 0.5, "test/acc": 0.25}, output_dir, console)
    lines = _lines(screen.getvalue())
    assert f"Run directory: {output_dir}" in lines
    assert f"Exported model: {output_dir / 'model'}" in lines
    table = [line for line in lines if line[:1] in "┏┃┡│└"]
    assert table and all(len(line) <= 80 for line in table), "the table still fits the width"


def test_reproduce_advice_and_predict_like_lines_stay_whole(
    piped: None, capsys: pytest.CaptureFixture[str]
) -> None:
    command = f"git checkout {'0' * 40} && git apply {LONG}/code.patch"
    print_comparison([("val/acc", 0.5, 0.5, True)], [f"code: uncommitted changes; {command}"])
    print_metrics({"acc": 0.5}, {}, compare=False, target=LONG / "metrics.json")
    out = capsys.readouterr().out
    assert f"warning: code: uncommitted changes; {command}" in _lines(out)
    assert f"Metrics written to {LONG}/metrics.json" in _lines(out)


def test_summary_title_names_the_last_weights_without_a_best_checkpoint(tmp_path: Path) -> None:
    screen = io.StringIO()
    print_summary({"test/acc": 0.5}, tmp_path, message_console(file=screen), tested=LAST)
    assert "Final metrics (last weights)" in screen.getvalue()
    assert "best checkpoint" not in screen.getvalue()


def test_summary_goes_to_the_log_file_as_plain_text_but_not_twice_on_screen(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """train.log keeps the table and the paths the user saw (a batch job's only record)."""
    (tmp_path / "model").mkdir()
    screen = io.StringIO()
    with caplog.at_level(logging.INFO, logger="lab.run_dir.summary"):
        print_summary({"val/acc": 0.75, "test/acc": 0.5}, tmp_path, message_console(file=screen))
    [record] = caplog.records
    assert is_file_only(record), "the screen has it already"
    logged = record.getMessage().splitlines()
    assert "Final metrics (best checkpoint)" in logged[0]
    assert any(line.split() == ["│", "acc", "│", "0.7500", "│", "0.5000", "│"] for line in logged)
    assert logged[-2:] == [f"Run directory: {tmp_path}", f"Exported model: {tmp_path / 'model'}"]
    assert "\x1b" not in record.getMessage(), "no terminal codes in a log file"
    assert screen.getvalue().count("Run directory:") == 1


def test_carving_a_split_of_lab_s_own_name_goes_to_the_log_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """`test: test` missing from a folder of splits: both lines for train.log; a renamed split
    that is missing (`validation: dev`) stays a warning on screen. (From one file, whose rows
    are all `train`, a missing renamed split is carved with a train.log line too.)"""
    from datasets import Dataset, DatasetDict

    rows = Dataset.from_dict({"text": [str(i) for i in range(20)]})
    source = DatasetDict({"train": rows, "unsupervised": rows})
    with caplog.at_level(logging.INFO, logger="lab.data.splits"):
        carve_splits(
            source, {"test": "test", "validation": "dev"}, local=True, seed=1,
            fractions={"test": 0.2, "validation": 0.2}, limits={},
        )  # fmt: skip
    quiet = QuietConsole(False)
    shown = [r.getMessage() for r in caplog.records if quiet.filter(r)]
    filed = [r.getMessage() for r in caplog.records if not quiet.filter(r)]
    assert len(filed) == 3 and filed[0].startswith("data.splits.test=test but the dataset")
    assert "carved a test split of 4 rows from train (seed 1)" in filed
    assert "carved a validation split of 4 rows from train (seed 1)" in filed
    assert shown == [next(m for m in shown if m.startswith("data.splits.validation=dev"))]
    assert all(QuietConsole(True).filter(r) for r in caplog.records), "hydra.verbose=true"


def test_the_data_layer_marks_file_only_records_without_importing_training() -> None:
    """`FILE_ONLY_RECORD` lives in `lab.log_records`: `lab.data.splits` uses it without
    `lab.training` (the console set-up), and the console filter honours it."""
    import subprocess
    import sys

    from lab.log_records import FILE_ONLY_RECORD

    imported = subprocess.run(
        [sys.executable, "-c", "import sys, lab.data.splits; print(sorted(sys.modules))"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "'lab.log_records'" in imported and "lab.training" not in imported
    marked = logging.makeLogRecord({"name": "lab.data.splits", "msg": "x", **FILE_ONLY_RECORD})
    unmarked = logging.makeLogRecord({"name": "lab.data.splits", "msg": "x"})
    assert not QuietConsole(False).filter(marked) and QuietConsole(False).filter(unmarked)
    assert QuietConsole(True).filter(marked)


def test_a_streamed_run_below_the_logging_interval_gets_lab_s_note(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Lightning compares no batch count for a loader without a length: lab warns itself."""
    streamed = {"streaming": True}
    trainer = {"max_steps": 4, "max_epochs": 3, "log_every_n_steps": 10}
    with caplog.at_level(logging.WARNING, logger="lab.training.library_warnings"):
        with fit_warnings(OmegaConf.create({"trainer": trainer, "data": streamed}), False):
            pass  # the note comes before the fit, and only once
        long_run = {**trainer, "max_steps": 100}
        with fit_warnings(OmegaConf.create({"trainer": long_run, "data": streamed}), False):
            pass
    (note,) = [r.getMessage() for r in caplog.records]
    assert note.startswith("this run makes 4 optimizer steps and logs train/loss every 10")


def _trainer(batches: float, loggers: int = 1, fast_dev_run: bool = False) -> Any:
    """What `fit_warnings` reads of a Trainer after its fit (a stand-in: no training)."""
    from types import SimpleNamespace

    return SimpleNamespace(
        num_training_batches=batches, loggers=[object()] * loggers, fast_dev_run=fast_dev_run
    )


def _interval_notes(
    caplog: pytest.LogCaptureFixture,
    trainer: dict[str, Any],
    fitted: Any,
    lightning_batches: int | None = None,
) -> list[str]:
    """lab's notes around a fit of a sized run; Lightning's own interval warning raised inside
    when `lightning_batches` (it does so for an epoch shorter than the interval)."""
    cfg = OmegaConf.create({"trainer": trainer, "data": {}})
    caplog.clear()
    lab_notes = caplog.at_level(logging.WARNING, logger="lab.training.library_warnings")
    with lab_notes, warnings.catch_warnings():
        warnings.simplefilter("always")
        with fit_warnings(cfg, False, fitted):
            if lightning_batches is not None:
                warnings.warn(
                    f"The number of training batches ({lightning_batches}) is smaller than the "
                    f"logging interval Trainer(log_every_n_steps={trainer['log_every_n_steps']})."
                    " Set a lower value for ...",
                    UserWarning, stacklevel=1,
                )  # fmt: skip
    return [r.getMessage() for r in caplog.records if r.name == "lab.training.library_warnings"]


def test_a_sized_run_cut_short_by_max_steps_gets_lab_s_note_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """200 batches an epoch (Lightning: no warning), max_steps=5 below log_every_n_steps=50:
    no train/loss is logged, and lab says so once, after the fit."""
    short = {"max_steps": 5, "max_epochs": 3, "log_every_n_steps": 50}
    (note,) = _interval_notes(caplog, short, _trainer(200))
    assert note.startswith("this run makes 5 optimizer steps and logs train/loss every 50")
    # Gradient accumulation: 200 batches by 100 are 2 steps an epoch, 6 in all.
    accumulated = {"max_epochs": 3, "log_every_n_steps": 50, "accumulate_grad_batches": 100}
    (note,) = _interval_notes(caplog, accumulated, _trainer(200))
    assert note.startswith("this run makes 6 optimizer steps")
    # Lightning warns too (4 batches an epoch): one note, with the count of its batches.
    (note,) = _interval_notes(caplog, {**short, "max_steps": 20}, _trainer(4), 4)
    assert note.startswith("this run makes 12 optimizer steps")
    # Without a Trainer, the note from max_steps alone.
    (note,) = _interval_notes(caplog, short, None)
    assert note.startswith("this run makes 5 optimizer steps")
    assert not _interval_notes(caplog, {**short, "max_steps": 100}, _trainer(200))
    assert not _interval_notes(caplog, short, _trainer(200, loggers=0))  # nothing to log to
    assert not _interval_notes(caplog, short, _trainer(200, fast_dev_run=True))  # logs each step


def test_no_logging_interval_note_after_a_failed_fit(caplog: pytest.LogCaptureFixture) -> None:
    cfg = OmegaConf.create({"trainer": {"max_steps": 5, "log_every_n_steps": 50}, "data": {}})
    lab_notes = caplog.at_level(logging.WARNING, logger="lab.training.library_warnings")
    with lab_notes, pytest.raises(RuntimeError), fit_warnings(cfg, False, _trainer(200)):
        raise RuntimeError("out of memory")
    assert not caplog.records


class _Validated(BoringModel):  # type: ignore[misc]
    def train_dataloader(self) -> DataLoader[Any]:
        return DataLoader(RandomDataset(32, 16), batch_size=4)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self.log("val/acc", torch.tensor(0.5))


def _fit(tmp_path: Path, max_steps: int) -> tuple[L.Trainer, list[str]]:
    cfg = OmegaConf.create({"trainer": {"max_steps": max_steps, "max_epochs": 1}})
    trainer = L.Trainer(
        max_steps=max_steps, max_epochs=1, logger=False, enable_progress_bar=False,
        enable_model_summary=False, accelerator="cpu", limit_val_batches=1,
        callbacks=[ModelCheckpoint(tmp_path, monitor="val/acc", mode="max")],
    )  # fmt: skip
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        with fit_warnings(cfg, resuming=False):
            trainer.fit(_Validated())
    return trainer, [str(w.message) for w in shown]


def test_a_run_ending_before_validation_gets_lab_s_note_not_lightning_s_hint(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = OmegaConf.create({"trainer": {"max_steps": 1}})
    with caplog.at_level(logging.INFO, logger="py.warnings"):
        trainer, shown = _fit(tmp_path / "short", max_steps=1)
    assert not [s for s in shown if "could not find the monitored key" in s], shown
    assert any("could not find the monitored key" in r.getMessage() for r in caplog.records)
    assert no_best_checkpoint_note(cfg, trainer) == (
        "training ended (trainer.max_steps=1) before its first validation: no best checkpoint "
        "by val/acc; the final metrics are of the last weights"
    )
    trainer, _ = _fit(tmp_path / "full", max_steps=-1)  # one epoch, validated at its end
    assert no_best_checkpoint_note(cfg, trainer) is None
