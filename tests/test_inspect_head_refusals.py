"""`lab.inspect` lists what `lab.train` refuses in the labels of the multiple-choice,
token-classification and extractive-QA heads, in training's words, per split with its rows:
an ending index outside 0..N-1, a tag outside the label list, an answer not at its
answer_start (the first per split, with a count)."""

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


def test_the_multiple_choice_balance_table_lists_ending_positions_only(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """A train label 4 under 4 endings is training's refusal (a warning), not a fifth class
    in the table beside 0..3."""
    from lab.data.inspection import inspect_data

    rows = {
        "train": [_question(i % 3) for i in range(8)] + [_question(4)],
        "validation": [_question(v) for v in (0, 1)],
        "test": [_question(v) for v in (0, 2)],
    }
    overrides = ("data=swag", f"data.path={_write(tmp_path, rows)}")
    overrides += tuple(f"data.splits.{s}={s}" for s in SPLITS)
    cfg = compose_cfg("model=tiny_bert", *overrides)
    report = inspect_data(cfg, build_tokenizer(cfg))["report"]
    assert report["labels"]["counts"] == {"0": 3, "1": 3, "2": 2, "3": 0}
    assert (
        "train: 1 row has label 4; lab.train refuses it: label 4 is not an ending index 0..3"
        in (report["warnings"])
    )


# ------------------------------------------------------------------------- token classification
CONLL = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]


def _sentence(*tags: Any) -> dict[str, Any]:
    return {"tokens": [f"word{i}" for i in range(len(tags))], "ner_tags": list(tags)}


def test_tags_outside_the_label_list_are_listed_in_trainings_words(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """CoNLL's 9 names: 12 (twice in one row, and in another row), 9 and -1 are no id; a row
    counts once per tag it holds."""
    rows = {
        "train": [_sentence(i % 9, 0) for i in range(9)],
        "validation": [_sentence(12, 0, 12), _sentence(1, 2), _sentence(12)],
        "test": [_sentence(9, -1), _sentence(0)],
    }
    overrides = ("data=conll2003", f"data.path={_write(tmp_path, rows)}")
    where, refused = _training_refusal(compose_cfg, *overrides)
    assert where == f"{tmp_path / 'validation.jsonl'}:1 column 'ner_tags'"
    assert refused == (
        f"tag 12 is not in the label list {CONLL}; fix the data or set data.label_names"
    )
    assert _refusal_warnings(compose_cfg, *overrides) == [
        f"validation: 2 rows have tag 12; lab.train refuses it: {refused}",
        *(
            f"test: 1 row has tag {tag}; lab.train refuses it: tag {tag} is not in the label "
            f"list {CONLL}; fix the data or set data.label_names"
            for tag in (-1, 9)
        ),
    ]


def test_words_and_tags_training_refuses_as_a_pair_are_counted_with_the_first_named(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """3 words but 2 tags, and a words cell that is a text (which makes `datasets` keep that
    split's column as JSON text): named where training names them, and the text cell does
    not change how the rest of its split is read (its duplicates and leakage)."""
    rows = {
        "train": [
            *[_sentence(i % 9, 0) for i in range(8)],
            {**_sentence(1, 0), "tokens": ["a", "b", "c"]},
        ],
        "validation": [
            _sentence(1, 0),
            {"tokens": "Ann went", "ner_tags": [1, 0]},
            _sentence(1, 0),
        ],
        "test": [_sentence(0)],
    }
    overrides = ("data=conll2003", f"data.path={_write(tmp_path, rows)}")
    where, refused = _training_refusal(compose_cfg, *overrides)
    assert (where, refused) == (
        f"{tmp_path / 'train.jsonl'}:9 column 'ner_tags'",
        "3 words but 2 tags (columns 'tokens', 'ner_tags')",
    )
    from lab.data.inspection import inspect_data

    cfg = compose_cfg("model=tiny_bert", *overrides)
    report = inspect_data(cfg, build_tokenizer(cfg))["report"]
    assert [w for w in report["warnings"] if "words and tags" in w] == [
        f"train: 1 row has words and tags lab.train refuses; the first "
        f"({tmp_path / 'train.jsonl'}:9 column 'ner_tags'): {refused}",
        f"validation: 1 row has words and tags lab.train refuses; the first "
        f"({tmp_path / 'validation.jsonl'}:2 column 'tokens'): text 'Ann went', not a list of "
        'words (one per word, e.g. ["John", "lives"])',
    ]
    # validation rows 1 and 3 are the same words as train's second row: read as lists.
    assert report["splits"]["validation"]["duplicates"] == 1
    assert report["leakage"]["validation"]["exact"] == 2


def test_an_empty_tag_in_a_list_of_tag_ids_is_refused_in_words(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """A null inside a list of tag ids (an export with a gap) was a TypeError in training."""
    gap = {**_sentence(1, 0), "ner_tags": [1, None]}
    rows = {
        "train": [_sentence(i % 9, 0) for i in range(9)],
        "validation": [gap],
        "test": [_sentence(0)],
    }
    overrides = ("data=conll2003", f"data.path={_write(tmp_path, rows)}")
    where, refused = _training_refusal(compose_cfg, *overrides)
    assert where == f"{tmp_path / 'validation.jsonl'}:1 column 'ner_tags'"
    assert refused == f"a tag is empty (null); every word needs one of the label list {CONLL}"


def test_string_tags_unseen_in_train_are_listed_in_trainings_words(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """String tags: the names are train's tags, so a tag only validation has is refused."""
    rows = {
        "train": [_sentence("O", "B-PER"), _sentence("I-PER", "O")],
        "validation": [_sentence("O", "B-LOC")],
        "test": [_sentence("O")],
    }
    overrides = ("data=conll2003", "data.label_names=null", f"data.path={_write(tmp_path, rows)}")
    _, refused = _training_refusal(compose_cfg, *overrides)
    reason = (
        "the classes are the tags of train (3 of them: 'B-PER', 'I-PER', 'O'); to train with "
        "other tags too, list every tag: data.label_names=[...]"
    )
    assert refused == f"tag 'B-LOC' never occurs in train: {reason}"
    assert _refusal_warnings(compose_cfg, *overrides) == [
        f"validation: 1 row has 1 tag that never occurs in train ('B-LOC'); lab.train refuses "
        f"it: {reason}"
    ]


def test_tag_ids_without_names_are_refused_as_training_refuses_them(
    compose_cfg: Any, tmp_path: Path
) -> None:
    from lab.build import build_datamodule
    from lab.data.inspection import inspect_data

    rows = {split: [_sentence(0, 1)] * 4 for split in SPLITS}
    overrides = ("data=conll2003", "data.label_names=null", f"data.path={_write(tmp_path, rows)}")
    cfg = compose_cfg("model=tiny_bert", *overrides)
    with pytest.raises(DataError) as caught:
        build_datamodule(cfg, build_tokenizer(cfg))
    assert str(caught.value) == (
        "the ner_tags column holds tag ids but no tag names are known: set data.label_names to "
        "the tag names in id order"
    )
    warnings = inspect_data(cfg, build_tokenizer(cfg))["report"]["warnings"]
    assert warnings[0] == f"lab.train refuses the labels: {caught.value}"


def test_many_refused_tags_are_counted_past_the_first_five_by_the_rows_holding_them(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """Seven tags outside the given names: five listed in order of appearance, then the other
    two, which two rows hold (x5 is in both)."""
    unseen = [_sentence("x0", "x1", "x2"), _sentence("x3", "x4", "x5"), _sentence("x6", "x5")]
    rows = {"train": [_sentence("O", "B-PER")] * 3, "validation": unseen, "test": [_sentence("O")]}
    path = f"data.path={_write(tmp_path, rows)}"
    overrides = ("data=conll2003", "data.label_names=[B-PER,O]", path)
    from lab.data.inspection import inspect_data

    cfg = compose_cfg("model=tiny_bert", *overrides)
    warnings = inspect_data(cfg, build_tokenizer(cfg))["report"]["warnings"]
    assert [w for w in warnings if "lab.train refuses" in w] == [
        *(
            f"validation: 1 row has tag 'x{i}'; lab.train refuses it: tag 'x{i}' is not in the "
            "label list ['B-PER', 'O']; fix the data or set data.label_names"
            for i in range(5)
        ),
        "validation: 2 more tags lab.train refuses, in 2 rows (a tag column holding text?)",
    ]


# ---------------------------------------------------------------------------- extractive QA
CONTEXT = "The museum was founded in Oslo by Carl Hahn in the year 1812."


def _qa(qid: str, start: int, text: str = "Oslo", context: str = CONTEXT) -> dict[str, Any]:
    answers = {"text": [text], "answer_start": [start]}
    return {"id": qid, "title": "t", "context": context, "question": "Where?", "answers": answers}


def test_answers_not_at_their_start_are_named_in_trainings_words_with_a_count(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """Oslo is at 26: 27 is off by one, 90 is past the context; an answer cell that is no
    mapping is refused too; a row with an empty context is refused for that, not here."""
    rows = {
        "train": [_qa(f"t{i}", 26) for i in range(6)],
        "validation": [_qa("v0", 26), _qa("v1", 27), _qa("v2", 90), _qa("v3", 27)],
        "test": [_qa("s0", 26), {**_qa("s1", 26), "answers": [1]}, _qa("s2", 27, context=" ")],
    }
    overrides = ("data=squad", f"data.path={_write(tmp_path, rows)}")
    overrides += tuple(f"data.splits.{s}={s}" for s in SPLITS)
    where, refused = _training_refusal(compose_cfg, *overrides)
    assert where == f"{tmp_path / 'validation.jsonl'}:2 column 'answers' (id v1)"
    why = (
        "answer 'Oslo' is not at answer_start 27 of its context (found 'slo '; the text is at "
        "26, 1 character before)"
    )
    assert refused == (  # the count of rows so (s31c F1): inspect names them all
        f"{why}; 3 of 4 validation rows have such an answer (`python -m lab.inspect` with "
        "these data options lists them)"
    )
    refused = why
    assert _refusal_warnings(compose_cfg, *overrides) == [
        "validation: 3 rows have an answer lab.train refuses; the first "
        f"({tmp_path / 'validation.jsonl'}:2, id v1): lab.train refuses it: {refused}; "
        "all: v1, v2, v3",
        "test: 1 row has an answer lab.train refuses; the first "
        f"({tmp_path / 'test.jsonl'}:2, id s1): lab.train refuses it: "
        'bad value: expected {"text": [...], "answer_start": [...]}',
    ]


# ---------------------------------------------------------------------------- columns
def test_a_missing_label_column_is_one_line_as_in_training(
    compose_cfg: Any, tmp_path: Path
) -> None:
    from lab.data.inspection import inspect_data

    rows = {
        split: [{"text": f"row {i} of {split}", "label": i % 2} for i in range(6)]
        for split in SPLITS
    }
    cfg = compose_cfg(
        "model=tiny_bert",
        "data=json",
        f"data.path={_write(tmp_path, rows)}",
        "data.label_column=lbl",
    )
    with pytest.raises(DataError) as caught:
        inspect_data(cfg, build_tokenizer(cfg))
    assert str(caught.value) == (
        f"{tmp_path / 'train.jsonl'}: column 'lbl' (data.label_column) is not in the train "
        "split; columns present: text, label"
    )


def test_a_file_without_the_text_column_is_refused_for_that_before_its_size(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """Two rows are too few to carve validation and test from; the missing column is the
    problem to name."""
    from lab.data.inspection import inspect_data

    data = tmp_path / "two.jsonl"
    data.write_text('{"body": "a", "label": 0}\n{"body": "b", "label": 1}\n')
    cfg = compose_cfg("model=tiny_bert", "data=json", f"data.path={data}")
    with pytest.raises(DataError) as caught:
        inspect_data(cfg, build_tokenizer(cfg))
    # training's words (its config rule `check_local_data`), the file and the config key named
    assert str(caught.value) == (
        f"{data}: column 'text' (data.text_column) is not in the train split; columns present: "
        "body, label"
    )


def test_masked_lm_is_measured_as_packed_blocks(compose_cfg: Any) -> None:
    """`task=masked_lm` reads the data with its own module, which packs rows into blocks of
    data.max_length tokens: no row is truncated and no shorter length is suggested (a
    suggestion from row lengths would shrink every block)."""
    from lab.data.inspection import inspect_data

    from conftest import SENTIMENT

    cfg = compose_cfg(
        "model=tiny_bert", "task=masked_lm", "data=csv", f"data.path={SENTIMENT}",
        "data.text_column=review",
    )  # fmt: skip
    report = inspect_data(cfg, build_tokenizer(cfg))["report"]
    assert report["max_length"]["review"]["suggested"] is None
    assert report["max_length"]["review"]["key"] is None
    assert report["labels"] == {}
    for split in SPLITS:
        assert "truncated" not in report["splits"][split]["lengths"]["review"]


@pytest.mark.parametrize("size", ["data.max_length=32", "+data.block_size=20"])
def test_masked_lm_blocks_per_split_are_those_training_packs(compose_cfg: Any, size: str) -> None:
    """Each split's count of blocks equals the blocks the masked-LM data module makes of it;
    the block size is read as that module reads it (`block_size` before `max_length`)."""
    from hydra.utils import instantiate

    from lab.build import build_datamodule
    from lab.data.inspection import inspect_data

    from conftest import SENTIMENT

    cfg = compose_cfg(
        "model=tiny_bert", "task=masked_lm", "data=csv", f"data.path={SENTIMENT}",
        "data.text_column=review", size,
    )  # fmt: skip
    report = inspect_data(cfg, build_tokenizer(cfg))["report"]
    datamodule = build_datamodule(cfg, instantiate(cfg.model.tokenizer))
    datamodule.setup("fit")
    datamodule.setup("test")
    key, tokens = size.removeprefix("+").split("=")
    for split in SPLITS:
        blocks = report["splits"][split]["blocks"]
        assert (blocks["key"], blocks["size"]) == (key, int(tokens))
        assert blocks["blocks"] == len(datamodule.datasets[split]) > 1
        assert "estimated" not in blocks  # every row measured


def test_packed_blocks_by_hand() -> None:
    """Each 1,000-row tokenization batch ends in its own partial block; from a sample, the
    sample's mean stands for every row (and the count says it is estimated)."""
    from lab.data.inspection_stats import packed_blocks

    key = ("data.max_length", 100)
    assert packed_blocks([1] * 1500, 1500, key)["blocks"] == 10 + 5  # 1000 + 500 tokens
    assert packed_blocks([150] * 3, 3, key) == {
        "key": "data.max_length", "size": 100, "tokens": 450, "blocks": 5,
    }  # fmt: skip
    assert packed_blocks([10, 20], 4, key) == {
        "key": "data.max_length", "size": 100, "tokens": 60, "blocks": 1, "estimated": True,
    }  # fmt: skip


def test_past_twenty_refused_answers_the_rest_are_counted(compose_cfg: Any, tmp_path: Path) -> None:
    rows = {
        "train": [_qa(f"t{i}", 26) for i in range(6)],
        "validation": [_qa(f"v{i}", 27) for i in range(23)],
        "test": [_qa("s0", 26)],
    }
    overrides = ("data=squad", f"data.path={_write(tmp_path, rows)}")
    overrides += tuple(f"data.splits.{s}={s}" for s in SPLITS)
    [warning] = _refusal_warnings(compose_cfg, *overrides)
    assert warning.startswith("validation: 23 rows have an answer lab.train refuses; the first ")
    assert warning.endswith("; all: " + ", ".join(f"v{i}" for i in range(20)) + " (3 more)")
