"""`MaskedLMModule`: the LightningModule of the masked-LM head. It masks each batch (training:
anew per batch; evaluation: fixed per block) and trains and scores the head on the targets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torchmetrics import MeanMetric, SumMetric

from lab.errors import DataError
from lab.tasks.base import OptimizerFactory, SchedulerFactory, TaskModule
from lab.tasks.masked_lm.masking import IGNORE, draw, mask_tokens, seeded_generator
from lab.training.rank_weights import token_count

if TYPE_CHECKING:
    from transformers import PreTrainedModel


class MaskedLMModule(TaskModule):
    """Masks each batch, then the head's cross-entropy on the targets.

    Metric keys: `val/loss`, `val/perplexity` (optimized, min), `val/accuracy`.

    Args:
        mlm_probability / mask_token_id / vocab_size / seed: how to mask (from the data).
    """

    progress_bar_metrics = ("perplexity",)

    def __init__(
        self,
        model: PreTrainedModel,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        *,
        mlm_probability: float = 0.15,
        mask_token_id: int = 0,
        vocab_size: int = 1,
        seed: int = 0,
    ) -> None:
        super().__init__(model, optimizer, scheduler)
        self.mlm_probability = mlm_probability
        self.mask_token_id = mask_token_id
        self.vocab_size = vocab_size
        self.seed = seed
        self.batches_masked = 0  # training batches drawn so far (kept in checkpoints)
        self.eval_accuracy = torch.nn.ModuleDict({"val": MeanMetric(), "test": MeanMetric()})
        # The split's target tokens, summed over every rank: none at all is a split the fixed
        # masks picked nothing in (`evaluation_metrics`), not a diverged run.
        self.eval_targets = torch.nn.ModuleDict({"val": SumMetric(), "test": SumMetric()})

    def masked(self, batch: dict[str, torch.Tensor], training: bool) -> dict[str, torch.Tensor]:
        """The model's inputs: `batch` masked, with labels, without the masking columns."""
        batch = dict(batch)
        special = batch.pop("special_tokens_mask")
        word_ids = batch.pop("word_ids", None)
        blocks = batch.pop("block", None)
        if training:
            key = (self.seed, 0, self.global_rank, self.batches_masked)
            generators = [seeded_generator(*key)]
            self.batches_masked += 1
        else:
            assert blocks is not None, "evaluation batches carry their block numbers"
            generators = [seeded_generator(self.seed, 1, block) for block in blocks.tolist()]
        lengths = batch["attention_mask"].sum(dim=1).tolist()
        special = special | (batch["attention_mask"] == 0)  # padding is never a target
        batch["input_ids"], batch["labels"] = mask_tokens(
            batch["input_ids"],
            special,
            self.mlm_probability,
            self.mask_token_id,
            draw(generators, lengths, self.vocab_size, int(batch["input_ids"].shape[1])),
            word_ids,
        )
        return batch

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        inputs = self.masked(batch, training=True)
        output = self.model(**inputs)
        # A batch without a target (a few short blocks) has a NaN mean loss: train on nothing.
        loss = output.loss if bool((inputs["labels"] != IGNORE).any()) else output.logits.sum() * 0
        # Under DDP the ranks weigh by their masked tokens (`TaskModule.loss_weight_sum`).
        weight_sum = token_count(self._trainer, inputs["labels"])
        self.log_train_loss(loss, int(inputs["input_ids"].shape[0]), weight_sum)
        return loss

    def evaluation_step(self, batch: dict[str, torch.Tensor], stage: str) -> None:
        inputs = self.masked(batch, training=False)
        output = self.model(**inputs)
        targets = inputs["labels"] != IGNORE
        count = int(targets.sum())
        counted: Any = self.eval_targets[stage]
        counted.update(float(count))
        if count == 0:
            return
        # Weighted by target tokens: the split's mean token loss, not a mean of batch means.
        loss: Any = self.eval_loss[stage]
        loss.update(output.loss.detach(), weight=count)
        hits = (output.logits.argmax(dim=-1) == inputs["labels"])[targets].float()
        accuracy: Any = self.eval_accuracy[stage]
        accuracy.update(hits.mean(), weight=count)

    def evaluation_metrics(self, stage: str) -> dict[str, torch.Tensor]:
        loss_metric: Any = self.eval_loss[stage]
        accuracy_metric: Any = self.eval_accuracy[stage]
        counted: Any = self.eval_targets[stage]
        counted.update(0.0)  # a rank without a batch still joins the sum (no warning)
        targets = int(counted.compute())
        counted.reset()
        if targets == 0:
            if self._trainer is not None and self.trainer.sanity_checking:  # 2 batches only
                loss_metric.reset()
                accuracy_metric.reset()
                nan = torch.tensor(float("nan"))
                return {f"{stage}/{name}": nan for name in ("loss", "perplexity", "accuracy")}
            split = "validation" if stage == "val" else "test"
            raise DataError(
                f"the {split} split's fixed masks picked no token to score (its rows are too "
                f"short for data.mlm_probability={self.mlm_probability}): its loss and "
                f"perplexity would be nan; give the {split} split more text"
            )
        loss, accuracy = loss_metric.compute(), accuracy_metric.compute()
        loss_metric.reset()
        accuracy_metric.reset()
        return {
            f"{stage}/loss": loss,
            f"{stage}/perplexity": torch.exp(loss),
            f"{stage}/accuracy": accuracy,
        }

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["masked_lm_batches_masked"] = self.batches_masked

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        self.batches_masked = int(checkpoint.get("masked_lm_batches_masked", 0))
