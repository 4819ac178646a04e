"""A study holds to the setup it was started with (acceptance s17a): a continued study
refuses another search space (#7) but not another output root (#9), a refused command leaves
no directory behind (#9), the console words count what a study holds (#12), and every value
of a choice over a config group is composed before the study exists (#6)."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import optuna
import pytest
import sqlalchemy
from hydra.core.utils import JobReturn, JobStatus
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import TrialState
from rich.console import Console

from helpers.sweepers import bare_sweeper
from lab.errors import ConfigError
from lab.sweeps.probes import changed, probes
from lab.sweeps.results import importance_skipped, write_plots
from lab.sweeps.search_space import parse_search_space
from lab.sweeps.storage import open_storage
from lab.sweeps.study_setup import SEARCH_SPACE, setup_overrides
from lab.sweeps.summary import print_sweep_summary
from lab.sweeps.worker import SweepPlan, open_study

ROOT = Path(__file__).resolve().parents[1]
LR = "optimizer.lr=tag(log,interval(1e-6,3e-4))"


def _plan(sweep_dir: Path, arguments: list[str], **kw: Any) -> SweepPlan:
    return SweepPlan(
        study_name="s",
        storage_url=kw.pop("storage_url", f"sqlite:///{sweep_dir / 'study.db'}"),
        sweep_dir=sweep_dir,
        metrics=["val/acc"],
        directions=["maximize"],
        n_trials=kw.pop("n_trials", 2),
        space=parse_search_space({}, arguments),
        **kw,
    )


def _open(plan: SweepPlan, seed: int = 0) -> Any:
    sampler = optuna.samplers.RandomSampler(seed)
    return open_study(plan, open_storage(plan.storage_url), sampler, None)


# #7: a continued study holds to its search space
def test_a_continued_study_refuses_another_search_space_naming_each_key(tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweeps" / "s"
    study = _open(_plan(sweep_dir, [LR, "data.batch_size=choice(16,32)"]))
    assert study.user_attrs[SEARCH_SPACE]["optimizer.lr"]["name"] == "FloatDistribution"
    changed_space = [
        "optimizer.lr=tag(log,interval(1e-2,5e-2))",
        "optimizer.weight_decay=choice(0.0,0.1)",
    ]
    with pytest.raises(ConfigError) as caught:
        _open(_plan(sweep_dir, changed_space, n_trials=4))
    assert str(caught.value) == (
        f"study 's' in {sweep_dir} was started with another search space: this command adds "
        "optimizer.weight_decay (one of 0.0, 0.1); it lacks data.batch_size (one of 16, 32); "
        "it changes optimizer.lr (the study searched a number in [1e-06, 0.0003] on a log "
        "scale, this command a number in [0.01, 0.05] on a log scale). Continuing would mix "
        "two setups in one study: rerun with the study's search space, set "
        "hydra.sweeper.study_name=<new name> to start a separate study, or remove this one "
        f"(rm -r {sweep_dir}) to start it again under its name"
    )
    # A choice's values in another order are another space to the samplers.
    with pytest.raises(ConfigError, match=r"it changes data.batch_size \(the study searched one"):
        _open(_plan(sweep_dir, [LR, "data.batch_size=choice(32,16)"]))


def test_other_overrides_and_another_space_are_named_in_one_line(tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweeps" / "s"
    _open(_plan(sweep_dir, [LR, "data.batch_size=choice(16,32)"]))
    # Fixing a searched key: it is an override more and a parameter less.
    with pytest.raises(ConfigError) as caught:
        _open(_plan(sweep_dir, [LR, "data.batch_size=8"]))
    assert str(caught.value).startswith(
        f"study 's' in {sweep_dir} was started with other overrides: this command adds "
        "data.batch_size=8; and with another search space: it lacks data.batch_size (one of "
        "16, 32). Continuing would mix two setups in one study: rerun with the original "
        "overrides (), rerun with the study's search space, set hydra.sweeper.study_name"
    )


def test_the_same_space_continues_whatever_its_enqueued_trials_and_seed(tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweeps" / "s"
    _open(_plan(sweep_dir, [LR], enqueue=[{"optimizer.lr": 1e-4}]))
    # Enqueued points and the sampler's seed say how the space is walked, not what it is.
    study = _open(_plan(sweep_dir, [LR], enqueue=[{"optimizer.lr": 2e-4}], n_trials=4), seed=7)
    assert study.study_name == "s"


def test_a_study_from_before_the_space_was_recorded_continues_as_before(
    tmp_path: Path,
) -> None:
    sweep_dir = tmp_path / "sweeps" / "s"
    _open(_plan(sweep_dir, [LR]))
    storage = open_storage(f"sqlite:///{sweep_dir / 'study.db'}")
    sid = storage.get_study_id_from_name("s")
    # What an older lab left: no search space at all (the attr absent, not null).
    with storage.engine.begin() as connection:
        connection.execute(
            sqlalchemy.text("DELETE FROM study_user_attributes WHERE study_id=:s AND key=:k"),
            {"s": sid, "k": SEARCH_SPACE},
        )
    assert SEARCH_SPACE not in optuna.load_study(study_name="s", storage=storage).user_attrs
    _open(_plan(sweep_dir, ["optimizer.lr=interval(1e-2,5e-2)"]))  # not refused


# #9: where the outputs go is no part of the setup
def test_paths_overrides_are_not_part_of_the_setup(tmp_path: Path) -> None:
    overrides = ["paths.output_root=/a", "+paths.x=1", "seed=3", "data.path=x", "logger=csv"]
    overrides.append("plots=false")  # whether a trial draws its figures: no setup either
    assert setup_overrides([*overrides, "logger.wandb.project=p", "loggers=x"]) == [
        "data.path=x",
        "loggers=x",  # not the logger group: a key of the user's own
        "seed=3",
    ]
    shared = f"sqlite:///{tmp_path / 'shared.db'}"
    first = tmp_path / "e10" / "sweeps" / "s"
    _open(_plan(first, [LR, "paths.output_root=/e10", "seed=1"], storage_url=shared))
    other = tmp_path / "e11" / "sweeps" / "s"
    _open(_plan(other, [LR, "paths.output_root=/e11", "seed=1"], storage_url=shared))
    with pytest.raises(ConfigError) as caught:
        _open(_plan(other, [LR, "paths.output_root=/e11", "seed=2"], storage_url=shared))
    # The study is in the shared storage, not in this command's sweep directory.
    assert str(caught.value).startswith(
        f"study 's' in storage {shared} was started with other overrides: this command adds "
        "seed=2; it lacks seed=1. Continuing"
    )


class FakeLauncher:
    """Returns `val/acc` = 0.1 * the trial's number; trains nothing."""

    def launch(self, jobs: list[list[str]], initial_job_idx: int) -> list[JobReturn]:
        ret = JobReturn()
        ret.status = JobStatus.COMPLETED
        ret.return_value = {"val/acc": 0.1 * initial_job_idx}
        return [ret]


def _sweep(output_root: Path, arguments: list[str], **settings: Any) -> Any:
    """A whole sweep through the Hydra sweeper, its overrides not composed."""
    sweeper = bare_sweeper(output_root, "A", "NopPruner", **settings)
    sweeper.trial_launcher = FakeLauncher()  # type: ignore[assignment]
    return sweeper.sweep([*arguments, f"paths.output_root={output_root}"])


@pytest.fixture
def _no_plots(monkeypatch: pytest.MonkeyPatch) -> None:
    import lab.sweeps.results

    monkeypatch.setattr(lab.sweeps.results, "write_plots", lambda study, sweep_dir: [])


@pytest.mark.usefixtures("_no_plots")
def test_a_shared_storage_continues_from_another_output_root_and_a_refusal_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    storage = f"sqlite:///{tmp_path / 'shared' / 'shared.db'}"
    _sweep(tmp_path / "e10", [LR], storage=storage, n_trials=1)
    refused = tmp_path / "e12"
    with pytest.raises(SystemExit) as stopped:
        _sweep(refused, [LR, "seed=5"], storage=storage, n_trials=2)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "was started with other overrides: this command adds seed=5." in err
    # The way out names the sweep directory its trials ran in, not this command's (none).
    assert err.endswith(
        f"then rm -r {tmp_path / 'e10' / 'sweeps' / 'A'}) to start it again under its name\n"
    )
    assert not refused.exists()  # no empty sweep directory under the refused output root
    study = _sweep(tmp_path / "e11", [LR], storage=storage, n_trials=2)
    assert [t.state for t in study.get_trials()] == [TrialState.COMPLETE] * 2
    assert (tmp_path / "e11" / "sweeps" / "A" / "trials.csv").is_file()


# #12: words that count what the study holds
def test_continuing_says_how_many_trials_finished_and_how(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sweep_dir = tmp_path / "sweeps" / "s"
    study = _open(_plan(sweep_dir, [LR]))
    for state in (TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED):
        trial = study.ask()
        trial.suggest_float("optimizer.lr", 1e-6, 3e-4, log=True)
        study.tell(trial, 0.5 if state == TrialState.COMPLETE else None, state=state)
    with caplog.at_level(logging.INFO):
        _open(_plan(sweep_dir, [LR], n_trials=4))
    assert "Continuing study s: 3 of 4 trials finished (1 pruned, 1 failed)" in caplog.messages
    caplog.clear()
    with caplog.at_level(logging.INFO):  # fewer asked for than the study holds
        _open(_plan(sweep_dir, [LR], n_trials=2))
    assert (
        "Continuing study s: 3 trials finished (1 pruned, 1 failed), n_trials=2: none left to run"
        in caplog.messages
    )


def _study(values: list[float], lrs: list[float] | None = None) -> optuna.Study:
    study = optuna.create_study(study_name="one", direction="maximize")
    space = {
        "optimizer.lr": FloatDistribution(1e-4, 1e-2, log=True),
        "data.batch_size": CategoricalDistribution([16, 32]),
    }
    for number, value in enumerate(values):
        lr = (lrs or [1e-3 * (n + 1) for n in range(len(values))])[number]
        study.add_trial(
            optuna.trial.create_trial(
                params={"optimizer.lr": lr, "data.batch_size": 16 + 16 * (number % 2)},
                distributions=space,
                value=value,
            )
        )
    return study


def _summary(study: optuna.Study, plots: list[Path]) -> str:
    console = Console(file=io.StringIO(), width=200, color_system=None)
    print_sweep_summary(study, Path("/tmp/sweeps/one"), plots, console)
    return console.file.getvalue()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ([0.5], "1 complete trial, needs 2"),
        ([0.5, 0.5, 0.5], "every complete trial has value 0.5"),
    ],
)
def test_param_importances_are_skipped_when_meaningless_and_the_summary_says_why(
    tmp_path: Path, values: list[float], reason: str
) -> None:
    study = _study(values)
    assert importance_skipped(study) == reason
    written = write_plots(study, tmp_path)
    names = [p.name for p in written]
    assert "param_importances.png" not in names and "optimization_history.png" in names
    output = _summary(study, written)
    assert f"(param_importances.png skipped: {reason})" in output
    if len(values) == 1:
        assert "Study one: top trial (1 complete)" in output


def test_param_importances_are_drawn_for_a_varied_study(tmp_path: Path) -> None:
    study = _study([0.5, 0.6, 0.7])
    assert importance_skipped(study) is None
    assert "param_importances.png" in [p.name for p in write_plots(study, tmp_path)]
    assert "Study one: top 3 trials (3 complete)" in _summary(study, [])


# #6: every value of a choice over a config group is composed up front
def test_probes_compose_each_group_value_once_not_the_cross_product() -> None:
    space = parse_search_space(
        {},
        [
            "model=choice(tiny_bert,tiny_gpt2,bert)",
            "optimizer=choice(adamw,sgd)",
            "seed=choice(1,2,3)",  # a plain key: its values compose as its first does
            LR,
        ],
    )
    tried = probes(space.distributions, lambda key: key in ("model", "optimizer"))
    first = {"model": "tiny_bert", "optimizer": "adamw", "seed": 1, "optimizer.lr": 1e-6}
    assert tried == [
        first,
        {**first, "model": "tiny_gpt2"},
        {**first, "model": "bert"},
        {**first, "optimizer": "sgd"},
    ]
    assert [changed(p, first) for p in tried[1:]] == [
        {"model": "tiny_gpt2"},
        {"model": "bert"},
        {"optimizer": "sgd"},
    ]
    assert changed({"a": True}, {"a": 1}) == {"a": True}  # equal in Python, not as values


@pytest.mark.parametrize(
    ("choice", "message"),
    [
        (
            "model=choice(tiny_bert,tiny_bertt)",
            "error: the sweep's overrides do not compose (at model=tiny_bertt, a value the "
            "search space holds): In 'train': Could not find 'model/tiny_bertt' Available "
            "options in 'model': ",
        ),
        (
            "optimizer=choice(adamw,sgd,adamww)",
            "error: the sweep's overrides do not compose (at optimizer=adamww, a value the "
            "search space holds): In 'train': Could not find 'optimizer/adamww' Available "
            "options in 'optimizer': ",
        ),
    ],
)
def test_a_bad_later_choice_value_is_refused_before_the_study_exists(
    tmp_path: Path, choice: str, message: str
) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "offline"}
    out = tmp_path / "out"
    sweep = ["-m", "sweep=demo_lr", "model=tiny_bert", choice, f"paths.output_root={out}"]
    done = subprocess.run(
        [sys.executable, "-m", "lab.train", *sweep],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(message), done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert "Config search path" not in done.stderr
    assert not out.exists()  # no study, no sweep directory


def test_the_closing_table_tells_close_sampled_rates_apart() -> None:
    """s26c M4: three rates in [1e-5, 1.00001e-5] were all `1e-05` in the sweep's table (as
    three significant digits show them); the table shows as many as tell them apart."""
    lrs = [1.0000016e-05, 1.0000071e-05, 1.0000018e-05]
    study = optuna.create_study(study_name="one", direction="maximize")
    space = {"optimizer.lr": FloatDistribution(1e-5, 1.00001e-5)}
    for lr, value in zip(lrs, [0.5, 0.6, 0.7], strict=True):
        study.add_trial(
            optuna.trial.create_trial(params={"optimizer.lr": lr}, distributions=space, value=value)
        )
    printed = _summary(study, [])
    for shown in ("1.0000016e-05", "1.0000071e-05", "1.0000018e-05"):
        assert shown in printed


@pytest.mark.usefixtures("_no_plots")
def test_a_sweep_dir_given_is_said_not_to_be_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """s30c N7: `hydra.sweep.dir=<dir>` on a lab sweep was ignored without a word."""
    sweeper = bare_sweeper(tmp_path, "A", "NopPruner", n_trials=1)
    sweeper.trial_launcher = FakeLauncher()  # type: ignore[assignment]
    sweeper.cfg.hydra.overrides = {"hydra": [f"hydra.sweep.dir={tmp_path / 'mine'}"]}
    with caplog.at_level(logging.WARNING):
        sweeper.sweep([LR, f"paths.output_root={tmp_path}"])
    assert caplog.messages == [
        f"hydra.sweep.dir={tmp_path / 'mine'} is not read by a lab sweep: its directory is "
        f"{tmp_path / 'sweeps' / 'A'} (paths.output_root=<root> and "
        "hydra.sweeper.study_name=<name> choose it)"
    ]
    assert not (tmp_path / "mine").exists()
