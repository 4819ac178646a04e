"""`lab.inspect` lists what `lab.train` refuses in the labels of the multiple-choice head, in
training's words, per split with its rows: an ending index outside 0..N-1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lab.errors import DataError
from lab.training.tokenizers import build_tokenizer

SPLITS = ("train", "validation", "test")


def _write(folder: Path, rows: dict[str, list[dict[str, Any]]]) -> Path:
    """train/validation/test .jsonl files of these rows."""
    for split, split_rows in rows.items():
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in split_rows))
    return folder


def _training_refusal(compose_cfg: Any, *overrides: str) -> tuple[str, str]:
    """Where lab.train's refusal points (file, line, column) and what it says there."""
    from lab.build import build_datamodule

    cfg = compose_cfg("model=tiny_bert", *overrides)
    with pytest.raises(DataError) as caught:
        build_datamodule(cfg, build_tokenizer(cfg))
    where, refusal = str(caught.value).split(": ", 1)
    return where, refusal


def _refusal_warnings(compose_cfg: Any, *overrides: str) -> list[str]:
    from lab.data.inspection import inspect_data

    cfg = compose_cfg("model=tiny_bert", *overrides)
    report = inspect_data(cfg, build_tokenizer(cfg))["report"]
    return [w for w in report["warnings"] if "lab.train refuses it: " in w]


# ---------------------------------------------------------------------------- multiple choice
def _question(label: Any) -> dict[str, Any]:
    endings = {f"ending{i}": f"ending number {i}" for i in range(4)}
    return {"sent1": "the cook tasted the soup", "sent2": "the cook", **endings, "label": label}


def test_multiple_choice_labels_outside_the_endings_are_listed_in_trainings_words(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """4 endings: 4 and 9 are no index; -1 is listed by the label gaps, not here."""
    rows = {
        "train": [_question(i % 4) for i in range(8)],
        "validation": [_question(v) for v in (4, 1, 4)],
        "test": [_question(v) for v in (0, 9, -1)],
    }
    overrides = ("data=swag", f"data.path={_write(tmp_path, rows)}")
    overrides += tuple(f"data.splits.{s}={s}" for s in SPLITS)
    where, refused = _training_refusal(compose_cfg, *overrides)
    assert where == f"{tmp_path / 'validation.jsonl'}:1 column 'label'"
    assert refused == "label 4 is not an ending index 0..3"
    assert _refusal_warnings(compose_cfg, *overrides) == [
        f"validation: 2 rows have label 4; lab.train refuses it: {refused}",
        "test: 1 row has label 9; lab.train refuses it: label 9 is not an ending index 0..3",
    ]
