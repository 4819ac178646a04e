"""s27: `truncated` for multiple-choice and masked-LM predictions; lab.export's cut line.

lab.predict and lab.serve said which inputs they read cut for every head but these two
(`lab.inference.cuts`). Tiny random models built from config with the repo's tiny_bert
tokenizer, which reads each `the` as one token: a (context, ending) pair of n and m words has
n + m + 3 tokens ([CLS] context [SEP] ending [SEP]), a text of n words n + 2.
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

from lab.inference.cuts import TRUNCATED, choice_cuts, cut_log_line
from lab.inference.predictors import predict_rows

from conftest import TINY_FIXTURE_RUN, lab_cli

ASSETS = Path(__file__).resolve().parents[1] / "src" / "lab" / "assets"
#: the multiple-choice note's end, after its counts
PAIRS_TAIL = (
    "each was cut longest first (tokens came off the end of the longer of the two texts), as "
    "in training (each row's 'truncated' field lists its choices cut, with how many tokens "
    "each pair has and how many were read)"
)


def _the(words: int) -> str:
    return " ".join(["the"] * words)


def _tokenizer(**kwargs: Any) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(ASSETS / "tiny_bert", **kwargs)


def _bert_config() -> Any:
    from transformers import BertConfig

    return BertConfig(
        vocab_size=2048, hidden_size=8, num_hidden_layers=1, num_attention_heads=1,
        intermediate_size=8,
    )  # fmt: skip


def _chooser(max_length: int = 10, fast: bool = True) -> Any:
    from transformers import BertForMultipleChoice

    from lab.tasks.multiple_choice.predictor import MultipleChoicePredictor

    torch.manual_seed(0)
    model = BertForMultipleChoice(_bert_config()).eval()
    data = {"context_column": "ctx", "ending_columns": "endings", "max_length": max_length}
    cfg = OmegaConf.create({"data": data, "task": {"module": {}}})
    return MultipleChoicePredictor(model, _tokenizer(use_fast=fast), cfg)


def _filler(tokenizer: Any = None, **data: Any) -> Any:
    from transformers import BertForMaskedLM

    from lab.tasks.masked_lm.predictor import FillMaskPredictor

    torch.manual_seed(0)
    model = BertForMaskedLM(_bert_config()).eval()
    cfg = OmegaConf.create({"data": data, "task": {"module": {}}})
    return FillMaskPredictor(model, tokenizer or _tokenizer(), cfg, top_k=2)


# ------------------------------------------------------------------ multiple choice
def test_choice_cuts_lists_each_rows_cut_pairs_by_choice() -> None:
    cut = {"tokens": 18, "tokens_read": 10}
    other = {"tokens": 14, "tokens_read": 10}
    assert choice_cuts([None, cut, None, None, None, other, cut], [3, 2, 2]) == [
        [{"choice": 1, **cut}],
        None,
        [{"choice": 0, **other}, {"choice": 1, **cut}],
    ]
    with pytest.raises(ValueError, match="3 pairs for rows of 4 choices"):
        choice_cuts([None, None, None], [2, 2])


# A question of 3 endings with one long, one read whole, one of 2 endings whose long
# context cuts both pairs: 3+12+3 = 18, 9+2+3 = 14 and 9+3+3 = 15 tokens against 10.
MC_ROWS = [
    {"ctx": _the(3), "endings": [_the(2), _the(12), _the(3)]},
    {"ctx": _the(2), "endings": [_the(2), _the(3)]},
    {"ctx": _the(9), "endings": [_the(2), _the(3)]},
]
MC_CUTS = [
    [{"choice": 1, "tokens": 18, "tokens_read": 10}],
    None,
    [
        {"choice": 0, "tokens": 14, "tokens_read": 10},
        {"choice": 1, "tokens": 15, "tokens_read": 10},
    ],
]


@pytest.mark.parametrize("fast", [True, False])
def test_a_multiple_choice_row_names_its_cut_pairs_and_the_note_counts_them(fast: bool) -> None:
    """Rows of 3 and of 2 endings are scored in groups; a slow tokenizer keeps no encodings,
    so its pairs that fill the limit are tokenized again."""
    predictor = _chooser(fast=fast)
    results = predict_rows(predictor, [dict(row) for row in MC_ROWS])
    assert [result.get(TRUNCATED) for result in results] == MC_CUTS
    assert set(results[1]) == {"label", "ending", "probabilities"}  # as before: read whole
    assert [len(result["probabilities"]) for result in results] == [3, 2, 2]
    assert predictor.outputs == ("label", "ending", "probabilities", TRUNCATED)
    assert predictor.notes() == [
        f"2 rows ran past data.max_length=10 tokens in 3 (context, ending) pairs: {PAIRS_TAIL}"
    ]


def test_a_pair_at_the_limit_exactly_is_not_cut() -> None:
    """4 + 3 + 3 = 10 tokens fill max_length=10 whole; one more word is a cut."""
    predictor = _chooser()
    whole, cut = predictor.predict(
        [
            {"ctx": _the(4), "endings": [_the(3), _the(1)]},
            {"ctx": _the(4), "endings": [_the(4), _the(1)]},
        ]
    )
    assert TRUNCATED not in whole
    assert cut[TRUNCATED] == [{"choice": 0, "tokens": 11, "tokens_read": 10}]
    assert predictor.notes() == [
        f"1 row ran past data.max_length=10 tokens in 1 (context, ending) pair: {PAIRS_TAIL}"
    ]


def test_lab_predict_writes_the_choices_cut_in_jsonl_and_csv(tmp_path: Path) -> None:
    from lab.predict import predict_file

    source = tmp_path / "rows.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in MC_ROWS))
    predict_file(_chooser(), source, tmp_path / "out.jsonl")
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [line.get(TRUNCATED) for line in lines] == MC_CUTS
    predict_file(_chooser(), source, tmp_path / "out.csv")
    with (tmp_path / "out.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["line", "id", "label", "ending", "probabilities", TRUNCATED, "error"]
    assert [json.loads(row[TRUNCATED]) if row[TRUNCATED] else None for row in rows] == MC_CUTS


def _client(predictor: Any) -> Any:
    from fastapi.testclient import TestClient

    from lab.serve import create_app

    return TestClient(create_app(predictor))


def test_serve_answers_the_choices_cut_and_logs_them(caplog: pytest.LogCaptureFixture) -> None:
    client = _client(_chooser())
    caplog.set_level(logging.INFO, logger="uvicorn.error")
    short = client.post("/predict", json=MC_ROWS[1]).json()
    assert set(short) == {"label", "ending", "probabilities"}
    batch = {"inputs": [{**MC_ROWS[0], "id": "q-1"}, MC_ROWS[1], MC_ROWS[2]]}
    predictions = client.post("/predict", json=batch).json()["predictions"]
    assert [p.get(TRUNCATED) for p in predictions] == MC_CUTS
    assert [r.getMessage() for r in caplog.records if r.name == "uvicorn.error"] == [
        "/predict: 2 of 3 inputs cut at data.max_length=10, as in training (input 0 (id "
        "'q-1'): choice 1 (10 of 18 tokens read); input 2: choice 0 (10 of 14 tokens read), "
        "choice 1 (10 of 15 tokens read))"
    ]
    assert client.get("/health").json()["outputs"] == [
        "label", "ending", "probabilities", TRUNCATED,
    ]  # fmt: skip
    description = client.get("/openapi.json").json()["paths"]["/predict"]["post"]["description"]
    assert '[{"choice": 2, "tokens": 212, "tokens_read": 128}]' in description


# ------------------------------------------------------------------ masked LM
def test_a_masked_lm_text_cut_after_its_masks_is_marked_and_noted() -> None:
    """A text past data.max_length with its mask before the cut is guessed from the tokens
    read (one with a mask past it is refused, `check`): 12 words + 2 = 14 tokens, 8 read."""
    predictor = _filler(max_length=8)
    mask = predictor.tokenizer.mask_token
    rows = [{"text": f"the {mask} {_the(10)}"}, {"text": f"the {mask}"}]
    cut, whole = predict_rows(predictor, rows)
    assert cut[TRUNCATED] == {"tokens": 14, "tokens_read": 8}
    assert set(whole) == {"filled_text", "predictions"}  # as before: read whole
    assert len(cut["predictions"]) == 1 and cut["filled_text"].endswith(_the(10))
    assert predictor.outputs == ("filled_text", "predictions", TRUNCATED)
    assert predictor.notes() == [
        "1 row ran past data.max_length=8 tokens: their tokens past the cut were not read, "
        "the guesses seeing only the tokens read (each one's 'truncated' field says how many "
        "tokens it has and how many were read)"
    ]
    assert cut_log_line([cut, whole], predictor, ["doc-1", None]) == (
        "/predict: 1 of 2 inputs cut at data.max_length=8, the guesses seeing only the tokens "
        "read (input 0 (id 'doc-1'): 8 of 14 tokens read)"
    )


def test_a_masked_lm_run_without_max_length_names_the_tokenizers_limit() -> None:
    """Without data.max_length (a wikitext-style run sets data.block_size) lab.predict reads a
    text up to the tokenizer's model_max_length: the note names that, not a setting unset."""
    tokenizer = _tokenizer(model_max_length=6)
    predictor = _filler(tokenizer, block_size=64)
    (result,) = predictor.predict([{"text": f"{tokenizer.mask_token} {_the(9)}"}])
    assert result[TRUNCATED] == {"tokens": 12, "tokens_read": 6}
    assert predictor.notes()[0].startswith(
        "1 row ran past the tokenizer's model_max_length=6 tokens: their tokens past the cut"
    )


# ------------------------------------------------------------------ lab.export's cut line
@pytest.mark.slow
def test_export_of_a_checkpoint_words_the_cut_line_as_training_does(tmp_path: Path) -> None:
    """s26c L3: `lab.export checkpoint=last` builds the run's data and printed training's
    cut line bare, without the `warning:` lab.train gives it (a tool's console printed
    warnings as Python's last resort does: `lab.training.console.ToolConsole`)."""
    run_dir = tmp_path / "run"
    args = [*TINY_FIXTURE_RUN, "data.max_length=8", "trainer.max_epochs=1"]
    trained = lab_cli("train", *args, f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr[-3000:]
    printed = (trained.stdout + trained.stderr).splitlines()
    said = [line for line in printed if "data.max_length=8 cuts" in line]
    assert len(said) == 1 and said[0].startswith("warning: data.max_length=8 cuts "), said
    exported = lab_cli(
        "export", f"run={run_dir}", "checkpoint=last", f"output={tmp_path / 'out'}", cwd=tmp_path
    )
    assert exported.returncode == 0, exported.stderr[-3000:]
    assert said[0] in exported.stderr.splitlines()
