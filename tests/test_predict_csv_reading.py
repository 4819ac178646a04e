"""`lab.predict` reads a .csv / .tsv input as training reads its data (`data.csv_quoting`,
`lab.inference.input_quoting`): a quote that would merge rows of a GLUE-style TSV is refused
naming the lines, `data.csv_quoting=none` (given, or recorded by the run) reads one row per
line, `NA`-like cells are text, and a pandas export's quoted multi-line cell is one row.

A classifier run written without training (random tiny weights); each prediction of a file's
row is checked against the prediction of the same text given as JSON Lines, whose reading no
CSV quoting touches.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf

from lab.inference.rows import read_rows
from test_tool_refusals import tool_exit, write_classifier_run

# A GLUE-style TSV (no CSV quoting): the quote opening line 2 is text; read as CSV it opens a
# cell that closes on line 5, and lines 2-5 become one row (4 rows read as 1).
GLUE_TSV = (
    "review\tlabel\n"
    '" the deal is off , he said\t1\n'
    "a warm and funny film\t1\n"
    "a dull film\t0\n"
    'it is " great " , she said\t1\n'
)
GLUE_TEXTS = [
    '" the deal is off , he said',
    "a warm and funny film",
    "a dull film",
    'it is " great " , she said',
]


@pytest.fixture(scope="module")
def csv_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A classifier run recorded with `data.csv_quoting=csv` (the default)."""
    return write_classifier_run(tmp_path_factory.mktemp("csv_run") / "run")


@pytest.fixture(scope="module")
def none_run(csv_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same run, recorded with `data.csv_quoting=none`."""
    run = Path(shutil.copytree(csv_run, tmp_path_factory.mktemp("none_run") / "run"))
    config = OmegaConf.load(run / "config.yaml")
    assert config.data.csv_quoting == "csv"
    config.data.csv_quoting = "none"
    (run / "config.yaml").write_text(OmegaConf.to_yaml(config))
    return run


def _predict(run: Path, source: Path, out: Path, capsys: Any, *extra: str) -> tuple[int, str]:
    from lab.predict import main

    return tool_exit(main, [f"run={run}", f"input={source}", f"output={out}", *extra], capsys)


def _results(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _as_json_lines(run: Path, texts: list[str], tmp_path: Path, capsys: Any) -> list[Any]:
    """The run's results for `texts` given as JSON Lines (one batch, as the file's rows are)."""
    source, out = tmp_path / "oracle.jsonl", tmp_path / "oracle.out.jsonl"
    source.write_text("".join(json.dumps({"review": t}) + "\n" for t in texts), encoding="utf-8")
    assert _predict(run, source, out, capsys)[0] == 0
    return [{k: v for k, v in row.items() if k != "line"} for row in _results(out)]


def _refusal(source: Path, start: int, end: int) -> str:
    """Training's refusal of a quote that opens on `start` and closes on `end`
    (`lab.data.csv_quotes.QuotedSpan.refusal`), written out by hand."""
    return (
        f'error: {source}:{start}: a quote (") opens a cell that CSV quoting closes only on line '
        f"{end}, so lines {start}-{end} would be read as one row; a file written without CSV "
        "quoting (as GLUE's TSVs are) is read with data.csv_quoting=none (quotes as text, one "
        "row per line)\n"
    )


# ------------------------------------------------------------------ (1) a GLUE-style TSV
def test_a_glue_tsv_is_refused_naming_the_lines_and_read_line_by_line_with_none(
    csv_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, out = tmp_path / "train.tsv", tmp_path / "pred.jsonl"
    source.write_text(GLUE_TSV, encoding="utf-8")

    code, err = _predict(csv_run, source, out, capsys)
    assert (code, err) == (2, _refusal(source, 2, 5))
    assert not out.exists()  # nothing written (the rows were merged silently: 1 row of 4)

    code, err = _predict(csv_run, source, out, capsys, "data.csv_quoting=none")
    assert code == 0, err
    results = _results(out)
    assert [row["line"] for row in results] == [2, 3, 4, 5]
    oracle = _as_json_lines(csv_run, GLUE_TEXTS, tmp_path, capsys)
    assert [{k: v for k, v in row.items() if k != "line"} for row in results] == oracle
    assert all("error" not in row for row in results)

    assert list(read_rows(source, "review", "none")) == [
        (line, {"review": text, "label": label})
        for line, text, label in zip([2, 3, 4, 5], GLUE_TEXTS, "1101", strict=True)
    ]


def test_a_bad_csv_quoting_is_refused_in_one_line_before_anything_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, out = tmp_path / "train.tsv", tmp_path / "pred.jsonl"
    source.write_text(GLUE_TSV, encoding="utf-8")
    code, err = _predict(tmp_path / "no_run", source, out, capsys, "data.csv_quoting=quoted")
    assert (code, err) == (
        2,
        "error: data.csv_quoting=quoted is not valid; valid: csv, none (csv: cells quoted as "
        "CSV writers quote them; none: quotes are text, one row per line)\n",
    )
    assert not out.exists()


# ----------------------------------------------------- (2) the run's recorded csv_quoting
def test_a_run_recorded_with_csv_quoting_none_reads_its_input_so(
    csv_run: Path, none_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, out = tmp_path / "train.tsv", tmp_path / "pred.jsonl"
    source.write_text(GLUE_TSV, encoding="utf-8")

    code, err = _predict(none_run, source, out, capsys)
    assert code == 0, err
    results = _results(out)
    assert [row["line"] for row in results] == [2, 3, 4, 5]
    oracle = _as_json_lines(csv_run, GLUE_TEXTS, tmp_path, capsys)
    assert [{k: v for k, v in row.items() if k != "line"} for row in results] == oracle

    out.unlink()  # the command line's value wins over the recorded one
    code, err = _predict(none_run, source, out, capsys, "data.csv_quoting=csv")
    assert (code, err) == (2, _refusal(source, 2, 5))
    assert not out.exists()


# ------------------------------------------------------------- (3) NA-like cells are text
def test_na_like_cells_are_text_and_only_an_empty_cell_is_missing(
    csv_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    words = ["NA", "None", "null", "N/A", "nan"]
    source, out = tmp_path / "titles.csv", tmp_path / "pred.jsonl"
    source.write_text(
        "review,sentiment\n" + "".join(f"{w},positive\n" for w in words) + ",negative\n",
        encoding="utf-8",
    )
    assert list(read_rows(source, "review")) == [
        *[(line, {"review": w, "sentiment": "positive"}) for line, w in enumerate(words, 2)],
        (7, {"review": "", "sentiment": "negative"}),
    ]
    code, err = _predict(csv_run, source, out, capsys)
    assert code == 0, err
    results = _results(out)
    assert [row["line"] for row in results] == [2, 3, 4, 5, 6, 7]
    oracle = _as_json_lines(csv_run, words, tmp_path, capsys)
    assert [{k: v for k, v in row.items() if k != "line"} for row in results[:5]] == oracle
    assert results[5] == {"line": 7, "error": f"{source}:7: field 'review' is empty"}


# ------------------------------------------------- (4) a pandas export's multi-line cell
def test_a_pandas_csv_with_a_quoted_multiline_cell_reads_it_as_one_row(
    csv_run: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    import pandas as pd

    texts = ['Great phone, "really"\nwould buy again', "a dull film"]
    frame = pd.DataFrame({"review": texts, "sentiment": ["positive", "negative"]})
    source, out = tmp_path / "reviews.csv", tmp_path / "pred.jsonl"
    frame.to_csv(source, index=False)
    assert source.read_text().count("\n") == 4  # the header, the cell's two lines, the last row

    with caplog.at_level(logging.WARNING):
        code, err = _predict(csv_run, source, out, capsys)
    assert code == 0, err
    # Well-formed CSV quoting: read as written, nothing to say.
    assert not [r for r in caplog.records if r.name.startswith("lab.")]
    results = _results(out)
    assert [row["line"] for row in results] == [2, 4]
    oracle = _as_json_lines(csv_run, texts, tmp_path, capsys)
    assert [{k: v for k, v in row.items() if k != "line"} for row in results] == oracle

    # A .tsv export whose multi-line cell holds a tab: read as written, with training's
    # warning that it may be rows merged by a quote.
    tsv = tmp_path / "reviews.tsv"
    pd.DataFrame({"review": ["one\ttwo\nthree", "four"], "sentiment": ["a", "b"]}).to_csv(
        tsv, sep="\t", index=False
    )
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        code, err = _predict(csv_run, tsv, out, capsys)
    assert code == 0, err
    assert [row["line"] for row in _results(out)] == [2, 4]
    assert [r.getMessage() for r in caplog.records if r.name.startswith("lab.")] == [
        f"{tsv}:2: a quoted cell runs over lines 2-3 and holds tabs, read as one row; if the "
        "file is not CSV-quoted (GLUE's TSVs are not), those lines are rows merged by a quote: "
        "set data.csv_quoting=none"
    ]
