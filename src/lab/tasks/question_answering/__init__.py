"""Extractive question answering (SQuAD v1.1 and v2.0): context windows, n-best spans, EM/F1.

One job per module:

- `squad_json`: reading original SQuAD JSON files, flattened into the Hub's row layout.
- `data`: `QuestionAnsweringDataModule`: overlapping context windows, their offsets, the
  answer token labels, and the references evaluation decodes against.
- `decoding`: n-best span decoding over all windows of a question (`decide_answers`), and
  `answer_questions` for raw questions with an exported model (torch + tokenizer only).
- `metrics`: `SpanLogits`, the evaluation logits gathered from every DDP rank, and their
  pairing with windows.
- `scores`: SQuAD answer normalisation, exact match and F1.
- `module`: `QuestionAnsweringModule`, the LightningModule.
- `predictor`: `QuestionAnsweringPredictor`, what `lab.predict` / `lab.serve` run.
- `card`: the model card's usage code (`task.card_usage`: `answer_questions` with the run's
  windows and decoding).

This file stays light: importing the package (or `decoding` / `predictor`) does not import
Lightning. The training classes resolve lazily under their old names
(`lab.tasks.question_answering.QuestionAnsweringModule`), which run directories written
before the package existed name in their `config.yaml`.
"""

from __future__ import annotations

from lab.tasks.lazy import lazy_exports

__all__ = ["QuestionAnsweringDataModule", "QuestionAnsweringModule", "answer_questions"]

# Old dotted names -> the module that now holds them (imported on first use only: config
# rules read this package's files without importing torch).
_LAZY = {
    "answer_questions": "lab.tasks.question_answering.decoding",
    "QuestionAnsweringDataModule": "lab.tasks.question_answering.data",
    "QuestionAnsweringModule": "lab.tasks.question_answering.module",
}

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals)
