"""Where a training step's time goes: `torch.profiler` over a few steps of one trainer.

`trainers.py --profile-steps N --profile-dir DIR` profiles the N steps after its warm-up
(`StepProfiler`, driven by the trainer's step clock, so lab, HF Trainer and the plain loop are
cut at the same points: the end of one optimizer step to the end of another) and writes to DIR:

* `summary.json`: wall seconds per profiled step; per step, the CPU time of the top-level
  operators, the device (GPU kernel) time, and the counts of the CUDA runtime calls that
  decide whether the CPU waits for the GPU (`cudaStreamSynchronize`, `cudaDeviceSynchronize`,
  `cudaEventSynchronize`, `cudaMemcpy*`, kernel launches, `cudaHostAlloc`) and of the
  operators that read a value back (`aten::item`, `aten::_local_scalar_dense`: on a CPU
  tensor, such as an optimizer's step count, no sync);
* `ops.txt`: `key_averages()` sorted by self CPU time, then by self device time;
* `trace.json.gz`: the Chrome trace (chrome://tracing, Perfetto).

`python benchmarks/step_profile.py DIR_A DIR_B ...` prints the summaries side by side (a
markdown table). Written for issue 20's open GPU question (benchmarks/RESULTS.md): lab's
BERT-base step is ~20 ms longer than HF Trainer's on an H200 at equal shapes and memory, and
neither Python overhead nor anything countable on a CPU explains it.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from typing import Any

# CUDA runtime calls and operators counted per step (a name, or a prefix with '*').
COUNTED = (
    "cudaStreamSynchronize",
    "cudaDeviceSynchronize",
    "cudaEventSynchronize",
    "cudaMemcpy*",  # cudaMemcpyAsync and the blocking cudaMemcpy
    "cudaLaunchKernel*",  # the runtime's launch calls (ExC and the rest)
    "cuLaunchKernel*",  # the driver's, used by some libraries
    "cudaHostAlloc",
    "aten::item",
    "aten::_local_scalar_dense",
    "aten::copy_",
    "aten::to",
)


class StepProfiler:
    """Profile the steps after `warmup` for `steps` steps; `step_ended(n)` after step n."""

    def __init__(self, out: Path, warmup: int, steps: int) -> None:
        self.out = out
        self.first = warmup  # profiling starts when this step ends
        self.last = warmup + steps
        self.ends: list[float] = []
        self._profile: Any = None

    def step_ended(self, step: int, now: float) -> None:
        """Called at the end of optimizer step `step` (1-based) at time `now`."""
        if step == self.first:
            self._start()
        if self._profile is not None and self.first <= step <= self.last:
            self.ends.append(now)
        if step == self.last and self._profile is not None:
            self._stop()

    def _start(self) -> None:
        import torch
        from torch.profiler import ProfilerActivity, profile

        activities = [ProfilerActivity.CPU]
        if torch.cuda.is_available():
            activities.append(ProfilerActivity.CUDA)
            torch.cuda.synchronize()  # the profiled steps start from an idle GPU
        self._profile = profile(activities=activities)
        self._profile.__enter__()

    def _stop(self) -> None:
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()  # the last step's kernels finish inside the profile
        self._profile.__exit__(None, None, None)
        self.out.mkdir(parents=True, exist_ok=True)
        write_profile(self._profile, self.out, self.ends)
        self._profile = None


def _device_us(event: Any) -> float:
    # torch >= 2.4 names it device time; older releases cuda time
    return float(
        getattr(event, "self_device_time_total", getattr(event, "self_cuda_time_total", 0))
    )


def write_profile(prof: Any, out: Path, ends: list[float]) -> dict[str, Any]:
    """Write `summary.json`, `ops.txt` and `trace.json.gz` for a finished profile whose steps
    ended at the times `ends` (the first one is the start of the first profiled step)."""
    steps = max(len(ends) - 1, 1)
    averages = prof.key_averages()
    counts = {name: 0 for name in COUNTED}
    for event in averages:
        for name in COUNTED:
            if event.key == name or (name.endswith("*") and event.key.startswith(name[:-1])):
                counts[name] += int(event.count)
    # Top-level CPU operators: those with no operator parent (their CPU time includes children).
    top_cpu_us = sum(
        e.cpu_time_total for e in prof.events() if e.cpu_parent is None and not e.is_async
    )
    device_us = sum(_device_us(e) for e in averages)
    summary = {
        "profiled_steps": steps,
        "wall_ms_per_step": 1000 * (ends[-1] - ends[0]) / steps if len(ends) > 1 else None,
        "top_level_cpu_ms_per_step": top_cpu_us / 1000 / steps,
        "device_ms_per_step": device_us / 1000 / steps,
        "per_step": {name: count / steps for name, count in counts.items()},
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    sort_device = "self_device_time_total" if device_us else "self_cpu_time_total"
    (out / "ops.txt").write_text(
        "by self CPU time\n"
        + averages.table(sort_by="self_cpu_time_total", row_limit=40)
        + "\n\nby self device time\n"
        + averages.table(sort_by=sort_device, row_limit=40)
    )
    trace = out / "trace.json"
    prof.export_chrome_trace(str(trace))
    with trace.open("rb") as raw, gzip.open(out / "trace.json.gz", "wb") as packed:
        shutil.copyfileobj(raw, packed)
    trace.unlink()
    return summary


def table(dirs: list[Path]) -> str:
    """The summaries of profile folders `dirs` side by side, as a markdown table."""
    summaries = [json.loads((d / "summary.json").read_text()) for d in dirs]
    rows = [
        ("wall ms / step", [s["wall_ms_per_step"] for s in summaries]),
        ("top-level CPU ops ms / step", [s["top_level_cpu_ms_per_step"] for s in summaries]),
        ("GPU kernels ms / step", [s["device_ms_per_step"] for s in summaries]),
        *((f"{name} / step", [s["per_step"].get(name) for s in summaries]) for name in COUNTED),
    ]
    names = [d.name for d in dirs]
    if len(set(names)) < len(names):  # two runs' profile-lab folders: name their parents too
        names = [f"{d.parent.name}/{d.name}" for d in dirs]
    lines = [
        "| per profiled step | " + " | ".join(names) + " |",
        "|---" * (len(dirs) + 1) + "|",
    ]
    for label, values in rows:
        shown = ["-" if v is None else f"{v:.1f}" for v in values]
        lines.append(f"| {label} | " + " | ".join(shown) + " |")
    return "\n".join(lines)


def main() -> None:
    """`python benchmarks/step_profile.py DIR [DIR ...]`: the summaries side by side."""
    import argparse

    parser = argparse.ArgumentParser(description=table.__doc__)
    parser.add_argument("dirs", nargs="+", type=Path, help="folders trainers.py profiled into")
    dirs = parser.parse_args().dirs
    missing = [str(d) for d in dirs if not (d / "summary.json").is_file()]
    if missing:
        parser.error(f"no summary.json in {', '.join(missing)} (trainers.py --profile-dir)")
    print(table(dirs))


if __name__ == "__main__":
    main()
