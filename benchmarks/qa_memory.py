"""Peak memory of extractive QA: `python -m lab.train data=squad` against a plain HF Trainer
script, side by side (issue 20).

    python benchmarks/qa_memory.py                                     # 500 / 200 questions, 1 round
    python benchmarks/qa_memory.py --train 1500 --test 500 --rounds 2 \
        --lab-variant "trainer.reuse_freed_memory=false"

The same job both ways, in fresh processes, alternated round by round (each round starts with
the next implementation), after one untimed process that warms the page cache: MiniLM (or
`--model`), SQuAD-shaped questions (`synthetic_squad.py` on IMDB text, or `--data DIR` with
`train.jsonl` / `validation.jsonl`), windows of 384 tokens with stride 128, lab's squad
defaults (batch 16, evaluation batch 64, lr 5e-5, weight decay 0.01, 6% warmup, 5% of train
carved as validation), `--epochs` epochs with a validation pass and a checkpoint each, the best
reloaded, the test split predicted and scored. `hf` is `hf_qa_job.py` (every window padded to
384, as `run_qa.py`); `lab` is `python -m lab.train` with `logger=csv` and dynamic padding;
each `--lab-variant "a=b c=d"` adds a lab run with those overrides (upper-case names, e.g.
`THP_MEM_ALLOC_ENABLE=1`, go to the run's environment instead).

Reported per run: peak RSS (`wait4` of the child: the kernel's high-water mark of resident
memory), wall time (rough: the machine is shared), test EM/F1 (meaningless on synthetic
questions: a check that both decode and score alike), and resident memory at each phase
boundary (lab: `phase_clock.PhaseClock`; HF: the script's own marks). Raw JSON goes to
`benchmarks/results/qa_memory-<time>.json`; a table to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from compare_trainers import machine  # noqa: E402
from end_to_end import drop_weights, packaged_minilm, timed_process, warm_page_cache  # noqa: E402
from synthetic_squad import write as write_squad  # noqa: E402

# A variant's words that set an environment variable (`THP_MEM_ALLOC_ENABLE=1`), not a config key.
ENVIRONMENT = re.compile(r"^[A-Z_][A-Z0-9_]*=")


def lab_command(args: argparse.Namespace, data: Path, variant: str, out: Path) -> list[str]:
    """`python -m lab.train` for the job, with the phase clock and the variant's overrides."""
    overrides = [
        "data=squad",
        f"data.path={data}",
        f"model.pretrained={args.model}",
        "logger=csv",
        f"trainer.max_epochs={args.epochs}",
        f"seed={args.seed}",
        f"paths.output_root={out}",
        f"+callbacks.phase_clock={{_target_: phase_clock.PhaseClock, path: {out / 'clock.jsonl'}}}",
        *(word for word in variant.split() if not ENVIRONMENT.match(word)),
    ]
    return [sys.executable, "-m", "lab.train", *overrides]


def hf_command(args: argparse.Namespace, data: Path, out: Path) -> list[str]:
    """`hf_qa_job.py` for the job."""
    return [
        sys.executable,
        str(HERE / "hf_qa_job.py"),
        f"--data={data}",
        f"--model={args.model}",
        f"--out={out / 'hf.json'}",
        f"--epochs={args.epochs}",
        f"--seed={args.seed}",
        *args.hf_arg,
    ]


def run_once(args: argparse.Namespace, impl: str, data: Path, out: Path) -> dict[str, Any]:
    """One run of `impl` (`hf`, `lab` or `lab <overrides>`); its measurements."""
    out.mkdir(parents=True)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        "HF_DATASETS_CACHE": str(out / "datasets_cache"),  # every run tokenizes afresh
        **dict(w.split("=", 1) for w in impl.split() if ENVIRONMENT.match(w)),
    }
    if impl == "hf":
        command = hf_command(args, data, out)
    else:
        command = lab_command(args, data, impl.removeprefix("lab").strip(), out)
    process = timed_process(command, out / "output.log", env)
    if impl == "hf":
        result = json.loads((out / "hf.json").read_text())
        scores = {"test_exact_match": result["test_exact_match"], "test_f1": result["test_f1"]}
        phases = {k: v.get("rss_mb") for k, v in result["marks"].items() if "rss_mb" in v}
    else:
        (run_dir,) = (out / "runs").glob("*/*")
        metrics = json.loads((run_dir / "metrics.json").read_text())
        scores = {"test_exact_match": metrics["test/exact_match"], "test_f1": metrics["test/f1"]}
        events = [json.loads(line) for line in (out / "clock.jsonl").read_text().splitlines()]
        phases = {}
        for event in events:  # validation_start, validation_end, ... numbered when repeated
            name, n = event["event"], 0
            while f"{name}_{n}" in phases:
                n += 1
            phases[f"{name}_{n}"] = event.get("rss_mb")
    drop_weights(out)  # checkpoints and models: hundreds of MB per run
    return {
        "wall_s": process["exit"] - process["launch"],
        "peak_rss_mb": process["peak_rss_mb"],
        **scores,
        "rss_mb_at": phases,
        "command": command,
    }


def markdown(runs: dict[str, list[dict[str, Any]]]) -> str:
    """Medians over rounds per implementation, and peak RSS over the HF script's."""
    hf = runs.get("hf")
    hf_peak = statistics.median(r["peak_rss_mb"] for r in hf) if hf else None
    lines = [
        "| implementation | peak RSS (MB) | vs hf | per round (MB) | wall (s) | test EM | test F1 |",
        "|---|---|---|---|---|---|---|",
    ]
    for impl, rounds in runs.items():
        peak = statistics.median(r["peak_rss_mb"] for r in rounds)
        ratio = f"{peak / hf_peak:.2f}x" if hf_peak else "-"
        lines.append(
            f"| {impl} | {peak:.0f} | {ratio} | "
            + ", ".join(f"{r['peak_rss_mb']:.0f}" for r in rounds)
            + f" | {statistics.median(r['wall_s'] for r in rounds):.0f}"
            + f" | {statistics.median(r['test_exact_match'] for r in rounds):.1f}"
            + f" | {statistics.median(r['test_f1'] for r in rounds):.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="default: synthetic_squad.py")
    parser.add_argument("--train", type=int, default=500, help="synthetic training questions")
    parser.add_argument("--test", type=int, default=200, help="synthetic test questions")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--model", default=None, help="model dir (default: the packaged MiniLM)")
    parser.add_argument("--no-hf", action="store_true", help="lab runs only")
    parser.add_argument(
        "--lab-variant", action="append", default=[], help='lab overrides, e.g. "a=1 b=2"'
    )
    parser.add_argument("--hf-arg", action="append", default=[], help="extra hf_qa_job.py argument")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    args.model = args.model or packaged_minilm()
    impls = ["lab", *(["hf"] if not args.no_hf else []), *(f"lab {v}" for v in args.lab_variant)]

    work = Path(tempfile.mkdtemp(prefix="lab-qa-memory-"))
    data = args.data or write_squad(work / "data", args.train, args.test)
    warm_page_cache(args.model)
    runs: dict[str, list[dict[str, Any]]] = {}
    for round_ in range(args.rounds):
        shift = round_ % len(impls)
        for n, impl in enumerate(impls[shift:] + impls[:shift]):
            result = run_once(args, impl, data, work / f"r{round_}-{n}")
            runs.setdefault(impl, []).append(result)
            print(
                f"{impl} #{round_}: peak RSS {result['peak_rss_mb']:.0f} MB, "
                f"{result['wall_s']:.0f} s, test F1 {result['test_f1']:.1f}",
                file=sys.stderr,
            )
    record = {
        "machine": machine(),
        "args": {k: str(v) for k, v in vars(args).items() if k != "out"},
        "data": str(data),
        "runs": runs,
    }
    args.out.mkdir(exist_ok=True)
    path = args.out / f"qa_memory-{time.strftime('%Y-%m-%d_%H-%M-%S')}.json"
    path.write_text(json.dumps(record, indent=2, default=str))
    print(markdown(runs))
    print(f"raw: {path}; work files: {work}")


if __name__ == "__main__":
    main()
