"""What `lab.eval` shows besides its table, without training a model: no library chatter
before the evaluation (datasets' bars, its ERROR dump of lab's expected joint read of split
files of other columns), a split whose labels are all -1 refused as unlabeled whatever its
column type, a lone file's split named as the file's only one, and the table titled with the
split evaluated."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.config import compose_train_config
from lab.errors import DataError
from lab.run_dir.runs import TrainedRun

from conftest import TINY_FIXTURE_RUN

HIDDEN = (
    "label -1 marks a hidden label (unlabeled rows, as in GLUE's test splits) that cannot be "
    "trained on or scored; "
)


@pytest.fixture
def datasets_records() -> Iterator[list[logging.LogRecord]]:
    """The records that reach datasets' logger's handlers (printed on a tool's console)."""
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    library, keep = logging.getLogger("datasets"), Keep()
    library.addHandler(keep)
    yield seen
    library.removeHandler(keep)


def _parquet(path: Path, rows: dict[str, list[Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(rows), path)


def _hub_folder(root: Path, unlabeled: list[Any]) -> Path:
    """An IMDB export as the Hub stores it, without ClassLabel: `sentiment` strings in train
    and test, `unlabeled` (all -1) in `unsupervised`."""
    reviews = ["a warm film", "a dull film"]
    for split in ("train", "test"):
        _parquet(
            root / "data" / f"{split}-00000-of-00001.parquet",
            {"review": reviews, "sentiment": ["positive", "negative"]},
        )
    _parquet(
        root / "data" / "unsupervised-00000-of-00001.parquet",
        {"review": reviews, "sentiment": unlabeled},
    )
    return root


def _trained(tmp_path: Path) -> TrainedRun:
    """A classifier run (no checkpoint: the config's tokenizer) whose exported model's labels
    are `negative`, `positive`, as lab.eval pins them on other data."""
    config = compose_train_config(TINY_FIXTURE_RUN, output_dir=tmp_path / "run")
    run = TrainedRun(tmp_path / "run", config, {})
    run.model_dir.mkdir(parents=True)
    labels = {"id2label": {"0": "negative", "1": "positive"}}
    (run.model_dir / "config.json").write_text(json.dumps(labels))
    return run


# ------------------------------------------------------------------- F7: console


def test_eval_quiets_library_output_before_it_reads_the_data(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Choosing the split (`evaluation_config`) loads the source: the console set-up comes
    first, or datasets' bars and log lines show before the evaluation."""
    import lab.eval
    import lab.training.console

    calls: list[str] = []

    class Stop(Exception):
        pass

    def config(*args: Any) -> None:
        calls.append("read data")
        raise Stop

    def tame(data: bool = False) -> None:
        calls.append(f"tame data={data}")  # datasets' records through lab's console (s31f F9)

    monkeypatch.setattr(lab.training.console, "tame_library_output", tame)
    monkeypatch.setattr(lab.eval, "open_run", lambda path: None)
    monkeypatch.setattr(lab.eval, "evaluation_config", config)
    with pytest.raises(Stop):
        lab.eval.main(["run=somewhere", "data.path=other.csv"])
    assert calls == ["tame data=True", "read data"]


def test_split_files_of_other_columns_load_without_datasets_error_lines(
    tmp_path: Path, datasets_records: list[logging.LogRecord]
) -> None:
    """datasets logs `Failed to read file ... column names don't match` for lab's first, joint
    read; lab then reads split by split, as expected: nothing of it reaches the console (or
    train.log), and every split keeps its own columns."""
    from lab.data.sources import load_local

    _parquet(tmp_path / "data" / "train-00000-of-00001.parquet", {"review": ["a"], "label": [1]})
    _parquet(tmp_path / "data" / "test-00000-of-00001.parquet", {"text": ["b"]})
    loaded = load_local(tmp_path)
    assert loaded["train"].column_names == ["review", "label"]
    assert loaded["test"].column_names == ["text"]
    assert [r.getMessage() for r in datasets_records if r.levelno >= logging.WARNING] == []


def test_held_datasets_logs_are_handed_on_when_released(
    datasets_records: list[logging.LogRecord],
) -> None:
    """A read that is not lab's expected fallback keeps datasets' lines: they are only held."""
    from lab.data.sources import hold_datasets_logs, release_logs

    held: list[logging.LogRecord] = []
    with hold_datasets_logs(held):
        logging.getLogger("datasets.builder").error("a real problem")
    assert datasets_records == []
    release_logs(held)
    assert [r.getMessage() for r in datasets_records] == ["a real problem"]


# ------------------------------------------------------------------- F8: all -1


def _checked(labels: list[Any], names: list[str] | None = None, **kwargs: Any) -> None:
    from datasets import Dataset
    from transformers import AutoTokenizer

    from lab.config.paths import package_path
    from lab.tasks.text_classification.data import TextClassificationDataModule

    tokenizer = AutoTokenizer.from_pretrained(package_path("lab", "assets/tiny_bert"))
    module = TextClassificationDataModule(tokenizer, label_names=names, **kwargs)
    rows = Dataset.from_dict({"text": ["x"] * len(labels), "label": labels})
    module.describe_labels(rows)
    module.check_split("test", rows)


@pytest.mark.parametrize(
    "labels", [["-1", "-1"], [-1, -1]], ids=["string-column", "integer-column"]
)
def test_minus_one_is_a_hidden_label_whatever_the_column_type(labels: list[Any]) -> None:
    """Without ClassLabel (a CSV or Parquet export), -1 as text or as an integer, with the
    model's label names pinned, is the unlabeled-split refusal, not 'not a label name'."""
    with pytest.raises(DataError) as refused:
        _checked(labels, ["negative", "positive"])
    assert f"column 'label': {HIDDEN}map lab's test split to a labeled one" in str(refused.value)


def test_minus_one_that_names_a_class_is_a_label() -> None:
    """-1/1 sentiment labels, as integers or as text, are classes: no refusal."""
    _checked([-1, 1, -1])
    _checked(["-1", "1"], ["-1", "1"])
    with pytest.raises(DataError, match="label '0' is not one of the label names"):
        _checked(["0"], ["-1", "1"])


def test_a_label_that_differs_from_a_name_only_in_case_says_so() -> None:
    """s21c L1: `POS` against the names [neg, pos] is refused (labels are matched exactly: a
    dataset may tell classes apart by case) with the near name said."""
    with pytest.raises(DataError) as refused:
        _checked(["POS"], ["neg", "pos"])
    assert (
        "label 'POS' is not one of the label names ['neg', 'pos'] ('POS' differs from 'pos' "
        "only in letter case or spaces; labels are matched exactly)"
    ) in str(refused.value)
    with pytest.raises(DataError) as other:
        _checked(["neutral"], ["neg", "pos"])
    assert "letter case" not in str(other.value)


def test_eval_of_an_unlabeled_split_without_class_label_advises_another(tmp_path: Path) -> None:
    """F8's data: lab.eval refuses the all -1 `unsupervised` split of a ClassLabel-less export
    as unlabeled, with the splits present that could be evaluated instead (not itself: it
    holds no labels), before any model is built."""
    from lab.eval import _build_parts, evaluation_config

    run = _trained(tmp_path)
    data = _hub_folder(tmp_path / "imdb", [-1, -1])
    cfg = evaluation_config(run, [f"data.path={data}"], "unsupervised")
    with pytest.raises(DataError) as refused:
        _build_parts(run, cfg)
    assert str(refused.value).endswith(
        f"column 'sentiment': {HIDDEN}the unsupervised split cannot be evaluated as it is: "
        "choose another with split=<name>; splits present: test, train"
    )


def _class_label_folder(root: Path, names: list[str]) -> Path:
    """Train and test splits whose `sentiment` column is a ClassLabel of `names`."""
    from datasets import ClassLabel, Dataset, Features, Value

    features = Features({"review": Value("string"), "sentiment": ClassLabel(names=names)})
    rows = {"review": ["a warm film", "a dull film"], "sentiment": [0, 1]}
    root.mkdir(parents=True)
    for split in ("train", "test"):
        Dataset.from_dict(rows, features=features).to_parquet(root / f"{split}.parquet")
    return root


def test_eval_on_data_of_other_classes_asks_for_the_models_classes(tmp_path: Path) -> None:
    """lab.eval pins the model's class names, so data.label_names cannot fix a ClassLabel of
    other classes: the refusal names both class lists and asks for data of the model's."""
    from lab.eval import _build_parts, evaluation_config

    run = _trained(tmp_path)  # classes negative, positive
    data = _class_label_folder(tmp_path / "three", ["neg", "mixed", "pos"])
    for given in ([], ["data.label_names=null"]):  # the training advice changes nothing here
        cfg = evaluation_config(run, [f"data.path={data}", *given], None)
        with pytest.raises(DataError) as refused:
            _build_parts(run, cfg)
        assert str(refused.value) == (
            "the data's column 'sentiment' holds 3 classes ['neg', 'mixed', 'pos'] but the "
            "model was trained on 2 classes ['negative', 'positive']; lab.eval keeps the "
            "model's classes: evaluate data labelled with the model's classes"
        )
    data = _class_label_folder(tmp_path / "swapped", ["positive", "negative"])
    cfg = evaluation_config(run, [f"data.path={data}"], None)
    with pytest.raises(DataError) as refused:
        _build_parts(run, cfg)
    assert str(refused.value) == (
        "the data's column 'sentiment' holds the model's classes in another order (the data's "
        "id order is ['positive', 'negative'], the model's ['negative', 'positive']): every id "
        "would be scored as the wrong class; lab.eval keeps the model's class ids: evaluate "
        "data whose classes are in the model's id order"
    )


def test_training_keeps_its_data_label_names_advice() -> None:
    """Outside lab.eval the configured names are the user's: the advice stays theirs."""
    from lab.data.label_names import reconcile_label_names

    with pytest.raises(DataError) as refused:
        reconcile_label_names(["a", "b", "c", "d"], ["neg", "pos"], "label")
    assert str(refused.value) == (
        "data.label_names has 4 names ['a', 'b', 'c', 'd'] but column 'label' holds 2 classes "
        "['neg', 'pos']; set data.label_names to the dataset's classes in id order, or null to "
        "take them from the dataset"
    )


# ------------------------------------------------------------------- F9: split named


def test_eval_names_a_lone_files_split_as_its_only_one(tmp_path: Path) -> None:
    """A lone file is the source's `train` split; lab.eval's messages say the file's only
    split, not `train`, and the title of its table says the same."""
    from lab.eval import _build_parts, evaluation_config
    from lab.eval_splits import evaluated_split

    run = _trained(tmp_path)
    other = tmp_path / "nocols.csv"
    other.write_text("body,stars\nnice,1\n")
    cfg = evaluation_config(run, [f"data.path={other}"], None)
    assert evaluated_split(cfg) == "file's only"
    with pytest.raises(DataError) as refused:
        _build_parts(run, cfg)
    assert str(refused.value) == (
        f"{other}: columns 'review' (data.text_column), 'sentiment' (data.label_column) are "
        "not in the file's only split; columns present: body, stars"
    )


def test_a_lone_files_unlabeled_split_has_no_other_split_to_choose(tmp_path: Path) -> None:
    """The advice for a lone file that cannot be evaluated is another file, not a split."""
    from lab.eval import _build_parts, evaluation_config

    run = _trained(tmp_path)
    other = tmp_path / "unlabeled.csv"
    other.write_text("review,sentiment\nnice,-1\ngood,-1\n")

    cfg = evaluation_config(run, [f"data.path={other}"], None)
    with pytest.raises(DataError) as refused:
        _build_parts(run, cfg)
    assert str(refused.value) == (
        f"{other}:2 column 'sentiment': {HIDDEN}the file's only split cannot be evaluated as "
        "it is: give another file (data.path=)"
    )


def test_the_table_is_titled_with_the_split_evaluated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`split=validation` on the run's own data: the table says so (metrics keep `test/`)."""
    from lab.eval import evaluation_config
    from lab.eval_splits import evaluated_split
    from lab.eval_table import print_metrics

    run = _trained(tmp_path)
    assert evaluated_split(evaluation_config(run, [], None)) == "test"
    cfg = evaluation_config(run, [], "validation")
    assert evaluated_split(cfg) == "validation"
    title = f"Evaluation of the {evaluated_split(cfg)} split"
    print_metrics({"test/acc": 0.5}, {}, False, tmp_path / "metrics.json", title=title)
    assert capsys.readouterr().out.splitlines()[0].strip() == ("Evaluation of the validation split")


def test_ner_data_of_other_tag_classes_is_refused_in_lab_evals_words() -> None:
    """lab.eval pins the model's tag names; a Sequence(ClassLabel) column of other tags is
    refused as the classification head refuses other classes (no data.label_names advice,
    which would only come back to the same refusal)."""
    from datasets import ClassLabel, Dataset, Features, Sequence, Value

    from lab.tasks.token_tags import tag_names

    features = Features(
        {
            "tokens": Sequence(Value("string")),
            "ner_tags": Sequence(ClassLabel(names=["O", "B-PROD", "I-PROD"])),
        }
    )
    train = Dataset.from_dict({"tokens": [["a", "b"]], "ner_tags": [[0, 1]]}, features=features)
    model = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    with pytest.raises(DataError) as refused:
        tag_names(train, "ner_tags", model, pinned=True)
    assert str(refused.value) == (
        "the data's column 'ner_tags' holds 3 classes ['O', 'B-PROD', 'I-PROD'] but the model "
        f"was trained on 5 classes {model}; lab.eval keeps the model's classes: evaluate data "
        "labelled with the model's classes"
    )


def test_labels_other_than_the_models_get_advice_that_can_work() -> None:
    from lab.eval import _check_labels

    model = {0: "O", 1: "B-PER", 2: "I-PER"}
    with pytest.raises(DataError, match=r"; set data\.label_names to the model's labels in id"):
        _check_labels({0: "B-PER", 1: "I-PER", 2: "O"}, model)  # the same tags, other ids
    with pytest.raises(DataError) as other:
        _check_labels({0: "O", 1: "B-PROD", 2: "I-PROD"}, model)
    assert str(other.value) == (
        "the data's labels ['O', 'B-PROD', 'I-PROD'] differ from the model's ['O', 'B-PER', "
        "'I-PER']; lab.eval keeps the model's classes: evaluate data labelled with them"
    )
    _check_labels(None, model)
    _check_labels(dict(model), model)


def test_an_ner_data_module_pins_names_only_where_they_are_the_models(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """In lab.eval the refusal says "the model was trained on" only when the configured tag
    names are the evaluated model's (another data config's names are not)."""
    from datasets import ClassLabel, DatasetDict, Features, Sequence, Value

    from lab.build import build_datamodule
    from lab.data.datamodule import Evaluation
    from lab.training.tokenizers import build_tokenizer

    features = Features(
        {
            "tokens": Sequence(Value("string")),
            "ner_tags": Sequence(ClassLabel(names=["O", "B-PROD", "I-PROD"])),
        }
    )
    rows = {"tokens": [["a", "b"]] * 4, "ner_tags": [[0, 1]] * 4}
    from datasets import Dataset

    split = Dataset.from_dict(rows, features=features)
    DatasetDict({"train": split, "validation": split, "test": split}).save_to_disk(tmp_path / "d")
    cfg: Any = compose_cfg("model=tiny_bert", "data=conll2003", f"data.path={tmp_path / 'd'}")
    names = tuple(str(n) for n in cfg.data.label_names)
    for model_labels, words in (
        (names, "but the model was trained on"),
        ((), "; set data.label_names"),
    ):
        evaluation = Evaluation("test", "advice", model_labels=model_labels)
        with pytest.raises(DataError, match=words):
            build_datamodule(
                cfg, build_tokenizer(cfg), lambda d, e=evaluation: setattr(d, "evaluation", e)
            )
