"""`QuestionAnsweringPredictor`: what `lab.predict` and `lab.serve` do with a QA run.

It works from the exported model alone and imports inference-side code only (`decoding`),
never the training module or the data module, so serving does not load Lightning.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from omegaconf import DictConfig

from lab.inference.predictors import Predictor
from lab.tasks.question_answering.decoding import answer_questions
from lab.tasks.question_answering.question_room import (
    predict_fix,
    question_room_problem,
    question_tokens,
)


class QuestionAnsweringPredictor(Predictor):
    """The answer to `question` in `context`: `answer`, character `start`/`end`, `score`.

    Long contexts are windowed as in training (`data.max_length`, `data.doc_stride`); the
    answer is decided over all windows (`lab.tasks.question_answering.answer_questions`).
    `score` is the span's probability; SQuAD v2 models may answer "" (no answer). A question
    that leaves a window too little context is refused by `check`, in training's words.
    """

    outputs = ("answer", "start", "end", "score")
    settings = ("n_best_size", "max_answer_length", "null_score_diff_threshold")

    def __init__(self, model: Any, tokenizer: Any, cfg: DictConfig) -> None:
        super().__init__(model, tokenizer, cfg)
        self.fields = (
            str(cfg.data.get("question_column") or "question"),
            str(cfg.data.get("context_column") or "context"),
        )
        self.doc_stride = int(cfg.data.get("doc_stride") or 128)

    def check(self, row: dict[str, Any]) -> str | None:
        """As `Predictor.check`, and the question must leave each window more context than
        `data.doc_stride` tokens (`question_room_problem`), as training requires."""
        problem = super().check(row)
        if problem is not None:
            return problem
        question = row[self.fields[0]].lstrip()  # as the windows read it
        (length,) = question_tokens(self.tokenizer, [question])
        return question_room_problem(
            self.tokenizer,
            length,
            self.max_length,
            self.doc_stride,
            what=f"the question ('{self.fields[0]}')",
            fix=predict_fix(self.max_length),
        )

    def predict(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        data, module = self.cfg.data, self.cfg.task.module
        question, context = self.fields
        answers = answer_questions(
            self.model,
            self.tokenizer,
            [row[question] for row in rows],
            [row[context] for row in rows],
            max_length=self.max_length,
            doc_stride=self.doc_stride,
            n_best_size=int(module.get("n_best_size") or 20),
            max_answer_length=int(module.get("max_answer_length") or 30),
            version_2_with_negative=bool(data.get("version_2_with_negative")),
            null_score_diff_threshold=float(module.get("null_score_diff_threshold") or 0.0),
        )
        return [
            {"answer": a.text, "start": a.start, "end": a.end, "score": a.score} for a in answers
        ]
