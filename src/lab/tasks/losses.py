"""Class weights and label smoothing for the cross-entropy heads (`task.module.class_weights`,
`task.module.label_smoothing`): text classification, token classification, multiple choice.

`ClassLoss` replaces the head's own loss only when one of the options is set, so a run
without them computes exactly what the Hugging Face head computes. With them, the loss is
`torch.nn.functional.cross_entropy(logits, labels, weight=..., label_smoothing=...)` over every
label that is not -100, in training and evaluation alike (`val/loss` is the loss trained on).

`class_weights=balanced` weighs class c by n / (C * n_c) (n labels in the train split, C
classes, n_c labels of class c: scikit-learn's `balanced`), counted on the tokenized train
split when training starts: rows for text classification, scored tokens for token
classification. The weights counted go to train.log as one line (`class weights (balanced,
from 243 train rows): negative 0.5918, positive 3.284; as a list: ...`) and to record.json
(`class_weights`: from, labels, weights), so that a later run can give them as a list. The
forms the option takes (and their message) are `lab.config.class_weights`', checked before
data loads; the list's length is checked here, once the data gives the classes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lab.config.class_weights import BALANCED, class_weights_problem
from lab.errors import ConfigError
from lab.log_records import FILE_ONLY_RECORD
from lab.tasks.ignore import IGNORE

log = logging.getLogger(__name__)


def check_class_weights(weights: Any, num_classes: int, names: Sequence[str] = ()) -> None:
    """`weights` must be null, `balanced`, or one positive number per class (the form is
    `lab.config.class_weights`', checked before data loads; the length needs the classes)."""
    problem = class_weights_problem(weights, num_classes)
    if problem:
        raise ConfigError(problem)
    if weights is None or weights == BALANCED:
        return
    values = list(weights)
    if len(values) != num_classes:
        classes = f" ({', '.join(map(str, names))})" if names else ""
        raise ConfigError(
            f"task.module.class_weights has {len(values)} weights but the model has "
            f"{num_classes} classes{classes}: give one weight per class, in label order"
        )


def balanced_weights(counts: Sequence[int], names: Sequence[str] = ()) -> list[float]:
    """n / (C * n_c) for each class c (scikit-learn's `balanced`)."""
    total, classes = sum(counts), len(counts)
    empty = [names[i] if i < len(names) else str(i) for i, n in enumerate(counts) if n == 0]
    if empty:
        raise ConfigError(
            f"task.module.class_weights=balanced: class(es) {', '.join(map(str, empty))} have "
            "no labels in the train split; give a list of weights instead"
        )
    return [total / (classes * n) for n in counts]


def label_counts(dataset: Any, num_classes: int, column: str = "labels") -> list[int]:
    """How often each class id occurs in a tokenized split's `column` (lists flattened,
    -100 skipped). A streamed split cannot be counted: `ConfigError`."""
    return _label_counts(dataset, num_classes, column)[0]


def _label_counts(dataset: Any, num_classes: int, column: str = "labels") -> tuple[list[int], bool]:
    """`label_counts`, and whether the labels were lists (one per token) rather than one a row."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if not hasattr(dataset, "with_format") or not hasattr(dataset, "column_names"):
        raise ConfigError(
            "task.module.class_weights=balanced counts the train split's labels, which a "
            "streamed split cannot give; set a list of weights instead"
        )
    values: Any = dataset.with_format("arrow")[column]
    nested = False
    while pa.types.is_list(values.type) or pa.types.is_large_list(values.type):
        values, nested = pc.list_flatten(values), True
    ids = np.asarray(values.to_numpy(zero_copy_only=False) if hasattr(values, "to_numpy") else [])
    ids = ids[ids != IGNORE].astype(np.int64)
    return [int(n) for n in np.bincount(ids, minlength=num_classes)[:num_classes]], nested


def counted_line(counted: dict[str, Any]) -> str:
    """The log line for `ClassLoss.counted`: `class weights (balanced, from 243 train rows):
    negative 0.5918, positive 3.284; as a list: task.module.class_weights=[0.5918,3.284]`."""
    as_list = ",".join(f"{w:.4g}" for w in counted["weights"])
    return (
        f"class weights (balanced, from {counted['from']}): {counted_weights(counted)}; "
        f"as a list: task.module.class_weights=[{as_list}]"
    )


def counted_weights(counted: dict[str, Any]) -> str:
    """`negative 0.5918, positive 3.284`: each class's counted weight (`ClassLoss.counted`,
    record.json's `class_weights`), as the log line and the model card say them."""
    weights = counted["weights"]
    labels = counted.get("labels") or [f"class {i}" for i in range(len(weights))]
    return ", ".join(f"{name} {w:.4g}" for name, w in zip(labels, weights, strict=True))


class ClassLoss(nn.Module):
    """Cross entropy with class weights and/or label smoothing over a head's logits.

    Args:
        num_classes: the number of classes (the logits' last dimension).
        class_weights: None, `balanced` (set later by `count_from`), or one weight per class.
        label_smoothing: the share of probability mass spread over all classes, in [0, 1).
        names: class names, for messages.
    """

    weight: torch.Tensor | None

    def __init__(
        self,
        num_classes: int,
        class_weights: str | Sequence[float] | None = None,
        label_smoothing: float = 0.0,
        names: Sequence[str] = (),
    ) -> None:
        super().__init__()
        check_class_weights(class_weights, num_classes, names)
        if not 0 <= label_smoothing < 1:
            raise ConfigError(f"task.module.label_smoothing={label_smoothing} must be in [0, 1)")
        self.num_classes = num_classes
        self.names = list(names)
        self.balanced = class_weights == BALANCED
        # For `balanced`, once counted (`count_from`): {"from", "labels", "weights"}.
        self.counted: dict[str, Any] | None = None
        self.label_smoothing = float(label_smoothing)
        given = None if class_weights is None or self.balanced else list(class_weights)  # type: ignore[arg-type]
        # Not persistent: checkpoints stay as they were; the weights come from the config
        # (or the train split) each time the module is built.
        self.register_buffer(
            "weight",
            torch.tensor(given, dtype=torch.float32) if given is not None else None,
            persistent=False,
        )

    @property
    def active(self) -> bool:
        """Whether this loss differs from the head's own (unweighted, unsmoothed) one."""
        return self.balanced or self.weight is not None or self.label_smoothing > 0

    def count_from(self, dataset: Any) -> None:
        """For `balanced`: weights from the labels of `dataset` (the tokenized train split),
        and `counted` says what was counted (for the run's log line and record.json)."""
        if self.balanced and self.weight is None:
            counts, per_token = _label_counts(dataset, self.num_classes)
            weights = balanced_weights(counts, self.names)
            self.weight = torch.tensor(weights, dtype=torch.float32)
            unit = "scored train tokens" if per_token else "train rows"
            self.counted = {
                "from": f"{sum(counts)} {unit}",
                **({"labels": list(self.names)} if self.names else {}),
                # What `task.module.class_weights=[...]` takes, for a run that cannot count
                # (a streamed split) or should keep these weights.
                "weights": [round(w, 6) for w in weights],
            }

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if self.balanced and self.weight is None:
            raise RuntimeError("class_weights=balanced: count_from(train split) was not called")
        weight = self.weight.to(logits.device) if self.weight is not None else None
        return F.cross_entropy(
            logits.float().reshape(-1, logits.shape[-1]),
            labels.reshape(-1),
            weight=weight,
            ignore_index=IGNORE,
            label_smoothing=self.label_smoothing,
        )

    def target_weight(self, labels: torch.Tensor) -> torch.Tensor:
        """What this batch's mean loss divides by (cross entropy's `mean` with `weight`): the
        labels scored (not `IGNORE`), each counted by its class weight. A split's loss is the
        batches' losses averaged with these weights: the mean over every scored token (or
        row), whatever the batching (weighting by rows averaged NER's per-batch token means)."""
        scored = labels[labels != IGNORE]
        if self.weight is None:
            return torch.tensor(scored.numel(), dtype=torch.float32, device=labels.device)
        return self.weight.to(labels.device)[scored].sum()

    def model_output(self, model: Any, batch: dict[str, torch.Tensor]) -> Any:
        """`model(**batch)`, its `loss` this loss when `active` (else the head's own)."""
        if not self.active:
            return model(**batch)
        output = model(**{k: v for k, v in batch.items() if k != "labels"})
        output["loss"] = self(output.logits, batch["labels"])
        return output


def setup_class_loss(module: Any, loss: ClassLoss) -> None:
    """For `balanced` weights: count the labels of the Trainer's train split (a Lightning
    `setup` hook calls this; the data module is set up by then)."""
    if not loss.balanced or loss.weight is not None:
        return
    trainer = getattr(module, "_trainer", None)
    datamodule = getattr(trainer, "datamodule", None) if trainer is not None else None
    datasets = getattr(datamodule, "datasets", None) or {}
    if "train" not in datasets:
        raise ConfigError(
            "task.module.class_weights=balanced needs the train split's labels, and this run "
            "has no train split loaded; give a list of weights instead"
        )
    loss.count_from(datasets["train"])
    if loss.counted is not None and getattr(trainer, "is_global_zero", True):
        # A report, not a call to action: train.log only (the console shows the data and the
        # model lines); record.json keeps the numbers too (`counted_class_weights`).
        log.info(counted_line(loss.counted), extra=FILE_ONLY_RECORD)


def counted_class_weights(module: Any) -> dict[str, Any] | None:
    """The weights `class_weights=balanced` counted for `module` (its `class_loss.counted`),
    for record.json; None for a module without them."""
    loss = getattr(module, "class_loss", None)
    counted = getattr(loss, "counted", None)
    return dict(counted) if counted else None


class ClassLossTraining:
    """Mixin for a `TaskModule` holding `self.class_loss`: trains on the weighted / smoothed
    loss when one of the options is set, else on the head's own loss (the same
    `model(**batch).loss` `TaskModule` trains on). Under DDP each rank's loss is weighed by
    what it is a mean over, wherever that is not its rows: the target weights' sum with class
    weights, a token head's scored tokens without (its loss is a mean over the tokens of
    the rank's rows; weighing by rows averaged the ranks' token means, where one process
    takes one mean over every token). So the step follows the global batch's mean
    (`lab.training.rank_weights.weight_share`: one all-reduce of a scalar per micro-batch)."""

    def training_step(self: Any, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss: torch.Tensor = self.class_loss.model_output(self.model, batch).loss
        self.log_train_loss(loss, int(batch["labels"].shape[0]), self.loss_weight_sum(batch))
        return loss

    def loss_weight_sum(self: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor | None:
        """Under DDP, the target weights' sum (class weights) or the scored tokens (a token
        head) of the batch; None in one process, and for rows of equal weight."""
        labels = batch["labels"]
        trainer = self._trainer
        by_targets = (self.class_loss.weight is not None or labels.dim() > 1) and (
            trainer is not None and trainer.world_size > 1
        )
        return self.class_loss.target_weight(labels) if by_targets else None
