"""lab's progress bar: a streamed run (one endless epoch) counts steps against max_steps."""

from __future__ import annotations

import io
from typing import Any

import lightning as L
import pytest
from lightning.pytorch.demos.boring_classes import BoringModel, RandomDataset, RandomIterableDataset
from torch.utils.data import DataLoader

from lab.training.progress import ProgressBar, RateColumn


class _Endless(BoringModel):  # type: ignore[misc]
    """Training rows from an iterable without a length: Lightning's batch count is inf."""

    def train_dataloader(self) -> DataLoader[Any]:
        return DataLoader(RandomIterableDataset(32, 1000), batch_size=2)


class _Sized(BoringModel):  # type: ignore[misc]
    def train_dataloader(self) -> DataLoader[Any]:
        return DataLoader(RandomDataset(32, 8), batch_size=2)


def _screen(module: L.LightningModule, refresh_rate: int = 1, **trainer: Any) -> str:
    """What the bar draws on a 120-column terminal while `module` trains."""
    screen = io.StringIO()
    bar = ProgressBar(
        refresh_rate=refresh_rate,
        console_kwargs={"file": screen, "force_terminal": True, "width": 120},
    )
    trainer.setdefault("logger", False)
    L.Trainer(
        callbacks=[bar], enable_checkpointing=False, enable_model_summary=False,
        limit_val_batches=0, accelerator="cpu", **trainer,
    ).fit(module)  # fmt: skip
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
