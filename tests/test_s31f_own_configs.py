"""Your own config folders, s31f: a misspelt key of your model or experiment YAML is refused
(F1), `lab.reproduce <run dir>` refuses overrides it would ignore (F5), `lab.eval` names a
recorded config folder that is gone (F4), and `lab.validate -m` refuses a search space key
that does not exist (F3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.config import compose_train_config
from lab.config.lookalike_keys import check_lookalike_keys, lab_model_keys, lab_top_keys
from lab.config.rules import validate_config
from lab.errors import ConfigError

from conftest import lab_cli

FILES = {
    "model/tiny_typo.yaml": "defaults:\n  - tiny_bert\n  - _self_\nfreeze_layer: 2\n",
    "model/tiny_own_var.yaml": (
        "defaults:\n  - tiny_bert\n  - _self_\nmy_width: 64\nfreeze_layers: 1\n"
    ),
    "experiment/exp_seeed.yaml": "# @package _global_\nseeed: 3\n",
    "experiment/exp_model_typo.yaml": (
        "# @package _global_\ndefaults:\n  - override /model: tiny_bert\n"
        "model:\n  freeze_layer: 1\n"
    ),
    "experiment/exp_trainer_typo.yaml": (
        "# @package _global_\noptimizer:\n  lr: 0.001\ntrainer:\n  max_epoch: 2\n"
    ),
    "experiment/exp_optimizer_typo.yaml": (
        "# @package _global_\ntrainer:\n  learning_rate: 1\noptimizer:\n  learning_rate: 0.001\n"
    ),  # `learning_rate` under trainer: too (a key of another block): the optimizer's is named
    "data/imdb_typo.yaml": "defaults:\n  - imdb\n  - _self_\nmax_lenght: 64\n",
    "experiment/exp_own_var.yaml": (
        "# @package _global_\nmy_lr_base: 0.001\nseed: 3\nmy_seed: 4\nmodel_name: mini\n"
    ),  # variables named after lab's keys (0.73, 0.67 alike): yours, not typos
}
MODEL_VALID = (
    "Valid keys of model: add_special_tokens, add_tokens, chat_template, freeze, "
    "freeze_layers, gradient_checkpointing, ia3_feedforward_modules, ia3_target_modules, "
    "lora_target_modules, network, pretrained, tokenizer"
)
TOP_VALID = (
    "Valid top-level keys and groups: callbacks, data, final_weights, logger, model, "
    "optimized_metric, optimized_mode, optimizer, paths, peft, plots, resume, scheduler, seed, "
    "task, trainer"
)


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    """A config folder of your own, with misspelt keys and keys of your own."""
    folder = tmp_path / "conf"
    for name, text in FILES.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def _refusal(conf: Path, tmp_path: Path, *overrides: str) -> str:
    cfg = compose_train_config(list(overrides), tmp_path / "run", config_dirs=[conf])
    with pytest.raises(ConfigError) as caught:
        check_lookalike_keys(cfg)
    return str(caught.value)


# ----------------------------------------------------------------------------- F1
def test_lab_key_sets_come_from_its_packaged_configs() -> None:
    assert {"freeze_layers", "freeze", "pretrained", "network", "tokenizer"} <= lab_model_keys()
    assert "defaults" not in lab_model_keys()
    assert {"seed", "model", "data", "task", "experiment", "expected"} <= lab_top_keys()


def test_a_misspelt_model_key_in_your_model_file_is_refused_with_its_line(
    conf: Path, tmp_path: Path
) -> None:
    message = _refusal(conf, tmp_path, "model=tiny_typo")
    assert message == (
        "'model.freeze_layer' is not a config key. Did you mean model.freeze_layers? "
        f"{MODEL_VALID}; it is set at {conf / 'model/tiny_typo.yaml'}:4"
    )


def test_a_misspelt_top_level_key_in_your_experiment_is_refused_with_its_line(
    conf: Path, tmp_path: Path
) -> None:
    message = _refusal(conf, tmp_path, "experiment=exp_seeed", "model=tiny_bert")
    assert message == (
        f"'seeed' is not a config key. Did you mean seed? {TOP_VALID}; it is set at "
        f"{conf / 'experiment/exp_seeed.yaml'}:2"
    )


def test_a_misspelt_model_key_in_your_experiment_names_the_experiment(
    conf: Path, tmp_path: Path
) -> None:
    message = _refusal(conf, tmp_path, "experiment=exp_model_typo")
    assert message.startswith(
        "'model.freeze_layer' is not a config key. Did you mean model.freeze_layers? "
    )
    assert message.endswith(f"; it is set at {conf / 'experiment/exp_model_typo.yaml'}:5")


def test_your_own_variables_without_a_lookalike_are_allowed(conf: Path, tmp_path: Path) -> None:
    for overrides in (["model=tiny_own_var"], ["experiment=exp_own_var", "model=tiny_bert"]):
        cfg = compose_train_config(overrides, tmp_path / "run", config_dirs=[conf])
        check_lookalike_keys(cfg)  # nothing raised


def test_lab_own_options_pass_the_rule(tmp_path: Path) -> None:
    for overrides in (["model=tiny_bert"], ["experiment=tiny_demo_smoke"], ["model=t5_small"]):
        check_lookalike_keys(compose_train_config(overrides, tmp_path / "run"))


def test_validate_config_applies_the_rule(conf: Path, tmp_path: Path) -> None:
    cfg = compose_train_config(["model=tiny_typo"], tmp_path / "run", config_dirs=[conf])
    with pytest.raises(ConfigError, match=r"^'model\.freeze_layer' is not a config key"):
        validate_config(cfg)


def test_lab_validate_and_lab_train_refuse_the_misspelt_key(conf: Path, tmp_path: Path) -> None:
    expected = (
        f"error: 'seeed' is not a config key. Did you mean seed? {TOP_VALID}; it is set at "
        f"{conf / 'experiment/exp_seeed.yaml'}:2"
    )
    args = ("--config-dir", str(conf), "experiment=exp_seeed", "model=tiny_bert")
    validated = lab_cli("validate", *args, cwd=tmp_path, timeout=120)
    assert validated.returncode == 2, validated.stderr
    assert validated.stderr.strip().splitlines()[-1] == expected
    trained = lab_cli(
        "train", *args, "logger=csv", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path
    )
    assert trained.returncode == 2, trained.stderr
    assert trained.stderr.strip().splitlines()[-1] == expected
    assert not (tmp_path / "run" / "metrics.json").exists()


# ----------------------------------------------------------------------------- F5
def test_reproduce_refuses_overrides_given_with_a_run_directory(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()  # refused before anything reads it
    result = lab_cli(
        "reproduce",
        str(run_dir),
        "data.path=/elsewhere",
        "seed=5",
        "--config-dir",
        "conf",
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: lab.reproduce {run_dir} takes no overrides (data.path=/elsewhere, seed=5, "
        "--config-dir conf): a run directory is reproduced as recorded, from its config.yaml; "
        "overrides apply to experiment=<name> only"
    ]


def test_reproduce_takes_overrides_for_an_experiment_and_none_for_a_run() -> None:
    from lab.reproduce import ignored_arguments_line

    assert ignored_arguments_line("experiment=x", ["seed=5"], ["conf"]) == ""
    assert ignored_arguments_line("outputs/runs/r", [], []) == ""
    assert ignored_arguments_line("r", ["seed=5"], []).startswith(
        "lab.reproduce r takes no overrides (seed=5): "
    )


# ----------------------------------------------------------------------------- F4
def test_a_recorded_config_folder_that_is_gone_is_named_with_what_to_do(tmp_path: Path) -> None:
    from lab.config.user_dirs import recorded_dirs_hint

    gone = tmp_path / "proj" / "conf"  # renamed since the run
    record = {"overrides": ["model=tiny_bert", f"hydra.searchpath=[file://{gone}]"]}
    assert recorded_dirs_hint(record) == (
        f"; this run was trained with --config-dir {gone}, which no longer exists: pass the "
        "folder where those configs are now"
    )


def test_a_recorded_config_folder_still_there_is_named_as_before(tmp_path: Path) -> None:
    from lab.config.user_dirs import recorded_dirs_hint

    here = tmp_path / "conf"
    here.mkdir()
    record = {"overrides": [f"hydra.searchpath=[file://{here}]"]}
    assert recorded_dirs_hint(record) == (
        f"; this run was trained with config folders of its own (record.json): --config-dir {here}"
    )
    assert recorded_dirs_hint({"overrides": ["seed=3"]}) == ""


# ----------------------------------------------------------------------------- F3
SWEEP = """\
# @package _global_
defaults:
  - override /hydra/sweeper: lab_optuna
hydra:
  sweeper:
    n_trials: 2
    params:
      optimizer.{key}: tag(log, interval(1e-4, 1e-2))
"""


def test_validate_m_refuses_a_search_space_key_that_is_no_key(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    (conf / "sweep").mkdir(parents=True)
    (conf / "sweep" / "sw_typo.yaml").write_text(SWEEP.format(key="lrr"))
    (conf / "sweep" / "sw_ok.yaml").write_text(SWEEP.format(key="lr"))
    args = ("-m", "--config-dir", str(conf), "model=tiny_bert", "data=demo")
    refused = lab_cli("validate", *args, "sweep=sw_typo", cwd=tmp_path, timeout=120)
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.strip().splitlines() == [
        "error: the sweep's overrides do not compose: 'optimizer.lrr' is not a config key. "
        "Did you mean optimizer.lr? Valid keys of optimizer: _partial_, _target_, betas, eps, "
        "fused, layer_decay, lr, weight_decay"
    ]
    passed = lab_cli("validate", *args, "sweep=sw_ok", cwd=tmp_path, timeout=120)
    assert passed.returncode == 0, passed.stderr
    assert passed.stdout.strip().splitlines()[-1] == (
        "config ok: no rule broken (no data or weights were loaded)"
    )


def test_the_sweepers_refusal_and_validates_are_one_line() -> None:
    from lab.sweeps.space_keys import compose_refusal

    assert compose_refusal([], "R") == "the sweep's overrides do not compose: R"
    assert compose_refusal(["model=b", "seed=2"], "R") == (
        "the sweep's overrides do not compose (at model=b seed=2, a value the search space "
        "holds): R"
    )


# ----------------------------------------------------------------------------- F7
def test_a_trainer_key_of_your_experiment_gets_the_guess_and_its_file(
    conf: Path, tmp_path: Path
) -> None:
    """s31f F7: `trainer: {max_epoch: 2}` in an experiment got `unknown trainer option(s)`
    with no guess and no file; the command line's line now, with where it is set."""
    cfg = compose_train_config(
        ["experiment=exp_trainer_typo"], tmp_path / "run", config_dirs=[conf]
    )
    with pytest.raises(ConfigError) as caught:
        validate_config(cfg)
    message = str(caught.value)
    assert message.startswith(
        "'trainer.max_epoch' is not a config key. Did you mean trainer.max_epochs? "
        "Valid keys of trainer: "
    )
    assert message.endswith(f"; it is set at {conf / 'experiment/exp_trainer_typo.yaml'}:5")


def test_an_optimizer_key_of_your_experiment_is_named_by_its_file_and_block(
    conf: Path, tmp_path: Path
) -> None:
    """The file is searched in the block of the section refused (`optimizer:`), not at the
    first line of that name (line 3, under `trainer:`)."""
    cfg = compose_train_config(
        ["experiment=exp_optimizer_typo", "~trainer.learning_rate"], tmp_path / "run",
        config_dirs=[conf],
    )  # fmt: skip
    with pytest.raises(ConfigError) as caught:
        validate_config(cfg)
    assert str(caught.value) == (
        "'optimizer.learning_rate' is not an argument of lab.training.optim.adamw. Valid keys "
        "of optimizer: betas, eps, fused, layer_decay, lr, weight_decay; it is set at "
        f"{conf / 'experiment/exp_optimizer_typo.yaml'}:5"
    )


# ----------------------------------------------------------------------------- F6
class _Head:
    def __init__(
        self, model: object, optimizer: object, scheduler: object = None, *,
        class_weights: object = None, label_smoothing: float = 0.0,
    ) -> None:  # fmt: skip
        pass


class _FocalHead(_Head):
    def __init__(self, *args: object, gamma: float = 2.0, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]


class _AnythingHead:
    def __init__(self, **kwargs: object) -> None:
        pass


def test_a_subclass_passing_kwargs_on_lists_its_own_and_its_bases_arguments() -> None:
    """s31f F6: `gama` for a head `__init__(..., gamma=2.0, **kwargs)` listed the node's other
    keys as the valid ones, without `gamma`; the refusal now lists the subclass's arguments
    and its base's, with the guess."""
    from lab.config.target_imports import forwarded_argument_names, unexpected_argument_error

    valid = forwarded_argument_names(_FocalHead)
    assert valid == [
        "class_weights", "gamma", "label_smoothing", "model", "optimizer", "scheduler",
    ]  # fmt: skip
    assert forwarded_argument_names(_AnythingHead) is None  # anything may be taken
    assert forwarded_argument_names(len) is None
    message = str(unexpected_argument_error("task.module", "my_heads.Focal", "gama", valid))
    assert message == (
        "'task.module.gama' is not an argument of my_heads.Focal. Did you mean "
        "task.module.gamma? Valid keys of task.module: class_weights, gamma, label_smoothing"
    )


# ----------------------------------------------------------------------------- F2
def test_a_misspelt_data_key_of_your_data_file_is_refused_before_anything_loads(
    conf: Path, tmp_path: Path
) -> None:
    """s31f F2: `max_lenght: 64` in a data YAML of yours passed lab.validate; training refused
    it only when it built the data module, after making a failed run directory."""
    from lab.config.lookalike_keys import lab_data_keys

    assert {"max_length", "text_column", "mlm_probability", "block_size"} <= lab_data_keys()
    message = _refusal(conf, tmp_path, "data=imdb_typo")
    assert message.startswith(
        "'data.max_lenght' is not a config key. Did you mean data.max_length? Valid keys of data: "
    )
    assert message.endswith(f"; it is set at {conf / 'data/imdb_typo.yaml'}:4")
