"""Import W&B before torch and Lightning, where importing it is cheap.

`wandb.init` imports `wandb.sdk.launch` (to apply staged launch inputs), whose pydantic
models read their own docstrings through `inspect.getmodule`, and every such call scans all
of `sys.modules`. With torch, Lightning, transformers and datasets loaded (~4,700 modules)
that import took 1.5-1.7 s on 2 cores; with the ~360 modules `lab.train` has loaded when
`run` starts, 0.15 s. So a run that logs to W&B imports it first; what it costs then
(~0.6 s with wandb itself) was paid later before, and the first training step comes
~1.5 s sooner. Nothing here imports torch or Lightning.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys

from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)

# What `wandb.init` imports on its way: W&B's package and its launch-inputs module.
WANDB_MODULES = ("wandb", "wandb.sdk.launch.inputs.internal")


def logs_to_wandb(cfg: DictConfig) -> bool:
    """True when the run's logger group has a W&B logger that is not disabled (by its
    `mode` or by `WANDB_MODE` in the environment)."""
    if os.environ.get("WANDB_MODE") == "disabled":
        return False
    loggers = OmegaConf.select(cfg, "logger", default=None) or {}
    for node in loggers.values():
        target = str(node.get("_target_", "")) if node is not None else ""
        if "wandb" in target.lower() and str(node.get("mode", "auto")) != "disabled":
            return True
    return False


def import_wandb_early(cfg: DictConfig) -> None:
    """Import W&B now if the run will start it and torch is not loaded yet (see the module)."""
    if "torch" in sys.modules or "wandb" in sys.modules or not logs_to_wandb(cfg):
        return
    for name in WANDB_MODULES:
        try:
            importlib.import_module(name)
        except Exception as err:  # a later wandb may move its modules: only speed is lost
            log.debug("early import of %s skipped: %s", name, err)
            return
