"""lab.inspect's duplicate and leak counts leave out the rows training's leak line leaves out
(s31e N4): one rule, `lab.data.counted_rows`. NER rows with no words (left out of training)
matched each other and the empty train rows, so inspect said 20 duplicate train rows and 8
leaked validation rows where the data holds 18 and training said 7."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lab.data.counted_rows import counted_keys
from lab.training.tokenizers import build_tokenizer


def _write(folder: Path, splits: dict[str, list[dict[str, Any]]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for split, rows in splits.items():
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return folder


def _report(compose_cfg: Any, *overrides: str) -> dict[str, Any]:
    from lab.data.inspection import inspect_data

    cfg = compose_cfg("model=tiny_bert", *overrides)
    return inspect_data(cfg, build_tokenizer(cfg))["report"]  # type: ignore[no-any-return]


def test_the_rule_counts_rows_of_enough_words() -> None:
    """Blank keys (no letter or digit of any script) never count; `fewest` words do."""
    keys = ["", " \x1f ", "!!", "один", "a b c", " = = Plot = = ", "the film was shot"]
    assert counted_keys(keys, 1) == ["один", "a b c", " = = Plot = = ", "the film was shot"]
    assert counted_keys(keys, 4) == ["the film was shot"]
    assert counted_keys([], 1) == []


def _ner(words: list[str]) -> dict[str, Any]:
    return {"tokens": words, "ner_tags": [0] * len(words)}


def test_inspect_leaves_out_empty_ner_rows_from_duplicates_and_leaks(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """3 empty train rows, 1 empty validation row, 1 empty test row: no duplicate and no leak
    among them; the real duplicate and the real shared rows still count."""
    train = [_ner([f"word{i}", "here"]) for i in range(20)] + [_ner(["word0", "here"])]
    folder = _write(
        tmp_path / "ner",
        {
            "train": train + [_ner([])] * 3,
            "validation": [_ner(["word1", "here"]), _ner(["fresh", "row"]), _ner([])],
            "test": [_ner(["new", "one"]), _ner([]), _ner(["other", "row"])],
        },
    )
    report = _report(compose_cfg, "data=wnut17", f"data.path={folder}")
    splits = report["splits"]
    assert [splits[s]["duplicates"] for s in ("train", "validation", "test")] == [1, 0, 0]
    assert splits["train"]["duplicates_normalized"] == 1
    assert report["leakage"] == {
        "validation": {"exact": 1, "normalized": 1},
        "test": {"exact": 0, "normalized": 0},
    }


def test_inspect_counts_lm_leaks_as_training_does(compose_cfg: Any, tmp_path: Path) -> None:
    """The LM heads' `leak_min_words: 4`: blank lines and headings repeat in any corpus and are
    neither duplicates nor leaks; training's line on this data says 1 of 5 validation rows
    (tests/test_train_split_checks.py::test_blank_rows_and_lm_headings_are_no_leak)."""
    paragraph = "the film was shot in the spring of that year"
    train = ["", "", " = = Plot = = ", " = = Plot = = ", paragraph]
    train += [f"row {i} of the text" for i in range(30)]
    validation = ["", " = = Plot = = ", " = Film = ", paragraph, "a new line of words"]
    folder = _write(
        tmp_path / "wiki",
        {
            "train": [{"text": t} for t in train],
            "validation": [{"text": t} for t in validation],
            "test": [{"text": t} for t in ["", "", "another fresh line here"]],
        },
    )
    report = _report(compose_cfg, "task=masked_lm", "data=wikitext2", f"data.path={folder}")
    assert report["leakage"]["validation"]["exact"] == 1
    assert report["leakage"]["test"]["exact"] == 0
    assert [report["splits"][s]["duplicates"] for s in ("train", "test")] == [0, 0]
    assert report["splits"]["train"]["empty"] == 2  # still reported as empty rows
