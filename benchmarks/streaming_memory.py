"""Streaming keeps memory flat: read a local file several times larger than the memory the
process may use, through the training data pipeline, then train on it.

    .venv/bin/python benchmarks/streaming_memory.py     # 4 GiB file, 1.25 GiB limit, 200 steps
    .venv/bin/python benchmarks/streaming_memory.py --file-gib 1 --limit-gib 1 --steps 100

Writes a JSON-lines file (`--file-gib`, under /tmp; a 10,000-row block repeated) of rows with
~1 KB of `text` and a `--extra-kib` (7) string column the stream reads but does not tokenize
(text-only rows tokenize at ~1 MiB/s on this 2-core machine: `--extra-kib 0` on a faster one),
and runs two child processes on it, sampling the resident memory (RSS) of each
child and its children every second:

1. data pass: the real training DataModule of `lab.train model=tiny_gpt2 data=text
   data.path=<file> data.streaming=true` (`lab.build.build_datamodule`: the same stream,
   shuffle buffer, checks, tokenization and block packing as training) and its
   `train_dataloader()`, iterated batch by batch over the WHOLE file: the first pass of the
   stream, until it starts its second. The rows consumed and their bytes in the file are
   counted from the stream's own row numbers (and checked: every train row exactly once).
2. train: `python -m lab.train` on the same file with the same settings for `--steps` steps
   (the model, optimizer and Lightning on top of the stream; it reads only the head of
   the file).

The limit is enforced by this script: should a child's RSS pass `--limit-gib`, it is killed
and the benchmark fails (RLIMIT_AS cannot serve: torch alone maps gigabytes of address space
it never touches). The file is read through the page cache, which the kernel may drop at will
and which is not the process's memory. `--max-data-seconds` ends the data pass early (the
consumed bytes are then reported as they are, less than the file).

Reported: file size, limit, bytes/rows/tokens consumed, peak RSS per quarter of each child's
run and RSS samples by position in the file, wall times. Raw samples:
`benchmarks/results/streaming_memory-<time>.json`.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
GIB = 1 << 30
MIB = 1 << 20
BLOCK_ROWS = 10_000  # distinct rows in the repeated block of the file
_WORDS = ["the", "a", "model", "data", "stream", "token", "batch", "memory", "file", "row"]
_WORDS += ["reads", "small", "large", "quick", "slow", "blue", "green", "old", "new", "river"]


def write_file(path: Path, size: int, extra_kib: float = 0.0, seed: int = 0) -> int:
    """A jsonl file of about `size` bytes: a block of 10,000 distinct rows, repeated (writing
    distinct rows would make the file take minutes to write). Each row has ~1 KB of `text`
    (180 words) and, with `extra_kib`, a `meta` string column of that size, which the stream
    reads, parses, shuffles and checks but does not tokenize (as web dumps carry raw HTML or
    metadata next to the text)."""
    rng = random.Random(seed)

    def row() -> str:
        fields = {"text": " ".join(rng.choice(_WORDS) for _ in range(180))}
        if extra_kib > 0:
            fields["meta"] = rng.randbytes(int(extra_kib * 512)).hex()
        return json.dumps(fields) + "\n"

    block = "".join(row() for _ in range(BLOCK_ROWS)).encode()
    written, rows = 0, 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        while written < size:
            handle.write(block)
            written += len(block)
            rows += BLOCK_ROWS
    return rows


def overrides(args: argparse.Namespace, data: Path) -> list[str]:
    """The `lab.train` overrides both children use."""
    return [
        "model=tiny_gpt2",
        "data=text",
        f"data.path={data}",
        "data.streaming=true",
        f"data.block_size={args.block_size}",
        f"data.batch_size={args.batch_size}",
        "data.eval_batch_size=4",
        "data.max_eval_samples=100",
        "data.max_test_samples=100",
        f"trainer.max_steps={args.steps}",
        f"trainer.val_check_interval={args.steps}",
        "trainer.accelerator=cpu",
        "logger=csv",
        "paths.output_root=out",
    ]


# ------------------------------------------------------------------------ data pass (child)
def data_pass(data: Path, progress: Path, lab_overrides: list[str], max_seconds: float) -> None:
    """Iterate the training DataModule's train loader over the whole of `data` (one pass of
    the stream), writing the counts to `progress` (JSON) about every second."""
    from lab.build import build_datamodule
    from lab.config.compose import compose_train_config
    from lab.training.tokenizers import build_tokenizer

    started = time.monotonic()
    with data.open("rb") as handle:  # the line lengths of the repeated block, for the bytes
        lengths = [len(line) for line in itertools.islice(handle, BLOCK_ROWS)]
    cfg = compose_train_config(lab_overrides, output_dir=progress.parent / "data_pass")
    datamodule = build_datamodule(cfg, build_tokenizer(cfg))
    state: dict[str, Any] = {"pass": 0, "rows": 0, "bytes": 0, "text_bytes": 0, "index_sum": 0}
    state.update(batches=0, tokens=0, ended="pass", setup_seconds=time.monotonic() - started)
    tokenize = datamodule.tokenize

    def counting(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        # The stream's Encoder sets `stream_rows` (each row's line in the file) just before
        # it tokenizes the batch: count what pass 0 consumed, in file bytes.
        if state["pass"] == 0 and datamodule.stream_rows is not None:
            rows = datamodule.stream_rows[1]
            state["rows"] += len(rows)
            state["bytes"] += sum(lengths[i % BLOCK_ROWS] for i in rows)
            state["index_sum"] += sum(rows)
            state["text_bytes"] += sum(len(text.encode()) for text in batch["text"])
        return tokenize(batch)

    datamodule.tokenize = counting  # type: ignore[method-assign]
    loader = datamodule.train_dataloader()
    stream = loader.dataset
    encoded = stream.encoded  # type: ignore[attr-defined]

    def watched(epoch: int) -> Any:  # the stream starts pass `epoch`
        state["pass"] = epoch
        return encoded(epoch)

    stream.encoded = watched  # type: ignore[attr-defined]
    began, last = time.monotonic(), 0.0
    for batch in loader:
        if state["pass"] >= 1:  # pass 0 is over: the whole file was read
            break
        state["batches"] += 1
        state["tokens"] += int(batch["input_ids"].numel())
        now = time.monotonic()
        if now - last >= 1.0:
            last = now
            write_progress(progress, state, now - began)
        if now - began > max_seconds:
            state["ended"] = "max_data_seconds"
            break
    write_progress(progress, state, time.monotonic() - began)


def write_progress(path: Path, state: dict[str, Any], seconds: float) -> None:
    """Replace `path` with the counts so far (atomically: the parent reads it meanwhile)."""
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({**state, "seconds": round(seconds, 2)}))
    temporary.replace(path)


# ------------------------------------------------------------------------ parent
def tree_rss(process: psutil.Process) -> int:
    """Resident bytes of `process` and all its children (dataloader workers)."""
    total = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            total += member.memory_info().rss
        except psutil.Error:
            continue
    return total


def read_progress(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return {}


def watch(command: list[str], cwd: Path, limit: int, progress: Path | None) -> dict[str, Any]:
    """Run `command`, sampling its RSS (and the data pass's bytes consumed) every second;
    kill it above `limit`."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    started = time.monotonic()
    child = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    process = psutil.Process(child.pid)
    samples: list[list[float | int]] = []  # [seconds, rss bytes, file bytes consumed]
    exceeded = False
    while child.poll() is None:
        rss = tree_rss(process)
        consumed = read_progress(progress).get("bytes", 0) if progress else 0
        samples.append([round(time.monotonic() - started, 1), rss, consumed])
        if rss > limit:
            exceeded = True
            child.kill()
            break
        time.sleep(1.0)
    output, _ = child.communicate()
    return {
        "command": command,
        "returncode": child.returncode,
        "exceeded_limit": exceeded,
        "seconds": round(time.monotonic() - started, 1),
        "peak_rss_bytes": max((int(s[1]) for s in samples), default=0),
        "peak_rss_mib_by_quarter": quarters(samples),
        "samples": samples,
        "output_tail": output[-3000:],
    }


def quarters(samples: list[list[float | int]]) -> list[int]:
    """Peak RSS (MiB) in each quarter of a run's samples."""
    size = max(1, len(samples) // 4)
    parts = [samples[i * size : (i + 1) * size] for i in range(3)] + [samples[3 * size :]]
    return [round(max((int(s[1]) for s in part), default=0) / MIB) for part in parts]


def by_position(samples: list[list[float | int]], size: int) -> list[dict[str, Any]]:
    """The data pass's peak RSS in each tenth of the file (by bytes consumed)."""
    table = []
    for tenth in range(10):
        low, high = size * tenth / 10, size * (tenth + 1) / 10
        part = [s for s in samples if low < s[2] <= high]
        if part:
            table.append(
                {
                    "file_gib": f"{low / GIB:.2f}-{high / GIB:.2f}",
                    "seconds": f"{part[0][0]:.0f}-{part[-1][0]:.0f}",
                    "peak_rss_mib": round(max(int(s[1]) for s in part) / MIB),
                    "min_rss_mib": round(min(int(s[1]) for s in part) / MIB),
                }
            )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--file-gib", type=float, default=4.0)
    parser.add_argument("--limit-gib", type=float, default=1.25)
    parser.add_argument("--steps", type=int, default=200, help="training steps (part 2)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--block-size", type=int, default=512)
    parser.add_argument("--extra-kib", type=float, default=7.0, help="untokenized KiB per row")
    parser.add_argument("--max-data-seconds", type=float, default=900.0)
    parser.add_argument("--skip-train", action="store_true", help="the data pass only")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temporary dir")
    parser.add_argument("--child-data-pass", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_data_pass:  # the data pass child: data file, progress file
        data, progress = args.child_data_pass
        data_pass(data, progress, overrides(args, data), args.max_data_seconds)
        return
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="streaming_memory-", dir="/tmp"))
    data, progress = workdir / "big" / "train.jsonl", workdir / "progress.json"
    limit = int(args.limit_gib * GIB)
    began = time.monotonic()
    rows = write_file(data, int(args.file_gib * GIB), args.extra_kib)
    write_seconds = time.monotonic() - began
    size = data.stat().st_size
    forwarded = ["--block-size", str(args.block_size), "--batch-size", str(args.batch_size)]
    forwarded += ["--steps", str(args.steps), "--max-data-seconds", str(args.max_data_seconds)]
    script = [sys.executable, str(Path(__file__).resolve()), *forwarded]
    try:
        reading = watch(
            [*script, "--child-data-pass", str(data), str(progress)], workdir, limit, progress
        )
        counts = read_progress(progress)
        training = None
        if not args.skip_train and reading["returncode"] == 0:
            training = watch(
                [sys.executable, "-m", "lab.train", *overrides(args, data)], workdir, limit, None
            )
    finally:
        data.unlink()  # gigabytes: do not leave them behind
    carved = 200  # validation + test: the first 100 rows each, cut from the head of train
    expected_sum = (rows * (rows - 1) - carved * (carved - 1)) // 2
    loop_seconds = float(counts.get("seconds", 0.0))
    whole = counts.get("rows") == rows - carved and counts.get("index_sum") == expected_sum
    summary = {
        "file_bytes": size,
        "file_rows": rows,
        "file_write_seconds": round(write_seconds, 1),
        "extra_kib_per_row": args.extra_kib,
        "limit_bytes": limit,
        "cpu": os.cpu_count(),
        "data_pass": {
            "consumed_bytes": counts.get("bytes", 0),
            "consumed_rows": counts.get("rows", 0),
            "consumed_over_limit": round(counts.get("bytes", 0) / limit, 2),
            "tokenized_text_bytes": counts.get("text_bytes", 0),
            "every_train_row_once": whole,
            "ended": counts.get("ended"),
            "batches": counts.get("batches", 0),
            "tokens": counts.get("tokens", 0),
            "setup_seconds": round(counts.get("setup_seconds", 0.0), 1),
            "loop_seconds": counts.get("seconds", 0.0),
            "mib_per_second": round(counts.get("bytes", 0) / MIB / max(loop_seconds, 1.0), 2),
            "rss_by_tenth_of_file": by_position(reading["samples"], size),
            **reading,
        },
        "train": training,
    }
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = ROOT / "benchmarks" / "results" / f"streaming_memory-{stamp}.json"
    out.write_text(json.dumps(summary, indent=1))
    brief: dict[str, Any] = {k: v for k, v in summary.items() if k not in ("data_pass", "train")}
    for part in ("data_pass", "train"):
        if summary[part]:
            brief[part] = {
                k: v for k, v in summary[part].items() if k not in ("samples", "output_tail")
            }
    print(json.dumps(brief, indent=1))
    print(f"raw: {out.relative_to(ROOT)}")
    failed = [p for p in (reading, training) if p and (p["returncode"] or p["exceeded_limit"])]
    if failed or (counts.get("ended") == "pass" and not whole):
        for child in failed:
            print(child["output_tail"], file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
