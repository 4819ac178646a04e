"""The head protocol: everything lab knows about a head is declared in its task YAML.

Every `conf/task/*.yaml` (found by glob, so a new head is covered without editing this file)
declares its module, predictor, report figures, Hub pipeline tag, model card code and label
pinning; the generic tools (eval, predict, serve, export, train, run_dir, inference) hold no
table keyed by a head's name; figures, predictors and card code are reached through the YAML
alone.
"""

from __future__ import annotations

import ast
import csv
from pathlib import Path
from typing import Any

import pytest
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf

from lab.config.paths import conf_dir
from lab.errors import LabError
from lab.inference.predictors import Predictor, predictor_for
from lab.run_dir.plots import write_run_plots
from lab.run_dir.runs import TrainedRun

TASKS = sorted(p.stem for p in (conf_dir() / "task").glob("*.yaml"))
PROTOCOL_KEYS = (
    "module",
    "predictor",
    "report_plots",
    "pipeline_tag",
    "card_usage",
    "pin_label_names",
)
SRC = Path(__file__).resolve().parents[1] / "src" / "lab"
# The generic consumers: they reach a head only through its task YAML.
GENERIC_FILES = sorted(
    [
        SRC / f"{name}.py"
        for name in ("eval", "predict", "serve", "export", "train", "demo", "inspect")
    ]
    + list((SRC / "run_dir").glob("*.py"))
    + list((SRC / "inference").glob("*.py"))
)
PNG = b"\x89PNG\r\n\x1a\n"
REPORT = {"labels": ["negative", "positive"], "confusion_matrix": [[5, 1], [2, 4]]}


def _task(compose_cfg: Any, name: str) -> DictConfig:
    cfg = compose_cfg(f"task={name}")
    assert isinstance(cfg, DictConfig)
    return cfg


def test_every_task_was_found() -> None:
    assert {"text_classification", "token_classification", "causal_lm", "summarization"} <= set(
        TASKS
    )


@pytest.mark.parametrize("name", TASKS)
def test_task_declares_the_protocol(name: str, compose_cfg: Any) -> None:
    task = _task(compose_cfg, name).task
    missing = [key for key in PROTOCOL_KEYS if key not in task]
    assert not missing, f"conf/task/{name}.yaml lacks {missing}"
    assert isinstance(task.pin_label_names, bool)
    assert isinstance(task.pipeline_tag, str)
    # The predictor is a partial of a Predictor subclass, completed by predictor_for.
    assert task.predictor.get("_partial_") is True
    make = instantiate(task.predictor)
    assert isinstance(make.func, type) and issubclass(make.func, Predictor), make.func
    # Each report figure imports, is callable, and draws nothing from a report without data.
    for plot, spec in task.report_plots.items():
        draw = instantiate(spec)
        assert callable(draw), plot
        assert draw({}) is None, plot
    # The card's code (and an ONNX export's, where declared): a partial fn(cfg) -> (code, note)
    # whose code is Python.
    for key in ("card_usage", "card_onnx_usage"):
        if key in task:
            assert task[key].get("_partial_") is True, key
            code, note = instantiate(task[key])(_task(compose_cfg, name))
            assert isinstance(note, str), key
            compile(code, f"<{name} {key}>", "exec")


@pytest.mark.parametrize(
    ("name", "tag", "pinned", "plots"),
    [
        ("text_classification", "text-classification", True, {"confusion_matrix"}),
        ("multi_label_classification", "text-classification", True, set()),
        ("text_regression", "text-classification", False, set()),
        ("token_classification", "token-classification", False, {"entity_f1"}),
        ("causal_lm", "text-generation", False, set()),
        ("summarization", "text2text-generation", False, set()),
        ("translation", "text2text-generation", False, set()),
        ("question_answering", "question-answering", False, set()),
        ("multiple_choice", "multiple-choice", False, {"choice_positions"}),
        ("sft", "text-generation", False, set()),
        ("dpo", "text-generation", False, set()),
        ("masked_lm", "fill-mask", False, set()),
    ],
)
def test_task_values_and_the_model_card_tag(
    name: str, tag: str, pinned: bool, plots: set[str], compose_cfg: Any
) -> None:
    from lab.run_dir.model_card import model_card

    cfg = _task(compose_cfg, name)
    assert cfg.task.pin_label_names is pinned
    assert set(cfg.task.report_plots) == plots
    card = model_card(cfg, {"command": "python -m lab.train"}, {"test/acc": 0.5})
    assert f"\npipeline_tag: {tag}\n" in card


def _string_literals(path: Path) -> list[str]:
    """Every string constant in `path`'s code, docstrings left out."""
    tree = ast.parse(path.read_text())
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_generic_code_names_no_head() -> None:
    """No string in the generic tools names a head's Auto class, module or predictor."""
    names: set[str] = set()
    for path in (conf_dir() / "task").glob("*.yaml"):
        task = OmegaConf.load(path)
        assert isinstance(task, DictConfig)
        for key in ("head", "module._target_", "predictor._target_"):
            value = OmegaConf.select(task, key)
            if value:
                names.add(str(value).rsplit(".", 1)[-1])
    assert {"TextClassificationModule", "AutoModelForSequenceClassification"} <= names
    offenders = [
        f"{path.relative_to(SRC)}: {literal!r}"
        for path in GENERIC_FILES
        for literal in _string_literals(path)
        if any(name in literal for name in names)
    ]
    assert not offenders, offenders


def _plot_cfg(report_plots: dict[str, Any] | None) -> DictConfig:
    task: dict[str, Any] = {"head": "transformers.AutoModelForSequenceClassification"}
    if report_plots is not None:
        task["report_plots"] = report_plots
    return OmegaConf.create({"optimized_metric": "val/acc", "task": task})


def test_write_run_plots_draws_the_heads_figures(compose_cfg: Any, tmp_path: Path) -> None:
    cfg = _task(compose_cfg, "text_classification")
    written = write_run_plots(tmp_path, REPORT, cfg)
    assert written == [tmp_path / "plots" / "confusion_matrix.png"]
    assert written[0].read_bytes()[:8] == PNG
    # With a CSV log the generic curves come first.
    log = tmp_path / "logged"
    (log / "csv").mkdir(parents=True)
    with (log / "csv" / "metrics.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["step", "epoch", "train/loss", "val/loss", "val/acc"])
        writer.writerows([[1, 0, 0.7, "", ""], [2, 0, "", 0.6, 0.5], [3, 1, 0.5, 0.55, 0.75]])
    names = [p.name for p in write_run_plots(log, REPORT, cfg)]
    assert names == ["curves.png", "confusion_matrix.png"]
    assert all((log / "plots" / n).read_bytes()[:8] == PNG for n in names)


def test_write_run_plots_skips_what_it_cannot_draw(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    confusion: dict[str, Any] = {
        "_target_": "lab.tasks.text_classification.plot_confusion_matrix",
        "_partial_": True,
    }
    # A report without the figure's data: nothing drawn, no plots/ folder.
    assert write_run_plots(tmp_path, {"entities": {}}, _plot_cfg({"c": confusion})) == []
    assert not (tmp_path / "plots").exists()
    # A run config from before heads declared figures: none (and no curves without a log).
    assert write_run_plots(tmp_path, REPORT, _plot_cfg(None)) == []
    # A figure that fails is skipped with a log line; the others are still drawn.
    broken = {"_target_": "lab.tasks.no_such_head.plot", "_partial_": True}
    with caplog.at_level("INFO", logger="lab.run_dir.plots"):
        written = write_run_plots(tmp_path, REPORT, _plot_cfg({"bad": broken, "c": confusion}))
    assert written == [tmp_path / "plots" / "c.png"]
    assert "plot bad skipped" in caplog.text


def test_predictor_for_an_old_run_is_one_line_naming_the_key(tmp_path: Path) -> None:
    config = OmegaConf.create(
        {
            "task": {
                "head": "transformers.AutoModelForSequenceClassification",
                "module": {"_target_": "lab.tasks.text_classification.TextClassificationModule"},
            },
            "data": {"max_length": 16},
        }
    )
    with pytest.raises(LabError) as caught:
        predictor_for(TrainedRun(tmp_path, config, {}))
    message = str(caught.value)
    # Refused before any model loads (this run has none, which would be another message).
    assert "older lab" in message and "task.predictor" in message
    assert "\n" not in message


def test_predictor_heads_are_predictor_subclasses() -> None:
    """The generating heads share the Generator base (tokenize + generate)."""
    from lab.inference.predictors import Generator

    for target in (
        "lab.tasks.causal_lm.GenerationPredictor",
        "lab.tasks.seq2seq.Seq2SeqPredictor",
        "lab.tasks.sft.predictor.ChatPredictor",
    ):
        assert issubclass(get_class(target), Generator), target
