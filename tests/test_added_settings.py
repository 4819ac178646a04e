"""Settings added after runs were recorded (`lab.run_dir.resume.ADDED_SETTINGS`): the data
keys every data config has are taken by lab.eval on a run recorded before them."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from omegaconf import OmegaConf

from lab.errors import ConfigError
from lab.run_dir.resume import ADDED_SETTINGS, EVERY_DATA_CONFIG

SOURCE = Path(__file__).resolve().parent.parent / "conf" / "data" / "base" / "source.yaml"


def test_every_data_config_keys_are_added_settings_of_the_shared_data_base() -> None:
    shared = yaml.safe_load(SOURCE.read_text())
    for key in EVERY_DATA_CONFIG:
        assert key in ADDED_SETTINGS
        assert key.split(".", 1)[1] in shared


def test_lab_eval_takes_them_on_a_run_recorded_before_them() -> None:
    from lab.eval_fit import change_data

    recorded = {"data": {"path": "data", "text_column": "text", "label_column": "label"}}
    run = SimpleNamespace(config=OmegaConf.create(recorded))
    cfg = OmegaConf.create(recorded)
    change_data(cfg, ["data.csv_quoting=none"], run)  # type: ignore[arg-type]
    assert cfg.data.csv_quoting == "none"
    with pytest.raises(ConfigError, match=r"'data\.drop_labels' is not a data key"):
        change_data(cfg, ["data.drop_labels=[-1]"], run)  # type: ignore[arg-type]
