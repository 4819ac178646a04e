"""`lab.eval` on other data whose labels are integers: read as the model's class ids only where
nothing says otherwise, and then with a line that says so; mapped to the model's ids by name
where the data names its ids (`data.label_names=`, or the `data=` config's names); refused
where those names contradict the model's. The run's own data reads as training read it, with
no new line. Nothing is trained: each run is a config and an exported tiny BERT whose
classifier always answers one class, so every score is counted by hand."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from lab.config import compose_train_config
from lab.data.label_names import evaluated_id_names, reconcile_label_names
from lab.errors import DataError
from lab.run_dir.runs import TrainedRun

from conftest import FIXTURES

ADVICE = (
    "name the data's ids with the model's class names (data.label_names, in the data's id "
    "order) to map them to the model's ids by name"
)
REFUSED = (
    f"lab.eval keeps the model's classes: {ADVICE}, or evaluate data labelled with the "
    "model's classes"
)
TEXTS = ["a dull film", "a flat plot", "a weak cast", "a warm film"]


def _said(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The label lines lab.eval printed (warnings of `lab.data.label_names`)."""
    return [r.getMessage() for r in caplog.records if r.name == "lab.data.label_names"]


def _jsonl(path: Path, labels: list[Any], texts: list[str] = TEXTS) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = (json.dumps({"text": t, "label": label}) for t, label in zip(texts, labels, strict=True))
    path.write_text("\n".join(rows) + "\n")
    return path


def _named_run(directory: Path, names: list[str], *data: str) -> TrainedRun:
    """A run of `data` (tiny_bert) under `data.label_names=names` whose export's config.json
    names those classes (no weights: its data is read, no model loaded)."""
    config = compose_train_config(
        ["model=tiny_bert", *data, f"data.label_names=[{','.join(names)}]"],
        output_dir=directory,
    )
    run = TrainedRun(directory, config, {})
    run.model_dir.mkdir(parents=True)
    (run.model_dir / "config.json").write_text(json.dumps({"id2label": dict(enumerate(names))}))
    return run


def _run(root: Path, names: list[str], answer: int | None = None) -> TrainedRun:
    """A run trained (as its config says) on integer labels under `data.label_names=names`,
    its exported model's classes `names`; the model always answers class id `answer` (a
    config.json of class names only where None: the data is read, no model loaded)."""
    import torch
    from hydra.utils import instantiate
    from transformers import AutoModelForSequenceClassification

    own = root / "own"
    for split in ("train", "validation", "test"):
        _jsonl(own / f"{split}.jsonl", [0, 1, 0, 1])
    run = _named_run(root / "run", names, "data=json", f"data.path={own}")
    config = run.config
    if answer is None:
        return run
    network = instantiate(config.model.network.config)
    network.num_labels = len(names)
    network.id2label = dict(enumerate(names))
    network.label2id = {name: i for i, name in enumerate(names)}
    network.problem_type = "single_label_classification"
    model = AutoModelForSequenceClassification.from_config(network)
    with torch.no_grad():  # logits: 10 for `answer`, 0 for the others, whatever the text
        model.classifier.weight.zero_()
        model.classifier.bias.zero_()
        model.classifier.bias[answer] = 10.0
    model.save_pretrained(run.model_dir)
    instantiate(config.model.tokenizer).save_pretrained(run.model_dir)
    return run


def _scores(run: TrainedRun, *data: str) -> tuple[float, list[list[int]]]:
    """lab.eval's accuracy and confusion matrix (rows: true model class) on other data."""
    from lab.eval import evaluate, evaluation_config

    metrics, report = evaluate(run, evaluation_config(run, list(data), None))
    return metrics["test/acc"], report["confusion_matrix"]


# ------------------------------------------------------------------- how ids are read


def test_unnamed_integer_labels_are_said_to_be_the_models_ids(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert evaluated_id_names(["neg", "neu", "pos"], ()) is None
    assert _said(caplog) == [
        f"integer labels are read as the model's class ids: 0=neg, 1=neu, 2=pos; where the "
        f"data's ids mean other classes, {ADVICE}"
    ]


def test_names_of_the_models_classes_map_the_ids_by_name(caplog: pytest.LogCaptureFixture) -> None:
    # the same classes in another order, and some of them: the data's id i is names[i]
    assert evaluated_id_names(["pos", "neg"], ("neg", "pos")) == ["neg", "pos"]
    assert evaluated_id_names(["neg", "neu", "pos"], ("neg", "pos")) == ["neg", "pos"]
    assert _said(caplog) == [
        "integer labels are mapped to the model's class ids by name (data.label_names "
        "['neg', 'pos'], the model's classes ['pos', 'neg']): 0 (neg) -> 1, 1 (pos) -> 0",
        "integer labels are mapped to the model's class ids by name (data.label_names "
        "['neg', 'pos'], the model's classes ['neg', 'neu', 'pos']): 0 (neg) -> 0, 1 (pos) -> 2",
    ]
    caplog.clear()
    # the model's names, or its first ones in its order: its ids already, nothing to say
    assert evaluated_id_names(["neg", "pos"], ("neg", "pos")) is None
    assert evaluated_id_names(["neg", "neu", "pos"], ("neg", "neu")) is None
    assert _said(caplog) == []


def test_names_worded_otherwise_keep_the_ids_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """As a ClassLabel worded otherwise is read (`reconcile_label_names`): the same count, no
    name the model has under another id; the warning names both lists."""
    assert evaluated_id_names(["neg", "pos"], ("negative", "positive")) is None
    assert evaluated_id_names(["neg", "pos"], ("negative", "pos")) is None
    assert _said(caplog) == [
        "data.label_names ['negative', 'positive'] differ from the model's classes ['neg', "
        "'pos']; integer labels are read as the model's class ids: 0=neg, 1=pos; where the "
        f"data's ids mean other classes, {ADVICE}",
        "data.label_names ['negative', 'pos'] differ from the model's classes ['neg', 'pos']; "
        "integer labels are read as the model's class ids: 0=neg, 1=pos; where the data's ids "
        f"mean other classes, {ADVICE}",
    ]
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        kept = reconcile_label_names(["neg", "pos"], ["negative", "positive"], "label", pinned=True)
    assert kept == ["neg", "pos"]
    assert _said(caplog) == [
        "the model's classes ['neg', 'pos'] differ from column 'label''s class names "
        "['negative', 'positive']; its ids are read as the model's class ids: 0=neg, 1=pos"
    ]


@pytest.mark.parametrize(
    ("model", "data", "why"),
    [
        (
            ["neg", "neu", "pos"],
            ("negative", "positive"),
            "name 2 classes where the model has 3, and 'negative', 'positive' are not among "
            "the model's classes",
        ),
        (
            ["neg", "pos"],
            ("neg", "neu", "pos"),
            "name 3 classes where the model has 2, and 'neu' is not among the model's classes",
        ),
        (
            ["neg", "pos"],
            ("pos", "negative"),
            "give 'pos' id 0 where the model gives it id 1, and 'negative' is not among the "
            "model's classes",
        ),
        (["neg", "pos"], ("neg", "neg"), "name a class twice"),
    ],
)
def test_names_that_contradict_the_models_are_refused(
    model: list[str], data: tuple[str, ...], why: str
) -> None:
    with pytest.raises(DataError) as refused:
        evaluated_id_names(model, data)
    assert str(refused.value) == (
        f"data.label_names {list(data)} {why} (the model's classes: {model}); {REFUSED}"
    )


# ------------------------------------------------------------------- lab.eval, scored


def test_eval_maps_integer_ids_by_the_names_given(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The finding's case: a model whose id 0 is `pos`, a file of ids whose 0 is `neg`. The
    model answers `pos` (id 0) to all 4 rows; 3 of them are negative."""
    run = _run(tmp_path, ["pos", "neg"], answer=0)
    ids = _jsonl(tmp_path / "ev_int.jsonl", [0, 0, 0, 1])  # 0=neg, 1=pos
    words = _jsonl(tmp_path / "ev_str.jsonl", ["neg", "neg", "neg", "pos"])
    # named: 1 of 4 right (the positive row); rows: true pos [1, 0], true neg [3, 0]
    caplog.clear()
    assert _scores(run, f"data.path={ids}", "data.label_names=[neg,pos]") == (
        0.25,
        [[1, 0], [3, 0]],
    )
    assert _said(caplog) == [
        "integer labels are mapped to the model's class ids by name (data.label_names "
        "['neg', 'pos'], the model's classes ['pos', 'neg']): 0 (neg) -> 1, 1 (pos) -> 0"
    ]
    # the same rows as words, matched by name: the same scores, nothing to say
    caplog.clear()
    assert _scores(run, f"data.path={words}") == (0.25, [[1, 0], [3, 0]])
    assert _said(caplog) == []
    # unnamed: read as the model's ids (0=pos), and said: 3 of 4 "right"
    caplog.clear()
    assert _scores(run, f"data.path={ids}") == (0.75, [[3, 0], [1, 0]])
    assert _said(caplog) == [
        "integer labels are read as the model's class ids: 0=pos, 1=neg; where the data's ids "
        f"mean other classes, {ADVICE}"
    ]
    # data=demo names its ids negative, positive: worded otherwise, ids kept, both lists named
    caplog.clear()
    assert _scores(run, "data=demo", f"data.path={ids}") == (0.75, [[3, 0], [1, 0]])
    assert _said(caplog) == [
        "data.label_names ['negative', 'positive'] differ from the model's classes ['pos', "
        "'neg']; integer labels are read as the model's class ids: 0=pos, 1=neg; where the "
        f"data's ids mean other classes, {ADVICE}"
    ]


def test_a_three_class_model_on_binary_ids(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A neg/neu/pos model answering `pos` (id 2) to all 4 rows of a 0/1 file (0=neg, 1=pos,
    3 positive rows)."""
    from lab.eval import _build_parts, evaluation_config

    run = _run(tmp_path, ["neg", "neu", "pos"], answer=2)
    ids = _jsonl(tmp_path / "ev_int.jsonl", [0, 1, 1, 1])
    # unnamed: every 1 is `neu`, none right; the line shows it
    caplog.clear()
    assert _scores(run, f"data.path={ids}") == (0.0, [[0, 0, 1], [0, 0, 3], [0, 0, 0]])
    assert _said(caplog) == [
        "integer labels are read as the model's class ids: 0=neg, 1=neu, 2=pos; where the "
        f"data's ids mean other classes, {ADVICE}"
    ]
    # named neg, pos: 1 is `pos` (id 2), 3 of 4 right
    named = "data.label_names=[neg,pos]"
    assert _scores(run, f"data.path={ids}", named) == (0.75, [[0, 0, 1], [0, 0, 0], [0, 0, 3]])
    # names of other classes, another count: refused before any model is loaded
    cfg = evaluation_config(run, [f"data.path={ids}", "data.label_names=[negative,positive]"], None)
    with pytest.raises(DataError) as refused:
        _build_parts(run, cfg)
    assert str(refused.value) == (
        "data.label_names ['negative', 'positive'] name 2 classes where the model has 3, and "
        "'negative', 'positive' are not among the model's classes (the model's classes: "
        f"['neg', 'neu', 'pos']); {REFUSED}"
    )
    # an id the names do not reach: refused at its row, not read as the model's id 2
    two = _jsonl(tmp_path / "ev_two.jsonl", [0, 1, 2, 1])
    cfg = evaluation_config(run, [f"data.path={two}", named], None)
    with pytest.raises(DataError) as refused:
        _build_parts(run, cfg)
    assert str(refused.value) == (
        f"{two}:3 column 'label': label 2 is not one of the data's class ids 0..1 "
        "(data.label_names ['neg', 'pos'], mapped to the model's classes by name)"
    )


# ------------------------------------------------------------------- unchanged


def test_the_runs_own_data_reads_as_training_read_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """No data option (a batching key aside): no label line, the ids as trained."""
    from lab.eval import _build_parts, evaluation_config
    from lab.eval_labels import DATA_LABELS

    run = _run(tmp_path, ["pos", "neg"])
    for split in (None, "validation", "train"):
        cfg = evaluation_config(run, ["data.eval_batch_size=2"], split)
        assert DATA_LABELS not in cfg
        caplog.clear()
        datamodule = _build_parts(run, cfg).datamodule
        assert datamodule.datasets["test"]["labels"] == [0, 1, 0, 1]
        assert _said(caplog) == []
        assert datamodule.evaluation is None or datamodule.evaluation.data_labels is None
    # s21e M2: another cut of the same rows reads the run's own labels: no label line either
    cfg = evaluation_config(run, ["data.max_length=16"], None)
    assert DATA_LABELS not in cfg
    caplog.clear()
    assert _build_parts(run, cfg).datamodule.datasets["test"]["labels"] == [0, 1, 0, 1]
    assert _said(caplog) == []


def test_multi_label_integer_ids_map_by_name(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A multi-label run (4 aspects) on a file of id lists naming 2 of them: each list's ids
    map by name into the model's multi-hot targets."""
    from lab.eval import _build_parts, evaluation_config

    names = ["battery", "price", "screen", "service"]
    run = _named_run(
        tmp_path / "run", names, "data=go_emotions", f"data.path={FIXTURES / 'aspects'}"
    )
    rows = [[0], [1], [1, 0], []]  # 0=service, 1=battery
    other = tmp_path / "ev_lists.jsonl"
    other.write_text(
        "".join(
            json.dumps({"text": t, "labels": r}) + "\n" for t, r in zip(TEXTS, rows, strict=True)
        )
    )
    cfg = evaluation_config(run, [f"data.path={other}", "data.label_names=[service,battery]"], None)
    datamodule = _build_parts(run, cfg).datamodule
    assert datamodule.datasets["test"]["labels"] == [
        [0.0, 0.0, 0.0, 1.0],
        [1.0, 0.0, 0.0, 0.0],
        [1.0, 0.0, 0.0, 1.0],
        [0.0, 0.0, 0.0, 0.0],
    ]
    assert _said(caplog) == [
        "integer labels are mapped to the model's class ids by name (data.label_names "
        "['service', 'battery'], the model's classes ['battery', 'price', 'screen', "
        "'service']): 0 (service) -> 3, 1 (battery) -> 0"
    ]
