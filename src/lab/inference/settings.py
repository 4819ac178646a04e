"""`task.module.<key>=` and `task.predictor.<key>=` of `lab.predict`, `lab.serve` and `lab.demo`:
how a head turns its model's outputs into results, changed without retraining.

A decoding setting is often tuned after training: extractive QA's `null_score_diff_threshold`
on the validation split with `lab.eval`, a multi-label run's `threshold`, a seq2seq run's
`num_beams`. The predicting tools take the same override, so the value tuned is the value
served. Only what the head's predictor reads can change (`Predictor.settings`, the
`task.module` keys it reads; any argument of the run's own `task.predictor`, such as masked
LM's `top_k`): a setting that changes nothing at prediction time (`class_weights`, a training
loss) is refused with the valid ones named, not silently ignored. Values are read as
`lab.train` reads them (Hydra's grammar) and held to the same ranges.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig

from lab.errors import ConfigError

GROUP = "task"  # the option group these overrides come in (`parse_options`' passthrough)


def valid_settings(cfg: DictConfig, reads: tuple[str, ...]) -> list[str]:
    """The overridable keys of a run whose predictor reads `reads` of its `task.module`:
    those the run's `task.module` has, then every argument of its `task.predictor`."""
    module = cfg.task.get("module") or {}
    predictor = cfg.task.get("predictor") or {}
    return [f"task.module.{key}" for key in reads if key in module] + [
        f"task.predictor.{key}" for key in predictor if not str(key).startswith("_")
    ]


def change_settings(
    cfg: DictConfig, reads: tuple[str, ...], overrides: list[str], head: str
) -> None:
    """Apply `overrides` (`task.module.<key>=<value>`, `task.predictor.<key>=<value>`) to the
    run's config `cfg`; a key the predictor does not read, or a value out of its range, is a
    `ConfigError` naming the valid keys."""
    from lab.config.ranges import check_keys
    from lab.eval_settings import set_overrides

    valid = valid_settings(cfg, reads)
    for override in overrides:
        key = override.split("=", 1)[0]
        if key not in valid:
            offer = f"valid: {', '.join(valid)}" if valid else "it has none to change"
            raise ConfigError(
                f"'{key}' is not a setting this run's predictions read ({head}); {offer}"
            )
    set_overrides(cfg, overrides)
    check_keys(cfg, [override.split("=", 1)[0] for override in overrides])


def settings_line(overrides: list[str]) -> str:
    """What a tool prints of the settings it changed (empty when none)."""
    return f"Settings: {' '.join(overrides)}" if overrides else ""


def generation_line(predictor: Any) -> str:
    """`Generation: num_beams=2, max_new_tokens=16`: how a generating head's predictor
    generated (the run's settings, or those given), which lab.predict used to leave unsaid
    unless changed (s28b L1)."""
    beams, tokens = predictor.num_beams, predictor.max_new_tokens
    return f"Generation: num_beams={beams}, max_new_tokens={tokens}"


def reads_of(make: Any) -> tuple[str, ...]:
    """`Predictor.settings` of the class a `task.predictor` partial builds."""
    target = getattr(make, "func", make)
    return tuple(getattr(target, "settings", ()))
