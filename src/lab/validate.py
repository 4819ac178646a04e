"""`python -m lab.validate <overrides>`: check a training config before anything is loaded.

    python -m lab.validate model=roberta data=imdb
    python -m lab.validate model=tiny_bert data=csv data.path=reviews.csv precision=16-mixed
    python -m lab.validate experiment=roberta_imdb --instantiate
    python -m lab.validate --config-dir conf experiment=my_exp    # your own configs first

Composes the config exactly as `python -m lab.train <same overrides>` would, applies every
rule `lab.train` applies before it loads data or weights (`lab.config.rules`: an option
without its group's `# @package` line, a `~key` deletion of a key training reads, value ranges,
a run that trains zero steps, hardware, strategy x precision x optimizer, trainer options,
local model and data files and their columns, streaming and a head that cannot stream), and
prints what would run (with `--config-dir`, which options are yours: `lab.config.user_dirs`).
Exit 0 when the config is valid; otherwise exit 2 with the one-line `error: ...` training
would end with. Nothing is downloaded, built or written, and on a machine without CUDA
nothing heavy is imported: it answers in about a second.
With `-m` (a sweep), the config of the first job is checked, and the range of every value a
`key=a,b,c` or `key=range(...)` override lists; with lab's Optuna sweeper (`sweep=`), its search
space is parsed as `lab.train -m` parses it: each range, and a discrete space for the grid
sampler (values it samples are not each checked against the config's rules).

`--instantiate` also builds every part that needs neither weights nor data: the callbacks,
the loggers (not started; writing into a temporary directory), the optimizer and scheduler
factories (their arguments bound), and the tokenizer from local files or the Hugging Face
cache (never downloaded). That imports Lightning and transformers: several seconds more.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from omegaconf import DictConfig, ListConfig

from lab.errors import EXIT_USER_ERROR, ConfigError, LabError

USAGE = (
    "python -m lab.validate [--instantiate] [-m] [--config-dir <folder>] [<lab.train override> ...]"
)
# What `--help` says of each argument (`lab.tool_help`), in the module docstring's words.
FLAGS = {
    "<override>": "any override of python -m lab.train (model=roberta data=imdb "
    "optimizer.lr=3e-5): the config is composed and checked as training would, then "
    "described; exit 0 when valid, else exit 2 with the one-line error training would end "
    "with. Nothing is downloaded, built or written",
    "--instantiate": "also build every part that needs neither weights nor data: callbacks, "
    "loggers (not started), optimizer and scheduler factories, and the tokenizer from local "
    "files or the Hugging Face cache (never downloaded); several seconds more",
    "-m, --multirun": "check a sweep: the first job's config, every value a key=a,b,c or "
    "key=range(...) override lists, and a sweep= file's search space",
    "--config-dir": "a folder of your own config groups (experiment/, data/, model/, ...), "
    "searched before lab's as lab.train --config-dir searches it; may be repeated",
}


def check_appended_data_keys(cfg: DictConfig, overrides: list[str]) -> None:
    """Refuse `+data.<key>=...`: every option of every data module has a default in its YAML
    (tested), so a key that must be appended is one no data module reads; training would
    stop on it when it builds the data module (`lab.build`), this says so before."""
    from lab.config.key_hints import not_a_key

    for override in overrides:
        key = override.split("=", 1)[0]
        parts = key[1:].split(".") if key.startswith("+") and not key.startswith("++") else []
        if len(parts) == 2 and parts[0] == "data":
            valid = [str(k) for k in cfg.data if str(k) != parts[1]]
            raise ConfigError(not_a_key("data", parts[1], valid))


def describe(
    cfg: DictConfig, choices: dict[str, str | None], config_dirs: list[str] | None = None
) -> list[str]:
    """What `lab.train` would run: one `key: value` line per part of the config, and with
    your config folders (`config_dirs`), which options came from them (`yours:`)."""
    from lab.config.user_dirs import own_choices

    model, data, task, trainer = cfg.model, cfg.data, cfg.task, cfg.trainer
    weights = (
        f"pretrained {model.pretrained}"
        if model.get("pretrained")
        else f"from its config ({model.network.get('config', {}).get('_target_', '?')}), "
        "random weights"
    )
    source = f"local files {data.path}" if data.get("path") else f"Hub {data.get('hub_id')}"
    if not data.get("path") and data.get("hub_config"):
        source += f" ({data.hub_config})"
    columns = ", ".join(
        f"{key}={list(value) if isinstance(value, ListConfig) else value}"
        for key, value in ((str(k), data.get(str(k))) for k in data)
        if key.endswith(("_column", "_columns")) and value
    )
    run_length = ", ".join(
        f"{key}={trainer.get(key)}"
        for key in ("max_epochs", "max_steps", "accelerator", "devices", "num_nodes")
        if key in trainer
    )
    optimizer = cfg.get("optimizer") or {}
    adapter_config = (cfg.get("peft") or {}).get("config")
    adapter = f"{choices.get('peft')} ({adapter_config._target_})" if adapter_config else "none"
    lines = {
        "model": f"{choices.get('model')}: {weights}",
        "task": f"{choices.get('task')}: {task.head} with "
        f"{task.module._target_}; best on {cfg.optimized_metric} ({cfg.optimized_mode})",
        "data": f"{choices.get('data')}: {source}" + (f"; columns {columns}" if columns else ""),
        "trainer": run_length,
        "strategy": _strategy(cfg, choices.get("strategy")),
        "precision": str(trainer.get("precision")),
        "optimizer": f"{choices.get('optimizer')} (lr={optimizer.get('lr')}), "
        + (f"scheduler {choices.get('scheduler')}" if cfg.get("scheduler") else "no scheduler"),
        "peft": adapter,
        "callbacks": ", ".join(str(k) for k in (cfg.get("callbacks") or {})) or "none",
        "loggers": ", ".join(str(k) for k in (cfg.get("logger") or {})) or "none",
        "output": f"{cfg.paths.output_dir} (created when training starts)",
    }
    if config_dirs:
        lines["yours"] = "; ".join(own_choices(choices, config_dirs)) or "no option chosen"
    width = max(len(key) for key in lines) + 2
    return [f"{key + ':':<{width}}{value}" for key, value in lines.items()]


def _strategy(cfg: DictConfig, choice: str | None) -> str:
    from lab.config.rules import strategy_target

    name = strategy_target(cfg).rsplit(".", 1)[-1]
    return str(choice) if name == choice else f"{choice} ({name})"


def instantiate_parts(cfg: DictConfig) -> list[str]:
    """Build the parts that need no weights or data; return one line naming what was built.

    Raises `ConfigError` naming the config node that cannot be built, and why.
    """
    import inspect
    import os
    import tempfile

    from hydra.utils import instantiate
    from omegaconf import open_dict

    from lab.training.fit import instantiate_group

    built: list[str] = []
    with tempfile.TemporaryDirectory() as scratch:
        cfg = cfg.copy()
        with open_dict(cfg):
            cfg.paths.output_dir = scratch  # loggers and callbacks write nothing real
        for group, plural in (("callbacks", "callbacks"), ("logger", "loggers")):
            try:
                parts = instantiate_group(cfg.get(group))
            except Exception as err:
                raise ConfigError(f"{group}: cannot be built: {_cause(err)}") from err
            built.append(f"{len(parts)} {plural}")
        for group in ("optimizer", "scheduler"):
            if not cfg.get(group):
                continue
            try:
                factory = instantiate(cfg[group])
                inspect.signature(factory.func).bind_partial(*factory.args, **factory.keywords)
            except Exception as err:
                raise ConfigError(f"{group}: cannot be built: {_cause(err)}") from err
            built.append(group)
        offline = os.environ.get("HF_HUB_OFFLINE")
        os.environ["HF_HUB_OFFLINE"] = "1"  # local files or the cache; never a download
        try:
            instantiate(cfg.model.tokenizer)
        except Exception as err:
            raise ConfigError(
                f"model.tokenizer cannot be loaded from local files or the Hugging Face "
                f"cache: {_cause(err)}"
            ) from err
        finally:
            if offline is None:
                os.environ.pop("HF_HUB_OFFLINE", None)
            else:
                os.environ["HF_HUB_OFFLINE"] = offline
        built.append("tokenizer")
    return built


def _cause(err: BaseException) -> str:
    while err.__cause__ is not None:
        err = err.__cause__
    return f"{type(err).__name__}: {err}".splitlines()[0]


def first_of_each_sweep(overrides: list[str]) -> tuple[list[str], dict[str, list[Any]]]:
    """For `-m`: the overrides of the first job (each `key=a,b` or `range(...)` sweep at its
    first value; an `interval(...)` or `glob(...)` sweep left to the sweeper), and the values
    each swept key takes."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import Glob

    first: list[str] = []
    swept: dict[str, list[Any]] = {}
    for override in OverridesParser.create().parse_overrides(overrides):
        if not override.is_sweep_override():
            first.append(override.input_line or "")
        elif override.is_discrete_sweep() and not isinstance(override.value(), Glob):
            values = list(override.sweep_string_iterator())
            first.append(f"{override.get_key_element()}={values[0]}")
            swept[override.key_or_group] = list(override.sweep_iterator())
    return first, swept


def check_swept_values(cfg: DictConfig, swept: dict[str, list[Any]]) -> None:
    """The range rules for every value of every swept config key (group choices, composed
    differently, are left to the jobs)."""
    from omegaconf import OmegaConf, open_dict

    from lab.config.ranges import check_ranges
    from lab.config.rules import check_trains_something

    for key, values in swept.items():
        if isinstance(OmegaConf.select(cfg, key), DictConfig):
            continue  # a config group option, not a value
        for value in values[1:]:
            job = cfg.copy()
            with open_dict(job):
                OmegaConf.update(job, key, value, force_add=True)
            check_ranges(job)
            check_trains_something(job)


def check_sweep_space(arguments: list[str], config_dirs: Sequence[str] = ()) -> None:
    """For `-m` with lab's Optuna sweeper: the search space its trials would sample (the sweep
    file's `params` and the command line's sweeps), parsed and checked as `lab.train -m` does
    before the study exists: each range, for the grid sampler a discrete space, and each key
    (`lab.sweeps.space_keys`); `config_dirs`: your config folders' search-path entries."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    sweeper = HydraConfig.get().sweeper
    if "lab_optuna_sweeper" not in str(sweeper.get("_target_", "")):
        return
    from lab.sweeps.search_space import parse_search_space
    from lab.sweeps.space_keys import check_space_keys

    params = OmegaConf.to_container(sweeper.get("params") or {}, resolve=False)
    kept = [a for a in arguments if a.partition("=")[0] != "resume"]
    space = parse_search_space(
        {str(k): v for k, v in params.items()} if isinstance(params, dict) else {}, kept
    )
    sampler = sweeper.get("sampler") or {}
    if str(sampler.get("_target_", "")).endswith("GridSampler"):
        space.grid()
    # Each key of the space exists, as lab.train -m's sweeper checks it (s31f F3).
    choices = [str(group) for group in HydraConfig.get().runtime.choices]
    check_space_keys(space, choices, config_dirs)


def main(argv: list[str] | None = None) -> int:
    """Compose, validate and describe; return the exit code (0 valid, 2 not)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from lab.config import compose_train_config
    from lab.config.cli import config_error_lines, normalize_argv
    from lab.config.paths import ConfigTreeMissing, conf_dir
    from lab.config.rules import validate_config
    from lab.config.user_dirs import take_config_dirs
    from lab.config.validation_tail import config_tail_warning
    from lab.tool_help import help_text, wants_help
    from lab.training.rank_cores import config_ranks_over_cores_line

    argv = sys.argv[1:] if argv is None else argv
    if wants_help(argv):
        print(help_text(USAGE, FLAGS))
        return 0
    try:
        config_dirs, argv = take_config_dirs(argv)
    except LabError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USER_ERROR
    instantiate = "--instantiate" in argv
    flags = ("--instantiate", "-m", "--multirun")
    overrides = normalize_argv([arg for arg in argv if arg not in flags])
    swept: dict[str, list[Any]] = {}
    multirun, arguments = "-m" in argv or "--multirun" in argv, list(overrides)
    try:
        if multirun:
            overrides, swept = first_of_each_sweep(overrides)
        cfg = compose_train_config(overrides, config_dirs=config_dirs)
    except ConfigTreeMissing as err:  # an install without lab's config tree: nothing to compose
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USER_ERROR
    except (HydraException, OmegaConfBaseException, ValueError) as err:  # Hydra's own words
        for line in config_error_lines(err, overrides, str(conf_dir()), "train", config_dirs):
            print(line, file=sys.stderr)
        return EXIT_USER_ERROR
    try:
        check_appended_data_keys(cfg, overrides)
        validate_config(cfg)
        check_swept_values(cfg, swept)
        if multirun:
            check_sweep_space(arguments, config_dirs)
        built = instantiate_parts(cfg) if instantiate else []
    except LabError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USER_ERROR
    if tail := config_tail_warning(cfg):  # a warning, not a refusal (s32a F-M3)
        print(f"warning: {tail}", file=sys.stderr)
    if crowded := config_ranks_over_cores_line(cfg):  # as lab.train says it (s32d G6)
        print(f"warning: {crowded}", file=sys.stderr)
    choices = dict(HydraConfig.get().runtime.choices)
    print("\n".join(describe(cfg, choices, config_dirs)))
    if built:
        print(f"built:     {', '.join(built)}")
    print("config ok: no rule broken (no data or weights were loaded)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
