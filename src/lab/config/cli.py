"""Command-line conveniences around Hydra shared by lab's entry points.

* Lightning's short precision names work as group options: `precision=32` / `16` / `bf16`
  (Hydra would parse `32` as an integer, which no config group accepts).
* `<group>=null` (or `None`) means the group's `none` option where it has one (`none.yaml`: no
  scheduler, adapter, callbacks, loggers); Hydra itself answers it with a traceback.
* When Hydra rejects an override of an unknown key, say which keys are valid there.
* Exit codes: a user error (a bad option, key or value; a `LabError`) exits 2, as every lab
  tool does; Hydra's own exit for such errors is 1, the code of a crash. A run tool stopped by
  a signal exits 128 + its number with one line saying what it left (`lab.tool_interrupts`).
"""

from __future__ import annotations

import difflib
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from functools import partial

from omegaconf import DictConfig

from lab.config.added_keys import plus_as_set
from lab.config.callback_rules import unadded_callback_line
from lab.config.hf_values import HintContext
from lab.config.key_hints import nested_key, not_a_key, same_leaf_key
from lab.config.option_errors import (
    NOT_AN_OPTION_NAME,
    PRECISION_ALIASES,
    missing_option_line,
    option_name_hints,
)
from lab.errors import lab_error_in

NULL_SPELLINGS = ("null", "none")


def normalize_argv(argv: list[str]) -> list[str]:
    """Rewrite `precision=<Lightning alias>` to the config option of that name,
    `<group>=null` to `<group>=none` for a group with a `none` option (`scheduler=null`: no
    scheduler, a constant rate), and a `+` on a key lab's YAML has since set as `++`
    (`lab.config.added_keys`)."""
    from lab.config.user_dirs import has_option, take_config_dirs

    entries = take_config_dirs(argv, strict=False)[0]  # a group of your own may have `none`
    out = []
    for arg in map(plus_as_set, argv):  # `+trainer.limit_val_batches=1` as before (s31c F7)
        key, sep, value = arg.partition("=")
        if sep and key == "precision" and value in PRECISION_ALIASES:
            arg = f"precision={PRECISION_ALIASES[value]}"
        elif (
            sep
            and value.lower() in NULL_SPELLINGS
            and key.isidentifier()
            and has_option(key, "none", entries)
        ):
            arg = f"{key}=none"
        out.append(arg)
    return out


def unknown_key_hints(
    overrides: list[str], config_dir: str, config_name: str, config_dirs: Sequence[str] = ()
) -> list[str]:
    """For each `a.b.key=value` override whose key does not exist, a line naming valid keys.

    Composes the config with only the group choices of `overrides` (cheap: no weights), so it
    sees exactly the keys the failing command would have seen, your config folders first
    (`config_dirs`, and the `--config-dir`s of `overrides`: `lab.config.user_dirs`).
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    from lab.config.resolvers import register_resolvers
    from lab.config.user_dirs import searched_first, take_config_dirs

    register_resolvers()  # the hints resolve values (`optimized_mode`'s resolver): any caller
    entries, overrides = take_config_dirs(overrides, strict=False)

    # hydra.sweeper.* is checked too (`hydra.sweeper.n_trails`): the sweep's own settings.
    plain = [
        o
        for o in overrides
        if "=" in o
        and not o.startswith(("+", "~", "-"))
        and (not o.startswith("hydra.") or o.startswith("hydra.sweeper."))
    ]
    choices = [o for o in plain if "." not in o.split("=", 1)[0]]
    hints: list[str] = []
    try:
        GlobalHydra.instance().clear()
        with (
            searched_first([*config_dirs, *entries]),
            initialize_config_dir(config_dir=config_dir, version_base="1.3"),
        ):
            try:
                cfg = compose(config_name, overrides=choices, return_hydra_config=True)
            except Exception:
                # A group choice is wrong (Hydra's message says so and lists the options), or
                # a top-level key is no key at all (`sed=3`): Hydra would advise `+sed=3`,
                # which adds a key nothing reads. Named here against the default config.
                root = compose(config_name, overrides=[], return_hydra_config=True)
                groups = {str(g) for g in root.hydra.runtime.choices if "/" not in str(g)}
                keys = sorted(({str(k) for k in root} | groups) - {"hydra"})
                context = HintContext.composing(partial(compose, config_name), groups, plain)
                return [
                    not_a_key("", key, keys, nested_key(root, key), hf=context)
                    for key in (o.partition("=")[0] for o in choices)
                    # A group path (`hydra/sweeper/sampler=gird`) is a group: Hydra's own
                    # message names its options.
                    if key not in keys and "/" not in key
                ]
    except Exception:
        return hints
    finally:
        GlobalHydra.instance().clear()
    for override in plain:
        key = override.split("=", 1)[0]
        if "." not in key or OmegaConf.select(cfg, key, default="<missing>") != "<missing>":
            continue
        parent_key, _, leaf = key.rpartition(".")
        parent = OmegaConf.select(cfg, parent_key)
        if parent is None and (
            moved := packaged_under(cfg, override) or unadded_callback_line(cfg, override)
        ):
            hints.append(moved)
            continue
        head = key.split(".", 1)[0]
        if head not in cfg:  # `optimiser.lr`: the first name is the typo
            groups = {str(g) for g in cfg.hydra.runtime.choices if "/" not in str(g)}
            names = ({str(k) for k in cfg} | groups) - {"hydra"}
            hints.append(not_a_key("", head, sorted(names)))
            continue
        if not isinstance(parent, DictConfig):
            continue
        added = added_argument_hint(parent, parent_key, leaf, override)
        valid = [str(k) for k in parent]
        elsewhere = same_leaf_key(cfg, parent_key, leaf)  # `data.threshold`: task.module's
        context = HintContext.of(cfg, plain)  # an HF name's lab key, said with its value
        hints.append(added or not_a_key(parent_key, leaf, valid, elsewhere=elsewhere, hf=context))
    return hints


def packaged_under(cfg: DictConfig, override: str) -> str:
    """For `strategy.stage=3`: a group packaged under another key (the strategy YAMLs fill
    `trainer.strategy`) is set there; the line says where, or "" when no such node exists."""
    from omegaconf import OmegaConf

    key, _, value = override.partition("=")
    head, _, rest = key.partition(".")
    for name in cfg:
        top = str(name)
        if top == "hydra":
            continue
        node = OmegaConf.select(cfg, f"{top}.{head}", default="<missing>")
        if isinstance(node, str) and node != "<missing>":  # `trainer.strategy: auto`
            return (
                f"'{key}' is not a config key: the {head} group's options live under "
                f"{top}.{head}, which is '{node}' here (no options): choose a {head} that has "
                f"them first, e.g. {head}=<name> {top}.{key}={value}"
            )
        if isinstance(node, DictConfig):
            leaf = rest.rpartition(".")[2]
            known = OmegaConf.select(node, rest, default="<missing>") != "<missing>"
            maybe = f" ({leaf} is not among them: {', '.join(map(str, node))})" if not known else ""
            return (
                f"'{key}' is not a config key: the {head} group's options live under "
                f"{top}.{head}: {top}.{key}={value}{maybe}"
            )
    return ""


def added_argument_hint(parent: object, parent_key: str, leaf: str, override: str) -> str:
    """Where `parent` builds an object (`_target_`) whose constructor takes `leaf` though
    lab's YAML does not set it, how to pass it: with Hydra's `+` (`+trainer.overfit_batches=10`).
    "" where it takes no such argument (then the key is a typo: `not_a_key`). A data module's
    options all have defaults in its YAML (tested): a `data.` key it lacks is a typo, said
    without importing the data module (and Lightning: 4 s)."""
    import inspect

    from lab.config.rules import LAB_TRAINER_TARGET, trainer_argument_names

    target = parent.get("_target_") if isinstance(parent, DictConfig) else None
    if not isinstance(target, str) or parent_key == "data":
        return ""
    if target == LAB_TRAINER_TARGET:  # **kwargs: Lightning's Trainer's (read, not imported)
        owner, takes = "lightning.pytorch.Trainer", leaf in trainer_argument_names()
    else:
        owner = target
        try:
            from hydra.utils import get_object

            parameters = inspect.signature(get_object(target)).parameters
        except Exception:  # an optional package missing, or no signature: no hint
            return ""
        takes = leaf in parameters and parameters[leaf].kind is not inspect.Parameter.VAR_KEYWORD
    if not takes:
        return ""
    return (
        f"'{parent_key}.{leaf}' is not in lab's {parent_key} config, but {owner} takes "
        f"`{leaf}`: add it with Hydra's `+`: +{override}"
    )


def config_error_lines(
    error: BaseException,
    overrides: list[str],
    config_dir: str,
    config_name: str,
    config_dirs: Sequence[str] = (),
) -> list[str]:
    """What to print for a config error: for keys that do not exist, one line each naming
    the valid keys (Hydra's own advice, `+key=value`, would add a key nothing reads); else
    the error's own message. `config_dirs`: your config folders (`unknown_key_hints`)."""
    hints = unknown_key_hints(overrides, config_dir, config_name, config_dirs)
    message = user_error_message(error) or str(error)
    if message.startswith(NOT_AN_OPTION_NAME):
        hints = hints or option_name_hints(overrides)
    return [f"error: {line}" for line in hints or [missing_option_line(message)]]


def run_hydra_app(app: Callable[[], object], config_dir: str, config_name: str) -> None:
    """Run a `@hydra.main` app with normalized argv.

    Hydra prints a config error (an unknown option or key, an override it cannot parse) in
    several lines of its own, with advice to set `HYDRA_FULL_ERROR`, and exits 1, the code of
    a crash. Here Hydra raises instead (`HYDRA_FULL_ERROR=1` while the app runs, unless the
    user set it): a config error is printed as lab's `error: ...` (`config_error_lines`) and
    exits 2; anything else keeps its traceback and exits 1. Your `--config-dir` folders are
    searched before lab's (`lab.config.user_dirs`); one that is not there is refused.
    """
    from lab.compat.torchmetrics import scipy_signal_deferred
    from lab.config.help_groups import internal_groups_hidden
    from lab.config.user_dirs import command_entries, searched_first, take_config_dirs
    from lab.errors import EXIT_USER_ERROR, LabError

    sys.argv = [sys.argv[0], *normalize_argv(sys.argv[1:])]
    try:  # left in sys.argv: the record's command and the DDP ranks' commands keep them
        entries = command_entries(sys.argv[1:])
    except LabError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(EXIT_USER_ERROR) from None
    if any(arg.partition("=")[0] == "--info" for arg in sys.argv[1:]):  # records nothing
        # lab's plugin searches your folders first; Hydra's own entry for them (provider
        # `command-line`) would list each twice in `--info searchpath` (s31f F9)
        sys.argv = [sys.argv[0], *take_config_dirs(sys.argv[1:], strict=False)[1]]
    worded_here = "HYDRA_FULL_ERROR" not in os.environ
    if worded_here:
        os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        # scipy: 0.65 s, 60 MB less; --help: lab's own internal groups left out
        hidden = internal_groups_hidden(sys.argv[1:])
        with scipy_signal_deferred(), searched_first(entries), hidden:
            app()
    except SystemExit as exit_:
        # The user's HYDRA_FULL_ERROR unset? Hydra printed and exits 1 with the error as context.
        if exit_.code == 1 and is_config_error(exit_.__context__):
            for hint in unknown_key_hints(sys.argv[1:], config_dir, config_name):
                print(hint, file=sys.stderr)
            raise SystemExit(EXIT_USER_ERROR) from None
        raise
    except Exception as err:
        from lab.config.run_dir_failures import run_dir_not_made

        unmade = run_dir_not_made(err)
        if unmade:
            print(f"error: {unmade}", file=sys.stderr)
            raise SystemExit(EXIT_USER_ERROR) from None
        if not (worded_here and is_config_error(err)):
            raise
        for line in config_error_lines(err, sys.argv[1:], config_dir, config_name):
            print(line, file=sys.stderr)
        raise SystemExit(EXIT_USER_ERROR) from None
    finally:
        if worded_here:
            os.environ.pop("HYDRA_FULL_ERROR", None)


def is_config_error(error: BaseException | None) -> bool:
    """Whether `error`, which ended a Hydra app, is the user's doing: a `LabError` (in a sweep's
    job), or a Hydra or OmegaConf error raised while composing the config, not from inside
    the job (there it is lab's bug)."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    if error is None:
        return False
    if lab_error_in(error) is not None:
        return True
    # Hydra's override parser raises a plain ValueError for `precision=64` (a number where a
    # group option's name goes).
    worded = isinstance(error, ValueError) and str(error).startswith(NOT_AN_OPTION_NAME)
    if not (worded or isinstance(error, (HydraException, OmegaConfBaseException))):
        return False
    frames = traceback.extract_tb(error.__traceback__)
    return not any(frame.name == "run_job" for frame in frames)  # Hydra's call of the job


def user_error_message(error: BaseException) -> str | None:
    """The message of a user error met by a run tool, or None for a bug:
    a `LabError`, or Hydra refusing a config option or override (`lab.eval data=...`)."""
    from hydra.errors import ConfigCompositionException, OverrideParseException
    from omegaconf.errors import OmegaConfBaseException

    found = lab_error_in(error)
    if found is not None:
        return str(found)
    if isinstance(error, (ConfigCompositionException, OverrideParseException)):
        cause = error.__cause__
        detail = str(cause).splitlines()[0] if isinstance(cause, OmegaConfBaseException) else ""
        # Hydra's list of its config search path says nothing about the user's mistake.
        text = missing_option_line(str(error).split("\nConfig search path:", 1)[0].rstrip())
        return f"{text}\n{detail}" if detail else text
    return None


def parse_options(
    argv: list[str],
    options: dict[str, str],
    *,
    required: tuple[str, ...] = (),
    passthrough: tuple[str, ...] = (),
    usage: str = "",
) -> tuple[dict[str, str], list[str]]:
    """Parse `key=value` arguments of lab's run-directory tools (`lab.eval`, `lab.predict`...).

    `options` maps each valid key to its help text. Keys equal to, or under, a `passthrough`
    group (e.g. `data`, `data.path`) are returned unparsed as Hydra-style overrides. `--help`
    prints the options and exits 0; an unknown key or a missing required one is a `LabError`
    naming the valid keys.
    """
    from lab.errors import LabError
    from lab.tool_help import help_text, wants_help

    if wants_help(argv):  # folded to 80 columns, each option's text in its own column
        print(help_text(usage, options))
        raise SystemExit(0)
    values: dict[str, str] = {}
    overrides: list[str] = []
    for arg in argv:
        key, sep, value = arg.partition("=")
        if not sep:
            raise LabError(f"expected key=value, got '{arg}'; valid keys: {', '.join(options)}")
        if key.split(".", 1)[0] in passthrough:
            overrides.append(arg)
        elif key in options:
            # `run="run 1"`, as lab.train's Hydra overrides quote a value with spaces: the
            # value inside the quotes (s22b L2).
            quoted = len(value) >= 2 and value[0] == value[-1] and value[0] in "'\""
            values[key] = value[1:-1] if quoted else value
        else:
            close = difflib.get_close_matches(key, list(options), n=1)
            maybe = f" Did you mean {close[0]}?" if close else ""
            raise LabError(f"unknown option '{key}'.{maybe} Valid keys: {', '.join(options)}")
    missing = [key for key in required if not values.get(key)]
    if missing:
        raise LabError(f"missing {', '.join(f'{k}=...' for k in missing)}; usage: {usage}")
    return values, overrides


def run_tool(
    main: Callable[[list[str]], int],
    argv: list[str] | None = None,
    exit_fast: bool = False,
    stop_on_sigterm: bool = False,
) -> None:
    """Run a tool's `main(argv)`; a user error (`user_error_message`) becomes one message on
    stderr and exit 2; Ctrl-C one line saying what it left (`lab.tool_interrupts`) and exit
    130 (`stop_on_sigterm`: SIGTERM and SIGUSR1 too, exit 143 and 138: `STOP_SIGNALS`); any
    other exception is a bug and keeps its traceback (exit 1). `exit_fast` (a command line's
    `__main__`): a success skips the interpreter's teardown (`lab.exiting`)."""
    from contextlib import nullcontext

    from lab.compat.torchmetrics import scipy_signal_deferred
    from lab.errors import EXIT_USER_ERROR
    from lab.tool_interrupts import exit_code, interrupted_line, signal_of, sigterm_interrupts

    stoppable = sigterm_interrupts() if stop_on_sigterm else nullcontext()
    try:
        # scipy: 0.65 s and 60 MB less per process (see its module)
        with stoppable, scipy_signal_deferred():
            code = main(sys.argv[1:] if argv is None else argv)
    except BaseException as err:
        line = interrupted_line(err)
        message = user_error_message(err) if isinstance(err, Exception) else None
        if line is not None:
            print(line, file=sys.stderr)
            code = exit_code(signal_of(err) or "SIGINT")
        elif message is not None:
            print(f"error: {message}", file=sys.stderr)
            code = EXIT_USER_ERROR
        else:
            raise
    if exit_fast and code == 0:
        from lab.exiting import exit_now

        exit_now(0)
    raise SystemExit(code)
