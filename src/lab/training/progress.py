"""The progress bar, without a device sync on every step; a streamed run's bar counts steps.

Lightning's `RichProgressBar` reads the logged metrics (a GPU -> host copy of the loss, which
waits for the step to finish) after every training batch, whatever its `refresh_rate`. That
stalls the CPU/GPU overlap: on an H100 it cost a BERT-base run about a tenth of its speed.
This bar reads them only when it redraws, every `refresh_rate` batches and at the last one, and
shows the true count when an epoch ends or the fit stops between redraws (`max_steps`, SIGTERM).

A streamed train split (`data.streaming=true`) is one endless epoch bounded by
`trainer.max_steps`: Lightning's bar would show `Epoch 0/2  0/--` (an epoch count that plays
no part, batches against no total). This bar shows `Step  3/4`: optimizer steps against
`max_steps`. A sized run's bar counts epochs from 1 (`Epoch 2/2`, Lightning's `Epoch 1/1`) and
leaves out the logger's version (`v_num`).

The rate column is blank until rich has measured a rate (two redraws apart in time): Lightning's
`ProcessingSpeedColumn` shows `0.00it/s` until then, which on a short run is all it shows.

The bar is drawn only on an interactive terminal: elsewhere (a file, a pipe, `TERM=dumb`)
rich renders a live display once, when it stops, so a batch job's log showed nothing while the
model trained and then the last epoch's bar alone, wrapped. The bar also says one plain line
after each validation and warns when `max_steps` cannot be reached
(`lab.training.progress_lines`): printed above the live bar, or logged where none is drawn.
"""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import RichProgressBar
from lightning.pytorch.callbacks.progress.rich_progress import ProcessingSpeedColumn
from lightning.pytorch.utilities.exceptions import SIGTERMException
from rich.console import Console
from rich.progress import Task
from rich.text import Text

from lab.training.progress_lines import ProgressLines, endless, interactive_console

STEP_DESCRIPTION = "Step"
# The training metric the bar shows, read from the callback metrics when it redraws. Heads do
# not log it with `prog_bar=True`: Lightning converts progress-bar metrics to Python numbers
# after every batch (`_ResultCollection.metrics`), a GPU -> host copy that waits for the step:
# one device sync per step, found on an H200 by counting host reads per step on the CPU.
TRAIN_LOSS_ON_BAR = "train/loss"


class RateColumn(ProcessingSpeedColumn):  # type: ignore[misc]
    """Lightning's rate column (`12.34it/s`), blank while rich knows no rate yet (a single
    sample: `Task.speed` is None) instead of a false `0.00it/s`."""

    def render(self, task: Task) -> Text:
        """The task's rate in iterations per second; seconds per iteration below 1 it/s, so
        a slow real rate never reads as 0.00; nothing while the rate is unknown."""
        speed = task.speed
        if not speed:
            return Text("", style=self.style)
        if speed < 1:
            return Text(f"{1 / speed:.2f}s/it", style=self.style)
        return Text(f"{speed:.2f}it/s", style=self.style)


class ProgressBar(RichProgressBar):
    """`RichProgressBar` that redraws (and reads metrics) every `refresh_rate` batches, and
    counts optimizer steps against `max_steps` when the training epoch has no end."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._drawn_step = -1
        # The index of the last training batch done since the bar was drawn, if any: its
        # count is shown when the epoch or the fit ends (see `on_train_epoch_end`).
        self._undrawn: int | None = None
        self._epoch_total: int | float | None = None
        self._lines = ProgressLines()

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        """Lightning's set-up (the bar is off on ranks other than zero); off where the console
        is not an interactive terminal, whose plain lines replace it."""
        super().setup(trainer, pl_module, stage)
        if not interactive_console(self._console_kwargs):
            self.disable()

    def _live(self) -> Console | None:
        # The live bar's console, where a line printed goes above the bar; None when no bar.
        if self.is_disabled or self.progress is None or self._progress_stopped:
            return None
        return self.progress.console

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Lightning's start of the bar, then the warning of an unreachable `max_steps`."""
        super().on_train_start(trainer, pl_module)
        self._lines.on_train_start(trainer, self._live())

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Lightning's end of a validation, then its plain line (during a fit)."""
        super().on_validation_end(trainer, pl_module)
        self._lines.on_validation_end(trainer, self._live())

    def state_dict(self) -> dict[str, Any]:
        """The checkpoint's state of the bar: the lines' (the last training loss, s31e N10)."""
        return self._lines.state(self.trainer) if self._trainer is not None else {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """A resumed run's: its first validation line says the checkpoint's training loss."""
        self._lines.restore(state_dict)

    def configure_columns(self, trainer: L.Trainer) -> list[Any]:
        """Lightning's columns, its rate column replaced by `RateColumn`."""
        return [
            RateColumn(style=self.theme.processing_speed)
            if isinstance(column, ProcessingSpeedColumn)
            else column
            for column in super().configure_columns(trainer)
        ]

    def _endless(self) -> bool:
        # An iterable train split without a length: Lightning's batch count is inf.
        return endless(self.trainer)

    @property
    def total_train_batches(self) -> int | float:
        """`max_steps` for an endless epoch (the bar counts steps), else Lightning's total, in
        batches under gradient accumulation too: for a run without `max_epochs` (-1) Lightning
        bounds the epoch by the steps left, taken as batches (3 where `max_steps=3` with
        `accumulate_grad_batches=2` runs 6: the bar read `6/3`)."""
        trainer = self.trainer
        if self._endless():
            return int(trainer.max_steps)
        if trainer.max_epochs == -1 and (trainer.max_steps or -1) > 0:
            left = (trainer.max_steps - trainer.global_step) * trainer.accumulate_grad_batches
            return min(trainer.num_training_batches, left)
        return super().total_train_batches

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Lightning's epoch bar; an endless epoch's starts at the run's step (a resume's)."""
        super().on_train_epoch_start(trainer, pl_module)
        self._undrawn = None
        # The epoch's total as the bar shows it. Read again after each batch, the total of a
        # run without `max_epochs` shrinks as steps are taken (the steps left): from half-way
        # every batch counted as the last, a redraw and a device sync each.
        self._epoch_total = self.total_train_batches
        if self._endless():
            self._show_count(trainer.global_step)

    def _get_train_description(self, current_epoch: int) -> str:
        # Lightning's (private) naming of the train bar, "Epoch 0/2": an endless epoch's is
        # "Step". tests/test_progress.py fails if Lightning stops calling it.
        # Padded like Lightning's to the validation bar's width (no flicker).
        width = len(self.validation_description)
        if self._endless():
            return f"{STEP_DESCRIPTION:{width}}"
        # Lightning shows the 0-based epoch over the last index ("Epoch 1/1" for max_epochs=2);
        # a researcher reads "2/2" as the second of two epochs.
        epochs = self.trainer.max_epochs
        total = f"/{epochs}" if epochs is not None and epochs > 0 else ""
        return f"{f'Epoch {current_epoch + 1}{total}':{width}}"

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Any]:
        """The metrics the bar shows: the training loss while training, and Lightning's
        progress-bar metrics without the logger's version (`v_num`), which names no quantity
        (the W&B run id, the CSV version)."""
        items = dict(super().get_metrics(trainer, pl_module))
        items.pop("v_num", None)
        loss = trainer.callback_metrics.get(TRAIN_LOSS_ON_BAR)
        # While fitting, validation included (its end redraws the train bar): not in a
        # stand-alone validate or test, whose bars show no training loss.
        if loss is not None and trainer.state.fn == "fit":
            items = {TRAIN_LOSS_ON_BAR: float(loss), **items}  # the one read, at a redraw
        return items

    def _show_count(self, count: int) -> None:
        # The bar's count alone, without Lightning's redraw (which also reads the metrics).
        if self.progress is None or self.train_progress_bar_id is None:
            return
        self.progress.update(self.train_progress_bar_id, completed=count)
        self.refresh()

    def _redraw(self, trainer: L.Trainer, pl_module: L.LightningModule, batch_idx: int) -> None:
        """Lightning's redraw after batch `batch_idx` (its count, the metrics, and the bar itself
        after a mid-epoch resume); an endless epoch's count is the step."""
        self._undrawn = None
        # Lightning's redraw reads neither the step's outputs nor its batch.
        super().on_train_batch_end(trainer, pl_module, None, None, batch_idx)
        if self._endless():
            self._drawn_step = trainer.global_step
            self._show_count(trainer.global_step)

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        """Redraw every `refresh_rate` batches (steps, for an endless epoch) and at the last;
        in between only note the batch (no metrics read: no device sync)."""
        if self.is_disabled:
            return
        if self._endless():
            step = trainer.global_step  # counts optimizer steps (gradient accumulation)
            if step == self._drawn_step:
                return  # another micro-batch of a step already drawn
            due = step % max(self.refresh_rate, 1) == 0 or step >= trainer.max_steps
        else:
            total = self._epoch_total if self._epoch_total is not None else self.total_train_batches
            last = isinstance(total, int) and batch_idx + 1 >= total
            due = (batch_idx + 1) % max(self.refresh_rate, 1) == 0 or last
        if due:
            self._redraw(trainer, pl_module, batch_idx)
        else:
            self._undrawn = batch_idx

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Lightning's epoch end (the metrics read once, a redraw), with the count of batches
        done: an epoch cut short between redraws (`max_steps`, early stopping) showed the
        count of the last redraw, `0/N` before the first."""
        if self._undrawn is None:
            super().on_train_epoch_end(trainer, pl_module)
        else:  # Lightning's epoch end is this redraw's metrics read and refresh
            self._redraw(trainer, pl_module, self._undrawn)

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        """The count of batches done, then Lightning's stop of the bar. Their metrics too after
        SIGTERM or SIGUSR1 (its `SIGTERMException`), which Lightning raises between batches;
        not after any other exception (a device error, Ctrl-C mid-batch): a read of device
        metrics could fail there, or wait on the device, and hide the error."""
        if self._undrawn is not None:
            if isinstance(exception, SIGTERMException):
                self._redraw(trainer, pl_module, self._undrawn)
            else:
                self._show_count(trainer.global_step if self._endless() else self._undrawn + 1)
                self._undrawn = None
        super().on_exception(trainer, pl_module, exception)
