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
