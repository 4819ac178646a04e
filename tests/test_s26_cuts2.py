"""s26b: what long documents lose, said before training and in lab.inspect.

H4: extractive QA answers that no context window holds whole (trained as "no answer", never
predicted exactly) and evaluated answers longer than `task.module.max_answer_length`; M1: a cut
at the model's own limit, where no longer `data.max_length` exists; M2: inspect's suggestion
capped at the model's limit still cuts; M4: the model card's cut of a text pair. Every count
is by hand on tiny rows that tiny_bert reads as one token per word.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

# ------------------------------------------------------------------ fixtures

ASSETS = Path(__file__).resolve().parents[1] / "src" / "lab" / "assets"
QUESTION = "is it the"  # 3 tokens: a window of 16 holds 16 - 3 (special) - 3 = 10 of context
WORD = "the "  # each context word: one token, 4 characters


def _context(words: int) -> str:
    return " ".join(["the"] * words)


def _answer(first: int, last: int) -> dict[str, Any]:
    """The gold answer of context words first..last (one token each)."""
    text = _context(last - first + 1)
    return {"text": text, "answer_start": len(WORD) * first}


def _row(qid: str, words: int, *answers: tuple[int, int]) -> dict[str, Any]:
    return {
        "id": qid,
        "title": "t",
        "context": _context(words),
        "question": QUESTION,
        "answers": {
            "text": [_answer(*a)["text"] for a in answers],
            "answer_start": [_answer(*a)["answer_start"] for a in answers],
        },
    }


def _write(folder: Path, splits: dict[str, list[dict[str, Any]]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for split, rows in splits.items():
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return folder


def _qa_rows(folder: Path) -> Path:
    """Windows of 16 tokens, doc_stride 4: 10 context tokens each, one every 6 tokens
    ([0, 10), [6, 16), [12, 22), ...). An answer of at most 4 tokens always fits; one of 6
    from token 5 straddles [0, 10) and [6, 16); one of 20 fits none."""
    return _write(
        folder,
        {
            "train": [
                _row("long", 40, (5, 24)),  # 20 tokens: no window holds it
                _row("short", 40, (2, 3)),  # 2 tokens, in the first window
                _row("across", 40, (5, 10)),  # 6 tokens across two windows: none holds it
            ],
            "validation": [
                _row("v-two", 40, (5, 10), (2, 3)),  # its second answer is held: answerable
                _row("v-long", 40, (5, 24)),
            ],
            "test": [_row("t-four", 40, (0, 3)), _row("t-one", 40, (1, 1))],
        },
    )


QA = (
    "model=tiny_bert",
    "data=squad",
    "data.splits.validation=validation",
    "data.splits.test=test",
    "data.max_length=16",
    "data.doc_stride=4",
    "task.module.max_answer_length=3",
)
MISSED = (
    "data.max_length=16 with data.doc_stride=4 holds in no window whole the answer of 2 of 3 "
    'train rows (their windows all trained as "no answer") and of 1 of 2 validation rows '
    "(never predicted exactly: a predicted span lies in one window); the longest, id long "
    "(train), has 20 tokens against 10 tokens of context a window: data.doc_stride=20 with "
    "data.max_length=27 or more holds it in a window"
)  # 27 = 20 of answer + 3 of question + 3 special + 1 (more context than the overlap)
LONG = (
    "task.module.max_answer_length=3: 1 of 2 validation rows and 1 of 2 test rows have only "
    "gold answers longer, which are never predicted exactly (decoding keeps spans of at most 3 "
    "tokens); task.module.max_answer_length=20 reaches them all"
)


def _qa_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("lab.tasks.question_")]


# ------------------------------------------------------------------ H4: training


def test_qa_training_says_the_answers_no_window_holds(
    compose_cfg: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The 20-token answer and the 6-token one across two windows are trained as "no answer"
    in every window (all their start labels are the CLS index); training said nothing."""
    from hydra.utils import instantiate

    from lab.build import build_datamodule
    from lab.tasks.question_answering.data import long_answers_warning
    from lab.tasks.question_answering.windows import WINDOW_COLUMNS

    caplog.set_level(logging.WARNING)
    cfg = compose_cfg(*QA, f"data.path={_qa_rows(tmp_path / 'qa')}")
    datamodule = build_datamodule(cfg, instantiate(cfg.model.tokenizer))
    assert _qa_lines(caplog) == [MISSED]
    train = datamodule.datasets["train"]
    starts: dict[str, set[int]] = {}
    for qid, start in zip(train["example_id"], train["start_positions"], strict=True):
        starts.setdefault(qid, set()).add(start)
    assert starts["long"] == starts["across"] == {0} and starts["short"] != {0}
    # the count's columns never reach the model
    for split in ("train", "validation", "test"):
        assert not set(WINDOW_COLUMNS) & set(datamodule.datasets[split].column_names)
    assert long_answers_warning(datamodule.references, 3) == LONG
    assert long_answers_warning(datamodule.references, 20) is None
    # read back from the tokenization cache: the same counts
    caplog.clear()
    cached = build_datamodule(cfg, instantiate(cfg.model.tokenizer))
    assert all(cached.cache_hits.values())
    assert _qa_lines(caplog) == [MISSED]
    assert long_answers_warning(cached.references, 3) == LONG
    # lab.eval of the run's test split: the test split's lines alone (no answer it misses)
    from lab.eval import test_notes_only

    caplog.clear()
    tested = build_datamodule(cfg, instantiate(cfg.model.tokenizer), test_notes_only)
    assert _qa_lines(caplog) == []
    assert long_answers_warning(tested.references, 3) == (
        "task.module.max_answer_length=3: 1 of 2 test rows have only gold answers longer, which "
        "are never predicted exactly (decoding keeps spans of at most 3 tokens); "
        "task.module.max_answer_length=4 reaches them all"
    )  # t-four's 4 tokens


def test_qa_windows_that_hold_every_answer_say_nothing(
    compose_cfg: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """With doc_stride 20 and 27 tokens a window (the line's advice), every answer fits."""
    from hydra.utils import instantiate

    from lab.build import build_datamodule

    caplog.set_level(logging.WARNING)
    folder = _qa_rows(tmp_path / "qa")
    cfg = compose_cfg(*QA, f"data.path={folder}", "data.max_length=27", "data.doc_stride=20")
    build_datamodule(cfg, instantiate(cfg.model.tokenizer))
    assert _qa_lines(caplog) == []


def test_window_answers_counts_an_answer_across_windows_once() -> None:
    """An answer's tokens are the union over the windows (a token two windows share counts
    once), whether or not a window holds it whole; `room` is a full window's context."""
    from transformers import AutoTokenizer

    from lab.tasks.question_answering.windows import RowAnswers, window_answers

    tokenizer = AutoTokenizer.from_pretrained(ASSETS / "tiny_bert")
    row = _row("q", 40, (5, 24), (2, 3), (5, 10), (0, 3))
    encoded = tokenizer(
        [QUESTION],
        [row["context"]],
        truncation="only_second",
        max_length=16,
        stride=4,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
    )
    windows = encoded["offset_mapping"]
    assert len(windows) == 6  # starts 0, 6, 12, 18, 24, 30: the last holds 30..39
    found = window_answers(
        windows,
        [encoded.sequence_ids(i) for i in range(len(windows))],
        encoded["overflow_to_sample_mapping"],
        [row["answers"]],
    )
    assert found == [RowAnswers([False, True, False, True], [20, 2, 6, 4], 10, question=3)]


# ------------------------------------------------------------------ H4: lab.inspect


def test_qa_inspect_says_trainings_lines(compose_cfg: Any, tmp_path: Path) -> None:
    """lab.inspect said "split into overlapping windows, none cut"; it now gives training's
    two lines, through the head's `windows:` declaration."""
    from datasets import load_dataset

    from lab.tasks.question_answering.inspection import window_warnings
    from lab.training.tokenizers import build_tokenizer

    folder = _qa_rows(tmp_path / "qa")
    cfg = compose_cfg(*QA, f"data.path={folder}")
    splits = {
        name: load_dataset("json", data_files=str(folder / f"{name}.jsonl"), split="train")
        for name in ("train", "validation", "test")
    }
    tokenizer = build_tokenizer(cfg)
    assert window_warnings(cfg.data, splits, tokenizer, cfg.task, 0) == [MISSED, LONG]
    # sampled: the measured rows (2 of train's 3 by the seed: "across" and "short"), so named
    assert window_warnings(cfg.data, splits, tokenizer, cfg.task, 2) == [
        MISSED.replace("2 of 3 train", "1 of 2 measured train").replace(
            "id long (train)", "id v-long (validation)"
        ),
        LONG,
    ]


def test_inspect_data_runs_the_declared_windows_hook(
    compose_cfg: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from omegaconf import OmegaConf

    import lab.data.inspection as inspection
    from lab.data.inspection import inspect_data
    from lab.data.inspection_hooks import declared_columns
    from lab.training.tokenizers import build_tokenizer

    def with_windows(data_module: str) -> Any:
        declared = declared_columns(data_module)
        if declared is None or "QuestionAnswering" not in data_module:
            return declared
        found = OmegaConf.to_container(declared)
        assert isinstance(found, dict)
        found["windows"] = "lab.tasks.question_answering.inspection.window_warnings"
        return OmegaConf.create(found)

    monkeypatch.setattr(inspection, "declared_columns", with_windows)
    cfg = compose_cfg(*QA, f"data.path={_qa_rows(tmp_path / 'qa')}")
    warnings = inspect_data(cfg, build_tokenizer(cfg))["report"]["warnings"]
    assert MISSED in warnings and LONG in warnings


# ------------------------------------------------------------------ M1: the model's limit


def _long_rows(folder: Path) -> Path:
    """tiny_bert reads 600 words as 602 tokens: over its 512 (`model_max_length`)."""
    rows = [{"text": _context(600 if i < 6 else 10), "label": i % 2} for i in range(10)]
    return _write(folder, {"train": rows, "validation": rows[:4], "test": rows[6:]})


def test_a_cut_at_the_models_limit_says_no_longer_length_exists(
    compose_cfg: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from hydra.utils import instantiate

    from lab.build import build_datamodule

    caplog.set_level(logging.WARNING)
    folder = _long_rows(tmp_path / "long")
    base = ("model=tiny_bert", "data=json", f"data.path={folder}", "data.max_length=512")
    cfg = compose_cfg(*base)
    build_datamodule(cfg, instantiate(cfg.model.tokenizer))
    lines = [r.getMessage() for r in caplog.records if r.name == "lab.data.cut_counts"]
    assert lines == [
        "data.max_length=512 cuts 6 of 10 train rows and 4 of 4 validation rows (their tokens "
        "past the cut are not read); 512 tokens is the model's limit (data.max_length cannot be "
        "longer: its tokenizer's model_max_length), so it cannot read these rows whole; "
        "data.truncation_side=left reads their last 512 tokens instead, or a model with more "
        "positions reads more of them"
    ]
    # a left cut already: only the other model is left to offer
    caplog.clear()
    cfg = compose_cfg(*base, "data.truncation_side=left")
    build_datamodule(cfg, instantiate(cfg.model.tokenizer))
    [line] = [r.getMessage() for r in caplog.records if r.name == "lab.data.cut_counts"]
    assert line.endswith(
        "so it cannot read these rows whole; a model with more positions reads more of them"
    )
    # below the limit: a longer data.max_length still helps
    caplog.clear()
    cfg = compose_cfg(*base[:-1], "data.max_length=500")
    build_datamodule(cfg, instantiate(cfg.model.tokenizer))
    [line] = [r.getMessage() for r in caplog.records if r.name == "lab.data.cut_counts"]
    assert line.endswith("; a longer data.max_length keeps them, up to the model's positions")


def test_the_limit_advice_of_a_head_without_truncation_side() -> None:
    """Seq2seq sources take no `data.truncation_side`: the advice is the model alone."""
    from lab.data.cut_counts import at_limit_advice

    assert at_limit_advice("data.max_source_length", 512, "train sources", None) == (
        "512 tokens is the model's limit (data.max_source_length cannot be longer: its "
        "tokenizer's model_max_length), so it cannot read these train sources whole; a model "
        "with more positions reads more of them"
    )


# ------------------------------------------------------------------ M2: inspect's suggestion


def test_inspect_says_what_a_suggestion_at_the_models_limit_still_cuts(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """Train p95 is 602 tokens: the suggestion is the model's 512, which still cuts the 6 of
    10 rows of 602 tokens; inspect read as if 512 fixed it."""
    from rich.console import Console

    from lab.data.inspection import inspect_data
    from lab.inspect import show
    from lab.training.tokenizers import build_tokenizer

    folder = _long_rows(tmp_path / "long")
    cfg = compose_cfg("model=tiny_bert", "data=json", f"data.path={folder}", "data.max_length=64")
    report = inspect_data(cfg, build_tokenizer(cfg))["report"]
    assert report["max_length"]["text"]["suggested"] == 512
    assert report["max_length"]["text"]["still_truncated"] == pytest.approx(0.6)
    assert (
        "data.max_length=64 truncates 60% of train rows (text); suggested data.max_length=512, "
        "the model's limit, which still truncates 60% of train rows: the model cannot read them "
        "whole (data.truncation_side=left reads their last 512 tokens instead, or a model with "
        "more positions reads more of them)"
    ) in report["warnings"]
    console = Console(width=200, record=True)
    show({**report, "data": "json", "model": "tiny_bert", "sample": 10000}, console)
    assert (
        "text: data.max_length=64, suggested 512 (the model's limit; 60% of train rows are "
        "longer still)"
    ) in console.export_text()
    # a suggestion under the limit reads as before
    rows = [{"text": _context(30 if i < 2 else 3), "label": i % 2} for i in range(4)]
    short = _write(tmp_path / "short", {"train": rows, "validation": rows, "test": rows})
    cfg = compose_cfg("model=tiny_bert", "data=json", f"data.path={short}", "data.max_length=16")
    report = inspect_data(cfg, build_tokenizer(cfg))["report"]
    assert "still_truncated" not in report["max_length"]["text"]
    assert (
        "data.max_length=16 truncates 50% of train rows (text); suggested data.max_length=32"
        in report["warnings"]
    )


# ------------------------------------------------------------------ M4: the card of a pair


def test_the_card_says_how_a_pair_is_cut() -> None:
    from omegaconf import OmegaConf

    from lab.run_dir.card_usage import cut_note

    pair = OmegaConf.create(
        {"data": {"max_length": 128, "text_column": "claim", "text_pair_column": "doc"}}
    )
    assert cut_note(pair) == (
        "\nThe run read at most 128 tokens of each pair (`data.max_length`: the `claim` and "
        "`doc` texts together, with the special tokens), cut longest first: tokens come off the "
        "longer text (its last tokens) until the two are as long, then off both in turn, so a "
        "text under half of that stays whole and only the other is cut; the exported tokenizer "
        "keeps the model's own limit (`model_max_length`), so the code passes the run's cut: "
        "without it a longer input is read otherwise than in the run, and one longer than the "
        "model's positions fails.\n"
    )
    OmegaConf.update(pair, "data.truncation_side", "left")
    assert "longer text (its first tokens: data.truncation_side=left)" in cut_note(pair)
    single = OmegaConf.create({"data": {"max_length": 128, "text_column": "text"}})
    assert cut_note(single).startswith(
        "\nThe run read the first 128 tokens of each input (`data.max_length`); the exported"
    )


def test_the_ner_cut_line_at_the_models_limit_says_no_longer_setting_exists() -> None:
    """NER's own cut line, at the tokenizer's model_max_length: no "a longer data.max_length"
    (NER has no left cut to offer either)."""
    from types import SimpleNamespace

    from lab.tasks.token_cut import cut_note

    cuts = [[5, 6], [], [7]]
    at_limit = cut_note("train", cuts, 512, SimpleNamespace(model_max_length=512))
    assert at_limit == (
        "data.max_length=512 cuts 2 of 3 train rows (3 words past the cut: not trained on, and "
        "scored as missed where evaluated); 512 tokens is the model's limit (data.max_length "
        "cannot be longer: its tokenizer's model_max_length), so it cannot read these rows "
        "whole; a model with more positions reads more of them"
    )
    below = cut_note("train", cuts, 128, SimpleNamespace(model_max_length=512))
    assert below is not None and below.endswith(
        "a longer data.max_length keeps them, up to the model's positions"
    )
