"""OmegaConf resolvers used by lab's configs.

Registered explicitly by each entry point (and by tests) rather than at import time, so that
importing lab never mutates global state.
"""

from __future__ import annotations

import os
import secrets

from omegaconf import OmegaConf

from lab.config.languages import translate_prefix
from lab.config.optimized_mode import optimized_mode
from lab.config.paths import package_path


def _unique_suffix() -> str:
    # The process id plus random bits keep two runs that start in the same second (two
    # terminals, two SLURM array tasks) from sharing a run directory.
    return f"{os.getpid()}-{secrets.token_hex(2)}"


def _no_cuda() -> bool:
    import torch

    return not torch.cuda.is_available()


def _either(first: object, second: object) -> object:
    # `${lab.either:${model.pretrained},<default>}`: a from-config model's tokenizer comes from
    # `model.pretrained` when that is set (a run's export), from the repo's assets otherwise.
    return second if first is None or first == "" else first


def register_resolvers() -> None:
    """Register `lab.*` resolvers; safe to call more than once."""
    if not OmegaConf.has_resolver("lab.package_path"):
        OmegaConf.register_new_resolver("lab.package_path", package_path)
    if not OmegaConf.has_resolver("lab.either"):
        OmegaConf.register_new_resolver("lab.either", _either)
    if not OmegaConf.has_resolver("lab.run_dir"):
        from lab.run_dir.resume import run_dir_for

        OmegaConf.register_new_resolver("lab.run_dir", run_dir_for, use_cache=True)
    if not OmegaConf.has_resolver("lab.new_dir"):
        from lab.run_dir.claim import new_folder

        OmegaConf.register_new_resolver("lab.new_dir", new_folder, use_cache=True)
    if not OmegaConf.has_resolver("lab.hydra_subdir"):
        from lab.run_dir.resume import hydra_subdir_for

        OmegaConf.register_new_resolver("lab.hydra_subdir", hydra_subdir_for)
    if not OmegaConf.has_resolver("lab.no_cuda"):
        # Cached: the answer cannot change within a process, and the import is not free.
        OmegaConf.register_new_resolver("lab.no_cuda", _no_cuda, use_cache=True)
    if not OmegaConf.has_resolver("lab.translate_prefix"):
        # `${lab.translate_prefix:${data.source_lang},${data.target_lang}}`: T5's prefix
        # follows the data config's languages (translation data configs).
        OmegaConf.register_new_resolver("lab.translate_prefix", translate_prefix)
    if not OmegaConf.has_resolver("lab.optimized_mode"):
        # `optimized_mode` follows a metric changed alone (val/loss: min), as HF Trainer's
        # greater_is_better does.
        OmegaConf.register_new_resolver("lab.optimized_mode", optimized_mode)
    if not OmegaConf.has_resolver("lab.unique"):
        # use_cache: every interpolation of the run directory sees the same suffix.
        OmegaConf.register_new_resolver("lab.unique", _unique_suffix, use_cache=True)
