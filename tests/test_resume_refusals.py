"""A refused `resume=` says why in one line, exits 2, and leaves every file of the run as it was.

Refused before anything is written: a path that does not exist, is a file or is no run
(refused while Hydra resolves the run directory, so nothing is created there); a record.json
or config.yaml that cannot be read; a `last.ckpt` that is a folder or lacks the optimizer or
scheduler state; a `last.ckpt` whose weights do not fit the run's model (another head or
size, a key missing or extra), found once the model is built but before the CSV log is cut
back, the record rewritten, or a line added to train.log. One run is trained once (in
process) and copied for each case.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from lab.config import compose_train_config
from lab.errors import LabError
from lab.run_dir.held_log import HeldFileLog
from lab.train import run
from lab.training.state_dict_errors import describe_load_error

from conftest import SENTIMENT, TINY_FIXTURE_RUN, lab_cli

# 56 train rows / batch 16 = 4 steps; best-*.ckpt after the epoch, last.ckpt every 2 steps.
RUN = [
    *TINY_FIXTURE_RUN,
    "trainer.max_epochs=1",
    "callbacks.last_checkpoint.every_n_train_steps=2",
    "paths.output_root=out",
]
CLASSIFIER = "model.classifier.weight"


def _hashes(run_dir: Path) -> dict[str, str]:
    """sha256 of every file of the run but Hydra's record of each attempt (.hydra/resume-*)."""
    hashes = {}
    for path in sorted(run_dir.rglob("*")):
        parts = path.relative_to(run_dir).parts
        if path.is_file() and not (parts[0] == ".hydra" and parts[1].startswith("resume-")):
            hashes["/".join(parts)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished tiny run of the command line (its last.ckpt at step 4, a best checkpoint
    beside it, Hydra's .hydra/ and train.log)."""
    cwd = tmp_path_factory.mktemp("trained")
    result = lab_cli("train", *RUN, cwd=cwd)
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = (cwd / "out").glob("runs/*/*")
    return run_dir


@pytest.fixture
def interrupted(trained: Path, tmp_path: Path) -> Path:
    """A copy of the trained run that says it was interrupted: a run to resume."""
    run_dir = tmp_path / "run"
    shutil.copytree(trained, run_dir)
    record = json.loads((run_dir / "record.json").read_text())
    record["status"] = f"interrupted (SIGTERM); continue with resume={run_dir}"
    for key in ("finished", "metrics"):
        record.pop(key, None)
    (run_dir / "record.json").write_text(json.dumps(record))
    config = (run_dir / "config.yaml").read_text().replace(str(trained), str(run_dir))
    (run_dir / "config.yaml").write_text(config)
    return run_dir


def _resume(run_dir: Path, *overrides: str) -> None:
    run(compose_train_config([*RUN, *overrides, f"resume={run_dir}"], output_dir=run_dir))


def _edit_checkpoint(run_dir: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    path = run_dir / "checkpoints" / "last.ckpt"
    checkpoint = torch.load(path, weights_only=False)
    edit(checkpoint)
    torch.save(checkpoint, path)


def _other_head(checkpoint: dict[str, Any]) -> None:
    """The classifier of a regression head (one output), as a checkpoint of another run has."""
    state = checkpoint["state_dict"]
    state[CLASSIFIER] = torch.zeros(1, state[CLASSIFIER].shape[1])
    state["model.classifier.bias"] = torch.zeros(1)
    checkpoint["global_step"] = 1  # an earlier step: the CSV log would have been cut to it


# ----------------------------------------------------------------------------- the weights
@pytest.mark.slow
def test_a_checkpoint_of_another_head_is_refused_in_one_line_before_anything_is_written(
    interrupted: Path, tmp_path: Path
) -> None:
    """The command line end to end: exit 2, one line naming the keys that do not fit; the
    metrics.csv rows, config, hparams, record and train.log all as they were."""
    _edit_checkpoint(interrupted, _other_head)
    (interrupted / "train.log").write_text("the run's own log\n")
    before = _hashes(interrupted)
    refused = lab_cli("train", *RUN, f"resume={interrupted}", cwd=tmp_path)
    assert refused.returncode == 2, refused.stderr[-3000:]
    assert "Traceback" not in refused.stderr
    last = refused.stderr.strip().splitlines()[-1]
    assert last.startswith(
        f"error: cannot resume {interrupted}: checkpoint {interrupted}/checkpoints/last.ckpt "
        f"(step 1) does not fit this run's model: size mismatch for {CLASSIFIER}: [1, 32] in "
        "the checkpoint, [2, 32] in the model; model.classifier.bias: [1] in the checkpoint, "
        "[2] in the model. "
    ), last
    # The way out names the intact best checkpoint beside it.
    (best,) = (interrupted / "checkpoints").glob("best-*.ckpt")
    assert f"or copy checkpoints/{best.name} (step 4) to checkpoints/last.ckpt" in last
    assert _hashes(interrupted) == before
    assert len(list((interrupted / ".hydra").glob("resume-*"))) == 1  # Hydra's, as ever
    # No model line saying the weights are the checkpoint's before it is refused (s33d F4).
    assert "every weight from the resumed checkpoint" not in refused.stdout + refused.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (lambda c: c["state_dict"].pop(CLASSIFIER), f"missing from the checkpoint: {CLASSIFIER}"),
        (
            lambda c: c["state_dict"].update({"model.extra.weight": torch.zeros(2)}),
            "not in the model: model.extra.weight",
        ),
    ],
    ids=["missing-key", "extra-key"],
)
def test_a_checkpoint_whose_keys_do_not_fit_is_refused_leaving_the_run_as_it_was(
    interrupted: Path, edit: Callable[[dict[str, Any]], None], says: str
) -> None:
    _edit_checkpoint(interrupted, edit)
    before = _hashes(interrupted)
    with pytest.raises(LabError) as caught:
        _resume(interrupted)
    assert f"does not fit this run's model: {says}. " in str(caught.value)
    assert "\n" not in str(caught.value)
    assert _hashes(interrupted) == before


# ----------------------------------------------------------------------------- read first
def _no_optimizer_state(checkpoint: dict[str, Any]) -> None:
    del checkpoint["optimizer_states"]


def _no_scheduler_state(checkpoint: dict[str, Any]) -> None:
    del checkpoint["lr_schedulers"]


def _folder_for_checkpoint(run_dir: Path) -> None:
    (run_dir / "checkpoints" / "last.ckpt").unlink()
    (run_dir / "checkpoints" / "last.ckpt").mkdir()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (
            lambda d: _edit_checkpoint(d, _no_optimizer_state),
            "checkpoints/last.ckpt lacks the optimizer's state (a weights-only save?), which an "
            "exact resume restores; restore it from a copy to continue, or copy checkpoints/best-",
        ),
        (
            lambda d: _edit_checkpoint(d, _no_scheduler_state),
            "checkpoints/last.ckpt lacks the learning-rate schedulers' state, which an exact",
        ),
        (
            _folder_for_checkpoint,
            "checkpoints/last.ckpt is a folder, not a checkpoint file; restore",
        ),
        (
            lambda d: (d / "record.json").write_text("{trunc"),
            "record.json cannot be read (Expecting property name enclosed in double quotes",
        ),
        (
            lambda d: (d / "record.json").write_text("[]"),
            "its record.json holds no run record (a JSON list)",
        ),
        (
            lambda d: (d / "config.yaml").write_text("a: [unclosed\n"),
            "its config.yaml cannot be read (",
        ),
    ],
    ids=["no-optimizer-state", "no-scheduler-state", "folder", "record", "record-list", "config"],
)
def test_a_run_whose_files_cannot_be_resumed_is_refused_in_one_line(
    interrupted: Path, damage: Callable[[Path], Any], says: str
) -> None:
    damage(interrupted)
    before = _hashes(interrupted)
    with pytest.raises(LabError) as caught:
        _resume(interrupted)
    assert says in str(caught.value)
    assert "\n" not in str(caught.value)
    assert _hashes(interrupted) == before


@pytest.mark.slow
def test_an_accepted_resume_writes_its_record_and_keeps_the_log(interrupted: Path) -> None:
    """The checks pass: the resume is written (the record notes it and ends `finished`), and
    the CSV rows up to the checkpoint's step stay."""
    rows = (interrupted / "csv" / "metrics.csv").read_text().splitlines()
    _resume(interrupted)
    record = json.loads((interrupted / "record.json").read_text())
    assert record["status"] == "finished"
    assert [r["from_step"] for r in record["resumes"]] == [4]
    assert (interrupted / "csv" / "metrics.csv").read_text().splitlines()[: len(rows)] == rows


@pytest.mark.slow
def test_a_resume_reads_the_same_data_from_another_place_but_not_other_data(
    interrupted: Path, tmp_path: Path
) -> None:
    """s22b M1: a run copied to another machine, its data elsewhere: `data.path` is where the
    data is read from, and the resume compares what is read (each split's fingerprint), so
    the same rows at another path resume; other rows there are refused, the run as it was."""
    elsewhere, other = tmp_path / "moved", tmp_path / "other"
    shutil.copytree(SENTIMENT, elsewhere)
    shutil.copytree(SENTIMENT, other)
    train = other / "train.csv"
    train.write_text(train.read_text().replace("positive", "POSITIVE", 1))
    before = _hashes(interrupted)
    with pytest.raises(LabError) as caught:
        _resume(interrupted, f"data.path={other}")
    assert str(caught.value).startswith(
        f"cannot resume {interrupted}: its data differs from what it trained on: train (sha256"
    )
    assert _hashes(interrupted) == before
    _resume(interrupted, f"data.path={elsewhere}")
    assert json.loads((interrupted / "record.json").read_text())["status"] == "finished"


# ----------------------------------------------------------------------------- the path
def test_a_resume_path_that_is_no_run_is_refused_and_nothing_is_created(tmp_path: Path) -> None:
    """Refused while Hydra resolves the run directory, before it creates it or writes into it
    (.hydra/, train.log): one line, exit 2."""
    a_file, missing, not_a_run = tmp_path / "notes.txt", tmp_path / "typo" / "run1", tmp_path / "d"
    a_file.write_text("notes\n")
    not_a_run.mkdir()
    for path, why in [
        (a_file, "is a file, not a run directory"),
        (missing, "does not exist"),
        (not_a_run, "is not a lab run directory (no record.json)"),
    ]:
        refused = lab_cli("train", "model=tiny_bert", "data=demo", f"resume={path}", cwd=tmp_path)
        assert refused.returncode == 2, refused.stderr[-3000:]
        assert refused.stderr == f"error: cannot resume: {path} {why}\n"
    assert a_file.read_text() == "notes\n"
    assert not (tmp_path / "typo").exists()
    assert list(not_a_run.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "notes.txt"]


# ----------------------------------------------------------------------------- the parts
def test_held_log_lines_are_written_on_release_and_dropped_on_a_refusal(tmp_path: Path) -> None:
    log_file = tmp_path / "train.log"
    log_file.write_text("earlier\n")
    handler = logging.FileHandler(log_file)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    logger = logging.getLogger("lab.test_held_log")
    try:
        held = HeldFileLog(tmp_path)
        logger.warning("refused resume")
        held.drop()
        handler.flush()
        assert log_file.read_text() == "earlier\n"
        held = HeldFileLog(tmp_path)
        logger.warning("first")
        logger.warning("second")
        assert log_file.read_text() == "earlier\n"
        held.release()
        logger.warning("third")
        handler.flush()
        assert log_file.read_text() == "earlier\nfirst\nsecond\nthird\n"
        assert HeldFileLog(tmp_path / "elsewhere")._holds == []  # another directory's log
    finally:
        root.removeHandler(handler)
        handler.close()


def test_a_load_error_is_said_in_one_line_naming_the_first_keys_of_each_kind() -> None:
    model, saved = torch.nn.Linear(2, 3), {f"layer{i}.weight": torch.zeros(1) for i in range(5)}
    saved["weight"] = torch.zeros(4, 2)
    with pytest.raises(RuntimeError) as caught:
        model.load_state_dict(saved)
    assert describe_load_error(caught.value) == (
        "size mismatch for weight: [4, 2] in the checkpoint, [3, 2] in the model; missing from "
        "the checkpoint: bias; not in the model: layer0.weight, layer1.weight, layer2.weight "
        "and 2 more"
    )
    assert describe_load_error(ValueError("two\nlines")) == "two; lines"


def test_a_resumed_runs_loggers_start_only_after_its_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new run's loggers start while the model is built; a resume's wait for `fit` (a W&B
    run started for a resume then refused would add files to the run and mark it failed)."""
    from types import SimpleNamespace

    from omegaconf import OmegaConf

    from lab.training import fit as fit_step
    from lab.training.loggers import CSVLogger

    started: list[Any] = []
    monkeypatch.setattr(CSVLogger, "start_in_background", lambda self: started.append(self))
    target = {"_target_": "lab.training.loggers.CSVLogger", "save_dir": str(tmp_path)}
    cfg = OmegaConf.create({"logger": {"csv": target}})
    new_run = SimpleNamespace(resume_point=None, data={})
    fresh = fit_step.instantiate_loggers(cfg, new_run)  # type: ignore[arg-type]
    fit_step.start_loggers_in_background(fresh)
    assert started == fresh
    resumed_run = SimpleNamespace(resume_point=SimpleNamespace(global_step=4), data={})
    resumed = fit_step.instantiate_loggers(cfg, resumed_run)  # type: ignore[arg-type]
    fit_step.start_loggers_in_background(resumed)
    assert started == fresh


@pytest.mark.slow
def test_a_run_of_another_checkout_and_code_resumes_saying_which_code_trains_what(
    interrupted: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """s24e M1/M2: a tiny-model run trained by another clone at another commit. Its tokenizer
    path names that clone's `assets/tiny_bert` (the same packaged file as this clone's): no
    difference of config. The resume says which code trained the steps before it, and its
    `resumes` entry in record.json names the code that trains the rest."""
    from lab.run_dir.records import lab_code_version

    tiny_bert = str(Path(__file__).resolve().parent.parent / "src" / "lab" / "assets" / "tiny_bert")
    other = "/elsewhere/other-clone/src/lab/assets/tiny_bert"
    config = (interrupted / "config.yaml").read_text()
    assert tiny_bert in config
    (interrupted / "config.yaml").write_text(config.replace(tiny_bert, other))
    record = json.loads((interrupted / "record.json").read_text())
    record["code"]["git"]["commit"] = "0123456789abcdef0123456789abcdef01234567"
    (interrupted / "record.json").write_text(json.dumps(record))
    with caplog.at_level(logging.INFO):
        _resume(interrupted)
    said = [r.getMessage() for r in caplog.records]
    assert (
        "recorded paths inside installed packages read from where they are installed now: "
        f"lab/assets/tiny_bert -> {tiny_bert} (model.tokenizer.pretrained_model_name_or_path)"
    ) in said
    (line,) = [m for m in said if m.startswith("the steps of this run before step 4 were")]
    assert line.startswith("the steps of this run before step 4 were trained by lab 0123456 (")
    assert "and trains the steps from 4 on (record.json's resumes entry names it)" in line
    assert "to resume with that code instead: git -C " in line
    record = json.loads((interrupted / "record.json").read_text())
    assert record["status"] == "finished"
    (entry,) = record["resumes"]
    assert entry["from_step"] == 4
    assert entry["code"]["git"]["commit"] == lab_code_version()[0]["git"]["commit"]
    assert entry["lab_version"] == record["lab_version"]
