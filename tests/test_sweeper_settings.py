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
