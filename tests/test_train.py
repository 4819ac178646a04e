"""`run(cfg)` end to end with a tiny BERT on fixture data: metrics, run directory, export."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from lab.train import run

from conftest import SENTIMENT, TINY_FIXTURE_RUN

pytestmark = pytest.mark.slow  # every test trains, or reads a run a module fixture trains

# The fixture has two classes: `f1_positive` too (`TextClassificationModule`).
METRIC_NAMES = {"acc", "f1", "f1_positive", "precision", "recall", "mcc", "loss"}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, float], Path]:
    """One real training run shared by the assertions below (2 epochs, seconds)."""
    from lab.config import compose_train_config

    output_dir = tmp_path_factory.mktemp("tiny_run")
    cfg = compose_train_config([*TINY_FIXTURE_RUN, "plots=true"], output_dir=output_dir)
    return run(cfg), output_dir


def test_metrics_cover_val_and_test(tiny_run: tuple[dict[str, float], Path]) -> None:
    metrics, run_dir = tiny_run
    model_keys = {"model/params_total", "model/params_trainable"}
    assert set(metrics) == {f"{s}/{m}" for s in ("val", "test") for m in METRIC_NAMES} | model_keys
    for name, value in metrics.items():
        if name.startswith(("val/", "test/")) and not name.endswith(("loss", "mcc")):
            assert 0.0 <= value <= 1.0, name
        elif name.endswith("mcc"):  # a correlation
            assert -1.0 <= value <= 1.0, name
    # The parameter counts (a sweep may minimize them) are the model's, as recorded.
    counts = json.loads((run_dir / "record.json").read_text())["parameters"]
    assert metrics["model/params_total"] == counts["total"]
    assert metrics["model/params_trainable"] == counts["trainable"] == counts["total"]


def test_run_directory_contents(tiny_run: tuple[dict[str, float], Path]) -> None:
    metrics, run_dir = tiny_run
    assert json.loads((run_dir / "metrics.json").read_text()) == pytest.approx(metrics)
    record = json.loads((run_dir / "record.json").read_text())
    assert record["status"] == "finished"
    assert record["metrics"] == pytest.approx(metrics)
    assert record["seed"] == 42 and record["started"] <= record["finished"]
    config = (run_dir / "config.yaml").read_text()
    assert "${" not in config, "config.yaml is resolved"
    assert str(SENTIMENT) in config
    checkpoints = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    assert "last.ckpt" in checkpoints
    assert any(name.startswith("best-") for name in checkpoints)
    rows = list(csv.DictReader((run_dir / "csv" / "metrics.csv").open()))
    assert any(row.get("train/loss") for row in rows)


def test_checkpoint_holds_no_hydra_objects(tiny_run: tuple[dict[str, float], Path]) -> None:
    import torch

    _, run_dir = tiny_run
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert "state_dict" in checkpoint
    assert not checkpoint.get("hyper_parameters")


def test_export_loads_in_pipeline_with_label_names(tiny_run: tuple[dict[str, float], Path]) -> None:
    from transformers import pipeline

    _, run_dir = tiny_run
    classifier = pipeline("text-classification", model=str(run_dir / "model"))
    prediction = classifier("the soup was delicious")[0]
    assert prediction["label"] in {"negative", "positive"}
    assert 0.0 <= prediction["score"] <= 1.0


def test_overfit_loss_goes_down_and_export_predicts_training_labels(compose_cfg: Any) -> None:
    """A tiny model must memorise 16 fixture rows: the pipeline's loss, labels and export."""
    from transformers import pipeline

    cfg = compose_cfg(
        *TINY_FIXTURE_RUN,
        "data.max_train_samples=16",
        "trainer.max_epochs=40",
        "optimizer.lr=3e-3",
        "optimizer.weight_decay=0",
        "scheduler=constant",
        "scheduler.warmup_ratio=0",
        "callbacks=none",
    )
    run(cfg)
    run_dir = Path(cfg.paths.output_dir)
    losses = [
        float(row["train/loss"])
        for row in csv.DictReader((run_dir / "csv" / "metrics.csv").open())
        if row.get("train/loss")
    ]
    assert losses[0] > 0.6  # chance level for 2 classes is ln 2 = 0.69
    assert losses[-1] < 0.1 < losses[0] / 5

    import datasets

    train = datasets.load_dataset("csv", data_files=str(SENTIMENT / "train.csv"))["train"]
    subset = train.shuffle(seed=42).select(range(16))  # what max_train_samples=16 selects
    classifier = pipeline("text-classification", model=str(run_dir / "model"))
    predicted = [p["label"] for p in classifier(list(subset["review"]))]
    assert predicted == list(subset["sentiment"])


def test_same_seed_same_metrics(compose_cfg: Any, tmp_path: Path) -> None:
    first = run(compose_cfg(*TINY_FIXTURE_RUN, "trainer.max_epochs=1", output_dir=tmp_path / "a"))
    second = run(compose_cfg(*TINY_FIXTURE_RUN, "trainer.max_epochs=1", output_dir=tmp_path / "b"))
    assert first == second


def test_csv_and_tensorboard_loggers_combine(compose_cfg: Any) -> None:
    overrides = [o for o in TINY_FIXTURE_RUN if not o.startswith("logger=")]
    cfg = compose_cfg(*overrides, "logger=[csv,tensorboard]", "trainer.max_epochs=1")
    run(cfg)
    run_dir = Path(cfg.paths.output_dir)
    assert (run_dir / "csv" / "metrics.csv").is_file()
    assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))


def test_default_logger_writes_wandb_offline_without_credentials(
    compose_cfg: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc
    monkeypatch.setenv("NETRC", str(tmp_path / "none"))
    overrides = [o for o in TINY_FIXTURE_RUN if not o.startswith("logger=")]
    cfg = compose_cfg(*overrides, "trainer.max_epochs=1", output_dir=tmp_path / "run")
    metrics = run(cfg)
    (offline_run,) = (tmp_path / "run" / "wandb").glob("offline-run-*")
    assert list(offline_run.glob("*.wandb")), "W&B wrote its offline log"
    assert (tmp_path / "run" / "csv" / "metrics.csv").is_file()
    assert "val/acc" in metrics


def test_a_data_error_starts_no_wandb_run(
    compose_cfg: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """W&B starts in the background only once the data is ready (`lab.train.run`)."""
    from lab.data.datamodule import DataModule
    from lab.errors import DataError

    def broken(self: Any, stage: str | None = None) -> None:
        raise DataError("train.csv:3: label 7 is out of range")

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setattr(DataModule, "setup", broken)
    overrides = [o for o in TINY_FIXTURE_RUN if not o.startswith("logger=")]
    cfg = compose_cfg(*overrides, "trainer.max_epochs=1", output_dir=tmp_path / "run")
    with pytest.raises(DataError, match="out of range"):
        run(cfg)
    assert not (tmp_path / "run" / "wandb").exists() or not list(
        (tmp_path / "run" / "wandb").glob("*run-*")
    ), "no W&B run for a run that failed on its data"
    assert "failed" in json.loads((tmp_path / "run" / "record.json").read_text())["status"]


def test_test_report_has_confusion_matrix(tiny_run: tuple[dict[str, float], Path]) -> None:
    metrics, run_dir = tiny_run
    report = json.loads((run_dir / "test_report.json").read_text())
    assert report["labels"] == ["negative", "positive"]
    matrix = report["confusion_matrix"]
    assert sum(map(sum, matrix)) == 12  # the fixture's test split
    correct = matrix[0][0] + matrix[1][1]
    assert correct / 12 == pytest.approx(metrics["test/acc"])


def test_plots_false_draws_no_figure_and_writes_the_rest(tmp_path: Path) -> None:
    """`plots=false` (the tests' tiny run): no plots/ folder; metrics, test report, record
    and the exported model with its card as with figures; a value other than a boolean is
    refused before anything loads."""
    from lab.config import compose_train_config
    from lab.config.rules import validate_config
    from lab.errors import ConfigError

    assert "plots=false" in TINY_FIXTURE_RUN
    metrics = run(compose_train_config(TINY_FIXTURE_RUN, output_dir=tmp_path / "run"))
    assert "test/acc" in metrics
    assert not (tmp_path / "run" / "plots").exists()
    for name in ("metrics.json", "test_report.json", "record.json", "model/README.md"):
        assert (tmp_path / "run" / name).is_file(), name
    with pytest.raises(ConfigError, match="plots"):
        validate_config(compose_train_config(["plots=no"], output_dir=tmp_path / "no"))


def test_run_writes_curve_and_confusion_plots(tiny_run: tuple[dict[str, float], Path]) -> None:
    from lab.run_dir.plots import read_metric_series

    _, run_dir = tiny_run
    for name in ("curves", "confusion_matrix"):
        png = (run_dir / "plots" / f"{name}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000, name
    assert not (run_dir / "plots" / "entity_f1.png").exists()  # not a tagging run
    series = read_metric_series(run_dir / "csv" / "metrics.csv")
    assert len(series["train/loss"]) >= 4 and len(series["val/acc"]) >= 1
    steps = [step for step, _ in series["train/loss"]]
    assert steps == sorted(steps)
    # One validation row per validation of the fit: the best checkpoint's metrics are not
    # logged again after it (a row one epoch past the last, often a jump back on the curve);
    # the curves leave out the test row.
    fit = read_metric_series(run_dir / "csv" / "metrics.csv", during_fit=True)
    validations = history_steps(run_dir)
    # (Lightning's CSV logs a validation at the index of the training step before it.)
    assert [step + 1 for step, _ in series["val/acc"]] == validations and len(validations) >= 1
    assert fit["val/acc"] == series["val/acc"]
    assert fit["train/loss"] == series["train/loss"] and "test/acc" not in fit


def history_steps(run_dir: Path) -> list[int]:
    """The steps of the fit's validations, from the last checkpoint's `ValidationHistory`."""
    import torch

    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    (state,) = (v for k, v in checkpoint["callbacks"].items() if "ValidationHistory" in k)
    return [step for _, step, _ in state["validations"]]


def test_exported_model_has_a_model_card(tiny_run: tuple[dict[str, float], Path]) -> None:
    metrics, run_dir = tiny_run
    card = (run_dir / "model" / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: transformers\npipeline_tag: text-classification")
    record = json.loads((run_dir / "record.json").read_text())
    assert record["command"] in card
    assert f"| `test/acc` | {metrics['test/acc']:.4f} |" in card
    assert "| `optimizer.lr` |" in card and "## Intended use and limitations" in card
    assert "AutoModelForSequenceClassification" in card
