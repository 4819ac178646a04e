"""`python -m lab.predict`: batched inference of a trained run on a file, row by row.

    python -m lab.predict run=<run dir> input=reviews.csv output=predictions.jsonl
    python -m lab.predict run=<run dir> input=prompts.txt output=out.csv batch_size=64
    python -m lab.predict run=<run dir> input=reviews.csv output=out.jsonl columns.text=review

The input is streamed (`.jsonl`, `.csv`, `.tsv`, `.txt`, `.parquet`) and results are written
as they come, so files larger than memory work. Each output row holds the input row's `line`
(the line a text editor shows: a CSV header is line 1; a Parquet row's number, from 1), its
`id` when the input has one, and the head's
result: `label` and `probabilities` (classification), `labels` (multi-label), `score`
(regression), `entities` with character spans (NER), `generated_text` (language models). A bad
row (missing or empty field, unparsable line) gets an `error` entry naming `<file>:<line>` and
the rest go on; the summary says how many failed and shows the first, and how many blank lines
were skipped (no rows). When no row could be predicted the exit status is 2 (the output still
holds every row's error).

On a terminal a progress bar is drawn; elsewhere (stdout a file or a pipe: `nohup`, a SLURM
job's log) a long run says how far it is in plain lines instead
(`lab.inference.plain_progress`), as training
does: `predicted 4000 of 20000 rows (20%), 0:02:20 elapsed, about 0:09:20 left`.

The output is written whole or not at all (a temporary file, renamed at the end); an output
that is the input file, or that cannot be written, is refused before anything is read.
Interrupted (Ctrl-C: exit 130; SIGTERM: 143), the rows predicted so far are kept in
`<output stem>.partial<suffix>` (`pred.partial.jsonl`) and the line says so; the output itself
is not written (an earlier one is left as it was).

`columns.<field>=<column>` reads one of the head's fields from another column of the file
(`lab.inference.options`); `max_new_tokens=N` sets how many tokens a generating head (language
models, seq2seq) writes per row, instead of the run's own length; `task.module.<key>=<value>`
changes a setting the head's results read (`lab.inference.settings`). A `.csv` / `.tsv` input is
read as the run's training read its data: by the run's `data.csv_quoting` (`data.csv_quoting=`
overrides it: `none` reads quotes as text, one row per line, as GLUE's TSVs are written) and
`data.csv_column_names` (`data.csv_column_names=` overrides it: the columns of a file without a
header line, null for one with a header), quoting no CSV writer writes and a first line that
does not fit the column names refused before the model loads, `NA`/`null` cells as text
(`lab.inference.input_quoting`).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from lab.config.cli import parse_options, run_tool
from lab.data.csv_quotes import checked_quoting
from lab.inference.input_quoting import (
    COLUMN_NAMES_OPTION,
    QUOTING_OPTION,
    check_input_quotes,
    given_column_names,
    recorded_column_names,
    recorded_quoting,
)
from lab.inference.options import (
    COLUMNS,
    check_columns,
    map_columns,
    parse_columns,
    positive_int,
)
from lab.inference.plain_progress import PlainProgress
from lab.inference.predictors import Generator, Predictor, open_predictor, predict_rows
from lab.inference.rows import (
    ROW_REENCODE,
    RowError,
    RowWriter,
    check_output,
    count_rows,
    input_kind,
    open_input,
    partial_path,
    read_rows,
    row_place,
)
from lab.inference.settings import GROUP as SETTINGS
from lab.inference.settings import generation_line, settings_line
from lab.tool_interrupts import on_interrupt
from lab.tool_outputs import check_not_input

OPTIONS = {
    "run": "run directory written by python -m lab.train (required)",
    "input": "input file: .jsonl, .csv, .tsv, .txt (also .gz) or .parquet (required)",
    "output": "output file: .jsonl or .csv (required)",
    "batch_size": "rows per forward pass (default 32)",
    "device": "cpu, cuda, cuda:1... (default: cuda when available)",
    "model": "pytorch (the run's model/, default), onnx or onnx-int8 (the run's ONNX export, "
    "run by onnxruntime on CPU), or a folder holding model.onnx",
    "max_new_tokens": "most tokens generated per row, for a generating head (default: the "
    "run's task.module.max_new_tokens, sample_max_new_tokens for causal_lm, 128 for dpo)",
    QUOTING_OPTION: "how a .csv/.tsv input's cells are quoted: csv (as CSV writers quote) or "
    "none (quotes are text, one row per line, as in GLUE's TSVs) (default: the run's own)",
    COLUMN_NAMES_OPTION: "the columns of a .csv/.tsv input without a header line, in order, "
    "e.g. [source,label,author_label,sentence]; null: its first line is the header (default: "
    "the run's own)",
    "columns.<field>": "read the head's input <field> from another column of the file, e.g. "
    "columns.text=review (one per field)",
    "task.module.<key>": "a setting the head's results read, e.g. extractive QA's "
    "task.module.null_score_diff_threshold=-2 or a multi-label run's task.module.threshold=0.3 "
    "(also task.predictor.<key>, e.g. masked LM's top_k)",
}
USAGE = (
    "python -m lab.predict run=<run dir> input=<file> output=<file> [batch_size=32] "
    "[columns.<field>=<column>]"
)


class Tally:
    """What `predict_file` did: rows read, rows with an error, the first error, and the blank
    lines skipped (no rows)."""

    def __init__(self) -> None:
        self.rows = 0
        self.errors = 0
        self.first_error = ""
        self.blank_lines = 0

    def blank(self, line: int) -> None:
        """Count one blank line of the input (`line`: its number), skipped."""
        self.blank_lines += 1

    def skipped(self) -> str:
        """`2 blank lines skipped`, or "" when none was."""
        count = self.blank_lines
        return f"{count} blank line{'' if count == 1 else 's'} skipped" if count else ""

    def count(self, result: dict[str, Any]) -> None:
        """Count one written result row."""
        self.rows += 1
        if "error" in result:
            self.errors += 1
            self.first_error = self.first_error or str(result["error"])


def predict_file(
    predictor: Predictor,
    source: Path,
    target: Path,
    batch_size: int = 32,
    columns: dict[str, str] | None = None,
    quoting: str = "csv",
    column_names: Sequence[str] | None = None,
) -> Tally:
    """Predict every row of `source` into `target`; say how many rows and errors there were.

    `columns` maps input fields of the head to the file's columns (`columns.<field>=`);
    `quoting` is how a CSV/TSV source's cells are quoted (`data.csv_quoting`) and
    `column_names` its columns where it has no header line (`data.csv_column_names`), both
    checked already (`check_input_quotes`)."""
    from rich.console import Console
    from rich.progress import MofNCompleteColumn, Progress, TimeRemainingColumn

    fields = ["line", "id", *predictor.outputs, "error"]
    tally = Tally()
    shown = (*Progress.get_default_columns()[:-1], MofNCompleteColumn(), TimeRemainingColumn())
    partial = partial_path(target)
    existed = target.exists()
    # Never the input's name: a partial file must not replace the rows being read.
    same = partial.exists() and source.exists() and partial.samefile(source)
    writer = RowWriter(target, fields, partial=None if same else partial)
    total: list[int] = []
    # Interrupted, the writer keeps its rows first (it exits before `on_interrupt`).
    with (
        on_interrupt(lambda: _left(writer, total, target, existed)),
        writer,
        # A bar only on a terminal: in a file rich draws it once, at the end (as lab.train);
        # plain lines there instead.
        Progress(*shown, disable=not Console().is_interactive) as progress,
    ):
        total.append(count_rows(source, quoting, column_names))
        task = progress.add_task("Predicting", total=total[0])
        lines = None if Console().is_interactive else PlainProgress("predicted", total[0])
        rows = read_rows(source, predictor.fields[0], quoting, column_names, tally.blank)
        if columns:
            rows = ((n, _mapped(r, columns)) for n, r in rows)
        for batch in _batches(rows, batch_size):
            good = [(n, row) for n, row in batch if not isinstance(row, RowError)]
            predicted = predict_rows(predictor, [row for _, row in good])
            results = dict(zip([n for n, _ in good], predicted, strict=True))
            for line, row in batch:
                result = _result(source, line, row, results)
                tally.count(result)
                writer.write(result)
            progress.advance(task, len(batch))
            if lines is not None:
                lines.advance(len(batch))
    return tally


#: Hub sets' row-id columns (GLUE's `idx`, HellaSwag's `ind`): passed through as the output's
#: `id` where a row has no `id`
HUB_IDS = ("idx", "ind")


def _result(
    source: Path, line: int, row: dict[str, Any] | RowError, results: dict[int, Any]
) -> dict[str, Any]:
    """The output row of input row `line`: its line, its id, and its result or its error."""
    result: dict[str, Any] = {"line": line}
    if isinstance(row, RowError):
        result.update(row.kept)  # its id, when the row was read
    # A row with a byte that is not UTF-8 keeps its id, read as the rest of it could be.
    read = row.read if isinstance(row, RowError) else row
    if read is None:
        pass
    elif "id" in read:
        result["id"] = read["id"]
    elif known := next((c for c in HUB_IDS if c in read), None):  # s30b F6, s30d F5
        result["id"] = read[known]  # a Hub set's row id: what a submission file is keyed by
    result.update({"error": row} if isinstance(row, RowError) else results[line])
    if "error" in result:  # the convention of every data error: <file>:<line>
        result["error"] = f"{row_place(source, line)}: {result['error']}"
    return result


def _mapped(row: dict[str, Any] | RowError, columns: dict[str, str]) -> dict[str, Any] | RowError:
    """`row` with the file's `columns` read as the head's fields (`map_columns`); a row with
    a byte that is not UTF-8 keeps its id as a good row's is read (`RowError.read`)."""
    if isinstance(row, dict):
        return map_columns(row, columns)
    if row.read is None:
        return row
    read = map_columns(row.read, columns)
    if isinstance(read, RowError):  # a mapped column missing too: the UTF-8 error is said
        return RowError(row, read.kept)
    return RowError(row, row.kept, read)


def _left(writer: RowWriter, total: list[int], target: Path, existed: bool) -> str:
    """What an interrupted `predict_file` leaves, in words."""
    output = f"{target} is as it was" if existed else f"{target} was not written"
    if writer.kept is None:  # none written (or the partial file's name is the input's)
        done = f"the {writer.rows} rows predicted were not kept" if writer.rows else ""
        return f"{done or 'no row was predicted'}; {output}"
    of = f" of {total[0]}" if total else ""
    return f"{writer.rows}{of} rows were predicted: they are kept in {writer.kept}; {output}"


def _batches(
    rows: Iterator[tuple[int, dict[str, Any] | RowError]], size: int
) -> Iterator[list[tuple[int, dict[str, Any] | RowError]]]:
    while batch := list(itertools.islice(rows, size)):
        yield batch


def main(argv: list[str]) -> int:
    """Console entry point."""
    from rich.markup import escape

    from lab.errors import DataError
    from lab.training.console import message_console

    values, overrides = parse_options(
        argv,
        OPTIONS,
        required=("run", "input", "output"),
        passthrough=(COLUMNS, SETTINGS),
        usage=USAGE,
    )
    # Before anything is read: the predictions would replace the rows being read.
    check_not_input(Path(values["output"]), Path(values["input"]))
    settings = [o for o in overrides if o.split("=", 1)[0].split(".", 1)[0] == SETTINGS]
    overrides = [o for o in overrides if o not in settings]
    batch_size = positive_int(values, "batch_size", 32) or 32
    max_new_tokens = positive_int(values, "max_new_tokens")
    columns = parse_columns(overrides)
    given = values.get(QUOTING_OPTION)
    quoting = checked_quoting(given) if given is not None else None
    named = values.get(COLUMN_NAMES_OPTION)
    names = given_column_names(named) if named is not None else None
    source = open_input(values["input"])
    if columns and input_kind(source) == ".txt":
        raise DataError(
            f"{source} is plain text (each line is one text, no columns to map): drop "
            + " ".join(f"{COLUMNS}.{field}={column}" for field, column in columns.items())
        )
    target = check_output(Path(values["output"]))
    # Read as the run's training read its data; refused before the model loads, nothing written.
    quoting = quoting or recorded_quoting(values["run"])
    whose = "" if named is not None else "the run's"
    names = names if named is not None else recorded_column_names(values["run"])
    check_input_quotes(source, quoting, names, whose)
    unchanged = f"{target} is as it was" if target.exists() else f"{target} was not written"
    with on_interrupt(f"no row was predicted; {unchanged}"):  # while the model loads
        run, model_dir, predictor = open_predictor(
            values["run"],
            values.get("model"),
            values.get("device"),
            max_new_tokens=max_new_tokens,
            settings=settings,
        )
        predictor.read_data_rows()  # a file is often the run's own test split
        if columns:  # the head's fields come from the run's config, known once it is built
            check_columns(columns, predictor.accepted_fields, run.head)
        tally = predict_file(predictor, source, target, batch_size, columns, quoting, names)
    if tally.rows == tally.errors:  # nothing predicted: a user error, whatever the cause
        first = tally.first_error
        if first.endswith(ROW_REENCODE):  # not UTF-8: how to re-encode it, once
            from lab.data.text_encoding import reencode_advice

            first = first.removesuffix(ROW_REENCODE) + reencode_advice(str(source), "the file")
        elif missing := re.search(r"missing field '([^']+)' \(fields present", first):
            # every row lacks it: most likely the file's column has another name (s27d L1)
            first += (
                f"; columns.{missing[1]}=<column> reads the head's '{missing[1]}' from a column "
                "of another name"
            )
        raise DataError(
            f"no row of {source} could be predicted: {tally.errors} of {tally.rows} rows "
            f"failed; first: {first} (every row's error is in {target})"
            if tally.rows
            else f"{source} has no rows to predict"
            + (f" ({tally.skipped()})" if tally.blank_lines else "")
        )
    console = message_console(highlight=False)
    console.print(
        f"Predicted {tally.rows - tally.errors} of {tally.rows} rows"
        + (f" ({tally.skipped()})" if tally.blank_lines else "")
        + (
            f"; [yellow]{tally.errors} failed[/yellow] (see their 'error' field); first: "
            + escape(tally.first_error)  # names taken from the input: never markup
            if tally.errors
            else ""
        )
    )
    for note in predictor.notes():
        console.print(f"[yellow]note:[/yellow] {escape(note)}")
    console.print(f"Predictions written to [bold]{target}[/bold]")
    console.print(
        f"Model: {model_dir}, ONNX on onnxruntime"
        if model_dir
        else f"Model: {run.model_dir} (PyTorch)"
    )
    changed = [*settings, *([f"max_new_tokens={max_new_tokens}"] if max_new_tokens else [])]
    if changed:
        console.print(escape(settings_line(changed)))
    if isinstance(predictor, Generator):  # what generated, said even when the run's own
        console.print(generation_line(predictor))
    return 0


if __name__ == "__main__":
    run_tool(main, exit_fast=True, stop_on_sigterm=True)
