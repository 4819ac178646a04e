"""`TaskModule`: what every head's LightningModule shares (and nothing more).

A TaskModule receives a built Hugging Face model plus optimizer/scheduler factories; it never
sees the Hydra config, so checkpoints hold only tensors and plain values.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lightning as L
import torch
from torchmetrics import MeanMetric

from lab.compat.lightning import accumulating, steps_taken
from lab.errors import ConfigError
from lab.tasks.contract import missing_methods, missing_methods_message
from lab.training.rank_weights import rank_weight, weight_share, weighted

if TYPE_CHECKING:
    from torch.optim import Optimizer
    from torch.optim.lr_scheduler import LRScheduler
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

OptimizerFactory = Callable[[torch.nn.Module], "Optimizer"]
SchedulerFactory = Callable[..., "LRScheduler"]


class TaskModule(L.LightningModule):
    """Wraps a Hugging Face head: training loss, optimizer and scheduler, export.

    Subclasses implement `evaluation_step` (update metrics) and `evaluation_metrics`
    (compute and reset them) for their head; a subclass without them is refused when it is
    built, before training (`missing_evaluation_methods`). README: "Writing your own head".

    Args:
        model: a built Hugging Face model with a head that returns `loss` given `labels`.
        optimizer: `optimizer(model) -> torch.optim.Optimizer`.
        scheduler: `scheduler(optimizer, num_training_steps=...) -> LRScheduler`, or None.
    """

    # Metric names (without stage) shown on the progress bar; the rest go to the loggers only.
    progress_bar_metrics: tuple[str, ...] = ()
    # Metric name (without stage) -> why this run does not log it, for the refusal of an
    # `optimized_metric` the validation did not log (`lab.training.fit.unknown_metric_error`).
    metric_notes: dict[str, str] = {}  # noqa: RUF012 (read only)
    # The names (without stage) validation logs, where the head knows them before any data
    # (empty: not declared), and HF `evaluate`'s names of them where they differ (`accuracy`
    # -> `acc`): the HF-name hints translate `metric_for_best_model` (`lab.config.hf_metrics`).
    metric_names: tuple[str, ...] = ()
    hf_metric_names: dict[str, str] = {}  # noqa: RUF012 (read only)
    # Whether DDP ranks sharing a global batch unevenly weigh by their rows
    # (`lab.training.rank_weights`); False for a head whose loss weighs ranks itself.
    ranks_weighed_by_rows: bool = True

    def __init__(
        self,
        model: PreTrainedModel,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
    ) -> None:
        super().__init__()
        missing = missing_evaluation_methods(type(self))
        if missing:  # here, not after the first epoch's NotImplementedError
            raise ConfigError(missing)
        # `from_pretrained` returns a model in eval mode, and Lightning (>= 2.2) keeps each
        # submodule's mode instead of forcing train mode: without this, fine-tuning would run
        # with dropout off. (Evaluation loops switch to eval mode and back by themselves.)
        self.model = model.train()
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.test_report: dict[str, Any] = {}
        # Evaluation loss as a weighted mean over every rank's rows (see `log_eval_loss`).
        self.eval_loss = torch.nn.ModuleDict({"val": MeanMetric(), "test": MeanMetric()})
        # Each train metric's micro-batch values of the optimizer step under way (gradient
        # accumulation; see `log_train`).
        self._step_values: dict[str, list[torch.Tensor]] = {}
        # This micro-batch's rank weight for `backward`, and whether the step under way had
        # a micro-batch the ranks shared unevenly (`lab.training.rank_weights`).
        self._rank_weight: torch.Tensor | None = None
        self._uneven_group = False

    def forward(self, **inputs: torch.Tensor) -> Any:
        return self.model(**inputs)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Drop the 4-bit base's quantization state (QLoRA), which `load_state_dict` cannot
        read (`lab.training.quantized_state`), before Lightning loads the weights."""
        from lab.training.quantized_state import without_quantization_state

        if "state_dict" in checkpoint:
            checkpoint["state_dict"] = without_quantization_state(self, checkpoint["state_dict"])

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = self.model(**batch).loss
        self.log_train_loss(loss, _batch_size(batch), self.loss_weight_sum(batch))
        return loss

    def loss_weight_sum(self, batch: dict[str, torch.Tensor]) -> torch.Tensor | None:
        """What this batch's training loss is a mean over, where that is not its rows (a token
        head's target tokens: `lab.training.rank_weights.token_count`), for DDP to weigh the
        ranks by; None: rows (the default), or one process."""
        return None

    def log_train_loss(
        self, loss: torch.Tensor, batch_size: int, weight_sum: torch.Tensor | None = None
    ) -> None:
        """Log `train/loss` for this batch (see `log_train`)."""
        self.log_train({"loss": loss}, batch_size, weight_sum)

    def log_train(
        self,
        values: Mapping[str, torch.Tensor],
        batch_size: int,
        weight_sum: torch.Tensor | None = None,
    ) -> None:
        """Log `train/<name>` for each of this batch's scalar values (the progress bar shows
        `train/loss`): as is, or, with gradient accumulation, each the mean of the optimizer
        step's micro-batches at its last one (HF Trainer's number; Lightning would log one
        micro-batch's). Log all of a batch's values in one call: the step's last micro-batch
        is recognised here. Tensors, not `.item()`: Lightning reduces them lazily, so there
        is no host sync per step.

        Under DDP each rank computes its own share of the global batch, and a step that the
        loggers write (`trainer.log_every_n_steps`) logs the mean over the ranks, as HF
        Trainer does: the loss whose gradient DDP's averaged step follows (rank 0's own half
        was up to 8% off one process with the same global batch). One all-reduce of all the
        values together, on logged steps only (`sync_dist=True` would add one per value and
        a barrier, at every step); the steps in between show this rank's value on the
        progress bar. On a micro-batch the ranks share unevenly (an epoch's partial global
        batch) the values are weighed by the ranks' rows, and the step is averaged over the
        ranks whether logged or not (`lab.training.rank_weights`). `weight_sum`, for values
        that are means weighted by it (a class-weighted loss), weighs the ranks by it instead,
        on every micro-batch (`weight_share`)."""
        trainer = self._trainer
        self._rank_weight = None
        if values and weight_sum is not None:
            self._rank_weight = weight_share(trainer, weight_sum)
        elif self.ranks_weighed_by_rows and values:
            self._rank_weight = rank_weight(trainer, batch_size, next(iter(values.values())).device)
        if self._rank_weight is not None:
            values = {name: weighted(value, self._rank_weight) for name, value in values.items()}
            self._uneven_group = True
        if trainer is not None and trainer.accumulate_grad_batches > 1:
            for name, value in values.items():
                self._step_values.setdefault(name, []).append(value.detach())
            if accumulating(trainer):  # not the stepping micro-batch
                return
            values = {name: torch.stack(seen).mean() for name, seen in self._step_values.items()}
            self._step_values.clear()
        uneven, self._uneven_group = self._uneven_group, False
        if trainer is not None and trainer.world_size > 1 and (uneven or _logs_this_step(trainer)):
            values = _mean_over_ranks(values, trainer.world_size)
        for name, value in values.items():
            # Not `prog_bar=True`: Lightning turns progress-bar metrics into Python numbers
            # after every batch (a device sync per step on a GPU); lab's ProgressBar reads
            # `train/loss` itself when it redraws (`TRAIN_LOSS_ON_BAR`).
            self.log(f"train/{name}", value, batch_size=batch_size)

    def partial_group_state(self) -> dict[str, Any]:
        """What this module carries from one micro-batch of an unfinished accumulation group
        to the next, besides the gradients, for a checkpoint saved inside the group
        (`lab.training.partial_group`): each train metric's micro-batch values so far
        (`log_train`), whether a micro-batch of it was shared unevenly by the DDP ranks, and
        the state of every `GroupAccumulator` it holds (SFT's token count). CPU tensors and
        plain values only."""
        from lab.training.partial_group import GroupAccumulator

        return {
            "train_values": {k: torch.stack(v).cpu() for k, v in self._step_values.items()},
            "uneven_group": self._uneven_group,
            "accumulators": {
                name: value.group_state()
                for name, value in vars(self).items()
                if isinstance(value, GroupAccumulator)
            },
        }

    def load_partial_group_state(self, state: Mapping[str, Any]) -> None:
        """Take up `partial_group_state`'s `state` on resume, before the group's next
        micro-batch."""
        from lab.training.partial_group import GroupAccumulator

        self._step_values = {
            name: list(values.to(self.device).unbind())
            for name, values in state.get("train_values", {}).items()
        }
        self._uneven_group = bool(state.get("uneven_group", False))
        saved = state.get("accumulators", {})
        for name, value in vars(self).items():
            if isinstance(value, GroupAccumulator) and name in saved:
                value.load_group_state(saved[name], self.device)

    def optimizer_step(
        self,
        epoch: int,
        batch_idx: int,
        optimizer: Any,
        optimizer_closure: Callable[[], Any] | None = None,
    ) -> None:
        """Lightning's optimizer step, then the gradients freed (`set_to_none`) at once.

        Lightning frees them only in the next step's closure, after that step's forward pass,
        so one full set of gradients (4 bytes a parameter: 86 MiB for MiniLM) stayed alive
        between steps, through every forward pass and through validation: +73 MB peak RSS
        on a CPU run (issue 20). HF Trainer and a plain loop free them right after the step,
        as here. Numbers are unchanged: the next backward starts from no gradient
        either way, and with gradient accumulation this runs only on the stepping batch.
        """
        super().optimizer_step(epoch, batch_idx, optimizer, optimizer_closure)
        optimizer.zero_grad(set_to_none=True)

    def backward(self, loss: torch.Tensor, *args: Any, **kwargs: Any) -> None:
        """Lightning's backward, with an epoch's last, partial accumulation group averaged
        over the micro-batches it has: Lightning divides every micro-batch's loss by
        `accumulate_grad_batches`, so 3 micro-batches left of a group of 4 stepped with 3/4 of
        the gradient (the learning rate, in effect, under SGD or with clipping). HF Trainer
        divides by the micro-batches the group holds, as here. On a micro-batch the DDP ranks
        share unevenly (every one, for a class-weighted loss) the loss also carries this
        rank's weight (`log_train`, `lab.training.rank_weights`): the two factors multiply."""
        loss = loss * partial_group_scale(self._trainer)
        weight, self._rank_weight = self._rank_weight, None
        super().backward(loss if weight is None else weighted(loss, weight), *args, **kwargs)

    def configure_gradient_clipping(
        self,
        optimizer: Optimizer,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str | None = None,
    ) -> None:
        """Lightning's clipping (`trainer.gradient_clip_val`), except by norm under FSDP:
        there the FSDP root clips, with the norm reduced over every rank's shard (Lightning
        refuses it; `lab.training.sharded`), and under bf16-mixed, where lab clips itself so
        that a fused optimizer may be clipped too (Lightning refuses it, rightly only under
        16-mixed; `lab.training.unscaled_clipping`). Under DeepSpeed, DeepSpeed clips."""
        from lab.training.sharded import clip_fsdp_gradients
        from lab.training.unscaled_clipping import clip_unscaled_gradients

        if clip_fsdp_gradients(self.trainer, gradient_clip_val, gradient_clip_algorithm):
            return
        if clip_unscaled_gradients(
            self.trainer, optimizer, gradient_clip_val, gradient_clip_algorithm
        ):
            return
        super().configure_gradient_clipping(optimizer, gradient_clip_val, gradient_clip_algorithm)

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self.evaluation_step(batch, "val")

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self.evaluation_step(batch, "test")

    def on_validation_epoch_end(self) -> None:
        metrics = self.evaluation_metrics("val")
        shown = {f"val/{name}" for name in self.progress_bar_metrics}
        self.log_dict({k: v for k, v in metrics.items() if k in shown}, prog_bar=True)
        self.log_dict({k: v for k, v in metrics.items() if k not in shown})

    def on_test_epoch_end(self) -> None:
        self.log_dict(self.evaluation_metrics("test"))
        self.test_report = self.evaluation_report("test")

    def log_eval_loss(
        self, stage: str, loss: torch.Tensor, rows: int, weight: torch.Tensor | None = None
    ) -> None:
        """Log `stage/loss`: the mean over all of the split's rows, on every rank together;
        with `weight`, what the batch's mean loss divided by (its scored tokens: a head whose
        loss is a mean over tokens), so the split's loss is the mean over all its tokens.

        A torchmetrics mean (sums of loss x rows and of rows, added across ranks), not
        `self.log(loss, sync_dist=True)`: Lightning's epoch mean divides by an *integer* mean
        of the ranks' row counts, so a split the ranks share unevenly (11 rows on 2 ranks)
        got a loss 10% too high (measured: 0.761 instead of 0.692; Lightning issue #21859,
        open for 2.6 and 2.7).
        """
        metric: Any = self.eval_loss[stage]
        metric.update(loss.detach(), weight=rows if weight is None else weight)
        self.log(f"{stage}/loss", metric, on_step=False, on_epoch=True, batch_size=rows)

    def evaluation_step(self, batch: dict[str, torch.Tensor], stage: str) -> None:
        """Run the model on an evaluation batch and update the stage's metrics (`stage` is
        `val` or `test`); `log_eval_loss` logs the stage's loss."""
        raise NotImplementedError(missing_evaluation_methods(type(self)) or "evaluation_step")

    def evaluation_metrics(self, stage: str) -> dict[str, torch.Tensor]:
        """Compute, reset and return the stage's metrics, keyed `stage/name` (`val/acc`)."""
        raise NotImplementedError(missing_evaluation_methods(type(self)) or "evaluation_metrics")

    def evaluation_report(self, stage: str) -> dict[str, Any]:
        """Structured results beyond scalar metrics (e.g. a confusion matrix), JSON-ready.

        Computed at the end of testing and written by `lab.train.run` to
        `<run dir>/test_report.json`, where plots and model cards read it.
        """
        return {}

    def configure_optimizers(self) -> Any:
        optimizer = self.optimizer_factory(self.model)
        if self.scheduler_factory is None:
            return optimizer
        estimated = self.trainer.estimated_stepping_batches
        # Infinite for a run ended by time or early stopping: only a schedule that does not
        # need the length gets there (`lab.config.rules.check_schedule_without_length`).
        steps = int(estimated) if math.isfinite(estimated) else 0
        scheduler = self.scheduler_factory(optimizer, num_training_steps=steps)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    def before_export(self, tokenizer: PreTrainedTokenizerBase) -> None:
        """A head's last change to the model before it is saved (chat heads: where generation
        stops); nothing by default."""

    def export(
        self,
        directory: str | Path,
        tokenizer: PreTrainedTokenizerBase,
        adapter_directory: str | Path | None = None,
    ) -> Path:
        """Save the model and tokenizer with `save_pretrained` (loadable by `pipeline`).

        A PEFT model is saved twice: merged into `directory`, and as the adapter alone into
        `adapter_directory` (default `<directory>/../adapter`; lab.export gives a staging
        folder there too, so an interrupted export leaves no partial adapter).
        """
        from lab.run_dir.file_modes import share_like_umask
        from lab.training.adapters import export_peft, is_peft_model

        directory = Path(directory)
        self.before_export(tokenizer)
        if is_peft_model(self.model):
            adapter = Path(adapter_directory or directory.parent / "adapter")
            export_peft(self.model, directory, adapter)
            tokenizer.save_pretrained(adapter)
            share_like_umask(adapter)
        else:
            self.model.save_pretrained(directory)
        tokenizer.save_pretrained(directory)
        share_like_umask(directory)  # transformers writes the weights 0600
        return directory


def missing_evaluation_methods(module_class: type) -> str | None:
    """One line naming the methods of TaskModule's contract (`lab.tasks.contract`) that
    `module_class` leaves to TaskModule (which cannot know a head's metrics), or None.
    TaskModule itself passes: tests build it bare for its training-side code."""
    if module_class is TaskModule or not issubclass(module_class, TaskModule):
        return None
    missing = missing_methods(
        lambda name: getattr(module_class, name) is not getattr(TaskModule, name)
    )
    if not missing:
        return None
    return missing_methods_message(
        f"{module_class.__module__}.{module_class.__qualname__}", missing
    )


def partial_group_scale(trainer: L.Trainer | None) -> float:
    """`accumulate_grad_batches / k` for a micro-batch of an epoch's last accumulation group
    when it holds only k micro-batches (the epoch's batches are no multiple of the group);
    1 elsewhere, and for an epoch without a length (streamed data)."""
    if trainer is None or trainer.accumulate_grad_batches <= 1:
        return 1.0
    group, batches = trainer.accumulate_grad_batches, trainer.num_training_batches
    if not math.isfinite(batches) or int(batches) % group == 0:
        return 1.0
    left = int(batches) % group
    last_group = trainer.fit_loop.epoch_loop.batch_idx >= int(batches) - left
    return group / left if last_group else 1.0


def _logs_this_step(trainer: L.Trainer) -> bool:
    """Whether Lightning writes the train metrics of the optimizer step under way to the
    loggers: its `LoggerConnector.should_update_logs` (`steps_taken` is the step count it
    logs under), less its `should_stop` term, which one rank may see before another (a
    collective on it could hang)."""
    if not trainer.loggers or not torch.distributed.is_initialized():
        return False
    step = steps_taken(trainer) + 1
    # Set on the trainer by Lightning's logger connector, so not in its type.
    every = max(int(getattr(trainer, "log_every_n_steps", 1)), 1)
    return step % every == 0 or bool(getattr(trainer, "fast_dev_run", False))


def _mean_over_ranks(values: Mapping[str, torch.Tensor], world: int) -> dict[str, torch.Tensor]:
    """`values`, each the mean of its value on every rank: one all-reduce for all of them."""
    names = list(values)
    both = torch.stack([values[name].detach().float() for name in names])
    # `torch.distributed` directly: the strategy's `reduce` puts a barrier before it.
    torch.distributed.all_reduce(both)
    return dict(zip(names, (both / world).unbind(), strict=True))


def _batch_size(batch: dict[str, torch.Tensor]) -> int:
    return int(next(iter(batch.values())).shape[0])
