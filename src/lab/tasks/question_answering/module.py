"""`QuestionAnsweringModule`: start/end cross-entropy, then SQuAD EM/F1 over whole questions.

Each evaluation batch adds its features' start/end logits to a `SpanLogits` metric (gathered
from every rank); at the end of the epoch every question is decoded from all of its windows
(`decoding`) and scored against its gold answers (`scores`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch

from lab.errors import ConfigError
from lab.tasks.base import OptimizerFactory, SchedulerFactory, TaskModule
from lab.tasks.question_answering.data import long_answers_warning
from lab.tasks.question_answering.decoding import postprocess_predictions
from lab.tasks.question_answering.metrics import SpanLogits, windows_from_logits
from lab.tasks.question_answering.scores import squad_scores

if TYPE_CHECKING:
    from transformers import PreTrainedModel

    from lab.tasks.question_answering.data import QAReferences

log = logging.getLogger(__name__)


class QuestionAnsweringModule(TaskModule):
    """Start/end cross-entropy; SQuAD exact match and F1 (0-100) over whole questions.

    Metric keys: `val/loss`, `val/exact_match`, `val/f1` (and `test/...`); with
    `version_2_with_negative` also `val/has_answer_exact_match`, `val/has_answer_f1`,
    `val/no_answer_exact_match`, `val/no_answer_f1`.

    Args:
        references: per evaluation split, its examples and windows (from the data module).
        version_2_with_negative: questions may be unanswerable (SQuAD v2).
        n_best_size: best start and best end positions combined per window.
        max_answer_length: longest answer, in tokens.
        null_score_diff_threshold: v2: answer "" when the null score beats the best span by
            more than this.
        report_examples: test questions shown with their predictions in `test_report.json`.
    """

    progress_bar_metrics = ("f1",)

    def __init__(
        self,
        model: PreTrainedModel,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        *,
        references: Mapping[str, QAReferences] | None = None,
        version_2_with_negative: bool = False,
        n_best_size: int = 20,
        max_answer_length: int = 30,
        null_score_diff_threshold: float = 0.0,
        report_examples: int = 5,
    ) -> None:
        super().__init__(model, optimizer, scheduler)
        if n_best_size < 1 or max_answer_length < 1:
            raise ConfigError(
                f"task.module.n_best_size={n_best_size} and max_answer_length="
                f"{max_answer_length} must both be at least 1"
            )
        self.references = dict(references or {})
        self.version_2_with_negative = version_2_with_negative
        self.n_best_size = n_best_size
        self.max_answer_length = max_answer_length
        self.null_score_diff_threshold = null_score_diff_threshold
        self.report_examples = report_examples
        # The data module counted the evaluated answers; decoding's limit is known here.
        long_answers = long_answers_warning(self.references, max_answer_length)
        if long_answers:
            log.warning(long_answers)
        self.logits = torch.nn.ModuleDict({"val": SpanLogits(), "test": SpanLogits()})
        self.predictions: dict[str, dict[str, str]] = {}

    def evaluation_step(self, batch: dict[str, torch.Tensor], stage: str) -> None:
        inputs = dict(batch)
        feature_index = inputs.pop("feature_index", None)
        output = self.model(**inputs)
        size = int(inputs["input_ids"].shape[0])
        if output.loss is not None:
            self.log_eval_loss(stage, output.loss, size)
        if feature_index is not None:
            metric: Any = self.logits[stage]
            metric.update(
                feature_index,
                output.start_logits.detach(),
                output.end_logits.detach(),
                inputs["attention_mask"],
            )

    def evaluation_metrics(self, stage: str) -> dict[str, torch.Tensor]:
        metric: Any = self.logits[stage]
        split = "validation" if stage == "val" else stage
        references = self.references.get(split)
        if references is None or not metric.update_called:
            metric.reset()
            return {}
        gathered = metric.compute()
        metric.reset()
        contexts = dict(zip(references.ids, references.contexts, strict=True))
        predictions = postprocess_predictions(
            windows_from_logits(references.features, *gathered),
            contexts,
            n_best_size=self.n_best_size,
            max_answer_length=self.max_answer_length,
            version_2_with_negative=self.version_2_with_negative,
            null_score_diff_threshold=self.null_score_diff_threshold,
        )
        self.predictions[stage] = predictions
        scores = squad_scores(
            predictions,
            dict(zip(references.ids, references.answers, strict=True)),
            version_2_with_negative=self.version_2_with_negative,
        )
        return {  # float64: metrics.json holds the SQuAD script's own double
            f"{stage}/{name}": torch.tensor(value, dtype=torch.float64)
            for name, value in scores.items()
            if not name.endswith("total")
        }

    def evaluation_report(self, stage: str) -> dict[str, Any]:
        """A few test questions with their gold answers and the model's prediction."""
        split = "validation" if stage == "val" else stage
        references = self.references.get(split)
        predictions = self.predictions.get(stage)
        if references is None or predictions is None:
            return {}
        shown = []
        for i in range(min(self.report_examples, len(references.ids))):
            qid = references.ids[i]
            shown.append(
                {
                    "id": qid,
                    "question": references.questions[i],
                    "answers": references.answers[i],
                    "prediction": predictions.get(qid, ""),
                }
            )
        return {"version_2_with_negative": self.version_2_with_negative, "examples": shown}
