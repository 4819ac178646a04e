"""lab's progress bar: a streamed run (one endless epoch) counts steps against max_steps; a run
stopped between redraws (max_steps, SIGTERM, an error) shows the batches it did."""

from __future__ import annotations

import io
import os
import signal
from typing import Any

import lightning as L
import pytest
from lightning.pytorch.demos.boring_classes import BoringModel, RandomDataset, RandomIterableDataset
from lightning.pytorch.utilities.exceptions import SIGTERMException
from torch.utils.data import DataLoader

from lab.training.progress import ProgressBar, RateColumn


class _Endless(BoringModel):  # type: ignore[misc]
    """Training rows from an iterable without a length: Lightning's batch count is inf."""

    def train_dataloader(self) -> DataLoader[Any]:
        return DataLoader(RandomIterableDataset(32, 1000), batch_size=2)


class _Sized(BoringModel):  # type: ignore[misc]
    def train_dataloader(self) -> DataLoader[Any]:
        return DataLoader(RandomDataset(32, 8), batch_size=2)


class _Bar(ProgressBar):
    """lab's bar, counting its reads of the logged metrics (a device sync each)."""

    reads = 0

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Any]:
        self.reads += 1
        return super().get_metrics(trainer, pl_module)


def _bar(refresh_rate: int = 1) -> tuple[_Bar, io.StringIO]:
    """A bar that draws on a 120-column terminal, and that terminal."""
    screen = io.StringIO()
    console = {"file": screen, "force_terminal": True, "force_interactive": True, "width": 120}
    return _Bar(refresh_rate=refresh_rate, console_kwargs=console), screen


def _fit(module: L.LightningModule, bar: ProgressBar, **trainer: Any) -> None:
    trainer.setdefault("logger", False)
    L.Trainer(
        callbacks=[bar], enable_checkpointing=False, enable_model_summary=False,
        limit_val_batches=0, accelerator="cpu", **trainer,
    ).fit(module)  # fmt: skip


def _screen(module: L.LightningModule, refresh_rate: int = 1, **trainer: Any) -> str:
    """What the bar draws on a 120-column terminal while `module` trains."""
    bar, screen = _bar(refresh_rate)
    _fit(module, bar, **trainer)
    return screen.getvalue()


@pytest.mark.parametrize("accumulate", [1, 2])
def test_a_streamed_runs_bar_counts_steps_against_max_steps(accumulate: int) -> None:
    screen = _screen(
        _Endless(), refresh_rate=10, max_steps=4, max_epochs=3, accumulate_grad_batches=accumulate
    )
    assert "Step " in screen and "4/4" in screen
    assert "Epoch" not in screen and "/--" not in screen and "0/2" not in screen


def test_a_sized_runs_bar_counts_batches_of_each_epoch() -> None:
    screen = _screen(_Sized(), max_epochs=2)
    # Epochs counted from 1 of max_epochs (Lightning's own bar: "Epoch 1/1" for two epochs).
    assert "Epoch 2/2" in screen and "Epoch 1/2" in screen and "4/4" in screen
    assert "Epoch 1/1" not in screen and "Epoch 0/" not in screen and "Step " not in screen


class _Long(_Sized):
    """32 training batches; each logs its index to the bar."""

    def train_dataloader(self) -> DataLoader[Any]:
        return DataLoader(RandomDataset(32, 64), batch_size=2)

    def training_step(self, batch: Any, batch_idx: int) -> Any:
        self.log("seen", float(batch_idx), prog_bar=True)
        return super().training_step(batch, batch_idx)


@pytest.mark.parametrize("accumulate", [1, 2])
def test_a_run_stopped_by_max_steps_before_a_redraw_shows_the_batches_done(
    accumulate: int,
) -> None:
    """Drawn every 10 batches, the bar of an epoch stopped at step 3 (lab's trainer sets
    `max_epochs`) showed 0/32 (no redraw yet); the epoch's end draws the batches done, with one
    read of the metrics."""
    bar, screen = _bar(refresh_rate=10)
    _fit(_Long(), bar, max_epochs=3, max_steps=3, accumulate_grad_batches=accumulate)
    done = 3 * accumulate
    assert bar.train_progress_bar.completed == done
    assert bar.train_progress_bar.total == 32
    assert bar.reads == 1  # at the epoch's end, not per batch
    assert f"{done}/32" in screen.getvalue() and f"seen: {done - 1}.000" in screen.getvalue()


@pytest.mark.parametrize("accumulate", [1, 2])
def test_a_run_bounded_by_max_steps_alone_counts_batches_and_reads_metrics_once(
    accumulate: int,
) -> None:
    """Without `max_epochs` the epoch's total is the batches the steps left take (Lightning's:
    the steps, 3 for the 6 batches of 3 accumulated steps), fixed for the epoch (Lightning's
    shrinks as steps are taken: every batch from half-way on read as the last, a metrics read
    each)."""
    bar, screen = _bar(refresh_rate=10)
    _fit(_Long(), bar, max_steps=3, accumulate_grad_batches=accumulate)
    done = 3 * accumulate
    assert (bar.train_progress_bar.completed, bar.train_progress_bar.total) == (done, done)
    assert bar.reads == 2  # the last batch's redraw and Lightning's epoch end
    assert f"{done}/{done}" in screen.getvalue()


class _Killed(_Long):
    """Sends SIGTERM to its own process (or raises) in the training step of batch 2."""

    def __init__(self, error: type[BaseException] | None = None) -> None:
        super().__init__()
        self.error = error

    def training_step(self, batch: Any, batch_idx: int) -> Any:
        if batch_idx == 2 and self.error is not None:
            raise self.error("stopped")
        output = super().training_step(batch, batch_idx)
        if batch_idx == 2:
            os.kill(os.getpid(), signal.SIGTERM)  # Lightning stops after this batch
        return output


class _EndlessKilled(_Killed):
    def train_dataloader(self) -> DataLoader[Any]:
        return DataLoader(RandomIterableDataset(32, 1000), batch_size=2)


@pytest.mark.parametrize("module", [_Killed, _EndlessKilled])
def test_a_run_stopped_by_sigterm_before_a_redraw_shows_the_batches_done(
    module: type[_Killed],
) -> None:
    """SIGTERM in batch 3 of 32 (or step 3 of a streamed run's 20): Lightning stops after it,
    and the bar, drawn every 10, shows 3 done and their metrics, read once."""
    bar, screen = _bar(refresh_rate=10)
    # Lightning calls the SIGTERM handler it found after its own: a harmless one here.
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: None)
    try:
        with pytest.raises(SIGTERMException):
            _fit(module(), bar, max_epochs=1, max_steps=20)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert bar.train_progress_bar.completed == 3
    assert bar.reads == 1
    total = 20 if module is _EndlessKilled else 32
    assert f"3/{total}" in screen.getvalue() and "seen: 2.000" in screen.getvalue()


def test_a_run_stopped_by_an_error_shows_the_batches_done_without_reading_metrics() -> None:
    """An error in batch 3: the bar shows the 2 batches done; the metrics are not read (the
    device may be what failed, and a failing read would hide the error)."""
    bar, _ = _bar(refresh_rate=10)
    with pytest.raises(RuntimeError, match="stopped"):
        _fit(_Killed(RuntimeError), bar, max_epochs=1)
    assert bar.train_progress_bar.completed == 2
    assert bar.reads == 0


def test_the_bar_leaves_out_the_logger_version(tmp_path: Any) -> None:
    screen = _screen(_Sized(), max_epochs=1, logger=L.pytorch.loggers.CSVLogger(tmp_path))
    assert "Epoch 1/1" in screen and "v_num" not in screen


class _Clock:
    """rich's clock, moved by hand: a rate is measured between two samples apart in time."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _rate(advances: list[tuple[float, int]]) -> str:
    """What the bar's rate column shows for a task advanced by `(seconds later, batches)`."""
    from rich.progress import Progress

    clock = _Clock()
    bar = ProgressBar()
    (column,) = [c for c in bar.configure_columns(None) if isinstance(c, RateColumn)]
    progress = Progress(get_time=clock)
    task_id = progress.add_task("Epoch 1/1", total=100)
    for seconds, batches in advances:
        clock.now += seconds
        progress.update(task_id, advance=batches)
    return column.render(progress.tasks[0]).plain


def test_the_rate_is_blank_until_rich_knows_one_not_zero() -> None:
    assert _rate([]) == ""  # no batch yet
    assert _rate([(0.5, 1)]) == ""  # one sample: no rate (Lightning's column: "0.00it/s")
    assert _rate([(0.5, 1), (0.5, 4)]) == "8.00it/s"
    assert _rate([(0.5, 1), (20.0, 1)]) == "20.00s/it"  # slow, but never a false 0.00


def test_the_bar_replaces_lightning_s_rate_column_only() -> None:
    """Fails if Lightning renames its rate column or stops building the bar from
    `configure_columns` (lab's `RateColumn` would then not be used)."""
    from lightning.pytorch.callbacks import RichProgressBar
    from lightning.pytorch.callbacks.progress.rich_progress import ProcessingSpeedColumn

    theirs = RichProgressBar().configure_columns(None)
    ours = ProgressBar().configure_columns(None)
    assert [type(c) for c in theirs].count(ProcessingSpeedColumn) == 1
    assert [type(c) for c in ours] == [
        RateColumn if type(c) is ProcessingSpeedColumn else type(c) for c in theirs
    ]


def test_a_short_run_shows_no_false_rate() -> None:
    screen = _screen(_Sized(), max_steps=2)
    assert "Epoch 1" in screen and "0.00it/s" not in screen
