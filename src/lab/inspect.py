"""`python -m lab.inspect data=... [model=...]`: look at a dataset before anything trains.

    python -m lab.inspect data=imdb data.path=../shared/data/imdb
    python -m lab.inspect data=squad model=roberta sample=0 out=reports/squad

Composes the config as `lab.train` would with the same `data=` / `model=` / `task=` /
`data.<key>=` overrides, loads the splits (split as training would) and the model's tokenizer
(never its weights), and prints: rows per split, empty and duplicate rows, validation/test rows
also in train (leakage), label balance with the class weights it would use (every named class, 0
rows for one train lacks) and each other split's rows of each class (a warning for a class train
holds and a validation or test split lacks), labels training refuses in any split (hidden -1,
empty cells; and, by the head's own rules in training's words, a label outside the named
classes, e.g. 1-based labels) and class 0 without a train row, token-length percentiles, the
share of rows the configured maximum truncates and a suggested maximum, the share of tokens that
are the tokenizer's unknown token, and what needs action. A table too wide for the console (80
columns in a pipe) is printed turned, never cut. Chat rows (SFT) are measured as their
chat-templated tokens and preference pairs (DPO) as prompt, prompt + chosen and prompt +
rejected, with the rows training would leave out and, for chats, turns and messages per role;
for chats also the training targets (the tokens whose labels the loss counts: the assistant's
turns, or every token with `task.module.train_on_prompt=true`), their share per split and the
first two train rows with the targets marked `[[...]]`. The unknown-token share of chats and
pairs is taken over the ids the head encodes. It writes `inspect.json` (every number) and
`lengths.png` (the length histograms) into the output folder it names at the end. The numbers
and the columns measured are described in `lab.data.inspection`.

`run=<run dir>` inspects a trained run's data as it read it (`lab.inspect_run`).

Options: `out=<folder>` (default `<paths.output_root>/inspect/<data option>`), `sample=<rows>`
(rows per split whose lengths are measured, seeded; default 10000; 0: all), `--config-dir
<folder>` (your own config groups, searched first: `lab.config.user_dirs`). Exit 2 with one
line for a bad option, config key or dataset.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

OPTIONS = {
    "run": "a trained run: its data, as it read it, and its tokenizer (lab.inspect_run)",
    "data": "the dataset config (data=imdb) and data.<key>=<value> overrides",
    "model": "whose tokenizer measures lengths (model=roberta; default: the train default)",
    "task": "another head for the data (task=masked_lm)",
    "out": "output folder (default <paths.output_root>/inspect/<data option>)",
    "sample": "rows per split whose token lengths are measured (default 10000; 0: all)",
    "--config-dir": "a folder of your own config groups (data/, model/, ...), searched before "
    "lab's as lab.train --config-dir searches it (data=<your data config>); may be repeated",
}
PASSTHROUGH = ("data", "model", "task", "seed", "paths")
USAGE = (
    "python -m lab.inspect data=<name> [model=<name>] [data.<key>=<value> ...] [out=...] "
    "[--config-dir <folder>] | run=<run dir> [data.<key>=<value> ...]"
)


def main(argv: list[str]) -> int:
    """Inspect, print, write; return the exit code."""
    from hydra.core.hydra_config import HydraConfig

    from lab.config.cli import normalize_argv, parse_options
    from lab.config.user_dirs import take_config_dirs
    from lab.errors import LabError

    config_dirs, argv = take_config_dirs(argv)  # before key=value parsing: a flag of its own
    values, overrides = parse_options(argv, OPTIONS, passthrough=PASSTHROUGH, usage=USAGE)
    try:
        sample = int(values.get("sample", "10000"))
        if sample < 0:
            raise ValueError
    except ValueError:
        raise LabError(f"sample={values['sample']}: give a number of rows >= 0") from None
    started = time.perf_counter()
    if "run" in values:
        from lab.inspect_run import run_inspect_config

        cfg, choices, default_out = run_inspect_config(values["run"], normalize_argv(overrides))
    else:  # a config refused before datasets and transformers are imported: said at once
        cfg = _composed(normalize_argv(overrides), config_dirs)
        choices = dict(HydraConfig.get().runtime.choices)
        default_out = Path(cfg.paths.output_root) / "inspect" / str(choices["data"])
    import datasets

    from lab.data.inspection import inspect_data
    from lab.data.inspection_stats import draw_histogram
    from lab.data.mixture import mixture_inspect_note
    from lab.training.console import drop_transformers_reports
    from lab.training.tokenizers import build_tokenizer

    drop_transformers_reports()  # e.g. "Token indices sequence length is longer than ..."
    datasets.disable_progress_bars()  # loading takes seconds: the bars would be noise
    out = Path(values.get("out") or default_out)
    tokenizer = build_tokenizer(cfg)  # with model.chat_template and added tokens, as trained
    if cfg.data.get("streaming"):
        from lab.training.console import message_console

        message_console().print(
            "data.streaming=true: lab.inspect reads the splits whole, as map-style data; a "
            "streamed run cuts a missing validation/test split from the head of train "
            f"(data.max_eval_samples / data.max_test_samples, else "
            f"data.stream_sample_rows={cfg.data.get('stream_sample_rows')} rows each)",
            markup=False,
        )
    if note := mixture_inspect_note(cfg.data):  # s30e F1
        from lab.training.console import message_console

        message_console().print(note, markup=False)
    with lab_lines_on_screen():  # what training says of reading the data (see the function)
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


@contextmanager
def lab_lines_on_screen() -> Iterator[None]:
    """Inside the block, lab's own log lines reach stderr as a run's console shows them:
    what reading the data says (the configuration of a Hub folder read, a `data.splits`
    name the files lack and the split read instead) and warnings as `warning: ...`; the
    file-only reports of a run's train.log are left out. A tool has no log file, and
    without a handler Python prints warnings bare and drops the lines."""
    from lab.training.console import ConsoleFormatter, QuietConsole

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ConsoleFormatter())
    handler.addFilter(QuietConsole())
    logger = logging.getLogger("lab")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def show(report: dict[str, Any], console: Console | None = None) -> None:
    """The report as tables on `console` (default: lab's message console). A table too wide
    for the console (80 columns in a pipe) is turned, one row per column title, as
    `lab.compare` does (`lab.wide_tables.print_fitting_table`): no title or cell is cut. The
    labels table keeps one row per label, its names folding (`lab.inspect_labels`)."""
    from rich.markup import escape

    from lab.inspect_labels import print_label_table
    from lab.training.console import message_console
    from lab.wide_tables import print_fitting_table

    console = console or message_console()
    names = [name + (" (carved)" if name in report["carved"] else "") for name in report["splits"]]
    rows = []
    for name, entry in report["splits"].items():
        leak = report["leakage"].get(name)
        shared = f"{leak['exact']} ({leak['normalized']})" if leak else "-"
        rows.append(
            [
                str(entry["rows"]),
                str(entry["empty"]),
                f"{entry['duplicates']} ({entry['duplicates_normalized']})",
                shared,
            ]
        )
    print_fitting_table(
        f"data={report['data']}, tokenizer of model={report['model']}",
        ["rows", "empty", "duplicates (normalised)", "train rows shared"],
        rows,
        console,
        labels=names,
        key_title="split",
        min_value_width=len("validation (carved)"),
        labels_first=True,
    )
    unknown = {n: e["unknown_tokens"] for n, e in report["splits"].items() if "unknown_tokens" in e}
    if unknown:
        listed = ", ".join(f"{name} {share:.1%}" for name, share in unknown.items())
        console.print(f"unknown tokens ({report.get('unknown_token')}): {listed}", markup=False)
    dropped = any("dropped" in s for e in report["splits"].values() for s in e["lengths"].values())
    measured = report.get("sample")
    measured = "every row" if measured == 0 else f"up to {measured or 10000:,} rows a split"
    # Shares of the rows read, as lab.train's SFT line words its second share ("62.5% of the
    # 24 rows read"; its first is of the examples kept): s26b M5 read them as a disagreement.
    title = f"tokens per row ({measured}; truncated: share of the rows read over the maximum"
    if any(entry.get("windowed") for entry in report["max_length"].values()):
        title += ", split into windows by this head, not cut"
    header = ["sequence", "rows", "p50", "p90", "p95", "p99", "max", "truncated"]
    rows, splits = [], []
    for name, entry in report["splits"].items():
        for sequence, stats in entry["lengths"].items():
            shares = [f"{stats[k]:.1%}" if k in stats else "-" for k in ("truncated", "dropped")]
            numbers = [str(stats.get(k, "-")) for k in ("p50", "p90", "p95", "p99", "max")]
            # escape: rich would read `translation[en]` as markup and print `translation`
            row = [escape(sequence), str(stats["measured_rows"]), *numbers]
            rows.append(row + shares[: 1 + dropped])
            splits.append(name)
    print_fitting_table(
        title + ("; dropped: share whose prompt alone fills it)" if dropped else ")"),
        header + (["dropped"] if dropped else []),
        rows,
        console,
        labels=splits,
        key_title="split",
        min_value_width=len("truncated"),
        labels_first=True,
    )
    packed = {
        name: entry["blocks"] for name, entry in report["splits"].items() if "blocks" in entry
    }
    if packed:  # masked LM: rows are joined and cut into blocks; the blocks are its examples
        first = next(iter(packed.values()))
        counts = ", ".join(
            f"{name} {'~' if b.get('estimated') else ''}{b['blocks']:,}"
            for name, b in packed.items()
        )
        console.print(
            f"packed into blocks of {first['size']} tokens ({first['key']}): {counts}"
            + (
                " (~: from the sampled rows)"
                if any("estimated" in b for b in packed.values())
                else ""
            ),
            markup=False,
        )
    for name, entry in report["splits"].items():
        if entry.get("facts"):
            console.print(f"{name}: {describe_facts(entry['facts'])}", markup=False)
    if "targets" in report:
        show_targets(report, console)
    limits: dict[str, list[str]] = {}  # one line per limit, naming the sequences under it
    for sequence, entry in report["max_length"].items():
        if entry["key"]:
            still = entry.get("still_truncated")
            why = (
                f"the model's limit; {still:.0%} of train rows are longer still"
                if still
                else f"train p95 rounded up; model limit {report['model_max_length']}"
            )
            limits.setdefault(
                f"{entry['key']}={entry['current']}, suggested {entry['suggested']} ({why})", []
            ).append(sequence)
    for line, sequences in limits.items():
        console.print(f"{', '.join(sequences)}: {line}", markup=False)
    labels = report["labels"]
    if "counts" in labels:
        print_label_table(report, console)
    elif "numeric" in labels:
        numeric = labels["numeric"]  # 4 significant digits: float32 labels print as written
        console.print(
            f"train labels: numbers, mean {numeric['mean']:.4g}, "
            f"min {numeric['min']:.4g}, max {numeric['max']:.4g}"
        )
    for warning in report["warnings"]:
        console.print(f"[yellow]warning:[/yellow] {escape(warning)}")


def show_targets(report: dict[str, Any], console: Console) -> None:
    """The training targets (labels not -100) of a head that has them (SFT): their share of
    the tokens per split, then the first train rows with the targets between `[[` and `]]`
    (and in colour on a terminal), newlines as `\\n`, long runs cut in the middle."""
    from rich.text import Text

    shares = ", ".join(
        f"{name} {entry['targets']['share']:.1%} of {entry['targets']['tokens']:,} tokens"
        for name, entry in report["splits"].items()
        if "targets" in entry
    )
    console.print(f"targets (labels): {report['targets']['rule']}; {shares}", markup=False)
    for example in report["targets"]["examples"]:
        console.print(
            f"{example['split']} row {example['row']}: {example['targets']} of "
            f"{example['tokens']} tokens are targets ({example['share']:.1%}), marked [[ ]]:",
            markup=False,
        )
        line = Text("  ")
        for text, target in example["runs"]:
            shown = _shortened(text.replace("\n", "\\n"))
            line.append(f"[[{shown}]]" if target else shown, style="bold green" if target else "")
        console.print(line)


SHOWN_RUN = 240  # characters of a run of an example shown whole; longer ones lose the middle


def _shortened(text: str) -> str:
    if len(text) <= SHOWN_RUN:
        return text
    half = SHOWN_RUN // 2
    return f"{text[:half]} ...({len(text) - 2 * half} characters)... {text[-half:]}"


def describe_facts(facts: dict[str, Any]) -> str:
    """A split's `facts` in one line: shares as percentages, percentiles as p50/p90/max,
    counts as "name count"."""
    parts = []
    for name, value in facts.items():
        label = name.replace("_", " ")
        if isinstance(value, float):
            parts.append(f"{label} {value:.1%}")
        elif value and "p50" in value:
            parts.append(f"{label} p50 {value['p50']}, p90 {value['p90']}, max {value['max']}")
        elif value:
            parts.append(f"{label} " + ", ".join(f"{k} {n}" for k, n in value.items()))
    return "; ".join(parts)


def _composed(overrides: list[str], config_dirs: list[str]) -> Any:
    """`conf/train.yaml` with `overrides`, your config folders searched first; a config error
    in lab's words, as `lab.train` and `lab.validate` say it (`'data.foo' is not a config key.
    Valid keys of data: ...`), not Hydra's three lines of advice to append the key."""
    from lab.config.compose import compose_in_words

    return compose_in_words(overrides, output_dir="unused", config_dirs=config_dirs)


if __name__ == "__main__":
    from lab.config.cli import run_tool

    run_tool(main, exit_fast=True)
