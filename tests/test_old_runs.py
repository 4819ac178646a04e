"""Runs recorded by an older lab, read by this one: eval, export, predict, resume, reproduce and
sweeps say which code recorded them (`lab.run_dir.code_version`), and read their config with
today's names and lab's own added keys (`lab.run_dir.config_upgrade`).

An "old" run is built from a current tiny run the way an older lab wrote it: its config.yaml
naming the code by its old import paths and lacking the keys lab added since, its record.json
naming another commit. No old commit is checked out. Nothing in an old run's directory changes.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.errors import LabError
from lab.run_dir import code_version
from lab.run_dir.code_version import CodeVersion
from lab.run_dir.config_upgrade import (
    ADDED_SETTINGS,
    RENAMED_TARGETS,
    chosen_keys,
    locates,
    rename_targets,
    unknown_targets,
    with_added_keys,
)

from conftest import SENTIMENT, TINY_FIXTURE_RUN

ROOT = Path(__file__).resolve().parent.parent
OLD = "0123456789abcdef0123456789abcdef01234567"  # the commit an "old" run names
NOW = "fedcba9876543210fedcba9876543210fedcba98"  # this lab's commit, in these tests
# Keys of today's tiny run that an older lab did not write (lab's own additions).
ADDED_KEYS = (
    "data.pin_memory",
    "data.pad_to_multiple_of",
    "task.predictor",
    "task.peft_modules_to_save",
    "trainer.gradient_clip_algorithm",
    "data.split_seed",
)
# Names older labs wrote that still import, through the package a head became (found as
# RENAMED_TARGETS was, from every commit's config tree): no table entry, the same objects.
REEXPORTED = {
    "lab.tasks.masked_lm.FillMaskPredictor": "lab.tasks.masked_lm.predictor.FillMaskPredictor",
    "lab.tasks.masked_lm.MaskedLMDataModule": "lab.tasks.masked_lm.data.MaskedLMDataModule",
    "lab.tasks.masked_lm.MaskedLMModule": "lab.tasks.masked_lm.module.MaskedLMModule",
    "lab.tasks.question_answering.QuestionAnsweringDataModule": (
        "lab.tasks.question_answering.data.QuestionAnsweringDataModule"
    ),
    "lab.tasks.question_answering.QuestionAnsweringModule": (
        "lab.tasks.question_answering.module.QuestionAnsweringModule"
    ),
    "lab.tasks.text_classification.SequenceClassificationPredictor": (
        "lab.tasks.text_classification.predictor.SequenceClassificationPredictor"
    ),
    "lab.tasks.text_classification.TextClassificationDataModule": (
        "lab.tasks.text_classification.data.TextClassificationDataModule"
    ),
    "lab.tasks.text_classification.TextClassificationModule": (
        "lab.tasks.text_classification.module.TextClassificationModule"
    ),
    "lab.tasks.text_classification.plot_confusion_matrix": (
        "lab.tasks.text_classification.module.plot_confusion_matrix"
    ),
    "lab.tasks.token_classification.TokenClassificationPredictor": (
        "lab.tasks.token_predictor.TokenClassificationPredictor"
    ),
}
OLD_NAMES = {new: old for old, new in [*RENAMED_TARGETS.items(), *REEXPORTED.items()]}


@pytest.fixture(autouse=True)
def this_lab(monkeypatch: pytest.MonkeyPatch) -> None:
    """This lab is commit NOW; OLD was made on 2026-12-01 (no git asked: the same lines
    wherever the tests run)."""
    monkeypatch.setattr(code_version, "running_code", lambda: CodeVersion(NOW, "0.1.0"))
    monkeypatch.setattr(code_version, "commit_date", lambda commit: "2026-12-01")


def _root() -> Path:
    from lab.config.paths import checkout_root

    root = checkout_root()
    assert root is not None, "the tests run from a clone"
    return root


def old_note(patched: Path | None = None) -> str:
    """The line every tool says for a run recorded by OLD (`patched`: the run directory of
    one with uncommitted changes in its code.patch)."""
    dirty = ", with uncommitted changes in code.patch" if patched else ""
    apply = f" && git -C /tmp/lab-0123456 apply {patched / 'code.patch'}" if patched else ""
    return (
        f"this run was recorded by lab 0123456 (2026-12-01{dirty}); this lab is fedcba9: to use "
        f"that code: git -C {_root()} worktree add /tmp/lab-0123456 0123456{apply}, then run "
        "lab with PYTHONPATH=/tmp/lab-0123456/src"
    )


def _drop(config: dict[str, Any], dotted: str) -> None:
    *above, last = dotted.split(".")
    for key in above:
        config = config[key]
    config.pop(last, None)


def as_old_config(config: dict[str, Any]) -> dict[str, Any]:
    """`config` (a resolved config) as an older lab wrote it: old target names, no added keys."""
    old = copy.deepcopy(config)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("_target_") in OLD_NAMES:
                node["_target_"] = OLD_NAMES[node["_target_"]]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(old)
    for key in ADDED_KEYS:
        _drop(old, key)
    return old


def write_old_run(
    target: Path, config: dict[str, Any], record: dict[str, Any], commit: str = OLD
) -> Path:
    """Write `config` as an older lab's config.yaml and `record` naming `commit`."""
    target.mkdir(parents=True, exist_ok=True)
    (target / "config.yaml").write_text(yaml.safe_dump(as_old_config(config), sort_keys=False))
    record = {**record, "code": {"git": {"commit": commit, "dirty": False, "untracked": []}}}
    (target / "record.json").write_text(json.dumps(record))
    return target


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


# --------------------------------------------------------------------------- the rename table
def _conf_text() -> str:
    return "\n".join(
        p.read_text()
        for name in ("conf", "experiments", "sweeps")
        for p in (ROOT / name).rglob("*.yaml")
    )


def test_every_renamed_target_is_the_same_code_under_its_new_name() -> None:
    """Each new name imports; each old name is gone from the config tree and no longer imports
    (what still imports needs no entry); a re-exported old name is its new name's object."""
    from hydra.utils import get_object

    conf = _conf_text()
    for old, new in [*RENAMED_TARGETS.items(), *REEXPORTED.items()]:
        assert locates(new), new
        assert re.search(rf"\b{re.escape(new)}\b", conf), f"{new} is not today's name"
        assert not re.search(rf"\b{re.escape(old)}\b", conf), f"{old} is still in the config tree"
    for old in RENAMED_TARGETS:
        assert not locates(old), f"{old} still imports: no entry needed"
    for old, new in REEXPORTED.items():
        assert get_object(old) is get_object(new), old


def test_a_reexported_name_is_read_as_todays_against_this_labs_config() -> None:
    from lab.run_dir.config_upgrade import same_code_names

    module = "lab.tasks.text_classification.module.TextClassificationModule"
    recorded = {
        "task": {"module": {"_target_": "lab.tasks.text_classification.TextClassificationModule"}},
        "callbacks": {"c": {"_target_": "lightning.pytorch.callbacks.ModelCheckpoint"}},
    }
    lab = {
        "task": {"module": {"_target_": module}},
        "callbacks": {"c": {"_target_": "lab.training.periodic_checkpoint.PeriodicLastCheckpoint"}},
    }
    assert same_code_names(recorded, lab) == ["task.module._target_"]
    assert recorded["task"]["module"]["_target_"] == module
    assert recorded["callbacks"]["c"]["_target_"].startswith("lightning"), "a replacement stays"


def test_every_lab_target_of_todays_configs_is_found() -> None:
    """The check that refuses an old run's unknown code finds all of today's lab code."""
    names = set(re.findall(r"_target_:\s*(lab\.[\w.]+)", _conf_text()))
    assert names and all(locates(name) for name in names), [n for n in names if not locates(n)]
    assert not locates("lab.optim.adamw") and not locates("lab.training.optim.no_such_thing")


def test_a_config_gets_todays_names_and_keeps_everything_else() -> None:
    config: dict[str, Any] = {
        "optimizer": {"_target_": "lab.optim.adamw", "lr": 1e-3},
        "callbacks": {"bar": {"_target_": "lab.progress.ProgressBar"}},
        "model": {"network": {"_target_": "lab.models.head_from_config", "config": {"x": 1}}},
        "logger": {"csv": {"_target_": "lightning.pytorch.loggers.CSVLogger"}},
    }
    assert rename_targets(config) == [
        "optimizer._target_",
        "callbacks.bar._target_",
        "model.network._target_",
    ]
    assert config["optimizer"] == {"_target_": "lab.training.optim.adamw", "lr": 1e-3}
    assert config["model"]["network"]["config"] == {"x": 1}
    assert config["logger"]["csv"]["_target_"] == "lightning.pytorch.loggers.CSVLogger"
    assert rename_targets(config) == [], "today's names stay"


def test_unknown_lab_targets_are_named_outside_what_only_training_builds() -> None:
    config = {
        "model": {"network": {"_target_": "lab.models.gone_head"}},
        "callbacks": {"x": {"_target_": "lab.gone.Callback"}},
        "data": {"_target_": "some_package.DataModule"},  # not lab's to judge
    }
    assert unknown_targets(config) == [("model.network._target_", "lab.models.gone_head")]
    assert len(unknown_targets(config, skip=())) == 2


def test_added_keys_come_from_this_lab_but_the_chosen_and_the_added_settings() -> None:
    recorded = {"data": {"path": "d", "seed": 1}, "task": {"head": "h"}}
    lab = {
        "data": {"path": "other", "seed": 2, "pin_memory": "auto", "split_seed": 42, "x": 1},
        "task": {"head": "g", "predictor": {"_target_": "p", "_partial_": True}},
    }
    chosen = chosen_keys(["model=tiny_bert", "data.x=5", "resume=/r"])
    assert with_added_keys(recorded, lab, chosen) == ["data.pin_memory", "task.predictor"]
    assert recorded == {
        "data": {"path": "d", "seed": 1, "pin_memory": "auto"},  # split_seed: absent does it
        "task": {"head": "h", "predictor": {"_target_": "p", "_partial_": True}},
    }
    assert "data.split_seed" in ADDED_SETTINGS


def test_this_labs_config_for_a_recorded_command(tmp_path: Path) -> None:
    """What the added keys are taken from: this lab's config for the run's command, composed
    without making it the command of what runs next; None where it no longer composes."""
    from hydra.core.hydra_config import HydraConfig

    from lab.run_dir.config_upgrade import lab_config_for

    before = HydraConfig.instance().cfg
    config = lab_config_for({"overrides": [*TINY_FIXTURE_RUN, "resume=x"]}, str(tmp_path))
    assert config is not None and config["data"]["pin_memory"] == "auto"
    assert config["paths"]["output_dir"] == str(tmp_path)
    assert HydraConfig.instance().cfg is before
    assert lab_config_for({"overrides": ["model=gone_since"]}, str(tmp_path)) is None


# ------------------------------------------------------------------------------ the code line
def test_the_code_line_names_both_labs_and_how_to_use_the_old_one(tmp_path: Path) -> None:
    from lab.run_dir.code_version import other_code_note

    clean = {"code": {"git": {"commit": OLD, "dirty": False}}}
    assert other_code_note(clean, tmp_path) == old_note()
    (tmp_path / "code.patch").write_text("diff\n")
    dirty = {"code": {"git": {"commit": OLD, "dirty": True}, "patch": "code.patch"}}
    assert other_code_note(dirty, tmp_path) == old_note(tmp_path)
    assert other_code_note({"code": {"git": {"commit": NOW, "dirty": True}}}, tmp_path) is None
    wheel = {"code": {"git": None}, "lab_version": "0.0.9"}
    assert other_code_note(wheel) is None, "a clone and a wheel: not known to differ"


def test_the_code_line_of_a_run_resumed_by_other_code_says_which_code_trained_what(
    tmp_path: Path,
) -> None:
    """s25b L5: a run started by one code and resumed by another; the first line named the
    first code only, and its advice ("to use that code") read as if one code trained it all."""
    from lab.run_dir.code_version import other_code_note

    third = "ab" * 20
    resumed = {
        "code": {"git": {"commit": OLD, "dirty": False}},
        "resumes": [
            {"from_step": 548, "code": {"git": {"commit": third}}},
            {"from_step": 600, "code": {"git": {"commit": OLD}}},  # the first code again
        ],
    }
    assert other_code_note(resumed, tmp_path) == (
        "this run was recorded by lab 0123456 (2026-12-01), resumed from step 548 by lab "
        "abababa and from step 600 by lab 0123456; this lab is fedcba9: to use the code that "
        f"started it: git -C {_root()} worktree add /tmp/lab-0123456 0123456, then run lab "
        "with PYTHONPATH=/tmp/lab-0123456/src"
    )
    resumed["resumes"] = resumed["resumes"][1:]  # resumed by its own code: nothing more said
    assert other_code_note(resumed, tmp_path) == old_note()


def test_a_continued_study_names_the_code_its_trials_ran_with(tmp_path: Path) -> None:
    from lab.run_dir.code_version import other_code_trials

    for number, commit in ((0, OLD), (1, OLD), (2, NOW)):
        folder = tmp_path / "trials" / str(number)
        folder.mkdir(parents=True)
        (folder / "record.json").write_text(json.dumps({"code": {"git": {"commit": commit}}}))
    assert other_code_trials(tmp_path / "trials") == (
        "this study's trials 0, 1 ran with lab 0123456 (2026-12-01); this lab is fedcba9: the "
        "results of other lab code may not compare with this lab's (scoring and training may "
        f"differ); to continue the study with that code: git -C {_root()} worktree add "
        "/tmp/lab-0123456 0123456, then run lab with PYTHONPATH=/tmp/lab-0123456/src"
    )
    shutil.rmtree(tmp_path / "trials" / "0")
    shutil.rmtree(tmp_path / "trials" / "1")
    assert other_code_trials(tmp_path / "trials") is None


def test_eval_notes_other_scoring_under_the_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A metric of a run of other code that differs from the recorded one: the note says this
    lab's code computed it, and names the code that recorded it; equal metrics need none."""
    from omegaconf import OmegaConf

    from lab.eval_table import print_metrics
    from lab.run_dir.runs import TrainedRun

    record = {"code": {"git": {"commit": OLD, "dirty": False}}, "metrics": {}}
    run = TrainedRun(tmp_path, OmegaConf.create({"task": {"head": "h"}}), record)
    recorded = {"test/f1": 0.1053, "test/loss": 2.2091}
    print_metrics({"test/f1": 0.1034, "test/loss": 2.2091}, recorded, True, tmp_path, run=run)
    out = capsys.readouterr().out
    assert "at train time*" in out
    assert f"* test/f1: computed by this lab's code, which may score it otherwise than the " \
        f"code that recorded it; {old_note()}\n" in out  # fmt: skip
    print_metrics({"test/f1": 0.1053, "test/loss": 2.2091}, recorded, True, tmp_path, run=run)
    assert "*" not in capsys.readouterr().out


def test_a_build_error_of_an_old_run_is_one_line(tmp_path: Path) -> None:
    from hydra.errors import InstantiationException
    from omegaconf import OmegaConf

    from lab.run_dir.runs import TrainedRun, building

    record = {"code": {"git": {"commit": OLD, "dirty": False}}}
    run = TrainedRun(tmp_path, OmegaConf.create({"task": {"head": "h"}}), record)
    error = InstantiationException(
        "Error in call to target 'lab.x.Y':\nTypeError(\"unexpected keyword 'old_knob'\")\n"
        "full_key: data"
    )
    with pytest.raises(LabError) as caught, building(run):
        raise error
    assert str(caught.value) == (
        f"{tmp_path}: this lab cannot build its config: Error in call to target 'lab.x.Y': "
        f"TypeError(\"unexpected keyword 'old_knob'\") (full_key: data); {old_note()}"
    )
    with pytest.raises(InstantiationException), building(TrainedRun(tmp_path, run.config, {})):
        raise error  # this lab's own run: a bug, with its traceback


# ------------------------------------------------------------------------- resume (no training)
def _interrupted_old_run(
    compose_cfg: Any, tmp_path: Path, commit: str = OLD, **changed: Any
) -> tuple[Path, dict[str, Any]]:
    from omegaconf import OmegaConf

    run_dir = tmp_path / "old-run"
    config: dict[str, Any] = OmegaConf.to_container(  # type: ignore[assignment]
        compose_cfg(*TINY_FIXTURE_RUN, output_dir=run_dir), resolve=True
    )
    for key, value in changed.items():
        node = config
        *above, last = key.split("__")
        for name in above:
            node = node[name]
        node[last] = value
    record = {"status": "interrupted (SIGTERM)", "overrides": TINY_FIXTURE_RUN}
    write_old_run(run_dir, config, record, commit)
    return run_dir, snapshot(run_dir)


def test_an_old_run_resumes_judged_on_what_the_user_chose(compose_cfg: Any, tmp_path: Path) -> None:
    """Old target names and lab's added keys are no difference: the resume gets as far as
    the run's checkpoint (this one wrote none)."""
    from lab.run_dir.resume import prepare_resume

    run_dir, before = _interrupted_old_run(compose_cfg, tmp_path)
    cfg = compose_cfg(*TINY_FIXTURE_RUN, f"resume={run_dir}", output_dir=run_dir)
    with pytest.raises(LabError) as caught:
        prepare_resume(run_dir, cfg)
    assert str(caught.value) == (
        f"cannot resume {run_dir}: it was interrupted before writing a checkpoint "
        "(checkpoints/last.ckpt); start the run again without resume="
    )
    assert snapshot(run_dir) == before


def test_an_old_run_that_this_lab_builds_otherwise_names_its_code(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """A default lab changed since (a class that replaced another) stays a difference; the
    way out is the run's own code, not the command just run."""
    from lab.run_dir.resume import prepare_resume

    replaced = {"_target_": "lightning.pytorch.callbacks.ModelCheckpoint", "save_last": True}
    run_dir, before = _interrupted_old_run(
        compose_cfg, tmp_path, callbacks__last_checkpoint=replaced
    )
    cfg = compose_cfg(*TINY_FIXTURE_RUN, f"resume={run_dir}", output_dir=run_dir)
    with pytest.raises(LabError) as caught:
        prepare_resume(run_dir, cfg)
    lines = str(caught.value).splitlines()
    assert lines[0] == (
        f"cannot resume {run_dir}: this lab builds another config from the command it ran with:"
    )
    assert lines[1] == (
        "  callbacks.last_checkpoint._target_: 'lightning.pytorch.callbacks.ModelCheckpoint' "
        "-> 'lab.training.periodic_checkpoint.PeriodicLastCheckpoint'"
    )
    assert lines[-1] == old_note()
    assert "python -m lab.train" not in str(caught.value), "no advice to run it again"
    assert snapshot(run_dir) == before


def test_a_key_the_resuming_command_sets_is_the_users_difference(
    compose_cfg: Any, tmp_path: Path
) -> None:
    from lab.run_dir.resume import prepare_resume

    run_dir, _ = _interrupted_old_run(compose_cfg, tmp_path)
    given = [*TINY_FIXTURE_RUN, "data.pin_memory=false"]
    cfg = compose_cfg(*given, f"resume={run_dir}", output_dir=run_dir)
    with pytest.raises(LabError) as caught:
        prepare_resume(run_dir, cfg)
    lines = str(caught.value).splitlines()
    assert lines[1:] == [
        "  data.pin_memory: '<absent>' -> False",
        old_note(),
        "resume it with the overrides it ran with: python -m lab.train "
        + " ".join(TINY_FIXTURE_RUN)
        + f" resume={run_dir}",
    ]


def test_keys_missing_under_this_code_are_differences_without_circular_advice(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """The same commit: lab added nothing, so a key the record lacks is a change of config
    files; running the same command again would only be refused again."""
    from lab.run_dir.resume import prepare_resume

    run_dir, _ = _interrupted_old_run(compose_cfg, tmp_path, commit=NOW)
    cfg = compose_cfg(*TINY_FIXTURE_RUN, f"resume={run_dir}", output_dir=run_dir)
    with pytest.raises(LabError) as caught:
        prepare_resume(run_dir, cfg)
    message = str(caught.value)
    assert message.startswith(
        f"cannot resume {run_dir}: the command it ran with builds another config now:\n"
    )
    assert "  data.pin_memory: '<absent>' -> 'auto'" in message.splitlines()
    assert "optimizer._target_" not in message, "a rename is never a difference"
    assert message.splitlines()[-1] == (
        "the config files it composes (conf/, experiments/, your --config-dir folders) changed "
        "since it ran: restore them to resume it, or start a new run"
    )


# ------------------------------------------------------------------ tools on a trained old run
@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny sentiment classifier of this lab (best checkpoint exported)."""
    from lab.config import compose_train_config
    from lab.train import run

    out = tmp_path_factory.mktemp("trained") / "run"
    run(compose_train_config([*TINY_FIXTURE_RUN, "trainer.max_epochs=1"], output_dir=out))
    return out


def old_copy(trained: Path, target: Path) -> Path:
    """`trained` copied to `target` as an older lab (commit OLD) would have written it."""
    shutil.copytree(trained, target)
    config = yaml.safe_load((trained / "config.yaml").read_text())
    config = json.loads(json.dumps(config).replace(str(trained), str(target)))
    record = json.loads((trained / "record.json").read_text())
    write_old_run(target, config, record)
    return target


@pytest.mark.slow
def test_eval_export_and_predict_read_an_old_run(trained: Path, tmp_path: Path) -> None:
    from lab.eval import main as evaluate
    from lab.export import main as export

    old = old_copy(trained, tmp_path / "old")
    before = snapshot(old)
    result = tmp_path / "ev.json"
    assert evaluate([f"run={old}", f"output={result}"]) == 0
    metrics = json.loads(result.read_text())["metrics"]
    recorded = json.loads((old / "record.json").read_text())["metrics"]
    tested = {k: v for k, v in recorded.items() if k.startswith("test/")}
    assert tested and set(tested) <= set(metrics)
    for name, value in tested.items():
        assert metrics[name] == pytest.approx(value, abs=1e-6), name
    assert export([f"run={old}", "checkpoint=last", f"output={tmp_path / 'exported'}"]) == 0
    assert (tmp_path / "exported" / "config.json").is_file()
    assert snapshot(old) == before, "the old run's files are as they were"

    (old / "config.yaml").write_text(
        (old / "config.yaml").read_text().replace("lab.models.head_from_config", "lab.models.x")
    )
    with pytest.raises(LabError) as caught:
        evaluate([f"run={old}", f"output={result}"])
    assert str(caught.value) == (
        f"{old}: its config.yaml names code this lab does not have: lab.models.x "
        f"(model.network._target_); {old_note()}"
    )


@pytest.mark.slow
def test_predict_refuses_an_old_run_without_a_predictor_naming_its_code(
    trained: Path, tmp_path: Path
) -> None:
    """A run from before heads declared their predictor: the way out is its own code, not an
    edit of its config.yaml (which resume and reproduce compare against)."""
    from lab.predict import main as predict

    old = old_copy(trained, tmp_path / "old")
    before = snapshot(old)
    output = tmp_path / "p.jsonl"
    with pytest.raises(LabError) as caught:
        predict([f"run={old}", f"input={SENTIMENT / 'test.csv'}", f"output={output}"])
    assert str(caught.value) == (
        f"{old}: a run of an older lab, its config.yaml has no task.predictor; {old_note()}"
    )
    assert snapshot(old) == before and not output.exists()


@pytest.mark.slow
def test_reproduce_an_old_run_says_its_code_first(
    trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The code line before anything else; the run reproduced with this lab's keys added
    (data.pin_memory of this lab, not refused as null); a reproduction refused before it
    read its data names no folder, and leaves none."""
    from lab.reproduce import main as reproduce

    old = old_copy(trained, tmp_path / "old")
    before = snapshot(old)
    with pytest.raises(SystemExit) as ended:
        reproduce([str(old)])
    out = capsys.readouterr().out
    assert ended.value.code == 0, out
    assert out.splitlines()[0] == f"warning: {old_note()}"
    kept = {k: v for k, v in snapshot(old).items() if not k.startswith("reproductions/")}
    assert kept == before

    bad = old_copy(trained, tmp_path / "bad")
    data = tmp_path / "data"
    data.mkdir()
    for name in ("train", "validation", "test"):  # there, but refused once read: no rows
        (data / f"{name}.csv").write_text("review,sentiment\n")
    config = (bad / "config.yaml").read_text().replace(str(SENTIMENT), str(data))
    (bad / "config.yaml").write_text(config)
    with pytest.raises(SystemExit) as ended:
        reproduce([str(bad)])
    captured = capsys.readouterr()
    assert ended.value.code == 2
    assert captured.out.splitlines()[0] == f"warning: {old_note()}"
    assert captured.err.strip().splitlines()[-1].endswith("has no rows"), captured.err
    assert "Run directory:" not in captured.out + captured.err
    assert not (bad / "reproductions").exists()
