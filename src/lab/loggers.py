"""Experiment loggers that never take a run down with them.

`wandb_logger` picks W&B's mode from the environment: online when credentials exist, offline
otherwise (the run is still recorded locally and can be uploaded later with `wandb sync`).
If W&B cannot start even so (service down, bad key, no disk), the run goes on offline, then
with W&B disabled, with a warning: a logging service is never a reason to lose a training run.
"""

from __future__ import annotations

import logging
import netrc
import os
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.loggers.logger import rank_zero_experiment

log = logging.getLogger(__name__)

WANDB_HOST = "api.wandb.ai"


def wandb_credentials_present() -> bool:
    """True when W&B can authenticate without asking: an API key in the env or ~/.netrc."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators(WANDB_HOST) is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


def resolve_wandb_mode(mode: str) -> str:
    """`auto` -> `online` with credentials, else `offline`; `WANDB_MODE` in the env wins."""
    env_mode = os.environ.get("WANDB_MODE")
    if env_mode:
        return env_mode
    if mode == "auto":
        return "online" if wandb_credentials_present() else "offline"
    return mode


class ResilientWandbLogger(WandbLogger):
    """A `WandbLogger` that falls back to offline, then disabled, if `wandb.init` fails."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Lightning always passes `anonymous`, which current wandb only warns about.
        if self._wandb_init.get("anonymous") is None:
            self._wandb_init.pop("anonymous", None)

    @property  # type: ignore[misc]
    @rank_zero_experiment
    def experiment(self) -> Any:
        fallbacks = ["offline", "disabled"]
        while True:
            try:
                return WandbLogger.experiment.fget.__wrapped__(self)  # type: ignore[attr-defined]
            except Exception as err:  # wandb raises many types; none should end the run
                if not fallbacks:
                    raise
                mode = fallbacks.pop(0)
                log.warning("W&B could not start (%s); continuing with W&B %s", err, mode)
                self._wandb_init["mode"] = mode
                self._experiment = None


def wandb_logger(
    project: str,
    save_dir: str,
    name: str | None = None,
    group: str | None = None,
    tags: list[str] | None = None,
    entity: str | None = None,
    mode: str = "auto",
    init_timeout: float = 30.0,
    **kwargs: Any,
) -> WandbLogger:
    """Build a W&B logger whose mode is `auto`, `online`, `offline` or `disabled`."""
    import wandb

    Path(save_dir).mkdir(parents=True, exist_ok=True)
    resolved = resolve_wandb_mode(mode)
    return ResilientWandbLogger(
        project=project,
        save_dir=save_dir,
        name=name,
        group=group,
        tags=list(tags or []),
        entity=entity,
        mode=resolved,
        settings=wandb.Settings(init_timeout=init_timeout, silent=True),
        **kwargs,
    )
