"""lab.serve's answer to a body it cannot read (s31g-3): bad JSON and a body that is not UTF-8
get a 422 in lab's words, naming the place (FastAPI answered `JSON decode error` at a bare
offset, and HTTP 400 "There was an error parsing the body")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from helpers.echo_predictor import Echo
from lab.inference.body_encoding import body_problem, read_as_json

JSON = {"Content-Type": "application/json"}


def _client() -> Any:
    from fastapi.testclient import TestClient

    from lab.serve import create_app

    return TestClient(create_app(Echo()))


def test_bad_json_is_a_422_naming_the_character_and_jsons_reason() -> None:
    client = _client()
    reply = client.post("/predict", content=b'{"review": "unterminated', headers=JSON)
    assert reply.status_code == 422
    assert reply.json() == {
        "detail": [
            {
                "type": "json_invalid",
                "loc": ["body", 11],
                "msg": "not valid JSON: Unterminated string starting at character 11",
            }
        ]
    }
    reply = client.post("/predict", content=b'{"review": "a",}', headers=JSON)
    assert reply.json()["detail"][0]["msg"] == (
        "not valid JSON: Expecting property name enclosed in double quotes, character 15"
    )


def test_a_body_not_utf8_is_a_422_naming_the_byte_as_lab_predict_names_it(
    tmp_path: Path,
) -> None:
    """The same bytes as a JSON Lines row of lab.predict: the same byte and column."""
    from helpers.echo_predictor import Echo as Head
    from lab.predict import predict_file

    body = b'{"review": "caf\xe9"}'
    client = _client()
    reply = client.post("/predict", content=body, headers=JSON)
    assert reply.status_code == 422
    problem = "not valid UTF-8 (byte 0xe9 at column 16)"
    assert reply.json() == {
        "detail": [
            {"type": "not_utf8", "loc": ["body"], "msg": f"{problem}; send the body as UTF-8"}
        ]
    }
    source = tmp_path / "in.jsonl"
    source.write_bytes(body + b"\n")
    predict_file(Head(), source, tmp_path / "out.jsonl")
    assert f"{problem}; re-encode the file as UTF-8" in (tmp_path / "out.jsonl").read_text()
    batch = b'{"inputs": [\n  {"review": "fine"},\n  {"review": "caf\xe9"}\n]}'
    assert client.post("/predict", content=batch).json()["detail"][0]["msg"] == (
        "not valid UTF-8 (byte 0xe9 at line 3, column 18); send the body as UTF-8"
    )


def test_a_good_body_and_a_form_pass_the_utf8_check() -> None:
    client = _client()
    assert client.post("/predict", content='{"review": "café"}'.encode(), headers=JSON).json() == {
        "label": "café"
    }
    assert body_problem("naïve\n☃".encode()) is None
    form = client.post("/predict", content=b"review=caf\xe9", headers={"Content-Type": "x"})
    assert form.status_code == 422  # not read as JSON: the content-type fix, as before
    assert "Content-Type: application/json" in form.json()["detail"][0]["msg"]


@pytest.mark.parametrize(
    ("content_type", "json"),
    [
        (None, True),
        (b"application/json", True),
        (b"Application/JSON; charset=utf-8", True),
        (b"application/vnd.api+json", True),
        (b"application/x-www-form-urlencoded", False),
        (b"text/plain", False),
    ],
)
def test_the_bodies_checked_are_those_fastapi_reads_as_json(
    content_type: bytes | None, json: bool
) -> None:
    headers = [] if content_type is None else [(b"content-type", content_type)]
    assert read_as_json({"type": "http", "headers": headers}) is json
