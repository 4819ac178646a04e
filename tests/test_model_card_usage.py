"""The model card says how to use the export outside lab, with the run's settings filled in.

The exported tokenizer keeps the base model's own limit (512 for MiniLM), not the run's
`data.max_length`: a plain `pipeline("text-classification", model=<run>/model)` crashed on
IMDB reviews over 512 tokens and scored the ones between the run's cut and 512 otherwise than
the run, and the card did not say so. Each head's card now gives the call that reproduces the
run: checked here on the text of every head's card, and run on a tiny classifier's export
(tests/test_model_card_exports.py runs the other heads' code, the ONNX card's and the
adapter card's base).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from helpers.model_card_runs import (
    LONG,
    METRICS,
    MIDDLE,
    RECORD,
    card_code,
    run_snippet,
    tiny_export,
)
from lab.run_dir.model_card import model_card

from conftest import TINY_FIXTURE_RUN


def _card(compose_cfg: Any, *overrides: str) -> str:
    return model_card(compose_cfg(*overrides), RECORD, METRICS)


# ---------------------------------------------------------------- the text, per head
SENTIMENT_RUN = [o for o in TINY_FIXTURE_RUN if not o.startswith(("logger", "trainer"))]
HEADS: dict[str, tuple[list[str], list[str]]] = {
    "classification": (
        [*SENTIMENT_RUN, "data.max_length=64"],
        [
            'classify = pipeline("text-classification", model="<this directory>")',
            'predictions = classify(["<your text>"], truncation=True, max_length=64)',
            "The run read the first 64 tokens of each input (`data.max_length`)",
        ],
    ),
    "left-truncation": (
        [*SENTIMENT_RUN, "data.max_length=48", "data.truncation_side=left"],
        [
            'classify.tokenizer.truncation_side = "left"',
            'predictions = classify(["<your text>"], truncation=True, max_length=48)',
            "The run read the last 48 tokens of each input",
        ],
    ),
    "pair": (
        ["model=tiny_bert", "data=mrpc", "data.max_length=96"],
        [
            '[{"text": "<first text>", "text_pair": "<second text>"}],',
            "    truncation=True, max_length=96,",
        ],
    ),
    "multi-label": (
        ["model=tiny_bert", "data=go_emotions", "task.module.threshold=0.3"],
        [
            'pipeline("text-classification", model="<this directory>", top_k=None)',
            "truncation=True, max_length=128)",
            "`task.module.threshold` (0.3)",
        ],
    ),
    "regression": (
        ["model=tiny_bert", "data=stsb"],
        ['model="<this directory>", function_to_apply="none")', "truncation=True, max_length=128"],
    ),
    "token-classification": (
        ["model=tiny_bert", "data=conll2003"],
        [
            "(PyPI's `lab` is another project)\nfrom lab.tasks.token_predictor import tag_texts\n",
            'model = AutoModelForTokenClassification.from_pretrained("<this directory>")',
            'entities = tag_texts(model, tokenizer, ["<your text>"], max_length=128)',
            # The pipeline, for readers without lab: right for WordPiece only (s22c H1), and
            # there only for words without punctuation inside (s31a F1).
            'aggregation_strategy="first")` gives the same entities with a WordPiece tokenizer '
            "(BERT, DistilBERT, ELECTRA, MiniLM) for words without punctuation inside; a word "
            "such as `Jean-Pierre`, `S&P` or `U.S.` is one word to lab (as the run's data holds "
            "it) but several to the BERT pre-tokenizer",
        ],
    ),
    "question-answering": (
        [
            "model=tiny_bert", "data=squad_v2", "data.max_length=256", "data.doc_stride=64",
            "task.module.null_score_diff_threshold=-1.5",
        ],
        [
            # lab's code, not PyPI's unrelated `lab` (s31c F5: the card said pip install lab)
            "# lab's own code: not on PyPI (PyPI's `lab` is another project)\n"
            "from lab.tasks.question_answering import answer_questions\n",
            "model = AutoModelForQuestionAnswering.from_pretrained(\"<this directory>\")",
            "    max_length=256, doc_stride=64, version_2_with_negative=True,",
            "    n_best_size=20, max_answer_length=30, null_score_diff_threshold=-1.5,",
        ],
    ),
    "multiple-choice": (
        ["model=tiny_bert", "data=swag", "data.max_length=80"],
        [
            'model = AutoModelForMultipleChoice.from_pretrained("<this directory>").eval()',
            "    truncation=True, max_length=80,",
            # a (context, ending) pair is cut longest first, as a text pair is
            "The run read at most 80 tokens of each pair (`data.max_length`: the context and "
            "prefix + ending texts together, with the special tokens), cut longest first",
        ],
    ),
    "summarization": (
        [
            "model=tiny_bart", "data=xsum", "data.source_prefix='summarize: '",
            "data.max_source_length=300", "task.module.num_beams=4",
            "task.module.max_new_tokens=40",
        ],
        [
            'model = AutoModelForSeq2SeqLM.from_pretrained("<this directory>")',
            '    ["summarize: " + text],',
            "    truncation=True, max_length=300,",
            "ids = model.generate(**inputs, num_beams=4, max_new_tokens=40, do_sample=False)",
            "(`data.max_source_length`)",
        ],
    ),
    "sft": (
        ["model=tiny_llama", "data=chat", "task.module.max_new_tokens=7"],
        [
            'generator = pipeline("text-generation", model="<this directory>")',
            'messages = [{"role": "user", "content": "<your question>"}]',
            "reply = generator(messages, max_new_tokens=7, do_sample=False)",
        ],
    ),
    "dpo": (  # a DPO run has no max_new_tokens: lab.predict's 128
        ["model=tiny_llama", "data=preferences"],
        ["reply = generator(messages, max_new_tokens=128, do_sample=False)"],
    ),
    "causal-lm": (
        ["model=tiny_gpt2", "data=text", "task.module.sample_max_new_tokens=12"],
        [
            'text = generator("<your prompt>", max_new_tokens=12, do_sample=False)'
            '[0]["generated_text"]'
        ],
    ),
    "masked-lm": (
        ["model=tiny_bert", "task=masked_lm", *SENTIMENT_RUN[1:], "data.max_length=64",
         "task.predictor.top_k=3"],
        [
            'fill = pipeline("fill-mask", model="<this directory>", top_k=3)',
            'guesses = fill(text, tokenizer_kwargs={"truncation": True, "max_length": 64})',
            # lab.predict's scores leave out output rows past the tokenizer (tiny_bert has some)
            "`lab.predict` leaves them out",
        ],
    ),
}  # fmt: skip


@pytest.mark.parametrize("head", list(HEADS))
def test_each_heads_card_says_how_to_use_it_with_the_runs_settings(
    compose_cfg: Any, head: str
) -> None:
    overrides, lines = HEADS[head]
    card = _card(compose_cfg, *overrides)
    assert card.count("## How to use") == 1
    words = " ".join(card.split())  # the card folds its prose
    for line in lines:
        assert " ".join(line.split()) in words, line
    code = card_code(card)
    compile(code, f"<{head} card>", "exec")  # every snippet is Python
    assert "lab.predict run=<run dir>" in card.split("## How to use", 1)[1]
    # Chat heads take messages, the causal LM a prompt; others do not generate.
    assert ("messages" in code) == (head in ("sft", "dpo"))
    assert ("tag_texts" in code) == (head == "token-classification")


def test_a_card_without_a_cut_leaves_the_models_own_limit(compose_cfg: Any) -> None:
    """A run with no `data.max_length` is cut at the model's limit (as lab.predict does)."""
    card = _card(compose_cfg, *SENTIMENT_RUN, "data.max_length=null")
    assert 'predictions = classify(["<your text>"], truncation=True)' in card
    assert "The run read" not in card


def test_the_cards_pipeline_call_gives_lab_predicts_result_on_long_texts(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """The card's call on a text past the model's 512 positions, and on one past the run's
    cut only: the label and probability lab.predict gives, where the plain pipeline fails on
    the first and scores the second otherwise."""
    from transformers import pipeline

    from lab.inference.predictors import predictor_for
    from lab.run_dir.runs import open_run

    run_dir = tmp_path / "run"
    # Weights far from zero: scores that move with the tokens read (default ones stay ~0.5).
    wide = "+model.network.config.initializer_range=1.0"
    _, code = tiny_export(compose_cfg, run_dir, *TINY_FIXTURE_RUN, "data.max_length=32", wide)
    assert "truncation=True, max_length=32" in code
    lab_predict = predictor_for(open_run(run_dir), "cpu")
    plain = pipeline("text-classification", model=str(run_dir / "model"))
    assert len(plain.tokenizer(LONG)["input_ids"]) == 702  # past the 512 positions
    with pytest.raises((RuntimeError, IndexError)):  # what the card's reader hit before
        plain(LONG)
    for text in (LONG, MIDDLE):
        (expected,) = lab_predict.predict([{"review": text}])
        (got,) = run_snippet(code, run_dir / "model", text)["predictions"]
        assert got["label"] == expected["label"]
        assert got["score"] == pytest.approx(expected["probabilities"][got["label"]], abs=1e-6)
    # Past the cut but within 512 tokens the plain call reads the whole text: another score.
    (whole,) = plain(MIDDLE)
    assert abs(whole["score"] - got["score"]) > 1e-4


def test_the_cards_left_truncation_keeps_the_texts_last_tokens(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """`data.truncation_side=left`: the card's call scores what training read: [CLS], the
    text's last 14 tokens, [SEP] (the oracle builds those ids by hand), as lab.predict does.
    The card sets the side itself: the export keeps it only as its tokenizer.json's
    truncation state, which a tokenizer saved before truncating anything lacks."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from lab.inference.predictors import predictor_for
    from lab.run_dir.runs import open_run

    run_dir = tmp_path / "run"
    _, code = tiny_export(
        compose_cfg, run_dir, *TINY_FIXTURE_RUN, "data.max_length=16",
        "data.truncation_side=left", "+model.network.config.initializer_range=1.0",
    )  # fmt: skip
    model_dir = run_dir / "model"
    text = "the soup was cold and the staff were rude " + MIDDLE
    (got,) = run_snippet(code, model_dir, text)["predictions"]

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    kept = [tokenizer.cls_token_id, *ids[-14:], tokenizer.sep_token_id]
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    with torch.no_grad():
        probabilities = model(input_ids=torch.tensor([kept])).logits.softmax(-1)[0]
    best = int(probabilities.argmax())
    assert got["label"] == model.config.id2label[best]
    assert got["score"] == pytest.approx(float(probabilities[best]), abs=1e-6)
    (expected,) = predictor_for(open_run(run_dir), "cpu").predict([{"review": text}])
    assert expected["probabilities"][got["label"]] == pytest.approx(got["score"], abs=1e-6)
    # The first 14 tokens give another score: the test tells the sides apart.
    first = [tokenizer.cls_token_id, *ids[:14], tokenizer.sep_token_id]
    with torch.no_grad():
        other = model(input_ids=torch.tensor([first])).logits.softmax(-1)[0]
    assert abs(float(other[best]) - got["score"]) > 1e-4
