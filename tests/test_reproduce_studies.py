"""s27a M4, M5, L1, L2: reproducing a seed study.

- `lab.reproduce experiment=X seed=2` of an experiment pinned at seed 1 names the override
  before the run and reports a difference as `differs`, exit 3 (not comparable), not FAIL;
  `expected.seeds.<seed>.metrics` pins a seed study's numbers per seed;
- `lab.reproduce <multirun folder>` reproduces each run, one failure not stopping the others,
  into `<run>/reproductions/<one name>/`, with a summary table and the compare command;
- assert_golden's failure names `LAB_RECORD_GOLDEN=1 pytest <this test>`, not lab's own
  conftest option;
- the `relative paths read from the run's working directory` line leaves out
  `paths.output_root`, which a reproduction does not write to.
"""

from __future__ import annotations

import glob
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from lab.compare import main as compare_main
from lab.errors import LabError
from lab.reproduce import main
from lab.reproduce_expected import EXIT_NOT_COMPARABLE, expected_check
from lab.testing import assert_golden

from conftest import SENTIMENT, TINY_FIXTURE_RUN, lab_command

# conftest's tiny run, two steps long
TINY = [o for o in TINY_FIXTURE_RUN if not o.startswith("trainer.")]
TINY += ["trainer.max_steps=2", "trainer.max_epochs=1"]


def _exit_code(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as raised:
        main(argv)
    return int(raised.value.code or 0)


# ------------------------------------------------------------------ M4: what an override changes
DEFAULTS = {"seed": 42, "optimizer.lr": 1e-4, "data.num_workers": 0, "model.pretrained": "m"}
CHOICES = {"model": "tiny_bert", "data": "demo", "logger": "csv", "precision": "32-true"}
PINNED = {"seed": 1, "optimizer.lr": 5e-3, "data.num_workers": 0, "model.pretrained": "t"}
BLOCK = {"atol": 1e-6, "metrics": {"test/acc": 0.49}}


def _check(now: dict, choices: dict | None = None, block: dict | None = None):  # type: ignore[no-untyped-def]
    run = ({**PINNED, **now}, {**CHOICES, **(choices or {})})
    return expected_check("paper", run, (PINNED, CHOICES), DEFAULTS, block or BLOCK)


def test_the_experiment_as_written_is_comparable() -> None:
    check = _check({})
    assert check.comparable and check.overridden == []
    assert (check.metrics, check.atol, check.per_seed) == ({"test/acc": 0.49}, 1e-6, False)


def test_an_override_of_the_seed_or_a_pinned_key_is_named() -> None:
    check = _check({"optimizer.lr": 6e-3, "seed": 2})
    assert check.overridden == ["seed=2 (pinned: 1)", "optimizer.lr=0.006 (pinned: 0.005)"]
    assert not check.comparable


def test_a_switched_group_is_named_once_and_bookkeeping_is_not() -> None:
    check = _check(
        {"model.pretrained": "other", "data.num_workers": 4, "paths.output_root": "x"},
        choices={"model": "minilm", "logger": "wandb"},
    )
    # model.pretrained is said by `model=`; data.num_workers is left at lab's default by the
    # experiment; where a run writes and logs moves no metric
    assert check.overridden == ["model=minilm (pinned: tiny_bert)"]


def test_a_seed_study_pins_each_seed() -> None:
    block = {**BLOCK, "seeds": {2: {"metrics": {"test/acc": 0.51}}, "3": {"metrics": {"x": 1}}}}
    two = _check({"seed": 2}, block=block)
    assert (two.metrics, two.per_seed, two.comparable) == ({"test/acc": 0.51}, True, True)
    assert _check({"seed": 3}, block=block).metrics == {"x": 1.0}  # a key written as text
    four = _check({"seed": 4}, block=block)  # no entry: the experiment's own seed's numbers
    assert four.metrics == {"test/acc": 0.49} and four.overridden == ["seed=4 (pinned: 1)"]
    only_seeds = {"atol": 0.0, "seeds": {1: {"metrics": {"a": 1}}, 2: {"metrics": {"a": 2}}}}
    with pytest.raises(LabError, match=r"pins expected metrics for seeds 1, 2, not for seed=4"):
        _check({"seed": 4}, block=only_seeds)


def test_an_experiment_without_expected_metrics_is_refused() -> None:
    with pytest.raises(LabError, match="experiment paper has no `expected:` metrics"):
        _check({}, block={"atol": 0.1})


EXPERIMENT = f"""# @package _global_
defaults:
  - override /model: tiny_bert
  - override /data: csv
  - override /logger: csv
seed: 1
data:
  path: {SENTIMENT}
  text_column: review
  label_column: sentiment
  batch_size: 16
trainer:
  max_steps: 2
  max_epochs: 1
expected:
  atol: 1.0
  metrics: {{test/acc: 5.0}}     # seed 1's: out of reach, so any run of it differs
  seeds:
    3: {{metrics: {{test/acc: 0.5}}}}  # within 1.0 of any accuracy
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "conf" / "experiment").mkdir(parents=True)
    (tmp_path / "conf" / "experiment" / "study.yaml").write_text(EXPERIMENT)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_another_seed_is_not_called_a_regression(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--config-dir", "conf", "experiment=study", "seed=2", "paths.output_root=out"]
    assert _exit_code(argv) == EXIT_NOT_COMPARABLE == 3
    out = " ".join(capsys.readouterr().out.split())  # rich wraps long lines
    assert (
        "warning: experiment study's expected metrics were pinned for its own settings, which "
        "this run overrides: seed=2 (pinned: 1);" in out
    )
    assert "to pin this seed's numbers: expected.seeds.2.metrics" in out
    assert out.index("seed=2 (pinned: 1)") < out.index("Run directory:")  # before the run
    assert re.search(r"test/acc +│ +5 +│ .* differs", out) and "FAIL" not in out
    assert "not comparable: 1 of 1 metrics differ from those pinned for the experiment's" in out


def test_a_seed_of_the_study_is_checked_against_its_own_numbers(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--config-dir", "conf", "experiment=study", "seed=3", "paths.output_root=out"]
    assert _exit_code(argv) == 0
    out = capsys.readouterr().out
    assert "Expected for seed=3 vs now (rtol 0, atol 1)" in out
    assert re.search(r"test/acc +│ +0.5 +│ .* pass", out)
    assert "pinned" not in out and "not comparable" not in out


# ------------------------------------------------------------------ M5: a multirun folder
@pytest.fixture(scope="module")
def multirun(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two seeds of a tiny run as `lab.train -m` lays them out (multirun.yaml, 0/, 1/),
    trained from `work/` with a relative `paths.output_root`."""
    work = tmp_path_factory.mktemp("study") / "work"
    work.mkdir()
    command = lab_command("train", "-m", *TINY, "seed=1,2", "paths.output_root=out")
    result = subprocess.run(command, cwd=work, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    (folder,) = (work / "out" / "multiruns").glob("*/*")
    assert (folder / "multirun.yaml").is_file() and (folder / "1" / "metrics.json").is_file()
    return folder


def test_each_run_of_a_multirun_is_reproduced_and_one_failure_stops_none(
    multirun: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = tmp_path / "multirun"
    shutil.copytree(multirun, folder, symlinks=True)
    for run in ("0", "1"):  # the copy's own folder, as lab.train would have written it
        config = folder / run / "config.yaml"
        config.write_text(config.read_text().replace(str(multirun), str(folder)))
    record = json.loads((folder / "0" / "record.json").read_text())
    record["metrics"]["test/acc"] += 0.25  # run 0 no longer reproduces
    (folder / "0" / "record.json").write_text(json.dumps(record))
    shutil.copytree(folder / "1", folder / "2")
    (folder / "2" / "config.yaml").write_text("[not a mapping")  # run 2 cannot be read
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # output_root=out is read from the runs' cwd: not said

    assert _exit_code([str(folder)]) == 2  # a run that could not be reproduced at all
    printed = capsys.readouterr()
    out = " ".join(printed.out.split())
    made = sorted(folder.glob("*/reproductions/*"))
    assert [path.relative_to(folder).parts[0] for path in made] == ["0", "1"]
    assert made[0].name == made[1].name  # one name for the whole folder's reproduction
    assert all((path / "metrics.json").is_file() for path in made)
    assert f"reproducing 3 runs of {folder} one after another" in out
    assert re.search(r"test/acc +│ +[\d.]+ +│ +[\d.]+ +│ +-0.25 +│ +FAIL", printed.out)
    assert f"Reproductions of {folder}: 1 of 3 reproduced" in out
    rows = [line for line in printed.out.splitlines() if re.match(r"│ [012] ", line)]
    assert [re.split(r" *│ *", row)[1:5] for row in rows][:2] == [
        ["0", "seed=1", f"{len(record['metrics']) - 1}/{len(record['metrics'])}", "FAIL"],
        ["1", "seed=2", f"{len(record['metrics'])}/{len(record['metrics'])}", "pass"],
    ]
    assert "error: cannot read" in rows[2] and "config.yaml" in printed.err
    assert "relative paths read from the run's working directory" not in printed.out
    pattern = f"{folder}/*/reproductions/{made[0].name}"
    assert f"the reproduced table: python -m lab.compare {pattern};" in out
    assert f"the recorded one: python -m lab.compare {folder}" in out

    # the printed pattern compares the reproductions as the runs: seeds 1 and 2, one row
    assert compare_main(sorted(glob.glob(pattern))) == 0
    assert "2 runs, 1 configuration" in " ".join(capsys.readouterr().out.split())


def test_each_job_of_a_multirun_records_the_command_that_trains_it_alone(multirun: Path) -> None:
    """s32e F6: record.json's `command` and the model card's are the job's own (`seed=1`), not
    the multirun's (`-m ... seed=1,2`, which retrains both); `multirun_command` keeps that."""
    for run, seed in (("0", 1), ("1", 2)):
        record = json.loads((multirun / run / "record.json").read_text())
        assert record["command"].split()[1:] == [
            "-m",
            "lab.train",
            # Hydra hands a multirun job its booleans as Python writes them (`plots=False`),
            # which its grammar reads as `plots=false`.
            *(o.replace("=false", "=False") for o in TINY),
            f"seed={seed}",
            "paths.output_root=out",
        ]
        assert record["multirun_command"].split()[1:4] == ["-m", "lab.train", "-m"]
        assert "seed=1,2" in record["multirun_command"]
        card = (multirun / run / "model" / "README.md").read_text()
        assert f"```\n{record['command']}\n```" in card
        assert f"One job of the multirun `{record['multirun_command']}`" in card


def test_a_folder_without_runs_is_refused_in_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _exit_code([str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {tmp_path} is not a lab run directory (no record.json / config.yaml), nor a "
        "folder of runs (a multirun's or a sweep's)"
    )


# ------------------------------------------------------------------ L1: the re-record command
def test_a_golden_failure_names_the_command_that_re_records_this_test(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LAB_RECORD_GOLDEN", raising=False)
    (tmp_path / "pin.json").write_text(json.dumps({"test/acc": 0.5}))
    with pytest.raises(AssertionError) as raised:
        assert_golden("pin", {"test/acc": 0.6}, directory=tmp_path)
    message = str(raised.value)
    assert "--record-golden" not in message  # lab's own conftest option: no user project has it
    assert (
        "if the change is intended, re-record: LAB_RECORD_GOLDEN=1 pytest "
        "tests/test_reproduce_studies.py::"
        "test_a_golden_failure_names_the_command_that_re_records_this_test:"
    ) in message
    monkeypatch.delenv("PYTEST_CURRENT_TEST")
    with pytest.raises(AssertionError, match="re-record: run it again with LAB_RECORD_GOLDEN=1"):
        assert_golden("pin", {"test/acc": 0.6}, directory=tmp_path)


def test_a_diverged_metric_that_diverges_again_reproduces() -> None:
    """s27e H1: NaN recorded, NaN again: the same run, not a FAIL (a seed study with a diverged
    seed could never exit 0)."""
    from lab.testing import compare_metrics

    nan = float("nan")
    rows = compare_metrics({"test/loss": nan, "test/acc": 0.5}, {"test/loss": nan, "test/acc": 0.5})
    assert [ok for *_, ok in rows] == [True, True]
    assert [ok for *_, ok in compare_metrics({"test/loss": 0.7}, {"test/loss": nan})] == [False]
    assert [ok for *_, ok in compare_metrics({"test/loss": nan}, {"test/loss": 0.7})] == [False]
