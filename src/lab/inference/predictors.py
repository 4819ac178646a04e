"""Per-head inference on raw rows: what `lab.predict` writes and `lab.serve` answers.

A predictor wraps a run's exported model and tokenizer and turns a batch of input rows
(dicts with the head's fields) into one result dict per row. It works from the exported
model alone, not the training module: what is served is exactly what was exported.

Each head's predictor is a few lines here rather than in its `lab/tasks/<head>.py`, because
it needs only the exported model, while the head files hold training code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from omegaconf import DictConfig

from lab.errors import LabError


class Predictor:
    """Batched inference for one head.

    Args:
        model: the exported Hugging Face model (eval mode).
        tokenizer: its tokenizer.
        cfg: the run's resolved config (column names, lengths, thresholds).
    """

    #: input fields every row must have (non-empty strings unless `check` says otherwise)
    fields: tuple[str, ...] = ("text",)
    #: result keys (the CSV header of `lab.predict`)
    outputs: tuple[str, ...] = ()

    def __init__(self, model: Any, tokenizer: Any, cfg: DictConfig) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.cfg = cfg
        self.max_length = int(cfg.data.get("max_length") or tokenizer.model_max_length or 512)

    def check(self, row: dict[str, Any]) -> str | None:
        """Why `row` cannot be predicted (missing/empty field, wrong type), or None."""
        for field in self.fields:
            if field not in row:
                return f"missing field '{field}' (fields present: {', '.join(row) or 'none'})"
            value = row[field]
            if not isinstance(value, str):
                return f"field '{field}' must be a string, got {type(value).__name__}"
            if not value.strip():
                return f"field '{field}' is empty"
        return None

    def predict(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """One result dict per row (rows already passed `check`)."""
        raise NotImplementedError

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device


class SequenceClassificationPredictor(Predictor):
    """Single-label (label + probabilities), multi-label (labels over threshold), regression."""

    def __init__(self, model: Any, tokenizer: Any, cfg: DictConfig) -> None:
        super().__init__(model, tokenizer, cfg)
        self.text_field = str(cfg.data.get("text_column") or "text")
        self.pair_field = cfg.data.get("text_pair_column")
        self.fields = (self.text_field, *([str(self.pair_field)] if self.pair_field else []))
        self.problem = str(cfg.data.get("problem_type") or "single_label")
        config = model.config
        self.labels = [config.id2label[i] for i in range(config.num_labels)]
        threshold = cfg.task.module.get("threshold", 0.5)
        self.thresholds = (
            [float(t) for t in threshold]
            if isinstance(threshold, Sequence) and not isinstance(threshold, str)
            else [float(threshold)] * len(self.labels)
        )
        self.outputs = {
            "single_label": ("label", "probabilities"),
            "multi_label": ("labels", "probabilities"),
            "regression": ("score",),
        }[self.problem]

    def predict(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        texts = [row[self.text_field] for row in rows]
        pairs = [row[str(self.pair_field)] for row in rows] if self.pair_field else None
        inputs = self.tokenizer(
            texts,
            pairs,
            truncation=True,
            max_length=self.max_length,
            padding=True,
            return_tensors="pt",
        ).to(self.device)
        with torch.no_grad():
            logits = self.model(**inputs).logits.float()
        if self.problem == "regression":
            return [{"score": float(v)} for v in logits[:, 0].tolist()]
        if self.problem == "multi_label":
            probabilities = torch.sigmoid(logits).tolist()
            return [
                {
                    "labels": [
                        name
                        for name, p, t in zip(self.labels, row, self.thresholds, strict=True)
                        if p >= t
                    ],
                    "probabilities": dict(zip(self.labels, row, strict=True)),
                }
                for row in probabilities
            ]
        probabilities = torch.softmax(logits, dim=-1).tolist()
        return [
            {
                "label": self.labels[max(range(len(row)), key=row.__getitem__)],
                "probabilities": dict(zip(self.labels, row, strict=True)),
            }
            for row in probabilities
        ]


class TokenClassificationPredictor(Predictor):
    """Entities with character spans (`transformers` token-classification, simple grouping).

    A row gives `text` (a string), or the data's tokens column (a list of words, joined with
    spaces, so spans refer to the joined text).
    """

    outputs = ("entities",)

    def __init__(self, model: Any, tokenizer: Any, cfg: DictConfig) -> None:
        from transformers import pipeline

        super().__init__(model, tokenizer, cfg)
        self.tokens_field = str(cfg.data.get("tokens_column") or "tokens")
        self.pipeline = pipeline(
            "token-classification",
            model=model,
            tokenizer=tokenizer,
            aggregation_strategy="simple",
            device=self.device,
        )

    def check(self, row: dict[str, Any]) -> str | None:
        words = row.get(self.tokens_field)
        if "text" not in row and isinstance(words, list):
            if not words or not all(isinstance(w, str) for w in words):
                return f"field '{self.tokens_field}' must be a non-empty list of strings"
            row["text"] = " ".join(words)
            return None
        return super().check(row)

    def predict(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        texts = [row["text"] for row in rows]
        found = self.pipeline(texts, batch_size=len(texts))
        # The entity text is cut from the input by its span: the pipeline's `word` is
        # decoded from subwords (lowercased by uncased tokenizers, spaces lost).
        return [
            {
                "entities": [
                    {
                        "type": entity["entity_group"],
                        "text": text[int(entity["start"]) : int(entity["end"])],
                        "start": int(entity["start"]),
                        "end": int(entity["end"]),
                        "score": float(entity["score"]),
                    }
                    for entity in entities
                ]
            }
            for text, entities in zip(texts, found, strict=True)
        ]


class _Generator(Predictor):
    """Shared by the generating heads: tokenize a batch, `generate`, decode."""

    outputs = ("generated_text",)
    max_new_tokens = 32
    num_beams = 1

    def generate(self, texts: list[str]) -> tuple[Any, Any]:
        """(inputs, output ids) for a batch of texts (greedy or beam search)."""
        inputs = self.tokenizer(
            texts, return_tensors="pt", padding=True, truncation=True, max_length=self.max_length
        ).to(self.device)
        with torch.no_grad():
            output = self.model.generate(
                **inputs,
                max_new_tokens=self.max_new_tokens,
                num_beams=self.num_beams,
                do_sample=False,
                pad_token_id=self.tokenizer.pad_token_id,
            )
        return inputs, output


class GenerationPredictor(_Generator):
    """Greedy (or beam) continuation of a prompt by a causal LM: `generated_text`."""

    def __init__(self, model: Any, tokenizer: Any, cfg: DictConfig) -> None:
        super().__init__(model, tokenizer, cfg)
        module = cfg.task.module
        self.max_new_tokens = int(module.get("sample_max_new_tokens") or 32)
        self.num_beams = int(module.get("num_beams") or 1)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "left"  # generation continues at the right edge

    def predict(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        prompts = [row["text"] for row in rows]
        inputs, output = self.generate(prompts)
        new_tokens = output[:, inputs["input_ids"].shape[1] :]  # a decoder repeats its prompt
        texts = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        return [
            {"generated_text": prompt + text} for prompt, text in zip(prompts, texts, strict=True)
        ]


class QuestionAnsweringPredictor(Predictor):
    """The answer to `question` in `context`: `answer`, character `start`/`end`, `score`.

    Long contexts are windowed as in training (`data.max_length`, `data.doc_stride`); the
    answer is decided over all windows (`lab.tasks.question_answering.answer_questions`).
    `score` is the span's probability; SQuAD v2 models may answer "" (no answer).
    """

    outputs = ("answer", "start", "end", "score")

    def __init__(self, model: Any, tokenizer: Any, cfg: DictConfig) -> None:
        super().__init__(model, tokenizer, cfg)
        self.fields = (
            str(cfg.data.get("question_column") or "question"),
            str(cfg.data.get("context_column") or "context"),
        )

    def predict(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        from lab.tasks.question_answering import answer_questions

        data, module = self.cfg.data, self.cfg.task.module
        question, context = self.fields
        answers = answer_questions(
            self.model,
            self.tokenizer,
            [row[question] for row in rows],
            [row[context] for row in rows],
            max_length=self.max_length,
            doc_stride=int(data.get("doc_stride") or 128),
            n_best_size=int(module.get("n_best_size") or 20),
            max_answer_length=int(module.get("max_answer_length") or 30),
            version_2_with_negative=bool(data.get("version_2_with_negative")),
            null_score_diff_threshold=float(module.get("null_score_diff_threshold") or 0.0),
        )
        return [
            {"answer": a.text, "start": a.start, "end": a.end, "score": a.score} for a in answers
        ]


class Seq2SeqPredictor(_Generator):
    """Summary or translation by an encoder-decoder: `generated_text`.

    The input field is the run's `data.source_column` (e.g. XSum's `document`), or `text` for
    translation data whose column holds `{language: text}`. The run's `data.source_prefix`
    (e.g. T5's `summarize: `) is prepended and the source cut at `data.max_source_length`, as
    in training; `task.module.num_beams` and `max_new_tokens` as at evaluation.
    """

    def __init__(self, model: Any, tokenizer: Any, cfg: DictConfig) -> None:
        super().__init__(model, tokenizer, cfg)
        column = cfg.data.get("source_column")
        self.fields = ("text",) if cfg.data.get("source_lang") or not column else (str(column),)
        self.prefix = str(cfg.data.get("source_prefix") or "")
        self.max_length = int(cfg.data.get("max_source_length") or self.max_length)
        self.max_new_tokens = int(cfg.task.module.get("max_new_tokens") or 64)
        self.num_beams = int(cfg.task.module.get("num_beams") or 1)

    def predict(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        _, output = self.generate([self.prefix + row[self.fields[0]] for row in rows])
        texts = self.tokenizer.batch_decode(output, skip_special_tokens=True)
        return [{"generated_text": text.strip()} for text in texts]


# Task module class -> predictor class.
PREDICTORS: dict[str, type[Predictor]] = {
    "TextClassificationModule": SequenceClassificationPredictor,
    "MultiLabelClassificationModule": SequenceClassificationPredictor,
    "RegressionModule": SequenceClassificationPredictor,
    "TokenClassificationModule": TokenClassificationPredictor,
    "CausalLMModule": GenerationPredictor,
    "QuestionAnsweringModule": QuestionAnsweringPredictor,
    "Seq2SeqModule": Seq2SeqPredictor,
}


def predictor_for(run: Any, device: str | None = None) -> Predictor:
    """The predictor of a `lab.run_dir.runs.TrainedRun`, its exported model loaded on `device`."""
    from lab.run_dir.runs import load_exported

    kind = PREDICTORS.get(run.task_module)
    if kind is None:
        raise LabError(
            f"no predictor for the {run.task_module} head; heads with one: {', '.join(PREDICTORS)}"
        )
    model, tokenizer = load_exported(run)
    model.to(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    return kind(model, tokenizer, run.config)


def predict_rows(predictor: Predictor, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Results for `rows`, an `{"error": ...}` entry for each bad row instead of a crash.

    Rows that pass `check` are predicted as one batch; if the batch fails, each row is
    retried alone so one odd row cannot take its neighbours down.
    """
    results: list[dict[str, Any] | None] = [None] * len(rows)
    good: list[int] = []
    for index, row in enumerate(rows):
        problem = predictor.check(row)
        if problem:
            results[index] = {"error": problem}
        else:
            good.append(index)
    if good:
        try:
            batch = predictor.predict([rows[i] for i in good])
        except Exception:
            batch = [_predict_one(predictor, rows[i]) for i in good]
        for index, result in zip(good, batch, strict=True):
            results[index] = result
    return [r if r is not None else {"error": "not predicted"} for r in results]


def _predict_one(predictor: Predictor, row: dict[str, Any]) -> dict[str, Any]:
    try:
        return predictor.predict([row])[0]
    except Exception as err:
        return {"error": f"{type(err).__name__}: {err}"}
