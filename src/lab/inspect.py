"""`python -m lab.inspect data=... [model=...]`: look at a dataset before anything trains.

    python -m lab.inspect data=imdb data.path=../shared/data/imdb
    python -m lab.inspect data=squad model=roberta sample=0 out=reports/squad

Composes the config as `lab.train` would with the same `data=` / `model=` / `task=` /
`data.<key>=` overrides, loads the splits (split as training would) and the model's
tokenizer (never its weights), and prints: rows per split, empty and duplicate rows,
validation/test rows also in train (leakage), label balance with the class weights it would
use, token-length percentiles, the share of rows the configured maximum truncates and a
suggested maximum, and what needs action. It writes `inspect.json` (every number) and
`lengths.png` (the length histograms) into the output folder it names at the end.
The numbers and the columns measured are described in `lab.data.inspection`.

Options: `out=<folder>` (default `<paths.output_root>/inspect/<data option>`), `sample=<rows>`
(rows per split whose lengths are measured, seeded; default 10000; 0: all). Exit 2 with one
line for a bad option, config key or dataset.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

OPTIONS = {
    "data": "the dataset config (data=imdb) and data.<key>=<value> overrides",
    "model": "whose tokenizer measures lengths (model=roberta; default: the train default)",
    "task": "another head for the data (task=masked_lm)",
    "out": "output folder (default <paths.output_root>/inspect/<data option>)",
    "sample": "rows per split whose token lengths are measured (default 10000; 0: all)",
}
PASSTHROUGH = ("data", "model", "task", "seed", "paths")
USAGE = "python -m lab.inspect data=<name> [model=<name>] [data.<key>=<value> ...] [out=...]"


def main(argv: list[str]) -> int:
    """Inspect, print, write; return the exit code."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.utils import instantiate

    from lab.config import compose_train_config
    from lab.config.cli import normalize_argv, parse_options
    from lab.data.inspection import inspect_data
    from lab.data.inspection_stats import draw_histogram
    from lab.errors import LabError

    values, overrides = parse_options(argv, OPTIONS, passthrough=PASSTHROUGH, usage=USAGE)
    try:
        sample = int(values.get("sample", "10000"))
        if sample < 0:
            raise ValueError
    except ValueError:
        raise LabError(f"sample={values['sample']}: give a number of rows >= 0") from None
    started = time.perf_counter()
    import datasets

    datasets.disable_progress_bars()  # loading takes seconds: the bars would be noise
    cfg = compose_train_config(normalize_argv(overrides), output_dir="unused")
    choices = dict(HydraConfig.get().runtime.choices)
    out = Path(values.get("out") or Path(cfg.paths.output_root) / "inspect" / str(choices["data"]))
    tokenizer = instantiate(cfg.model.tokenizer)
    found = inspect_data(cfg, tokenizer, sample=sample)
    report: dict[str, Any] = {
        "data": choices.get("data"),
        "model": choices.get("model"),
        "tokenizer": type(tokenizer).__name__,
        "sample": sample,
        **found["report"],
    }
    out.mkdir(parents=True, exist_ok=True)
    draw_histogram(found["lengths"], found["specs"], found["suggested"], out / "lengths.png")
    report["seconds"] = round(time.perf_counter() - started, 2)
    (out / "inspect.json").write_text(json.dumps(report, indent=2) + "\n")
    show(report)
    print(f"wrote {out / 'inspect.json'} and {out / 'lengths.png'} ({report['seconds']} s)")
    return 0


def show(report: dict[str, Any]) -> None:
    """The report as rich tables on the console."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    splits = Table(title=f"data={report['data']}, tokenizer of model={report['model']}")
    for column in ("split", "rows", "empty", "duplicates (normalised)", "train rows shared"):
        splits.add_column(column, justify="left" if column == "split" else "right")
    for name, entry in report["splits"].items():
        leak = report["leakage"].get(name)
        shared = f"{leak['exact']} ({leak['normalized']})" if leak else "-"
        carved = " (carved)" if name in report["carved"] else ""
        splits.add_row(
            name + carved,
            str(entry["rows"]),
            str(entry["empty"]),
            f"{entry['duplicates']} ({entry['duplicates_normalized']})",
            shared,
        )
    console.print(splits)
    lengths = Table(title="tokens per row (sampled rows; truncated: share over the maximum)")
    for column in ("sequence", "split", "rows", "p50", "p90", "p95", "p99", "max", "truncated"):
        lengths.add_column(column, justify="left" if column in ("sequence", "split") else "right")
    for name, entry in report["splits"].items():
        for sequence, stats in entry["lengths"].items():
            truncated = f"{stats['truncated']:.1%}" if "truncated" in stats else "-"
            numbers = [str(stats.get(k, "-")) for k in ("p50", "p90", "p95", "p99", "max")]
            lengths.add_row(sequence, name, str(stats["measured_rows"]), *numbers, truncated)
    console.print(lengths)
    for sequence, entry in report["max_length"].items():
        if entry["key"]:
            console.print(
                f"{sequence}: {entry['key']}={entry['current']}, suggested {entry['suggested']} "
                f"(train p95 rounded up; model limit {report['model_max_length']})"
            )
    labels = report["labels"]
    if "counts" in labels:
        table = Table(title="train labels")
        for column in ("label", "rows", "share", "class weight"):
            table.add_column(column, justify="left" if column == "label" else "right")
        for name, count in labels["counts"].items():
            table.add_row(
                name,
                str(count),
                f"{labels['shares'][name]:.1%}",
                f"{labels['class_weights'][name]:.3f}",
            )
        console.print(table)
    elif "numeric" in labels:
        numeric = labels["numeric"]
        console.print(
            f"train labels: numbers, mean {numeric['mean']:.3f}, "
            f"min {numeric['min']}, max {numeric['max']}"
        )
    for warning in report["warnings"]:
        console.print(f"[yellow]warning:[/yellow] {warning}")


if __name__ == "__main__":
    from lab.config.cli import run_tool

    run_tool(main)
