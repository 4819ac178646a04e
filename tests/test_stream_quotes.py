"""A streamed CSV/TSV file (`data.streaming=true`) is checked for rows merged by a stray quote
as its rows are read (`lab.data.stream_quotes`), as a map-style load checks the whole split.

* A GLUE-style TSV whose line 8 opens a quote that line 22 closes: refused at setup with the
  map-style path's message; with `data.csv_quoting=none` all 60 rows stream.
* The same merge far past the rows setup reads (line 1200 of 1500, 20 sample rows): refused at
  setup, which checks each file's first lines; past those lines (a head of 100 here), reading
  the train stream refuses it.
* pandas-written files: a .tsv cell over two lines holding a tab is warned about once (setup
  reads the stream several times, the train stream passes over it again), rows as pandas reads
  them; a .csv with multi-line comma cells streams quietly.
"""

from __future__ import annotations

import itertools
import logging
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from lab.errors import DataError

STREAMED = ["data.streaming=true", "data.stream_sample_rows=20"]


def _glue_tsv(path: Path, rows: int = 60, opens: int = 6, closes: int = 20) -> Path:
    """`sentence<TAB>label` written without CSV quoting (as GLUE's TSVs are): row `opens`
    (line `opens + 2`) starts with a quote, row `closes` holds the next one mid-sentence."""
    lines = ["sentence\tlabel"]
    for row in range(rows):
        text = f"plain sentence {row}"
        if row == opens:
            text = '"the quoted start of a review , flat'
        elif row == closes:
            text = 'it is called " fine " by critics'
        lines.append(f"{text}\t{row % 2}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _datamodule(compose_cfg: Any, data: Path, *overrides: str) -> Any:
    from lab.build import build_datamodule
    from lab.training.tokenizers import build_tokenizer

    cfg = compose_cfg(
        "model=tiny_bert", "data=csv", f"data.path={data}", "data.batch_size=8", *overrides
    )
    return build_datamodule(cfg, build_tokenizer(cfg))


def _refusal(data: Path, start: int, end: int) -> str:
    return (
        f'{data}:{start}: a quote (") opens a cell that CSV quoting closes only on line {end}, '
        f"so lines {start}-{end} would be read as one row; a file written without CSV quoting "
        "(as GLUE's TSVs are) is read with data.csv_quoting=none (quotes as text, one row per "
        "line)"
    )


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_stray_quote_is_refused_as_the_map_style_path_refuses_it(
    compose_cfg: Any, tmp_path: Path
) -> None:
    data = _glue_tsv(tmp_path / "glue_sst.tsv")
    with pytest.raises(DataError) as mapped:
        _datamodule(compose_cfg, data, "data.text_column=sentence")
    with pytest.raises(DataError) as streamed:
        _datamodule(compose_cfg, data, "data.text_column=sentence", *STREAMED)
    assert str(streamed.value) == str(mapped.value) == _refusal(data, 8, 22)


def test_without_csv_quoting_every_line_streams_as_a_row(compose_cfg: Any, tmp_path: Path) -> None:
    data = _glue_tsv(tmp_path / "glue_sst.tsv")
    datamodule = _datamodule(
        compose_cfg, data, "data.text_column=sentence", "data.csv_quoting=none", *STREAMED
    )
    train = [row["sentence"] for row in datamodule.train_plan.mixture()]
    assert len(datamodule.datasets["validation"]) == len(datamodule.datasets["test"]) == 20
    assert sorted(train) == sorted(f"plain sentence {row}" for row in range(40, 60))
    assert datamodule.row_indices["validation"] == list(range(20))  # row 6 (line 8) among them


def test_a_stray_quote_within_the_head_is_refused_at_setup(
    compose_cfg: Any, tmp_path: Path
) -> None:
    # Setup reads the stream's first batch (1,000 rows); rows 1198-1208 come later, but the
    # file's first HEAD_LINES lines are checked when its stream is set up.
    data = _glue_tsv(tmp_path / "glue_sst.tsv", rows=1500, opens=1198, closes=1208)
    with pytest.raises(DataError) as caught:
        _datamodule(compose_cfg, data, "data.text_column=sentence", *STREAMED)
    assert str(caught.value) == _refusal(data, 1200, 1210)


def test_a_stray_quote_past_the_head_is_refused_by_the_train_stream(
    compose_cfg: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A file longer than the head setup checks (here 100 lines): the merge at lines 1200-1210
    # is found by the row test as the train stream reads it, and the file is then read whole.
    monkeypatch.setattr("lab.data.stream_quotes.HEAD_LINES", 100)
    data = _glue_tsv(tmp_path / "glue_sst.tsv", rows=1500, opens=1198, closes=1208)
    datamodule = _datamodule(compose_cfg, data, "data.text_column=sentence", *STREAMED)
    assert len(datamodule.datasets["validation"]) == 20
    with pytest.raises(DataError) as caught:  # 200 batches of 8: a whole pass of 1,460 rows
        for _ in itertools.islice(datamodule.train_dataloader(), 200):
            pass
    assert str(caught.value) == _refusal(data, 1200, 1210)


def _pandas_frame(cell: str) -> pd.DataFrame:
    texts = [f"review {i}, plain" for i in range(60)]
    texts[45] = cell  # in the train stream: rows 0-39 are cut as validation and test
    texts[50] = '" starts with a quote'  # pandas quotes it and doubles the quote
    return pd.DataFrame({"text": texts, "label": [i % 2 for i in range(60)]})


def _stream_twice(datamodule: Any) -> list[str]:
    """The train rows of one pass, after the train loader has read past a second pass."""
    loader = iter(datamodule.train_dataloader())
    for _ in range(10):  # 80 rows of 8: the 20 train rows read four times over
        next(loader)
    return [row["text"] for row in datamodule.train_plan.mixture()]


def test_a_pandas_tsv_cell_with_a_tab_over_two_lines_is_warned_about_once(
    compose_cfg: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    frame = _pandas_frame("a cell\twith a tab\nand a second line")  # row 45: lines 47-48
    data = tmp_path / "reviews.tsv"
    frame.to_csv(data, sep="\t", index=False)
    with caplog.at_level(logging.WARNING):
        datamodule = _datamodule(compose_cfg, data, *STREAMED)
        train = _stream_twice(datamodule)
    read = pd.read_csv(data, sep="\t", keep_default_na=False)  # the oracle: pandas' reading
    assert len(read) == 60
    assert sorted(train) == sorted(read["text"][40:])
    assert "a cell\twith a tab\nand a second line" in train
    assert _warnings(caplog) == [
        f"{data}:47: a quoted cell runs over lines 47-48 and holds tabs, read as one row; if "
        "the file is not CSV-quoted (GLUE's TSVs are not), those lines are rows merged by a "
        "quote: set data.csv_quoting=none"
    ]


def test_a_pandas_csv_with_multi_line_comma_cells_streams_quietly(
    compose_cfg: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    frame = _pandas_frame('line one,\nline two, "quoted"\nline three')
    frame.loc[3, "text"] = "great phone,\nwould buy again"  # in validation
    data = tmp_path / "reviews.csv"
    frame.to_csv(data, index=False)
    with caplog.at_level(logging.WARNING):
        datamodule = _datamodule(compose_cfg, data, *STREAMED)
        train = _stream_twice(datamodule)
    read = pd.read_csv(data, keep_default_na=False)
    assert len(read) == 60
    assert sorted(train) == sorted(read["text"][40:])
    assert len(datamodule.datasets["validation"]) == len(datamodule.datasets["test"]) == 20
    assert _warnings(caplog) == []
