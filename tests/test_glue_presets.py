"""GLUE's nine tasks as data presets, read from the Hub's `nyu-mll/glue` layout, and what lab
says of GLUE's split layouts.

- Each preset names the Hub's configuration, columns and ClassLabel names (in id order) and
  maps lab's test split to GLUE's public dev split (the test labels are hidden); MNLI
  validates on `validation_matched` and tests on `validation_mismatched`.
- A local copy of the Hub layout (`<config>/<split>-00000-of-00001.parquet`) is read through
  the presets as the Hub is. Through a generic config (`data=csv`) MNLI has no `validation`
  or `test`: both are carved from train, and a console warning names the two labeled dev
  splits left unread and the override that reads them (M5).
- `lab.eval` leaves splits whose labels are all hidden out of the ones it offers (L2).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from lab.errors import DataError
from lab.log_records import is_file_only

GLUE = "nyu-mll/glue"
MNLI_NAMES = ["entailment", "neutral", "contradiction"]
#: the Hub's MNLI splits and their rows in the folder built below (test labels hidden: -1)
MNLI_ROWS = {
    "train": 40,
    "validation_matched": 6,
    "validation_mismatched": 8,
    "test_matched": 5,
    "test_mismatched": 7,
}
#: where each split's `idx` starts, so a row's idx says which split it came from
MNLI_OFFSETS = {name: 1000 * i for i, name in enumerate(MNLI_ROWS)}


@pytest.mark.parametrize(
    ("option", "columns", "names", "splits"),
    [
        ("cola", ("sentence", None), ["unacceptable", "acceptable"], None),
        ("sst2", ("sentence", None), ["negative", "positive"], None),
        ("mrpc", ("sentence1", "sentence2"), ["not_equivalent", "equivalent"], None),
        ("qqp", ("question1", "question2"), ["not_duplicate", "duplicate"], None),
        ("stsb", ("sentence1", "sentence2"), None, None),
        (
            "mnli",
            ("premise", "hypothesis"),
            MNLI_NAMES,
            {"train": "train", "validation": "validation_matched", "test": "validation_mismatched"},
        ),
        ("qnli", ("question", "sentence"), ["entailment", "not_entailment"], None),
        ("rte", ("sentence1", "sentence2"), ["entailment", "not_entailment"], None),
        ("wnli", ("sentence1", "sentence2"), ["not_entailment", "entailment"], None),
    ],
)
def test_each_glue_preset_names_the_hubs_configuration_columns_and_class_names(
    compose_cfg: Any,
    option: str,
    columns: tuple[str, str | None],
    names: list[str] | None,
    splits: dict[str, str] | None,
) -> None:
    """As `datasets.load_dataset("nyu-mll/glue", <config>)` gives them; test on GLUE's public
    dev split, validation carved from train (MNLI: its two dev splits)."""
    data = compose_cfg(f"data={option}").data
    assert (data.hub_id, data.hub_config) == (GLUE, option)
    assert (data.text_column, data.text_pair_column, data.label_column) == (*columns, "label")
    assert (list(data.label_names) if data.label_names else None) == names
    expected: dict[str, str | None] = {"train": "train", "validation": None, "test": "validation"}
    expected = dict(splits) if splits else expected
    assert dict(data.splits) == expected
    assert data.problem_type == ("regression" if option == "stsb" else "single_label")


def _glue_mnli(root: Path) -> Path:
    """GLUE's MNLI as `nyu-mll/glue` stores it: `mnli/<split>-00000-of-00001.parquet`, a
    ClassLabel `label` (-1 in the test splits, whose labels are hidden) and an `idx`."""
    from datasets import ClassLabel, Dataset, Features, Value

    features = Features(
        {
            "premise": Value("string"),
            "hypothesis": Value("string"),
            "label": ClassLabel(names=MNLI_NAMES),
            "idx": Value("int32"),
        }
    )
    for split, count in MNLI_ROWS.items():
        rows = {
            "premise": [f"{split} premise {i}" for i in range(count)],
            "hypothesis": [f"{split} hypothesis {i}" for i in range(count)],
            "label": [-1 if split.startswith("test") else i % 3 for i in range(count)],
            "idx": [MNLI_OFFSETS[split] + i for i in range(count)],
        }
        path = root / "mnli" / f"{split}-00000-of-00001.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        Dataset.from_dict(rows, features=features).to_parquet(path)
    return root


def _read(compose_cfg: Any, *overrides: str) -> tuple[dict[str, list[int]], Any]:
    """The `idx` of each of lab's splits as training reads them, and the data module."""
    from lab.build import instantiate_datamodule
    from lab.data.splits import read_splits
    from lab.training.tokenizers import build_tokenizer

    cfg = compose_cfg("model=tiny_bert", *overrides)
    datamodule = instantiate_datamodule(cfg, build_tokenizer(cfg))
    splits = read_splits(datamodule)
    return {name: sorted(rows["idx"]) for name, rows in splits.items()}, datamodule


def _from(split: str) -> list[int]:
    return list(range(MNLI_OFFSETS[split], MNLI_OFFSETS[split] + MNLI_ROWS[split]))


def _unread_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The records that say labeled splits go unread (`lab.data.unread_splits`)."""
    return [r for r in caplog.records if "not read (to use" in r.getMessage()]


def test_the_mnli_preset_reads_a_local_copy_validating_on_matched_testing_on_mismatched(
    compose_cfg: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """`data=mnli data.path=<glue>`: all 40 train rows trained on, none carved; the hidden
    test splits are read by no split, and rightly: no warning."""
    root = _glue_mnli(tmp_path / "glue")
    with caplog.at_level(logging.INFO):
        read, datamodule = _read(compose_cfg, "data=mnli", f"data.path={root}")
    assert read == {
        "train": _from("train"),
        "validation": _from("validation_matched"),
        "test": _from("validation_mismatched"),
    }
    assert datamodule.carved == []
    assert "mnli/validation_mismatched-00000-of-00001" in datamodule.source_of("test")
    assert _unread_warnings(caplog) == []


def test_a_generic_config_on_mnli_warns_that_both_dev_splits_go_unread(
    compose_cfg: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """M5: `data=csv data.hub_config=mnli` maps lab's splits to their own names, which MNLI
    lacks: test (4 = 10% of 40 rows) then validation (4 = 10% of the 36 left, rounded up)
    are carved from train, and the warning on the console names the labeled dev splits and
    the override; the hidden test splits are not offered."""
    root = _glue_mnli(tmp_path / "glue")
    generic = (
        "data=csv",
        f"data.path={root}",
        "data.hub_config=mnli",
        "data.text_column=premise",
        "data.text_pair_column=hypothesis",
    )
    with caplog.at_level(logging.INFO):
        read, datamodule = _read(compose_cfg, *generic)
    assert [len(read[s]) for s in ("train", "validation", "test")] == [32, 4, 4]
    assert sorted(read["train"] + read["validation"] + read["test"]) == _from("train")
    assert sorted(datamodule.carved) == ["test", "validation"]
    (record,) = _unread_warnings(caplog)
    assert record.levelno == logging.WARNING and not is_file_only(record)  # on the console
    assert record.getMessage() == (
        "data.splits.validation=validation and data.splits.test=test: the dataset has no such "
        "splits, so they are carved from train, while its labeled splits validation_matched, "
        "validation_mismatched are not read (to use them: "
        "data.splits.validation=validation_matched data.splits.test=validation_mismatched)"
    )
    caplog.clear()
    with caplog.at_level(logging.INFO):  # the override: the dev splits, no warning
        read, _ = _read(
            compose_cfg,
            *generic,
            "data.splits.validation=validation_matched",
            "data.splits.test=validation_mismatched",
        )
    assert read["test"] == _from("validation_mismatched") and len(read["train"]) == 40
    assert _unread_warnings(caplog) == []


def _split(rows: int, label: Any) -> Any:
    from datasets import Dataset

    return Dataset.from_dict({"text": ["x"] * rows, "label": [label] * rows})


def test_the_warning_pairs_a_lone_unread_split_with_test_and_says_nothing_without_labels() -> None:
    """One labeled split left for two carved ones: GLUE's practice, test on it; one carved
    split for one unread; a hidden or label-less split is never offered; a head without a
    label column cannot tell, and says nothing."""
    from datasets import Dataset

    from lab.data.unread_splits import unread_labeled_warning

    source = {"train": _split(9, 1), "dev_set": _split(3, 0), "test_hidden": _split(3, -1)}
    assert unread_labeled_warning(source, {"train"}, ["test", "validation"], "label") == (
        "data.splits.validation=validation and data.splits.test=test: the dataset has no such "
        "splits, so they are carved from train, while its labeled split dev_set is not read "
        "(to use it: data.splits.test=dev_set)"
    )
    source = {"train": _split(9, 1), "test": _split(3, 0), "matched": _split(3, 2)}
    assert unread_labeled_warning(source, {"train", "test"}, ["validation"], "label") == (
        "data.splits.validation=validation: the dataset has no such split, so it is carved "
        "from train, while its labeled split matched is not read (to use it: "
        "data.splits.validation=matched)"
    )
    no_labels = Dataset.from_dict({"index": [0, 1], "text": ["a", "b"]})
    source = {"train": _split(9, 1), "test_hidden": _split(3, -1), "test_tsv": no_labels}
    assert unread_labeled_warning(source, {"train"}, ["test", "validation"], "label") is None
    source = {"train": _split(9, 1), "dev_set": _split(3, 0)}
    assert unread_labeled_warning(source, {"train"}, ["test"], None) is None
    assert unread_labeled_warning(source, {"train"}, [], "label") is None


@pytest.mark.parametrize(
    ("labels", "labeled"),
    [
        ([-1, -1], False),  # GLUE's test splits (ClassLabel ints)
        ([-1.0, -1.0], False),  # STS-B's test scores
        (["-1", " "], False),  # text: hidden or empty
        ([None, None], False),
        ([-1, None], False),  # hidden and missing: no row has a label (lab.inspect's reading)
        (["nan", "-1 "], True),  # "nan" is text a CSV reader kept: a label, not a gap
        ([-1, 2], True),
        ([0.5, -1.0], True),
        (["-1", "pos"], True),
        ([[0, 1], []], True),  # multi-label lists: not told apart, so labeled
    ],
)
def test_a_split_is_unlabeled_where_every_label_is_hidden(labels: list[Any], labeled: bool) -> None:
    from datasets import Dataset

    from lab.data.unread_splits import has_labels

    rows = Dataset.from_dict({"text": ["a", "b"], "label": labels})
    assert has_labels(rows, "label") is labeled
    assert has_labels(rows, "other") is False  # no such column: no labels


def _mnli_run(compose_cfg: Any, tmp_path: Path, *overrides: str) -> Any:
    """A run of `data=mnli` on the local copy, as lab.eval finds it (an exported model's
    label names; no checkpoint: the config's tokenizer); nothing is trained."""
    from lab.config import compose_train_config
    from lab.run_dir.runs import TrainedRun

    root = _glue_mnli(tmp_path / "glue")
    config = compose_train_config(
        ["model=tiny_bert", "data=mnli", f"data.path={root}", *overrides],
        output_dir=tmp_path / "run",
    )
    run = TrainedRun(tmp_path / "run", config, {})
    run.model_dir.mkdir(parents=True)
    labels = {"id2label": dict(enumerate(MNLI_NAMES))}
    (run.model_dir / "config.json").write_text(json.dumps(labels))
    return run


def test_eval_offers_no_split_whose_labels_are_hidden(compose_cfg: Any, tmp_path: Path) -> None:
    """L2: `lab.eval run=<mnli run> split=test_matched` is refused for its hidden labels, and
    the splits it offers instead leave out test_matched and test_mismatched."""
    from lab.eval import _build_parts, evaluation_config

    run = _mnli_run(compose_cfg, tmp_path)
    cfg = evaluation_config(run, [], "test_matched")
    with pytest.raises(DataError) as refused:
        _build_parts(run, cfg)
    assert str(refused.value).endswith(
        "the test_matched split cannot be evaluated as it is: choose another with "
        "split=<name>; splits present: train, validation, test (the run's, as training read "
        "them)"
    )
    # A run that tested on the matched set: the mismatched one is offered, the hidden ones not.
    run = _mnli_run(
        compose_cfg,
        tmp_path / "matched",
        "data.splits.test=validation_matched",
        "data.splits.validation=null",
    )
    with pytest.raises(DataError) as refused:
        evaluation_config(run, [], "nope")
    assert str(refused.value) == (
        "split 'nope' is not in the data; splits present: train, validation, test (the run's, "
        "as training read them); validation_mismatched (more of the source's, evaluated "
        "whole); choose one with split=<name>"
    )


def test_an_unlabeled_test_file_beside_a_labeled_dev_file_is_pointed_at_the_dev_file() -> None:
    """L1: GLUE's original folder (train.tsv, dev.tsv, a test.tsv without labels): the fix is
    GLUE's practice, test on dev.tsv and carve validation, before carving test from train.
    (`lab.config.data_rules.check_local_data` and the data module word the refusal with it;
    tests/test_inspect_agrees_with_train.py checks the whole refusal.)"""
    from lab.data.column_refusal import unlabeled_split_fix

    assert unlabeled_split_fix("test", "validation", "glue/QNLI/dev.tsv") == (
        "set data.splits.test=validation data.splits.validation=null to test on the labeled "
        "validation split (glue/QNLI/dev.tsv) and carve validation from train, as GLUE's "
        "results are reported (its test labels are hidden); or data.splits.test=null to carve "
        "a labeled test split from train"
    )
    # no labeled validation split (none, or carved), or validation itself unlabeled: carve
    carve = "set data.splits.test=null to carve a labeled test split from train"
    assert unlabeled_split_fix("test") == carve
    assert unlabeled_split_fix("validation", "validation", "dev.tsv") == (
        "set data.splits.validation=null to carve a labeled validation split from train"
    )


def test_inspect_gives_trainings_warning_of_the_unread_dev_splits(tmp_path: Path) -> None:
    """lab.inspect prints what training says of reading the data: with the generic config on
    MNLI, the warning that its labeled dev splits go unread (and the override)."""
    from conftest import lab_cli

    root = _glue_mnli(tmp_path / "glue")
    generic = [
        "data=csv",
        f"data.path={root}",
        "data.hub_config=mnli",
        "data.text_column=premise",
        "data.text_pair_column=hypothesis",
        "model=tiny_bert",
    ]
    done = lab_cli("inspect", *generic, f"out={tmp_path / 'inspect'}", cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    said = " ".join((done.stdout + done.stderr).split())
    assert (
        "its labeled splits validation_matched, validation_mismatched are not read (to use "
        "them: data.splits.validation=validation_matched "
        "data.splits.test=validation_mismatched)"
    ) in said
