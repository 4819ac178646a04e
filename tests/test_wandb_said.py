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


@pytest.mark.parametrize("value", ["off", ""])
def test_an_environment_mode_wandb_refuses_is_disabled_at_once_in_one_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, value: str
) -> None:
    """s27c M4: `WANDB_MODE=off` warned twice, the first time "continuing with W&B offline",
    which wandb (reading the environment in every mode) could not do."""
    from lab.training.wandb_start import resolve_wandb_mode

    monkeypatch.setenv("WANDB_MODE", value)
    with caplog.at_level("WARNING", logger="lab.training.wandb_start"):
        assert resolve_wandb_mode("auto") == "disabled"
    assert [r.getMessage() for r in caplog.records] == [
        f"WANDB_MODE={value!r} in the environment is not a W&B mode (online, offline, "
        "disabled); continuing with W&B disabled (unset it, or set WANDB_MODE=disabled to "
        "say so)"
    ]


def test_a_disabled_start_succeeds_under_such_a_mode(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    """wandb refuses to start even disabled while the environment holds a mode it does not
    know: the start hides it, and gives it back afterwards."""
    import os

    import wandb

    from lab.training.wandb_start import start_wandb_run, wandb_settings

    monkeypatch.setenv("WANDB_MODE", "off")
    arguments = {"project": "p", "mode": "disabled", "dir": str(tmp_path)}
    arguments["settings"] = wandb_settings()
    run = start_wandb_run(lambda: wandb.init(**arguments), arguments)
    run.finish()
    assert arguments["mode"] == "disabled"
    assert os.environ["WANDB_MODE"] == "off"
