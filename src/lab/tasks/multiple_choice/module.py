"""`MultipleChoiceModule`: cross entropy over N ending scores, accuracy, the test report;
`plot_choice_positions`, the report's figure."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassConfusionMatrix

from lab.tasks.base import OptimizerFactory, SchedulerFactory, TaskModule
from lab.tasks.losses import ClassLoss, ClassLossTraining
from lab.tasks.multiple_choice.inputs import Choice

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from transformers import PreTrainedModel


class MultipleChoiceModule(ClassLossTraining, TaskModule):
    """Cross entropy over each question's N ending scores; accuracy.

    Metric keys: `val/loss`, `val/acc` (and `test/...`). The test report holds the accuracy,
    the confusion matrix of ending positions (gold by row, predicted by column) and the first
    `report_examples` test questions with their gold and predicted endings.

    Args:
        num_choices: N, the endings per question (from the data module).
        test_examples: `fn(count) -> (questions, labels, inputs)` (from the data module).
        report_examples: how many test questions the report shows.
        label_smoothing: label smoothing of the cross entropy over the N endings, in [0, 1).
    """

    progress_bar_metrics = ("acc",)
    hf_metric_names = {"accuracy": "acc"}  # noqa: RUF012 (read only)

    def __init__(
        self,
        model: PreTrainedModel,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        *,
        num_choices: int = 4,
        test_examples: Callable[[int], tuple[list[Choice], list[int], dict[str, Any]]]
        | None = None,
        report_examples: int = 5,
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(model, optimizer, scheduler)
        # Class weights make no sense here (a class is an ending's position); smoothing does.
        self.class_loss = ClassLoss(num_choices, None, label_smoothing)
        accuracy = MetricCollection({"acc": MulticlassAccuracy(num_choices, average="micro")})
        self.metrics = torch.nn.ModuleDict(
            {"val": accuracy.clone(prefix="val/"), "test": accuracy.clone(prefix="test/")}
        )
        self.test_confusion = MulticlassConfusionMatrix(num_choices)
        self.test_examples = test_examples
        self.report_examples = report_examples

    def evaluation_step(self, batch: dict[str, torch.Tensor], stage: str) -> None:
        output = self.class_loss.model_output(self.model, batch)
        self.log_eval_loss(stage, output.loss, batch["labels"].shape[0])
        predictions = output.logits.argmax(dim=-1)
        metrics: Any = self.metrics[stage]
        metrics.update(predictions, batch["labels"])
        if stage == "test":
            self.test_confusion.update(predictions, batch["labels"])

    def evaluation_metrics(self, stage: str) -> dict[str, torch.Tensor]:
        metrics: Any = self.metrics[stage]
        values: dict[str, torch.Tensor] = metrics.compute()
        metrics.reset()
        return values

    def evaluation_report(self, stage: str) -> dict[str, Any]:
        """Accuracy, the position confusion matrix and a few questions with predictions."""
        if stage != "test":
            return {}
        matrix = self.test_confusion.compute().tolist()
        self.test_confusion.reset()
        total = sum(map(sum, matrix))
        correct = sum(matrix[i][i] for i in range(len(matrix)))
        return {
            "accuracy": correct / total if total else 0.0,
            "confusion_matrix": matrix,
            "examples": self._examples(),
        }

    def _examples(self) -> list[dict[str, Any]]:
        if self.test_examples is None or self.report_examples < 1:
            return []
        choices, labels, inputs = self.test_examples(self.report_examples)
        if not choices:
            return []
        with torch.no_grad():
            logits = self.model(**{k: v.to(self.device) for k, v in inputs.items()}).logits
        probabilities = torch.softmax(logits.float(), dim=-1).tolist()
        return [
            {
                **choice._asdict(),
                "gold": gold,
                "predicted": max(range(len(p)), key=p.__getitem__),
                "probabilities": [round(v, 4) for v in p],
            }
            for choice, gold, p in zip(choices, labels, probabilities, strict=True)
        ]


def plot_choice_positions(report: dict[str, Any]) -> Figure | None:
    """How often each ending position is the gold one and the predicted one (test split),
    with the accuracy per gold position: a model biased towards a position shows here."""
    matrix = report.get("confusion_matrix")
    if not matrix:
        return None
    import matplotlib.pyplot as plt

    positions = range(len(matrix))
    gold = [sum(row) for row in matrix]
    predicted = [sum(row[j] for row in matrix) for j in positions]
    figure, axis = plt.subplots(figsize=(max(4.0, 1.2 * len(matrix) + 2), 3.5))
    axis.bar([p - 0.2 for p in positions], gold, width=0.4, label="gold")
    axis.bar([p + 0.2 for p in positions], predicted, width=0.4, label="predicted")
    for p in positions:
        share = matrix[p][p] / gold[p] if gold[p] else 0.0
        axis.text(p, max(gold[p], predicted[p]), f"acc {share:.2f}", ha="center", va="bottom")
    axis.set_ylim(0, 1.15 * max(*gold, *predicted, 1))  # room for the accuracy labels
    axis.set_xticks(list(positions), [f"ending {p}" for p in positions])
    axis.set_ylabel("test questions")
    axis.set_title(f"test accuracy {report.get('accuracy', 0.0):.3f} by ending position")
    axis.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return figure
