"""How `lab.predict` reads the cells of a .csv / .tsv input: as the run's training read its data.

`data.csv_quoting` (`lab.data.csv_quotes`) says how a file's cells are quoted: `csv` (CSV
writers' quoting: a quoted cell may hold the delimiter and span lines) or `none` (quotes are
text, one row per line: GLUE's TSVs). `lab.predict` reads its input by the run's recorded value
(its `config.yaml`; `csv` for a run recorded before the key, as such runs read their data), or
by `data.csv_quoting=` on its command line: the same key as training's, so the messages that
name it (the refusal below, training's own) say what to type here too.

Under `csv`, before the model loads, the input is read once with training's check
(`first_quoted_span`): a quote that would merge rows (`" the deal is off , he said<TAB>1` in a
GLUE TSV opens a cell that runs to the next quote lines below) refuses the file in one line
naming it and the lines, and nothing is written; a well-formed quoted cell over several lines
that holds tabs in a .tsv file is read as written, with training's warning. Under `none` a line
with more cells than the header is that row's error, as other unreadable rows are (training
refuses the whole file: it cannot leave a row out).

Cells are read as training reads them: `NA`, `None`, `null`, `N/A`, `nan` are text, and only an
empty cell is missing (its row's error says the field is empty): Python's csv, which
`lab.inference.rows` reads with, never turns a word into a missing value.
"""

from __future__ import annotations

import logging
from pathlib import Path

from lab.data.csv_quotes import checked_quoting, first_quoted_span
from lab.errors import DataError, LabError
from lab.inference.rows import csv_delimiter

log = logging.getLogger(__name__)

#: `lab.predict`'s option: the run's own key, so messages that name it hold here too
QUOTING_OPTION = "data.csv_quoting"
#: what a run recorded before the key read its data with (`lab.run_dir.resume.ADDED_SETTINGS`)
RECORDED_BEFORE_THE_KEY = "csv"


def recorded_quoting(run_option: str) -> str:
    """The `data.csv_quoting` of the run that `run=` names (a run directory or an export in
    one), read from its config.yaml without loading the model."""
    from lab.inference.onnx_runtime.model import split_export
    from lab.run_dir.runs import open_run

    run_dir, _ = split_export(run_option)
    try:
        run = open_run(run_dir)
    except LabError:
        # Not a run: `open_predictor` refuses it next, in its own words; nothing is read
        # before that but this file's quotes, which are read as most CSV files are.
        return RECORDED_BEFORE_THE_KEY
    value = run.config.get("data", {}).get("csv_quoting") or RECORDED_BEFORE_THE_KEY
    return checked_quoting(str(value), f" (in {run.directory / 'config.yaml'})")


def check_input_quotes(path: Path, quoting: str) -> None:
    """Refuse a .csv / .tsv input whose rows a stray or unclosed quote would merge under
    `quoting`, naming the file and the lines (training's refusal); warn, as training does,
    about a quoted cell over several lines that holds tabs in a .tsv file. Other inputs and
    `quoting=none` (no quote opens a cell) pass unread."""
    delimiter = csv_delimiter(path)
    if delimiter is None or quoting == "none":
        return
    span = first_quoted_span(str(path), delimiter)
    if span is None:
        return
    if span.malformed:
        raise DataError(span.refusal())
    log.warning("%s", span.warning())
