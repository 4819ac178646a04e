"""s32e F6: a multirun job's record.json `command` and model card give the command that trains
that job alone, not the whole multirun (`-m seed=1,2,3`), which retrains every job."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from lab.run_dir.job_command import job_commands, multirun_note
from lab.run_dir.model_card import model_card

PYTHON = Path(sys.executable).name
SCRIPT = str(Path("src/lab/train.py").resolve())


def test_a_single_run_keeps_the_command_as_typed() -> None:
    assert job_commands([SCRIPT, "seed=1", "data=imdb"], None) == {
        "command": f"{PYTHON} -m lab.train seed=1 data=imdb"
    }


def test_a_multirun_job_gets_its_own_overrides_and_keeps_the_multirun() -> None:
    argv = [SCRIPT, "-m", "--config-dir", "/my conf", "seed=1,2,3", "-cn=mine", "data=imdb"]
    assert job_commands(argv, ["seed=2", "data=imdb", "data.path='/a b'"]) == {
        "command": f"{PYTHON} -m lab.train --config-dir '/my conf' -cn=mine seed=2 data=imdb "
        "'data.path='\"'\"'/a b'\"'\"''",
        "multirun_command": f"{PYTHON} -m lab.train -m --config-dir '/my conf' seed=1,2,3 "
        "-cn=mine data=imdb",
    }


def test_the_card_gives_the_jobs_command_and_names_the_multirun(compose_cfg: Any) -> None:
    from conftest import TINY_FIXTURE_RUN

    record = job_commands([SCRIPT, "-m", "seed=1,2,3"], ["seed=1"])
    card = model_card(compose_cfg(*TINY_FIXTURE_RUN), record, {"test/acc": 0.5})
    assert f"## Command\n\n```\n{PYTHON} -m lab.train seed=1\n```\n" in card
    assert (
        f"One job of the multirun `{PYTHON} -m lab.train -m seed=1,2,3`; the command above "
        "trains this job alone." in card
    )
    assert multirun_note({"command": "python -m lab.train"}) == ""


def test_the_card_of_a_run_of_an_installed_lab_says_so(compose_cfg: Any) -> None:
    """s34g L1: `(git ?)` where record.json says lab was installed, with no commit."""
    import lab

    from conftest import TINY_FIXTURE_RUN

    cfg = compose_cfg(*TINY_FIXTURE_RUN)
    installed = {"code": {"git": None, "note": "lab 0.1.0 installed at /venv/site-packages/lab"}}
    card = model_card(cfg, {"command": "python -m lab.train", **installed}, {"test/acc": 0.5})
    assert f"Fine-tuned with lab {lab.__version__} (installed, no git checkout)." in card
    clone = {"code": {"git": {"commit": "b287af33fa39" + "0" * 28, "dirty": True}}}
    card = model_card(cfg, {"command": "python -m lab.train", **clone}, {"test/acc": 0.5})
    assert "(git b287af33fa39 with uncommitted changes)." in card
