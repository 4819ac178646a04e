"""lab.predict's rows that cannot be read: a row with a byte that is not UTF-8 keeps its id
(s31g-4), and a JSON Lines row's error is json's own reason for the line without its line
ending (s31g-5)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from helpers.echo_predictor import Echo
from lab.inference.rows import read_rows

UTF8_ADVICE = "re-encode the file as UTF-8"


def _results(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _predict(source: Path, columns: dict[str, str] | None = None) -> list[dict[str, Any]]:
    from lab.predict import predict_file

    out = source.with_name("out.jsonl")
    predict_file(Echo(), source, out, columns=columns)
    return _results(out)


def test_a_non_utf8_row_keeps_its_id_in_csv_and_jsonl(tmp_path: Path) -> None:
    """The accepted row `b1,BADBYTE caf\\xe9 was great` had lost its id: a pipeline joining
    results back by id lost exactly these rows. The error is as before."""
    csv_source = tmp_path / "in.csv"
    csv_source.write_bytes(b"id,review\nb1,BADBYTE caf\xe9 was great\nb2,fine\n")
    assert _predict(csv_source) == [
        {
            "line": 2,
            "id": "b1",
            "error": f"{csv_source}:2: not valid UTF-8 (byte 0xe9 at column 15); {UTF8_ADVICE}",
        },
        {"line": 3, "id": "b2", "label": "fine"},
    ]
    jsonl_source = tmp_path / "in.jsonl"
    jsonl_source.write_bytes(
        b'{"id": 7, "review": "caf\xe9"}\n{"idx": 8, "review": "caf\xe9"}\n'
        b'{"review": "caf\xe9"}\n{"id": "j", "review": "caf\xe9", oops\n'
    )
    error = "not valid UTF-8 (byte 0xe9 at column {}); " + UTF8_ADVICE
    assert _predict(jsonl_source) == [
        {"line": 1, "id": 7, "error": f"{jsonl_source}:1: {error.format(25)}"},
        {"line": 2, "id": 8, "error": f"{jsonl_source}:2: {error.format(26)}"},  # GLUE's idx
        {"line": 3, "error": f"{jsonl_source}:3: {error.format(16)}"},  # no id to keep
        {"line": 4, "error": f"{jsonl_source}:4: {error.format(27)}"},  # no JSON object
    ]


def test_a_non_utf8_rows_id_follows_the_column_mapping_and_its_own_bad_byte(
    tmp_path: Path,
) -> None:
    """`columns.id=<column>` maps a bad row's id as a good row's; a bad byte in the id itself
    is read as U+FFFD (errors="replace"); a mapped column missing keeps the UTF-8 error."""
    source = tmp_path / "in.csv"
    source.write_bytes(b"key,body\nk\xe91,text\nk2,caf\xe9\n")
    bad = f"not valid UTF-8 (byte 0xe9 at column {{}}); {UTF8_ADVICE}"
    assert _predict(source, {"review": "body", "id": "key"}) == [
        {"line": 2, "id": "k\ufffd1", "error": f"{source}:2: {bad.format(2)}"},
        {"line": 3, "id": "k2", "error": f"{source}:3: {bad.format(7)}"},
    ]
    assert _predict(source, {"review": "nosuch", "id": "key"})[1] == {
        "line": 3,
        "id": "k2",
        "error": f"{source}:3: {bad.format(7)}",
    }


def test_a_csv_record_with_more_cells_than_the_header_and_a_bad_byte_has_no_id(
    tmp_path: Path,
) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(b"id,review\nb1,caf\xe9,extra\n")
    ((line, row),) = list(read_rows(source))
    assert (line, row, getattr(row, "read", {})) == (
        2,
        f"not valid UTF-8 (byte 0xe9 at column 7); {UTF8_ADVICE}",
        None,
    )


def test_an_unterminated_json_lines_string_is_named_as_such_not_as_a_control_character(
    tmp_path: Path,
) -> None:
    """s31g-5: the line's newline was parsed with it (`Invalid control character, column
    39`); without it json names the real problem, on the last line (no newline) too."""
    from lab.data.origins import json_problem

    source = tmp_path / "in.jsonl"
    line = '{"id": "j1", "sentence": "unterminated'
    source.write_text(f'{{"id": "j0", "review": "fine"}}\n{line}\r\n{line}')
    unterminated = "not valid JSON (Unterminated string starting at column 26)"
    assert _predict(source) == [
        {"line": 1, "id": "j0", "label": "fine"},
        {"line": 2, "error": f"{source}:2: {unterminated}"},
        {"line": 3, "error": f"{source}:3: {unterminated}"},
    ]
    assert json_problem(str(source)) == f"{source}:2: {unterminated}"  # training's check
