"""Reading local CSV/TSV and JSON files the way their writers meant them (`lab.data.csv_quotes`,
`lab.data.pandas_json`).

* A GLUE-style TSV (written without CSV quoting) whose sentence starts with `"`: under CSV
  quoting the quote swallows the rows below it; refused naming the lines, and read one row per
  line with `data.csv_quoting=none`. Files pandas writes (quoted multi-line cells, doubled
  quotes, commas and tabs in cells) read as before: one row per record.
* Cells that read `NA`, `None`, `null`, `N/A`, `nan` are text; only an empty cell is missing
  (and is refused at its line, as before).
* pandas' default `DataFrame.to_json()` (and its other object layouts) is refused naming the
  layout and the call that writes rows.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from lab.data.column_refusal import missing_columns_message
from lab.data.sources import load_local
from lab.errors import DataError
from lab.tasks.text_classification.data import TextClassificationDataModule


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    from transformers import AutoTokenizer

    from lab.config.paths import package_path

    return AutoTokenizer.from_pretrained(package_path("lab", "assets/tiny_bert"))


def _glue_tsv(path: Path, rows: int = 60, quoted: tuple[int, ...] = (5, 20)) -> Path:
    """`sentence<TAB>label`, written as GLUE writes it (no CSV quoting): the rows in `quoted`
    start with a quote character that nothing closes (row r is on line r + 2)."""
    lines = ["sentence\tlabel"]
    for row in range(rows):
        text = f"plain sentence {row}"
        if row == quoted[0]:
            text = '" the deal is off , he said'
        elif row in quoted[1:]:
            text = f'" quoted " start {row}'
        lines.append(f"{text}\t{row % 2}")
    path.write_text("\n".join(lines) + "\n")
    return path


# ------------------------------------------------------------------ F6: quotes that merge rows
def test_a_glue_tsv_whose_sentence_opens_a_quote_is_refused_naming_its_lines(
    tmp_path: Path,
) -> None:
    data = _glue_tsv(tmp_path / "train.tsv")
    with pytest.raises(DataError) as caught:
        load_local(data)
    # row 5 is line 7; the next quote, on line 22 (row 20), is where CSV quoting closes it
    assert str(caught.value) == (
        f'{data}:7: a quote (") opens a cell that CSV quoting closes only on line 22, so '
        "lines 7-22 would be read as one row; a file written without CSV quoting (as GLUE's "
        "TSVs are) is read with data.csv_quoting=none (quotes as text, one row per line)"
    )


def test_the_same_file_reads_one_row_per_line_without_quoting(tmp_path: Path) -> None:
    data = _glue_tsv(tmp_path / "train.tsv")
    train = load_local(data, csv_quoting="none")["train"]
    assert len(train) == 60  # the file's 61 lines less the header
    assert train[5]["sentence"] == '" the deal is off , he said'  # the quote is text
    assert train[20]["sentence"] == '" quoted " start 20'
    assert train[59] == {"sentence": "plain sentence 59", "label": 1}
    assert str(train.features["label"].dtype) == "int64"


def test_a_quote_never_closed_is_named_where_it_opens(tmp_path: Path) -> None:
    # Before: "could not read ... as csv: ParserError: ... EOF inside string starting at row 2"
    data = _glue_tsv(tmp_path / "train.tsv", rows=30, quoted=(3,))
    with pytest.raises(DataError) as caught:
        load_local(data)
    assert str(caught.value).startswith(
        f'{data}:5: a quote (") opens a cell that is never closed (line 31 ends the file), so '
        "lines 5-31 would be read as one row;"
    )


def test_a_merge_longer_than_pythons_csv_field_limit_is_still_found(tmp_path: Path) -> None:
    # Python's csv refuses cells over 128 KiB; 3000 rows of ~50 characters merge into more.
    data = _glue_tsv(tmp_path / "train.tsv", rows=3000, quoted=(1, 2990))
    limit = csv.field_size_limit()
    with pytest.raises(DataError, match=r"train\.tsv:3: .* closes only on line 2992"):
        load_local(data)
    assert csv.field_size_limit() == limit  # the process-wide limit is restored


def _pandas_frame() -> pd.DataFrame:
    texts = [f"review {i}, plain" for i in range(40)]
    texts[3] = 'line one,\nline two, "quoted"\nline three'  # commas, quotes, line breaks
    texts[9] = '" starts with a quote'  # pandas quotes it and doubles the quote
    texts[17] = "NA"
    return pd.DataFrame({"text": texts, "label": [i % 2 for i in range(40)]})


@pytest.mark.parametrize("suffix", [".csv", ".tsv"])
def test_files_pandas_writes_read_as_before(
    tmp_path: Path, suffix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A quoted multi-line cell stays one row (the frame itself is the oracle), quietly."""
    frame = _pandas_frame()
    data = tmp_path / f"train{suffix}"
    frame.to_csv(data, sep="\t" if suffix == ".tsv" else ",", index=False)
    with caplog.at_level(logging.WARNING):
        train = load_local(data)["train"]
    assert train["text"] == list(frame["text"])
    assert train["label"] == list(frame["label"])
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_quoted_tsv_cell_with_tabs_and_line_breaks_is_read_and_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Well-formed quoting, but a cell with tabs over several lines may be rows merged by a
    quote that closed before a tab: read as written, with a warning naming its lines."""
    frame = _pandas_frame()
    frame.loc[6, "text"] = "a cell\twith a tab\nand a second line"  # on lines 10-11
    data = tmp_path / "train.tsv"
    frame.to_csv(data, sep="\t", index=False)
    with caplog.at_level(logging.WARNING):
        train = load_local(data)["train"]
    assert train["text"] == list(frame["text"])
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [
        f"{data}:10: a quoted cell runs over lines 10-11 and holds tabs, read as one row; if "
        "the file is not CSV-quoted (GLUE's TSVs are not), those lines are rows merged by a "
        "quote: set data.csv_quoting=none"
    ]


def test_a_semicolon_file_is_left_to_the_refusal_that_names_its_delimiter(
    tmp_path: Path,
) -> None:
    """`;`-separated: its quoted cell closes before a `;` (not the comma lab splits on), which
    the quote check would misname; the column refusal names the delimiter instead."""
    frame = _pandas_frame()
    data = tmp_path / "train.csv"
    frame.to_csv(data, sep=";", index=False)
    train = load_local(data)["train"]  # commas in cells make pandas add an index column
    assert train.column_names[0] == "text;label"
    assert "looks ';'-separated" in missing_columns_message(["'text'"], "train", ["text;label"])


# --------------------------------------------------------------- F9: NA words are text
NA_WORDS = ["NA", "None", "null", "N/A", "nan", "NaN", "n/a", "NULL"]


def _na_csv(path: Path, cell: dict[int, str] | None = None) -> Path:
    """title,content,label; rows 0-7 hold the NA words as text; `cell` sets other rows."""
    rows = [f"title {i},content {i},{i % 2}" for i in range(40)]
    for i, word in enumerate(NA_WORDS):
        rows[i] = f"{word},{word},{i % 2}"
    for i, row in (cell or {}).items():
        rows[i] = row
    path.write_text("title,content,label\n" + "\n".join(rows) + "\n")
    return path


def test_na_words_are_read_as_text_and_labels_as_integers(tmp_path: Path) -> None:
    train = load_local(_na_csv(tmp_path / "train.csv", {9: ",,1"}))["train"]
    assert train["title"][:8] == NA_WORDS
    assert train["content"][:8] == NA_WORDS
    assert train[9] == {"title": None, "content": None, "label": 1}  # empty: missing
    assert str(train.features["label"].dtype) == "int64"
    assert train["label"][:10] == [0, 1, 0, 1, 0, 1, 0, 1, 0, 1]


def test_rows_of_na_words_train_and_empty_cells_are_refused_at_their_line(
    tokenizer: Any, tmp_path: Path
) -> None:
    data = _na_csv(tmp_path / "train.csv")
    module = TextClassificationDataModule(
        tokenizer, path=str(data), text_column="title", text_pair_column="content", num_labels=2
    )
    module.setup()  # before: "train.csv:2 column 'title': the cell is empty"
    assert sum(len(module.datasets[s]) for s in ("train", "validation", "test")) == 40
    for row, column in ((",content 11,1", "title"), ("title 11,content 11,", "label")):
        data = _na_csv(tmp_path / f"{column}.csv", {11: row})  # row 11: line 13
        module = TextClassificationDataModule(
            tokenizer, path=str(data), text_column="title", num_labels=2
        )
        with pytest.raises(DataError) as caught:
            module.setup()
        assert str(caught.value) == f"{data}:13 column '{column}': the cell is empty"


# ---------------------------------------------------------- F3: pandas' JSON object layouts
def _frame(rows: int = 12) -> pd.DataFrame:
    return pd.DataFrame({"text": [f"row {i}" for i in range(rows)], "label": [0, 1] * (rows // 2)})


def test_pandas_default_to_json_is_refused_naming_the_layout_and_the_fix(tmp_path: Path) -> None:
    data = tmp_path / "train.json"
    _frame().to_json(data)  # orient="columns", pandas' default
    with pytest.raises(DataError) as caught:
        load_local(data)
    assert str(caught.value) == (
        f"{data} is pandas' default DataFrame.to_json() layout (one JSON object of columns, "
        "each keyed by row number), read as 1 row; write it one row per line with "
        'df.to_json(path, orient="records", lines=True)'
    )
    filtered = _frame()[lambda f: f.label == 1]  # index 1, 3, 5...: still that layout
    filtered.to_json(data)
    with pytest.raises(DataError, match=r"default DataFrame\.to_json\(\)"):
        load_local(data)


@pytest.mark.parametrize(
    ("orient", "holds"),
    [
        ("index", "one JSON object of rows keyed by row number"),
        ("split", "one JSON object of columns, index and data"),
        ("table", "one JSON object of a schema and data"),
    ],
)
def test_pandas_other_object_layouts_are_refused(tmp_path: Path, orient: str, holds: str) -> None:
    data = tmp_path / "train.json"
    _frame().to_json(data, orient=orient)
    with pytest.raises(DataError) as caught:
        load_local(data)
    assert str(caught.value) == (
        f'{data} is pandas\' DataFrame.to_json(orient="{orient}") layout ({holds}), read as '
        '1 row; write it one row per line with df.to_json(path, orient="records", lines=True)'
    )


def test_the_fix_reads_every_row(tmp_path: Path) -> None:
    data = tmp_path / "train.jsonl"
    _frame().to_json(data, orient="records", lines=True)
    train = load_local(data)["train"]
    assert train["text"] == [f"row {i}" for i in range(12)]


def test_a_missing_column_refusal_names_the_index_layout_of_a_json_file() -> None:
    """The config check peeks at the first object's keys (row numbers) and refuses the
    columns; its words name the layout for a JSON file, not for a CSV header of numbers."""
    present = ["0", "1", "2", "3"]
    said = missing_columns_message(["'text' (data.text_column)"], "train", present, where="a.json")
    assert said.endswith(
        "columns present: 0, 1, 2, 3; the file looks like pandas' "
        'DataFrame.to_json(orient="index") layout (one JSON object of rows keyed by row number), '
        'not one row per object: write it one row per line with df.to_json(path, orient="records", '
        "lines=True)"
    )
    csv_said = missing_columns_message(["'text'"], "train", present, where="a.csv")
    assert csv_said.endswith("columns present: 0, 1, 2, 3")
