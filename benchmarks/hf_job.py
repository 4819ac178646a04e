"""The plain Hugging Face Trainer script that `end_to_end.py` times against `python -m lab.train`.

    python benchmarks/hf_job.py --data DIR --model DIR --out FILE [--epochs 1 --batch-size 32 ...]

The job a user would write by hand for the same work as a lab run: tokenize the train,
validation and test rows (dynamic padding), fine-tune with AdamW (weight decay, linear schedule
with warmup, gradient clipping at 1.0), evaluate and save a checkpoint every epoch, load the
best checkpoint at the end (on validation accuracy), predict the test rows, save the model and
tokenizer. It writes the wall-clock time of each phase boundary (`time.time()`), the evaluation
passes' durations, resident memory at the fit's start and end (`resident.resident_memory`:
now and the peak so far), and the accuracies to `--out` as JSON.
"""

from __future__ import annotations

import time

STARTED = time.time()  # before any import: start-up is counted from the driver's launch

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402


def epoch_job_arguments(args: argparse.Namespace, metric: str, **extra: Any) -> Any:
    """`TrainingArguments` of issue 20's job: linear schedule with warmup, clipping at 1.0, an
    evaluation and a checkpoint each epoch, the best (on `metric`) reloaded at the end."""
    import torch
    from transformers import TrainingArguments

    return TrainingArguments(
        output_dir=str(args.out.with_suffix(".hf")),
        per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=args.eval_batch_size,
        learning_rate=args.lr,
        weight_decay=args.weight_decay,
        warmup_steps=args.warmup_ratio,  # transformers 5: a float in [0, 1) is a ratio of all steps
        lr_scheduler_type="linear",
        num_train_epochs=args.epochs,
        max_grad_norm=1.0,
        eval_strategy="epoch",
        save_strategy="epoch",
        save_total_limit=1,
        load_best_model_at_end=True,
        metric_for_best_model=metric,
        logging_steps=10,
        report_to=[],
        seed=args.seed,
        use_cpu=not torch.cuda.is_available(),
        **extra,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="train/validation/test.jsonl")
    parser.add_argument("--model", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--eval-batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--warmup-ratio", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--group-by-length", action="store_true")
    args = parser.parse_args()
    marks: dict[str, float] = {"started": STARTED}

    import numpy as np
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainerCallback,
        set_seed,
    )

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from resident import resident_memory
    from trainers import _encode, load_rows

    marks["imports_done"] = time.time()
    set_seed(args.seed)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    splits = {
        name: _encode(tokenizer, *load_rows(args.data, name), args.max_length)
        for name in ("train", "validation", "test")
    }
    marks["data_done"] = time.time()
    model = AutoModelForSequenceClassification.from_pretrained(args.model, num_labels=2)
    marks["model_done"] = time.time()

    def accuracy(prediction: Any) -> dict[str, float]:
        return {
            "accuracy": float(
                (np.argmax(prediction.predictions, -1) == prediction.label_ids).mean()
            )
        }

    class FirstStep(TrainerCallback):
        def on_step_begin(self, *a: Any, **k: Any) -> None:
            marks.setdefault("first_step", time.time())

    evaluations: list[float] = []

    class TimedTrainer(Trainer):
        def evaluate(self, *a: Any, **k: Any) -> dict[str, float]:
            started = time.time()
            try:
                return super().evaluate(*a, **k)
            finally:
                evaluations.append(time.time() - started)

    training_args = epoch_job_arguments(
        args,
        "accuracy",
        train_sampling_strategy="group_by_length" if args.group_by_length else "random",
    )
    trainer = TimedTrainer(
        model=model,
        args=training_args,
        train_dataset=splits["train"],
        eval_dataset=splits["validation"],
        data_collator=DataCollatorWithPadding(tokenizer),
        processing_class=tokenizer,
        compute_metrics=accuracy,
        callbacks=[FirstStep()],
    )
    marks["fit_start"] = time.time()
    memory = {"fit_start": resident_memory()}
    trainer.train()
    marks["fit_end"] = time.time()
    memory["fit_end"] = resident_memory()
    test = trainer.predict(splits["test"])
    marks["test_end"] = time.time()
    trainer.save_model(str(args.out.with_suffix(".model")))
    marks["export_end"] = time.time()
    result = {
        "marks": marks,
        "evaluation_seconds": evaluations,
        "memory": memory,
        "val_acc": trainer.state.best_metric,
        "test_acc": test.metrics["test_accuracy"],
    }
    args.out.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
