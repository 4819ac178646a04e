"""lab's progress bar: a streamed run (one endless epoch) counts steps against max_steps."""

from __future__ import annotations

import io
from typing import Any

import lightning as L
import pytest
from lightning.pytorch.demos.boring_classes import BoringModel, RandomDataset, RandomIterableDataset
from torch.utils.data import DataLoader

from lab.training.progress import ProgressBar


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
