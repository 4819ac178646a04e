"""How `lab.predict` reads the cells of a .csv / .tsv input: as the run's training read its data.

`data.csv_quoting` (`lab.data.csv_quotes`) says how a file's cells are quoted: `csv` (CSV
writers' quoting: a quoted cell may hold the delimiter and span lines) or `none` (quotes are
text, one row per line: GLUE's TSVs). `data.csv_column_names` (`lab.data.csv_header`) names the
columns of a file without a header line (CoLA's GLUE TSVs); null: the first line is the
header. `lab.predict` reads its input by the run's recorded values (its `config.yaml`; `csv`
and null for a run recorded before the keys, as such runs read their data), or by
`data.csv_quoting=` / `data.csv_column_names=` on its command line: the same keys as
training's, so the messages that name them (the refusals below, training's own) say what to
type here too.

Before the model loads, the input is read once, nothing is written where it is refused:

* with column names, its first record must have as many fields, and must not be those names
  (a header of its own): refused in one line naming both otherwise (a run trained on CoLA's
  headerless train.tsv predicts GLUE's headed test.tsv with `data.csv_column_names=null`);
* under `csv`, with training's check (`check_file_quotes`): quoting no CSV writer writes (a
  quote that would merge rows, `" the deal is off , he said<TAB>1` in a GLUE TSV; a cell whose
  quote closes before more text, `" We are doing well , " he said .`, whose quotes would be
  dropped) refuses the file in one line naming it and the line(s); a well-formed quoted cell
  over several lines that holds tabs in a .tsv file is read as written, with training's
  warning. A file in which no cell starts with a quote is not read past a byte search.

Under `none` a line with more cells than the header is that row's error, as other unreadable
rows are (training refuses the whole file: it cannot leave a row out).

Cells are read as training reads them: `NA`, `None`, `null`, `N/A`, `nan` are text, and only an
empty cell is missing (its row's error says the field is empty): Python's csv, which
`lab.inference.rows` reads with, never turns a word into a missing value.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lab.data.csv_header import (
    COLUMN_NAMES_KEY,
    checked_column_names,
    first_record,
    record_problem,
)
from lab.data.csv_quotes import READER_QUOTING, check_file_quotes, checked_quoting
from lab.errors import ConfigError, DataError, LabError
from lab.inference.rows import csv_delimiter

log = logging.getLogger(__name__)

#: `lab.predict`'s options: the run's own keys, so messages that name them hold here too
QUOTING_OPTION = "data.csv_quoting"
COLUMN_NAMES_OPTION = COLUMN_NAMES_KEY
#: what a run recorded before the key read its data with (`lab.run_dir.resume.ADDED_SETTINGS`)
RECORDED_BEFORE_THE_KEY = "csv"


def recorded_quoting(run_option: str) -> str:
    """The `data.csv_quoting` of the run that `run=` names (a run directory or an export in
    one), read from its config.yaml without loading the model."""
    data, where = _recorded_data(run_option)
    value = data.get("csv_quoting") or RECORDED_BEFORE_THE_KEY
    return checked_quoting(str(value), where)


def recorded_column_names(run_option: str) -> tuple[str, ...] | None:
    """The `data.csv_column_names` of the run that `run=` names (None: its files had a
    header line, or it was recorded before the key), from its config.yaml."""
    data, where = _recorded_data(run_option)
    return checked_column_names(data.get("csv_column_names"), where)


def given_column_names(value: str) -> tuple[str, ...] | None:
    """`data.csv_column_names=<value>` of lab.predict's command line, read as Hydra reads the
    same override of training (`[source,label,author_label,sentence]`, `null`)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        parsed = OverridesParser.create().parse_override(f"{COLUMN_NAMES_OPTION}={value}")
    except HydraException as err:
        raise ConfigError(f"{COLUMN_NAMES_OPTION}={value} cannot be read: {err}") from err
    return checked_column_names(parsed.value())


def _recorded_data(run_option: str) -> tuple[dict[str, Any], str]:
    """(the recorded `data` config of the run `run=` names, ` (in <its config.yaml>)`);
    ({}, "") where it names no run: `open_predictor` refuses it next, in its own words, and
    nothing is read before that but the input's first line and quotes, read as most CSV files
    are."""
    from lab.inference.onnx_runtime.model import split_export
    from lab.run_dir.runs import open_run

    run_dir, _ = split_export(run_option)
    try:
        run = open_run(run_dir)
    except LabError:
        return {}, ""
    return dict(run.config.get("data", {})), f" (in {run.directory / 'config.yaml'})"


def check_input_quotes(
    path: Path,
    quoting: str,
    column_names: Sequence[str] | None = None,
    whose: str = "",
) -> None:
    """Refuse a .csv / .tsv input whose first record does not fit `column_names` (a
    headerless file's columns; `whose` says where they came from: `the run's`), or whose
    quoting no CSV writer writes under `quoting` (training's refusals), naming the file and
    the lines; warn, as training does, about a quoted cell over several lines that holds tabs
    in a .tsv file. Other inputs pass unread; under `quoting=none` no quote opens a cell."""
    delimiter = csv_delimiter(path)
    if delimiter is None:
        return
    if column_names:
        record = first_record(str(path), delimiter, READER_QUOTING[quoting])
        problem = record_problem(str(path), record, column_names, whose)
        if problem:
            raise DataError(problem)
    if quoting != "none":
        check_file_quotes(str(path), delimiter, header=not column_names)
