"""Mistakes in a task YAML or in code of one's own: one line naming what to fix, exit 2.

A project of the user's own (a `--config-dir` folder with a task YAML, and a Python package on
sys.path) is built in `tmp_path`; its package holds plain classes (no torch), so importing it
is cheap. Covered: a task YAML without a key every head needs (`lab.config.task_contract`), a
`_target_` of one's own that does not import and a key its class does not take
(`lab.config.target_imports`, and `lab.build.instantiate_node` when a run is built), and an
`optimized_metric` a head logged without its stage prefix (`lab.training.fit`).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from omegaconf import OmegaConf

from lab.build import instantiate_node
from lab.config import compose_train_config
from lab.config.rules import validate_config
from lab.config.target_imports import check_target_imports, target_refusal
from lab.config.task_contract import check_task_contract
from lab.errors import ConfigError

from conftest import lab_cli

PACKAGE = "own_heads_s27"  # a name no other test or installed package uses
HINT = "(is your project on PYTHONPATH, or pip install -e'd?)"
FULL_TASK = f"""\
head: transformers.AutoModelForSequenceClassification
module:
  _target_: {PACKAGE}.heads.PairModule
  alpha: 1.0
peft_task_type: SEQ_CLS
trains_on:
  data_modules: [TextClassificationDataModule]
  problem_type: single_label
optimized_metric: val/acc
optimized_mode: max
"""


def _without(*keys: str) -> str:
    """FULL_TASK without the lines of `keys`."""
    return "".join(line + "\n" for line in FULL_TASK.splitlines() if line.split(":")[0] not in keys)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project of one's own: `conf/task/*.yaml` and the package `PACKAGE` on sys.path."""
    package = tmp_path / "code" / PACKAGE
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "heads.py").write_text(
        textwrap.dedent(
            """\
            class PairModule:
                def __init__(self, model, optimizer, scheduler=None, alpha=1.0, beta=2.0):
                    self.alpha = alpha


            class Printer:
                def __init__(self, prefix="mine"):
                    self.prefix = prefix
            """
        )
    )
    tasks = tmp_path / "conf" / "task"
    tasks.mkdir(parents=True)
    (tasks / "mine.yaml").write_text(FULL_TASK)
    (tasks / "no_head.yaml").write_text(_without("head"))
    (tasks / "no_metric.yaml").write_text(_without("optimized_metric", "optimized_mode"))
    (tasks / "no_peft_type.yaml").write_text(_without("peft_task_type"))
    (tasks / "typo.yaml").write_text(FULL_TASK.replace("PairModule", "PairModul"))
    monkeypatch.syspath_prepend(str(tmp_path / "code"))
    for name in [m for m in sys.modules if m.startswith(PACKAGE)]:
        monkeypatch.delitem(sys.modules, name)
    return tmp_path


def _compose(project: Path, *overrides: str) -> Any:
    return compose_train_config(["model=tiny_bert", *overrides], config_dirs=[project / "conf"])


def _refusal(project: Path, *overrides: str) -> str:
    with pytest.raises(ConfigError) as refused:
        validate_config(_compose(project, *overrides))
    return str(refused.value)


# ----------------------------------------------------------------------------- task YAML
def test_validate_names_the_task_file_and_the_head_key_it_lacks(project: Path) -> None:
    # It crashed in its own summary (`Key 'head' is not in struct`), exit 1.
    done = lab_cli(
        "validate", "--config-dir", str(project / "conf"), "task=no_head", "model=tiny_bert",
        env={"PYTHONPATH": f"{project / 'code'}:{':'.join(sys.path)}"},
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"error: task=no_head ({project / 'conf/task/no_head.yaml'}) has no 'head' key, which "
        "every head needs; add to it, e.g. head: transformers.AutoModelForSequenceClassification"
        " (the transformers Auto class of the head)"
    ]


def test_both_missing_metric_keys_in_one_line(project: Path) -> None:
    assert _refusal(project, "task=no_metric") == (
        f"task=no_metric ({project / 'conf/task/no_metric.yaml'}) has no 'optimized_metric', "
        "'optimized_mode' keys, which every head needs; add to it, e.g. optimized_metric: "
        "val/loss (a val/<name> metric your module logs; it picks the best checkpoint); "
        "optimized_mode: max (or min: whether a higher optimized_metric is better)"
    )


def test_metric_keys_given_on_the_command_line_need_none_in_the_task(project: Path) -> None:
    cfg = _compose(project, "task=no_metric", "optimized_metric=val/acc", "optimized_mode=max")
    check_task_contract(cfg)  # the command line replaced the interpolations: nothing missing


def test_peft_needs_peft_task_type_only_under_a_peft_config(project: Path) -> None:
    check_task_contract(_compose(project, "task=no_peft_type"))  # no adapter: not read
    assert _refusal(project, "task=no_peft_type", "peft=lora") == (
        "peft=lora reads task.peft_task_type, and task=no_peft_type "
        f"({project / 'conf/task/no_peft_type.yaml'}) has no 'peft_task_type' key; add to it, "
        "e.g. peft_task_type: SEQ_CLS (peft's TaskType for the head: SEQ_CLS, TOKEN_CLS, "
        "CAUSAL_LM, SEQ_2_SEQ_LM, QUESTION_ANS; null for a plain PeftModel)"
    )


def test_every_lab_task_keeps_the_contract() -> None:
    from lab.config.paths import conf_dir

    for task in sorted(p.stem for p in (conf_dir() / "task").glob("*.yaml")):
        check_task_contract(compose_train_config([f"task={task}", "peft=lora"]))


# ----------------------------------------------------------------------------- _target_
def test_a_misspelt_target_of_yours_is_refused_with_the_closest_name(project: Path) -> None:
    assert _refusal(project, "task=typo") == (
        f"task.module._target_={PACKAGE}.heads.PairModul cannot be imported: module "
        f"{PACKAGE}.heads has no PairModul; did you mean {PACKAGE}.heads.PairModule?"
    )
    assert _refusal(project, "task=mine", "+callbacks.mine={_target_: nosuch_pkg_s27.Printer}") == (
        f"callbacks.mine._target_=nosuch_pkg_s27.Printer cannot be imported: no module named "
        f"nosuch_pkg_s27 {HINT}"
    )


def test_a_key_your_class_does_not_take_names_the_ones_it_does(project: Path) -> None:
    assert _refusal(project, "task=mine", "+task.module.alph=3") == (
        f"'task.module.alph' is not an argument of {PACKAGE}.heads.PairModule. Did you mean "
        "task.module.alpha? Valid keys of task.module: alpha, beta"
    )
    callback = f"+callbacks.mine={{_target_: {PACKAGE}.heads.Printer, prefx: x}}"
    assert _refusal(project, "task=mine", callback) == (
        f"'callbacks.mine.prefx' is not an argument of {PACKAGE}.heads.Printer. Did you mean "
        "callbacks.mine.prefix? Valid keys of callbacks.mine: prefix"
    )


def test_the_default_config_imports_nothing_heavy() -> None:
    # lab's own targets are skipped and installed packages only found: lab.validate stays quick.
    code = (
        "import sys; from lab.config import compose_train_config; "
        "from lab.config.target_imports import check_target_imports; "
        "check_target_imports(compose_train_config(['model=tiny_bert'])); "
        "heavy = ('torch', 'lightning', 'transformers', 'peft'); "
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


# ----------------------------------------------------------------------------- building
def test_building_a_node_says_the_key_or_the_import_in_one_line(project: Path) -> None:
    tree = OmegaConf.create(
        {
            "callbacks": {"mine": {"_target_": f"{PACKAGE}.heads.Printer", "prefx": "x"}},
            "task": {"module": {"_target_": "nosuch_pkg_s27.heads.PairModule"}},
            "lab": {"_target_": "lab.nosuch_module_s27.Thing"},
        }
    )
    with pytest.raises(ConfigError) as refused:
        instantiate_node(tree.callbacks.mine, "callbacks.mine")
    assert str(refused.value) == (
        f"'callbacks.mine.prefx' is not an argument of {PACKAGE}.heads.Printer. Did you mean "
        "callbacks.mine.prefix? Valid keys of callbacks.mine: prefix"
    )
    with pytest.raises(ConfigError) as refused:
        instantiate_node(tree.task.module, "task.module")
    assert str(refused.value) == (
        "task.module._target_=nosuch_pkg_s27.heads.PairModule cannot be imported: no module "
        f"named nosuch_pkg_s27 {HINT}"
    )
    from hydra.errors import InstantiationException

    with pytest.raises(InstantiationException) as hydras:  # lab's own: a bug, kept as it is
        instantiate_node(tree.lab, "lab")
    assert target_refusal(hydras.value) is None


def test_check_target_imports_skips_lab_and_installed_targets() -> None:
    cfg = OmegaConf.create(
        {
            "a": {"_target_": "lab.nosuch_module_s27.Thing"},
            "b": {"_target_": "json.nosuch_s27"},  # the standard library: installed
            "c": {"_target_": "${a._target_}"},  # interpolated: left to Hydra
        }
    )
    check_target_imports(cfg)


# ----------------------------------------------------------------------------- metrics
def test_a_metric_logged_without_its_stage_is_named() -> None:
    from lab.training.fit import unknown_metric_error

    trainer: Any = SimpleNamespace(
        lightning_module=object(), callback_metrics={"spearman": 0.5, "train/loss": 1.0}
    )
    lightning = RuntimeError(
        "`ModelCheckpoint(monitor='val/spearman')` could not find the monitored key in the "
        "returned metrics: ..."
    )
    error = unknown_metric_error(
        lightning, OmegaConf.create({"optimized_metric": "val/spearman"}), trainer
    )
    assert str(error) == (
        "optimized_metric=val/spearman is no metric this run's validation logs; it logged: no "
        "val/ metric, and without a stage prefix: spearman. A head's evaluation_metrics(stage) "
        "must key its values <stage>/<name> (val/spearman, not spearman; see "
        "lab.tasks.base.TaskModule); fix the head, then start the run again"
    )


def test_a_predictors_refusal_lists_no_argument_lab_passes() -> None:
    """s27e M2: `+task.predictor.foo=1` on a predictor of one's own listed `cfg, model,
    tokenizer` as its keys: lab passes those."""
    from lab.config.target_imports import unexpected_argument_error

    refusal = unexpected_argument_error(
        "task.predictor", "mine.P", "foo", ["cfg", "model", "threshold", "tokenizer"]
    )
    assert str(refusal) == (
        "'task.predictor.foo' is not an argument of mine.P. Valid keys of task.predictor: threshold"
    )
