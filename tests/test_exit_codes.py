"""Exit codes (README, "Errors"): 0 ok, 2 a user error, 1 a bug, 143 interrupted.

Hydra exits 1 for a config it cannot compose, the same code as a crash; lab's entry points
turn that into 2 (`lab.config.cli.run_hydra_app`), and every run tool exits 2 for a bad
option (`run_tool`). A bug still exits 1 with its traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hydra.errors import InstantiationException, MissingConfigException
from omegaconf import OmegaConf

from lab.config.cli import run_tool
from lab.errors import DataError

from conftest import lab_cli

# A Hydra app on lab's config, run the way `lab.train` runs, whose job fails as asked:
# `+bug=runtime` raises a RuntimeError, `+bug=omegaconf` reads a key that does not exist.
APP = """
import hydra
from lab.config.cli import run_hydra_app
from lab.config.paths import conf_dir
from lab.config.resolvers import register_resolvers

@hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name="train")
def app(cfg):
    if cfg.get("bug") == "runtime":
        raise RuntimeError("a bug in the job")
    if cfg.get("bug") == "omegaconf":
        return cfg.trainer.no_such_key
    print("job ran")

register_resolvers()
run_hydra_app(app, str(conf_dir()), "train")
"""


def _app(tmp_path: Path, *overrides: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "app.py"
    script.write_text(APP)
    return subprocess.run(
        [sys.executable, str(script), "hydra.run.dir=out", *overrides],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


# ----------------------------------------------------------------------------- Hydra apps
@pytest.mark.parametrize(
    ("overrides", "code", "says"),
    [
        ([], 0, "job ran"),
        (["model=robertaa"], 2, "Could not find 'model/robertaa'"),
        (["optimizer.lrr=1"], 2, "Did you mean optimizer.lr?"),
        (["optimizer.lr=[1"], 2, "no viable alternative at input '[1'"),
        (["+bug=runtime"], 1, "RuntimeError: a bug in the job"),
        (["+bug=omegaconf"], 1, "Key 'no_such_key' is not in struct"),
    ],
    ids=["ok", "unknown-option", "unknown-key", "bad-syntax", "bug", "bug-in-config-access"],
)
def test_a_config_error_exits_2_and_a_bug_exits_1(
    tmp_path: Path, overrides: list[str], code: int, says: str
) -> None:
    result = _app(tmp_path, *overrides)
    assert result.returncode == code, result.stderr[-2000:]
    assert says in result.stdout + result.stderr


def test_train_unknown_option_exits_2_listing_the_options_once(tmp_path: Path) -> None:
    result = lab_cli("train", "model=robertaa", cwd=tmp_path, timeout=120)
    assert result.returncode == 2
    # one line: the closest option first, then every option once
    [line] = result.stderr.splitlines()
    assert line.startswith(
        "error: In 'train': Could not find 'model/robertaa'. Did you mean model=roberta? "
        "Options in 'model': "
    )
    options = line.split("Options in 'model': ")[1].split(", ")
    for option in ("roberta", "tiny_bert", "minilm"):
        assert options.count(option) == 1, option


def test_train_unknown_key_exits_2_with_the_valid_keys(tmp_path: Path) -> None:
    result = lab_cli("train", "data.batchsize=8", cwd=tmp_path, timeout=120)
    assert result.returncode == 2
    # One line: not Hydra's block, whose advice (`+data.batchsize=8`) adds a key nothing reads.
    (hint,) = result.stderr.strip().splitlines()
    assert hint.startswith(
        "error: 'data.batchsize' is not a config key. Did you mean data.batch_size?"
    )
    assert "Valid keys of data:" in hint and "max_length" in hint


def test_a_config_error_raised_while_a_part_is_built_is_one_line(tmp_path: Path) -> None:
    """A data module refusing its config in `__init__` (chat data, a tokenizer without a chat
    template) reaches the user unwrapped from Hydra's InstantiationException, in the record too."""
    result = lab_cli(
        "train", "model=tiny_bert", "data=chat", "data.max_length=128", "logger=csv",
        f"paths.output_root={tmp_path}", cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith("error: the tokenizer (") and "has no chat template" in line
    (record,) = tmp_path.glob("runs/*/*/record.json")
    assert json.loads(record.read_text())["status"] == f"failed: {line[len('error: ') :]}"


def test_a_sweep_with_an_unknown_key_exits_2(tmp_path: Path) -> None:
    result = lab_cli("train", "-m", "optimizer.lrr=1,2", cwd=tmp_path, timeout=120)
    assert result.returncode == 2
    assert "Did you mean optimizer.lr?" in result.stderr


def test_a_search_space_under_the_sweep_files_prefix_gets_the_override_without_it(
    tmp_path: Path,
) -> None:
    """s29b F7: `hydra.sweeper.params.<key>=` on the command line (where a sweep file writes
    the space) was Hydra's bare "Sweeping over Hydra's configuration is not supported"."""
    given = "hydra.sweeper.params.optimizer.lr=tag(log, interval(1e-3, 3e-2))"
    result = lab_cli("train", "-m", "sweep=demo_lr", given, cwd=tmp_path, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: '{given}': on the command line a searched key goes without "
        "'hydra.sweeper.params.' (a sweep file writes it under hydra.sweeper.params): "
        "'optimizer.lr=tag(log, interval(1e-3, 3e-2))'"
    )
    assert not (tmp_path / "outputs").exists()


def test_validate_unknown_key_exits_2(tmp_path: Path) -> None:
    result = lab_cli("validate", "optimizer.lrr=1", cwd=tmp_path, timeout=120)
    assert result.returncode == 2
    assert "Did you mean optimizer.lr?" in result.stderr


# ----------------------------------------------------------------------------- run tools
@pytest.mark.parametrize(
    ("tool", "args", "first_words"),
    [
        ("eval", ["bogus=1"], "error: unknown option 'bogus'."),
        ("predict", ["bogus=1"], "error: unknown option 'bogus'."),
        ("export", ["bogus=1"], "error: unknown option 'bogus'."),
        ("serve", ["bogus=1"], "error: unknown option 'bogus'."),
        ("eval", [], "error: missing run=..."),
        ("eval", ["run=/nowhere/run"], "error: run directory /nowhere/run does not exist"),
        # said before the libraries load (5-7 s sooner: s24d L)
        ("export", ["run=/nowhere/run"], "error: run directory /nowhere/run does not exist"),
        ("serve", ["run=/nowhere/run"], "error: run directory /nowhere/run does not exist"),
        ("compare", ["/nowhere/run"], "error: /nowhere/run does not exist"),
        ("compare", [], "usage: python -m lab.compare"),
        ("reproduce", [], "usage: python -m lab.reproduce"),
    ],
)
def test_run_tools_exit_2_for_a_bad_option(
    tmp_path: Path, tool: str, args: list[str], first_words: str
) -> None:
    result = lab_cli(tool, *args, cwd=tmp_path, timeout=120)
    assert result.returncode == 2
    assert result.stderr.startswith(first_words), result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture
def fake_run(compose_cfg: Any, tmp_path: Path) -> Path:
    """A run directory as far as `lab.eval` reads it before loading a model."""
    run = tmp_path / "run"
    cfg = compose_cfg("model=tiny_bert", output_dir=run)
    run.mkdir()
    OmegaConf.save(cfg, run / "config.yaml", resolve=True)
    (run / "record.json").write_text(json.dumps({"status": "finished"}))
    return run


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (["data=nope"], "In 'train': Could not find 'data/nope'"),
        # lab's words, as lab.train says them (lab.config.compose.compose_in_words), not
        # Hydra's advice to append the key with `+`
        (
            ["data=sst2", "data.batchsize=8"],
            "'data.batchsize' is not a config key. Did you mean data.batch_size? Valid keys of "
            "data: _target_, batch_size,",
        ),
    ],
)
def test_eval_with_a_data_option_hydra_refuses_exits_2(
    fake_run: Path, tmp_path: Path, data: list[str], says: str
) -> None:
    result = lab_cli("eval", f"run={fake_run}", *data, cwd=tmp_path, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.startswith(f"error: {says}")
    assert "Traceback" not in result.stderr and "Config search path" not in result.stderr


def test_reproduce_of_an_unknown_experiment_exits_2_listing_the_experiments(
    tmp_path: Path,
) -> None:
    result = lab_cli("reproduce", "experiment=nope", cwd=tmp_path, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.startswith("error: In 'train': Could not find 'experiment/nope'")
    assert "roberta_imdb, " in result.stderr and "Traceback" not in result.stderr


def _exit_code(main: Any) -> int:
    with pytest.raises(SystemExit) as exited:
        run_tool(main, [])
    return int(exited.value.code or 0)


def test_run_tool_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    def missing_option(argv: list[str]) -> int:
        raise MissingConfigException("Could not find 'data/nope'", missing_cfg_file="data/nope")

    def wrapped(argv: list[str]) -> int:
        try:
            raise DataError("train.csv has no rows")
        except DataError as err:
            raise InstantiationException("Error in call to target 'DataModule'") from err

    def bug(argv: list[str]) -> int:
        raise KeyError("a bug")

    assert _exit_code(lambda argv: 0) == 0
    assert _exit_code(missing_option) == 2
    assert capsys.readouterr().err == "error: Could not find 'data/nope'\n"
    assert _exit_code(wrapped) == 2
    assert capsys.readouterr().err == "error: train.csv has no rows\n"
    with pytest.raises(KeyError, match="a bug"):
        run_tool(bug, [])


def test_a_missing_option_is_one_line_with_the_closest_first() -> None:
    from lab.config.option_errors import missing_option_line

    hydra = (
        "In 'train': Could not find 'data/ssst2'\n\nAvailable options in 'data':\n\tcsv\n\tsst2\n"
    )
    assert missing_option_line(hydra) == (
        "In 'train': Could not find 'data/ssst2'. Did you mean data=sst2? Options in 'data': "
        "csv, sst2"
    )
    far = "In 'train': Could not find 'data/zzz'\n\nAvailable options in 'data':\n\tcsv\n"
    assert missing_option_line(far) == (  # s27d L2: no close name: the user's own folder?
        "In 'train': Could not find 'data/zzz'. (An option of your own: --config-dir <your "
        "folder>, holding data/.) Options in 'data': csv"
    )
    assert missing_option_line("something else\nentirely") == "something else\nentirely"


@pytest.mark.parametrize(
    ("override", "line"),
    [
        (
            "logger=[csv,tensorbord]",  # Hydra names no options for one inside a list
            "error: In 'train': Could not load 'logger/tensorbord'. Did you mean "
            "logger=tensorboard? Options in 'logger': csv, default, none, tensorboard, wandb",
        ),
        (
            "precision=64",  # a number where an option's name goes: Hydra said "Got int"
            "error: precision=64 is not an option of 'precision'; options: 16-mixed, 32-true, "
            "bf16-mixed, bf16-true (or 32, 16, bf16)",
        ),
        (
            "precision=null",
            "error: precision=null is not an option of 'precision'; options: 16-mixed, "
            "32-true, bf16-mixed, bf16-true (or 32, 16, bf16)",
        ),
    ],
)
def test_an_option_hydra_cannot_name_gets_the_groups_options(override: str, line: str) -> None:
    for tool in ("lab.train", "lab.validate"):
        result = subprocess.run(
            [sys.executable, "-m", tool, override], capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 2, (tool, result.stderr)
        assert result.stderr.strip().splitlines() == [line], tool


def test_a_run_directory_hydra_cannot_make_is_one_line(tmp_path: Path) -> None:
    """`hydra.run.dir` under a file or in /proc: Hydra's mkdir fails before lab's job runs."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "lab.train", "model=tiny_bert", f"hydra.run.dir={blocker}/run"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: cannot make the run directory {blocker}/run: Not a directory (choose another "
        "place with paths.output_root=... or hydra.run.dir=...)"
    ]


def test_a_train_log_hydra_cannot_open_is_one_line() -> None:
    """A read-only `train.log` in an explicit `hydra.run.dir`: logging's dictConfig wraps the
    OSError in a ValueError inside Hydra's `run_job`, before any lab code; worded in one line.
    An error raised from inside lab's job is not this (the job words its own)."""
    from lab.config.run_dir_failures import run_dir_not_made

    def run_job() -> None:  # named as Hydra's frame is
        try:
            raise PermissionError(1, "Operation not permitted", "/runs/x/train.log")
        except OSError as err:
            raise ValueError("Unable to configure handler 'file'") from err

    with pytest.raises(ValueError) as failed:
        run_job()
    assert run_dir_not_made(failed.value) == (
        "cannot write /runs/x/train.log: Operation not permitted (make it writable, or choose "
        "another place with hydra.run.dir=...)"
    )
    assert run_dir_not_made(ValueError("a bug")) is None


def test_a_full_disk_under_hydras_own_files_is_one_line() -> None:
    """A disk so full that Hydra cannot write `.hydra/` (its write names no file): the run
    directory's files are named, not "the run directory the run directory"."""
    from lab.config.run_dir_failures import run_dir_not_made

    def run_job() -> None:  # named as Hydra's frame is
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError) as failed:
        run_job()
    assert run_dir_not_made(failed.value) == (
        "cannot write the run directory's files: No space left on device (free space there, "
        "or choose another place with paths.output_root=... or hydra.run.dir=...)"
    )
