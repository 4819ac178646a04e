"""The sweep process's lines: Hydra's format, a warning's level in front of its message."""

from __future__ import annotations

import logging
import logging.config
import re
from pathlib import Path

import yaml

from lab.sweeps.log_format import SweepLogFormatter

CONF = Path(__file__).resolve().parents[1] / "conf" / "hydra" / "default.yaml"


def _line(name: str, level: int, message: str, *args: object) -> str:
    record = logging.LogRecord(name, level, __file__, 1, message, args, None)
    return SweepLogFormatter().format(record)


def test_info_lines_keep_hydras_format() -> None:
    line = _line("hydra_plugins.lab_optuna_sweeper.sweeper", logging.INFO, "Trial %d: %s", 3, "x")
    assert re.fullmatch(r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}\]\[HYDRA\] Trial 3: x", line)


def test_a_warning_says_so_and_a_librarys_is_named() -> None:
    ours = _line("lab.sweeps.wandb_summary", logging.WARNING, "summary of %s not written", "s")
    assert ours.endswith("][HYDRA] warning: summary of s not written")
    theirs = _line("optuna.storages", logging.ERROR, "lost")
    assert theirs.endswith("][HYDRA] error (optuna.storages): lost")


def test_the_record_itself_is_not_changed_for_other_handlers() -> None:
    record = logging.LogRecord("lab.x", logging.WARNING, __file__, 1, "a %s", ("b",), None)
    SweepLogFormatter().format(record)
    assert (record.msg, record.args, record.getMessage()) == ("a %s", ("b",), "a b")


def test_hydras_sweep_console_uses_it() -> None:
    """The hydra_logging block of lab's Hydra config (merged by Hydra over its own default in
    the sweep process) gives the console handler this formatter; built as logging's
    dictConfig builds it, without reconfiguring this process's logging."""
    ours = yaml.safe_load(CONF.read_text())["hydra_logging"]
    assert ours["handlers"]["console"]["formatter"] == "sweep"
    spec = dict(ours["formatters"]["sweep"])
    formatter = logging.config.DictConfigurator({}).configure_formatter(spec)
    record = logging.LogRecord("lab.x", logging.WARNING, __file__, 1, "down", None, None)
    assert isinstance(formatter, SweepLogFormatter)
    assert formatter.format(record).endswith("[HYDRA] warning: down")
