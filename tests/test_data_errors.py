"""Data errors name the user's file, the line a text editor shows, and the column.

The same convention in training (single files carved into splits, split files, JSON Lines with
blank lines, quoted line breaks, Parquet rows, malformed files), in `lab.predict` (its `line`
field, its errors, exit 2 when no row could be predicted) and in `lab.serve` (a request-size
cap, 422 bodies that quote only an excerpt of the input), all without training a model.
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from lab.data.origins import Origin, csv_record_lines
from lab.errors import DataError
from lab.inference.predictors import Predictor
from lab.tasks.text_classification.data import TextClassificationDataModule


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    from transformers import AutoTokenizer

    from lab.config.paths import package_path

    return AutoTokenizer.from_pretrained(package_path("lab", "assets/tiny_bert"))


def _setup(tokenizer: Any, path: Path, **kwargs: Any) -> TextClassificationDataModule:
    module = TextClassificationDataModule(tokenizer, path=str(path), num_labels=2, **kwargs)
    module.setup()
    return module


def _error(tokenizer: Any, path: Path, **kwargs: Any) -> str:
    with pytest.raises(DataError) as caught:
        _setup(tokenizer, path, **kwargs)
    return str(caught.value)


def _csv(path: Path, rows: Sequence[str], header: str = "text,label") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


GOOD_ROWS = [f"row {i} {'good' if i % 2 else 'bad'},{i % 2}" for i in range(100)]


# ------------------------------------------------------------------------------- training
def test_a_bad_label_in_a_single_csv_names_its_line_and_column(
    tokenizer: Any, tmp_path: Path
) -> None:
    rows = list(GOOD_ROWS)
    rows[57] = "row 57,7"  # data row 58: file line 59 (the header is line 1)
    data = _csv(tmp_path / "file.csv", rows)
    message = _error(tokenizer, data)
    assert message.startswith(f"{data}:59 column 'label': label 7 is outside num_labels=2")
    # Whichever split it is carved into, and whatever the subsample: the same line.
    for seed in (1, 2, 3):
        assert f"{data}:59 column 'label'" in _error(tokenizer, data, seed=seed)
    assert f"{data}:59 column 'label'" in _error(tokenizer, data, max_train_samples=90)


def test_quoted_line_breaks_and_blank_lines_move_the_line(tokenizer: Any, tmp_path: Path) -> None:
    rows = list(GOOD_ROWS)
    rows[3] = '"row 3\nspans\nthree lines",1'  # two extra lines before the bad row
    rows[10] = ""  # a blank line, skipped by the reader, still a line in the editor
    rows[57] = "row 57,7"
    data = _csv(tmp_path / "file.csv", rows)
    assert f"{data}:61 column 'label'" in _error(tokenizer, data)
    assert csv_record_lines(str(data))[:5] == [2, 3, 4, 5, 8]


def test_split_files_count_lines_the_same_way(tokenizer: Any, tmp_path: Path) -> None:
    _csv(tmp_path / "data" / "train.csv", GOOD_ROWS)
    _csv(tmp_path / "data" / "validation.csv", ["a,0", "b,1", "c,5"])
    _csv(tmp_path / "data" / "test.csv", ["a,0", "b,1"])
    message = _error(tokenizer, tmp_path / "data")
    assert message.startswith(f"{tmp_path / 'data' / 'validation.csv'}:4 column 'label': label 5")


def test_an_empty_text_cell_carved_into_validation_names_the_train_file(
    tokenizer: Any, tmp_path: Path
) -> None:
    folder = tmp_path / "data"
    train = _csv(folder / "train.csv", GOOD_ROWS)
    _csv(folder / "test.csv", ["a,0", "b,1"])
    clean = _setup(tokenizer, folder, seed=7)
    index = int(clean.row_indices["validation"][0])  # a train-file row carved into validation
    rows = list(GOOD_ROWS)
    rows[index] = ",1"
    _csv(train, rows)
    message = _error(tokenizer, folder, seed=7)
    assert message == f"{train}:{index + 2} column 'text': the cell is empty"
    assert "validation" not in message


def test_json_lines_count_blank_lines_and_name_a_malformed_line(
    tokenizer: Any, tmp_path: Path
) -> None:
    lines = [json.dumps({"text": f"row {i}", "label": i % 2}) for i in range(40)]
    lines.insert(5, "")  # blank lines are skipped as rows but counted as lines
    lines.insert(9, "   ")
    lines[30] = json.dumps({"text": "row 28", "label": 9})
    data = tmp_path / "rows.jsonl"
    data.write_text("\n".join(lines) + "\n")
    assert f"{data}:31 column 'label': label 9" in _error(tokenizer, data)

    lines[20] = lines[20] + "}"  # trailing data on line 21
    data.write_text("\n".join(lines) + "\n")
    message = _error(tokenizer, data)
    assert message.startswith(f"{data}:21: not valid JSON (Extra data")
    data.write_text("\n".join([*lines[:3], "[1, 2]", *lines[3:]]) + "\n")
    assert _error(tokenizer, data).startswith(f"{data}:4: a JSON list, not an object")


def test_csv_with_too_many_cells_names_the_line(tokenizer: Any, tmp_path: Path) -> None:
    data = tmp_path / "x.csv"
    data.write_text('text,label\n"multi\nline",0\nplain,1\nx,y,z\n' + "more,1\n" * 5)
    assert _error(tokenizer, data) == f"{data}:5: 3 cells but the header has 2 " + (
        "(quote cells that hold the delimiter)"
    )


def test_gzip_tsv_and_parquet_rows(tokenizer: Any, tmp_path: Path) -> None:
    rows = [f"row {i}\t{i % 2 if i != 20 else 3}" for i in range(40)]
    tsv = tmp_path / "rows.tsv.gz"
    with gzip.open(tsv, "wt") as handle:
        handle.write("text\tlabel\n" + "\n".join(rows) + "\n")
    assert f"{tsv}:22 column 'label': label 3" in _error(tokenizer, tsv)

    import pandas as pd

    parquet = tmp_path / "rows.parquet"
    labels = [i % 2 if i != 12 else 4 for i in range(30)]
    pd.DataFrame({"text": [f"t{i}" for i in range(30)], "label": labels}).to_parquet(parquet)
    assert f"{parquet} row 13 (1-based) column 'label': label 4" in _error(tokenizer, parquet)


def test_a_missing_column_names_the_file(tokenizer: Any, tmp_path: Path) -> None:
    data = _csv(tmp_path / "reviews.csv", GOOD_ROWS, header="body,label")
    assert _error(tokenizer, data) == (
        f"{data}: column 'text' (data.text_column) is not in the train split; "
        "columns present: body, label"
    )


def test_origins_name_hub_rows_and_fall_back_when_lines_disagree(tmp_path: Path) -> None:
    hub = Origin("stanfordnlp/imdb", "hub", split="train")
    assert hub.locate(57) == "stanfordnlp/imdb split train row 58 (1-based)"
    assert Origin("lm.txt", "text").locate(0) == "lm.txt:1"
    squad = Origin("train-v1.1.json", "rows", unit="question")  # a head's own format
    assert squad.locate(4) == "train-v1.1.json question 5 (1-based)"
    data = _csv(tmp_path / "odd.csv", ["a,0", "b,1"])
    # A reader that saw another number of rows than our scan: never a wrong line number.
    assert Origin(str(data), "csv", size=3).locate(1) == (
        f"{data} data row 2 (1-based, header not counted)"
    )
    assert Origin(str(data), "csv", size=2).locate(1) == f"{data}:3"


def test_line_numbers_cost_nothing_until_an_error(tokenizer: Any, tmp_path: Path) -> None:
    """A clean run never rereads the file; the rows' indices ride along without changing the
    rows or the split fingerprints."""
    data = _csv(tmp_path / "file.csv", GOOD_ROWS)
    module = _setup(tokenizer, data, seed=3)
    origin = module.origins["validation"]
    assert origin.name == str(data) and origin._lines is None
    assert sorted(
        [
            *module.row_indices["train"],
            *module.row_indices["validation"],
            *module.row_indices["test"],
        ]
    ) == list(range(100))
    first = int(module.row_indices["train"][0])
    expected = tokenizer(GOOD_ROWS[first].rsplit(",", 1)[0])["input_ids"]
    assert module.datasets["train"][0]["input_ids"] == expected
    assert "__lab_row__" not in module.datasets["train"].column_names


# -------------------------------------------------------------------------------- predict
class Echo(Predictor):
    """A stand-in predictor: the base class's row checks and one label per row, no model."""

    fields = ("review",)
    outputs = ("label",)

    def __init__(self) -> None:  # no model, tokenizer or run config
        pass

    def predict(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"label": "positive"} for _ in rows]


def test_predict_names_rows_by_their_line(tmp_path: Path) -> None:
    from lab.predict import predict_file

    source = tmp_path / "in.csv"
    source.write_text(
        'review,id\n"spans\ntwo lines",a\n\nfine,b\n,c\nx,y,z\n'
    )  # lines: header 1, record 2-3, blank 4, fine 5, empty 6, too wide 7
    out = tmp_path / "out.jsonl"
    tally = predict_file(Echo(), source, out)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["line"] for r in rows] == [2, 5, 6, 7]
    assert [r.get("label") for r in rows] == ["positive", "positive", None, None]
    assert rows[2]["error"] == f"{source}:6: field 'review' is empty"
    assert rows[3]["error"] == f"{source}:7: 3 cells but the header has 2"
    assert (tally.rows, tally.errors, tally.first_error) == (4, 2, rows[2]["error"])

    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text('{"review": "a"}\n\n{"review": "b"}}\n{"text": "c"}\n')
    predict_file(Echo(), jsonl, out)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["line"] for r in rows] == [1, 3, 4]
    assert rows[1]["error"].startswith(f"{jsonl}:3: not valid JSON (Extra data")
    assert rows[2]["error"] == f"{jsonl}:4: missing field 'review' (fields present: text)"


def test_predict_exits_2_when_no_row_succeeded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import lab.predict
    from lab.config.cli import run_tool

    run = SimpleNamespace(head="AutoModelForSequenceClassification", model_dir=tmp_path / "model")
    monkeypatch.setattr(lab.predict, "open_predictor", lambda *args, **_: (run, None, Echo()))
    source = tmp_path / "in.jsonl"
    source.write_text('{"text": "a"}\n{"text": "b"}\n')
    out = tmp_path / "out.jsonl"
    with pytest.raises(SystemExit) as exited:
        run_tool(lab.predict.main, ["run=x", f"input={source}", f"output={out}"])
    assert exited.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"error: no row of {source} could be predicted: 2 of 2 rows failed; first: "
        f"{source}:1: missing field 'review' (fields present: text); columns.review=<column> "
        f"reads the head's 'review' from a column of another name (every row's error is in {out})"
    )
    assert len(out.read_text().splitlines()) == 2  # the errors are kept for the user

    source.write_text('{"review": "good"}\n{"text": "b"}\n')
    with pytest.raises(SystemExit) as exited:
        run_tool(lab.predict.main, ["run=x", f"input={source}", f"output={out}"])
    assert exited.value.code == 0
    # rich wraps the summary at the terminal's width, inside long paths too: compare the text
    # with every space and line break taken out.
    printed = "".join(capsys.readouterr().out.split())
    expected = f"Predicted 1 of 2 rows; 1 failed (see their 'error' field); first: {source}:2:"
    assert "".join(expected.split()) in printed


# ---------------------------------------------------------------------------------- serve
@pytest.fixture(scope="module")
def echo_server() -> Iterator[str]:
    """`lab.serve`'s app around the stand-in predictor, served over loopback by uvicorn."""
    import uvicorn

    from lab.serve import create_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    app = create_app(Echo(), max_text_length=40)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    assert server.started
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


def _post(url: str, body: bytes) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_serve_caps_request_size_and_quotes_only_an_excerpt(echo_server: str) -> None:
    url = f"{echo_server}/predict"
    assert _post(url, json.dumps({"review": "fine"}).encode()) == (200, b'{"label":"positive"}')

    status, body = _post(url, json.dumps({"review": "x" * 1_000_000}).encode())  # under 1 MiB
    assert status == 422 and len(body) < 1000
    (error,) = json.loads(body)["detail"]
    assert error["msg"] == (
        "String should have at most 40 characters (the server's max_text_length=40: start "
        "lab.serve with a larger max_text_length= for longer texts; lab.predict has no such limit)"
    )
    assert error["loc"] == ["body", "review"]
    assert error["input"] == "x" * 80 + "... (1000000 characters)"

    status, body = _post(url, json.dumps({"inputs": [{"review": "x" * 900}] * 1000}).encode())
    assert status == 422 and len(body) < 1000  # one error for the whole batch, cut short
    status, body = _post(url, json.dumps({"review": "ok", "k" * 500_000: 1}).encode())
    assert status == 422 and len(body) < 1000  # an unknown key is quoted short as well
    assert json.loads(body)["detail"][0]["loc"][-1] == "k" * 80 + "... (500000 characters)"

    status, body = _post(url, json.dumps({"review": "x" * 2_000_000}).encode())
    assert status == 413
    assert json.loads(body) == {
        "detail": "request body over 1048576 bytes (the server's max_request_bytes)"
    }
    # A chunked body declares no length: counted as it arrives.
    import http.client

    connection = http.client.HTTPConnection(url.split("//")[1].split("/")[0], timeout=30)
    chunks = (b"x" * 65536 for _ in range(40))
    connection.request("POST", "/predict", body=chunks, encode_chunked=True)
    assert connection.getresponse().status == 413
    connection.close()


def test_serve_refuses_a_bad_size_option() -> None:
    from lab.errors import LabError
    from lab.serve import main

    with pytest.raises(LabError, match="max_request_bytes must be at least 1"):
        main(["run=nowhere", "max_request_bytes=0"])
    with pytest.raises(LabError, match="must be integers"):
        main(["run=nowhere", "max_request_bytes=1MB"])


def test_serve_on_a_port_in_use_is_one_line_before_the_model_loads(tmp_path: Path) -> None:
    from conftest import lab_cli

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        result = lab_cli("serve", "run=/nowhere/run", f"port={port}", cwd=tmp_path, timeout=120)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: cannot listen on 127.0.0.1:{port}: ")
    assert "choose another with port=" in result.stderr and "Serving" not in result.stdout


def test_a_json_message_that_points_past_itself_reads_whole() -> None:
    """json says "Invalid control character at" and appends its own position: lab's column
    follows the "at" (s32d G4: "Unterminated string starting, column 22" read cut)."""
    import json

    from lab.data.origins import not_valid_json

    with pytest.raises(json.JSONDecodeError) as control:
        json.loads('{"text": "a\tb"}')
    assert (
        not_valid_json(control.value) == "not valid JSON (Invalid control character at column 12)"
    )
    with pytest.raises(json.JSONDecodeError) as comma:
        json.loads('{"text": "a" "b"}')
    assert not_valid_json(comma.value) == "not valid JSON (Expecting ',' delimiter, column 14)"
    with pytest.raises(json.JSONDecodeError) as open_string:
        json.loads('{"text": "unterminated')
    assert not_valid_json(open_string.value) == (
        "not valid JSON (Unterminated string starting at column 10)"
    )
