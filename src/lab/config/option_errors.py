"""Hydra's words for an option of a config group it cannot find, as lab's one line.

Hydra lists a missing option's alternatives one per line ("Could not find 'model/robertaa'"),
names none for an option inside a list (`logger=[csv,tensorbord]`: "Could not load
'logger/tensorbord'"), and for a value YAML reads as no name (`precision=64`, a number)
names neither the group nor its options. Each becomes one line: the closest option first
(`Did you mean logger=tensorboard?`; HF's name of a lab option gets that option:
`Did you mean scheduler=constant? (HF's constant_with_warmup)`, `lab.config.hf_names`), then
the group's options, read from its folder.
Hydra's lexer error for a non-ASCII value gets the quoted form (`override_quoting`).
"""

from __future__ import annotations

import difflib
import re
import sys

#: Lightning's names for the precision options (`precision=16` means `16-mixed`)
PRECISION_ALIASES = {"32": "32-true", "16": "16-mixed", "bf16": "bf16-mixed"}


# Hydra's words for a group override whose value YAML reads as no name (`precision=64`, a
# number; `precision=null`), which name neither the group nor its options.
NOT_AN_OPTION_NAME = "Config group override must be a string or a list"


def option_name_hints(overrides: list[str]) -> list[str]:
    """For each `<group>=<value>` override whose value is no option name of that group (a
    number, null), one line with the group's options."""
    from lab.config.paths import conf_dir

    lines = []
    for override in overrides:
        group, sep, value = override.partition("=")
        options = group_options(group) if sep and (conf_dir() / group).is_dir() else []
        if options and value not in options:
            aliases = f" (or {', '.join(PRECISION_ALIASES)})" if group == "precision" else ""
            listed = ", ".join(options)
            lines.append(
                f"{group}={value} is not an option of '{group}'; options: {listed}{aliases}"
            )
    return lines


MISSING_OPTION = re.compile(
    r"^(?P<head>.*Could not find '(?P<group>[\w/.-]+)/(?P<name>[^']+)')\s*"
    r"Available options in '[^']+':(?P<options>(?:\s+\S+)+)\s*$",
    re.S,
)


# Hydra's words for an option missing from a list of a group's options (`logger=[csv,x]`),
# which names no options: they are read from the group's folder.
UNLOADABLE_OPTION = re.compile(
    r"^(?P<head>.*Could not load '(?P<group>[\w/.-]+)/(?P<name>[^']+)')\.?\s*$", re.S
)


def missing_option_line(message: str) -> str:
    """Hydra's "Could not find 'model/robertaa'" and its list of options, one per line, as
    one line: the closest option first (`Did you mean model=roberta?`), then all of them;
    "Could not load 'logger/tensorbord'" (an option in a list) gets the same, the options
    read from the group's folder; Hydra's lexer error for a non-ASCII value names the quoted
    form (`lab.config.override_quoting`); any other message as it is."""
    from lab.config.hf_names import hf_option_hint
    from lab.config.override_quoting import non_ascii_override_line
    from lab.config.package_rules import misplaced_override_line

    found = MISSING_OPTION.match(message.strip()) or UNLOADABLE_OPTION.match(message.strip())
    if found is None:
        return (
            misplaced_override_line(message)
            or non_ascii_override_line(message)
            or searched_hydra_key_line(message)
            or message
        )
    group, name = found["group"], found["name"]
    options = found.groupdict().get("options")
    options = options.split() if options else group_options(group)
    if not options:
        return message
    close = difflib.get_close_matches(name, options, n=1)
    maybe = f" Did you mean {group}={close[0]}?" if close else ""
    if hf := hf_option_hint(group, name):  # HF's name of a lab option beats a look-alike
        maybe = f" {hf}"
    # no close name among lab's: perhaps one of the user's own, from a folder not given
    hint = maybe or _own_folder_hint(group)
    return f"{found['head']}.{hint} Options in '{group}': {', '.join(options)}"


def _own_folder_hint(group: str) -> str:
    """Where the command names no config folder of the user's: how to give one (an option
    of your own, `experiment=my_exp` from your project's conf/, was listed among lab's alone:
    s27d L2)."""
    given = " ".join(sys.argv[1:])
    if any(flag in given for flag in ("--config-dir", "-cd ", "hydra.searchpath")):
        return ""
    return f" (An option of your own: --config-dir <your folder>, holding {group}/.)"


def group_options(group: str) -> list[str]:
    """The options of config group `group` (`logger`, `hydra/launcher`): its YAML files."""
    from lab.config.paths import conf_dir

    return sorted(path.stem for path in (conf_dir() / group).glob("*.yaml"))


# Hydra's refusal of a sweep over one of its own keys, e.g. a search space written on the
# command line under the sweep file's `hydra.sweeper.params.` (s29b F7).
HYDRA_SWEEP = re.compile(
    r"Sweeping over Hydra's configuration is not supported : "
    r"'(?P<line>hydra\.sweeper\.params\.[^=]+=.*)'$",
    re.DOTALL,
)
SEARCH_SPACE_PREFIX = "hydra.sweeper.params."


def searched_hydra_key_line(message: str) -> str | None:
    """For a search space given on the command line as `hydra.sweeper.params.<key>=...`
    (where a sweep file writes it), the override without that prefix; None otherwise."""
    found = HYDRA_SWEEP.match(message.strip())
    if found is None:
        return None
    given = found["line"]
    plain = given[len(SEARCH_SPACE_PREFIX) :]
    return (
        f"'{given}': on the command line a searched key goes without "
        f"'{SEARCH_SPACE_PREFIX}' (a sweep file writes it under hydra.sweeper.params): "
        f"'{plain}'"
    )
