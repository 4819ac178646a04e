"""The sampler and pruner settings of `hydra.sweeper`, checked before a sweep makes anything.

The sampler and the pruner are config groups (`conf/hydra/sweeper/<group>/`): set like a value
(`hydra.sweeper.sampler=random`) Hydra took them as a string, and a sweep file's setting of
one pruner (`pruner.n_startup_trials`) stays when the command picks another. Each is said in
one line here (`LabOptunaSweeper._check_settings` raises it), not in a Hydra traceback.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig


def group_choice_problem(group: str, value: Any) -> str:
    """The message for `hydra.sweeper.<group>=<value>`: the sampler and the pruner are config
    groups (files in conf/hydra/sweeper/<group>/), chosen with a slash, not set as a value."""
    from lab.config.paths import conf_dir

    options = sorted(p.stem for p in (conf_dir() / "hydra" / "sweeper" / group).glob("*.yaml"))
    shown = "null" if value is None else str(value)
    choice = shown if shown in options else "<option>"
    return (
        f"hydra.sweeper.{group}={shown}: {group} is a config group, chosen with slashes: "
        f"hydra/sweeper/{group}={choice} (options: {', '.join(options)}); its settings are "
        f"values: hydra.sweeper.{group}.<setting>=..."
    )


def setting_problem(group: str, node: Any, cfg: DictConfig) -> str | None:
    """A setting of the chosen sampler or pruner that its class does not take, in words: a
    sweep file's `pruner.n_startup_trials` (the median pruner's) stays when the command picks
    `hydra/sweeper/pruner=none`, and Optuna's NopPruner refused it in a Hydra traceback."""
    import difflib
    import inspect

    from hydra.utils import get_object

    target = node.get("_target_")
    try:
        parameters = inspect.signature(get_object(str(target))).parameters
    except Exception:  # no such class: instantiating it says so in Hydra's words
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return None
    settings = [str(k) for k in node if not str(k).startswith("_")]
    for key in settings:
        if key in parameters or (group == "sampler" and key == "search_space"):
            continue
        choice = cfg.hydra.runtime.choices.get(f"hydra/sweeper/{group}", target)
        valid = ", ".join(sorted(parameters)) or "none"
        close = difflib.get_close_matches(key, list(parameters), n=1)
        maybe = f"; did you mean hydra.sweeper.{group}.{close[0]}?" if close else ""
        return (
            f"hydra.sweeper.{group}.{key} is not a setting of {group} {choice} ({target}; "
            f"its settings: {valid}){maybe}; a sweep file may set it for another {group}: "
            f"drop it with ~hydra.sweeper.{group}.{key}"
        )
    return None
