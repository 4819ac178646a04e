"""The setup a study was started with, recorded in it, and held to every later run.

A study compares its trials with each other, so they must differ only in the values the
sampler chose. Three things make up that setup, each kept in the study's user attrs when the
study is created:

    lab:fixed_overrides   the plain overrides every trial shares (`data.batch_size=8`)
    lab:search_space      each searched parameter and its Optuna distribution (as JSON)
    lab:trial_setup       a trial's composed config as the files give it, flattened, less the
                          searched keys (`trial_setup`)

Continuing the study with different ones is refused in one line naming the keys that differ
(added, removed, changed) and the ways out. The third catches what the command line does not
show: a sweep file edited between two runs of the same command (other data, more epochs: s29b
F1, where a trial on another dataset became the study's best), a config file of the user's
edited, or a lab whose defaults changed (a key a newer lab adds, or an older one lacked, counts
only with a value that does something: not null, false, "" or []). It is compared as written,
interpolations unresolved (`${data.max_length}` stays that text): what a trial resolves them
to depends on its own values and machine. Not part of the setup:

* `paths.*` overrides: where the outputs go, not what is trained. Workers of one shared
  storage may write under their own output roots (a scratch directory per machine).
* `logger` (the group and its keys): where the metrics are mirrored, not what is trained (the
  study's objective comes from the run itself). A worker on a machine without W&B may log to
  CSV, and a study continued with `logger=none` is not refused key by key (s29c F3).
* `hydra.sweeper.enqueue_trials`: points to try first, inside the space (checked against it
  when they are given); the sampler's seed: how points are drawn, not which may be.
* `hydra.*` (the sweep's own settings: `n_trials`, the sampler) and, in a trial's config, the
  searched keys. A searched config group (`model=choice(bert, mine)`) is held option by
  option instead: each option's content as it composes (`option_setup`), keyed
  `model=mine:<key>`, so an option's own file edited is refused too.
* the search space or trial setup of a study created before lab recorded them: such a study
  is continued as before, with what it recorded checked alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lab.errors import ConfigError
from lab.sweeps.results import RUN_DIR
from lab.sweeps.space_checks import describe
from lab.sweeps.storage import redact, storage_url

FIXED_OVERRIDES = "lab:fixed_overrides"  # study user attr: the overrides it was started with
SEARCH_SPACE = "lab:search_space"  # study user attr: {parameter: its distribution as JSON}
TRIAL_SETUP = "lab:trial_setup"  # study user attr: {dotted key: value}, `trial_setup`
# Differences named in the refusal before "and N more".
SHOWN_DIFFERENCES = 8


# Config keys (and what is under them) that say where outputs go or which are drawn, not
# what is trained: a study goes on whichever a trial's run writes (`plots`, a key added
# after studies were started, is no other setup either).
OUTPUTS = ("paths", "logger", "plots")


def setup_overrides(fixed: list[str]) -> list[str]:
    """The fixed overrides that are part of the training setup, sorted: all but those of
    `paths.*`, `logger` and `plots`."""
    return sorted(o for o in fixed if not _is_output_location(o))


def _is_output_location(override: str) -> bool:
    key = override.split("=", 1)[0].lstrip("+~")
    return any(key == out or key.startswith(f"{out}.") for out in OUTPUTS)


def trial_setup(composed: Any, searched: list[str]) -> dict[str, Any]:
    """`composed` (a trial's config) as `{dotted key: value}`, interpolations unresolved,
    lists as JSON text, without `hydra`, `paths`, `logger`, `plots` and the `searched` keys or
    what is under them (see the module)."""
    from omegaconf import OmegaConf

    from lab.config.flatten import flatten

    tree = OmegaConf.to_container(composed, resolve=False)
    assert isinstance(tree, dict)
    left_out = ("hydra", *OUTPUTS, *searched)
    return {
        key: _stored(value)
        for key, value in flatten(tree, lists="json").items()
        if not any(key == out or key.startswith(f"{out}.") for out in left_out)
    }


def option_setup(composed: Any, group: str, option: Any) -> dict[str, Any]:
    """The searched config group `group` as option `option` composes it in `composed`, keyed
    `<group>=<option>:<dotted key>`: a study holds each option's content, so an option's file
    edited is a change of setup like any other (s29c F2)."""
    from omegaconf import OmegaConf

    from lab.config.flatten import flatten

    node = OmegaConf.select(composed, group)
    tree = OmegaConf.to_container(node, resolve=False) if node is not None else {}
    flat = flatten(tree, lists="json") if isinstance(tree, dict) else {"": tree}
    return {f"{group}={option}:{key}": _stored(value) for key, value in flat.items()}


def _stored(value: Any) -> Any:
    """`value` as a study's user attrs store it (JSON): as it is, or its text."""
    return value if isinstance(value, str | int | float | bool | None) else str(value)


def record_setup(study: Any, plan: Any) -> None:
    """Keep `plan`'s fixed overrides, search space and trial setup in the new `study`."""
    from optuna.distributions import distribution_to_json

    study.set_user_attr(FIXED_OVERRIDES, setup_overrides(plan.space.fixed))
    if plan.trial_setup is not None:
        study.set_user_attr(TRIAL_SETUP, plan.trial_setup)
    study.set_user_attr(
        SEARCH_SPACE,
        {
            name: json.loads(distribution_to_json(dist))
            for name, dist in plan.space.distributions.items()
        },
    )


def check_same_setup(study: Any, plan: Any) -> None:
    """Refuse to continue `study` with other fixed overrides or another search space."""
    from lab.config.optimized_mode import recorded_direction_note

    recorded = setup_overrides(study.user_attrs.get(FIXED_OVERRIDES, []))
    overrides = _override_differences(recorded, setup_overrides(plan.space.fixed))
    space = None
    if (recorded_space := study.user_attrs.get(SEARCH_SPACE)) is not None:
        space = _space_differences(_distributions(recorded_space), plan.space.distributions)
    found = [
        f"{kind}: {detail}"
        for kind, detail in (("other overrides", overrides), ("another search space", space))
        if detail
    ]
    files, restore = "", ""
    recorded_setup = study.user_attrs.get(TRIAL_SETUP)
    if not found and recorded_setup is not None and plan.trial_setup is not None:
        # Only where the command is the same: other overrides change the composed config too.
        files, keys = _setup_differences(recorded_setup, plan.trial_setup)
        if files:
            found = [f"other configs, with the same command: {files}"]
            restore = _how_to_restore(plan, keys)
            if "optimized_mode" in keys:  # a loss maximized before 2026-12-07 (s32d G3)
                subject = "its trials chose their"
                restore = recorded_direction_note(recorded_setup, subject) or restore
    if not found:
        return
    ways = [
        f"rerun with the original overrides ({' '.join(recorded)})" if overrides else "",
        "rerun with the study's search space" if space else "",
        restore,
        "set hydra.sweeper.study_name=<new name> to start a separate study",
        f"remove this one ({removal(plan, study)}) to start it again under its name",
    ]
    raise ConfigError(
        f"study {plan.study_name!r} in {where(plan)} was started with {'; and with '.join(found)}"
        f". Continuing would mix two setups in one study: {_either([w for w in ways if w])}"
    )


def _setup_differences(recorded: dict[str, Any], now: dict[str, Any]) -> tuple[str, list[str]]:
    """`data.max_train_samples was 100, is 400; ...` for the keys whose value differs, is new
    or is gone (a key neither reads is none: `lab.run_dir.config_upgrade.unread_key`), the
    first `SHOWN_DIFFERENCES` of them (sorted), and those keys; ("", []) when none differ."""
    from lab.run_dir.config_upgrade import unread_key
    from lab.sweeps.space_checks import show_value

    parts, keys = [], []
    for key in sorted(set(recorded) | set(now)):
        if unread_key(key, recorded, now):
            continue
        if key not in now:
            if not _inert(recorded[key]):
                parts.append(f"{key} is gone (was {show_value(recorded[key])})")
        elif key not in recorded:
            if not _inert(now[key]):
                parts.append(f"{key} is new ({show_value(now[key])})")
        elif recorded[key] != now[key]:
            parts.append(f"{key} was {show_value(recorded[key])}, is {show_value(now[key])}")
        else:
            continue
        keys.append(key)
    if len(parts) > SHOWN_DIFFERENCES:
        parts = [*parts[:SHOWN_DIFFERENCES], f"and {len(parts) - SHOWN_DIFFERENCES} more"]
    return "; ".join(parts), keys


def _how_to_restore(plan: Any, keys: list[str]) -> str:
    """`restore the config files as they were (the files that compose these keys: ...)`, and
    where the study's trials ran under other lab code, how to continue with that code (a lab
    whose defaults changed: s29c F4)."""
    from lab.run_dir.code_version import other_code_trials
    from lab.sweeps.setup_files import files_behind

    files = files_behind(keys, getattr(plan, "setup_files", None) or {})
    named = f" (the files that compose these keys: {'; '.join(files)})" if files else ""
    other_code = other_code_trials(plan.trial_dir(0).parent)
    code = f" ({other_code})" if other_code else ""
    return f"restore the config files as they were{named}{code}"


def _inert(value: Any) -> bool:
    """A value a key new in (or gone from) the composed config may hold without changing what
    a trial trains: null, false, empty text or an empty list (a lab version that adds an
    option adds it off: `model.add_tokens: []`). Any other value of a new or gone key counts."""
    return value is None or value is False or value in ("", "[]")


def _either(ways: list[str]) -> str:
    """`a, b, or c`."""
    return ", ".join(ways[:-1]) + ", or " + ways[-1]


def _override_differences(recorded: list[str], now: list[str]) -> str:
    """`this command adds a=1; it lacks a=2`, or "" when the two lists are the same."""
    added = [o for o in now if o not in recorded]
    dropped = [o for o in recorded if o not in now]
    return "; ".join(
        part
        for part in (
            f"this command adds {', '.join(added)}" if added else "",
            f"it lacks {', '.join(dropped)}" if dropped else "",
        )
        if part
    )


def _distributions(recorded: dict[str, Any]) -> dict[str, Any]:
    from optuna.distributions import json_to_distribution

    return {name: json_to_distribution(json.dumps(value)) for name, value in recorded.items()}


def _space_differences(recorded: dict[str, Any], now: dict[str, Any]) -> str:
    """The searched keys this command adds, lacks or searches differently, in words; ""
    when the spaces are the same (a choice's order counts: the samplers see another space)."""
    added = [f"{k} ({describe(d)})" for k, d in now.items() if k not in recorded]
    dropped = [f"{k} ({describe(d)})" for k, d in recorded.items() if k not in now]
    changed = [
        f"{k} (the study searched {describe(recorded[k])}, this command {describe(d)})"
        for k, d in now.items()
        if k in recorded and recorded[k] != d
    ]
    return "; ".join(
        part
        for part in (
            f"this command adds {', '.join(added)}" if added else "",
            f"it lacks {', '.join(dropped)}" if dropped else "",
            f"it changes {', '.join(changed)}" if changed else "",
        )
        if part
    )


def where(plan: Any) -> str:
    """Where the study is: its sweep directory (the default storage), or its storage."""
    if plan.storage_url == storage_url(None, plan.sweep_dir):
        return str(plan.sweep_dir)
    return f"storage {redact(plan.storage_url)}"


def removal(plan: Any, study: Any = None) -> str:
    """How to remove the study: its sweep directory, or its entry in a storage of its own and
    the sweep directories its trials ran in (from other output roots too: this command's own
    may not exist, and naming it would send the user to an empty path)."""
    if plan.storage_url == storage_url(None, plan.sweep_dir):
        return f"rm -r {plan.sweep_dir}"
    delete = (
        f"optuna delete-study --study-name {plan.study_name} --storage {redact(plan.storage_url)}"
    )
    folders = {plan.sweep_dir} if plan.sweep_dir.exists() else set()
    for trial in study.get_trials(deepcopy=False) if study is not None else []:
        if run_dir := trial.user_attrs.get(RUN_DIR):
            folders.add(Path(run_dir).parents[1])  # <sweep dir>/trials/<number>
    if not folders:
        return delete
    return f"{delete}, then rm -r {' '.join(str(f) for f in sorted(folders))}"
