"""examples/own_head, the README's "Writing your own head": a head of a user's own package
trains with `--config-dir`, predicts, and logs from its own callback, so the example cannot rot;
and the refusals a user's head meets (a module without its evaluation methods, a task YAML
without a predictor, a project not on PYTHONPATH) are one line each."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from omegaconf import OmegaConf

from lab.errors import ConfigError, lab_error_in
from lab.tasks.base import TaskModule, missing_evaluation_methods

from conftest import FIXTURES, lab_cli

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "own_head"
ON_PATH = {"PYTHONPATH": str(EXAMPLE)}  # the user's package importable, as the README says
CALLBACK = "+callbacks.note={_target_: my_head.callbacks.ValidationNote}"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The example's run (the README's command, a few steps) and its console output."""
    out = tmp_path_factory.mktemp("own_head")
    result = lab_cli(
        "train",
        "--config-dir",
        str(EXAMPLE / "conf"),
        "data=ratings",  # picks task=bounded_score itself
        "model=tiny_bert",
        "optimizer.lr=1e-2",  # the README's rate: the tiny model learns at it
        "trainer.max_steps=12",
        "logger=csv",
        f"paths.output_root={out}",
        CALLBACK,
        cwd=ROOT,  # the data YAML's path is relative to where lab runs
        env=ON_PATH,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    run = Path(re.findall(r"^Run directory: (.+)$", result.stdout, re.M)[-1])
    return run, result.stdout


@pytest.mark.slow
def test_the_example_head_trains_reports_and_predicts(
    trained: tuple[Path, str], tmp_path: Path
) -> None:
    run, _ = trained
    config = OmegaConf.load(run / "config.yaml")
    assert config.task.module._target_ == "my_head.module.BoundedScoreModule"
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"val/spearman", "val/mae", "val/loss", "test/spearman", "test/mae"} <= set(metrics)
    assert json.loads((run / "test_report.json").read_text()) == {"score_range": [0.0, 5.0]}

    output = tmp_path / "scores.csv"
    input_rows = FIXTURES / "ratings" / "test.jsonl"
    result = lab_cli(
        "predict", f"run={run}", f"input={input_rows}", f"output={output}", cwd=ROOT, env=ON_PATH
    )
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(output.open()))
    assert len(rows) == 24 and list(rows[0]) == ["line", "id", "score", "error"]
    assert all(0.0 <= float(row["score"]) <= 5.0 and not row["error"] for row in rows)
    # s31f F8: unrounded, the file's scores rank the rows as the run's test did
    from torchmetrics.functional import spearman_corrcoef

    labels = [json.loads(line)["score"] for line in input_rows.read_text().splitlines()]
    scores = torch.tensor([float(row["score"]) for row in rows], dtype=torch.float64)
    found = float(spearman_corrcoef(scores, torch.tensor(labels, dtype=torch.float64)))
    assert found == pytest.approx(metrics["test/spearman"], abs=1e-4)


@pytest.mark.slow
def test_a_lab_user_logger_reaches_the_console_and_train_log(trained: tuple[Path, str]) -> None:
    """The example's callback logs under `lab.user.`: shown bare on the console, as lab's own
    lines are, and in train.log (with Hydra's time and logger name)."""
    run, console = trained
    shown = re.findall(r"^my_head: step (\d+), val/spearman [0-9.]+$", console, re.M)
    assert shown == ["6", "12"]
    logged = re.findall(r"\[lab\.user\.my_head\]\[INFO\] - my_head: step (\d+)", _log(run))
    assert logged == ["6", "12"]


@pytest.mark.slow
def test_predict_without_the_users_package_says_to_put_it_on_the_path(
    trained: tuple[Path, str], tmp_path: Path
) -> None:
    """Not Hydra's HYDRA_FULL_ERROR advice, nor "retrain": the package is missing."""
    run, _ = trained
    input_rows = FIXTURES / "ratings" / "test.jsonl"
    output = tmp_path / "p.csv"
    result = lab_cli(
        "predict", f"run={run}", f"input={input_rows}", f"output={output}", env={"PYTHONPATH": ""}
    )
    assert result.returncode == 2 and not output.exists()
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {run}: task.predictor._target_=my_head.predictor.BoundedScorePredictor "
        "cannot be imported: no module named my_head (is your project on PYTHONPATH, or "
        "pip install -e'd?)"
    )


def test_a_misspelt_predictor_of_your_own_is_named_with_the_name_meant(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Worded as lab.validate words a `_target_` of yours (`lab.config.target_imports`)."""
    from lab.inference.predictor_spec import own_code_refusal

    monkeypatch.syspath_prepend(str(EXAMPLE))
    assert own_code_refusal("my_head.predictor.BoundedScorePredictr") == (
        "task.predictor._target_=my_head.predictor.BoundedScorePredictr cannot be imported: "
        "module my_head.predictor has no BoundedScorePredictr; did you mean "
        "my_head.predictor.BoundedScorePredictor?"
    )
    assert own_code_refusal("my_head.predictor.BoundedScorePredictor") is None  # it imports
    assert own_code_refusal("lab.inference.predictors.Nope") is None  # lab's: today's words


@pytest.mark.slow
def test_predict_on_a_run_whose_task_declares_no_predictor_names_its_task_file(
    trained: tuple[Path, str], tmp_path: Path
) -> None:
    """A run of this lab, of a head whose task YAML has no `predictor:`: not "a run of an
    older lab ... retrain it with this lab", but the key to add and the file to add it to."""
    run = shutil.copytree(trained[0], tmp_path / "run")
    config = OmegaConf.load(run / "config.yaml")
    del config.task["predictor"]
    OmegaConf.save(config, run / "config.yaml")
    result = lab_cli(
        "predict",
        f"run={run}",
        f"input={FIXTURES / 'ratings' / 'test.jsonl'}",
        f"output={tmp_path / 'p.csv'}",
        env=ON_PATH,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {run}: task=bounded_score declares no predictor, which lab.predict, lab.serve "
        "and lab.demo run: add 'predictor: {_target_: <your lab.inference.predictors.Predictor "
        f"subclass>, _partial_: true}}' to {EXAMPLE / 'conf' / 'task' / 'bounded_score.yaml'} "
        '(README: "Writing your own head"), and, for this run, the same task.predictor to '
        f"{run}/config.yaml (or train it again)"
    )


def test_a_run_of_labs_own_head_without_a_predictor_is_an_older_labs(tmp_path: Path) -> None:
    """A head whose task YAML is lab's own declares a predictor in this lab: a run without one
    is an older lab's, and keeps those words (the way out is that lab's code)."""
    from lab.inference.predictor_spec import missing_predictor

    (tmp_path / ".hydra").mkdir()
    hydra = {
        "runtime": {
            "choices": {"task": "text_regression"},
            "config_sources": [{"path": str(ROOT / "conf"), "schema": "file", "provider": "main"}],
        }
    }
    OmegaConf.save({"hydra": hydra}, tmp_path / ".hydra" / "hydra.yaml")
    config = OmegaConf.create({"task": {"module": {"_target_": "x.Module"}}})
    run = SimpleNamespace(directory=tmp_path, config=config, refusal=lambda problem: problem)
    assert missing_predictor(run) == "a run of an older lab, its config.yaml has no task.predictor"
    (tmp_path / ".hydra" / "hydra.yaml").unlink()  # no Hydra record: lab's module decides
    run.config = OmegaConf.create({"task": {"module": {"_target_": "lab.tasks.regression.M"}}})
    assert missing_predictor(run) == "a run of an older lab, its config.yaml has no task.predictor"
    run.config = OmegaConf.create({"task": {"module": {"_target_": "mine.M"}}})
    assert missing_predictor(run).startswith(f"{tmp_path}: its task declares no predictor")


class _Bare(TaskModule):
    """A head's module that forgot its evaluation methods."""


class _OnlyStep(TaskModule):
    def evaluation_step(self, batch: dict[str, torch.Tensor], stage: str) -> None:
        pass


class _LightningWay(TaskModule):
    """Overrides the hooks that call `evaluation_step` / `evaluation_metrics` instead."""

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        pass

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        pass

    def on_validation_epoch_end(self) -> None:
        pass

    def on_test_epoch_end(self) -> None:
        pass


def test_a_module_without_its_evaluation_methods_is_refused_when_built() -> None:
    """When Hydra builds it (before training), in one line naming the class and methods."""
    from hydra.utils import instantiate

    name = f"{__name__}._Bare"
    with pytest.raises(Exception) as caught:
        instantiate({"_target_": name, "model": torch.nn.Linear(2, 1), "optimizer": None})
    error = lab_error_in(caught.value)
    assert isinstance(error, ConfigError)
    assert str(error) == (
        f"{name} does not implement evaluation_step(batch, stage) and evaluation_metrics(stage), "
        "which every head's module must (see lab.tasks.base.TaskModule, and the README's "
        '"Writing your own head")'
    )
    assert missing_evaluation_methods(_OnlyStep) == (
        f"{__name__}._OnlyStep does not implement evaluation_metrics(stage), which every "
        "head's module must (see lab.tasks.base.TaskModule, and the README's \"Writing your "
        'own head")'
    )


def test_modules_that_evaluate_pass_the_check() -> None:
    from lab.tasks.regression import RegressionModule

    assert missing_evaluation_methods(_LightningWay) is None
    assert missing_evaluation_methods(RegressionModule) is None
    assert missing_evaluation_methods(TaskModule) is None  # built bare by tests of training
    TaskModule(torch.nn.Linear(2, 1), optimizer=None)  # type: ignore[arg-type]


def test_every_lab_head_implements_the_contract() -> None:
    """Every task YAML's module passes (lab's own heads are the first users of the rule)."""
    import importlib

    modules = [
        OmegaConf.load(path).get("module", {}).get("_target_")
        for path in sorted((ROOT / "conf" / "task").glob("*.yaml"))
    ]
    checked = 0
    for target in filter(None, modules):
        module_name, _, class_name = target.rpartition(".")
        cls: Any = getattr(importlib.import_module(module_name), class_name)
        assert missing_evaluation_methods(cls) is None, target
        checked += 1
    assert checked >= 10


def _log(run: Path) -> str:
    return (run / "train.log").read_text()


# ------------------------------------------- the same refusal from the source (lab.validate)
OWN_MODULES = """
from lab.tasks.base import TaskModule
from lab.tasks.base import TaskModule as Base
from lab.tasks.regression import RegressionModule


class Bare(TaskModule):
    pass


class Half(Base):
    def evaluation_step(self, batch, stage):
        pass


class LightningWay(TaskModule):
    def evaluation_step(self, batch, stage):
        pass

    def on_validation_epoch_end(self):
        pass

    def on_test_epoch_end(self):
        pass


class BelowHalf(Half):
    def evaluation_metrics(self, stage):
        return {}


class OnLabsHead(RegressionModule):
    pass


class Mixed(dict, TaskModule):
    pass


class Assigned(Half):
    evaluation_metrics = Half.evaluation_step
"""


@pytest.mark.parametrize(
    ("name", "missing"),
    [
        ("Bare", "evaluation_step(batch, stage) and evaluation_metrics(stage)"),
        ("Half", "evaluation_metrics(stage)"),  # its base imported under another name
        ("LightningWay", None),  # overrides every hook that calls evaluation_metrics
        ("BelowHalf", None),  # the methods split over two classes of one's own
        ("OnLabsHead", None),  # a lab head's module, followed into lab's source
        ("Mixed", None),  # several bases: the source does not tell; checked when built
        ("Assigned", None),  # a method given by assignment
    ],
)
def test_validate_reads_the_evaluation_methods_from_the_source(
    name: str, missing: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """lab.validate said "config ok" for a module lab.train then refused after reading the
    data (s27e M3): the rule reads the class's chain of bases from source, imports nothing."""
    import sys

    from lab.config.module_contract import check_module_contract

    package = tmp_path / "pairhead_src"
    package.mkdir()
    (package / "heads.py").write_text(OWN_MODULES)
    monkeypatch.syspath_prepend(str(tmp_path))
    target = f"pairhead_src.heads.{name}"
    cfg = OmegaConf.create({"task": {"module": {"_target_": target}}})
    if missing is None:
        check_module_contract(cfg)
    else:
        with pytest.raises(ConfigError) as refused:
            check_module_contract(cfg)
        assert str(refused.value) == (
            f"{target} does not implement {missing}, which every head's module must (see "
            'lab.tasks.base.TaskModule, and the README\'s "Writing your own head")'
        )
    assert "pairhead_src.heads" not in sys.modules  # read, not imported


def test_validate_refuses_a_bare_module_as_lab_train_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through lab.validate's rules on a whole config: the example's task with a bare module."""
    from lab.config import compose_train_config
    from lab.config.rules import validate_config

    (tmp_path / "bare_head").mkdir()
    (tmp_path / "bare_head" / "__init__.py").write_text("")
    (tmp_path / "bare_head" / "module.py").write_text(
        "from lab.tasks.base import TaskModule\n\n\nclass BareModule(TaskModule):\n"
        "    def __init__(self, model, optimizer, scheduler=None, score_max=5.0):\n"
        "        super().__init__(model, optimizer, scheduler)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(EXAMPLE))
    overrides = ["data=ratings", "model=tiny_bert", f"data.path={FIXTURES / 'ratings'}"]
    validate_config(compose_train_config(overrides, config_dirs=[EXAMPLE / "conf"]))  # passes
    bare = "task.module._target_=bare_head.module.BareModule"
    cfg = compose_train_config([*overrides, bare], config_dirs=[EXAMPLE / "conf"])
    with pytest.raises(ConfigError, match=r"^bare_head\.module\.BareModule does not implement"):
        validate_config(cfg)
