"""Resident memory of this process, for the benchmarks' phase records (`phase_clock.py` in lab
runs, `hf_job.py` in the HF script). Nothing but the standard library: the HF script must not
import what lab imports (Lightning) only to read its own memory."""

from __future__ import annotations

from pathlib import Path


def resident_memory() -> dict[str, float]:
    """`rss_mb` (resident now) and `peak_rss_mb` (the peak so far) of this process."""
    fields = {"VmRSS:": "rss_mb", "VmHWM:": "peak_rss_mb"}
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return {}
    return {
        fields[line.split()[0]]: int(line.split()[1]) / 1024
        for line in lines
        if line.split() and line.split()[0] in fields
    }
