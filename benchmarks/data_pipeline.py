"""Data pipeline costs: tokenization (1 vs N processes), the cache on a second run, and
whether data loading starves the training step.

    .venv/bin/python benchmarks/data_pipeline.py                      # IMDB from ../shared/data
    .venv/bin/python benchmarks/data_pipeline.py --rows 5000 --steps 30

Part 1 builds lab's IMDB data module (`data=imdb data.path=...`, MiniLM tokenizer,
`max_length` 256) three times, each in a fresh process: with an empty datasets cache and
`data.num_proc=1`, with an empty cache and `data.num_proc=N`, and again on the warm cache of
the first (a second run with the same data and settings). Reported: wall time of
`DataModule.setup` and whether tokenization hit the cache.

Part 2 trains MiniLM for `--steps` steps with Lightning's simple profiler, with
`data.num_workers=0` and `=2`, and reports the mean time to fetch a batch against the mean
time of a training step: the loader starves the model when fetching takes a visible share.
Raw results: `benchmarks/results/data_pipeline-<time>.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
IMDB = ROOT.parent / "shared" / "data" / "imdb"


def _setup_once(args: argparse.Namespace) -> None:
    """In a child process: build and set up the data module, print one JSON line."""
    from hydra.utils import instantiate

    from lab.config import compose_train_config

    cfg = compose_train_config(
        [
            "data=imdb",
            f"data.path={args.data}",
            f"data.num_proc={args.num_proc}",
            f"data.max_train_samples={args.rows}",
            f"data.max_test_samples={args.rows}",
        ],
        output_dir=tempfile.mkdtemp(),
    )
    tokenizer = instantiate(cfg.model.tokenizer)
    datamodule = instantiate(cfg.data, tokenizer=tokenizer, _convert_="all")
    started = time.perf_counter()
    datamodule.setup("fit")
    seconds = time.perf_counter() - started
    rows = sum(len(d) for d in datamodule.datasets.values())
    print(json.dumps({"seconds": seconds, "rows": rows, "cache_hits": datamodule.cache_hits}))


def run_setup(args: argparse.Namespace, num_proc: int, cache: Path) -> dict[str, Any]:
    env = {**os.environ, "HF_DATASETS_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    command = [
        sys.executable, __file__, "--child-setup", f"--data={args.data}",
        f"--rows={args.rows}", f"--num-proc={num_proc}",
    ]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def run_profile(args: argparse.Namespace, workers: int, out: Path) -> dict[str, float]:
    """Train with the simple profiler; mean seconds per batch fetch and per training step."""
    report = out / f"profile-workers{workers}"
    command = [
        sys.executable, "-m", "lab.train", "data=imdb", f"data.path={args.data}",
        f"data.max_train_samples={args.rows}", "data.max_test_samples=64",
        "data.max_eval_samples=64", "data.batch_size=16", f"data.num_workers={workers}",
        f"trainer.max_steps={args.steps}", "trainer.max_epochs=-1", "logger=none",
        "callbacks=none", "+trainer.limit_val_batches=0",
        "+trainer.profiler._target_=lightning.pytorch.profilers.SimpleProfiler",
        f"+trainer.profiler.dirpath={report}", "+trainer.profiler.filename=simple",
        f"hydra.run.dir={out / f'run-workers{workers}'}",
    ]  # fmt: skip
    subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    text = next(report.glob("*simple*.txt")).read_text()

    def mean(action: str) -> float:
        # SimpleProfiler table rows: | action | mean duration (s) | num calls | total (s) | %
        match = re.search(rf"\|\s*{re.escape(action)}\s*\|\s*([0-9.eE+-]+)\s*\|", text)
        return float(match.group(1)) if match else float("nan")

    fetch = mean("[_TrainingEpochLoop].train_dataloader_next")
    step = mean("run_training_batch")
    return {"fetch_s": fetch, "step_s": step, "fetch_share": fetch / (fetch + step)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=IMDB)
    parser.add_argument("--rows", type=int, default=25_000, help="train (and test) rows")
    parser.add_argument("--num-proc", type=int, default=2, help="tokenization processes")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--child-setup", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_setup:
        _setup_once(args)
        return
    if not args.data.is_dir():
        sys.exit(f"no data at {args.data} (see ../shared/data/README.md)")
    results: dict[str, Any] = {"rows": args.rows, "machine": os.uname().nodename}
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        results["tokenize_1_proc_cold"] = run_setup(args, 1, root / "cache-a")
        results[f"tokenize_{args.num_proc}_proc_cold"] = run_setup(
            args, args.num_proc, root / "cache-b"
        )
        results["second_run_warm_cache"] = run_setup(args, 1, root / "cache-a")
        for workers in (0, 2):
            results[f"loader_workers_{workers}"] = run_profile(args, workers, root)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = ROOT / "benchmarks" / "results" / f"data_pipeline-{stamp}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
