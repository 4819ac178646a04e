"""Class weights and label smoothing for the cross-entropy heads (`task.module.class_weights`,
`task.module.label_smoothing`): text classification, token classification, multiple choice.

`ClassLoss` replaces the head's own loss only when one of the options is set, so a run
without them computes exactly what the Hugging Face head computes. With them, the loss is
`torch.nn.functional.cross_entropy(logits, labels, weight=..., label_smoothing=...)` over every
label that is not -100, in training and evaluation alike (`val/loss` is the loss trained on).

`class_weights=balanced` weighs class c by n / (C * n_c) (n labels in the train split, C
classes, n_c labels of class c: scikit-learn's `balanced`), counted on the tokenized train
split when training starts: rows for text classification, scored tokens for token
classification.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lab.errors import ConfigError

BALANCED = "balanced"
IGNORE = -100  # the label id the loss skips (sub-word tokens, padding)


def check_class_weights(weights: Any, num_classes: int, names: Sequence[str] = ()) -> None:
    """`weights` must be null, `balanced`, or one positive number per class."""
    if weights is None or weights == BALANCED:
        return
    if isinstance(weights, str):
        raise ConfigError(
            f"task.module.class_weights={weights}: use balanced, a list of {num_classes} "
            "numbers, or null"
        )
    values = list(weights)
    if len(values) != num_classes:
        classes = f" ({', '.join(map(str, names))})" if names else ""
        raise ConfigError(
            f"task.module.class_weights has {len(values)} weights but the model has "
            f"{num_classes} classes{classes}: give one weight per class, in label order"
        )
    if any(not isinstance(v, (int, float)) or isinstance(v, bool) or v <= 0 for v in values):
        raise ConfigError(f"task.module.class_weights={values}: every weight must be > 0")


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
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if not hasattr(dataset, "with_format") or not hasattr(dataset, "column_names"):
        raise ConfigError(
            "task.module.class_weights=balanced counts the train split's labels, which a "
            "streamed split cannot give; set a list of weights instead"
        )
    values: Any = dataset.with_format("arrow")[column]
    while pa.types.is_list(values.type) or pa.types.is_large_list(values.type):
        values = pc.list_flatten(values)
    ids = np.asarray(values.to_numpy(zero_copy_only=False) if hasattr(values, "to_numpy") else [])
    ids = ids[ids != IGNORE].astype(np.int64)
    return [int(n) for n in np.bincount(ids, minlength=num_classes)[:num_classes]]


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
        """For `balanced`: weights from the labels of `dataset` (the tokenized train split)."""
        if self.balanced and self.weight is None:
            weights = balanced_weights(label_counts(dataset, self.num_classes), self.names)
            self.weight = torch.tensor(weights, dtype=torch.float32)

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


class ClassLossTraining:
    """Mixin for a `TaskModule` holding `self.class_loss`: trains on the weighted / smoothed
    loss when one of the options is set, else on the head's own loss (`TaskModule`)."""

    def training_step(self: Any, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        if not self.class_loss.active:
            return super().training_step(batch, batch_idx)  # type: ignore[misc,no-any-return]
        loss: torch.Tensor = self.class_loss.model_output(self.model, batch).loss
        self.log("train/loss", loss, prog_bar=True, batch_size=batch["labels"].shape[0])
        return loss
