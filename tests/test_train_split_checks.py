"""What `lab.train` says about its splits before training (`lab.data.split_notes`): validation
and test rows with a train row's text (`lab.data.leaked_rows`, s24c M7) and train classes they
hold no row of (`lab.data.missing_classes`, s24e M3), in one line each per run, on tiny files
read by a real data module; nothing where neither applies."""

from __future__ import annotations

import json
import logging
import pickle
from pathlib import Path
from typing import Any

import pytest

from lab.data.split_notes import SplitsAsRead

RUN_DIR = Path("/runs/r1")
INSPECT = f"python -m lab.inspect run={RUN_DIR}"
MEMORY = "scores partly measure memory"
NEAR = "counts them, and the rows that differ only in case or spaces"


def _write(folder: Path, splits: dict[str, list[dict[str, Any]]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for split, rows in splits.items():
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return folder


def _rows(texts: list[str], labels: list[Any] | None = None) -> list[dict[str, Any]]:
    labels = labels if labels is not None else [i % 2 for i in range(len(texts))]
    return [{"text": t, "label": label} for t, label in zip(texts, labels, strict=True)]


def _words(start: int, count: int) -> list[str]:
    return [f"review number {i}" for i in range(start, start + count)]


def _read(compose_cfg: Any, path: Path, *overrides: str) -> tuple[Any, Any, SplitsAsRead]:
    """(config, data module set up, the splits as it read them)."""
    from hydra.utils import instantiate

    from lab.build import build_datamodule

    cfg = compose_cfg("model=tiny_bert", "data=json", f"data.path={path}", *overrides)
    splits = SplitsAsRead()
    datamodule = build_datamodule(cfg, instantiate(cfg.model.tokenizer), before_setup=splits.keep)
    return cfg, datamodule, splits


def _notes(compose_cfg: Any, path: Path, *overrides: str) -> list[str]:
    """The run's warnings on its splits, but the small-validation one (tested on its own)."""
    cfg, datamodule, splits = _read(compose_cfg, path, *overrides)
    found = splits.warnings(cfg, datamodule, RUN_DIR)
    return [line for line in found if not line.startswith("the validation split holds")]


# ------------------------------------------------------------------ leaked rows


def test_given_test_rows_with_a_train_rows_text_are_counted(
    compose_cfg: Any, tmp_path: Path
) -> None:
    train = _words(0, 40)
    folder = _write(
        tmp_path / "d",
        {
            "train": _rows(train),
            "validation": _rows(_words(100, 10)),
            # 3 train texts, one of them twice (each row counts: 4), 6 new ones
            "test": _rows([train[0], train[5], train[5], train[9], *_words(200, 6)]),
        },
    )
    assert _notes(compose_cfg, folder) == [
        f"4 of 10 test rows have the same text as a train row: the test {MEMORY}; {INSPECT} {NEAR}"
    ]


def test_one_row_in_each_split_and_only_exact_text(compose_cfg: Any, tmp_path: Path) -> None:
    train = _words(0, 40)
    folder = _write(
        tmp_path / "d",
        {
            "train": _rows(train),
            # differs in case and spaces only: lab.inspect's normalised count, not this one
            "validation": _rows([train[3], "REVIEW  number 4", *_words(100, 8)]),
            "test": _rows([train[7], *_words(200, 9)]),
        },
    )
    assert _notes(compose_cfg, folder) == [
        "1 of 10 validation rows and 1 of 10 test rows have the same text as a train row: "
        f"the validation and test {MEMORY}; {INSPECT} {NEAR}"
    ]


def test_a_pair_is_one_key_and_a_lone_side_is_no_match(compose_cfg: Any, tmp_path: Path) -> None:
    def pairs(items: list[tuple[str, str]]) -> list[dict[str, Any]]:
        return [{"a": a, "b": b, "label": i % 2} for i, (a, b) in enumerate(items)]

    train = [(f"premise {i}", f"hypothesis {i}") for i in range(40)]
    folder = _write(
        tmp_path / "d",
        {
            "train": pairs(train),
            # the same premise with another hypothesis is another row; the same pair is one
            "validation": pairs([("premise 1", "hypothesis 2"), train[3], *train[10:12]]),
            "test": pairs([(f"premise {i}", "other") for i in range(4)]),
        },
    )
    notes = _notes(compose_cfg, folder, "data.text_column=a", "data.text_pair_column=b")
    assert notes == [
        f"3 of 4 validation rows have the same text as a train row: the validation {MEMORY}; "
        f"{INSPECT} {NEAR}"
    ]


def test_a_carved_split_repeats_train_rows_only_where_the_file_holds_them_twice(
    compose_cfg: Any, tmp_path: Path
) -> None:
    unique = _words(0, 60)
    # distinct rows: a carved split shares none with train
    (tmp_path / "plain.jsonl").write_text("".join(json.dumps(row) + "\n" for row in _rows(unique)))
    assert _notes(compose_cfg, tmp_path / "plain.jsonl") == []
    # one text 40 times: the carved splits' copies of it are train's too
    twice = _rows([*unique, *["the same review"] * 40])
    (tmp_path / "twice.jsonl").write_text("".join(json.dumps(row) + "\n" for row in twice))
    cfg, datamodule, splits = _read(compose_cfg, tmp_path / "twice.jsonl")
    assert datamodule.carved == ["test", "validation"]
    copies = {s: splits.splits[s]["text"].count("the same review") for s in splits.splits}
    assert copies["train"] > 0 and copies["validation"] > 0 and copies["test"] > 0
    rows = {s: len(splits.splits[s]) for s in splits.splits}
    assert splits.warnings(cfg, datamodule, RUN_DIR)[-1] == (
        f"{copies['validation']} of {rows['validation']} validation rows and "
        f"{copies['test']} of {rows['test']} test rows have the same text as a train row (the "
        "carved validation and test splits: rows the data holds more than once): the "
        f"validation and test {MEMORY}; {INSPECT} {NEAR}"
    )


def test_a_split_that_is_not_scored_is_not_named(compose_cfg: Any, tmp_path: Path) -> None:
    train = _words(0, 40)
    folder = _write(
        tmp_path / "d",
        {
            "train": _rows(train),
            "validation": _rows([train[1], *_words(100, 9)]),
            "test": _rows([train[2], *_words(200, 9)]),
        },
    )
    notes = _notes(compose_cfg, folder, "+trainer.limit_test_batches=0")
    assert notes == [
        f"1 of 10 validation rows has the same text as a train row: the validation {MEMORY}; "
        f"{INSPECT} {NEAR}"
    ]


def test_arrow_keys_are_inspects_row_keys() -> None:
    """The Arrow join of plain text columns gives lab.inspect's keys (`row_keys`), empty
    cells included; other columns go through `row_keys` itself."""
    from datasets import Dataset

    from lab.data.inspection_rows import TextSpec, row_keys
    from lab.data.leaked_rows import split_keys

    data = Dataset.from_dict(
        {"q": ["a", None, "c", ""], "ctx": ["x y", "z", None, ""], "words": [["w"]] * 4}
    )
    pair = [TextSpec("q + ctx", ("q", "ctx"), 8)]
    assert split_keys(data, pair, "train").to_pylist() == row_keys(data, pair, "train")
    words = [TextSpec("words", ("words",), 8, words=True)]
    assert split_keys(data, words, "train").to_pylist() == row_keys(data, words, "train")


# ------------------------------------------------------------------ missing classes


def test_a_skewed_files_carved_splits_lack_its_rare_class(compose_cfg: Any, tmp_path: Path) -> None:
    rows = _rows(_words(0, 40), [0] * 38 + [1] * 2)
    (tmp_path / "skewed.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert _notes(compose_cfg, tmp_path / "skewed.jsonl") == [
        "validation and test hold no row of class '1' (2 of 32 train rows): their scores do "
        "not measure it; more rows of it in the file, or a larger data.val_fraction / "
        "data.test_fraction, would carve some into validation and test"
    ]


def test_the_advice_is_for_carved_splits_and_a_class_that_can_be_carved(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """s25b M1/M2: a given validation file gets no carving advice (its rows are its own
    file's), a carved test does; a class of one train row stays in train however large the
    fraction, so only more rows of it are offered."""
    given = _write(
        tmp_path / "given",
        {
            "train": _rows(_words(0, 40), [0] * 38 + [1] * 2),
            "validation": _rows(_words(100, 4), [0] * 4),
        },
    )
    assert _notes(compose_cfg, given) == [
        "validation and test hold no row of class '1' (2 of 36 train rows): their scores do "
        "not measure it; more rows of it in the file, or a larger data.test_fraction, would "
        "carve some into test"
    ]
    rows = _rows(_words(0, 40), [0] * 39 + [1])
    (tmp_path / "single.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert _notes(compose_cfg, tmp_path / "single.jsonl") == [
        "validation and test hold no row of class '1' (1 of 32 train rows): their scores do "
        "not measure it; more rows of it in the file would carve some into validation and test"
    ]


def test_splits_lacking_other_classes_are_named_apart(compose_cfg: Any, tmp_path: Path) -> None:
    names = ["neg", "neu", "pos"]
    folder = _write(
        tmp_path / "d",
        {
            "train": _rows(_words(0, 30), [names[i % 3] for i in range(30)]),
            "validation": _rows(_words(100, 4), ["neg", "pos", "neg", "pos"]),
            "test": _rows(_words(200, 4), ["neg"] * 4),
        },
    )
    assert _notes(compose_cfg, folder) == [
        "validation holds no row of class 'neu' (10 of 30 train rows); test holds no row of "
        "2 classes ('neu', 'pos': 20 of 30 train rows): their scores do not measure them"
    ]


def test_multi_label_rows_count_each_class_they_hold(compose_cfg: Any, tmp_path: Path) -> None:
    train = [["a"], ["a", "b"], ["b", "c"], ["a"], ["c", "a"], ["a", "b"]] * 5
    folder = _write(
        tmp_path / "d",
        {
            "train": _rows(_words(0, 30), train),
            "validation": _rows(_words(100, 3), [["a"], ["a", "b"], []]),
            "test": _rows(_words(200, 3), [["a", "b"], ["b", "c"], ["c"]]),
        },
    )
    # class c: 10 train rows hold it (two rows a cycle of six)
    assert _notes(compose_cfg, folder, "data.problem_type=multi_label") == [
        "validation holds no row of class 'c' (10 of 30 train rows): its scores do not measure it"
    ]


def test_nothing_where_no_split_repeats_train_or_lacks_a_class(
    compose_cfg: Any, tmp_path: Path
) -> None:
    folder = _write(
        tmp_path / "d",
        {
            # train's own duplicates are no leak
            "train": _rows([*_words(0, 38), "review number 0", "review number 1"]),
            "validation": _rows(_words(100, 10)),
            "test": _rows(_words(200, 10)),
        },
    )
    assert _notes(compose_cfg, folder) == []


# ------------------------------------------------------------------ the hook


def test_the_splits_are_let_go_and_never_pickled(compose_cfg: Any, tmp_path: Path) -> None:
    folder = _write(
        tmp_path / "d",
        {
            "train": _rows(_words(0, 8)),
            "validation": _rows(_words(9, 4)),
            "test": _rows(_words(20, 4)),
        },
    )
    _, datamodule, splits = _read(compose_cfg, folder)
    assert sorted(splits.splits) == ["test", "train", "validation"]
    assert pickle.loads(pickle.dumps(splits)).splits == {}  # data.num_proc workers: none
    splits.release(datamodule)
    assert splits.splits == {} and "prepare_split" not in vars(datamodule)


def test_a_training_run_says_them_once(
    compose_cfg: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from lab.train import run

    rows = _rows(_words(0, 40), [0] * 38 + [1] * 2)
    (tmp_path / "skewed.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    cfg = compose_cfg(
        "model=tiny_bert", "data=json", f"data.path={tmp_path / 'skewed.jsonl'}",
        "trainer.max_steps=1", "logger=csv", "paths.output_root=out",
    )  # fmt: skip
    caplog.set_level(logging.WARNING, logger="lab.train")
    run(cfg)  # type: ignore[arg-type]
    said = [r.getMessage() for r in caplog.records if r.name == "lab.train"]
    assert len(said) == 2, said
    assert said[0].startswith("the validation split holds 4 rows: ")
    assert said[1] == (
        "validation and test hold no row of class '1' (2 of 32 train rows): their scores do "
        "not measure it; more rows of it in the file, or a larger data.val_fraction / "
        "data.test_fraction, would carve some into validation and test"
    )


def test_blank_rows_and_lm_headings_are_no_leak(compose_cfg: Any, tmp_path: Path) -> None:
    """s30d F1: on WikiText-shaped data the line counted blank rows (skipped by the LM heads)
    and ` = = Plot = = ` headings, so it fired on every `data=wikitext2` run; for the LM heads
    a row counts from 4 words (`leak_min_words`), a blank row for no head."""
    from hydra.utils import instantiate

    from lab.build import build_datamodule

    paragraph = "the film was shot in the spring of that year"
    train = [
        "",
        " = = Plot = = ",
        " = Film = ",
        paragraph,
        *(f"row {i} of the text" for i in range(30)),
    ]
    folder = _write(
        tmp_path / "wiki",
        {
            "train": [{"text": t} for t in train],
            "validation": [
                {"text": t}
                for t in ["", " = = Plot = = ", " = Film = ", paragraph, "a new line of words"]
            ],
            "test": [{"text": t} for t in ["", "", "another fresh line here"]],
        },
    )
    cfg = compose_cfg("model=tiny_bert", "task=masked_lm", "data=wikitext2", f"data.path={folder}")
    splits = SplitsAsRead()
    datamodule = build_datamodule(cfg, instantiate(cfg.model.tokenizer), before_setup=splits.keep)
    found = splits.warnings(cfg, datamodule, RUN_DIR)
    assert [line for line in found if "same text" in line] == [
        f"1 of 5 validation rows has the same text as a train row: the validation {MEMORY}; "
        f"{INSPECT} {NEAR}"
    ]
