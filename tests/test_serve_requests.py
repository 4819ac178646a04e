"""`lab.serve`'s `/predict` requests, as `lab.predict` reads rows: an input's optional `id` is
echoed in its result, and an NER run takes `text` or the pre-split tokens (exactly one).

No training: a stand-in predictor, and an NER predictor on a tiny random BERT whose every
token is tagged B-PER (so each word is one entity).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from helpers.echo_predictor import Echo
from helpers.fixed_tag_ner import fixed_tag_tagger
from lab.inference.predictors import Predictor

WORDS_WANTED = (
    "field 'words' must be a non-empty list of non-blank strings (or that list as a JSON string)"
)


def _client(predictor: Predictor) -> Any:
    from fastapi.testclient import TestClient

    from lab.serve import create_app

    return TestClient(create_app(predictor))


def _refused(client: Any, body: Any) -> list[str]:
    reply = client.post("/predict", json=body)
    assert reply.status_code == 422, reply.text
    return [str(error["msg"]) for error in reply.json()["detail"]]


def test_an_inputs_id_is_echoed_in_its_result() -> None:
    client = _client(Echo())
    body = {"inputs": [{"review": "a"}, {"review": "b", "id": 7}, {"review": "c", "id": "x-1"}]}
    reply = client.post("/predict", json=body)
    assert reply.status_code == 200, reply.text
    assert reply.json() == {
        "predictions": [{"label": "a"}, {"id": 7, "label": "b"}, {"id": "x-1", "label": "c"}]
    }
    assert client.post("/predict", json={"review": "a", "id": 3}).json() == {"id": 3, "label": "a"}
    for bad in (1.5, True, ["a"], {"k": 1}):  # a string or an integer only: one message
        assert _refused(client, {"review": "a", "id": bad}) == [
            "field 'id' must be a string or an integer"
        ]
    assert _refused(client, {"review": "a", "idx": 1}) == ["Extra inputs are not permitted"]


def _errors(client: Any, body: Any) -> list[tuple[list[Any], str]]:
    reply = client.post("/predict", json=body)
    assert reply.status_code == 422, reply.text
    return [(error["loc"], error["msg"]) for error in reply.json()["detail"]]


def test_a_422_names_the_body_field_or_row_in_one_shape() -> None:
    """Schema errors and the head's own refusals locate the field as the body has it:
    `["body", <field>]` or `["body", "inputs", <index>, ...]`, never the server's tags for
    one input or a batch; an empty text and a blank one get the same message."""
    client = _client(Echo())
    blank = "Value error, must not be empty or only whitespace"
    assert _errors(client, {"review": "   "}) == [(["body", "review"], blank)]
    assert _errors(client, {"review": ""}) == [(["body", "review"], blank)]
    assert _errors(client, {"inputs": [{"review": "ok"}, {"review": ""}]}) == [
        (["body", "inputs", 1, "review"], blank)
    ]
    assert _errors(client, {"inputs": [{"review": "ok"}, {"review": 3}]}) == [
        (["body", "inputs", 1, "review"], "Input should be a valid string")
    ]
    assert _errors(client, {"inputs": [{"review": "a"}, {"review": "b", "id": 1.5}]}) == [
        (["body", "inputs", 1, "id"], "field 'id' must be a string or an integer")
    ]
    assert _errors(client, [1, 2]) == [
        (["body"], "Input should be a valid dictionary or object to extract fields from")
    ]


def test_a_body_not_sent_as_json_is_a_422_saying_so() -> None:
    """curl -d sends a form's content type: the body is then bytes to FastAPI, which lab's
    error handler once failed to answer (HTTP 500)."""
    client = _client(Echo())
    body = b'{"review": "a"}'
    for content_type in ("application/x-www-form-urlencoded", "text/plain", None):
        headers = {"content-type": content_type} if content_type else {}
        reply = client.post("/predict", content=body, headers=headers)
        assert reply.status_code == 422, (content_type, reply.text)
        assert reply.json()["detail"] == [
            {
                "type": "not_json",
                "loc": ["body"],
                "msg": "the body must be JSON sent as Content-Type: application/json "
                "(curl: -H 'Content-Type: application/json')",
            }
        ]
    sent_as_json = client.post(
        "/predict", content=body, headers={"content-type": "application/json"}
    )
    assert sent_as_json.json() == {"label": "a"}


@pytest.fixture(scope="module")
def tagger() -> Predictor:
    """An NER predictor whose model tags every token B-PER (the run's tokens column: words)."""
    return fixed_tag_tagger("B-PER", tokens_column="words")


def test_ner_takes_text_or_the_runs_tokens_column_exactly_one(tagger: Predictor) -> None:
    client = _client(tagger)
    assert client.get("/health").json()["fields"] == ["text", "words"]
    words = ["Mary", "flew", "to", "Paris"]
    by_words = client.post("/predict", json={"words": words})
    assert by_words.status_code == 200, by_words.text
    by_text = client.post("/predict", json={"text": "Mary flew to Paris"}).json()
    assert by_words.json() == by_text  # the words joined with spaces: the same spans
    assert [e["text"] for e in by_text["entities"]] == words
    batch = client.post("/predict", json={"inputs": [{"text": "Mary"}, {"words": ["Ann"]}]})
    assert [p["entities"][0]["text"] for p in batch.json()["predictions"]] == ["Mary", "Ann"]

    assert _refused(client, {"text": "Mary", "words": ["Mary"]}) == [
        "give either 'text' or 'words', not both"
    ]
    assert _refused(client, {}) == ["missing field 'text' or 'words' (fields present: none)"]
    # One message naming the field, whatever is wrong with the list (or its JSON string).
    wanted = [
        "field 'words' must be a non-empty list of non-blank strings "
        "(or that list as a JSON string)"
    ]
    for words in ([], ["Anna", ""], ["  "], ["Anna", 3], "Mary flew", "[]", '["Anna", ""]', 3):
        assert _refused(client, {"words": words}) == wanted, words
    assert _errors(client, {"inputs": [{"text": "Mary"}, {"words": []}]}) == [
        (["body", "inputs", 1, "words"], wanted[0])
    ]
    assert client.post("/predict", json={"words": '["Mary", "flew"]'}).json() == (
        client.post("/predict", json={"words": ["Mary", "flew"]}).json()
    )


def test_one_422_names_every_bad_row_of_a_batch(tagger: Predictor) -> None:
    """A batch with rows of the wrong form and rows the head refuses gets them all in one
    answer, in row order (not the form's first and the head's after a resend); a batch
    refused as a whole (a key beside `inputs`) is not read row by row."""
    client = _client(tagger)
    body = {
        "inputs": [
            {"text": "Mary", "words": ["Mary"]},  # the head's: both given
            {"text": "Ann"},  # fine
            {"words": []},  # the form's
            {},  # the head's: neither given
            {"text": 3},  # the form's
        ]
    }
    assert _errors(client, body) == [
        (["body", "inputs", 0], "give either 'text' or 'words', not both"),
        (["body", "inputs", 2, "words"], WORDS_WANTED),
        (["body", "inputs", 3], "missing field 'text' or 'words' (fields present: none)"),
        (["body", "inputs", 4, "text"], "Input should be a valid string"),
    ]
    assert _errors(client, {**body, "extra": 1}) == [  # the body's own errors first
        (["body", "extra"], "Extra inputs are not permitted"),
        (["body", "inputs", 2, "words"], WORDS_WANTED),
        (["body", "inputs", 4, "text"], "Input should be a valid string"),
    ]


def test_predict_reads_ner_tokens_from_a_csv_cell(tagger: Predictor, tmp_path: Path) -> None:
    """The tokens column of a CSV file holds a JSON array (as `lab.serve` takes one too); a
    row with both fields is refused, as `lab.serve` refuses it."""
    from lab.predict import predict_file

    source = tmp_path / "in.csv"
    source.write_text(
        'words,text\n"[""Mary"", ""flew""]",\n,Ann flew\n"[""A""]",A\nnot json,\n"[Mary]",\n'
    )
    out = tmp_path / "out.jsonl"
    predict_file(tagger, source, out)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [e["text"] for e in rows[0]["entities"]] == ["Mary", "flew"]
    assert [e["text"] for e in rows[1]["entities"]] == ["Ann", "flew"]
    assert rows[2]["error"] == f"{source}:4: give either 'text' or 'words', not both"
    # A cell is text: the message says the list's form there is a JSON array.
    in_a_cell = (
        "field 'words' must be a non-empty list of strings "
        '(in a CSV cell: a JSON array, e.g. ["Anna", "Berg"])'
    )
    assert [row["error"] for row in rows[3:]] == [
        f"{source}:5: {in_a_cell}",
        f"{source}:6: {in_a_cell}",
    ]


def test_an_empty_ner_text_cell_is_called_empty(tagger: Predictor, tmp_path: Path) -> None:
    """`text` present but empty (and no `words`): the field is empty, not missing."""
    from lab.predict import predict_file

    source = tmp_path / "in.csv"
    source.write_text("id,text\n1,John\n2,\n")
    out = tmp_path / "out.jsonl"
    predict_file(tagger, source, out)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows[1]["error"] == f"{source}:3: field 'text' is empty"
    assert tagger.check({"id": "3"}) == "missing field 'text' or 'words' (fields present: id)"


def test_a_ner_text_of_invisible_characters_alone_is_refused(tagger: Predictor) -> None:
    """s22c L2: zero-width spaces alone hold no word; they were tagged as no entities."""
    refused = "field 'text' has no words (only invisible characters such as zero-width spaces)"
    assert tagger.check({"text": "\u200b \u200b\u200d"}) == refused
    assert tagger.check({"text": "\u200bJohn"}) is None  # a word with one in front is a word


def test_a_text_pair_classifier_takes_both_texts() -> None:
    """s21e H1: a run trained on text pairs (MNLI's premise and hypothesis) is served with
    both texts as strings; the second was typed as a translation's {language: text} object,
    so every request was a 422. Answered as lab.predict answers the row."""
    import torch
    from omegaconf import OmegaConf
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from helpers.fixed_tag_ner import TINY_BERT
    from lab.tasks.text_classification.predictor import SequenceClassificationPredictor

    names = ["entailment", "neutral", "contradiction"]
    config = BertConfig(
        vocab_size=2048, hidden_size=8, num_hidden_layers=1, num_attention_heads=1,
        intermediate_size=8, id2label=dict(enumerate(names)),
    )  # fmt: skip
    model = BertForSequenceClassification(config).eval()
    with torch.no_grad():  # always `neutral`
        model.classifier.weight.zero_()
        model.classifier.bias.copy_(torch.tensor([0.0, 5.0, 0.0]))
    data = {"text_column": "premise", "text_pair_column": "hypothesis", "max_length": 32}
    cfg = OmegaConf.create({"data": data, "task": {"module": {}}})
    predictor = SequenceClassificationPredictor(
        model, AutoTokenizer.from_pretrained(TINY_BERT), cfg
    )
    client = _client(predictor)
    reply = client.post("/predict", json={"premise": "happy day", "hypothesis": "great day"})
    assert reply.status_code == 200, reply.text
    assert reply.json()["label"] == "neutral"
    assert (
        predictor.predict([{"premise": "happy day", "hypothesis": "great day"}])[0]["label"]
        == "neutral"
    )
    assert _refused(client, {"premise": "happy day"}) == ["Field required"]
