"""`lab.inspect` counts the classes of every split, not only train's (s24c M2): a skewed or
few-shot file whose validation or test split (given, or carved from train by
`data.val_fraction` / `data.test_fraction`) holds no row of a class train holds says so, in
`inspect.json` (`label_counts`, `classes_missing` per split) and in one warning per split.
Counts are asserted on hand-built files."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from lab.data.inspection_classes import class_counts, split_lacks_classes_warning
from lab.data.unseen_classes import few


def _inspect(compose_cfg: Any, *overrides: str) -> dict[str, Any]:
    from hydra.utils import instantiate

    from lab.data.inspection import inspect_data

    cfg = compose_cfg("model=tiny_bert", *overrides)
    report: dict[str, Any] = inspect_data(cfg, instantiate(cfg.model.tokenizer))["report"]
    return report


def _counts(report: dict[str, Any]) -> dict[str, Any]:
    return {name: entry.get("label_counts") for name, entry in report["splits"].items()}


def _missing_warnings(report: dict[str, Any]) -> list[str]:
    return [w for w in report["warnings"] if "that train holds" in w]


def _skewed_file(path: Path) -> Path:
    """40 rows: 38 of class 0, 2 of class 1 (the finding's file)."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows([(f"common review number {i}", 0) for i in range(38)])
        writer.writerows([(f"rare review number {i}", 1) for i in range(2)])
    return path


def test_carved_splits_of_a_skewed_file_show_the_class_they_lack(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """Validation and test are carved 4 rows each, stratified: class 1 (2 rows in 40) has 0.2
    of a row in each, so neither holds one; train keeps both."""
    path = _skewed_file(tmp_path / "imb40.csv")
    report = _inspect(compose_cfg, "data=csv", f"data.path={path}")
    assert sorted(report["carved"]) == ["test", "validation"]
    assert _counts(report) == {
        "train": {"0": 30, "1": 2},
        "validation": {"0": 4, "1": 0},
        "test": {"0": 4, "1": 0},
    }
    assert report["labels"]["counts"] == {"0": 30, "1": 2}  # the table's train column
    assert [report["splits"][s].get("classes_missing") for s in report["splits"]] == [
        None,
        ["1"],
        ["1"],
    ]
    assert _missing_warnings(report) == [
        "validation (carved) holds no row of class '1' that train holds: its scores do not "
        "measure it; a larger data.val_fraction or more rows of this class in the file would "
        "carve some into it",
        "test (carved) holds no row of class '1' that train holds: its scores do not measure "
        "it; a larger data.test_fraction or more rows of this class in the file would carve "
        "some into it",
    ]


def test_given_splits_count_each_class_and_name_what_each_lacks(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """Named classes from train's labels; validation lacks `neutral`, test lacks `neg` and
    `neutral`; test's `mixed` (never in train) is training's refusal, not a class counted."""
    rows = {
        "train": ["pos"] * 5 + ["neg"] * 3 + ["neutral"] * 2,
        "validation": ["pos", "pos", "neg"],
        "test": ["pos", "mixed"],
    }
    for split, labels in rows.items():
        lines = [f"{split} review {i},{label}" for i, label in enumerate(labels)]
        (tmp_path / f"{split}.csv").write_text("text,label\n" + "\n".join(lines) + "\n")
    report = _inspect(compose_cfg, "data=csv", f"data.path={tmp_path}")
    assert report["carved"] == []
    assert _counts(report) == {
        "train": {"neg": 3, "neutral": 2, "pos": 5},
        "validation": {"neg": 1, "neutral": 0, "pos": 2},
        "test": {"neg": 0, "neutral": 0, "pos": 1},
    }
    assert _missing_warnings(report) == [
        "validation holds no row of class 'neutral' that train holds: its scores do not measure it",
        "test holds no row of 2 classes ('neg', 'neutral') that train holds: its scores do "
        "not measure them",
    ]
    assert any(
        w.startswith("test: 1 row has 1 label that never occurs") for w in report["warnings"]
    )


def test_named_classes_without_train_rows_are_no_missing_class(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """`data.label_names` lists 3 classes, train holds 0 and 1 only: class 2 is 0 everywhere,
    and only what train holds is missed (test lacks class 1)."""
    rows = {"train": [0, 0, 0, 1, 1, 0], "validation": [0, 1], "test": [0, 0]}
    for split, labels in rows.items():
        lines = [f"{split} review {i},{label}" for i, label in enumerate(labels)]
        (tmp_path / f"{split}.csv").write_text("text,label\n" + "\n".join(lines) + "\n")
    report = _inspect(
        compose_cfg, "data=csv", f"data.path={tmp_path}", "data.label_names=[neg,pos,mixed]"
    )
    assert _counts(report) == {
        "train": {"neg": 4, "pos": 2, "mixed": 0},
        "validation": {"neg": 1, "pos": 1, "mixed": 0},
        "test": {"neg": 2, "pos": 0, "mixed": 0},
    }
    assert report["splits"]["validation"]["classes_missing"] == []
    assert _missing_warnings(report) == [
        "test holds no row of class 'pos' that train holds: its scores do not measure it"
    ]


def test_a_split_of_hidden_labels_gets_the_gap_warning_only(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """GLUE's test splits hide every label (-1): no class is counted there, and the warning
    that says so is the label gap's, not a list of every class as missing."""
    rows = {"train": [0, 1, 0, 1], "validation": [0, 1], "test": [-1, -1]}
    for split, labels in rows.items():
        lines = [f"{split} review {i},{label}" for i, label in enumerate(labels)]
        (tmp_path / f"{split}.csv").write_text("text,label\n" + "\n".join(lines) + "\n")
    report = _inspect(compose_cfg, "data=csv", f"data.path={tmp_path}")
    assert _counts(report)["test"] == {"0": 0, "1": 0}
    assert _missing_warnings(report) == []
    assert any(w.startswith("test: every label is -1") for w in report["warnings"])


def test_multi_label_splits_count_the_rows_holding_each_class(
    compose_cfg: Any, tmp_path: Path
) -> None:
    rows = {
        "train": [[0, 1], [1], [0], [2], [0, 2]] * 2,
        "validation": [[0, 1], [1], [0, 1]],
        "test": [[2], [0, 2]],
    }
    for split, labels in rows.items():
        lines = [
            json.dumps({"text": f"{split} review {i}", "label": v}) for i, v in enumerate(labels)
        ]
        (tmp_path / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
    report = _inspect(
        compose_cfg, "data=json", f"data.path={tmp_path}", "data.problem_type=multi_label"
    )
    assert _counts(report) == {
        "train": {"0": 6, "1": 4, "2": 4},
        "validation": {"0": 2, "1": 3, "2": 0},
        "test": {"0": 1, "1": 0, "2": 2},
    }
    assert _missing_warnings(report) == [
        "validation holds no row of class '2' that train holds: its scores do not measure it",
        "test holds no row of class '1' that train holds: its scores do not measure it",
    ]


def test_token_classification_counts_tags_per_split(compose_cfg: Any, tmp_path: Path) -> None:
    """CoNLL's 9 tag names: validation has no MISC word, test no LOC or MISC word."""
    names = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
    rows = {
        "train": [[1, 2, 0], [3, 4, 0], [5, 6, 0], [7, 8, 0]],
        "validation": [[1, 2, 0], [3, 0], [5, 0]],
        "test": [[1, 0, 0], [3, 4]],
    }
    for split, sentences in rows.items():
        lines = [
            json.dumps({"tokens": [f"w{i}" for i in range(len(tags))], "ner_tags": tags})
            for tags in sentences
        ]
        (tmp_path / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
    report = _inspect(compose_cfg, "data=conll2003", f"data.path={tmp_path}")
    counts = _counts(report)
    assert counts["train"] == {"O": 4, **dict.fromkeys(names[1:], 1)}
    assert counts["validation"] == {
        "O": 3,
        "B-PER": 1,
        "I-PER": 1,
        "B-ORG": 1,
        "I-ORG": 0,
        "B-LOC": 1,
        "I-LOC": 0,
        "B-MISC": 0,
        "I-MISC": 0,
    }
    assert counts["test"] == {
        "O": 2,
        "B-PER": 1,
        "I-PER": 0,
        "B-ORG": 1,
        "I-ORG": 1,
        **dict.fromkeys(names[5:], 0),
    }
    assert _missing_warnings(report) == [
        "validation holds no word of 4 tags ('I-ORG', 'I-LOC', 'B-MISC', 'I-MISC') that train "
        "holds: its scores do not measure them",
        "test holds no word of 5 tags ('I-PER', 'B-LOC', 'I-LOC', 'B-MISC', 'I-MISC') that "
        "train holds: its scores do not measure them",
    ]


def test_regression_labels_have_no_class_counts(compose_cfg: Any, tmp_path: Path) -> None:
    for split, scores in (("train", [0.5, 1.5, 2.0, 4.0]), ("validation", [1.0]), ("test", [3.0])):
        lines = [f"{split} pair {i},{s}" for i, s in enumerate(scores)]
        (tmp_path / f"{split}.csv").write_text("text,label\n" + "\n".join(lines) + "\n")
    report = _inspect(
        compose_cfg, "data=csv", f"data.path={tmp_path}", "data.problem_type=regression"
    )
    assert "numeric" in report["labels"]
    assert _counts(report) == {"train": None, "validation": None, "test": None}
    assert _missing_warnings(report) == []


def test_the_warning_names_a_long_list_of_classes_within_bounds() -> None:
    missing = [f"intent_{i:03d}_of_the_banking_set" for i in range(150)]
    warning = split_lacks_classes_warning("test", missing)
    assert warning == (
        f"test holds no row of 150 classes ({few(missing)}) that train holds: its scores do "
        "not measure them"
    )
    assert "and 146 more" in warning and len(warning) < 300


def test_the_cli_writes_the_counts_to_inspect_json(tmp_path: Path) -> None:
    from lab.inspect import main

    path = _skewed_file(tmp_path / "imb40.csv")
    out = tmp_path / "report"
    assert main(["model=tiny_bert", "data=csv", f"data.path={path}", f"out={out}"]) == 0
    written = json.loads((out / "inspect.json").read_text())
    assert written["splits"]["validation"]["label_counts"] == {"0": 4, "1": 0}
    assert written["splits"]["test"]["classes_missing"] == ["1"]
    assert written["splits"]["train"]["label_counts"] == {"0": 30, "1": 2}


@pytest.mark.parametrize(
    ("cells", "classes", "expected"),
    [
        ([1, 0, 1, None, 1], ["0", "1"], {"0": 1, "1": 3}),  # an empty cell is no class
        ([[0, 1], [1], None, [1, None]], ["0", "1"], {"0": 1, "1": 3}),  # a list's elements
        (["pos", "neg", "pos"], ["neg", "pos", "odd"], {"neg": 1, "pos": 2, "odd": 0}),
    ],
)
def test_values_are_counted_per_class(
    cells: list[Any], classes: list[str], expected: dict[str, int]
) -> None:
    from datasets import Dataset

    counted = class_counts(Dataset.from_dict({"label": cells}), "label", classes, None, None)
    assert counted == expected


def test_the_label_table_shows_each_splits_counts_beside_trains(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """On screen: a column per evaluated split beside train's rows, share and weight, 0 where
    a split lacks a class, and the warnings naming it."""
    from rich.console import Console

    from lab.inspect import show

    path = _skewed_file(tmp_path / "imb40.csv")
    report = {
        "data": "csv",
        "model": "tiny_bert",
        **_inspect(compose_cfg, "data=csv", f"data.path={path}"),
    }
    console = Console(width=100, record=True, color_system=None)
    show(report, console)
    text = console.export_text()
    lines = text.splitlines()
    title = "train labels; validation, test: rows per label"  # centred over the table
    start = [line.strip() for line in lines].index(title)
    assert lines[start + 1 : start + 7] == [
        "┏━━━━━━━┳━━━━━━┳━━━━━━━┳━━━━━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━┓",
        "┃ label ┃ rows ┃ share ┃ class weight ┃ validation ┃ test ┃",
        "┡━━━━━━━╇━━━━━━╇━━━━━━━╇━━━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━┩",
        "│ 0     │   30 │ 93.8% │        0.533 │          4 │    4 │",
        "│ 1     │    2 │  6.2% │        8.000 │          0 │    0 │",
        "└───────┴──────┴───────┴──────────────┴────────────┴──────┘",
    ]
    shown = " ".join(text.split())  # warnings wrap at the console's width
    for split, key in (("validation", "val_fraction"), ("test", "test_fraction")):
        assert (
            f"warning: {split} (carved) holds no row of class '1' that train holds: its scores "
            f"do not measure it; a larger data.{key} or more rows of this class in the file "
            "would carve some into it"
        ) in shown


def test_a_table_of_train_only_keeps_its_title_and_columns() -> None:
    """A report whose other splits have no label counts (train alone, or an inspect.json
    written before them) prints train's table as before."""
    import io

    from rich.console import Console

    from lab.inspect_labels import print_label_table

    report = {
        "labels": {"counts": {"a": 2}, "shares": {"a": 1.0}, "class_weights": {"a": 1.0}},
        "splits": {"train": {"label_counts": {"a": 2}}},
        "class_weights_option": False,
    }
    screen = io.StringIO()
    print_label_table(report, Console(file=screen, width=60, color_system=None))
    lines = screen.getvalue().splitlines()
    assert lines[0].strip() == "train labels"
    assert lines[2] == "┃ label ┃ rows ┃  share ┃"
