"""Settings `lab.eval` changes in a run's config: `data.<key>` values set as `lab.train` reads
them, and `task.module.<key>` settings of the head's evaluation (extractive QA's
`null_score_diff_threshold`, a generating head's `max_new_tokens`): the weights stay the run's,
so a decoding threshold can be tuned on validation after training."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from lab.errors import ConfigError


def set_module_settings(cfg: DictConfig, overrides: list[str]) -> None:
    """Apply `task.module.<key>=<value>` overrides to the run's head settings: only keys the
    run's `task.module` has (the rest name the valid ones), only under `task.module` (the
    head itself is the run's)."""
    valid = sorted(str(k) for k in cfg.task.get("module") or {} if not str(k).startswith("_"))
    for override in overrides:
        key = override.split("=", 1)[0]
        name = key.removeprefix("task.module.")
        if not key.startswith("task.module.") or "." in name or name not in valid:
            raise ConfigError(
                f"'{key}' is not a setting lab.eval changes; valid: "
                f"{', '.join(f'task.module.{k}' for k in valid)}"
            )
    set_overrides(cfg, overrides)
    from lab.config.ranges import check_keys

    check_keys(cfg, [override.split("=", 1)[0] for override in overrides])


def set_overrides(cfg: DictConfig, overrides: list[str]) -> None:
    """Set each `key=value` as `lab.train` reads it (Hydra's override grammar: `yes` is the
    text 'yes', not YAML 1.1's true), so lab.eval's values meet the same config checks."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    for override in OverridesParser.create().parse_overrides(overrides):
        OmegaConf.update(cfg, override.key_or_group, override.value(), force_add=True)
