"""GLUE's scores in single-label classification (`TextClassificationModule`): `mcc`, the
Matthews correlation (CoLA), in every run, and `f1_positive`, the binary F1 of label id 1
(MRPC, QQP), in a two-class run; `f1` stays the macro average. Hand-computed confusions through
the module's evaluation step, checked by the formula and by scikit-learn (constant predictions
included, where torchmetrics' own MCC is not sklearn's); then one tiny run whose recorded
`test/mcc` is sklearn's on `lab.predict`'s predictions, its checkpoint chosen by `val/mcc`."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import f1_score, matthews_corrcoef
from transformers.modeling_outputs import SequenceClassifierOutput

from lab.tasks.text_classification.module import TextClassificationModule

from conftest import FIXTURES

IMBALANCED = FIXTURES / "imbalanced"  # 90% `ok`, 10% `alert`: CoLA-like, acc and MCC part ways
# Lightning warns that `self.log` has no trainer: these tests call the evaluation step alone.
NO_TRAINER = pytest.mark.filterwarnings("ignore:.*self.log.*:UserWarning")


class FixedPredictions(torch.nn.Module):
    """A classification head whose logits pick, for each row, the class id given as the row's
    first input id: the predictions are whatever the test writes."""

    def __init__(self, num_labels: int) -> None:
        super().__init__()
        self.config = SimpleNamespace(
            num_labels=num_labels, id2label={i: f"c{i}" for i in range(num_labels)}
        )
        self.num_labels = num_labels

    def forward(self, input_ids: torch.Tensor, labels: torch.Tensor) -> SequenceClassifierOutput:
        logits = F.one_hot(input_ids[:, 0], self.num_labels).float()
        return SequenceClassifierOutput(loss=F.cross_entropy(logits, labels), logits=logits)


def _evaluate(
    num_labels: int, labels: list[int], predictions: list[int], batch: int = 4
) -> dict[str, float]:
    """The `val/` metrics of a module fed `predictions` for `labels`, a few rows a batch."""
    module = TextClassificationModule(FixedPredictions(num_labels), optimizer=None)  # type: ignore[arg-type]
    for start in range(0, len(labels), batch):
        rows = slice(start, start + batch)
        step = {
            "input_ids": torch.tensor(predictions[rows])[:, None],
            "labels": torch.tensor(labels[rows]),
        }
        module.evaluation_step(step, "val")
    return {name: float(value) for name, value in module.evaluation_metrics("val").items()}


def test_val_f1_positive_on_three_classes_says_why_it_is_not_logged() -> None:
    # Lightning's refusal at the first validation, as `lab.training.fit` words it: the head's
    # note says why the metric is missing, before the closest logged one.
    from omegaconf import OmegaConf

    from lab.training.fit import unknown_metric_error

    module = TextClassificationModule(FixedPredictions(3), optimizer=None)  # type: ignore[arg-type]
    logged = ["val/acc", "val/f1", "val/loss", "val/mcc", "val/precision", "val/recall"]
    trainer: Any = SimpleNamespace(
        lightning_module=module, callback_metrics=dict.fromkeys(logged, 0.5)
    )
    lightning = RuntimeError(
        "`ModelCheckpoint(monitor='val/f1_positive')` could not find the monitored key in the "
        "returned metrics: ..."
    )
    cfg = OmegaConf.create({"optimized_metric": "val/f1_positive"})
    error = unknown_metric_error(lightning, cfg, trainer)
    assert str(error) == (
        "optimized_metric=val/f1_positive is no metric this run's validation logs; it logged: "
        "val/acc, val/f1, val/loss, val/mcc, val/precision, val/recall. f1_positive is logged "
        "with two classes only; this run has 3 (val/f1 is the macro F1). Start the run again "
        "with one of them (no best checkpoint could be chosen)"
    )
    two = TextClassificationModule(FixedPredictions(2), optimizer=None)  # type: ignore[arg-type]
    assert two.metric_notes == {}  # logged there: nothing to say


@NO_TRAINER
def test_two_classes_by_hand_and_by_sklearn() -> None:
    # tp 4, fn 1 (label 1); fp 2, tn 3 (label 0)
    labels = [1, 1, 1, 1, 1, 0, 0, 0, 0, 0]
    predictions = [1, 1, 1, 1, 0, 1, 1, 0, 0, 0]
    values = _evaluate(2, labels, predictions)
    assert set(values) == {
        "val/acc", "val/f1", "val/f1_positive", "val/mcc", "val/precision", "val/recall",
    }  # fmt: skip
    # (tp tn - fp fn) / sqrt((tp + fp)(tp + fn)(tn + fp)(tn + fn)) = (12 - 2) / sqrt(6 5 5 4)
    assert values["val/mcc"] == pytest.approx(10 / math.sqrt(600), abs=1e-6)
    assert values["val/mcc"] == pytest.approx(matthews_corrcoef(labels, predictions), abs=1e-6)
    # Label id 1's F1: 2 tp / (2 tp + fp + fn) = 8 / 11, sklearn's f1_score(y, p).
    assert values["val/f1_positive"] == pytest.approx(8 / 11, abs=1e-6)
    assert values["val/f1_positive"] == pytest.approx(f1_score(labels, predictions), abs=1e-6)
    # `f1` stays the macro average: label 0's F1 is 2 tn / (2 tn + fn + fp) = 6 / 9.
    assert values["val/f1"] == pytest.approx((8 / 11 + 6 / 9) / 2, abs=1e-6)
    assert values["val/f1"] == pytest.approx(
        f1_score(labels, predictions, average="macro"), abs=1e-6
    )
    assert values["val/acc"] == pytest.approx(0.7)


@NO_TRAINER
def test_three_classes_mcc_is_gorodkins_and_there_is_no_positive_class() -> None:
    labels = [0, 0, 0, 1, 1, 1, 1, 2, 2, 2]
    predictions = [0, 1, 0, 1, 1, 2, 0, 2, 2, 1]
    values = _evaluate(3, labels, predictions)
    assert "val/f1_positive" not in values
    # Confusion rows [2 1 0] [1 2 1] [0 1 2]: true and predicted sums (3, 4, 3), trace 6,
    # 10 rows: (6 10 - 34) / sqrt((100 - 34)(100 - 34)) = 26 / 66.
    assert values["val/mcc"] == pytest.approx(26 / 66, abs=1e-6)
    assert values["val/mcc"] == pytest.approx(matthews_corrcoef(labels, predictions), abs=1e-6)


@NO_TRAINER
@pytest.mark.parametrize(
    ("labels", "predictions"),
    [
        # One class predicted for every row of a 70/30 split: sklearn (and GLUE) say 0;
        # torchmetrics' MulticlassMatthewsCorrCoef says 0.0873, so a collapsed model would
        # beat chance under optimized_metric=val/mcc.
        ([1] * 7 + [0] * 3, [1] * 10),
        ([1] * 7 + [0] * 3, [0] * 10),
        ([1] * 10, [1] * 10),  # one class present, all right: 0, not torchmetrics' 1
        ([1] * 10, [0] * 10),  # ... all wrong: 0, not -1
    ],
)
def test_mcc_of_constant_predictions_is_sklearns_zero(
    labels: list[int], predictions: list[int]
) -> None:
    assert matthews_corrcoef(labels, predictions) == 0.0
    assert _evaluate(2, labels, predictions)["val/mcc"] == 0.0


@NO_TRAINER
@pytest.mark.parametrize("num_labels", [2, 4])
def test_mcc_and_positive_f1_equal_sklearns_on_random_rows(num_labels: int) -> None:
    generator = torch.Generator().manual_seed(num_labels)
    labels = torch.randint(num_labels, (203,), generator=generator).tolist()
    # Right about 60% of the time, else a random class.
    guesses = torch.randint(num_labels, (203,), generator=generator).tolist()
    keep = torch.rand(203, generator=generator) < 0.6
    predictions = [y if k else g for y, g, k in zip(labels, guesses, keep.tolist(), strict=True)]
    values = _evaluate(num_labels, labels, predictions, batch=16)
    assert values["val/mcc"] == pytest.approx(matthews_corrcoef(labels, predictions), abs=1e-6)
    if num_labels == 2:
        assert values["val/f1_positive"] == pytest.approx(f1_score(labels, predictions), abs=1e-6)


@pytest.fixture(scope="module")
def mcc_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny run on the 90/10 fixture, its checkpoint chosen by `val/mcc`: its first epochs
    predict `ok` for every row (val/acc 0.90, val/mcc 0), then it learns (a few seconds)."""
    from lab.config import compose_train_config
    from lab.train import run

    run_dir = tmp_path_factory.mktemp("mcc_run")
    overrides = [
        "model=tiny_bert", "data=csv", f"data.path={IMBALANCED}", "data.batch_size=16",
        "optimizer.lr=2e-3", "trainer.max_epochs=6", "task.module.class_weights=balanced",
        "logger=csv", "optimized_metric=val/mcc",
    ]  # fmt: skip
    run(compose_train_config(overrides, output_dir=run_dir))
    return run_dir


def _labels_by_id(run_dir: Path) -> list[str]:
    id2label = json.loads((run_dir / "model" / "config.json").read_text())["id2label"]
    return [id2label[str(i)] for i in range(len(id2label))]


@pytest.mark.slow
def test_recorded_test_scores_are_sklearns_on_the_predictions(
    mcc_run: Path, tmp_path: Path
) -> None:
    from lab.predict import main as predict

    metrics = json.loads((mcc_run / "metrics.json").read_text())
    data = IMBALANCED / "test.csv"
    out = tmp_path / "predictions.jsonl"
    assert predict([f"run={mcc_run}", f"input={data}", f"output={out}"]) == 0
    with data.open() as handle:
        gold = [row["label"] for row in csv.DictReader(handle)]
    predicted = [json.loads(line)["label"] for line in out.read_text().splitlines()]
    assert len(predicted) == len(gold) == 200
    names = _labels_by_id(mcc_run)
    assert names == ["alert", "ok"]  # sorted names: `ok` is label id 1, the positive class
    assert metrics["test/mcc"] == pytest.approx(matthews_corrcoef(gold, predicted), abs=1e-6)
    assert metrics["test/f1_positive"] == pytest.approx(
        f1_score(gold, predicted, pos_label=names[1]), abs=1e-6
    )
    assert metrics["test/f1"] == pytest.approx(f1_score(gold, predicted, average="macro"), abs=1e-6)
    assert metrics["test/mcc"] > 0.2  # the run learned: the check is of a real number, not 0


@pytest.mark.slow
def test_val_mcc_chooses_the_tested_checkpoint(mcc_run: Path) -> None:
    rows = list(csv.DictReader((mcc_run / "csv" / "metrics.csv").open()))
    fit = [r for r in rows if r.get("val/mcc") and not r.get("test/mcc")][:6]  # one per epoch
    by_epoch = [(int(r["epoch"]), float(r["val/mcc"]), float(r["val/acc"])) for r in fit]
    best = max(mcc for _, mcc, _ in by_epoch)
    best_epoch = next(epoch for epoch, mcc, _ in by_epoch if mcc == best)  # the first to reach it
    # The CoLA case: a validation at 90% accuracy that is no better than chance.
    assert any(mcc == 0.0 and acc >= 0.89 for _, mcc, acc in by_epoch), by_epoch
    assert best > 0.2, by_epoch
    (checkpoint,) = (mcc_run / "checkpoints").glob("best-*.ckpt")
    assert checkpoint.name.startswith(f"best-epoch{best_epoch:02d}-")
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    (monitor,) = (v for k, v in state["callbacks"].items() if "'monitor': 'val/mcc'" in k)
    assert float(monitor["best_model_score"]) == pytest.approx(best, abs=1e-6)
    record: dict[str, Any] = json.loads((mcc_run / "record.json").read_text())
    assert record["tested"] == "best checkpoint"
    assert record["metrics"]["val/mcc"] == pytest.approx(best, abs=1e-6)
