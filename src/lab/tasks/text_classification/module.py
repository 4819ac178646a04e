"""`TextClassificationModule`: the LightningModule of single-label classification (loss,
accuracy, macro F1 / precision / recall, Matthews correlation, with two classes the positive
class's F1, the test confusion matrix and per-class scores), and `plot_confusion_matrix`, the
test report's figure (`confusion_plot`; named here too, as the task YAML and run directories
name it).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torchmetrics import Metric, MetricCollection
from torchmetrics.classification import (
    BinaryF1Score,
    MulticlassAccuracy,
    MulticlassConfusionMatrix,
    MulticlassF1Score,
    MulticlassMatthewsCorrCoef,
    MulticlassPrecision,
    MulticlassRecall,
)

from lab.log_records import FILE_ONLY_RECORD
from lab.tasks.base import OptimizerFactory, SchedulerFactory, TaskModule
from lab.tasks.losses import ClassLoss, ClassLossTraining, setup_class_loss
from lab.tasks.multi_label import per_class_scores
from lab.tasks.text_classification.confusion_plot import (
    plot_confusion_matrix as plot_confusion_matrix,  # task.report_plots' name for it
)

if TYPE_CHECKING:
    from transformers import PreTrainedModel

log = logging.getLogger(__name__)


class MatthewsCorrCoef(MulticlassMatthewsCorrCoef):
    """Matthews correlation (Gorodkin's R_K for more than two classes) from the confusion
    matrix, as sklearn's `matthews_corrcoef` and GLUE's CoLA score compute it: 0 where the
    denominator is 0 (one class predicted for every row, or one class present).

    torchmetrics' own `compute` departs from sklearn there, for two classes only: a model that
    predicts one class for every row scores a number that is not 0 (0.087 on CoLA's 70/30
    split where sklearn says 0: an epsilon-smoothed formula), and a split of one class, all
    right, scores 1. A collapsed model would look better than chance to
    `optimized_metric=val/mcc`. The sums are float64 (on the CPU: MPS has none): the
    covariances are differences of terms near rows^2.
    """

    def compute(self) -> torch.Tensor:
        confmat = self.confmat.detach().cpu().double()
        true_sum, predicted_sum = confmat.sum(dim=1), confmat.sum(dim=0)
        rows = confmat.sum()
        cov_true_predicted = torch.trace(confmat) * rows - true_sum @ predicted_sum
        cov_predicted = rows**2 - predicted_sum @ predicted_sum
        cov_true = rows**2 - true_sum @ true_sum
        denominator = cov_predicted * cov_true
        if denominator > 0:
            value = cov_true_predicted / denominator.sqrt()
        else:
            value = torch.zeros((), dtype=torch.float64)
        return value.to(self.confmat.device, torch.float32)


def classification_metrics(num_labels: int) -> MetricCollection:
    """The metrics of one stage, keyed by name (`acc`, `f1`, ...; see
    `TextClassificationModule`); `f1_positive` only with two classes."""
    metrics: dict[str, Metric | MetricCollection] = {
        "acc": MulticlassAccuracy(num_labels, average="micro"),
        "f1": MulticlassF1Score(num_labels, average="macro"),
        "precision": MulticlassPrecision(num_labels, average="macro"),
        "recall": MulticlassRecall(num_labels, average="macro"),
        "mcc": MatthewsCorrCoef(num_labels),
    }
    if num_labels == 2:
        # Predictions and labels are the ids 0/1, so label id 1 is the positive class
        # (GLUE's MRPC `equivalent`, QQP `duplicate`; sklearn's `f1_score(y, p)`).
        metrics["f1_positive"] = BinaryF1Score()
    return MetricCollection(metrics)


def per_class_table(
    matrix: Sequence[Sequence[int]], labels: Sequence[str]
) -> dict[str, dict[str, float | int]]:
    """`{label: {precision, recall, f1, support}}` from a confusion matrix (true class by row):
    a class's true positives are its diagonal cell, its false positives the rest of its
    column, its false negatives the rest of its row. The scores are multi-label's
    `per_label` (`lab.tasks.multi_label.per_class_scores`: 0.0 where a ratio has no
    denominator, sklearn's `zero_division=0`); support is the rows labelled with the class.
    The numbers behind the macro averages (`test/f1`, ...), readable where a matrix of many
    classes is not."""
    predicted = [sum(column) for column in zip(*matrix, strict=True)]
    return {
        str(labels[i]): per_class_scores(row[i], predicted[i] - row[i], sum(row) - row[i])
        for i, row in enumerate(matrix)
    }


def positive_class_line(id2label: Mapping[Any, str]) -> str | None:
    """The line naming the class `f1_positive` scores (label id 1) in a two-class run, None
    with any other count of classes."""
    if len(id2label) != 2:
        return None
    name = {int(k): str(v) for k, v in id2label.items()}.get(1, "1")
    return f"val/f1_positive and test/f1_positive are the F1 of class 1, '{name}'"


class TextClassificationModule(ClassLossTraining, TaskModule):
    """Cross-entropy classification: accuracy, macro F1 / precision / recall, Matthews
    correlation; with two classes also the F1 of the positive class.

    Metric keys (and `test/...`): `val/loss`, `val/acc`, `val/f1`, `val/precision`,
    `val/recall` (macro averages over the classes, also for two), `val/mcc` (Matthews
    correlation, sklearn's `matthews_corrcoef`: GLUE's CoLA score) and, with exactly two
    classes, `val/f1_positive`: the binary F1 of label id 1 (sklearn's `f1_score(y, p)`,
    GLUE's MRPC / QQP F1), whose name the run logs when first set up (`positive_class_line`).
    Any of them can be `optimized_metric`.

    Args:
        class_weights: None, `balanced` (from the train split's label counts) or one weight
            per class in label order (`lab.tasks.losses`).
        label_smoothing: label smoothing of the cross entropy, in [0, 1).
    """

    progress_bar_metrics = ("acc",)
    # f1_positive with two classes only (`metric_notes`)
    metric_names = ("loss", "acc", "f1", "precision", "recall", "mcc", "f1_positive")
    hf_metric_names = {"accuracy": "acc", "matthews_correlation": "mcc"}  # noqa: RUF012

    def __init__(
        self,
        model: PreTrainedModel,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        *,
        class_weights: str | Sequence[float] | None = None,
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(model, optimizer, scheduler)
        num_labels = int(model.config.num_labels)  # type: ignore[arg-type]
        id2label: dict[Any, str] = dict(model.config.id2label or {})
        names = [str(id2label.get(i, i)) for i in range(num_labels)]
        self.class_loss = ClassLoss(num_labels, class_weights, label_smoothing, names)
        metrics = classification_metrics(num_labels)
        if num_labels != 2:  # why `optimized_metric=val/f1_positive` finds nothing logged
            self.metric_notes = {
                "f1_positive": f"is logged with two classes only; this run has {num_labels} "
                "(val/f1 is the macro F1)"
            }
        self.metrics = torch.nn.ModuleDict(
            {"val": metrics.clone(prefix="val/"), "test": metrics.clone(prefix="test/")}
        )
        self.test_confusion = MulticlassConfusionMatrix(num_labels)

    def setup(self, stage: str) -> None:
        setup_class_loss(self, self.class_loss)
        # Which class "positive" is follows the label order (sorted label values: 负面 sorts
        # after 正面), so the run says it once: at its first setup (fit; test sets up again).
        if not getattr(self, "_positive_class_said", False):
            self._positive_class_said = True
            line = positive_class_line(self.model.config.id2label or {})
            if line and getattr(self._trainer, "is_global_zero", True):
                log.info(line, extra=FILE_ONLY_RECORD)  # train.log; the card names it too

    def evaluation_step(self, batch: dict[str, torch.Tensor], stage: str) -> None:
        output = self.class_loss.model_output(self.model, batch)
        labels = batch["labels"]  # weighted by class: a batch's mean divides by its weights
        self.log_eval_loss(
            stage, output.loss, labels.shape[0], self.class_loss.target_weight(labels)
        )
        predictions = output.logits.argmax(dim=-1)
        self._metrics(stage).update(predictions, batch["labels"])
        if stage == "test":
            self.test_confusion.update(predictions, batch["labels"])

    def evaluation_metrics(self, stage: str) -> dict[str, torch.Tensor]:
        metrics = self._metrics(stage)
        values = metrics.compute()
        metrics.reset()
        return values

    def evaluation_report(self, stage: str) -> dict[str, Any]:
        """The test confusion matrix (rows are true labels, columns predicted labels) and,
        per class, its precision, recall, F1 and support (`per_class_table`)."""
        if stage != "test":
            return {}
        matrix = self.test_confusion.compute().tolist()
        self.test_confusion.reset()
        id2label: dict[int, str] = self.model.config.id2label  # type: ignore[assignment]
        labels = [id2label[i] for i in range(len(matrix))]
        return {
            "labels": labels,
            "confusion_matrix": matrix,
            "per_label": per_class_table(matrix, labels),
        }

    def _metrics(self, stage: str) -> MetricCollection:
        return self.metrics[stage]  # type: ignore[return-value]
