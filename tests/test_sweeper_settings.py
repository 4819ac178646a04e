"""The sweeper refuses its own bad settings and an unusable output root in one line, before
it makes a directory, a storage or a trial (issue 19)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf

from hydra_plugins.lab_optuna_sweeper.sweeper import LabOptunaSweeper
from lab.errors import ConfigError, LabError


def _sweeper(output_root: Path, **settings: Any) -> LabOptunaSweeper:
    sweeper = LabOptunaSweeper(
        sampler=OmegaConf.create({}), pruner=OmegaConf.create({}), **settings
    )
    sweeper.cfg = OmegaConf.create({"paths": {"output_root": str(output_root)}})
    return sweeper


@pytest.mark.parametrize(
    ("setting", "value", "valid"),
    [
        ("n_trials", 0, "an integer >= 1"),
        ("n_jobs", 1.5, "an integer >= 1"),
        ("max_failure_rate", 2.0, "a number in [0, 1]"),
        ("max_failure_rate", -0.1, "a number in [0, 1]"),
        ("heartbeat_interval", 0.0, "a number > 0"),
        ("stale_after", -5.0, "a number > 0"),
    ],
)
def test_a_setting_out_of_range_is_named_with_its_range(
    tmp_path: Path, setting: str, value: float, valid: str
) -> None:
    sweeper = _sweeper(tmp_path, **{setting: value})
    with pytest.raises(ConfigError) as caught:
        sweeper._check_settings()
    message = str(caught.value)
    assert message.startswith(f"hydra.sweeper.{setting}={value} is ")
    assert f"valid: {valid}" in message
    assert "\n" not in message


def test_valid_settings_pass(tmp_path: Path) -> None:
    _sweeper(tmp_path, max_failure_rate=0.0, stale_after=1.0)._check_settings()


def test_an_output_root_below_a_file_is_refused_before_anything_is_made(
    tmp_path: Path,
) -> None:
    a_file = tmp_path / "afile"
    a_file.write_text("x")
    sweeper = _sweeper(a_file / "runs")
    with pytest.raises(LabError) as caught:
        sweeper._check_settings()
    assert str(caught.value) == (
        f"paths.output_root={a_file / 'runs'} cannot hold runs: "
        f"{a_file} is a file, not a directory (Not a directory)"
    )
    assert a_file.read_text() == "x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


# A bad search space: one line naming the key, exit 2, and nothing made (acceptance s4 F2).
@pytest.mark.parametrize(
    ("sweep", "message"),
    [
        ("interval(1e-2,1e-3)", "optimizer.lr: interval(0.01, 0.001) has low > high"),
        (
            "tag(log,interval(0,1e-3))",
            "optimizer.lr: tag(log, interval(0, 0.001)) needs low > 0 on a log scale",
        ),
        (
            "range(1,1)",
            "optimizer.lr: range(1, 1) is empty: a range excludes its stop, so stop must be "
            "> start",
        ),
        ("range(5,1,-1)", "optimizer.lr: range(5, 1, -1) needs a step > 0"),
        (
            "tag(log,range(1,10,2))",
            "optimizer.lr: tag(log, range(1, 10, 2)) on a log scale needs step 1 (Optuna "
            "samples log-scaled integers unstepped)",
        ),
    ],
)
def test_a_bad_range_is_one_line_naming_the_key(sweep: str, message: str) -> None:
    from lab.sweeps.search_space import parse_search_space

    with pytest.raises(ConfigError) as caught:
        parse_search_space({"optimizer.lr": sweep}, [])
    assert str(caught.value) == message


def test_a_bad_range_stops_the_sweep_before_its_directory_exists(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sweeper = _sweeper(tmp_path / "out", study_name="bad")
    sweeper.cfg.hydra = {"runtime": {"choices": {"sweep": "demo_lr"}}}
    with pytest.raises(SystemExit) as stopped:
        sweeper.sweep(["data.max_length=64", "optimizer.lr=interval(1e-2,1e-3)"])
    assert stopped.value.code == 2
    assert capsys.readouterr().err == (
        "error: optimizer.lr: interval(0.01, 0.001) has low > high\n"
    )
    assert not (tmp_path / "out").exists()


def test_the_default_storage_url_makes_no_directory(tmp_path: Path) -> None:
    from lab.sweeps.storage import storage_url

    url = storage_url(None, tmp_path / "sweeps" / "s")
    assert url == f"sqlite:///{tmp_path / 'sweeps' / 's' / 'study.db'}"
    assert not (tmp_path / "sweeps").exists()


# `hydra.sweeper.sampler=random` (a dot for the group's slash): one line with the way to
# choose it and the options (acceptance s4 F3).
@pytest.mark.parametrize(
    ("group", "value", "choice", "options"),
    [
        ("sampler", "random", "random", "cmaes, grid, nsga2, qmc, random, tpe"),
        ("sampler", None, "<option>", "cmaes, grid, nsga2, qmc, random, tpe"),
        ("pruner", "hyperbnd", "<option>", "hyperband, median, none, successive_halving"),
    ],
)
def test_a_sampler_or_pruner_set_like_a_value_says_how_to_choose_it(
    tmp_path: Path, group: str, value: str | None, choice: str, options: str
) -> None:
    sweeper = _sweeper(tmp_path)
    setattr(sweeper, f"{group}_cfg", value)
    with pytest.raises(ConfigError) as caught:
        sweeper._check_settings()
    shown = "null" if value is None else value
    assert str(caught.value) == (
        f"hydra.sweeper.{group}={shown}: {group} is a config group, chosen with slashes: "
        f"hydra/sweeper/{group}={choice} (options: {options}); its settings are values: "
        f"hydra.sweeper.{group}.<setting>=..."
    )
    assert not tmp_path.joinpath("sweeps").exists()


def test_a_grid_over_a_continuous_parameter_is_refused_before_the_directory_exists(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sweeper = _sweeper(tmp_path / "out", study_name="grid")
    sweeper.sampler_cfg = OmegaConf.create({"_target_": "optuna.samplers.GridSampler"})
    sweeper.cfg.hydra = {"runtime": {"choices": {}}}
    sweeper._check_overrides_compose = lambda plan: None  # type: ignore[method-assign]
    with pytest.raises(SystemExit) as stopped:
        sweeper.sweep(["optimizer.lr=interval(1e-4,1e-2)"])
    assert stopped.value.code == 2
    assert capsys.readouterr().err.startswith(
        "error: the grid sampler needs a discrete space, but optimizer.lr is continuous"
    )
    assert not (tmp_path / "out").exists()


# resume=true for a study that does not exist: one line, exit 2, and no sweep directory, no
# database and no lock file left behind (acceptance s4 F12).
def _resume(sweeper: LabOptunaSweeper, capsys: pytest.CaptureFixture[str]) -> str:
    sweeper.cfg.hydra = {"runtime": {"choices": {"sweep": "demo_lr"}}}
    sweeper._check_overrides_compose = lambda plan: None  # type: ignore[method-assign]
    with pytest.raises(SystemExit) as stopped:
        sweeper.sweep(["optimizer.lr=interval(1e-4,1e-2)", "resume=true"])
    assert stopped.value.code == 2
    return capsys.readouterr().err


def test_resume_true_for_a_missing_study_is_refused_before_anything_is_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _resume(_sweeper(tmp_path / "out", study_name="neverran"), capsys)
    sweep_dir = (tmp_path / "out" / "sweeps" / "neverran").resolve()
    assert err == (
        f"error: resume=true but there is no study 'neverran' in {sweep_dir}; "
        "drop resume=true to start it\n"
    )
    assert not (tmp_path / "out").exists()


def test_resume_true_with_a_storage_url_asks_it_and_leaves_nothing_behind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import optuna

    from lab.sweeps.storage import require_study

    # A user's SQLite path that does not exist: not created.
    missing = tmp_path / "db" / "missing.db"
    sweeper = _sweeper(tmp_path / "out", study_name="neverran", storage=f"sqlite:///{missing}")
    assert _resume(sweeper, capsys) == (
        f"error: resume=true but there is no study 'neverran' in storage sqlite:///{missing}; "
        "drop resume=true to start it\n"
    )
    assert not (tmp_path / "db").exists()
    assert not (tmp_path / "out").exists()

    # A database that holds other studies: asked, and left as it was (no lab lock file).
    shared = tmp_path / "shared.db"
    optuna.create_study(study_name="other", storage=f"sqlite:///{shared}")
    before = sorted(p.name for p in tmp_path.iterdir())
    sweeper = _sweeper(tmp_path / "out", study_name="neverran", storage=f"sqlite:///{shared}")
    assert "no study 'neverran' in storage sqlite:///" in _resume(sweeper, capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    # ... and a study it holds may be resumed.
    require_study(f"sqlite:///{shared}", "other", tmp_path / "out" / "sweeps" / "other")


def test_grid_workers_share_one_grid_order_and_cover_every_point(tmp_path: Path) -> None:
    """n_jobs > 1 with the grid sampler: workers get their own seeds for the random
    samplers, but a grid's seed orders the grid, and a grid id in the study must name the
    same point in every worker (acceptance s5 F7: one point ran twice, another never)."""
    import optuna

    from lab.compat.optuna import tell
    from lab.sweeps.search_space import parse_search_space, suggest

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sweeper = _sweeper(tmp_path)
    sweeper.sampler_cfg = OmegaConf.create({"_target_": "optuna.samplers.GridSampler", "seed": 7})
    space = parse_search_space(
        {}, ["optimizer.lr=choice(1e-3,3e-3)", "data.batch_size=choice(16,32)"]
    )

    class Plan:
        pass

    plan = Plan()
    plan.space = space  # type: ignore[attr-defined]
    storage = optuna.storages.InMemoryStorage()
    studies = [
        optuna.create_study(study_name="g", storage=storage, sampler=sweeper._sampler(plan, 0)),
        optuna.load_study(study_name="g", storage=storage, sampler=sweeper._sampler(plan, 5)),
    ]
    # Both workers ask before either tells: the second must avoid the first's running point.
    trials = [study.ask() for study in studies]
    points = [tuple(suggest(trial, space).values()) for trial in trials]
    for study, trial in zip(studies, trials, strict=True):
        tell(study, trial, 0.5)
    for study in studies:
        trial = study.ask()
        points.append(tuple(suggest(trial, space).values()))
        tell(study, trial, 0.5)
    assert sorted(points) == sorted({(lr, b) for lr in (1e-3, 3e-3) for b in (16, 32)})
