"""The sweep grammar, failure budget and trial liveness, without training anything."""

from __future__ import annotations

import datetime
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from sqlalchemy.exc import IntegrityError, OperationalError

from lab.compat.optuna import study_storage, trial_id
from lab.errors import ConfigError
from lab.sweeps.liveness import HEARTBEAT, HOST, PID, is_abandoned
from lab.sweeps.search_space import format_value, parse_search_space, suggest
from lab.sweeps.worker import SweepPlan, SweepStopped, check_failure_budget


def test_hydra_sweep_grammar_becomes_optuna_distributions() -> None:
    space = parse_search_space(
        {
            "optimizer.lr": "tag(log, interval(1e-5, 1e-3))",
            "data.batch_size": "choice(16, 32, 64)",
            "trainer.max_epochs": "range(1, 5)",
            "scheduler.warmup_ratio": "range(0.0, 0.2, 0.05)",
            "optimizer.weight_decay": "interval(0.0, 0.1)",
            "model": "choice(bert, roberta)",
            "data.max_length": "128",
        },
        [],
    )
    d = space.distributions
    assert d["optimizer.lr"] == FloatDistribution(1e-5, 1e-3, log=True)
    assert d["data.batch_size"] == CategoricalDistribution([16, 32, 64])
    assert d["trainer.max_epochs"] == IntDistribution(1, 4)  # range excludes its stop
    assert d["scheduler.warmup_ratio"] == FloatDistribution(0.0, 0.15, step=0.05)
    assert d["optimizer.weight_decay"] == FloatDistribution(0.0, 0.1)
    assert d["model"] == CategoricalDistribution(["bert", "roberta"])
    assert space.fixed == ["data.max_length=128"]


def test_command_line_overrides_win_over_the_sweep_file(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="lab.sweeps.search_space")
    space = parse_search_space(
        {"optimizer.lr": "interval(1e-5, 1e-3)", "data.batch_size": "choice(16, 32)"},
        ["optimizer.lr=0.001", "data.batch_size=choice(8,16)", "model=bert"],
    )
    assert set(space.distributions) == {"data.batch_size"}
    assert space.distributions["data.batch_size"] == CategoricalDistribution([8, 16])
    assert space.fixed == ["optimizer.lr=0.001", "model=bert"]
    # A dimension the file searched, fixed on the command line: said, not silently dropped.
    assert [r.getMessage() for r in caplog.records] == [
        "optimizer.lr=0.001 on the command line fixes optimizer.lr for every trial: it is no "
        "longer searched"
    ]


def test_grid_lists_every_value_and_refuses_continuous_parameters() -> None:
    space = parse_search_space(
        {"a": "choice(x, y)", "b": "range(1, 4)", "c": "range(0.0, 0.3, 0.1)"}, []
    )
    assert space.grid() == {"a": ["x", "y"], "b": [1, 2, 3], "c": [0.0, 0.1, 0.2]}
    with pytest.raises(ConfigError, match="grid sampler needs a discrete space, but lr"):
        parse_search_space({"lr": "interval(0.1, 0.2)"}, []).grid()


def test_bad_grammar_and_non_primitive_choices_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="cannot parse"):
        parse_search_space({"lr": "interval(0.1"}, [])
    # A misspelt tag searched a linear scale without a word.
    with pytest.raises(ConfigError, match="lr: tag 'lgo' means nothing to the search space"):
        parse_search_space({"lr": "tag(lgo, interval(1e-5, 1e-3))"}, [])
    with pytest.raises(ConfigError, match=r"x: tag 'log' means nothing.*a choice reads no tag"):
        parse_search_space({"x": "tag(log, choice(1, 2))"}, [])
    assert parse_search_space({"lr": "tag(log, interval(1e-5, 1e-3))"}, []).distributions["lr"].log
    with pytest.raises(ConfigError, match="choice values must be"):
        parse_search_space({"x": "choice([1,2], [3])"}, [])


def test_sampled_values_become_overrides_hydra_parses_back() -> None:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    values = {"a": 1e-05, "b": "bert", "c": True, "d": None, "e": "two words", "f": "null"}
    lines = [f"{k}={format_value(v)}" for k, v in values.items()]
    parsed = OverridesParser.create().parse_overrides(lines)
    assert {o.key_or_group: o.value() for o in parsed} == values


def test_suggest_reads_back_the_values_of_a_trial_that_has_them() -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    space = parse_search_space({"x": "interval(0.0, 1.0)", "n": "choice(1, 2, 3)"}, [])
    trial = study.ask()
    first = suggest(trial, space)
    again = suggest(optuna.trial.Trial(study, trial_id(trial)), space)
    assert first == again and 0.0 <= first["x"] <= 1.0 and first["n"] in (1, 2, 3)


def _plan(n_trials: int, max_failure_rate: float) -> SweepPlan:
    return SweepPlan(
        study_name="s",
        storage_url="sqlite://",
        sweep_dir=Path("/tmp/s"),
        metrics=["val/acc"],
        directions=["maximize"],
        n_trials=n_trials,
        space=parse_search_space({}, []),
        max_failure_rate=max_failure_rate,
    )


def test_failure_budget_allows_up_to_the_rate_then_stops_with_the_last_error() -> None:
    study = optuna.create_study()
    for number in range(3):
        trial = study.ask()
        trial.set_user_attr("error", f"boom {number}")
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
    trials = study.get_trials()
    check_failure_budget(trials, _plan(n_trials=10, max_failure_rate=0.3))  # 3 <= 3: go on
    with pytest.raises(SweepStopped) as stopped:
        check_failure_budget(trials, _plan(n_trials=10, max_failure_rate=0.25))
    message = str(stopped.value)
    assert "3 of 10 trials failed" in message and "max_failure_rate=0.25" in message
    assert "trial 2: boom 2" in message


def _frozen(attrs: dict, started_ago: float = 0.0) -> SimpleNamespace:
    start = datetime.datetime.now() - datetime.timedelta(seconds=started_ago)
    return SimpleNamespace(system_attrs=attrs, datetime_start=start)


def test_a_running_trial_is_abandoned_when_its_process_is_gone_or_silent() -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    here = socket.gethostname()
    now = time.time()
    assert is_abandoned(_frozen({HOST: here, PID: dead.pid, HEARTBEAT: now}), stale_after=60)
    assert not is_abandoned(_frozen({HOST: here, PID: os.getpid(), HEARTBEAT: 0}), 60)
    elsewhere = {HOST: "other-node", PID: 1}
    assert not is_abandoned(_frozen({**elsewhere, HEARTBEAT: now - 30}), stale_after=60)
    assert is_abandoned(_frozen({**elsewhere, HEARTBEAT: now - 90}), stale_after=60)
    assert is_abandoned(_frozen({}, started_ago=90), stale_after=60)  # never stamped
    assert not is_abandoned(_frozen({}, started_ago=5), stale_after=60)


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="no /proc here")
def test_a_killed_worker_waiting_to_be_reaped_is_no_live_process() -> None:
    """s25c H3: a sweep worker killed mid-trial stays a zombie child of the sweep, which
    `os.kill(pid, 0)` takes for alive: its trial was waited for forever."""
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        stat = Path(f"/proc/{zombie.pid}/stat")
        for _ in range(500):  # exited, not yet reaped (no wait() until the end)
            if stat.read_text().rsplit(")", 1)[-1].split()[0] == "Z":
                break
            time.sleep(0.01)
        here = socket.gethostname()
        trial = _frozen({HOST: here, PID: zombie.pid, HEARTBEAT: time.time()})
        assert is_abandoned(trial, stale_after=60)
    finally:
        zombie.wait()


SWEEPS = sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "sweeps").glob("*.yaml"))


def _compose_with_hydra(*overrides: str):  # type: ignore[no-untyped-def]
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from lab.config.paths import conf_dir
    from lab.config.resolvers import register_resolvers

    register_resolvers()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            return compose("train", overrides=list(overrides), return_hydra_config=True)
    finally:
        GlobalHydra.instance().clear()


@pytest.mark.parametrize("sweep", SWEEPS)
def test_every_sweep_file_selects_the_sweeper_and_searches_keys_that_exist(sweep: str) -> None:
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from hydra_plugins.lab_optuna_sweeper.sweeper import _flat_params

    cfg = _compose_with_hydra(f"sweep={sweep}")
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_ == "hydra_plugins.lab_optuna_sweeper.sweeper.LabOptunaSweeper"
    space = parse_search_space(_flat_params(sweeper.params), [])
    assert space.distributions, f"sweeps/{sweep}.yaml searches nothing"
    for key in space.distributions:
        if "." in key:
            assert OmegaConf.select(cfg, key, default="<missing>") != "<missing>", key
    instantiate(sweeper.pruner)
    sampler = OmegaConf.to_container(sweeper.sampler, resolve=True)
    if not str(sampler["_target_"]).endswith("GridSampler"):
        instantiate(sampler)
    metrics = sweeper.metric if OmegaConf.is_list(sweeper.metric) else [sweeper.metric]
    assert all(m.startswith(("val/", "model/")) for m in metrics)


def test_command_line_group_choices_win_over_a_sweep_file() -> None:
    cfg = _compose_with_hydra("sweep=imdb_lr", "model=bert")
    assert cfg.hydra.runtime.choices.model == "bert"
    assert cfg.hydra.runtime.choices.data == "imdb"


def test_an_abandoned_trial_is_rerun_under_its_number_and_resumed_from_its_checkpoint(
    tmp_path: Path,
) -> None:
    import json

    from lab.sweeps.liveness import stamp
    from lab.sweeps.storage import open_storage
    from lab.sweeps.worker import TrialOutcome, open_study, run_worker

    plan = SweepPlan(
        study_name="s",
        storage_url=f"sqlite:///{tmp_path / 'study.db'}",
        sweep_dir=tmp_path,
        metrics=["val/acc"],
        directions=["maximize"],
        n_trials=2,
        space=parse_search_space({"optimizer.lr": "interval(0.001, 0.01)"}, []),
    )
    storage = open_storage(plan.storage_url)
    study = open_study(plan, storage, optuna.samplers.RandomSampler(seed=0), None)
    # A process took trial 0, sampled its lr, wrote a checkpoint, and died.
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan = study.ask()
    lr = suggest(orphan, plan.space)["optimizer.lr"]
    stamp(study_storage(study), trial_id(orphan))
    study_storage(study).set_trial_system_attr(trial_id(orphan), PID, dead.pid)
    run_dir = plan.trial_dir(0)
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "checkpoints" / "last.ckpt").write_bytes(b"x")
    (run_dir / "record.json").write_text(json.dumps({"status": "running"}))

    launched: list[tuple[int, list[str]]] = []

    def launch(number: int, overrides: list[str]) -> TrialOutcome:
        launched.append((number, overrides))
        return TrialOutcome(metrics={"val/acc": 0.5 + number / 10})

    assert run_worker(study, plan, launch) == 2
    assert [n for n, _ in launched] == [0, 1]
    first = launched[0][1]
    assert f"optimizer.lr={lr!r}" in first and f"resume={run_dir}" in first
    assert not any(o.startswith("resume=") for o in launched[1][1])  # a new trial starts fresh
    trials = study.get_trials()
    assert [(t.number, t.value) for t in trials] == [(0, 0.5), (1, 0.6)]
    assert json.loads((tmp_path / "best.json").read_text())["best"]["number"] == 1


CONF = Path(__file__).resolve().parents[1] / "conf" / "hydra" / "sweeper"


@pytest.mark.parametrize("kind", ["sampler", "pruner"])
def test_every_sampler_and_pruner_option_builds(kind: str) -> None:
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    names = sorted(p.stem for p in (CONF / kind).glob("*.yaml"))
    expected = {
        "sampler": ["cmaes", "grid", "nsga2", "qmc", "random", "tpe"],
        "pruner": ["hyperband", "median", "none", "successive_halving"],
    }
    assert names == expected[kind]
    for name in names:
        node = OmegaConf.load(CONF / kind / f"{name}.yaml")
        node.seed = 0 if "seed" in node else None
        config = {k: v for k, v in OmegaConf.to_container(node).items() if v is not None}
        if name == "grid":
            config["search_space"] = parse_search_space({"x": "choice(1, 2)"}, []).grid()
        built = instantiate(config)
        base = optuna.samplers.BaseSampler if kind == "sampler" else optuna.pruners.BasePruner
        assert isinstance(built, base), name


def test_resume_true_needs_an_existing_study(tmp_path: Path) -> None:
    from lab.sweeps.storage import open_storage
    from lab.sweeps.worker import open_study

    plan = _plan(n_trials=1, max_failure_rate=0.0)
    plan.storage_url = f"sqlite:///{tmp_path / 'study.db'}"
    plan.sweep_dir = tmp_path
    plan.resume_required = True
    with pytest.raises(ConfigError, match="resume=true but there is no study 's'"):
        open_study(plan, open_storage(plan.storage_url), None, None)


@pytest.mark.parametrize(
    "lost",
    [
        lambda: IntegrityError("INSERT INTO alembic_version", {}, Exception("UNIQUE")),
        lambda: OperationalError(
            "CREATE TABLE trial_heartbeats", {}, Exception("table trial_heartbeats already exists")
        ),
    ],
    ids=["version_row", "table_exists"],
)
def test_storage_opening_survives_a_schema_race(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lost: Any
) -> None:
    """A reader outside lab's lock (optuna-dashboard, `optuna.load_study`) may create Optuna's
    tables at the same moment as a sweep; the loser sees a duplicate-key error on the version
    row, or SQLite's "table ... already exists" (both seen for real in CI). The sweep retries
    and opens the storage the other one made."""
    from lab.sweeps import storage

    real = optuna.storages.RDBStorage
    calls = []

    class Racing(real):  # type: ignore[misc,valid-type]
        def __init__(self, url: str, **kwargs: object) -> None:
            calls.append(url)
            if len(calls) == 1:
                real(url, **kwargs)  # the other process creates the schema first...
                raise lost()
            super().__init__(url, **kwargs)

    monkeypatch.setattr(optuna.storages, "RDBStorage", Racing)
    url = f"sqlite:///{tmp_path / 'study.db'}"
    opened = storage.open_storage(url)
    assert len(calls) == 2
    optuna.create_study(study_name="s", storage=opened)
    assert [s.study_name for s in optuna.get_all_study_summaries(opened)] == ["s"]


def test_a_locked_database_is_not_taken_for_a_schema_race(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another OperationalError (a locked or unreadable database) is said at once, not
    retried as a race."""
    from lab.sweeps import storage

    calls = []

    def locked(url: str, **kwargs: object) -> None:
        calls.append(url)
        raise OperationalError("SELECT", {}, Exception("database is locked"))

    monkeypatch.setattr(optuna.storages, "RDBStorage", locked)
    with pytest.raises(ConfigError, match=r"cannot open the study storage .*database is locked"):
        storage.open_storage(f"sqlite:///{tmp_path / 'study.db'}")
    assert len(calls) == 1


@pytest.mark.parametrize("where", ["proc", "through_a_file"])
def test_a_storage_whose_lock_cannot_be_written_is_refused_not_waited_on(
    where: str, tmp_path: Path
) -> None:
    """`filelock` took a refused lock file for one held elsewhere and waited for ever."""
    from lab.errors import ConfigError
    from lab.sweeps.storage import open_storage

    (tmp_path / "notes.txt").write_text("a file")
    folder = "/proc" if where == "proc" else f"{tmp_path}/notes.txt"
    with pytest.raises(ConfigError) as caught:
        open_storage(f"sqlite:///{folder}/x.db")
    message = str(caught.value)
    assert message.startswith(f"cannot write the study's lock file {folder}/x.db.")
    if where == "through_a_file":
        assert f"{tmp_path}/notes.txt is a file, not a folder" in message
    assert "in a folder you can write" in message


def test_a_new_study_refuses_a_sweep_directory_holding_another_studys_trials(
    tmp_path: Path,
) -> None:
    """The same study_name in another storage used to write its trials over the first
    study's runs (trials/0 retrained, trials.csv and best.json rewritten)."""
    from lab.sweeps.storage import open_storage
    from lab.sweeps.worker import open_study

    (tmp_path / "trials" / "0").mkdir(parents=True)
    (tmp_path / "trials" / "0" / "metrics.json").write_text('{"val/acc": 0.9}')
    plan = _plan(n_trials=1, max_failure_rate=0.0)
    plan.storage_url = f"sqlite:///{tmp_path / 'other.db'}"
    plan.sweep_dir = tmp_path
    with pytest.raises(ConfigError) as caught:
        open_study(plan, open_storage(plan.storage_url), None, None)
    assert str(caught.value).startswith(f"{tmp_path / 'trials'} holds the trials of another study")
    assert (tmp_path / "trials" / "0" / "metrics.json").read_text() == '{"val/acc": 0.9}'
    # An empty trials folder (a sweep stopped before its first trial) is no other study's.
    (tmp_path / "trials" / "0" / "metrics.json").unlink()
    (tmp_path / "trials" / "0").rmdir()
    assert open_study(plan, open_storage(plan.storage_url), None, None).study_name == "s"


def test_an_unreachable_database_is_one_line() -> None:
    """psycopg's message runs to three lines (a hint, SQLAlchemy's link); `postgres://` was
    SQLAlchemy's "Can't load plugin" with no word of the right scheme."""
    pytest.importorskip("psycopg")
    from lab.errors import ConfigError
    from lab.sweeps.storage import open_storage

    with pytest.raises(ConfigError) as caught:
        open_storage("postgresql://user:secret@127.0.0.1:1/db")
    (line,) = str(caught.value).splitlines()
    assert line.startswith("cannot open the study storage postgresql://user:***@127.0.0.1:1/db: ")
    assert "secret" not in line
    with pytest.raises(ConfigError) as caught:
        open_storage("postgres://user@127.0.0.1:1/db")
    assert str(caught.value).endswith("the scheme is postgresql://, not postgres://")
