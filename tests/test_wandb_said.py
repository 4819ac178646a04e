"""The warning of a W&B start that failed says its reason in one line (wandb's settings errors
are pydantic's: several lines and a link), and names a `WANDB_MODE` in the environment that is
not a W&B mode (`export WANDB_MODE=` left it empty: every start failed, the run went on with
W&B disabled, and the warning said only "1 validation error for Settings")."""

from __future__ import annotations

import pytest

from lab.training.wandb_start import _said

PYDANTIC = (
    "1 validation error for Settings\nmode\n  Input should be 'online', 'offline', 'shared', "
    "'disabled', 'dryrun' or 'run' [type=literal_error, input_value='', input_type=str]\n"
    "    For further information visit https://errors.pydantic.dev/2.14/v/literal_error"
)


def test_a_settings_error_is_one_line_naming_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WANDB_MODE", "")
    assert _said(ValueError(PYDANTIC)) == (
        "1 validation error for Settings: mode: Input should be 'online', 'offline', 'shared', "
        "'disabled', 'dryrun' or 'run' [type=literal_error, input_value='', input_type=str]; "
        "WANDB_MODE='' in the environment is not a W&B mode"
    )


def test_a_valid_environment_mode_is_not_blamed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    assert _said(OSError("disk full")) == "disk full"
    monkeypatch.delenv("WANDB_MODE")
    assert _said(RuntimeError()) == "RuntimeError"
