"""`lab.inspect` says what `lab.train` says of the same data: a translation cell without the
configured language (counted per split, training's words; each side measured on its own), a
missing NER tags column named by its key, the file's first refused row named first (not the
first of a carved split's shuffle), unanswerable questions read as SQuAD v1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lab.errors import DataError
from lab.training.tokenizers import build_tokenizer

CONTEXT = "The capital of Norway is Oslo, a city by the fjord."


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def _inspect(compose_cfg: Any, *overrides: str) -> dict[str, Any]:
    from lab.data.inspection import inspect_data

    cfg = compose_cfg(*overrides)
    return inspect_data(cfg, build_tokenizer(cfg))["report"]  # type: ignore[no-any-return]


def _training_refusal(compose_cfg: Any, *overrides: str) -> str:
    from lab.build import build_datamodule

    cfg = compose_cfg(*overrides)
    with pytest.raises(DataError) as caught:
        build_datamodule(cfg, build_tokenizer(cfg))
    return str(caught.value)


def test_translation_cells_without_the_language_are_refused_and_empty_rows(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """de/en pairs read as en->ro: every target cell lacks 'ro'. Training stops at the first;
    lab.inspect counts them per split with that first, in the same words."""
    for split in ("train", "validation", "test"):
        rows = [{"translation": {"de": f"Hallo {split} {i}", "en": f"hello {split} {i}"}}
                for i in range(5)]  # fmt: skip
        _jsonl(tmp_path / f"{split}.jsonl", rows)
    overrides = ("model=tiny_bart", "data=wmt16_ro_en", f"data.path={tmp_path}")
    overrides += tuple(f"data.splits.{s}={s}" for s in ("train", "validation", "test"))
    refusal = _training_refusal(compose_cfg, *overrides)
    where, why = refusal.split(": ", 1)
    assert where == f"{tmp_path / 'train.jsonl'}:1 column 'translation'"
    assert why == (
        "has no 'ro' text (data.source_lang / data.target_lang); languages present: de, en; "
        "set data.target_lang=de"
    )
    report = _inspect(compose_cfg, *overrides)
    refused = [w for w in report["warnings"] if "lab.train refuses" in w]
    assert refused == [
        f"{split}: 5 rows have a target text lab.train refuses; the first: "
        f"{tmp_path / f'{split}.jsonl'}:1 column 'translation': {why}"
        for split in ("train", "validation", "test")
    ]
    # A row without its target is empty, as training refuses it (s31b S31B-1); no duplicate
    # (each row's source text differs).
    for split in ("train", "validation", "test"):
        entry = report["splits"][split]
        assert (entry["empty"], entry["duplicates"]) == (5, 0)


def test_a_missing_tags_column_is_named_by_its_key(compose_cfg: Any, tmp_path: Path) -> None:
    rows = [{"tokens": ["Anna", "lives", "here"], "labels": [1, 0, 0]} for _ in range(12)]
    _jsonl(tmp_path / "train.jsonl", rows)
    overrides = ("model=tiny_bert", "data=conll2003", f"data.path={tmp_path}")
    expected = (
        f"{tmp_path / 'train.jsonl'}: column 'ner_tags' (data.tags_column) is not in the "
        "train split; columns present: tokens, labels"
    )
    assert _training_refusal(compose_cfg, *overrides) == expected
    with pytest.raises(DataError) as caught:
        _inspect(compose_cfg, *overrides)
    assert str(caught.value) == expected


def _qa(qid: str, start: int, answered: bool = True) -> dict[str, Any]:
    answers = {"text": ["Oslo"] if answered else [], "answer_start": [start] if answered else []}
    return {"id": qid, "title": "t", "context": CONTEXT, "question": "Where?", "answers": answers}


def test_the_first_refused_answer_named_is_the_files_first(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """One file, validation and test carved from it (a shuffle): training stops at line 2;
    lab.inspect's "first" is line 2 too, and its ids are listed in file order."""
    rows = [_qa(f"q{i:02d}", 27 if i % 4 == 1 else 25) for i in range(40)]
    _jsonl(tmp_path / "train.jsonl", rows)
    overrides = ("model=tiny_bert", "data=squad", f"data.path={tmp_path / 'train.jsonl'}")
    overrides += ("data.max_length=64", "data.doc_stride=16")
    assert _training_refusal(compose_cfg, *overrides).startswith(
        f"{tmp_path / 'train.jsonl'}:2 column 'answers' (id q01): "
    )
    report = _inspect(compose_cfg, *overrides)
    [train] = [w for w in report["warnings"] if w.startswith("train: ") and "refuses" in w]
    assert f"the first ({tmp_path / 'train.jsonl'}:2, id q01)" in train
    named = train.split("; all: ")[1].split(", ")
    assert named == sorted(named)  # q01, q05, ... as the file has them


def test_unanswerable_questions_read_as_v1_are_warned_as_training_warns(
    compose_cfg: Any, tmp_path: Path
) -> None:
    from lab.tasks.question_answering.answers import unanswerable_note

    rows = {
        "train": [_qa(f"t{i}", 25, answered=i % 3 != 0) for i in range(9)],
        "validation": [_qa(f"v{i}", 25) for i in range(3)],
        "test": [_qa(f"s{i}", 25, answered=False) for i in range(2)],
    }
    for split, split_rows in rows.items():
        _jsonl(tmp_path / f"{split}.jsonl", split_rows)
    overrides = ("model=tiny_bert", "data=squad", f"data.path={tmp_path}")
    overrides += tuple(f"data.splits.{s}={s}" for s in rows)
    warnings = _inspect(compose_cfg, *overrides)["warnings"]
    assert unanswerable_note("train", 3) in warnings
    assert unanswerable_note("test", 2) in warnings
    assert not any(w.startswith("the validation split has") for w in warnings)
    v2 = _inspect(compose_cfg, *overrides, "data.version_2_with_negative=true")["warnings"]
    assert not any("unanswerable" in w for w in v2)


def test_squad_json_files_are_inspected_as_training_reads_them(compose_cfg: Any) -> None:
    """The official nested files (train-v1.1.json, dev-v1.1.json): flattened as training
    flattens them, one row per question, named by the user's file and question."""
    from conftest import FIXTURES

    folder = FIXTURES / "squad" / "json"
    report = _inspect(compose_cfg, "model=tiny_bert", "data=squad", f"data.path={folder}")
    flattened = {
        name: sum(1 for line in (FIXTURES / "squad" / f"{name}.jsonl").open() if line.strip())
        for name in ("train", "validation")
    }
    splits = report["splits"]
    assert splits["train"]["rows"] + splits["validation"]["rows"] == flattened["train"]
    assert splits["test"]["rows"] == flattened["validation"]  # data=squad tests on dev
    assert splits["train"]["lengths"]["question + context"]["measured_rows"] > 0


def test_class_ids_written_as_text_get_advice_that_keeps_the_names(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """SST-2 rows with labels "0"/"1" (strings) under data=sst2's names: refused, advising
    integer ids (data.label_names=null would train but name the classes "0"/"1"); the same
    for NER tags "3" under conll2003's names."""
    rows = [{"sentence": f"fine film {i}", "label": str(i % 2)} for i in range(8)]
    for split in ("train", "validation"):
        _jsonl(tmp_path / f"{split}.jsonl", rows)
    refusal = _training_refusal(
        compose_cfg, "model=tiny_bert", "data=sst2", f"data.path={tmp_path}"
    )
    assert refusal == (
        f"{tmp_path / 'train.jsonl'}:1 column 'label': label '0' is not one of the label names "
        "['negative', 'positive']; '0' looks like a class id written as text: store the labels "
        "as integers (ids into data.label_names: 0 is 'negative'); data.label_names=null would "
        "name the classes by the text instead"
    )
    from lab.tasks.token_tags import tag_problem

    names = ["O", "B-PER", "I-PER", "B-LOC"]
    assert tag_problem("3", names, string_tags=True) == (
        "tag '3' is not in the label list ['O', 'B-PER', 'I-PER', 'B-LOC']; '3' looks like a "
        "class id written as text: store the labels as integers (ids into data.label_names: 3 "
        "is 'B-LOC'); data.label_names=null would name the classes by the text instead"
    )
    assert tag_problem("B-ORG", names, string_tags=True) == (
        "tag 'B-ORG' is not in the label list ['O', 'B-PER', 'I-PER', 'B-LOC']; fix the data or "
        "set data.label_names"
    )
