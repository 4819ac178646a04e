"""One training run of one implementation, timed; run by `compare_trainers.py` in a subprocess.

    python benchmarks/trainers.py --impl lab|hf|torch --data DIR --steps N [...] --out FILE

All three train the same model on the same rows with the same batch size, learning rate,
linear schedule with warmup, gradient clipping and dynamic padding, then score accuracy on
the same test rows. Timing is steady-state training only: the first `--warmup` steps and
everything before (imports, model load, tokenization) are excluded from samples/s and
reported separately as time to first step (from process start).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

PROCESS_START = time.perf_counter()
ROOT = Path(__file__).resolve().parent.parent


class StepClock:
    """Wall time at the end of every optimizer step, plus the first step's start."""

    def __init__(self) -> None:
        self.first_step_start: float | None = None
        self.step_ends: list[float] = []
        self.step_tokens: list[int] = []  # padded tokens per step
        self.profiler: Any = None  # step_profile.StepProfiler, told of every step's end

    def tokens(self, batch: dict[str, Any]) -> None:
        self.step_tokens.append(int(batch["input_ids"].numel()))

    def start(self) -> None:
        if self.first_step_start is None:
            self.first_step_start = time.perf_counter()

    def end(self, last: bool = False) -> None:
        # No per-step device sync (it would stall the CPU/GPU overlap every trainer relies on);
        # one sync at the last step makes the total wall time exact.
        if last:
            import torch

            if torch.cuda.is_available():
                torch.cuda.synchronize()
        self.step_ends.append(time.perf_counter())
        if self.profiler is not None:
            self.profiler.step_ended(len(self.step_ends), self.step_ends[-1])

    def summary(self, batch_size: int, warmup: int) -> dict[str, float]:
        timed = self.step_ends[warmup:]
        seconds = (
            timed[-1] - self.step_ends[warmup - 1]
            if warmup
            else timed[-1] - (self.first_step_start or 0)
        )
        steps = len(timed)
        tokens = sum(self.step_tokens[warmup:])
        return {
            "tokens_per_s": tokens / seconds if tokens else float("nan"),
            "samples_per_s": steps * batch_size / seconds,
            "seconds_per_step": seconds / steps,
            "time_to_first_step_s": (self.first_step_start or 0) - PROCESS_START,
            "steps": len(self.step_ends),
            # per step, for finding where time goes (e.g. seconds against padded length)
            "step_seconds": [
                b - a for a, b in zip(self.step_ends[:-1], self.step_ends[1:], strict=True)
            ],
            "step_tokens": self.step_tokens[1:],
        }


def peak_memory_mb() -> float:
    """Peak resident memory of this process (Linux reports KiB), or GPU peak when on CUDA."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def flops_per_token(model_dir: str, max_length: int) -> float:
    """Training FLOPs per token: 6 x non-embedding parameters + attention scores (upper bound
    at `max_length`), the usual MFU accounting (Kaplan et al. 2020; PaLM appendix B)."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(model_dir)
    d, layers, ffn = config.hidden_size, config.num_hidden_layers, config.intermediate_size
    non_embedding = layers * (4 * d * d + 2 * d * ffn)
    return 6 * non_embedding + 12 * layers * d * max_length


def load_rows(data: Path, split: str) -> tuple[list[str], list[int]]:
    rows = [json.loads(line) for line in (data / f"{split}.jsonl").read_text().splitlines()]
    return [r["text"] for r in rows], [int(r["label"]) for r in rows]


# ---------------------------------------------------------------------------- lab
def run_lab(args: argparse.Namespace, clock: StepClock) -> float:
    import lightning as L

    from lab.config import compose_train_config
    from lab.train import run

    class Clock(L.Callback):
        """Times optimizer steps: with accumulation a step is several Lightning batches."""

        def __init__(self) -> None:
            self.steps_seen = 0
            self.tokens = 0

        def on_train_batch_start(self, *a: Any) -> None:
            clock.start()

        def on_train_batch_end(
            self, trainer: Any, module: Any, outputs: Any, batch: Any, i: int
        ) -> None:
            self.tokens += int(batch["input_ids"].numel())
            if trainer.global_step == self.steps_seen:
                return  # a micro-batch: the optimizer has not stepped yet
            self.steps_seen = trainer.global_step
            # As HF's and the loop's clocks: one GPU sync at the last step only (a sync per
            # step stalled lab's CPU/GPU overlap and made lab's GPU rate look lower).
            clock.end(last=trainer.global_step >= args.steps)
            clock.step_tokens.append(self.tokens)
            self.tokens = 0

    overrides = [
        f"model.pretrained={args.model}",
        "data=json",
        f"data.path={args.data}",
        f"data.max_length={args.max_length}",
        f"data.batch_size={args.batch_size // args.accumulate}",
        f"trainer.accumulate_grad_batches={args.accumulate}",
        f"data.eval_batch_size={args.batch_size * 2}",
        f"data.group_by_length={args.group_by_length}",
        f"data.num_workers={args.num_workers}",
        f"optimizer.lr={args.lr}",
        "optimizer.weight_decay=0.0",
        "scheduler.warmup_ratio=0.1",
        f"trainer.max_steps={args.steps}",
        "trainer.max_epochs=-1",
        "+trainer.limit_val_batches=0",
        f"trainer.compile={args.compile}",
        f"trainer.reuse_freed_memory={args.freed_memory != 'give_back'}",
        f"precision={args.precision}",
        "logger=none",
        # lab's default callbacks (progress bar, LR monitor) minus checkpoint files on disk
        "~callbacks.model_checkpoint",
        "~callbacks.last_checkpoint",
        "~callbacks.preemption",
        f"seed={args.seed}",
        *args.lab_override,
    ]
    cfg = compose_train_config(overrides, output_dir=Path(args.out).with_suffix(".run"))
    metrics = run(cfg, callbacks=[Clock()])
    return float(metrics["test/acc"])


# ---------------------------------------------------------------------------- shared HF pieces
def _model_and_tokenizer(args: argparse.Namespace) -> tuple[Any, Any]:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForSequenceClassification.from_pretrained(args.model, num_labels=2)
    return model, tokenizer


def _encode(tokenizer: Any, texts: list[str], labels: list[int], max_length: int) -> Any:
    from datasets import Dataset

    encoded = tokenizer(texts, truncation=True, max_length=max_length)
    return Dataset.from_dict({**encoded, "labels": labels})


def _accuracy(model: Any, tokenizer: Any, dataset: Any, batch_size: int, device: Any) -> float:
    import torch
    from torch.utils.data import DataLoader
    from transformers import DataCollatorWithPadding

    model.eval()
    correct = 0
    loader = DataLoader(
        dataset, batch_size=batch_size, collate_fn=DataCollatorWithPadding(tokenizer)
    )
    with torch.no_grad():
        for batch in loader:
            batch = {k: v.to(device) for k, v in batch.items()}
            correct += int((model(**batch).logits.argmax(-1) == batch["labels"]).sum())
    return correct / len(dataset)


# ---------------------------------------------------------------------------- HF Trainer
def run_hf(args: argparse.Namespace, clock: StepClock) -> float:
    import torch
    from transformers import (
        DataCollatorWithPadding,
        Trainer,
        TrainerCallback,
        TrainingArguments,
        set_seed,
    )

    set_seed(args.seed)
    model, tokenizer = _model_and_tokenizer(args)
    train = _encode(tokenizer, *load_rows(args.data, "train"), args.max_length)
    test = _encode(tokenizer, *load_rows(args.data, "test"), args.max_length)
    pad = DataCollatorWithPadding(tokenizer)
    collated: list[int] = []

    def collate(features: list[dict[str, Any]]) -> Any:
        # The Trainer never hands its batches to callbacks; count padded tokens here. Its
        # dataloader looks one batch ahead, so this list runs one ahead of the steps.
        batch = pad(features)
        collated.append(int(batch["input_ids"].numel()))
        return batch

    class Clock(TrainerCallback):
        def on_step_begin(self, *a: Any, **k: Any) -> None:
            clock.start()

        def on_step_end(self, args_: Any, state: Any, *a: Any, **k: Any) -> None:
            clock.end(last=state.global_step >= args.steps)
            step = state.global_step
            clock.step_tokens.append(
                sum(collated[(step - 1) * args.accumulate : step * args.accumulate])
            )

    training_args = TrainingArguments(
        output_dir=str(Path(args.out).with_suffix(".hf")),
        per_device_train_batch_size=args.batch_size // args.accumulate,
        gradient_accumulation_steps=args.accumulate,
        learning_rate=args.lr,
        weight_decay=0.0,
        warmup_steps=0.1,  # transformers 5: a float in [0, 1) is a ratio of all steps
        lr_scheduler_type="linear",
        max_steps=args.steps,
        max_grad_norm=1.0,
        logging_steps=10,
        save_strategy="no",
        eval_strategy="no",
        report_to=[],
        seed=args.seed,
        dataloader_num_workers=args.num_workers,
        bf16=args.precision == "bf16-mixed",
        fp16=args.precision == "16-mixed",
        use_cpu=not torch.cuda.is_available(),  # transformers refuses bf16 on CPU without it
        torch_compile=args.compile,
        train_sampling_strategy="group_by_length" if args.group_by_length else "random",
        disable_tqdm=False,  # HF Trainer's default: a tqdm bar
    )
    trainer = Trainer(
        model=model,
        args=training_args,
        train_dataset=train,
        data_collator=collate,
        callbacks=[Clock()],
    )
    trainer.train()
    return _accuracy(model, tokenizer, test, args.batch_size * 2, next(model.parameters()).device)


# ---------------------------------------------------------------------------- plain PyTorch
def run_torch(args: argparse.Namespace, clock: StepClock) -> float:
    import torch
    from torch.utils.data import DataLoader
    from transformers import DataCollatorWithPadding, get_linear_schedule_with_warmup

    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model, tokenizer = _model_and_tokenizer(args)
    model.to(device).train()
    train = _encode(tokenizer, *load_rows(args.data, "train"), args.max_length)
    test = _encode(tokenizer, *load_rows(args.data, "test"), args.max_length)
    loader = DataLoader(
        train,
        batch_size=args.batch_size,
        shuffle=True,
        collate_fn=DataCollatorWithPadding(tokenizer),
        num_workers=args.num_workers,
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(0.1 * args.steps), args.steps)
    autocast = args.precision in ("bf16-mixed", "16-mixed")
    dtype = torch.bfloat16 if args.precision == "bf16-mixed" else torch.float16
    step = 0
    while step < args.steps:
        for batch in loader:
            clock.start()
            batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
            with torch.autocast(device.type, dtype=dtype, enabled=autocast):
                loss = model(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            clock.end(last=step == args.steps)
            clock.tokens(batch)
            if step == args.steps:
                break
    return _accuracy(model, tokenizer, test, args.batch_size * 2, device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--impl", choices=["lab", "hf", "torch"], required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-workers", type=int, default=0)
    parser.add_argument("--group-by-length", action="store_true")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument(
        "--freed-memory",
        choices=["default", "reuse", "give_back"],
        default="default",
        help="the implementation's own (lab: reuse, hf/torch: glibc's), or lab.training.allocator's"
        " reuse / give-back (trainer.reuse_freed_memory=true / false)",
    )
    parser.add_argument(
        "--accumulate",
        type=int,
        default=1,
        help="split each batch into this many micro-batches (gradient accumulation; lab, hf)",
    )
    parser.add_argument(
        "--profile-steps",
        type=int,
        default=0,
        help="torch.profiler over this many steps after the warm-up (step_profile.py; the"
        " run's own timings then include the profiler's cost)",
    )
    parser.add_argument("--profile-dir", type=Path, help="where step_profile.py writes")
    parser.add_argument("--precision", default="32-true")
    parser.add_argument("--out", required=True)
    parser.add_argument("--lab-override", action="append", default=[], help="extra lab override")
    args = parser.parse_args()
    if args.accumulate > 1 and (args.impl == "torch" or args.batch_size % args.accumulate):
        parser.error("--accumulate needs --impl lab or hf and a batch size it divides")
    sys.path.insert(0, str(ROOT / "src"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.freed_memory != "default" and args.impl != "lab":
        from lab.training.allocator import reuse_freed_memory

        # what lab's trainer.reuse_freed_memory=true / false does, for hf/torch
        reuse_freed_memory(args.freed_memory == "reuse")
    if args.profile_steps and (
        not args.profile_dir or args.steps < args.warmup + args.profile_steps
    ):
        parser.error("--profile-steps needs --profile-dir and --steps >= warmup + profile steps")
    clock = StepClock()
    if args.profile_steps:
        from step_profile import StepProfiler

        clock.profiler = StepProfiler(args.profile_dir, args.warmup, args.profile_steps)
    accuracy = {"lab": run_lab, "hf": run_hf, "torch": run_torch}[args.impl](args, clock)
    result = {
        "impl": args.impl
        + ("+group_by_length" if args.group_by_length else "")
        + ("+compile" if args.compile else "")
        + (f"+accumulate{args.accumulate}" if args.accumulate > 1 else "")
        + ("" if args.freed_memory == "default" else f"+{args.freed_memory}_memory"),
        "precision": args.precision,
        "model_flops_per_token": flops_per_token(args.model, args.max_length),
        "accuracy": accuracy,
        "peak_memory_mb": peak_memory_mb(),
        **clock.summary(args.batch_size, args.warmup),
    }
    Path(args.out).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
