"""`python -m lab.predict`: batched inference of a trained run on a file, row by row.

    python -m lab.predict run=<run dir> input=reviews.csv output=predictions.jsonl
    python -m lab.predict run=<run dir> input=prompts.txt output=out.csv batch_size=64

The input is streamed (`.jsonl`, `.csv`, `.tsv`, `.txt`) and results are written as they
come, so files larger than memory work. Each output row holds the input row's number (1 =
first data row), its `id` when the input has one, and the head's result: `label` and
`probabilities` (classification), `labels` (multi-label), `score` (regression), `entities`
with character spans (NER), `generated_text` (language models). A bad row (missing or empty
field, unparsable line) gets an `error` entry and the rest go on; the summary says how many.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lab.config.cli import parse_options, run_tool
from lab.inference.predictors import Predictor, predict_rows, predictor_for
from lab.inference.rows import (
    RowError,
    RowWriter,
    check_output,
    count_rows,
    open_input,
    read_rows,
)
from lab.run_dir.runs import open_run

OPTIONS = {
    "run": "run directory written by python -m lab.train (required)",
    "input": "input file: .jsonl, .csv, .tsv or .txt (required)",
    "output": "output file: .jsonl or .csv (required)",
    "batch_size": "rows per forward pass (default 32)",
    "device": "cpu, cuda, cuda:1... (default: cuda when available)",
}
USAGE = "python -m lab.predict run=<run dir> input=<file> output=<file> [batch_size=32]"


def predict_file(
    predictor: Predictor, source: Path, target: Path, batch_size: int = 32
) -> tuple[int, int]:
    """Predict every row of `source` into `target`; return (rows, rows with an error)."""
    from rich.progress import MofNCompleteColumn, Progress, TimeRemainingColumn

    total = count_rows(source) - (1 if source.suffix.lower() in (".csv", ".tsv") else 0)
    fields = ["row", "id", *predictor.outputs, "error"]
    rows = errors = 0
    columns = (*Progress.get_default_columns()[:-1], MofNCompleteColumn(), TimeRemainingColumn())
    with RowWriter(target, fields) as writer, Progress(*columns) as progress:
        task = progress.add_task("Predicting", total=max(total, 0))
        for batch in _batches(read_rows(source, predictor.fields[0]), batch_size):
            good = [(n, row) for n, row in batch if not isinstance(row, RowError)]
            predicted = predict_rows(predictor, [row for _, row in good])
            results = dict(zip([n for n, _ in good], predicted, strict=True))
            for number, row in batch:
                result: dict[str, Any] = {"row": number}
                if not isinstance(row, RowError) and "id" in row:
                    result["id"] = row["id"]
                result.update({"error": str(row)} if isinstance(row, RowError) else results[number])
                errors += "error" in result
                writer.write(result)
            rows += len(batch)
            progress.advance(task, len(batch))
    return rows, errors


def _batches(
    rows: Iterator[dict[str, Any] | RowError], size: int
) -> Iterator[list[tuple[int, dict[str, Any] | RowError]]]:
    numbered = enumerate(rows, start=1)
    while batch := list(itertools.islice(numbered, size)):
        yield batch


def main(argv: list[str]) -> int:
    """Console entry point."""
    from rich.console import Console

    from lab.errors import LabError
    from lab.training.console import tame_library_output

    values, _ = parse_options(argv, OPTIONS, required=("run", "input", "output"), usage=USAGE)
    batch_size = int(values.get("batch_size", 32))
    if batch_size < 1:
        raise LabError(f"batch_size must be at least 1, got {batch_size}")
    source = open_input(values["input"])
    target = check_output(Path(values["output"]))
    tame_library_output()
    run = open_run(values["run"])
    predictor = predictor_for(run, values.get("device"))
    rows, errors = predict_file(predictor, source, target, batch_size)
    console = Console()
    console.print(
        f"Predicted {rows - errors} of {rows} rows"
        + (f"; [yellow]{errors} with an error[/yellow] (see their 'error' field)" if errors else "")
    )
    console.print(f"Predictions written to [bold]{target}[/bold]")
    return 0


if __name__ == "__main__":
    run_tool(main)
