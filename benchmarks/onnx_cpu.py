"""CPU deployment: PyTorch vs ONNX (fp32) vs ONNX int8 on MiniLM and the demo set.

    python benchmarks/onnx_cpu.py                          # trains MiniLM on the demo set first
    python benchmarks/onnx_cpu.py --run <run dir>          # an existing run
    python benchmarks/onnx_cpu.py --run <run dir> --threads 1 2 --rows 400 --batch-size 32

For each thread count and each form (`onnx`, `onnx-int8`), `python -m lab.export run=<run>
form=<form>` runs in its own process and measures, side by side on the CPU (the two models
timed alternately, input by input): the head's test metrics on the run's test split (all 400
demo rows) and the forward pass's latency at batch 1 (p50/p95) and throughput in batches, on
`--rows` test rows, for the PyTorch model and the export. Targets (issue 18): int8 within 1
accuracy point of PyTorch and at least 1.5x its throughput. Raw reports:
benchmarks/results/onnx_cpu-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def train(out: Path) -> Path:
    """The quickstart run: MiniLM fine-tuned on the demo set (3 epochs)."""
    command = [
        sys.executable, "-m", "lab.train", "model=minilm", "data=demo", "logger=csv",
        f"hydra.run.dir={out}",
    ]  # fmt: skip
    subprocess.run(command, cwd=ROOT, check=True)
    return out


def export(run: Path, form: str, args: argparse.Namespace, threads: int) -> dict[str, Any]:
    """One `lab.export form=<form>` in its own process; its report."""
    command = [
        sys.executable, "-m", "lab.export", f"run={run}", f"form={form}",
        f"benchmark_rows={args.rows}", f"benchmark_batch_size={args.batch_size}",
        f"threads={threads}",
    ]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True)
    report: dict[str, Any] = json.loads((run / form / "onnx_report.json").read_text())
    report["wall_s"] = time.perf_counter() - start
    return report


def table(reports: list[dict[str, Any]]) -> str:
    """Markdown rows: one per export, PyTorch's numbers beside the export's."""
    lines = [
        "| form | threads | PyTorch acc | export acc | delta (points) | p50 ms PyTorch / export "
        "| p95 ms PyTorch / export | rows/s PyTorch / export | throughput ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for report in reports:
        main, form = report["main_metric"], report["form"]
        base, new = report["models"]["pytorch"], report["models"][form]
        lines.append(
            f"| {form} | {report['cpu']['threads']} | {base['metrics'][main]:.4f} | "
            f"{new['metrics'][main]:.4f} | {100 * report['comparison']['main_metric_delta']:+.2f} | "
            f"{base['latency_ms']['p50']:.2f} / {new['latency_ms']['p50']:.2f} | "
            f"{base['latency_ms']['p95']:.2f} / {new['latency_ms']['p95']:.2f} | "
            f"{base['throughput']['rows_per_s']:.1f} / {new['throughput']['rows_per_s']:.1f} | "
            f"{report['comparison']['throughput_ratio']:.2f}x |"
        )
    return "\n".join(lines)


def main() -> None:
    """Parse arguments, train if needed, export and measure, print and save."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", type=Path, help="a finished MiniLM run (default: train one)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/lab-onnx-bench"))
    parser.add_argument("--threads", type=int, nargs="+", default=[1])
    parser.add_argument("--rows", type=int, default=400, help="test rows timed")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--forms", nargs="+", default=["onnx", "onnx-int8"])
    args = parser.parse_args()
    run = args.run.resolve() if args.run else train(args.out.resolve() / "minilm")
    reports = [export(run, form, args, threads) for threads in args.threads for form in args.forms]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = HERE / "results" / f"onnx_cpu-{stamp}.json"
    target.parent.mkdir(exist_ok=True)
    meta = {"run": str(run), "python": platform.python_version(), "argv": sys.argv[1:]}
    target.write_text(json.dumps({"meta": meta, "reports": reports}, indent=2))
    print(table(reports))
    for report in reports:
        if report["form"] == "onnx-int8":
            delta = 100 * report["comparison"]["main_metric_delta"]
            ratio = report["comparison"]["throughput_ratio"]
            print(
                f"int8, {report['cpu']['threads']} thread(s): accuracy within 1 point: "
                f"{'yes' if abs(delta) <= 1 else 'NO'} ({delta:+.2f}); throughput >= 1.5x: "
                f"{'yes' if ratio >= 1.5 else 'NO'} ({ratio:.2f}x)"
            )
    print(f"Raw reports: {target}")


if __name__ == "__main__":
    main()
