"""Multi-label classification and regression: thresholds and metrics by hand, bad labels,
and tiny models trained on the fixtures through `run(cfg)`, exported to working pipelines;
the layout of the sequence classification package (old dotted names, a light predictor)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

from lab.errors import DataError
from lab.tasks.multi_label import MultiLabelClassificationModule, predict_labels
from lab.tasks.regression import RegressionModule

from conftest import FIXTURES

TINY = {"vocab_size": 64, "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 1,
        "intermediate_size": 8}  # fmt: skip


def _model(num_labels: int) -> BertForSequenceClassification:
    return BertForSequenceClassification(BertConfig(num_labels=num_labels, **TINY))


def test_per_label_thresholds_decide_each_class() -> None:
    logits = torch.logit(torch.tensor([[0.6, 0.6, 0.2], [0.4, 0.95, 0.8]]))
    thresholds = torch.tensor([0.5, 0.7, 0.1])
    assert predict_labels(logits, thresholds).tolist() == [[1, 0, 1], [0, 1, 1]]


def test_multi_label_metrics_by_hand() -> None:
    module = MultiLabelClassificationModule(_model(3), optimizer=None, threshold=[0.5, 0.5, 0.5])  # type: ignore[arg-type]
    predictions = torch.tensor([[1, 0, 1], [0, 1, 0]])
    targets = torch.tensor([[1, 0, 0], [0, 1, 1]])
    metrics = module.metrics["val"]
    metrics.update(predictions, targets)
    values = {k: float(v) for k, v in metrics.compute().items()}
    # TP = 2, FP = 1 (row 0, class 2), FN = 1 (row 1, class 2)
    assert values["val/f1_micro"] == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))
    assert values["val/precision_micro"] == pytest.approx(2 / 3)
    assert values["val/recall_micro"] == pytest.approx(2 / 3)
    assert values["val/f1_macro"] == pytest.approx((1.0 + 1.0 + 0.0) / 3)
    assert values["val/exact_match"] == 0.0
    with pytest.raises(Exception, match="2 values for 3 labels"):
        MultiLabelClassificationModule(_model(3), optimizer=None, threshold=[0.5, 0.5])  # type: ignore[arg-type]


def test_multi_label_per_class_report_by_hand() -> None:
    """s21a L3: test_report.json's per-class table, against sklearn's per-class scores."""
    from sklearn.metrics import precision_recall_fscore_support

    model = _model(3)
    model.config.id2label = {0: "joy", 1: "anger", 2: "fear"}
    module = MultiLabelClassificationModule(model, optimizer=None)  # type: ignore[arg-type]
    # class 0: tp 1; class 1: tp 1, fn 1; class 2: fp 1, fn 1 (never right)
    predictions = torch.tensor([[1, 0, 1], [0, 1, 0], [0, 0, 0]])
    targets = torch.tensor([[1, 0, 0], [0, 1, 1], [0, 1, 0]])
    module.test_counts.update(predictions, targets)
    report = module.evaluation_report("test")
    assert report["labels"] == ["joy", "anger", "fear"]
    assert report["per_label"] == {
        "joy": {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1, "predicted": 1},
        "anger": {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2,
                  "predicted": 1},
        "fear": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1, "predicted": 1},
    }  # fmt: skip
    p, r, f, n = precision_recall_fscore_support(targets, predictions, zero_division=0)
    for i, name in enumerate(report["labels"]):
        row = report["per_label"][name]
        assert (row["precision"], row["recall"], row["support"]) == (p[i], r[i], n[i])
        assert row["f1"] == pytest.approx(f[i])
    assert module.evaluation_report("val") == {}


def test_regression_metrics_by_hand() -> None:
    module = RegressionModule(_model(1), optimizer=None)  # type: ignore[arg-type]
    metrics = module.metrics["val"]
    metrics.update(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, 2.0, 4.0]))
    values = {k: float(v) for k, v in metrics.compute().items()}
    # Pearson: cov 3 / (sqrt(2) * sqrt(42/9)); Spearman: same ranks -> 1
    assert values["val/pearson"] == pytest.approx(3 / (math.sqrt(2) * math.sqrt(42 / 9)), rel=1e-5)
    assert values["val/spearman"] == pytest.approx(1.0, rel=1e-5)
    assert values["val/mse"] == pytest.approx(1 / 3)
    assert values["val/mae"] == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    ("overrides", "rows", "message"),
    [
        (["data=go_emotions", "data.label_names=[a,b]"],
         [{"text": "x", "labels": ["a"]}, {"text": "x", "labels": ["a", "c"]}],
         r"train\.jsonl:2 column 'labels': label 'c' is not one of the label names"),
        (["data=go_emotions", "data.label_names=[a,b]"],
         [{"text": "x", "labels": "a"}, {"text": "y", "labels": "b"}],
         r"train\.jsonl:1 column 'labels': multi-label rows need a list of labels"),
        (["data=json", "data.problem_type=regression", "task=text_regression"],
         [{"text": "x", "label": "high"}, {"text": "y", "label": "low"}],
         r"train\.jsonl:1 column 'label': regression label 'high' is not a number"),
    ],
)  # fmt: skip
def test_bad_labels_are_named(compose_cfg, tmp_path: Path, overrides, rows, message) -> None:  # type: ignore[no-untyped-def]
    from hydra.utils import instantiate

    lines = "".join(json.dumps(r) + "\n" for r in rows)
    for split in ("train", "validation", "test"):
        (tmp_path / f"{split}.jsonl").write_text(lines)
    cfg = compose_cfg("model=tiny_bert", *overrides, f"data.path={tmp_path}")
    datamodule = instantiate(cfg.data, tokenizer=instantiate(cfg.model.tokenizer), _convert_="all")
    with pytest.raises(DataError, match=message):
        datamodule.setup("fit")


def _train(compose_cfg, *overrides: str) -> tuple[dict[str, float], Path, list[float]]:  # type: ignore[no-untyped-def]
    import csv

    from lab.train import run

    cfg = compose_cfg(
        "model=tiny_bert",
        "logger=csv",
        "trainer.max_epochs=15",
        "trainer.log_every_n_steps=1",
        "optimizer.lr=3e-3",
        "scheduler.warmup_ratio=0.0",
        "data.batch_size=16",
        *overrides,
    )
    metrics = run(cfg)
    run_dir = Path(cfg.paths.output_dir)
    with open(run_dir / "csv" / "metrics.csv") as handle:
        losses = [float(r["train/loss"]) for r in csv.DictReader(handle) if r.get("train/loss")]
    return metrics, run_dir, losses


@pytest.mark.slow
def test_tiny_multi_label_model_trains_and_exports(compose_cfg) -> None:  # type: ignore[no-untyped-def]
    from transformers import pipeline

    metrics, run_dir, losses = _train(
        compose_cfg,
        "data=go_emotions",
        f"data.path={FIXTURES / 'aspects'}",
        "data.label_names=null",
    )
    assert metrics["test/f1_micro"] >= 0.75
    assert {"val/f1_macro", "val/exact_match", "test/precision_micro"} <= set(metrics)
    assert sum(losses[-4:]) < 0.7 * sum(losses[:4])
    config = json.loads((run_dir / "model" / "config.json").read_text())
    assert config["problem_type"] == "multi_label_classification"
    assert list(config["id2label"].values()) == ["battery", "price", "screen", "service"]
    scores = pipeline("text-classification", model=str(run_dir / "model"), top_k=None)(
        ["the battery died fast and the price is fair"]
    )[0]
    assert {s["label"] for s in scores} == {"battery", "price", "screen", "service"}
    assert sum(s["score"] for s in scores) > 1.0  # independent sigmoids, not a softmax


@pytest.mark.slow
def test_tiny_regression_model_trains_and_exports(compose_cfg) -> None:  # type: ignore[no-untyped-def]
    from transformers import pipeline

    metrics, run_dir, losses = _train(
        compose_cfg,
        "data=json",
        f"data.path={FIXTURES / 'ratings'}",
        "data.problem_type=regression",
        "task=text_regression",
        "data.label_column=score",
    )
    assert metrics["test/pearson"] >= 0.5
    assert {"val/spearman", "val/mse", "test/mae"} <= set(metrics)
    assert sum(losses[-4:]) < 0.5 * sum(losses[:4])
    config = json.loads((run_dir / "model" / "config.json").read_text())
    assert config["problem_type"] == "regression" and len(config["id2label"]) == 1
    rate = pipeline("text-classification", model=str(run_dir / "model"), function_to_apply="none")
    praised = rate("the acting was great and a fun story and the food was tasty")[0]["score"]
    panned = rate("the plot was slow and a poor ending and the food was cold")[0]["score"]
    assert praised > panned


def _write_hub_style_multi_label(folder: Path, class_labels: bool) -> None:
    """GoEmotions' Hub schema: `labels` is a list of class ids (ClassLabel ids in Parquet)."""
    from datasets import ClassLabel, Dataset, Features, List, Value

    rows = {"text": ["joy and anger", "only fear", "nothing"], "labels": [[0, 2], [1], [2]]}
    label = ClassLabel(names=["a", "b", "c"]) if class_labels else Value("int64")
    features = Features({"text": Value("string"), "labels": List(label)})
    folder.mkdir()
    for split in ("train", "validation", "test"):
        Dataset.from_dict(rows, features=features).to_parquet(folder / f"{split}.parquet")


@pytest.mark.parametrize("class_labels", [True, False], ids=["classlabel-lists", "int-lists"])
@pytest.mark.parametrize("streaming", [False, True], ids=["map-style", "streamed"])
def test_label_id_lists_become_float_multi_hot_targets(
    compose_cfg, tmp_path: Path, class_labels: bool, streaming: bool
) -> None:  # type: ignore[no-untyped-def]
    """A source column named `labels` (as in GoEmotions) must not pass its integer type on to
    the multi-hot targets written under the same name: BCE needs float targets."""
    from hydra.utils import instantiate

    _write_hub_style_multi_label(tmp_path / "emotions", class_labels)
    overrides = ["data.streaming=true", "trainer.max_steps=2"] if streaming else []
    cfg = compose_cfg(
        "model=tiny_bert",
        "data=go_emotions",
        f"data.path={tmp_path / 'emotions'}",
        "data.label_names=[a,b,c]",
        "data.batch_size=3",
        "data.shuffle_buffer=0",
        *overrides,
    )
    datamodule = instantiate(cfg.data, tokenizer=instantiate(cfg.model.tokenizer), _convert_="all")
    datamodule.setup("fit")
    batch = next(iter(datamodule.val_dataloader()))
    assert batch["labels"].dtype == torch.float32
    assert batch["labels"].tolist() == [[1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    train = next(iter(datamodule.train_dataloader()))
    assert train["labels"].dtype == torch.float32 and train["labels"].shape[1] == 3
    wide = TINY | {"vocab_size": 2048}
    model = BertForSequenceClassification(
        BertConfig(num_labels=3, problem_type="multi_label_classification", **wide)
    )
    assert torch.isfinite(model(**train).loss)  # BCE accepts the targets


# --------------------------------------------------------------------------- package layout
def test_old_dotted_names_of_the_single_file_head_still_resolve() -> None:
    """Run directories written before the package name the classes by their old paths in
    config.yaml; `lab.eval`, `lab.predict` and the report plots instantiate them by those."""
    from hydra.utils import get_class, get_method

    import lab.tasks.text_classification as package
    from lab.tasks.text_classification import data, module, predictor

    old = "lab.tasks.text_classification."
    assert get_class(old + "TextClassificationDataModule") is data.TextClassificationDataModule
    assert get_class(old + "TextClassificationModule") is module.TextClassificationModule
    assert (
        get_class(old + "SequenceClassificationPredictor")
        is predictor.SequenceClassificationPredictor
    )
    assert get_method(old + "plot_confusion_matrix") is module.plot_confusion_matrix
    assert package.PROBLEM_TYPES["multi_label"] == "multi_label_classification"
    assert {"TextClassificationModule", "SequenceClassificationPredictor"} <= set(dir(package))
    with pytest.raises(AttributeError, match="no attribute 'NoSuchThing'"):
        package.NoSuchThing  # noqa: B018


def test_the_predictor_does_not_load_lightning() -> None:
    """`lab.predict` / `lab.serve` import the task YAML's predictor only: its module (and the
    package's old name for it) must not pull in Lightning or torchmetrics."""
    code = (
        "import sys\n"
        "from lab.tasks.text_classification import SequenceClassificationPredictor\n"
        "import lab.tasks.text_classification.predictor\n"
        "print(sorted(m for m in ('lightning', 'torchmetrics') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_multi_label_classes_neither_labelled_nor_predicted_are_noted() -> None:
    """s30b F2: multi-label `f1_macro` counts a class no row holds and none was predicted
    for as F1 0 (sklearn's macro on label columns does the same; the single-label head leaves
    such a class out): the note names them and gives the mean over the other classes."""
    from sklearn.metrics import f1_score

    from lab.eval_table import absent_classes_note

    names = ["joy", "anger", "fear", "grief", "pride"]
    model = _model(5)
    model.config.id2label = dict(enumerate(names))
    module = MultiLabelClassificationModule(model, optimizer=None)  # type: ignore[arg-type]
    # grief, pride: neither labelled nor predicted; fear: labelled, never predicted.
    predictions = torch.tensor([[1, 0, 0, 0, 0], [0, 1, 0, 0, 0], [1, 1, 0, 0, 0]])
    targets = torch.tensor([[1, 0, 0, 0, 0], [0, 1, 1, 0, 0], [0, 1, 0, 0, 0]])
    module.test_counts.update(predictions, targets)
    module.metrics["test"].update(predictions, targets)
    logged = float(module.metrics["test"].compute()["test/f1_macro"])
    assert logged == pytest.approx(f1_score(targets, predictions, average="macro", zero_division=0))
    present = f1_score(targets[:, :3], predictions[:, :3], average="macro", zero_division=0)
    assert present == pytest.approx((2 / 3 + 1.0 + 0.0) / 3)  # joy 2/3, anger 1, fear 0
    note = absent_classes_note(module.evaluation_report("test"), where="the test split")
    assert note == (
        "2 of 5 classes are neither labelled nor predicted in the test split ('grief', "
        "'pride'): f1_macro counts each with an F1 of 0, as sklearn's average='macro' does on "
        f"label columns; over the other 3 it is {present:.4f}"
    )
    assert logged == pytest.approx(present * 3 / 5)
    # Every class labelled or predicted, or a report of before `predicted`: nothing said.
    module.test_counts.update(
        torch.ones(2, 5, dtype=torch.long), torch.ones(2, 5, dtype=torch.long)
    )
    assert absent_classes_note(module.evaluation_report("test")) == ""
    old = {
        "labels": ["a"],
        "per_label": {"a": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}},
    }
    assert absent_classes_note(old) == ""


def test_a_run_warns_of_zero_scored_classes_before_its_final_table(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging

    from lab.run_dir.finalize import note_zero_scored_classes

    row = {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0, "predicted": 0}
    report = {"labels": ["a", "b"], "per_label": {"a": {**row, "f1": 0.5, "support": 2}, "b": row}}
    with caplog.at_level(logging.WARNING, logger="lab.run_dir.finalize"):
        note_zero_scored_classes(report)
        note_zero_scored_classes({})
    assert caplog.messages == [
        "1 of 2 classes are neither labelled nor predicted in the test split ('b'): f1_macro "
        "counts each with an F1 of 0, as sklearn's average='macro' does on label columns; over "
        "the other 1 it is 0.5000"
    ]
