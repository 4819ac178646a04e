"""The same Optuna sweep with and without pruning: how much training does pruning save?

    python benchmarks/sweep_pruning.py                       # MiniLM on the demo set, CPU
    python benchmarks/sweep_pruning.py --trials 16 --epochs 4 --train-rows 1600

Both sweeps run `python -m lab.train -m` with lab's sweeper on the same model, data and
budget, with the *random* sampler and one seed: both draw the same parameter sets in the same
order, so any difference in cost or best value comes from pruning alone (with TPE the two
studies would diverge after the first pruned trial). The pruned sweep uses the median pruner
(`n_startup_trials` finished trials first). The sweeps run one after the other, in one
invocation, on the same machine. Reported per sweep: trial-epochs actually trained (from the
intermediate values each trial reported, in milli-epochs), wall time, best value and the
states of the trials. Raw results: benchmarks/results/sweep_pruning-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def run_sweep(workdir: Path, name: str, pruner: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run one sweep in a subprocess; read its study back from the storage."""
    import optuna

    command = [
        sys.executable,
        "-m",
        "lab.train",
        "-m",
        f"model={args.model}",
        "data=demo",
        f"data.max_train_samples={args.train_rows}",
        f"trainer.max_epochs={args.epochs}",
        "logger=csv",
        "callbacks=none",
        "paths.output_root=out",
        "hydra/sweeper=lab_optuna",
        "hydra/sweeper/sampler=random",
        f"hydra/sweeper/pruner={pruner}",
        f"hydra.sweeper.study_name={name}",
        f"hydra.sweeper.n_trials={args.trials}",
        f"seed={args.seed}",
        f"optimizer.lr=tag(log,interval({args.lr_low},{args.lr_high}))",
        "data.batch_size=choice(16,32)",
        "scheduler.warmup_ratio=choice(0.0,0.1)",
    ]
    if pruner == "median":
        command.append(f"hydra.sweeper.pruner.n_startup_trials={args.startup}")
    start = time.perf_counter()
    subprocess.run(command, cwd=workdir, check=True)
    wall = time.perf_counter() - start
    storage = f"sqlite:///{workdir / 'out' / 'sweeps' / name / 'study.db'}"
    study = optuna.load_study(study_name=name, storage=storage)
    trials = study.get_trials()
    epochs = sum(max(t.intermediate_values, default=0) / 1000 for t in trials)
    states: dict[str, int] = {}
    for trial in trials:
        states[trial.state.name] = states.get(trial.state.name, 0) + 1
    return {
        "pruner": pruner,
        "trial_epochs": round(epochs, 2),
        "wall_s": round(wall, 1),
        "best_value": study.best_value,
        "best_trial": study.best_trial.number,
        "best_params": study.best_trial.params,
        "states": states,
        "params": [t.params for t in trials],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train-rows", type=int, default=800)
    parser.add_argument("--startup", type=int, default=3, help="median pruner n_startup_trials")
    parser.add_argument("--lr-low", type=float, default=1e-6)
    parser.add_argument("--lr-high", type=float, default=3e-4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        results = [run_sweep(Path(tmp), f"bench_{p}", p, args) for p in ("none", "median")]
    assert results[0]["params"] == results[1]["params"], "the two sweeps drew different params"
    base, pruned = results
    summary = {
        "machine": platform.platform(),
        "args": vars(args),
        "results": results,
        "trial_epochs_saved": round(1 - pruned["trial_epochs"] / base["trial_epochs"], 3),
        "wall_time_ratio": round(pruned["wall_s"] / base["wall_s"], 3),
    }
    out = HERE / "results" / f"sweep_pruning-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print("\n| pruner | trial-epochs | wall time (s) | best val/acc (trial) | trial states |")
    print("|---|---:|---:|---:|---|")
    for r in results:
        states = ", ".join(f"{n} {s.lower()}" for s, n in sorted(r["states"].items()))
        print(
            f"| {r['pruner']} | {r['trial_epochs']:.2f} | {r['wall_s']:.0f} | "
            f"{r['best_value']:.4f} ({r['best_trial']}) | {states} |"
        )
    print(
        f"\nPruning saved {summary['trial_epochs_saved']:.0%} of trial-epochs; wall time "
        f"ratio {summary['wall_time_ratio']:.2f}. Raw: {out}"
    )


if __name__ == "__main__":
    main()
