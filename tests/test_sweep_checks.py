"""A search space outside what its keys accept, and enqueued trials outside the search space,
are refused in one line, exit 2, before the sweep makes a directory, a storage or a trial
(acceptance findings S1 and S5)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf

from hydra_plugins.lab_optuna_sweeper.sweeper import LabOptunaSweeper
from lab.errors import ConfigError
from lab.sweeps.search_space import parse_search_space
from lab.sweeps.space_checks import check_enqueued, contains, describe

LOG_LR = "tag(log,interval(1e-4,1e-2))"


@pytest.mark.parametrize(
    ("key", "sweep", "message"),
    [
        (
            "optimizer.lr",
            "interval(-1,-0.5)",
            "optimizer.lr: interval(-1, -0.5) searches -1.0 to -0.5, both ends out of range; "
            "valid: a number > 0",
        ),
        (
            "optimizer.lr",
            "interval(-1,0.5)",
            "optimizer.lr: interval(-1, 0.5) searches -1.0, which is out of range; "
            "valid: a number > 0",
        ),
        (
            "optimizer.lr",
            "choice(1e-3,-1)",
            "optimizer.lr: choice(0.001, -1) holds -1, which is out of range; valid: a number > 0",
        ),
        (
            "data.batch_size",
            "choice(16,auto)",
            "data.batch_size: choice(16, auto) holds auto, which is not a number; "
            "valid: an integer >= 1",
        ),
        (
            "scheduler.warmup_ratio",
            "range(0.0,1.2,0.1)",
            "scheduler.warmup_ratio: range(0.0, 1.2, 0.1) searches 1.1, which is out of range; "
            "valid: a number in [0, 1]",
        ),
        (  # both ends valid, a value between not: -1 (all devices), 0 (none), 1, 2
            "trainer.devices",
            "range(-1,3)",
            "trainer.devices: range(-1, 3) searches 0, which is out of range; valid: -1 or an "
            "integer >= 1 or a string (-1: all; text: auto, 0,1)",
        ),
        (  # an interval samples floats, whatever its ends
            "data.batch_size",
            "interval(8,64)",
            "data.batch_size: interval(8, 64) samples numbers that are not integers; valid: an "
            "integer >= 1 (range(...) or choice(...) search integers)",
        ),
    ],
)
def test_a_search_space_outside_its_keys_range_is_one_line(
    key: str, sweep: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_search_space({key: sweep}, [])
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("key", "sweep"),
    [
        ("optimizer.lr", LOG_LR),
        ("trainer.devices", "range(-1,5,2)"),  # -1, 1, 3: all valid, though 0 is not
        ("trainer.max_epochs", "range(2,5)"),
        ("trainer.limit_train_batches", "interval(0.1,0.5)"),  # a share
        ("data.batch_size", "choice(16,32)"),
        ("model", "choice(bert,roberta)"),  # a group choice: no range rule
    ],
)
def test_a_search_space_inside_its_keys_range_passes(key: str, sweep: str) -> None:
    assert list(parse_search_space({key: sweep}, []).distributions) == [key]


def _space() -> dict[str, Any]:
    return parse_search_space(
        {
            "optimizer.lr": LOG_LR,
            "data.batch_size": "choice(16,32)",
            "trainer.max_epochs": "range(2,5)",
            "scheduler.warmup_ratio": "range(0.0,0.2,0.05)",
        },
        [],
    ).distributions


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        (  # the acceptance case: a log scale cannot hold it, and lr must be > 0
            [{"optimizer.lr": -0.1}],
            "hydra.sweeper.enqueue_trials[0]: optimizer.lr=-0.1 is out of range (optimizer.lr "
            "takes a number > 0); valid: its search space, a number in [0.0001, 0.01] on a log "
            "scale",
        ),
        (
            [{"optimizer.lr": 1e-3}, {"optimizer.lr": 0.5}],
            "hydra.sweeper.enqueue_trials[1]: optimizer.lr=0.5 is outside its search space; "
            "valid: a number in [0.0001, 0.01] on a log scale",
        ),
        (
            [{"optimizer.lr": 1e-5}],
            "hydra.sweeper.enqueue_trials[0]: optimizer.lr=1e-05 is outside its search space; "
            "valid: a number in [0.0001, 0.01] on a log scale",
        ),
        (
            [{"data.batch_size": 24}],
            "hydra.sweeper.enqueue_trials[0]: data.batch_size=24 is outside its search space; "
            "valid: one of 16, 32",
        ),
        (
            [{"trainer.max_epochs": 5}],
            "hydra.sweeper.enqueue_trials[0]: trainer.max_epochs=5 is outside its search "
            "space; valid: an integer in [2, 4]",
        ),
        (
            [{"trainer.max_epochs": 2.0}],
            "hydra.sweeper.enqueue_trials[0]: trainer.max_epochs=2.0 is not an integer "
            "(trainer.max_epochs takes null or an integer >= -1 (-1: no limit)); valid: its "
            "search space, an integer in [2, 4]",
        ),
        (
            [{"scheduler.warmup_ratio": 0.07}],
            "hydra.sweeper.enqueue_trials[0]: scheduler.warmup_ratio=0.07 is outside its "
            "search space; valid: a number in [0.0, 0.15] in steps of 0.05",
        ),
        (
            [{"data.max_length": 64}],
            "hydra.sweeper.enqueue_trials[0]: data.max_length is not searched, so its value "
            "would be ignored; an enqueued trial sets searched keys (searched: "
            "data.batch_size, optimizer.lr, scheduler.warmup_ratio, trainer.max_epochs)",
        ),
        (
            [0.1],
            "hydra.sweeper.enqueue_trials[0]=0.1: an enqueued trial is a mapping of searched "
            "keys to values, e.g. hydra.sweeper.enqueue_trials=[{optimizer.lr:5e-5}]",
        ),
    ],
)
def test_an_enqueued_trial_outside_the_search_space_is_one_line(
    entries: list[Any], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        check_enqueued(entries, _space())
    assert str(caught.value) == message


def test_enqueued_trials_inside_the_search_space_pass_flattened() -> None:
    entries = [
        {"optimizer.lr": 1e-3, "data.batch_size": 32},
        {"optimizer": {"lr": 1e-4}, "scheduler.warmup_ratio": 0.1, "trainer.max_epochs": 4},
    ]
    assert check_enqueued(entries, _space()) == [
        {"optimizer.lr": 1e-3, "data.batch_size": 32},
        {"optimizer.lr": 1e-4, "scheduler.warmup_ratio": 0.1, "trainer.max_epochs": 4},
    ]


def test_contains_keeps_booleans_apart_from_numbers() -> None:
    choices = parse_search_space({"x": "choice(1,2)", "b": "choice(true,false)"}, [])
    assert contains(choices.distributions["x"], 1)
    assert not contains(choices.distributions["x"], True)  # 1 == True in Python
    assert contains(choices.distributions["b"], False)
    assert not contains(choices.distributions["b"], 0)
    assert describe(choices.distributions["b"]) == "one of true, false"


def _sweeper(output_root: Path, **settings: Any) -> LabOptunaSweeper:
    sweeper = LabOptunaSweeper(
        sampler=OmegaConf.create({}), pruner=OmegaConf.create({}), study_name="s", **settings
    )
    sweeper.cfg = OmegaConf.create(
        {
            "paths": {"output_root": str(output_root)},
            "hydra": {"runtime": {"choices": {"sweep": "demo_lr"}}},
        }
    )
    return sweeper


@pytest.mark.parametrize(
    ("settings", "arguments", "message"),
    [
        (
            # Hydra hands the sweeper its setting as a ListConfig.
            {"enqueue_trials": OmegaConf.create([{"optimizer.lr": -0.1}])},
            [f"optimizer.lr={LOG_LR}"],
            "error: hydra.sweeper.enqueue_trials[0]: optimizer.lr=-0.1 is out of range "
            "(optimizer.lr takes a number > 0); valid: its search space, a number in "
            "[0.0001, 0.01] on a log scale\n",
        ),
        (
            {},
            ["optimizer.lr=choice(1e-3,-1)"],
            "error: optimizer.lr: choice(0.001, -1) holds -1, which is out of range; valid: a "
            "number > 0\n",
        ),
    ],
)
def test_the_sweep_refuses_before_it_makes_a_directory(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    settings: dict[str, Any],
    arguments: list[str],
    message: str,
) -> None:
    sweeper = _sweeper(tmp_path / "out", **settings)
    with pytest.raises(SystemExit) as stopped:
        sweeper.sweep(["data.max_length=64", *arguments])
    assert stopped.value.code == 2
    assert capsys.readouterr().err == message
    assert not (tmp_path / "out").exists()  # no sweep directory, so no study.db, no trial
