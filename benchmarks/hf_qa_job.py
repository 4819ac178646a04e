"""The plain Hugging Face Trainer script for extractive QA that `qa_memory.py` runs beside lab.

    python benchmarks/hf_qa_job.py --data DIR --model DIR --out FILE [--epochs 1 ...]

The job a user would write from `transformers`' `run_qa.py` for the same work as
`python -m lab.train data=squad data.path=DIR`: `DIR/train.jsonl` (5% carved as validation with
the same seeded `train_test_split` as lab) and `DIR/validation.jsonl` (the test split, as lab's
`data=squad`), in the Hub's SQuAD columns. Preprocessing as `run_qa.py`: the question first,
the context cut into windows of `--max-length` tokens overlapping by `--doc-stride`, every
window padded to `--max-length`; a training window's target is the answer's first and last
token when the answer lies wholly inside it, else the classification token. Training as lab's
squad defaults: AdamW (lr 5e-5, weight decay 0.01), linear schedule with 6% warmup, clipping at
1.0, batch 16, evaluation batch 64; evaluation, a checkpoint each epoch, the best (validation
F1) loaded at the end, the test split predicted, the model saved. Postprocessing is
`run_qa.py`'s n-best search (20 best starts x 20 best ends per window, spans of at most 30
tokens inside the context, best start + end logit over a question's windows); EM/F1 with lab's
`scores.py` (the official SQuAD formula).

Writes the wall-clock time of each phase boundary, the resident memory at each (`rss_mb` now,
`peak_rss_mb` so far, from `/proc/self/status`) and the scores to `--out` as JSON.
"""

from __future__ import annotations

import time

STARTED = time.time()  # before any import: start-up is counted from the driver's launch

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

HERE = Path(__file__).resolve().parent


def windows(tokenizer: Any, rows: Any, max_length: int, stride: int, train: bool) -> Any:
    """`run_qa.py`'s `prepare_train_features` / `prepare_validation_features` in one (answer
    labels via lab's `answer_token_span`, the same rule as `run_qa.py`)."""
    from lab.tasks.question_answering.data import answer_token_span

    encoded = tokenizer(
        [q.lstrip() for q in rows["question"]],
        rows["context"],
        truncation="only_second",
        max_length=max_length,
        stride=stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding="max_length",
    )
    example_of = encoded.pop("overflow_to_sample_mapping")
    offsets = encoded.pop("offset_mapping")
    starts, ends, example_ids, masked = [], [], [], []
    for i, window_offsets in enumerate(offsets):
        row, sequence_ids = example_of[i], encoded.sequence_ids(i)
        answers = rows["answers"][row]
        first = answers["answer_start"][0]
        span = answer_token_span(
            window_offsets, sequence_ids, first, first + len(answers["text"][0])
        )
        starts.append(span[0])
        ends.append(span[1])
        if not train:
            example_ids.append(rows["id"][row])
            masked.append(
                [o if s == 1 else None for o, s in zip(window_offsets, sequence_ids, strict=True)]
            )
    # Evaluation windows keep their labels too (an evaluation loss, as lab logs; the Trainer
    # calls compute_metrics only with labels) and their example ids and offsets.
    encoded["start_positions"], encoded["end_positions"] = starts, ends
    if not train:
        encoded["example_id"], encoded["offset_mapping"] = example_ids, masked
    return encoded


def postprocess(
    features: Any, contexts: dict[str, str], start: Any, end: Any, n_best: int = 20
) -> dict[str, str]:
    """`run_qa.py`'s n-best span search: each question's best span over its windows."""
    import numpy as np

    best: dict[str, tuple[float, str]] = {}
    for i, (qid, offsets) in enumerate(
        zip(features["example_id"], features["offset_mapping"], strict=True)
    ):
        best.setdefault(qid, (-np.inf, ""))
        for s in np.argsort(start[i])[-1 : -n_best - 1 : -1]:
            for e in np.argsort(end[i])[-1 : -n_best - 1 : -1]:
                if offsets[s] is None or offsets[e] is None or e < s or e - s + 1 > 30:
                    continue
                score = float(start[i][s] + end[i][e])
                if score > best[qid][0]:
                    best[qid] = (score, contexts[qid][offsets[s][0] : offsets[e][1]])
    return {qid: text for qid, (_, text) in best.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="train/validation.jsonl")
    parser.add_argument("--model", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--eval-batch-size", type=int, default=64)
    parser.add_argument("--max-length", type=int, default=384)
    parser.add_argument("--doc-stride", type=int, default=128)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--warmup-ratio", type=float, default=0.06)
    parser.add_argument("--val-fraction", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    sys.path.insert(0, str(HERE))
    from hf_job import epoch_job_arguments
    from phase_clock import resident_memory

    marks: dict[str, dict[str, float]] = {"started": {"time": STARTED}}

    def mark(name: str) -> None:
        marks[name] = {"time": time.time(), **resident_memory()}

    from datasets import load_dataset
    from transformers import (
        AutoModelForQuestionAnswering,
        AutoTokenizer,
        Trainer,
        TrainerCallback,
        default_data_collator,
        set_seed,
    )

    from lab.tasks.question_answering.scores import squad_scores

    mark("imports_done")
    set_seed(args.seed)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    raw = load_dataset(
        "json",
        data_files={s: str(args.data / f"{s}.jsonl") for s in ("train", "validation")},
    )
    carved = raw["train"].train_test_split(test_size=args.val_fraction, seed=args.seed)
    splits = {"train": carved["train"], "validation": carved["test"], "test": raw["validation"]}
    features = {
        name: rows.map(
            lambda b, t=name == "train": windows(tokenizer, b, args.max_length, args.doc_stride, t),
            batched=True,
            remove_columns=rows.column_names,
        )
        for name, rows in splits.items()
    }
    contexts = {
        name: dict(zip(rows["id"], rows["context"], strict=True)) for name, rows in splits.items()
    }
    golds = {
        name: {qid: a["text"] for qid, a in zip(rows["id"], rows["answers"], strict=True)}
        for name, rows in splits.items()
    }
    mark("data_done")
    model = AutoModelForQuestionAnswering.from_pretrained(args.model)
    mark("model_done")

    def scores(name: str, start: Any, end: Any) -> dict[str, float]:
        predictions = postprocess(features[name], contexts[name], start, end)
        return squad_scores(predictions, golds[name])

    def compute_metrics(prediction: Any) -> dict[str, float]:
        start, end = prediction.predictions[:2]
        return {k: v for k, v in scores("validation", start, end).items() if k != "total"}

    class Marks(TrainerCallback):
        def on_step_begin(self, *a: Any, **k: Any) -> None:
            if "first_step" not in marks:
                mark("first_step")

    evaluations: list[float] = []

    class TimedTrainer(Trainer):
        def evaluate(self, *a: Any, **k: Any) -> dict[str, float]:
            started = time.time()
            mark(f"evaluation_{len(evaluations)}_start")
            try:
                return super().evaluate(*a, **k)
            finally:
                evaluations.append(time.time() - started)
                mark(f"evaluation_{len(evaluations) - 1}_end")

    training_args = epoch_job_arguments(args, "f1")
    trainer = TimedTrainer(
        model=model,
        args=training_args,
        train_dataset=features["train"],
        eval_dataset=features["validation"],
        data_collator=default_data_collator,
        processing_class=tokenizer,
        compute_metrics=compute_metrics,
        callbacks=[Marks()],
    )
    mark("fit_start")
    trainer.train()
    mark("fit_end")
    test = trainer.predict(features["test"])
    test_scores = scores("test", *test.predictions[:2])
    mark("test_end")
    trainer.save_model(str(args.out.with_suffix(".model")))
    mark("export_end")
    result = {
        "marks": marks,
        "evaluation_seconds": evaluations,
        "val_f1": trainer.state.best_metric,
        "test_exact_match": test_scores["exact_match"],
        "test_f1": test_scores["f1"],
        "train_windows": len(features["train"]),
        "test_windows": len(features["test"]),
    }
    args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
