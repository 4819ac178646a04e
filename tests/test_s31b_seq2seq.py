"""s31b: seq2seq rows lab.inspect finds as training refuses them (S31B-1), lengths over a
config-built model's positions refused before loading (S31B-2), a Parquet translation column
whose schema lacks the language (S31B-3), every test generation kept with its row and id
(S31B-4), and the warning for a validation whose generations are all empty (S31B-6)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from lab.errors import ConfigError, DataError
from lab.training.tokenizers import build_tokenizer

TINY = ("model=tiny_bart",)
PAIRS = [{"translation": {"de": f"Hallo Welt {i} .", "en": f"Hello world {i} ."}} for i in range(4)]


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def _training_refusal(compose_cfg: Any, *overrides: str) -> str:
    from lab.build import build_datamodule

    cfg = compose_cfg(*TINY, *overrides)
    with pytest.raises(DataError) as caught:
        build_datamodule(cfg, build_tokenizer(cfg))
    return str(caught.value)


def _inspect(compose_cfg: Any, *overrides: str) -> dict[str, Any]:
    from lab.data.inspection import inspect_data

    cfg = compose_cfg(*TINY, *overrides)
    return inspect_data(cfg, build_tokenizer(cfg))["report"]  # type: ignore[no-any-return]


# ----------------------------------------------------------------- S31B-1: lab.inspect
def test_inspect_counts_and_names_the_empty_rows_training_refuses(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """A whitespace-only document in train (line 2) and an empty one in validation (line 1):
    each is an empty row in inspect's table, and a warning names it in training's words."""
    good = [{"document": f"Text number {i} here.", "summary": f"text {i}"} for i in range(4)]
    train = [good[0], {"document": "   ", "summary": "s"}, *good[1:]]
    _jsonl(tmp_path / "train.jsonl", train)
    _jsonl(tmp_path / "validation.jsonl", [{"document": "", "summary": "v"}, good[0]])
    _jsonl(tmp_path / "test.jsonl", good[:2])
    overrides = ("data=xsum", f"data.path={tmp_path}")
    refusal = _training_refusal(compose_cfg, *overrides)
    assert refusal == (
        f"{tmp_path / 'train.jsonl'}:2 column 'document': empty source text "
        "(data.source_column); every row needs a non-empty source and target"
    )
    report = _inspect(compose_cfg, *overrides)
    assert [report["splits"][s]["empty"] for s in ("train", "validation", "test")] == [1, 1, 0]
    refused = [w for w in report["warnings"] if "lab.train refuses" in w]
    assert refused == [
        f"train: 1 row has a source text lab.train refuses; the first: {refusal}",
        "validation: 1 row has a source text lab.train refuses; the first: "
        + refusal.replace("train.jsonl:2", "validation.jsonl:1"),
    ]


def test_inspect_names_an_empty_language_entry_as_training_does(
    compose_cfg: Any, tmp_path: Path
) -> None:
    rows = [*PAIRS[:2], {"translation": {"de": " ", "en": "Hello ."}}, *PAIRS[2:]]
    for split in ("train", "validation", "test"):
        _jsonl(tmp_path / f"{split}.jsonl", rows if split == "train" else PAIRS)
    overrides = ("data=wmt16_ro_en", f"data.path={tmp_path}", "data.target_lang=de")
    refusal = _training_refusal(compose_cfg, *overrides)
    assert refusal == (
        f"{tmp_path / 'train.jsonl'}:3 column 'translation' ['de']: empty target text "
        "(data.target_column); every row needs a non-empty source and target"
    )
    report = _inspect(compose_cfg, *overrides)
    assert report["splits"]["train"]["empty"] == 1
    warning = f"train: 1 row has a target text lab.train refuses; the first: {refusal}"
    assert warning in report["warnings"]


# ----------------------------------------------------------------- S31B-2: positions
def test_validate_refuses_a_source_length_over_a_config_built_models_positions(
    compose_cfg: Any, tmp_path: Path
) -> None:
    from lab.config.rules import validate_config

    rows = [{"article": "A long article .", "highlights": "Short .", "id": "a"}]
    for split in ("train", "validation", "test"):
        _jsonl(tmp_path / f"{split}.jsonl", rows)
    cfg = compose_cfg(*TINY, "data=cnn_dailymail", f"data.path={tmp_path}")
    with pytest.raises(ConfigError) as caught:
        validate_config(cfg)
    assert str(caught.value) == (
        "data.max_source_length=1024 is over the model's 512 positions "
        "(max_position_embeddings); set data.max_source_length=512 or less"
    )
    validate_config(compose_cfg(*TINY, "data=cnn_dailymail", f"data.path={tmp_path}",
                                "data.max_source_length=512"))  # fmt: skip


def test_validate_reads_gpt2s_position_rows_under_their_own_name(compose_cfg: Any) -> None:
    """s31e N3: GPT-2's config says `n_positions`, not `max_position_embeddings`: tiny_gpt2
    with DPO's 1024 tokens passed lab.validate, and training then refused it."""
    from lab.config.rules import validate_config

    gpt2 = ("task=dpo", "data=ultrafeedback", "model=tiny_gpt2")
    with pytest.raises(ConfigError) as caught:
        validate_config(compose_cfg(*gpt2))
    assert str(caught.value) == (
        "data.max_length=1024 is over the model's 512 positions (max_position_embeddings); set "
        "data.max_length=512 or less"
    )
    validate_config(compose_cfg(*gpt2, "data.max_length=512"))


# ----------------------------------------------------------------- S31B-3: languages
def _translation_parquet(folder: Path) -> None:
    from datasets import Dataset, Features, Translation

    features = Features({"translation": Translation(languages=["de", "en"])})
    for split in ("train", "validation", "test"):
        folder.mkdir(parents=True, exist_ok=True)
        Dataset.from_list(PAIRS, features=features).to_parquet(folder / f"{split}.parquet")


def test_a_parquet_schema_without_the_language_is_refused_before_training(
    compose_cfg: Any, tmp_path: Path
) -> None:
    from lab.config.rules import validate_config

    _translation_parquet(tmp_path)
    base = ("data=wmt16_ro_en", f"data.path={tmp_path}")
    for overrides, lang in (((), "ro"), (("data.target_lang=fr",), "fr")):
        with pytest.raises(DataError) as caught:
            validate_config(compose_cfg(*TINY, *base, *overrides))
        assert str(caught.value) == (
            f"{tmp_path / 'train.parquet'}: column 'translation' has no '{lang}' text in its "
            "schema (data.source_lang / data.target_lang); languages present: de, en; "
            "set data.target_lang=de"
        )
    validate_config(compose_cfg(*TINY, *base, "data.target_lang=de"))


def test_trainings_refusal_of_a_missing_language_gives_the_fix(
    compose_cfg: Any, tmp_path: Path
) -> None:
    for split in ("train", "validation", "test"):  # JSON lines: no schema, read cell by cell
        _jsonl(tmp_path / f"{split}.jsonl", PAIRS)
    refusal = _training_refusal(compose_cfg, "data=wmt16_ro_en", f"data.path={tmp_path}")
    assert refusal == (
        f"{tmp_path / 'train.jsonl'}:1 column 'translation': has no 'ro' text "
        "(data.source_lang / data.target_lang); languages present: de, en; set data.target_lang=de"
    )


def test_the_language_fix_leaves_out_the_other_sides_language() -> None:
    from lab.tasks.seq2seq_languages import language_fix

    assert language_fix("source", ["de", "en"], "de") == "set data.source_lang=en"
    assert language_fix("target", ["de", "en", "fr"], "en") == (
        "set data.target_lang to one of de, fr"
    )
    assert language_fix("target", ["en"], "en") == ""


# ----------------------------------------------------------------- S31B-4, S31B-6: module
def _module(compose_cfg: Any, **kwargs: Any) -> Any:
    import torch
    from hydra.utils import instantiate
    from transformers import BartForConditionalGeneration

    from lab.tasks.seq2seq import Seq2SeqModule

    cfg = compose_cfg(*TINY, "data=xsum")
    torch.manual_seed(0)
    model = BartForConditionalGeneration(instantiate(cfg.model.network.config))
    tokenizer = instantiate(cfg.model.tokenizer)
    return Seq2SeqModule(
        model, optimizer=lambda m: None, tokenizer=tokenizer, max_new_tokens=4, **kwargs
    )


def _batch(module: Any, rows: list[int]) -> dict[str, Any]:
    import torch

    from lab.tasks.seq2seq_data import ROW_ID

    tokenizer = module.tokenizer
    inputs = tokenizer([f"document {r}" for r in rows], padding=True, return_tensors="pt")
    labels = tokenizer(text_target=[f"summary {r}" for r in rows], padding=True)["input_ids"]
    return {**inputs, "labels": torch.tensor(labels), ROW_ID: torch.tensor(rows)}


def test_every_test_generation_is_kept_in_test_order_with_its_id(compose_cfg: Any) -> None:
    references = {"test": [f"reference {i}" for i in range(5)]}
    module = _module(compose_cfg, references=references, ids=["x0", "x1", "x2", "x3", "x4"])
    module.evaluation_step(_batch(module, [3, 0, 4]), "test")
    module.evaluation_step(_batch(module, [1, 2]), "test")
    generations = module.evaluation_report("test")["generations"]
    assert [(g["row"], g["id"], g["reference"]) for g in generations] == [
        (i, f"x{i}", f"reference {i}") for i in range(5)
    ]
    assert all(isinstance(g["prediction"], str) for g in generations)
    # Without an `id` column: the row numbers only; the report starts afresh.
    module.ids = None
    module.evaluation_step(_batch(module, [1, 0]), "test")
    assert [sorted(g) for g in module.evaluation_report("test")["generations"]] == [
        ["prediction", "reference", "row"]
    ] * 2


def test_a_validation_of_empty_generations_is_said_once(
    compose_cfg: Any, caplog: pytest.LogCaptureFixture
) -> None:
    import torch

    module = _module(compose_cfg, references={"val": ["a", "b", "c"]})
    bos, eos = module.tokenizer.bos_token_id, module.tokenizer.eos_token_id
    # The model emits only special tokens: `</s> <s> <s> </s>`, empty once they are removed.
    module.generate = lambda ids, mask: torch.tensor([[eos, bos, bos, eos]] * ids.shape[0])
    module.evaluation_step(_batch(module, [0, 1]), "val")
    module.evaluation_step(_batch(module, [2]), "val")
    module._trainer = SimpleNamespace(sanity_checking=False, is_global_zero=True, global_step=9)
    with caplog.at_level(logging.WARNING, logger="lab.tasks.seq2seq"):
        metrics = module.evaluation_metrics("val")
    assert float(metrics["val/rouge1"]) == 0.0
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        "all 3 validation generations are empty after removing special tokens (the model "
        "emits only special tokens): ROUGE is 0, though val/loss can still fall"
    ]


def test_the_empty_warning_needs_every_generation_empty() -> None:
    from lab.tasks.seq2seq_generations import empty_warning

    assert empty_warning(23, 24, "rouge") is None
    assert empty_warning(0, 0, "bleu") is None
    assert empty_warning(16, 16, "bleu") == (
        "all 16 validation generations are empty after removing special tokens (the model "
        "emits only special tokens): BLEU is 0, though val/loss can still fall"
    )


def test_runs_recorded_before_the_move_still_build_their_data_module() -> None:
    """A seq2seq run recorded before the data module moved to `lab.tasks.seq2seq_data` names
    `lab.tasks.seq2seq.Seq2SeqDataModule` in its config.yaml; lab.eval, lab.reproduce and a
    resume instantiate that path."""
    from hydra.utils import get_class

    from lab.tasks.seq2seq_data import Seq2SeqDataModule

    assert get_class("lab.tasks.seq2seq.Seq2SeqDataModule") is Seq2SeqDataModule
