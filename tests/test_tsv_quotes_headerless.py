"""GLUE's original TSVs read as the Hub's Parquet of the same data reads (`lab.data.csv_quotes`,
`lab.data.csv_header`).

* A cell that starts with a quote closing on the same line before more text (MRPC's `" We are
  doing well , " he said .`), which pandas and Python's csv read with the quotes dropped, is
  refused under `data.csv_quoting=csv` naming the file, the line and the cell, in training,
  `lab.inspect`, streaming and `lab.predict` (exit 2, nothing written); `data.csv_quoting=none`
  reads it as written. pandas' own CSV quoting (quoted tabs, commas, line breaks, doubled
  quotes, that same sentence) reads as before, quietly.
* CoLA's headerless TSVs are read with `data.csv_column_names`: the first line is a row (named
  `train.tsv:1`), GLUE's headed `test.tsv` beside them is read by its own header, a file of
  another field count (or whose first line is the names) is refused naming both, and without
  the setting the missing-column refusal says the first line looks like data.

The tests after "with the lines of s20_tsv_extra.diff" need the lines proposed there (the
config rules, the added settings, the column refusal and lab.predict's reader).
"""

from __future__ import annotations

import gzip
import logging
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from omegaconf import OmegaConf

from lab.data.csv_header import checked_column_names, headerless_hint, split_options
from lab.data.csv_quotes import csv_options, opens_quoted_cell
from lab.data.sources import load_local, origins_of
from lab.errors import ConfigError, DataError

# lab.predict in process, and its output rows: the helpers of the CSV-reading tests
from test_predict_csv_reading import _predict
from test_predict_csv_reading import _results as _lines

NONE_ADVICE = (
    "a file written without CSV quoting (as GLUE's TSVs are) is read with data.csv_quoting=none "
    "(quotes as text, one row per line)"
)
COLA = ["source", "label", "author_label", "sentence"]
COLA_NAMES = "data.csv_column_names=[source,label,author_label,sentence]"


def _mrpc(path: Path) -> Path:
    """MRPC's layout (no CSV quoting): line 3's `#1 String` opens with a quote that closes
    mid-sentence; the other quotes are inside cells (text under either quoting)."""
    path.write_text(
        "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
        '1\t702876\t702977\tHe called him " the witness " .\tHe named him " the witness " .\n'
        '0\t2108705\t2108831\t" We are doing well , " he said .\tHe said : " we are well . "\n'
        "1\t1330381\t1330521\tThe stock rose .\tShares went up .\n",
        encoding="utf-8",
    )
    return path


def _refusal(file: Path, line: int, cell: str, read: str) -> str:
    return (
        f'{file}:{line}: the cell {cell!r} starts with a quote (") that closes before more '
        f"text, which no CSV writer writes: CSV quoting would read it as {read!r}, its quotes "
        f"dropped; {NONE_ADVICE}"
    )


MRPC_CELL = '" We are doing well , " he said .'
MRPC_READ = " We are doing well ,  he said ."  # the quotes gone, their spaces kept


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


# ------------------------------------------------------ M3: a quote closed before more text
def test_a_quote_closed_before_more_text_is_refused_naming_line_and_cell(tmp_path: Path) -> None:
    data = _mrpc(tmp_path / "msr_paraphrase_train.tsv")
    # What was read before, silently: pandas drops the quotes (the oracle of the message).
    assert pd.read_csv(data, sep="\t")["#1 String"][1] == MRPC_READ
    with pytest.raises(DataError) as caught:
        load_local(data)
    assert str(caught.value) == _refusal(data, 3, MRPC_CELL, MRPC_READ)


def test_without_csv_quoting_the_cell_is_read_as_written(tmp_path: Path) -> None:
    data = _mrpc(tmp_path / "msr_paraphrase_train.tsv")
    train = load_local(data, csv_quoting="none")["train"]
    assert train["#1 String"] == [
        'He called him " the witness " .',
        MRPC_CELL,
        "The stock rose .",
    ]
    assert train["Quality"] == [1, 0, 1]


def test_a_csv_file_and_a_line_after_a_multi_line_cell_are_named_alike(tmp_path: Path) -> None:
    # A comma file: `"great" phone` is read as `great phone` by pandas.
    data = tmp_path / "reviews.csv"
    data.write_text('text,label\nfine,1\n"great" phone,1\n', encoding="utf-8")
    with pytest.raises(DataError) as caught:
        load_local(data)
    assert str(caught.value) == _refusal(data, 3, '"great" phone', "great phone")
    # A well-formed cell over lines 2-3 first: line 5's cell is named by its own line, and the
    # cell is the one whose quote closes early (the second), not the first quoted one.
    data = tmp_path / "train.tsv"
    data.write_text(
        'text\tlabel\n"one\ntwo"\t1\nplain\t0\n"a\tb"\t"c" d\n', encoding="utf-8"
    )  # line 5: a quoted cell holding a tab, then the refused one
    with pytest.raises(DataError) as caught:
        load_local(data)
    assert str(caught.value) == _refusal(data, 5, '"c" d', "c d")


@pytest.mark.parametrize("suffix", [".csv", ".tsv"])
def test_pandas_quoting_reads_as_before_quietly(
    tmp_path: Path, suffix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The frame is the oracle: every cell pandas quotes (the MRPC sentence among them, its
    quotes doubled inside a quoted cell) reads back as it was, with no warning."""
    texts = [
        MRPC_CELL,  # written as """ We are doing well , "" he said ."
        "a tab\there, and a comma",
        'line one\nline two "quoted"',
        '"the whole cell quoted"',
        'ends with a quote "',
        "plain text",
    ]
    frame = pd.DataFrame({"text": texts, "label": [0, 1, 0, 1, 0, 1]})
    data = tmp_path / f"train{suffix}"
    frame.to_csv(data, sep="\t" if suffix == ".tsv" else ",", index=False)
    assert opens_quoted_cell(str(data), "\t" if suffix == ".tsv" else ",")  # so it is read
    with caplog.at_level(logging.WARNING):
        train = load_local(data)["train"]
    assert train["text"] == texts
    assert train["label"] == [0, 1, 0, 1, 0, 1]
    assert _warnings(caplog) == []


def test_only_a_file_where_a_cell_starts_with_a_quote_is_read_again(tmp_path: Path) -> None:
    """`opens_quoted_cell`: the byte search that spares files without quoted cells the scan."""
    cases = {
        "mid.tsv": b'text\tlabel\nthe "quoted" word\t1\n',  # quotes inside cells: text
        "first.tsv": b'"text"\tlabel\nplain\t1\n',  # the file's first byte
        "bom.tsv": b'\xef\xbb\xbf"text"\tlabel\nplain\t1\n',  # after a byte-order mark
        "cell.tsv": b'text\tlabel\nplain\t"1"\n',  # after the delimiter
        "cr.tsv": b'text\tlabel\r"plain"\t1\r',  # after a lone carriage return
        "comma.csv": b'text,label\nplain\t"x",1\n',  # a tab is no delimiter of a .csv
    }
    found = {}
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        delimiter = "," if name.endswith(".csv") else "\t"
        found[name] = opens_quoted_cell(str(tmp_path / name), delimiter)
    assert found == {
        "mid.tsv": False,
        "first.tsv": True,
        "bom.tsv": True,
        "cell.tsv": True,
        "cr.tsv": True,
        "comma.csv": False,
    }
    # A tab and its quote on either side of the 1 MiB block boundary, in a gzipped file.
    line = b"x" * 99 + b"\n"
    body = b"text\tlabel\n" + line * ((1 << 20) // 100 + 1)
    head = body[: (1 << 20) - 1] + b"\t"
    boundary = tmp_path / "boundary.tsv.gz"
    boundary.write_bytes(gzip.compress(head + b'"q"\t1\n'))
    assert len(head) == 1 << 20
    assert opens_quoted_cell(str(boundary), "\t")
    boundary.write_bytes(gzip.compress(head + b"q\t1\n"))
    assert not opens_quoted_cell(str(boundary), "\t")


def _datamodule(compose_cfg: Any, data: Path, *overrides: str) -> Any:
    from lab.build import build_datamodule
    from lab.training.tokenizers import build_tokenizer

    cfg = compose_cfg(
        "model=tiny_bert", "data=csv", f"data.path={data}", "data.batch_size=8", *overrides
    )
    return build_datamodule(cfg, build_tokenizer(cfg))


MRPC_COLUMNS = ("data.text_column='#1 String'", "data.label_column=Quality")


def cfg_overrides(data: Path) -> tuple[str, ...]:
    return ("data=csv", f"data.path={data}", *MRPC_COLUMNS)


def _mrpc_rows(path: Path, rows: int = 40) -> Path:
    """`_mrpc`'s three rows, then plain rows up to `rows` (enough to carve splits from)."""
    _mrpc(path)
    with path.open("a", encoding="utf-8") as handle:
        for row in range(3, rows):
            handle.write(f"{row % 2}\t{row}\t{row + 1}\tsentence {row} .\tother {row} .\n")
    return path


def test_training_inspect_and_streaming_refuse_it_alike(compose_cfg: Any, tmp_path: Path) -> None:
    from lab.data.inspection import load_splits

    data = _mrpc_rows(tmp_path / "train.tsv")
    expected = _refusal(data, 3, MRPC_CELL, MRPC_READ)
    with pytest.raises(DataError) as trained:
        _datamodule(compose_cfg, data, *MRPC_COLUMNS)
    streamed = ("data.streaming=true", "data.stream_sample_rows=5", "trainer.max_steps=2")
    with pytest.raises(DataError) as stream:
        _datamodule(compose_cfg, data, *MRPC_COLUMNS, *streamed)
    cfg = compose_cfg(*cfg_overrides(data))
    with pytest.raises(DataError) as inspected:
        load_splits(cfg.data)
    assert str(trained.value) == str(stream.value) == str(inspected.value) == expected
    splits, _ = load_splits(compose_cfg(*cfg_overrides(data), "data.csv_quoting=none").data)
    rows = [row for split in splits.values() for row in split["#1 String"]]
    assert MRPC_CELL in rows and len(rows) == 40


# ---------------------------------------------------------- M4: CoLA's headerless TSVs
def _cola(folder: Path, first_label: int = 1) -> Path:
    """CoLA's GLUE folder: train.tsv (30 rows) and dev.tsv (10) without a header (source,
    label, author's label, sentence; the author's label is empty or `*`), test.tsv headed
    `index<TAB>sentence`, as GLUE ships it."""
    folder.mkdir()

    def rows(count: int, first: int) -> str:
        labels = [first_label] + [(first + i) % 2 for i in range(1, count)]
        return "".join(
            f"gj04\t{label}\t{'' if label else '*'}\tsentence {first + i} here .\n"
            for i, label in enumerate(labels)
        )

    (folder / "train.tsv").write_text(rows(30, 0), encoding="utf-8")
    (folder / "dev.tsv").write_text(rows(10, 100), encoding="utf-8")
    (folder / "test.tsv").write_text(
        "index\tsentence\n" + "".join(f"{i}\ttest sentence {i} .\n" for i in range(8)),
        encoding="utf-8",
    )
    return folder


COLA_RUN = (
    "data.text_column=sentence",
    "data.csv_quoting=none",
    "data.splits.test=validation",
    "data.splits.validation=null",
)


def test_cola_trains_from_its_headerless_files(
    compose_cfg: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = _cola(tmp_path / "CoLA")
    with caplog.at_level(logging.INFO):
        module = _datamodule(compose_cfg, folder, *COLA_RUN, COLA_NAMES)
    assert module.origins["test"].describe() == str(folder / "dev.tsv")
    assert sorted(module.row_indices["test"]) == list(range(10))
    train = [*module.row_indices["train"], *module.row_indices["validation"]]
    assert sorted(train) == list(range(30))  # the first line is a row
    # GLUE's test.tsv (headed, no labels): read by its own header, said in train.log
    messages = [r.getMessage() for r in caplog.records]
    assert (
        f"{folder / 'test.tsv'}: 2 fields, not the 4 data.csv_column_names names: read with its "
        "first line as its header (no split of lab's reads it)"
    ) in messages
    line = next(m for m in messages if m.startswith("data.path"))
    assert line.endswith(
        "not read: test.tsv, without train's columns 'source', 'label', 'author_label' (no "
        "labels, as in GLUE's test files: rightly left out)"
    )


def test_rows_are_named_by_their_line_the_first_line_included(tmp_path: Path) -> None:
    folder = _cola(tmp_path / "CoLA")
    loaded = load_local(
        folder,
        splits={"train": "train", "validation": None, "test": "validation"},
        csv_quoting="none",
        csv_column_names=COLA,
    )
    assert loaded["train"][0] == {
        "source": "gj04",
        "label": 1,
        "author_label": None,  # an empty cell: missing
        "sentence": "sentence 0 here .",
    }
    assert loaded["test"].column_names == ["index", "sentence"]
    origins = origins_of(loaded)
    assert origins["train"].locate(0) == f"{folder / 'train.tsv'}:1"
    assert origins["validation"].locate(9) == f"{folder / 'dev.tsv'}:10"
    assert origins["test"].locate(0) == f"{folder / 'test.tsv'}:2"


def test_a_bad_label_on_the_first_line_is_named_there(compose_cfg: Any, tmp_path: Path) -> None:
    folder = _cola(tmp_path / "CoLA", first_label=7)
    with pytest.raises(DataError) as caught:
        _datamodule(compose_cfg, folder, *COLA_RUN, COLA_NAMES, "data.num_labels=2")
    assert str(caught.value).startswith(
        f"{folder / 'train.tsv'}:1 column 'label': label 7 is outside"
    )


def test_names_of_another_count_or_a_header_line_are_refused(tmp_path: Path) -> None:
    folder = _cola(tmp_path / "CoLA")
    splits = {"train": "train", "validation": None, "test": "validation"}
    with pytest.raises(DataError) as caught:
        load_local(folder, splits=splits, csv_quoting="none", csv_column_names=COLA[1:])
    assert str(caught.value) == (
        f"{folder / 'train.tsv'}: its first line has 4 fields (gj04, 1, '', sentence 0 here .) "
        "but data.csv_column_names names 3 (label, author_label, sentence); name each field "
        "of a headerless file, in order, or set data.csv_column_names=null for a file whose "
        "first line is its header"
    )
    # GLUE's test.tsv read as lab's test split: its 2 fields do not fit the 4 names
    with pytest.raises(DataError, match=r"test\.tsv: its first line has 2 fields \(index, "):
        load_local(
            folder, splits={**splits, "test": "test"}, csv_quoting="none", csv_column_names=COLA
        )
    headed = tmp_path / "headed.tsv"
    headed.write_text("source\tlabel\tauthor_label\tsentence\ngj04\t1\t\ta b .\n")
    with pytest.raises(DataError) as caught:
        load_local(headed, csv_quoting="none", csv_column_names=COLA)
    assert str(caught.value) == (
        f"{headed}: its first line is a header naming the columns data.csv_column_names names "
        "(source, label, author_label, sentence), which would be read as a row; set "
        "data.csv_column_names=null for a file whose first line is its header"
    )


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("source", "is not a list: name a headerless file's columns in order, e.g. "
         "data.csv_column_names=[source,label,author_label,sentence], or null (the first line "
         "is the header)"),
        ([], "names no column: give each column of the file a name of its own, in order, or "
         "null (the first line is the header)"),
        (["a", " "], "has an empty name: give each column"),
        (["a", "b", "a"], "names a twice: give each column"),
    ],
)  # fmt: skip
def test_a_value_that_names_no_columns_is_refused(value: Any, why: str) -> None:
    with pytest.raises(ConfigError) as caught:
        checked_column_names(value)
    assert str(caught.value).startswith(f"data.csv_column_names={value} {why}")
    assert checked_column_names(OmegaConf.create({"n": ["a", 1]}).n) == ("a", "1")
    assert checked_column_names(None) is None


def test_splits_are_read_with_their_own_options(tmp_path: Path) -> None:
    folder = _cola(tmp_path / "CoLA")
    files = {s: [str(folder / f)] for s, f in [("train", "train.tsv"), ("test", "test.tsv")]}
    options = csv_options([f for g in files.values() for f in g], "none", COLA)
    by_split = split_options(files, options, used={"train"})
    assert by_split["train"] is options and by_split["train"]["column_names"] == COLA
    assert by_split["test"] == {k: v for k, v in options.items() if k != "column_names"}
    assert split_options(files, csv_options(files["train"])) == {
        "train": csv_options(files["train"]),
        "test": csv_options(files["train"]),
    }


def test_streaming_reads_the_first_line_as_a_row(tmp_path: Path) -> None:
    from lab.data.sources import Source
    from lab.data.streaming import open_splits

    folder = _cola(tmp_path / "CoLA")
    source = Source(path=str(folder), csv_quoting="none", csv_column_names=tuple(COLA))
    splits, origins = open_splits(source, {"train": "train", "test": "validation"})
    train = list(splits["train"])
    assert len(train) == 30 and train[0]["sentence"] == "sentence 0 here ."
    assert origins["train"].locate(0) == f"{folder / 'train.tsv'}:1"
    assert next(iter(splits["test"]))["index"] == 0  # GLUE's test.tsv: its own header


def test_an_interleaved_source_takes_the_setting_or_its_own() -> None:
    from lab.data.sources import interleave_sources

    entries = [
        {"path": "a.tsv", "probability": 0.5},
        {"path": "b.tsv", "probability": 0.5, "csv_column_names": None},
    ]
    inherited, own = interleave_sources(entries, "none", COLA)
    assert (inherited.csv_quoting, inherited.csv_column_names) == ("none", tuple(COLA))
    assert own.csv_column_names is None
    with pytest.raises(ConfigError, match=r"=a \(data\.interleave\[0\]\) is not a list"):
        interleave_sources([{"path": "a.tsv", "probability": 1.0, "csv_column_names": "a"}])


def test_lab_inspect_reads_by_the_setting(compose_cfg: Any, tmp_path: Path) -> None:
    from lab.data.inspection import load_splits

    folder = _cola(tmp_path / "CoLA")
    cfg = compose_cfg("data=csv", f"data.path={folder}", *COLA_RUN, COLA_NAMES)
    splits, carved = load_splits(cfg.data)
    assert carved == ["validation"]
    assert sum(len(splits[s]) for s in ("train", "validation")) == 30
    assert sorted(splits["test"]["sentence"]) == [f"sentence {i} here ." for i in range(100, 110)]


def test_the_hint_names_the_setting_where_the_first_line_looks_like_data() -> None:
    peeked = ["gj04", "1", "", "sentence 0 here ."]  # the first line, read as names
    loaded = ["gj04", "1", "Unnamed: 2", "sentence 0 here ."]  # as pandas names them
    expected = (
        "the first line looks like data, not a header ('1', '' as column names): a file "
        "without a header line is read with data.csv_column_names=[...] naming its 4 columns "
        "in order (CoLA's GLUE TSVs: data.csv_column_names=[source,label,author_label,"
        "sentence])"
    )
    assert headerless_hint(peeked) == expected
    assert headerless_hint(loaded) == expected.replace("'1', ''", "'1', 'Unnamed: 2'")
    assert headerless_hint(["text", "label"]) is None
    assert headerless_hint(["Unnamed: 0", "text", "label"]) is None  # pandas' index column
    assert headerless_hint(["2019", "2020"]) is None  # a header of years
    assert headerless_hint(["great film", "1"]) == (
        "the first line looks like data, not a header ('1' as column names): a file without a "
        "header line is read with data.csv_column_names=[...] naming its 2 columns in order "
        "(CoLA's GLUE TSVs: data.csv_column_names=[source,label,author_label,sentence])"
    )


# ------------------------------------- with the lines of /tmp/notes/s20_tsv_extra.diff
def test_without_the_setting_the_refusal_says_the_file_may_lack_a_header(
    compose_cfg: Any, tmp_path: Path
) -> None:
    from lab.config.data_rules import check_local_data
    from lab.data.column_refusal import missing_columns_message

    folder = _cola(tmp_path / "CoLA")
    cfg = compose_cfg("data=csv", f"data.path={folder}", *COLA_RUN)
    with pytest.raises(DataError) as caught:
        check_local_data(cfg)  # before anything loads, from the file's first line
    assert str(caught.value) == missing_columns_message(
        ["'sentence' (data.text_column)", "'label' (data.label_column)"],
        "train",
        ["gj04", "1", "", "sentence 0 here ."],
        where=str(folder / "train.tsv"),
    )
    assert str(caught.value).endswith(
        "columns present: gj04, 1, , sentence 0 here .; the first line looks like data, not a "
        "header ('1', '' as column names): a file without a header line is read with "
        "data.csv_column_names=[...] naming its 4 columns in order (CoLA's GLUE TSVs: "
        "data.csv_column_names=[source,label,author_label,sentence])"
    )
    check_local_data(compose_cfg("data=csv", f"data.path={folder}", *COLA_RUN, COLA_NAMES))
    with pytest.raises(DataError, match=r"train\.tsv: its first line has 4 fields"):
        check_local_data(
            compose_cfg("data=csv", f"data.path={folder}", *COLA_RUN, "data.csv_column_names=[a]")
        )
    # A headed CSV of other names keeps the advice it had
    plain = missing_columns_message(["'text'"], "train", ["review", "label"], where="t.csv")
    assert plain == "t.csv: column 'text' is not in the train split; columns present: review, label"


def test_lab_eval_takes_the_setting_on_a_run_recorded_before_it() -> None:
    from types import SimpleNamespace

    from lab.eval_fit import change_data
    from lab.run_dir.resume import ADDED_SETTINGS, EVERY_DATA_CONFIG

    assert ADDED_SETTINGS["data.csv_column_names"] is None
    assert "data.csv_column_names" in EVERY_DATA_CONFIG
    recorded = {"data": {"path": "data", "text_column": "text", "label_column": "label"}}
    run = SimpleNamespace(config=OmegaConf.create(recorded))
    cfg = OmegaConf.create(recorded)
    change_data(cfg, ["data.csv_column_names=[a,text,label]"], run)  # type: ignore[arg-type]
    assert list(cfg.data.csv_column_names) == ["a", "text", "label"]


@pytest.fixture(scope="module")
def headerless_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A classifier run (review, sentiment) recorded with data.csv_column_names=[review,
    sentiment] (random tiny weights: predictions are compared with JSON Lines' of the same
    text)."""
    from test_tool_refusals import write_classifier_run

    run = write_classifier_run(tmp_path_factory.mktemp("headerless") / "run")
    config = OmegaConf.load(run / "config.yaml")
    config.data.csv_column_names = ["review", "sentiment"]
    (run / "config.yaml").write_text(OmegaConf.to_yaml(config))
    return run


def test_predict_refuses_the_cell_and_reads_it_with_none(
    headerless_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, out = tmp_path / "dev.tsv", tmp_path / "pred.jsonl"
    source.write_text(f"a fine film\t1\n{MRPC_CELL}\t0\n", encoding="utf-8")
    code, err = _predict(headerless_run, source, out, capsys)
    assert (code, err) == (2, f"error: {_refusal(source, 2, MRPC_CELL, MRPC_READ)}\n")
    assert not out.exists()
    code, err = _predict(headerless_run, source, out, capsys, "data.csv_quoting=none")
    assert code == 0, err
    oracle, oracle_out = tmp_path / "oracle.jsonl", tmp_path / "oracle.out.jsonl"
    oracle.write_text(
        '{"review": "a fine film"}\n{"review": "\\" We are doing well , \\" he said ."}\n'
    )
    assert _predict(headerless_run, oracle, oracle_out, capsys)[0] == 0
    strip = [{k: v for k, v in row.items() if k != "line"} for row in _lines(out)]
    assert strip == [{k: v for k, v in r.items() if k != "line"} for r in _lines(oracle_out)]
    assert [row["line"] for row in _lines(out)] == [1, 2]  # the first line is a row


def test_predict_reads_by_the_runs_column_names_or_its_own(
    headerless_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    headed, out = tmp_path / "test.tsv", tmp_path / "pred.jsonl"
    headed.write_text("index\treview\tsource\n0\ta fine film\tx\n", encoding="utf-8")
    code, err = _predict(headerless_run, headed, out, capsys)
    assert (code, err) == (
        2,
        f"error: {headed}: its first line has 3 fields (index, review, source) but "
        "data.csv_column_names (the run's) names 2 (review, sentiment); name each field of a "
        "headerless file, in order, or set data.csv_column_names=null for a file whose first "
        "line is its header\n",
    )
    assert not out.exists()
    code, err = _predict(headerless_run, headed, out, capsys, "data.csv_column_names=null")
    assert code == 0, err
    assert [row["line"] for row in _lines(out)] == [2]
    code, err = _predict(headerless_run, headed, out, capsys, "data.csv_column_names=[a,review,b]")
    assert code == 0, err
    assert [row["line"] for row in _lines(out)] == [1, 2]  # its header read as a row, as told
    own = tmp_path / "own.tsv"
    own.write_text("review\tsentiment\na fine film\t1\n", encoding="utf-8")
    code, err = _predict(headerless_run, own, tmp_path / "own.jsonl", capsys)
    assert (code, err) == (
        2,
        f"error: {own}: its first line is a header naming the columns data.csv_column_names "
        "(the run's) names (review, sentiment), which would be read as a row; set "
        "data.csv_column_names=null for a file whose first line is its header\n",
    )
