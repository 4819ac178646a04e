"""Configs that used to do nothing, silently: refused before anything loads.

* an option whose file lacks its group's `# @package` line (`lab.config.package_rules`): an
  experiment without `# @package _global_` trained with lab's defaults;
* a `~key` deletion of a key training reads (`lab.config.deletion_rules`): `~optimizer.lr`
  trained at a learning rate written only in code.

Composed with `compose_train_config` (as `lab.train` and `lab.validate` compose) and checked with
`validate_config`, or through `lab.validate`'s `main` in this process; nothing trains.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf

from lab import validate
from lab.config.deletion_rules import builder_keywords, deleted_keys
from lab.config.package_rules import GROUP_PACKAGES
from lab.config.paths import conf_dir, config_root
from lab.config.rules import validate_config
from lab.errors import ConfigError

Compose = Callable[..., Any]

NOPKG_EXPERIMENT = "optimizer: {lr: 1.0e-2}\ntrainer: {max_epochs: 1}\n"


@pytest.fixture(autouse=True)
def _forget_the_composition() -> Iterator[None]:
    """Hydra keeps the last composition's overrides for the process; a `~key` of these tests
    must not be judged again against a config that a later test builds by hand."""
    yield
    from hydra.core.hydra_config import HydraConfig

    HydraConfig.instance().cfg = None


@pytest.fixture
def user_conf(tmp_path: Path) -> Path:
    """A user's config folder with options of their own (added to Hydra's search path)."""
    folder = tmp_path / "conf"
    files = {
        "experiment/nopkg.yaml": NOPKG_EXPERIMENT,
        "experiment/withpkg.yaml": "# @package _global_\n" + NOPKG_EXPERIMENT,
        "sweep/nopkg.yaml": "hydra:\n  sweeper:\n    n_trials: 2\n",
        "strategy/mine.yaml": "strategy: ddp\n",
        "debug/mine.yaml": "trainer: {fast_dev_run: true}\n",
        # lab's experiments pin values for their own options: an sgd run under this one must
        # drop betas, a causal-LM data option max_length
        "experiment/pinned.yaml": (
            "# @package _global_\noptimizer: {betas: [0.9, 0.98]}\ndata: {max_length: 256}\n"
        ),
    }
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def _search(folder: Path) -> str:
    return f"hydra.searchpath=[file://{folder}]"


def _refusal(compose_cfg: Compose, *overrides: str) -> str:
    cfg = compose_cfg("model=tiny_bert", *overrides)
    with pytest.raises(ConfigError) as caught:
        validate_config(cfg)
    return str(caught.value)


# ----------------------------------------------------------------------------- # @package
def test_an_experiment_without_its_package_line_is_refused(
    compose_cfg: Compose, user_conf: Path
) -> None:
    message = _refusal(compose_cfg, "experiment=nopkg", _search(user_conf))
    assert message == (
        "experiment=nopkg lacks the line '# @package _global_', so its values landed under a "
        "node named 'experiment' that nothing reads (experiment.optimizer.lr, "
        "experiment.trainer.max_epochs) and the run would keep lab's optimizer.lr, "
        "trainer.max_epochs; add '# @package _global_' as the first line of "
        f"{user_conf / 'experiment' / 'nopkg.yaml'}"
    )


def test_the_same_experiment_with_its_package_line_passes(
    compose_cfg: Compose, user_conf: Path
) -> None:
    cfg = compose_cfg("model=tiny_bert", "experiment=withpkg", _search(user_conf))
    validate_config(cfg)
    assert (cfg.optimizer.lr, cfg.trainer.max_epochs) == (0.01, 1)
    assert "experiment" not in cfg


@pytest.mark.parametrize(
    ("override", "landed", "kept", "package", "file"),
    [
        (
            "sweep=nopkg",
            "sweep.hydra.sweeper.n_trials",
            "hydra.sweeper.n_trials",
            "_global_",
            "sweep/nopkg.yaml",
        ),
        ("strategy=mine", "strategy.strategy", "trainer.strategy", "trainer", "strategy/mine.yaml"),
        (
            "debug=mine",
            "debug.trainer.fast_dev_run",
            "trainer.fast_dev_run",
            "_global_",
            "debug/mine.yaml",
        ),
    ],
)
def test_every_packaged_group_is_held_to_its_line(
    compose_cfg: Compose,
    user_conf: Path,
    override: str,
    landed: str,
    kept: str,
    package: str,
    file: str,
) -> None:
    group = override.split("=")[0]
    message = _refusal(compose_cfg, override, _search(user_conf))
    assert message == (
        f"{override} lacks the line '# @package {package}', so its values landed under a node "
        f"named '{group}' that nothing reads ({landed}) and the run would keep lab's {kept}; "
        f"add '# @package {package}' as the first line of {user_conf / file}"
    )


def test_lab_validate_refuses_it_in_one_line_with_exit_2(
    user_conf: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = validate.main(
        ["model=tiny_bert", "experiment=nopkg", _search(user_conf), f"paths.output_root={tmp_path}"]
    )
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        "error: experiment=nopkg lacks the line '# @package _global_', so its values landed"
    )


@pytest.mark.parametrize(
    ("option", "text"),
    [
        ("overrides", "defaults:\n  - override /model: tiny_bert\noptimizer: {lr: 0.01}\n"),
        (
            "commented",
            "# my recipe\n# @package _global_\ndefaults:\n  - override /model: tiny_bert\n",
        ),
    ],
)
def test_one_whose_defaults_override_a_group_gets_labs_words_not_hydras(
    option: str, text: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Every recipe's shape (`- override /model: ...`): Hydra stops composing with "Could not
    # override 'model@experiment.model'" before any rule runs; a header below a comment line
    # is not read as one either.
    folder = tmp_path / "conf"
    (folder / "experiment").mkdir(parents=True)
    (folder / "experiment" / f"{option}.yaml").write_text(text)
    code = validate.main([f"experiment={option}", _search(folder)])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.splitlines() == [
        f"error: experiment={option} lacks the line '# @package _global_' (its first line: a "
        "comment above it hides it), so Hydra placed it under a node named 'experiment', "
        "where its defaults' 'override /model' cannot apply; add '# @package _global_' as "
        f"the first line of experiment/{option}.yaml"
    ]


def _first_line(path: Path) -> str:
    return path.read_text(encoding="utf-8").splitlines()[0]


def test_the_package_table_matches_the_shipped_options() -> None:
    """Each group of `GROUP_PACKAGES` ships options that start with its line, and no other
    group's options declare a package but their own folder's (the table is complete)."""
    folders = {"experiment": config_root() / "experiments", "sweep": config_root() / "sweeps"}
    for group, package in GROUP_PACKAGES.items():
        files = sorted(folders.get(group, conf_dir() / group).glob("*.yaml"))
        assert files, group
        for file in files:
            assert _first_line(file) == f"# @package {package}", file
    for file in sorted(conf_dir().rglob("*.yaml")):
        folder = file.parent.relative_to(conf_dir()).as_posix()
        if folder.split("/")[0] in GROUP_PACKAGES or not _first_line(file).startswith("# @package"):
            continue
        assert _first_line(file) == f"# @package {folder.replace('/', '.')}", file


# ----------------------------------------------------------------------------- ~key
@pytest.mark.parametrize(
    ("deletion", "reader", "valid"),
    [
        ("~optimizer.lr", "lab.training.optim.adamw", " (valid: a number > 0)"),
        (
            "~data.max_length",
            "lab.tasks.text_classification.data.TextClassificationDataModule",
            " (valid: an integer >= 1)",
        ),
        (
            "~trainer.max_epochs",
            "lightning.pytorch.Trainer",
            " (valid: null or an integer >= -1 (-1: no limit))",
        ),
        (
            "~scheduler.warmup_ratio",
            "lab.training.optim.warmup_scheduler",
            " (valid: a number in [0, 1])",
        ),
        (
            "~data.batch_size",
            "lab.tasks.text_classification.data.TextClassificationDataModule",
            " (valid: an integer >= 1)",
        ),
        (
            "~model.freeze_layers",
            "lab",
            " (valid: an integer >= 0 (embeddings + the bottom N blocks))",
        ),
        ("~data.splits.test", "lab", ""),
    ],
)
def test_deleting_a_key_training_reads_is_refused(
    compose_cfg: Compose, deletion: str, reader: str, valid: str
) -> None:
    key = deletion[1:]
    assert _refusal(compose_cfg, deletion) == (
        f"{deletion} deleted a key that {reader} reads: training would fall back on a default "
        "in code that config.yaml and the model card do not record; set the value instead: "
        f"{key}=<value>{valid}"
    )


def test_null_and_deletion_are_both_refused(compose_cfg: Compose) -> None:
    """`key=null` was refused with the range while `~key` passed: both are refused now."""
    assert _refusal(compose_cfg, "data.max_length=null") == (
        "data.max_length=null is not allowed; valid: an integer >= 1"
    )
    assert _refusal(compose_cfg, "~data.max_length").startswith("~data.max_length deleted a key")


def test_a_conditional_deletion_is_refused_too(compose_cfg: Compose) -> None:
    assert _refusal(compose_cfg, "~optimizer.lr=5e-5").startswith("~optimizer.lr deleted a key")


def test_deleting_a_group_every_run_needs_is_refused(compose_cfg: Compose) -> None:
    assert _refusal(compose_cfg, "~trainer") == (
        "~trainer deleted the trainer group, which every run needs (the defaults in code that "
        "would stand in are recorded nowhere); pick one of its options instead: "
        "trainer=cpu, default, gpu"
    )
    assert _refusal(compose_cfg, "~precision").startswith(
        "~precision deleted the precision group, which every run needs"
    )


def test_lab_validate_refuses_a_deletion_with_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = validate.main(["model=tiny_bert", "~optimizer.lr", f"paths.output_root={tmp_path}"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.splitlines() == [
        "error: ~optimizer.lr deleted a key that lab.training.optim.adamw reads: training would "
        "fall back on a default in code that config.yaml and the model card do not record; set "
        "the value instead: optimizer.lr=<value> (valid: a number > 0)"
    ]


@pytest.mark.parametrize(
    ("overrides", "gone"),
    [
        pytest.param(("experiment=tiny_demo_smoke", "~expected"), "expected", id="expected"),
        pytest.param(("~callbacks.model_checkpoint",), "callbacks.model_checkpoint", id="callback"),
        pytest.param(("~logger.wandb",), "logger.wandb", id="logger"),
        pytest.param(("~logger.csv.version",), "logger.csv.version", id="a logger's setting"),
        pytest.param(("~scheduler",), "scheduler", id="scheduler, as scheduler=none"),
        pytest.param(("~peft",), "peft", id="peft, as peft=none"),
    ],
)
def test_documented_deletions_still_pass(
    compose_cfg: Compose, overrides: tuple[str, ...], gone: str
) -> None:
    cfg = compose_cfg("model=tiny_bert", *overrides)
    validate_config(cfg)
    assert OmegaConf.select(cfg, gone, default="<absent>") == "<absent>"


def test_an_experiment_with_expected_keeps_it_without_the_deletion(compose_cfg: Compose) -> None:
    cfg = compose_cfg("model=tiny_bert", "experiment=tiny_demo_smoke")
    validate_config(cfg)
    assert "expected" in cfg


def test_a_key_the_new_option_does_not_take_may_be_deleted(
    compose_cfg: Compose, user_conf: Path
) -> None:
    """The fix for an experiment's key that another option refuses stays open."""
    search = _search(user_conf)
    assert _refusal(compose_cfg, "experiment=pinned", "optimizer=sgd", search).startswith(
        "'optimizer.betas' is not an argument of lab.training.optim.sgd."
    )
    validate_config(
        compose_cfg(
            "model=tiny_bert", "experiment=pinned", "optimizer=sgd", "~optimizer.betas", search
        )
    )
    # CausalLMDataModule packs blocks of data.block_size: it takes no max_length
    cfg = compose_cfg(
        "model=tiny_gpt2", "experiment=pinned", "data=wikitext2", "~data.max_length", search
    )
    validate_config(cfg)
    assert "max_length" not in cfg.data
    # ... while the text-classification data module of data=demo does
    assert _refusal(compose_cfg, "experiment=pinned", "~data.max_length", search).startswith(
        "~data.max_length deleted a key that "
        "lab.tasks.text_classification.data.TextClassificationDataModule reads"
    )


def test_deleted_keys_reads_each_form_of_deletion() -> None:
    overrides = [
        "a=1",
        "~optimizer.lr",
        "~data.max_length=128",
        "~debug@_global_",
        "~hydra/launcher",
    ]
    assert deleted_keys(overrides) == ["optimizer.lr", "data.max_length", "debug"]


def test_builder_keywords_follow_kwargs_into_the_base_class() -> None:
    causal = builder_keywords("lab.tasks.causal_lm.CausalLMDataModule")
    assert causal is not None
    assert {"block_size", "text_column", "batch_size", "splits"} <= causal  # own and DataModule's
    assert "max_length" not in causal
    assert builder_keywords("lab.training.trainer.build_trainer") is None  # **kwargs: unknown here
    assert builder_keywords("lab.no_such_module.Thing") is None


def test_paths_output_dir_on_the_command_line_is_refused_with_hydras_key(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, compose_cfg: Compose
) -> None:
    """`paths.output_dir=<folder>` split a run: checkpoints and model there, train.log and
    .hydra/ in Hydra's folder (s33a M2). Refused, naming hydra.run.dir and paths.output_root,
    by lab.validate (exit 2) and by the rules lab.train applies first; the folder given is not
    created. `compose_train_config(output_dir=...)` sets the key itself and still passes."""
    target = tmp_path / "elsewhere"
    code = validate.main(["model=tiny_bert", f"paths.output_dir={target}"])
    assert code == 2
    assert capsys.readouterr().err.splitlines() == [
        f"error: paths.output_dir={target} would split the run: Hydra has made its folder "
        f"already (paths.output_dir is that folder); use hydra.run.dir={target} for this run's "
        "own folder, or paths.output_root=<folder> for a new runs/<date>/<time> folder under it"
    ]
    assert not target.exists()
    assert _refusal(compose_cfg, "+paths.output_dir=x").startswith(
        "paths.output_dir=x would split the run"
    )
    validate_config(compose_cfg("model=tiny_bert", output_dir=tmp_path / "run"))
