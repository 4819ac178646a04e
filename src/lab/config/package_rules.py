"""Refuse a group option whose values Hydra put under a node that nothing reads, because its
file lacks the `# @package` line its group needs.

Hydra places an option's keys under its group's name unless the file's first line says
otherwise. An experiment is a diff of the whole config, so each experiment starts with
`# @package _global_`; without it (the classic Hydra pitfall), `experiment=mine` composed its
`optimizer: {lr: 1e-2}` as `experiment.optimizer.lr`, next to lab's untouched `optimizer.lr`:
the run trained with lab's defaults, and `lab.validate` said "config ok". The same holds for
every group in `GROUP_PACKAGES`: `experiment`, `sweep` and `debug` write into the whole config
(`_global_`), `strategy` and `precision` into the trainer node (`trainer`).

lab's composed config has no top-level node of those names (`conf/train.yaml` only picks
their options), so a non-empty one is such a file: `check_group_packages` refuses it before
anything loads, naming the option, the file where it can be found from Hydra's config sources,
the keys that landed there, and the line to add. `tests/test_config_silent_noops.py` checks
that every option lab ships in these groups starts with its group's line, and that no other
group's options declare a package of their own (the table is complete).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lab.config.flatten import flatten
from lab.errors import ConfigError

# group -> the package its options must declare on their first line (`# @package <this>`).
GROUP_PACKAGES: dict[str, str] = {
    "experiment": "_global_",
    "sweep": "_global_",
    "debug": "_global_",
    "strategy": "trainer",
    "precision": "trainer",
}
# How many of the stray keys the refusal names (an experiment may hold dozens).
_SHOWN_KEYS = 4
# Hydra's refusal of such a file whose defaults list overrides a group (`- override /model:
# roberta`, every recipe's shape): its defaults land under the group's node too, where no
# option of `model` is, and composing stops before any rule runs.
_MISPLACED_OVERRIDE = re.compile(
    r"In '(?P<group>[\w/]+)/(?P<option>[^']+)': Could not override "
    r"'(?P<target>[\w/]+)@(?P=group)\.[^']*'"
)


def check_group_packages(cfg: DictConfig) -> None:
    """Refuse a non-empty top-level node named after a group of `GROUP_PACKAGES`: an option
    of that group whose file lacks its `# @package` line."""
    for group, package in GROUP_PACKAGES.items():
        node = cfg.get(group) if isinstance(cfg, DictConfig) else None
        if isinstance(node, DictConfig) and len(node) > 0:
            raise ConfigError(misplaced_message(group, package, node))


def misplaced_message(group: str, package: str, node: DictConfig) -> str:
    """The refusal of `node`, the keys an option of `group` put under `group` instead of
    under `package`."""
    # Unresolved: a stray `${...}` must not fail here with another message.
    plain = OmegaConf.to_container(node, resolve=False)
    keys = list(flatten(plain, prefix=group))
    shown = ", ".join(keys[:_SHOWN_KEYS]) + (
        f" and {len(keys) - _SHOWN_KEYS} more" if len(keys) > _SHOWN_KEYS else ""
    )
    meant = [_meant(key, group, package) for key in keys[:_SHOWN_KEYS]]
    choice = _choice(group)
    option = f"{group}={choice}" if choice else f"an option of the {group} group"
    where = chosen_option_file(group, choice) if choice else None
    file = str(where) if where else f"its file ({group}/<option>.yaml)"
    return (
        f"{option} lacks the line '# @package {package}', so its values landed under a "
        f"node named '{group}' that nothing reads ({shown}) and the run would keep lab's "
        f"{', '.join(meant)}; add '# @package {package}' as the first line of {file}"
    )


def misplaced_override_line(message: str) -> str | None:
    """lab's words for Hydra's "In 'experiment/mine': Could not override 'model@experiment.
    model'" (an option of a `GROUP_PACKAGES` group without its `# @package` line, whose
    defaults override another group); None for any other message."""
    found = _MISPLACED_OVERRIDE.search(message)
    if found is None or found["group"] not in GROUP_PACKAGES:
        return None
    group, option = found["group"], found["option"]
    package = GROUP_PACKAGES[group]
    return (
        f"{group}={option} lacks the line '# @package {package}' (its first line: a comment "
        f"above it hides it), so Hydra placed it under a node named '{group}', where its "
        f"defaults' 'override /{found['target']}' cannot apply; add '# @package {package}' "
        f"as the first line of {group}/{option}.yaml"
    )


def _meant(key: str, group: str, package: str) -> str:
    """Where `key` (under `group`) would have gone with the right package line."""
    rest = key.removeprefix(f"{group}.")
    return rest if package == "_global_" else f"{package}.{rest}"


def _choice(group: str) -> str | None:
    """The option of `group` this config was composed with, where Hydra knows it."""
    try:
        from hydra.core.hydra_config import HydraConfig

        choice = HydraConfig.get().runtime.choices.get(group)
    except Exception:  # not composed by Hydra in this process (a recorded config)
        return None
    return str(choice) if choice is not None else None


def chosen_option_file(group: str, choice: str) -> Path | None:
    """The file Hydra read `group=choice` from: the first of its file sources that holds it
    (a `--config-dir`, `hydra.searchpath`, lab's `conf/`, lab's `experiments/`/`sweeps/`)."""
    from hydra.core.hydra_config import HydraConfig

    try:
        sources: Any = HydraConfig.get().runtime.config_sources
    except Exception:  # not composed by Hydra in this process
        return None
    from hydra_plugins.lab_plugins.group_dirs import GROUP_FOLDERS

    for source in sources:
        schema, path = source.get("schema"), source.get("path")
        if not path or schema not in ("file", "lab-groups"):
            continue
        folder = GROUP_FOLDERS.get(group) if schema == "lab-groups" else group
        if folder is None:
            continue  # lab's experiments/ and sweeps/ source serves those two groups only
        candidate = Path(path) / folder / f"{choice}.yaml"
        if candidate.is_file():
            return candidate
    return None
