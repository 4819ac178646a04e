"""s26b H2, H3, M7, M8: what lab.predict and lab.serve say when they read an input cut.

Tiny random models (BERT, BART, GPT-2 built from config) with the repo's tokenizers, and
inputs of `the` repeated: tiny_bert and tiny_bart read each `the` as one token, so a row of
n words has n + 2 tokens with its special tokens.
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path
from typing import Any

import pytest
import torch
from omegaconf import OmegaConf

from helpers.fixed_tag_ner import fixed_tag_tagger
from lab.inference.cuts import TRUNCATED, cut_log_line, input_cuts
from lab.inference.predictors import predict_rows

ASSETS = Path(__file__).resolve().parents[1] / "src" / "lab" / "assets"
CUT_TAIL = (
    "as in training (each one's 'truncated' field says how many tokens it has and how many "
    "were read)"
)


def _the(words: int) -> str:
    return " ".join(["the"] * words)


def _tokenizer(name: str, **kwargs: Any) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(ASSETS / name, **kwargs)


def _classifier(max_length: int = 8, **data: Any) -> Any:
    from transformers import BertConfig, BertForSequenceClassification

    from lab.tasks.text_classification.predictor import SequenceClassificationPredictor

    config = BertConfig(
        vocab_size=2048, hidden_size=8, num_hidden_layers=1, num_attention_heads=1,
        intermediate_size=8, id2label={0: "neg", 1: "pos"},
    )  # fmt: skip
    torch.manual_seed(0)
    model = BertForSequenceClassification(config).eval()
    cfg = OmegaConf.create(
        {"data": {"text_column": "text", "max_length": max_length, **data}, "task": {"module": {}}}
    )
    return SequenceClassificationPredictor(model, _tokenizer("tiny_bert"), cfg)


def _summarizer(max_source_length: int = 8) -> Any:
    from transformers import BartConfig, BartForConditionalGeneration

    from lab.tasks.seq2seq import Seq2SeqPredictor

    config = BartConfig(
        vocab_size=1024, d_model=8, encoder_layers=1, decoder_layers=1,
        encoder_attention_heads=1, decoder_attention_heads=1, encoder_ffn_dim=8,
        decoder_ffn_dim=8, max_position_embeddings=64, bos_token_id=0, pad_token_id=1,
        eos_token_id=2, decoder_start_token_id=2, forced_eos_token_id=2,
    )  # fmt: skip
    torch.manual_seed(0)
    model = BartForConditionalGeneration(config).eval()
    cfg = OmegaConf.create(
        {
            "data": {"source_column": "document", "max_source_length": max_source_length},
            "task": {"module": {"max_new_tokens": 2}},
        }
    )
    return Seq2SeqPredictor(model, _tokenizer("tiny_bart"), cfg)


# ------------------------------------------------------------------ which rows are cut


@pytest.mark.parametrize("fast", [True, False])
def test_input_cuts_counts_the_whole_input_of_exactly_the_rows_cut(fast: bool) -> None:
    """6 words + 2 special tokens fill 8 without a cut; 7 and 30 words are cut. A slow
    tokenizer keeps no encodings: the rows that fill the limit are tokenized again."""
    tokenizer = _tokenizer("tiny_bert", use_fast=fast)
    texts = [_the(n) for n in (2, 6, 7, 30)]
    encoded = tokenizer(texts, truncation=True, max_length=8, padding=True, return_tensors="pt")
    assert input_cuts(tokenizer, encoded, texts) == [
        None,
        None,
        {"tokens": 9, "tokens_read": 8},
        {"tokens": 32, "tokens_read": 8},
    ]
    # A pair is cut longest-first: its tokens in all, 3 special tokens among them.
    claims, docs = ["a b"], [_the(20)]
    pair = tokenizer(claims, docs, truncation=True, max_length=8, padding=True)
    assert input_cuts(tokenizer, pair, claims, docs) == [{"tokens": 25, "tokens_read": 8}]


# ------------------------------------------------------------------ lab.predict


def test_a_classifier_marks_each_cut_row_and_notes_how_many() -> None:
    """L2: a row cut at data.max_length carries `truncated`; one read whole has none."""
    predictor = _classifier()
    results = predictor.predict([{"text": _the(n)} for n in (2, 6, 7, 30)])
    assert [result.get(TRUNCATED) for result in results] == [
        None,
        None,
        {"tokens": 9, "tokens_read": 8},
        {"tokens": 32, "tokens_read": 8},
    ]
    assert set(results[0]) == {"label", "probabilities"}  # as before for a row read whole
    assert predictor.outputs == ("label", "probabilities", TRUNCATED)
    assert predictor.notes() == [
        f"2 rows ran past data.max_length=8 tokens: their tokens past the cut were not read, "
        f"{CUT_TAIL}"
    ]
    regression = _classifier(problem_type="regression")
    (scored,) = regression.predict([{"text": _the(30)}])
    assert set(scored) == {"score", TRUNCATED}


def test_a_seq2seq_predict_says_which_sources_it_cut_at_max_source_length() -> None:
    """H2: sources past data.max_source_length were cut without a word."""
    predictor = _summarizer()
    rows = [{"document": _the(n)} for n in (3, 6, 7, 30)]
    results = predict_rows(predictor, rows)
    assert [result.get(TRUNCATED) for result in results] == [
        None,
        None,
        {"tokens": 9, "tokens_read": 8},
        {"tokens": 32, "tokens_read": 8},
    ]
    assert all(isinstance(result["generated_text"], str) for result in results)
    assert predictor.outputs == ("generated_text", TRUNCATED)
    assert predictor.notes() == [
        "2 rows ran past data.max_source_length=8 tokens: their tokens past the cut were not "
        f"read, {CUT_TAIL}"
    ]


def test_lab_predict_writes_the_field_in_jsonl_and_csv(tmp_path: Path) -> None:
    from lab.predict import predict_file

    source = tmp_path / "rows.jsonl"
    source.write_text("".join(json.dumps({"text": _the(n)}) + "\n" for n in (2, 30)))
    predictor = _classifier()
    predict_file(predictor, source, tmp_path / "out.jsonl")
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [line.get(TRUNCATED) for line in lines] == [None, {"tokens": 32, "tokens_read": 8}]
    predict_file(predictor, source, tmp_path / "out.csv")
    with (tmp_path / "out.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["line", "id", "label", "probabilities", TRUNCATED, "error"]
    assert [row[TRUNCATED] for row in rows] == ["", '{"tokens": 32, "tokens_read": 8}']


def test_ner_given_words_past_the_cut_are_marked_in_words() -> None:
    """max_length 8: [CLS], six words, [SEP]; a text is tagged in windows, never cut."""
    tagger = fixed_tag_tagger("B-PER", max_length=8)
    cut, whole, text = tagger.predict(
        [{"tokens": ["the"] * 14}, {"tokens": ["the"] * 6}, {"text": _the(14)}]
    )
    assert cut[TRUNCATED] == {"words": 14, "words_read": 6}
    assert TRUNCATED not in whole and TRUNCATED not in text
    assert len(text["entities"]) == 14


def test_a_causal_lm_prompt_over_the_tokens_it_reads_is_refused_not_cut() -> None:
    """Generation cut a prompt on the right at the tokenizer's model_max_length (below the
    model's positions here): the continuation followed a middle of the prompt."""
    from transformers import GPT2Config, GPT2LMHeadModel

    from lab.tasks.causal_lm import GenerationPredictor

    tokenizer = _tokenizer("tiny_gpt2")
    tokenizer.model_max_length = 16
    eos = tokenizer.eos_token_id
    config = GPT2Config(
        vocab_size=len(tokenizer), n_positions=64, n_embd=8, n_layer=1, n_head=1,
        bos_token_id=eos, eos_token_id=eos,
    )  # fmt: skip
    model = GPT2LMHeadModel(config).eval()
    cfg = OmegaConf.create({"data": {}, "task": {"module": {"sample_max_new_tokens": 2}}})
    predictor = GenerationPredictor(model, tokenizer, cfg)
    long = " ".join(["hello"] * 8)
    tokens = len(tokenizer(long, verbose=False)["input_ids"])
    assert 16 < tokens <= 64 - 2  # within the model's positions, with the new tokens
    assert predictor.check({"text": long}) == (
        f"the prompt has {tokens} tokens, over the 16 tokens lab reads of a prompt (the "
        "tokenizer's model_max_length); shorten the prompt"
    )
    assert predictor.check({"text": "hello"}) is None


# ------------------------------------------------------------------ extractive QA (M8)


def _qa(max_length: int = 32, doc_stride: int = 8) -> Any:
    from transformers import BertConfig, BertForQuestionAnswering

    from lab.tasks.question_answering.predictor import QuestionAnsweringPredictor

    config = BertConfig(
        vocab_size=2048, hidden_size=8, num_hidden_layers=1, num_attention_heads=1,
        intermediate_size=8,
    )  # fmt: skip
    model = BertForQuestionAnswering(config).eval()
    cfg = OmegaConf.create(
        {"data": {"max_length": max_length, "doc_stride": doc_stride}, "task": {"module": {}}}
    )
    return QuestionAnsweringPredictor(model, _tokenizer("tiny_bert"), cfg)


@pytest.mark.parametrize(
    ("words", "left"),
    [(29, 0), (40, 0), (21, 8), (28, 1)],  # no room (a raw error); room <= stride (a panic)
)
def test_a_qa_question_too_long_for_the_windows_is_a_row_error_in_trainings_words(
    words: int, left: int
) -> None:
    """32 tokens a window, 3 special: a question of 29+ words leaves none (the tokenizer's
    raw `Truncation error`); of 21-28 words, 1-8 tokens, not more than the stride (the
    tokenizer panics: a `PanicException`, which took lab.predict down whole)."""
    predictor = _qa()
    context = _the(60)
    rows = [
        {"question": "the", "context": context},
        {"question": " " + _the(words), "context": context},
    ]
    good, bad = predict_rows(predictor, rows)
    assert set(good) == {"answer", "start", "end", "score"}
    assert bad == {
        "error": f"the question ('question') has {words} tokens, which leaves {left} tokens of "
        "context per window: need more than data.doc_stride=8; shorten the question (this run "
        "reads windows of data.max_length=32 tokens)"
    }
    assert predictor.check({"question": _the(20), "context": context}) is None  # 9 > 8


# ------------------------------------------------------------------ lab.serve (H3, M7)


def _client(predictor: Any, **options: Any) -> Any:
    from fastapi.testclient import TestClient

    from lab.serve import create_app

    return TestClient(create_app(predictor, **options))


def test_serve_marks_a_cut_input_and_logs_one_line_per_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = _client(_classifier())
    caplog.set_level(logging.INFO, logger="uvicorn.error")
    short = client.post("/predict", json={"text": _the(2)}).json()
    assert set(short) == {"label", "probabilities"}
    assert not caplog.records  # nothing cut, nothing said
    long = client.post("/predict", json={"text": _the(30)}).json()
    assert long[TRUNCATED] == {"tokens": 32, "tokens_read": 8}
    batch = {
        "inputs": [
            {"text": _the(30), "id": "doc-1"},
            {"text": _the(2)},
            {"text": _the(7)},
        ]
    }
    predictions = client.post("/predict", json=batch).json()["predictions"]
    assert [p.get(TRUNCATED) for p in predictions] == [
        {"tokens": 32, "tokens_read": 8},
        None,
        {"tokens": 9, "tokens_read": 8},
    ]
    assert predictions[0]["id"] == "doc-1"
    assert [r.getMessage() for r in caplog.records if r.name == "uvicorn.error"] == [
        "/predict: 1 of 1 input cut at data.max_length=8, as in training (input 0: 8 of 32 "
        "tokens read)",
        "/predict: 2 of 3 inputs cut at data.max_length=8, as in training (input 0 (id "
        "'doc-1'): 8 of 32 tokens read; input 2: 8 of 9 tokens read)",
    ]
    # The /docs page says what the field is; the request schema keeps its limit.
    schema = client.get("/openapi.json").json()
    assert TRUNCATED in schema["paths"]["/predict"]["post"]["description"]
    item = schema["components"]["schemas"]["PredictInput"]["properties"]["text"]
    assert item["maxLength"] == 10_000
    assert client.get("/health").json()["outputs"] == ["label", "probabilities", TRUNCATED]


def test_serve_names_the_seq2seq_setting_and_ner_words() -> None:
    tagger = fixed_tag_tagger("B-PER", max_length=8)
    assert cut_log_line([{"entities": [], TRUNCATED: {"words": 14, "words_read": 6}}], tagger) == (
        "/predict: 1 of 1 input cut at data.max_length=8, as in training (input 0: 6 of 14 "
        "words read)"
    )
    reply = _client(_summarizer()).post("/predict", json={"document": _the(30)})
    assert reply.status_code == 200, reply.text
    assert reply.json()[TRUNCATED] == {"tokens": 32, "tokens_read": 8}


def test_serve_says_which_setting_limits_a_text_and_that_predict_has_none() -> None:
    """M7: pydantic's bare "String should have at most 40 characters"."""
    client = _client(_classifier(), max_text_length=40)
    reply = client.post("/predict", json={"text": "x" * 41})
    assert reply.status_code == 422
    (error,) = reply.json()["detail"]
    assert (error["type"], error["loc"]) == ("string_too_long", ["body", "text"])
    assert error["msg"] == (
        "String should have at most 40 characters (the server's max_text_length=40: start "
        "lab.serve with a larger max_text_length= for longer texts; lab.predict has no such "
        "limit)"
    )
    assert client.post("/predict", json={"text": "x" * 40}).status_code == 200
    blank = client.post("/predict", json={"text": "  "}).json()["detail"][0]["msg"]
    assert blank == "Value error, must not be empty or only whitespace"


def test_training_and_serve_refuse_the_long_question_alike() -> None:
    """One rule (`question_room`): training's words name the id and the settings to change;
    lab.serve's 422 names the row, in predict's words."""
    from lab.tasks.question_answering.question_room import question_room_problem, training_fix

    tokenizer = _tokenizer("tiny_bert")
    assert question_room_problem(
        tokenizer, 357, 64, 16, what="question id longq", fix=training_fix(64)
    ) == (
        "question id longq has 357 tokens, which leaves 0 tokens of context per window: need "
        "more than data.doc_stride=16; raise data.max_length (now 64) or lower data.doc_stride"
    )
    client = _client(_qa())
    body = {
        "inputs": [
            {"question": "the", "context": _the(9)},
            {"question": _the(25), "context": "the"},
        ]
    }
    reply = client.post("/predict", json=body)
    assert reply.status_code == 422
    assert reply.json()["detail"] == [
        {
            "loc": ["body", "inputs", 1],
            "msg": "the question ('question') has 25 tokens, which leaves 4 tokens of context per "
            "window: need more than data.doc_stride=8; shorten the question (this run reads "
            "windows of data.max_length=32 tokens)",
        }
    ]


def test_input_cuts_reads_the_lengths_without_an_attention_mask() -> None:
    tokenizer = _tokenizer("tiny_bert")
    texts = [_the(2), _the(30)]
    encoded = tokenizer(
        texts, truncation=True, max_length=8, padding=True, return_attention_mask=False
    )
    assert "attention_mask" not in encoded
    assert input_cuts(tokenizer, encoded, texts) == [None, {"tokens": 32, "tokens_read": 8}]
