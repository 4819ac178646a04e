"""Classes that validation or test hold but train does not (acceptance s23a M1): one warning
per evaluated split, the same for every way labels are stored (ClassLabel ids, ids or strings
under `data.label_names`, multi-label lists, NER tags), from training and `lab.inspect` alike;
where train's own labels are the classes, the refusal says that the label never occurs in
train and how to train with it, and every list of names in these messages is bounded."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from lab.data.unseen_classes import few, listed, unseen_classes_warning
from lab.errors import DataError
from lab.training.tokenizers import build_tokenizer

INTENTS = [f"intent {i:02d} / sub" for i in range(20)]


def _jsonl(folder: Path, splits: dict[str, list[dict[str, Any]]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for split, rows in splits.items():
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def _intents(folder: Path, train: list[str], validation: list[str], test: list[str]) -> Path:
    """Rows of `text, label` (string labels) per split."""
    return _jsonl(
        folder,
        {
            split: [{"text": f"{split} {i}", "label": label} for i, label in enumerate(labels)]
            for split, labels in (("train", train), ("validation", validation), ("test", test))
        },
    )


def _build(compose_cfg: Any, *overrides: str) -> Any:
    from lab.build import build_datamodule

    cfg = compose_cfg("model=tiny_bert", *overrides)
    return build_datamodule(cfg, build_tokenizer(cfg))


def _inspect_warnings(compose_cfg: Any, *overrides: str) -> list[str]:
    from lab.data.inspection import inspect_data

    cfg = compose_cfg("model=tiny_bert", *overrides)
    return list(inspect_data(cfg, build_tokenizer(cfg))["report"]["warnings"])


def _unseen(messages: list[str]) -> list[str]:
    return [m for m in messages if "with no train row" in m or "never occur" in m]


def _logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


# ----------------------------------------------------------------------------- bounded lists
def test_a_long_list_of_names_is_shortened_and_counted() -> None:
    assert few(["neg", "pos"]) == "'neg', 'pos'"
    assert listed(["neg", "pos"]) == "['neg', 'pos']"  # as Python writes a short list
    assert few(INTENTS) == ", ".join(repr(n) for n in INTENTS[:8]) + " and 12 more"
    assert listed(INTENTS).endswith(" and 12 more]")
    # long names: bounded by characters too (at least one is shown)
    long = ["x" * 100, "y" * 100, "z" * 100]
    assert few(long) == f"'{'x' * 100}' and 2 more"
    assert few(["w" * 300]) == repr("w" * 300)


# ----------------------------------------------------------------------------- string labels
def test_a_string_label_train_lacks_is_refused_as_never_in_train_with_the_fix(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """No names given: train's labels are the classes; the refusal says so, counts and
    shortens them, and names data.label_names as the way to train with the others."""
    folder = _intents(tmp_path / "d", INTENTS[:18] * 2, [*INTENTS[:3], "intent 18 / sub"], ["x"])
    with pytest.raises(DataError) as refused:
        _build(compose_cfg, "data=json", f"data.path={folder}")
    shown = ", ".join(repr(n) for n in INTENTS[:8])
    assert str(refused.value) == (
        f"{folder / 'validation.jsonl'}:4 column 'label': label 'intent 18 / sub' never occurs "
        f"in train: the classes are the labels of train (18 of them: {shown} and 10 more); to "
        "train with other classes too, list every class: data.label_names=[...]"
    )
    # the fix it names works: every class listed, the run is checked, with a warning per split
    names = "[" + ",".join(f"'{n}'" for n in [*INTENTS, "x"]) + "]"
    datamodule = _build(
        compose_cfg, "data=json", f"data.path={folder}", f"data.label_names={names}"
    )
    assert datamodule.num_labels == 21


def test_inspect_says_once_per_split_which_labels_train_lacks(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """lab.inspect: one line per split however many labels, not one per label with the whole
    list of names in each."""
    folder = _intents(
        tmp_path / "d", INTENTS[:12] * 2, [*INTENTS[10:16], "intent 15 / sub"], INTENTS[:2]
    )
    warnings = _unseen(_inspect_warnings(compose_cfg, "data=json", f"data.path={folder}"))
    shown = ", ".join(repr(n) for n in INTENTS[:8])
    assert warnings == [
        "validation: 5 rows have 4 labels that never occur in train ('intent 12 / sub', "
        "'intent 13 / sub', 'intent 14 / sub', 'intent 15 / sub'); lab.train refuses them: the "
        f"classes are the labels of train (12 of them: {shown} and 4 more); to train with other "
        "classes too, list every class: data.label_names=[...]"
    ]


def test_a_label_outside_given_names_keeps_its_meaning_with_a_bounded_list(
    compose_cfg: Any, tmp_path: Path
) -> None:
    folder = _intents(tmp_path / "d", INTENTS * 2, ["other"], INTENTS[:2])
    names = "[" + ",".join(f"'{n}'" for n in INTENTS) + "]"
    with pytest.raises(DataError) as refused:
        _build(compose_cfg, "data=json", f"data.path={folder}", f"data.label_names={names}")
    shown = ", ".join(repr(n) for n in INTENTS[:8])
    assert str(refused.value).endswith(
        f"label 'other' is not one of the label names [{shown} and 12 more]; fix the data, or "
        "set data.label_names to its names (null: those in train)"
    )


def test_integer_labels_that_name_their_classes_say_how_to_add_one(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """1-5 stars without names: the classes are the values train holds; a 6 elsewhere never
    occurs in train (a fraction is still said to be no class id)."""
    rows = {
        "train": [{"text": f"t{i}", "label": 1 + i % 5} for i in range(10)],
        "validation": [{"text": "v", "label": 3}, {"text": "w", "label": 6}],
    }
    folder = _jsonl(tmp_path / "d", rows)
    with pytest.raises(DataError) as refused:
        _build(compose_cfg, "data=json", f"data.path={folder}")
    assert str(refused.value).endswith(
        "label 6 never occurs in train: the classes are the labels of train (5 of them: '1', "
        "'2', '3', '4', '5'); to train with other classes too, store the labels as class ids "
        "0..K-1 and set data.num_labels=K"
    )


# ----------------------------------------------------------------------------- given names
def test_classes_named_but_missing_from_train_get_one_warning_per_split(
    compose_cfg: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """data.label_names lists 20 intents, train holds 18: the validation and test rows of the
    other two can never be predicted right; each split is warned about once."""
    folder = _intents(
        tmp_path / "d",
        INTENTS[:18] * 2,
        ["intent 18 / sub", "intent 19 / sub", "intent 19 / sub", INTENTS[0]],
        ["intent 19 / sub", INTENTS[1]],
    )
    names = "[" + ",".join(f"'{n}'" for n in INTENTS) + "]"
    overrides = ("data=json", f"data.path={folder}", f"data.label_names={names}")
    with caplog.at_level(logging.WARNING):
        _build(compose_cfg, *overrides)
    expected = [
        "validation: 3 rows hold 2 classes with no train row ('intent 18 / sub', 'intent 19 / "
        "sub'): the model cannot learn them, and those rows lower the validation scores",
        "test: 1 row holds 1 class with no train row ('intent 19 / sub'): the model cannot "
        "learn it, and that row lowers the test scores",
    ]
    assert _unseen(_logged(caplog)) == expected
    assert _unseen(_inspect_warnings(compose_cfg, *overrides)) == expected


def test_classlabel_ids_missing_from_train_are_warned_about(
    compose_cfg: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

    features = Features({"text": Value("string"), "label": ClassLabel(names=INTENTS[:5])})
    splits = {"train": [0, 1, 2, 0, 1, 2], "validation": [3, 4, 0], "test": [0, 1]}
    DatasetDict(
        {
            split: Dataset.from_dict(
                {"text": [f"{split} {i}" for i in range(len(ids))], "label": ids}, features
            )
            for split, ids in splits.items()
        }
    ).save_to_disk(str(tmp_path / "saved"))
    with caplog.at_level(logging.WARNING):
        _build(compose_cfg, "data=json", f"data.path={tmp_path / 'saved'}")
    assert _unseen(_logged(caplog)) == [
        "validation: 2 rows hold 2 classes with no train row ('intent 03 / sub', 'intent 04 / "
        "sub'): the model cannot learn them, and those rows lower the validation scores"
    ]


def test_no_warning_where_train_holds_every_class(
    compose_cfg: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Nor about train itself: a class train lacks is no train row's class."""
    folder = _intents(tmp_path / "d", INTENTS[:4] * 2, INTENTS[:4], INTENTS[2:4])
    names = "[" + ",".join(f"'{n}'" for n in INTENTS[:5]) + "]"  # the fifth: no row anywhere
    overrides = ("data=json", f"data.path={folder}", f"data.label_names={names}")
    with caplog.at_level(logging.WARNING):
        _build(compose_cfg, *overrides)
    assert _unseen(_logged(caplog)) == []
    assert _unseen(_inspect_warnings(compose_cfg, *overrides)) == []


# ----------------------------------------------------------------------------- multi-label
def test_multi_label_ids_count_the_rows_that_hold_an_unseen_class(
    compose_cfg: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """GoEmotions-style id lists: 'neutral' (id 2) in no train row; the rows counted are those
    holding it, whatever else they hold (an empty list holds nothing)."""
    rows = {
        "train": [{"text": f"t{i}", "labels": [i % 2]} for i in range(8)]
        + [{"text": "both", "labels": [0, 1]}],
        "validation": [
            {"text": "a", "labels": [0, 2]},
            {"text": "b", "labels": [2]},
            {"text": "c", "labels": []},
            {"text": "d", "labels": [1]},
        ],
        "test": [{"text": "e", "labels": [0]}],
    }
    folder = _jsonl(tmp_path / "d", rows)
    overrides = ("data=go_emotions", f"data.path={folder}", "data.label_names=[joy,sad,neutral]")
    with caplog.at_level(logging.WARNING):
        _build(compose_cfg, *overrides)
    expected = [
        "validation: 2 rows hold 1 class with no train row ('neutral'): the model cannot learn "
        "it, and those rows lower the validation scores"
    ]
    assert _unseen(_logged(caplog)) == expected
    assert _unseen(_inspect_warnings(compose_cfg, *overrides)) == expected


def test_multi_label_strings_without_names_are_refused_as_never_in_train(
    compose_cfg: Any, tmp_path: Path
) -> None:
    rows = {
        "train": [{"text": f"t{i}", "labels": [["joy"], ["sad"]][i % 2]} for i in range(6)],
        "validation": [{"text": "a", "labels": ["joy", "no emotion"]}],
    }
    folder = _jsonl(tmp_path / "d", rows)
    with pytest.raises(DataError) as refused:
        _build(compose_cfg, "data=go_emotions", f"data.path={folder}", "data.label_names=null")
    assert str(refused.value).endswith(
        "column 'labels': label 'no emotion' never occurs in train: the classes are the labels "
        "of train (2 of them: 'joy', 'sad'); to train with other classes too, list every "
        "class: data.label_names=[...]"
    )


# ----------------------------------------------------------------------------- NER tags
NER_NAMES = ["O", "B-PER", "I-PER", "B-LAW", "I-LAW"]


def _ner(folder: Path, tags: dict[str, list[list[Any]]]) -> Path:
    return _jsonl(
        folder,
        {
            split: [{"tokens": [f"w{j}" for j in range(len(t))], "ner_tags": t} for t in rows]
            for split, rows in tags.items()
        },
    )


def test_ner_tags_missing_from_train_are_warned_about(
    compose_cfg: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Tag ids under data.label_names: B-LAW/I-LAW in no train word."""
    folder = _ner(
        tmp_path / "d",
        {
            "train": [[1, 2, 0], [0, 1]] * 3,
            "validation": [[3, 4, 0], [0, 3], [1, 0]],
            "test": [[0, 1]],
        },
    )
    names = "[" + ",".join(NER_NAMES) + "]"
    overrides = ("data=conll2003", f"data.path={folder}", f"data.label_names={names}")
    with caplog.at_level(logging.WARNING):
        _build(compose_cfg, *overrides)
    expected = [
        "validation: 2 rows hold 2 tags with no train row ('B-LAW', 'I-LAW'): the model cannot "
        "learn them, and those rows lower the validation scores"
    ]
    assert _unseen(_logged(caplog)) == expected
    assert _unseen(_inspect_warnings(compose_cfg, *overrides)) == expected


def test_ner_string_tags_without_names_are_refused_as_never_in_train(
    compose_cfg: Any, tmp_path: Path
) -> None:
    folder = _ner(
        tmp_path / "d",
        {
            "train": [["B-PER", "I-PER", "O"]] * 4,
            "validation": [["B-LAW", "I-LAW"], ["B-LAW", "O"]],
            "test": [["O"]],
        },
    )
    overrides = ("data=conll2003", f"data.path={folder}", "data.label_names=null")
    with pytest.raises(DataError) as refused:
        _build(compose_cfg, *overrides)
    reason = (
        "the classes are the tags of train (3 of them: 'B-PER', 'I-PER', 'O'); to train with "
        "other tags too, list every tag: data.label_names=[...]"
    )
    assert str(refused.value).endswith(f"tag 'B-LAW' never occurs in train: {reason}")
    assert _unseen(_inspect_warnings(compose_cfg, *overrides)) == [
        "validation: 2 rows have 2 tags that never occur in train ('B-LAW', 'I-LAW'); lab.train "
        f"refuses them: {reason}"
    ]


# ----------------------------------------------------------------------------- the rule itself
def test_the_rule_counts_the_rows_of_a_list_column_across_chunks() -> None:
    """Arrow counts: a split spread over several chunks (as `datasets` concatenates files),
    list rows by their parent indices."""
    from datasets import Dataset, concatenate_datasets

    parts = [Dataset.from_dict({"y": [[0, 5], [5, 5], [1]]}) for _ in range(3)]
    split = concatenate_datasets(parts)
    assert unseen_classes_warning(
        "test",
        split,
        "y",
        seen=frozenset({0, 1}),
        class_of=lambda v: v if isinstance(v, int) and 0 <= v < 6 else None,
        names=[f"c{i}" for i in range(6)],
    ) == (
        "test: 6 rows hold 1 class with no train row ('c5'): the model cannot learn it, and "
        "those rows lower the test scores"
    )


def test_a_streamed_train_split_names_the_rows_its_classes_come_from(
    compose_cfg: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Streamed, the classes are read from the stream's first rows: a label outside them is
    refused in those words, and no split is warned about classes train may well hold."""
    rows = [{"text": f"review {i}", "label": ["negative", "positive"][i % 2]} for i in range(60)]
    rows[3]["label"] = "mixed"  # carved into validation/test (the first 20 rows)
    (tmp_path / "d").mkdir()
    train = tmp_path / "d" / "train.jsonl"
    train.write_text("".join(json.dumps(r) + "\n" for r in rows))
    overrides = (
        "data=json",
        f"data.path={tmp_path / 'd'}",
        "data.streaming=true",
        "data.stream_sample_rows=10",
    )
    names = "data.label_names=[negative,positive,mixed]"
    with caplog.at_level(logging.WARNING):
        assert _build(compose_cfg, *overrides, names).num_labels == 3
    assert _unseen(_logged(caplog)) == []  # 'mixed' is in no train row read: not known
    with pytest.raises(DataError) as refused:
        _build(compose_cfg, *overrides)
    assert str(refused.value) == (
        f"{train}:4 column 'label': label 'mixed' never occurs in the first 10 rows of the "
        "streamed train split: the classes are the labels of the first 10 rows of the streamed "
        "train split (2 of them: 'negative', 'positive'); to train with other classes too, "
        "list every class: data.label_names=[...]"
    )
