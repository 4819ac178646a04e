"""A study's trial setup (lab.sweeps.study_setup.trial_setup, s29b F1): a trial's composed
config as the files give it, recorded in the study and held to every later run of the same
command, so an edited sweep or config file is refused rather than mixed into the study."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pytest
import sqlalchemy
from omegaconf import OmegaConf

from lab.errors import ConfigError
from lab.sweeps.search_space import parse_search_space
from lab.sweeps.storage import open_storage
from lab.sweeps.study_setup import SHOWN_DIFFERENCES, TRIAL_SETUP, option_setup, trial_setup
from lab.sweeps.worker import SweepPlan, open_study

LR = "optimizer.lr=interval(1e-4,1e-2)"


def test_the_setup_is_the_composed_config_less_outputs_sweep_settings_and_searched_keys() -> None:
    composed = OmegaConf.create(
        {
            "seed": 42,
            "optimizer": {"lr": 1e-4, "weight_decay": 0.01},
            "model": {"pretrained": "bert", "freeze": ["*.embeddings.*"]},
            "data": {"max_length": 128, "eval_length": "${data.max_length}"},
            "paths": {"output_dir": "/out/trials/0"},
            "hydra": {"sweeper": {"n_trials": 4}},
            "logger": {"csv": {"_target_": "CSVLogger", "save_dir": "/out"}},
            "task": {"module": {"weights": None}},
            "plots": False,
        }
    )
    assert trial_setup(composed, ["optimizer.lr", "model"]) == {
        "seed": 42,
        "optimizer.weight_decay": 0.01,
        "data.max_length": 128,
        "data.eval_length": "${data.max_length}",  # as written: a trial resolves it
        "task.module.weights": None,
    }
    assert trial_setup(composed, [])["model.freeze"] == '["*.embeddings.*"]'  # lists as JSON


def test_a_searched_groups_option_is_held_by_its_content() -> None:
    """s29c F2: `model=choice(tiny_bert, mine)` left `model.*` out of the setup, so an edit of
    mine.yaml went unseen; each option's content is held under `model=<option>:`."""
    composed = OmegaConf.create(
        {"model": {"pretrained": None, "layers": 2, "freeze": []}, "seed": 1}
    )
    assert option_setup(composed, "model", "mine") == {
        "model=mine:pretrained": None,
        "model=mine:layers": 2,
        "model=mine:freeze": "[]",
    }


def _plan(sweep_dir: Path, setup: dict[str, Any] | None, n_trials: int = 2) -> SweepPlan:
    return SweepPlan(
        study_name="s",
        storage_url=f"sqlite:///{sweep_dir / 'study.db'}",
        sweep_dir=sweep_dir,
        metrics=["val/acc"],
        directions=["maximize"],
        n_trials=n_trials,
        space=parse_search_space({}, [LR, "data.batch_size=16"]),
        trial_setup=setup,
    )


def _open(plan: SweepPlan) -> Any:
    sampler = optuna.samplers.RandomSampler(0)
    return open_study(plan, open_storage(plan.storage_url), sampler, None)


SETUP = {"data.max_train_samples": 100, "trainer.max_epochs": 1, "data.name": "imdb"}


def test_a_changed_file_is_refused_naming_each_key(tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweeps" / "s"
    study = _open(_plan(sweep_dir, SETUP))
    assert study.user_attrs[TRIAL_SETUP] == SETUP
    edited = {"data.max_train_samples": 400, "trainer.max_epochs": 1, "seed": 3}
    with pytest.raises(ConfigError) as caught:
        _open(_plan(sweep_dir, edited, n_trials=4))
    assert str(caught.value) == (
        f"study 's' in {sweep_dir} was started with other configs, with the same command: "
        "data.max_train_samples was 100, is 400; data.name is gone (was imdb); seed is new (3)"
        ". Continuing would mix two setups in one study: restore the config files as they "
        "were, set hydra.sweeper.study_name=<new name> to start a "
        f"separate study, or remove this one (rm -r {sweep_dir}) to start it again under its "
        "name"
    )
    _open(_plan(sweep_dir, dict(SETUP), n_trials=4))  # the same files: continued
    # A key a newer lab adds switched off (or an older one lacked) changes no trial.
    inert = {"model.add_tokens": "[]", "task.module.weights": None, "data.streaming": False}
    _open(_plan(sweep_dir, {**SETUP, **inert}, n_trials=4))
    with pytest.raises(ConfigError, match=r"other configs, with the same command: data.extra is"):
        _open(_plan(sweep_dir, {**SETUP, "data.extra": 5}, n_trials=4))


def test_the_refusal_names_the_files_behind_the_changed_keys(tmp_path: Path) -> None:
    """s29c F4: "restore the sweep or config files as they were (or lab's version)" named no
    file; the files that can have set each changed key are named (Hydra keeps no record of
    which one did): the key's group option, the sweep file, the primary config."""
    from lab.sweeps.setup_files import files_behind

    files = {
        "optimizer": "optimizer=adamw: /c/optimizer/adamw.yaml",
        "model": "model=mine: /u/model/mine.yaml",
        "sweep": "sweep=lr: /u/sweep/lr.yaml",
        "": "/c/train.yaml",
    }
    assert files_behind(["optimizer.weight_decay", "model=mine:layers", "seed"], files) == [
        "optimizer=adamw: /c/optimizer/adamw.yaml",
        "model=mine: /u/model/mine.yaml",
        "sweep=lr: /u/sweep/lr.yaml",
        "/c/train.yaml",
    ]
    sweep_dir = tmp_path / "sweeps" / "s"
    _open(_plan(sweep_dir, SETUP))
    plan = _plan(sweep_dir, {**SETUP, "trainer.max_epochs": 2})
    plan.setup_files = {"trainer": "trainer=default: /c/trainer/default.yaml", "": "/c/train.yaml"}
    with pytest.raises(ConfigError) as caught:
        _open(plan)
    assert (
        "study: restore the config files as they were (the files that compose these keys: "
        "trainer=default: /c/trainer/default.yaml; /c/train.yaml), set hydra.sweeper"
    ) in str(caught.value)


def test_many_differences_are_cut_to_the_first_few(tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweeps" / "s"
    before = {f"k{i:02d}": i for i in range(SHOWN_DIFFERENCES + 3)}
    _open(_plan(sweep_dir, before))
    with pytest.raises(ConfigError) as caught:
        _open(_plan(sweep_dir, {key: value + 1 for key, value in before.items()}))
    assert f"k{SHOWN_DIFFERENCES - 1:02d} was" in str(caught.value)
    assert f"k{SHOWN_DIFFERENCES:02d} was" not in str(caught.value)
    assert "; and 3 more. Continuing" in str(caught.value)


def test_other_overrides_are_named_alone_not_again_as_their_config_keys(tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweeps" / "s"
    _open(_plan(sweep_dir, SETUP))
    plan = _plan(sweep_dir, {**SETUP, "data.batch_size": 8})
    plan.space = parse_search_space({}, [LR, "data.batch_size=8"])
    with pytest.raises(ConfigError) as caught:
        _open(plan)
    assert "other overrides: this command adds data.batch_size=8" in str(caught.value)
    assert "other configs" not in str(caught.value)


def test_a_study_from_before_the_setup_was_recorded_continues(tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweeps" / "s"
    _open(_plan(sweep_dir, SETUP))
    storage = open_storage(f"sqlite:///{sweep_dir / 'study.db'}")
    sid = storage.get_study_id_from_name("s")
    with storage.engine.begin() as connection:  # what an older lab left: no trial setup
        connection.execute(
            sqlalchemy.text("DELETE FROM study_user_attributes WHERE study_id=:s AND key=:k"),
            {"s": sid, "k": TRIAL_SETUP},
        )
    _open(_plan(sweep_dir, {"data.max_train_samples": 400}))  # not refused


def test_a_new_study_is_said_once_in_labs_words(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """s29b F5: Optuna's own `[I <time>] A new study created in RDB` line came before lab's
    `Created study s (2 trials)`, in another format; Optuna's verbosity is left as it was."""
    import logging

    before = optuna.logging.get_verbosity()
    # Optuna's own default (other tests turn it down to WARNING, which would hide its line
    # whatever lab did), and its records sent on to caplog.
    optuna.logging.set_verbosity(optuna.logging.INFO)
    optuna.logging.enable_propagation()
    try:
        with caplog.at_level(logging.INFO):
            _open(_plan(tmp_path / "sweeps" / "s", SETUP))
        assert optuna.logging.get_verbosity() == optuna.logging.INFO  # given back as it was
    finally:
        optuna.logging.disable_propagation()
        optuna.logging.set_verbosity(before)
    assert "Created study s (2 trials)" in caplog.text
    assert "A new study created" not in caplog.text
