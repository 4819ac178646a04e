"""`lab.inspect` lists every label `lab.train` refuses, in training's words, per split with its
rows: a fractional number, a string that names no class (unseen in train, or outside
`data.label_names`), an integer outside the ids of labels named by the data."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from lab.errors import DataError
from lab.training.tokenizers import build_tokenizer


def _files(folder: Path, labels: dict[str, list[Any]]) -> Path:
    """train/validation/test CSVs of `text,label` with these labels."""
    for split, values in labels.items():
        lines = ["text,label"] + [f"{split} review {i},{v}" for i, v in enumerate(values)]
        (folder / f"{split}.csv").write_text("\n".join(lines) + "\n")
    return folder


def _training_refusal(compose_cfg: Any, folder: Path, *overrides: str) -> str:
    """What lab.train says of the first refused label, after the row that holds it."""
    from lab.build import build_datamodule

    cfg = compose_cfg("model=tiny_bert", "data=csv", f"data.path={folder}", *overrides)
    with pytest.raises(DataError) as caught:
        build_datamodule(cfg, build_tokenizer(cfg))
    where, refusal = str(caught.value).split(": ", 1)  # "<file>:<line> column 'label'"
    assert where.endswith("column 'label'"), where
    return refusal


def _label_warnings(compose_cfg: Any, folder: Path, *overrides: str) -> list[str]:
    from lab.data.inspection import inspect_data

    cfg = compose_cfg("model=tiny_bert", "data=csv", f"data.path={folder}", *overrides)
    report = inspect_data(cfg, build_tokenizer(cfg))["report"]
    return [w for w in report["warnings"] if "; lab.train refuses it: " in w]


def test_a_fractional_label_is_listed_in_trainings_words(compose_cfg: Any, tmp_path: Path) -> None:
    folder = _files(tmp_path, {"train": [0, 1] * 6, "validation": [0, 0.5, 1, 0.5], "test": [1, 0]})
    refused = _training_refusal(compose_cfg, folder)
    assert refused == (
        "label 0.5 is not a class id (a whole number) or name; for a number per row set "
        "data.problem_type=regression"
    )
    assert _label_warnings(compose_cfg, folder) == [
        f"validation: 2 rows have label 0.5; lab.train refuses it: {refused}"
    ]


def test_a_string_label_unseen_in_train_is_listed_in_trainings_words(
    compose_cfg: Any, tmp_path: Path
) -> None:
    labels = {"train": ["neg", "pos"] * 6, "validation": ["pos", "neg"], "test": ["meh", "neg"]}
    folder = _files(tmp_path, labels)
    refused = _training_refusal(compose_cfg, folder)
    # No names given: train's labels are the classes, and the way to train with others is said
    reason = (
        "the classes are the labels of train (2 of them: 'neg', 'pos'); to train with other "
        "classes too, list every class: data.label_names=[...]"
    )
    assert refused == f"label 'meh' never occurs in train: {reason}"
    assert _label_warnings(compose_cfg, folder) == [
        f"test: 1 row has 1 label that never occurs in train ('meh'); lab.train refuses it: "
        f"{reason}"
    ]


def test_string_labels_outside_the_configured_names_are_listed_per_split(
    compose_cfg: Any, tmp_path: Path
) -> None:
    labels = {"train": ["neg", "pos", "neutral"] * 4, "validation": ["pos", "neg"], "test": ["x"]}
    folder = _files(tmp_path, labels)
    names = "data.label_names=[neg,pos]"
    refused = _training_refusal(compose_cfg, folder, names)
    # Names from data.label_names (a data config may bring its own): the way back is said.
    advice = "; fix the data, or set data.label_names to its names (null: those in train)"
    assert refused == f"label 'neutral' is not one of the label names ['neg', 'pos']{advice}"
    assert _label_warnings(compose_cfg, folder, names) == [
        f"train: 4 rows have label 'neutral'; lab.train refuses it: {refused}",
        "test: 1 row has label 'x'; lab.train refuses it: label 'x' is not one of the label "
        f"names ['neg', 'pos']{advice}",
    ]


def test_an_integer_beyond_the_train_labels_is_listed_in_trainings_words(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """Ids 0..2 named by train's labels: a 5 in validation is outside them."""
    folder = _files(tmp_path, {"train": [0, 1, 2] * 4, "validation": [5, 1], "test": [0, 2]})
    refused = _training_refusal(compose_cfg, folder)
    assert refused == (
        "label 5 is outside num_labels=3 (valid: 0..2); fix the data or set data.num_labels"
    )
    assert _label_warnings(compose_cfg, folder) == [
        f"validation: 1 row has label 5; lab.train refuses it: {refused}"
    ]


def test_labels_training_takes_give_no_refusal(compose_cfg: Any, tmp_path: Path) -> None:
    """Strings with stray spaces (one class), whole-number floats: training takes them. The
    hidden -1 and an empty cell: refused, in the words of lab.inspect's label gaps, not here."""
    spaced = {"train": ["neg", "pos ", " pos"] * 4, "validation": ["pos", "neg"], "test": ["neg"]}
    floats = {"train": [0, 1] * 6, "validation": [1.0, 0.0], "test": [-1, ""]}
    for name, labels in (("spaced", spaced), ("floats", floats)):
        (tmp_path / name).mkdir()
        assert _label_warnings(compose_cfg, _files(tmp_path / name, labels)) == [], name


def test_a_multi_label_element_outside_the_ids_is_listed_minus_one_too(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """Multi-label rows are lists: -1 there is refused as no class (never made one, which bare
    ids -1, 0, 1 would), and lab.inspect's label gaps do not look inside lists, so an empty
    element is listed here too."""
    import json

    rows = {"train": [[0, 1], [1], [0]] * 4, "validation": [[-1, 0], [1]], "test": [[0, None]]}
    for split, labels in rows.items():
        lines = [
            json.dumps({"text": f"{split} review {i}", "label": v}) for i, v in enumerate(labels)
        ]
        (tmp_path / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
    overrides = ["data=json", f"data.path={tmp_path}", "data.problem_type=multi_label"]
    cfg = compose_cfg("model=tiny_bert", *overrides)
    from lab.build import build_datamodule
    from lab.data.inspection import inspect_data

    with pytest.raises(DataError) as caught:
        build_datamodule(cfg, build_tokenizer(cfg))
    refused = str(caught.value).split(": ", 1)[1]
    assert refused == (
        "label -1 inside a multi-label list names no class (a hidden label); a row's list "
        "holds its classes: remove the -1 (an empty list is a row of no class)"
    )
    report = inspect_data(cfg, build_tokenizer(cfg))["report"]
    assert [w for w in report["warnings"] if "; lab.train refuses it: " in w] == [
        f"validation: 1 row has label -1; lab.train refuses it: {refused}",
        "test: 1 row has label None; lab.train refuses it: the cell is empty",
    ]


def _jsonl_files(folder: Path, labels: dict[str, list[Any]]) -> Path:
    import json

    for split, values in labels.items():
        lines = [json.dumps({"text": f"{split} {i}", "label": v}) for i, v in enumerate(values)]
        (folder / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def _json_warnings(compose_cfg: Any, folder: Path, *overrides: str) -> list[str]:
    from lab.data.inspection import inspect_data

    cfg = compose_cfg("model=tiny_bert", "data=json", f"data.path={folder}", *overrides)
    report = inspect_data(cfg, build_tokenizer(cfg))["report"]
    return [w for w in report["warnings"] if "lab.train refuses" in w]


def test_a_json_column_of_mixed_types_is_read_as_training_reads_it(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """0, 1 and "pos" in one JSON file: `datasets` stores the column as Json text ('0',
    '"pos"'); training reads the decoded values, and so does lab.inspect: only "pos" is listed."""
    from lab.build import build_datamodule

    folder = _jsonl_files(
        tmp_path, {"train": [0, 1] * 6, "validation": [0, 1, 1, "pos"], "test": [0]}
    )
    cfg = compose_cfg("model=tiny_bert", "data=json", f"data.path={folder}")
    with pytest.raises(DataError) as caught:
        build_datamodule(cfg, build_tokenizer(cfg))
    where, refused = str(caught.value).split(": ", 1)
    assert where.endswith("validation.jsonl:4 column 'label'")
    assert _json_warnings(compose_cfg, folder) == [
        f"validation: 1 row has label 'pos'; lab.train refuses it: {refused}"
    ]


def test_list_labels_under_single_label_point_to_multi_label(
    compose_cfg: Any, tmp_path: Path
) -> None:
    from lab.build import build_datamodule

    folder = _jsonl_files(tmp_path, {"train": [[0], [1]] * 6, "validation": [[1]], "test": [[0]]})
    cfg = compose_cfg("model=tiny_bert", "data=json", f"data.path={folder}")
    with pytest.raises(DataError) as caught:
        build_datamodule(cfg, build_tokenizer(cfg))
    assert str(caught.value) == (
        "the train split's labels are lists ([0], ...), but data.problem_type=single_label takes "
        "one label per row; for several labels per row set task=multi_label_classification "
        "data.problem_type=multi_label"
    )
    assert _json_warnings(compose_cfg, folder) == [f"lab.train refuses the labels: {caught.value}"]


def test_many_refused_labels_are_counted_past_the_first_five(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """Labels outside the given names: five listed, then a count."""
    from lab.data.inspection import inspect_data

    unseen = [f"other{i}" for i in range(8)]
    labels = {"train": ["neg", "pos"] * 6, "validation": ["neg", *unseen], "test": ["pos"]}
    folder = _files(tmp_path, labels)
    cfg = compose_cfg(
        "model=tiny_bert", "data=csv", f"data.path={folder}", "data.label_names=[neg,pos]"
    )
    report = inspect_data(cfg, build_tokenizer(cfg))["report"]
    assert [w for w in report["warnings"] if "lab.train refuses" in w] == [
        *(
            f"validation: 1 row has label 'other{i}'; lab.train refuses it: label 'other{i}' is "
            "not one of the label names ['neg', 'pos']; fix the data, or set data.label_names "
            "to its names (null: those in train)"
            for i in range(5)
        ),
        "validation: 3 more labels lab.train refuses, in 3 rows (a label column holding text?)",
    ]


def test_a_regression_label_that_is_no_number_is_named_where_it_is(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """'high' among scores makes the CSV column text: training named the first row ('0.69',
    which reads as a number); it names 'high' now, and lab.inspect says the same."""
    scores = [0.69, 1.5, 2.25, 3.0] * 3
    labels = {"train": scores, "validation": [0.5, 1.0, "high", 2.0], "test": [1.25]}
    folder = _files(tmp_path, labels)
    overrides = ("data.problem_type=regression", "task=text_regression")
    refused = _training_refusal(compose_cfg, folder, *overrides)
    assert refused == (
        "regression label 'high' is not a number (so the column is read as text, '0.5' included)"
    )
    from lab.data.inspection import inspect_data

    cfg = compose_cfg("model=tiny_bert", "data=csv", f"data.path={folder}", *overrides)
    report = inspect_data(cfg, build_tokenizer(cfg))["report"]
    assert [w for w in report["warnings"] if "lab.train refuses" in w] == [
        f"validation: {folder / 'validation.csv'}:4: lab.train refuses it: {refused}"
    ]


def test_a_regression_cell_read_as_missing_is_named_once(compose_cfg: Any, tmp_path: Path) -> None:
    """An empty cell in a CSV score column is missing: training says so in those words, and
    lab.inspect reports it once (as a row without a label), not also as "None is no number".
    A cell that reads 'n/a' is text, refused by training as such (lab.data.csv_quotes)."""
    scores = [0.5, 1.5, 2.5, 3.5] * 3
    folder = _files(tmp_path, {"train": scores, "validation": [0.5, "n/a", 1.0], "test": [1.0]})
    overrides = ("data.problem_type=regression", "task=text_regression")
    assert _training_refusal(compose_cfg, folder, *overrides) == (
        "regression label 'n/a' is not a number (so the column is read as text, '0.5' included)"
    )
    folder = _files(tmp_path, {"train": scores, "validation": [0.5, "", 1.0], "test": [1.0]})
    assert _training_refusal(compose_cfg, folder, *overrides) == (
        "the regression label is missing (an empty cell, a null or NaN)"
    )
    from lab.data.inspection import inspect_data

    cfg = compose_cfg("model=tiny_bert", "data=csv", f"data.path={folder}", *overrides)
    warnings = inspect_data(cfg, build_tokenizer(cfg))["report"]["warnings"]
    assert [w for w in warnings if "lab.train refuses" in w] == [
        f"validation: 1 row has no label (an empty cell) ({folder / 'validation.csv'}:3): "
        "lab.train refuses it"
    ]


def test_regression_scores_stored_as_text_are_refused_with_the_advice() -> None:
    from lab.tasks.text_classification.label_values import regression_label_problem

    missing = "the regression label is missing (an empty cell, a null or NaN)"
    assert regression_label_problem([0.5, 2, float("nan")]) == (2, missing)
    assert regression_label_problem([0.5, None, "x"]) == (1, missing)
    # lab.inspect counts missing cells on their own (a label gap): the first other problem
    assert regression_label_problem([0.5, None, "x"], skip_missing=True) == (
        2,
        "regression label 'x' is not a number",
    )
    assert regression_label_problem([0.5, None], skip_missing=True) is None
    assert regression_label_problem(["0.5", "2"]) == (
        0,
        "regression label '0.5' is text; store the scores as numbers",
    )
    assert regression_label_problem([0.5, True, 3]) is None  # booleans train as 0/1, as before


def test_multi_label_lists_stored_as_text_are_named_with_the_way_out(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """A CSV stores `[2, 0]` as text: training named the classes after its characters
    ('[', ',', ...) and lab.inspect listed them; both now stop at the first such cell."""
    labels = {"train": ['"[2, 0]"', '"[1]"'] * 6, "validation": ['"[1]"'], "test": ['"[0]"']}
    folder = _files(tmp_path, labels)
    overrides = ("data.problem_type=multi_label",)
    refused = _training_refusal(compose_cfg, folder, *overrides)
    assert refused == (
        "multi-label rows need a list of labels, got '[2, 0]' (a CSV file stores a list as "
        "text: write multi-label data as JSON lines or Parquet)"
    )
    from lab.data.inspection import inspect_data

    cfg = compose_cfg("model=tiny_bert", "data=csv", f"data.path={folder}", *overrides)
    report = inspect_data(cfg, build_tokenizer(cfg))["report"]
    assert [w for w in report["warnings"] if "lab.train refuses" in w] == [
        f"train: {folder / 'train.csv'}:2: lab.train refuses it: {refused}"
    ]


def test_multi_label_text_lists_in_a_carved_train_are_named_at_the_files_first(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """No validation file: validation is carved from a seeded shuffle of train.csv, and the
    first non-list cell of the shuffle is any of them; training names the file's first
    (line 2), under any seed."""
    from lab.build import build_datamodule

    rows = ["text,labels"] + [f'review {i},"[{i % 3}]"' for i in range(40)]
    (tmp_path / "train.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "test.csv").write_text('text,labels\nreview x,"[1]"\n')
    for seed in (42, 3):
        cfg = compose_cfg(
            "model=tiny_bert",
            "data=csv",
            f"data.path={tmp_path}",
            "data.label_column=labels",
            "data.problem_type=multi_label",
            f"seed={seed}",
        )
        with pytest.raises(DataError) as caught:
            build_datamodule(cfg, build_tokenizer(cfg))
        assert str(caught.value).startswith(
            f"{tmp_path / 'train.csv'}:2 column 'labels': multi-label rows need a list of "
            "labels, got '[0]'"
        ), seed


def test_a_text_column_of_numbers_is_listed_first_in_trainings_words(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """Text and label swapped (data.text_column=label): training stops at the text column."""
    folder = _files(tmp_path, {"train": [0, 1] * 6, "validation": [1, 0], "test": [0, 1]})
    from lab.build import build_datamodule
    from lab.data.inspection import inspect_data

    swapped = ("model=tiny_bert", "data=csv", f"data.path={folder}", "data.text_column=label")
    cfg = compose_cfg(*swapped, "data.label_column=text")
    with pytest.raises(DataError) as caught:
        build_datamodule(cfg, build_tokenizer(cfg))
    assert (
        str(caught.value) == f"{folder / 'train.csv'} column 'label': holds int64 values, not text"
    )
    warnings = inspect_data(cfg, build_tokenizer(cfg))["report"]["warnings"]
    assert warnings[:3] == [
        f"{split}: column 'label': lab.train refuses it: holds int64 values, not text"
        for split in ("train", "validation", "test")
    ]


def test_a_multi_label_minus_one_beside_bare_ids_is_refused_not_a_class(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """Ids 0..2 with one list holding -1, no names: -1 became a class "-1" and every real
    class moved one id up. Refused at its row; the classes stay 0..2."""
    import json

    rows = [[0, 1], [2], [0], [1, 2]] * 3 + [[0, -1]]
    for split, labels in {"train": rows, "validation": rows[:4], "test": rows[:4]}.items():
        lines = [json.dumps({"text": f"review {i}", "label": v}) for i, v in enumerate(labels)]
        (tmp_path / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
    cfg = compose_cfg(
        "model=tiny_bert", "data=json", f"data.path={tmp_path}", "data.problem_type=multi_label"
    )
    from lab.build import build_datamodule
    from lab.data.inspection import inspect_data

    with pytest.raises(DataError, match=r"train.jsonl:13 column 'label': label -1 inside a multi"):
        build_datamodule(cfg, build_tokenizer(cfg))
    report = inspect_data(cfg, build_tokenizer(cfg))["report"]
    assert list(report["labels"]["counts"]) == ["0", "1", "2"]


def test_text_labels_with_one_number_among_them_are_named_at_its_line(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """JSON lines of "neg"/"pos" and one 1: the 1 alone made the classes (`the train split
    has 1 class(es) (['1'])`). Now its line is named; inspect says the same, with no table."""
    import json

    labels: list[Any] = ["neg", "pos"] * 20
    for line in (5, 15, 25, 35):  # 1 at these lines: some reach the carved train split
        labels.insert(line - 1, 1)
    lines = [json.dumps({"text": f"review {i}", "label": v}) for i, v in enumerate(labels)]
    (tmp_path / "reviews.jsonl").write_text("\n".join(lines) + "\n")
    cfg = compose_cfg("model=tiny_bert", "data=json", f"data.path={tmp_path / 'reviews.jsonl'}")
    from lab.build import build_datamodule
    from lab.data.inspection import inspect_data

    why = "label 1 is a number among labels of text ('neg', 'pos', ...): write every label as text"
    with pytest.raises(DataError) as caught:
        build_datamodule(cfg, build_tokenizer(cfg))
    where, rest = str(caught.value).split(" column 'label': ", 1)
    file, line = where.rsplit(":", 1)
    assert (file, int(line) in (5, 15, 25, 35), rest) == (
        str(tmp_path / "reviews.jsonl"),
        True,
        why,
    )
    report = inspect_data(cfg, build_tokenizer(cfg))["report"]
    assert [w for w in report["warnings"] if w.endswith(f": lab.train refuses it: {why}")]
    assert report["labels"] == {}


def test_a_folder_whose_train_file_mixes_label_types_names_the_number_s_line(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """train/validation/test.jsonl, one 1 among train's "neg"/"pos": read in one call,
    datasets took test's string type for train's mixed (Json) column and cast its cells to
    JSON text ('"neg"', '1'), and training then refused validation's 'neg' as no label name.
    lab reads such splits one by one: the 1's own line is named, as for a single file."""
    import json

    from lab.build import build_datamodule
    from lab.data.sources import load_source

    for split, rows in (("train", 12), ("validation", 4), ("test", 4)):
        labels: list[Any] = ["neg", "pos"] * (rows // 2)
        if split == "train":
            labels[7] = 1
        lines = [
            json.dumps({"text": f"{split} review {i}", "label": v}) for i, v in enumerate(labels)
        ]
        (tmp_path / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
    source = load_source(str(tmp_path), None, None, None)
    assert source["train"]["label"][6:9] == ["neg", 1, "neg"]  # decoded, not '"neg"'
    assert source["test"]["label"][:2] == ["neg", "pos"]
    cfg = compose_cfg("model=tiny_bert", "data=json", f"data.path={tmp_path}")
    with pytest.raises(DataError) as caught:
        build_datamodule(cfg, build_tokenizer(cfg))
    assert str(caught.value) == (
        f"{tmp_path / 'train.jsonl'}:8 column 'label': label 1 is a number among labels of "
        "text ('neg', 'pos', ...): write every label as text"
    )


def test_json_text_columns_tells_json_text_from_text_and_number_strings() -> None:
    import datasets

    from lab.data.json_text import json_text_columns

    table = {
        "cast": ['"neg"', "1", None, '"pos"'],  # what a Json column cast to strings holds
        "text": ["neg", "1", None, "pos"],
        "digits": ["1", "2", None, "3"],
        "quoted": ['"a quote"', "not json", None, '"b"'],
        "number": [1, 2, None, 3],
    }
    assert json_text_columns(datasets.Dataset.from_dict(table)) == ["cast"]


def test_an_empty_text_cell_is_listed_in_trainings_words(compose_cfg: Any, tmp_path: Path) -> None:
    """A CSV row without text: training refuses it; inspect said only "1 empty row(s)"."""
    (tmp_path / "train.csv").write_text(
        "text,label\n" + "".join(f"review {i},{i % 2}\n" for i in range(11)) + ",1\n"
    )
    for split in ("validation", "test"):
        (tmp_path / f"{split}.csv").write_text("text,label\na,0\nb,1\n")
    cfg = compose_cfg("model=tiny_bert", "data=csv", f"data.path={tmp_path}")
    from lab.build import build_datamodule
    from lab.data.inspection import inspect_data

    with pytest.raises(DataError) as caught:
        build_datamodule(cfg, build_tokenizer(cfg))
    assert str(caught.value) == f"{tmp_path / 'train.csv'}:13 column 'text': the cell is empty"
    warnings = inspect_data(cfg, build_tokenizer(cfg))["report"]["warnings"]
    assert (
        f"train: 1 row has an empty 'text' cell (the first: {tmp_path / 'train.csv'}:13); "
        "lab.train refuses it: the cell is empty"
    ) in warnings


def test_a_row_of_a_carved_split_is_named_by_its_file_line_as_training_names_it(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """One CSV: validation and test are carved from a shuffle of it, so a row's place in its
    split ("row 13") was no line of the file; inspect names the file's line, as training
    does. (A score column with text in it also crashed the regression summary: numbers only.)"""
    scores: list[Any] = [0.5, 1.5, 2.5, 3.5] * 10
    scores[15] = "high"  # line 17 of the file (the header is line 1)
    (tmp_path / "scores.csv").write_text(
        "text,label\n" + "".join(f"pair {i},{v}\n" for i, v in enumerate(scores))
    )
    from lab.data.inspection import inspect_data

    cfg = compose_cfg(
        "model=tiny_bert",
        "data=csv",
        f"data.path={tmp_path / 'scores.csv'}",
        "data.problem_type=regression",
        "task=text_regression",
    )
    report = inspect_data(cfg, build_tokenizer(cfg))["report"]
    refusals = [w for w in report["warnings"] if "lab.train refuses" in w]
    assert refusals[0] == (
        f"train: {tmp_path / 'scores.csv'}:17: lab.train refuses it: regression label 'high' is "
        "not a number (so the column is read as text, '0.5' included)"
    )  # the example: the first number string in the file (inspect reads splits in file order)
    # the other splits hold number strings only
    assert [r.split(": ")[0] for r in refusals] == ["train", "validation", "test"]
    assert all(re.match(rf"\w+: {re.escape(str(tmp_path))}/scores.csv:\d+: ", r) for r in refusals)
    assert report["labels"] == {}  # a column of text: no summary of its scores (it crashed)


def test_a_text_column_named_as_the_labels_is_said_once_per_split(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """Every train row its own class, every validation label unseen: one line (its labels
    shortened), with the guess at the cause, not one line per review."""
    from lab.data.inspection import inspect_data

    labels = {
        "train": [f"a review {i:02d}" for i in range(12)],
        "validation": [f"other review {i}" for i in range(9)],
        "test": ["a review 00"],
    }
    cfg = compose_cfg("model=tiny_bert", "data=csv", f"data.path={_files(tmp_path, labels)}")
    report = inspect_data(cfg, build_tokenizer(cfg))["report"]
    others = ", ".join(f"'other review {i}'" for i in range(8))
    names = ", ".join(f"'a review {i:02d}'" for i in range(8))
    assert [w for w in report["warnings"] if "lab.train refuses" in w] == [
        f"validation: 9 rows have 9 labels that never occur in train ({others}, "
        "'other review 8') (a label column holding text?); lab.train refuses them: the classes "
        f"are the labels of train (12 of them: {names} and 4 more); to train with other "
        "classes too, list every class: data.label_names=[...]"
    ]
