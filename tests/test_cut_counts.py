"""Rows cut at the truncation length, counted and said once per split (`lab.data.cut_counts`):
the flags of fast and slow tokenizers, and the lines of the classification (regression) and
seq2seq data modules on hand-built rows whose token counts are known."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from lab.data.cut_counts import CUT, FILLS, INPUTS, TARGETS, WHOLE, cut_flags, cut_line

ASSETS = Path(__file__).resolve().parents[1] / "src" / "lab" / "assets"
TAIL = "a longer data.max_length keeps them, up to the model's positions"


def _the(words: int) -> str:
    """`words` words that tiny_bert and tiny_bart each read as one token per word: a row of
    `words + 2` tokens with the two special tokens."""
    return " ".join(["the"] * words)


def _tokenizer(name: str) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(ASSETS / name)


def _write(folder: Path, splits: dict[str, list[dict[str, Any]]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for split, rows in splits.items():
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return folder


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "lab.data.cut_counts"]


def _datamodule(compose_cfg: Any, *overrides: str) -> Any:
    from hydra.utils import instantiate

    from lab.build import build_datamodule

    cfg = compose_cfg(*overrides)
    return build_datamodule(cfg, instantiate(cfg.model.tokenizer))  # type: ignore[attr-defined]


# ------------------------------------------------------------------ flags


@pytest.mark.parametrize("name", ["tiny_bert", "tiny_bart"])
def test_a_fast_tokenizer_flags_exactly_the_rows_it_cut(name: str) -> None:
    tokenizer = _tokenizer(name)
    # 6 words + 2 special tokens fill max_length=8 without a cut; 7 words are cut
    texts = [_the(2), _the(6), _the(7), _the(30)]
    assert cut_flags(tokenizer(texts, truncation=True, max_length=8), 8) == [
        WHOLE, WHOLE, CUT, CUT,
    ]  # fmt: skip
    # pairs, cut longest-first: the second pair fills the limit exactly (special tokens:
    # tiny_bert 3, tiny_bart 4), the last is cut
    limit = 3 + 1 + (3 if name == "tiny_bert" else 4)
    firsts, seconds = [_the(2), _the(3), _the(1), _the(9)], [_the(1)] * 4
    encoded = tokenizer(firsts, seconds, truncation=True, max_length=limit)
    assert [len(ids) for ids in encoded["input_ids"]] == [limit - 1, limit, limit - 2, limit]
    assert cut_flags(encoded, limit) == [WHOLE, WHOLE, WHOLE, CUT]
    # targets (seq2seq labels), and a left cut
    target = tokenizer(text_target=[_the(3), _the(4)], truncation=True, max_length=5)
    assert cut_flags(target, 5) == [WHOLE, CUT]
    tokenizer.truncation_side = "left"
    assert cut_flags(tokenizer([_the(6), _the(7)], truncation=True, max_length=8), 8) == [
        WHOLE, CUT,
    ]  # fmt: skip


def test_a_slow_tokenizer_counts_the_rows_that_fill_the_limit() -> None:
    """A Python tokenizer keeps no encodings: a row of exactly `max_length` tokens cannot be
    told from a cut one, so both are `FILLS` and the line says "up to"."""
    from transformers import ByT5Tokenizer  # bytes: no vocabulary file

    tokenizer = ByT5Tokenizer()
    encoded = tokenizer(["abcdef", "abcdefg", "ab"], truncation=True, max_length=7)  # + </s>
    assert encoded.encodings is None
    assert cut_flags(encoded, 7) == [FILLS, FILLS, WHOLE]
    line = cut_line("data.max_length", 7, (0, 2), 3, "train rows", "why")
    assert line == (
        "data.max_length=7 cuts up to 2 of 3 train rows (counted where they fill the 7 tokens, "
        f"as this tokenizer does not say; why); {TAIL}"
    )
    assert cut_line("data.max_length", 7, (0, 0), 3, "train rows", "why") is None


# ------------------------------------------------------------------ classification


def _classification_rows(folder: Path) -> Path:
    def rows(words: list[int]) -> list[dict[str, Any]]:
        return [{"text": _the(n), "label": i % 2} for i, n in enumerate(words)]

    # max_length=8: cut where words > 6 (train: 7, 20, 9; validation: 7; test: none)
    return _write(
        folder,
        {
            "train": rows([2, 6, 7, 20, 3, 9, 6, 1]),
            "validation": rows([6, 7, 2, 2]),
            "test": rows([1, 2, 3, 6]),
        },
    )


@pytest.mark.parametrize("problem_type", ["single_label", "regression"])
def test_classification_says_each_splits_cut_rows_once(
    problem_type: str, compose_cfg: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    folder = _classification_rows(tmp_path / "rows")
    overrides = ("model=tiny_bert", "data=json", f"data.path={folder}", "data.max_length=8")
    overrides += (f"data.problem_type={problem_type}",)
    datamodule = _datamodule(compose_cfg, *overrides)
    datamodule.setup("fit")
    read = "their tokens past the cut are not read"
    expected = [
        f"data.max_length=8 cuts 3 of 8 train rows and 1 of 4 validation rows ({read}); {TAIL}"
    ]
    assert _lines(caplog) == expected  # the test split has no cut row: not named
    # The flags never reach the model: gone from the splits and from the batches.
    for split in ("train", "validation", "test"):
        assert INPUTS not in datamodule.datasets[split].column_names
    batch = next(iter(datamodule.train_dataloader()))
    assert set(batch) == {"input_ids", "token_type_ids", "attention_mask", "labels"}

    # The same rows read back from the tokenization cache still give their counts.
    caplog.clear()
    cached = _datamodule(compose_cfg, *overrides)
    cached.setup("fit")
    assert all(cached.cache_hits.values())
    assert _lines(caplog) == expected
    # lab.eval reads one set of rows as each split (a lone file): said once, as that file's
    caplog.clear()
    from hydra.utils import instantiate

    from lab.build import build_datamodule
    from lab.data.datamodule import Evaluation
    from lab.data.splits import LONE_FILE

    def lone_file(datamodule: Any) -> None:
        datamodule.evaluation = Evaluation(split=LONE_FILE, advice="")

    cfg = compose_cfg(*overrides)
    build_datamodule(cfg, instantiate(cfg.model.tokenizer), before_setup=lone_file)
    assert _lines(caplog) == [
        f"data.max_length=8 cuts 3 of 8 rows of the file ({read}); {TAIL}"
    ]  # the run's splits are not one file here: train's count, named as the file's
    # lab.eval of the run's own test split reads the three as trained, says the test's alone
    # (s23d M1: every split's line came before "Evaluation of the test split").
    from lab.eval import test_notes_only

    caplog.clear()
    cfg = compose_cfg(*overrides)
    build_datamodule(cfg, instantiate(cfg.model.tokenizer), before_setup=test_notes_only)
    assert _lines(caplog) == []  # train and validation are cut, the test split is not


def test_classification_without_a_cut_row_says_nothing(
    compose_cfg: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    folder = _classification_rows(tmp_path / "rows")
    datamodule = _datamodule(
        compose_cfg, "model=tiny_bert", "data=json", f"data.path={folder}", "data.max_length=22"
    )
    datamodule.setup("fit")
    assert _lines(caplog) == []
    assert not [r for r in caplog.records if "cuts" in r.getMessage()]


def test_a_left_cut_says_which_tokens_are_not_read(
    compose_cfg: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    folder = _classification_rows(tmp_path / "rows")
    datamodule = _datamodule(
        compose_cfg,
        "model=tiny_bert",
        "data=json",
        f"data.path={folder}",
        "data.max_length=8",
        "data.truncation_side=left",
    )
    datamodule.setup("fit")
    assert _lines(caplog)[0] == (
        "data.max_length=8 cuts 3 of 8 train rows and 1 of 4 validation rows (their tokens "
        f"before the cut are not read: data.truncation_side=left); {TAIL}"
    )


def test_a_streamed_train_split_is_not_counted(
    compose_cfg: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Streamed train rows are tokenized as training reads them: no count, no flag column in
    their batches; the validation and test splits, read into memory, are counted."""
    caplog.set_level(logging.WARNING)
    folder = _classification_rows(tmp_path / "rows")
    datamodule = _datamodule(
        compose_cfg,
        "model=tiny_bert",
        "data=json",
        f"data.path={folder}",
        "data.max_length=8",
        "data.streaming=true",
        "data.stream_sample_rows=8",
    )
    datamodule.setup("fit")
    assert [line.split(" (")[0] for line in _lines(caplog)] == [
        "data.max_length=8 cuts 1 of 4 validation rows"
    ]
    assert INPUTS not in datamodule.tokenize({"text": [_the(9)], "label": [0]})


# ------------------------------------------------------------------ seq2seq


def test_multiple_choice_says_its_cut_questions(
    compose_cfg: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A question is cut where any of its (context, ending) pairs is: training says how
    many, as lab.predict does (its pairs, per row, in `truncated`: tests/test_cuts_mc_mlm.py).
    tiny_bert: a pair of n and m words has n + m + 3 tokens; max_length=10."""
    caplog.set_level(logging.WARNING)

    def question(context: int, endings: list[int]) -> dict[str, Any]:
        endings_text = [_the(n) for n in endings]
        return {"ctx_a": _the(context), "ctx_b": "", "endings": endings_text, "label": "0"}

    # train: the 2nd question's second pair (3 + 6 + 3 = 12 tokens) and both of the 3rd's are
    # cut; 2 + 5 + 3 = 10 fills the limit without a cut. validation: none; test: the 2nd.
    folder = _write(
        tmp_path / "mc",
        {
            "train": [question(2, [5, 1]), question(3, [1, 6]), question(9, [1, 1])],
            "validation": [question(1, [1, 1])],
            "test": [question(2, [1, 1]), question(6, [2, 3])],
        },
    )
    overrides = ("model=tiny_bert", "data=hellaswag", f"data.path={folder}", "data.max_length=10")
    overrides += ("data.splits.validation=validation", "data.splits.test=test")
    datamodule = _datamodule(compose_cfg, *overrides)
    read = "their tokens past the cut are not read"
    assert _lines(caplog) == [
        f"data.max_length=10 cuts 2 of 3 train questions and 1 of 2 test questions ({read}); {TAIL}"
    ]
    for split in ("train", "validation", "test"):
        assert INPUTS not in datamodule.datasets[split].column_names
    batch = next(iter(datamodule.train_dataloader()))
    assert INPUTS not in batch and batch["input_ids"].shape[-1] <= 10


def test_seq2seq_says_its_cut_sources_and_targets(
    compose_cfg: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)

    def rows(sources: list[int], targets: list[int]) -> list[dict[str, Any]]:
        return [
            {"document": _the(s), "summary": _the(t)} for s, t in zip(sources, targets, strict=True)
        ]

    # max_source_length=8: a source is cut past 6 words; max_target_length=5: a target past 3
    folder = _write(
        tmp_path / "rows",
        {
            "train": rows([2, 6, 7, 12], [1, 3, 4, 9]),
            "validation": rows([7, 2], [1, 1]),
            "test": rows([1, 1], [2, 2]),
        },
    )
    datamodule = _datamodule(
        compose_cfg,
        "model=tiny_bart",
        "data=xsum",
        f"data.path={folder}",
        "data.max_source_length=8",
        "data.max_target_length=5",
    )
    datamodule.setup("fit")
    assert _lines(caplog) == [
        "data.max_source_length=8 cuts 2 of 4 train sources and 1 of 2 validation sources "
        "(their tokens past the cut are not read); a longer data.max_source_length keeps them, "
        "up to the model's positions",
        "data.max_target_length=5 cuts 2 of 4 train targets (the model learns their first 5 "
        "tokens only, and generations are scored against the full references: the cut caps the "
        "score); a longer data.max_target_length keeps them, up to the model's positions "
        "(task.module.max_new_tokens follows it unless set)",
    ]  # no validation target is cut, no test row: not named
    for split in ("train", "validation", "test"):
        columns = datamodule.datasets[split].column_names
        assert INPUTS not in columns and TARGETS not in columns
    assert "row_id" in datamodule.datasets["validation"].column_names
    batch = next(iter(datamodule.train_dataloader()))
    assert set(batch) == {"input_ids", "attention_mask", "labels"}

    # validation and test targets: the loss reads the cut, the references are whole
    caplog.clear()
    cut_targets = _datamodule(
        compose_cfg,
        "model=tiny_bart",
        "data=xsum",
        f"data.path={folder}",
        "data.max_source_length=64",
        "data.max_target_length=2",
    )
    cut_targets.setup("fit")
    assert [line.split(" (")[0] for line in _lines(caplog)] == [
        "data.max_target_length=2 cuts 4 of 4 train targets, 2 of 2 validation targets and 2 "
        "of 2 test targets"
    ]
    # Without train's targets (lab.eval), what the cut costs is the loss and the score.
    assert cut_targets.cut_note(TARGETS, [("validation", (2, 0), 2)]) == (
        "data.max_target_length=2 cuts 2 of 2 validation targets (the loss reads their first 2 "
        "tokens; generations, at most task.module.max_new_tokens tokens, are scored against the "
        "full references: the cut caps the score); a longer data.max_target_length keeps them, "
        "up to the model's positions (task.module.max_new_tokens follows it unless set)"
    )


def test_lab_predict_says_how_many_classified_rows_it_cut() -> None:
    """s23d L5: a classifier's lab.predict read long rows cut, as training does, without a
    word (NER's says so): `notes` counts them, once per predicted batch."""
    import torch
    from omegaconf import OmegaConf
    from transformers import BertConfig, BertForSequenceClassification

    from lab.tasks.text_classification.predictor import SequenceClassificationPredictor

    config = BertConfig(
        vocab_size=2048, hidden_size=8, num_hidden_layers=1, num_attention_heads=1,
        intermediate_size=8, id2label={0: "neg", 1: "pos"},
    )  # fmt: skip
    model = BertForSequenceClassification(config).eval()
    cfg = OmegaConf.create(
        {"data": {"text_column": "text", "max_length": 8}, "task": {"module": {}}}
    )
    predictor = SequenceClassificationPredictor(model, _tokenizer("tiny_bert"), cfg)
    rows = [{"text": _the(n)} for n in (2, 6, 7, 30)]  # 6 words + 2 special tokens fill 8
    with torch.no_grad():
        predictor.predict(rows)
    assert predictor.notes() == [
        "2 rows ran past data.max_length=8 tokens: their tokens past the cut were not read, "
        "as in training (each one's 'truncated' field says how many tokens it has and how many "
        "were read)"
    ]
