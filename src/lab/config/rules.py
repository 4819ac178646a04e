"""The rules a composed config must pass before any data or weights are loaded.

`validate_config(cfg)` applies every rule; `lab.train` calls it first, `lab.validate` calls it
alone. Each rule raises a `ConfigError` (or a `DataError` for local data files) whose message
names the offending key, file or column and what would work instead:

* silent no-ops first: an option whose file lacks its group's `# @package` line, so its values
  sit under a node nothing reads (`experiment=mine` without `# @package _global_`:
  `lab.config.package_rules`), a `~key` deletion of a key training reads, which would
  leave a default written only in code (`~optimizer.lr`: `lab.config.deletion_rules`), a
  `paths.output_dir=` that would split the run across two folders
  (`lab.config.output_dir_rule`), and a
  key of `model` or of the top level in your YAML that misspells one of lab's
  (`model.freeze_layer: 2`, `seeed: 3`: `lab.config.lookalike_keys`; a key with no look-alike
  is your own variable, allowed), and a `callbacks` entry without `_target_`
  (`+callbacks.early_stopping.patience=2` without `callbacks=early_stopping`:
  `lab.config.callback_rules`);
* ranges: every numeric value within its valid range (`lab.config.ranges`, one table);
* run length: a run that would train zero steps (`trainer.max_epochs=0`, `max_steps=0`,
  `limit_train_batches=0`), or never stop (`max_epochs=-1` with `max_steps=-1`, and neither
  `max_time` nor early stopping);
* named options: a value that is not one of its key's names (`optimized_mode=maximum`,
  `attn_implementation=flash_attn`: `lab.config.choices`);
* hardware: a GPU accelerator, fp16, DeepSpeed or FSDP without a visible CUDA GPU; an
  accelerator Lightning does not know or this machine lacks (MPS, TPU), a `trainer.devices`
  it cannot read or give (`lab.config.accelerator_rules`); a strategy whose package is
  missing; a quantized (QLoRA) base without CUDA or bitsandbytes;
* strategy x precision x optimizer: a fused optimizer cannot clip gradients under 16-mixed
  (its loss scaler; bf16-mixed has none);
* trainer: options that `lightning.pytorch.Trainer` does not take (with the valid ones), and
  `use_distributed_sampler` (lab's data module shards the data itself);
* steps (`lab.config.step_rules`): `trainer.val_every_n_steps` beside another validation
  interval, or above `max_steps`; a `save_top_k` on the periodic `last.ckpt` writer, which
  keeps one file;
* the task YAML: the keys every head needs (`head`, `module`, `optimized_metric`,
  `optimized_mode`; `peft_task_type` under a peft config: `lab.config.task_contract`), and an
  `optimized_metric` no validation logs (`eval_loss`, `test/acc`: `lab.config.optimized_mode`);
* your code: each `_target_` outside lab imports, and takes its node's keys
  (`lab.config.target_imports`);
* builders: a key of `optimizer`, `scheduler`, `task.module` (`lab.config.builder_arguments`)
  or `peft.config` (`lab.config.peft_rules`) that its class or function does not take;
* task and data: a head given data of another kind or problem type (`lab.config.task_fit`),
  a tokenizer without a pad token under a head whose batches are padded
  (`lab.config.padding_rules`);
* files: a local `model.pretrained` (or tokenizer) directory that does not exist;
* local data (`data.path`): the files exist, and every column the data config names (each
  `data.*_column` key, and each name in a `data.*_columns` list) is in each split's file,
  read from its header or first rows only;
* streaming (`data.streaming=true`, `lab.data.streaming`): the train stream repeats without
  epochs, so the run needs `trainer.max_steps` and a validation interval in batches, and
  refuses options that count in epochs or need the whole split (`data.group_by_length`);
  `data.interleave` entries are well formed and their local files exist.

The hardware rules live in `lab.config.hardware_rules`, the data and streaming rules in
`lab.config.data_rules`; their public names are importable from here too.

Everything here stays cheap to import and to run (no torch, Lightning or transformers in the
common path): `lab.validate` answers in well under three seconds.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import re
from pathlib import Path

from omegaconf import DictConfig, ListConfig, OmegaConf

from lab.config.builder_arguments import check_builder_arguments
from lab.config.callback_rules import check_callback_targets
from lab.config.choices import check_choices
from lab.config.data_rules import check_local_data, check_streaming, named_columns, peek_columns
from lab.config.deletion_rules import check_deletions
from lab.config.hardware_rules import (
    check_hardware,
    check_optimizer_hardware,
    check_quantized_base,
    cuda_available,
    strategy_target,
)
from lab.config.head_option_rules import check_head_options
from lab.config.lookalike_keys import check_lookalike_keys
from lab.config.model_config_keys import check_model_config_keys
from lab.config.model_rules import check_added_tokens, check_freeze_depth, check_model_positions
from lab.config.module_contract import check_module_contract
from lab.config.optimized_mode import check_optimized_metric
from lab.config.output_dir_rule import check_output_dir_override
from lab.config.package_rules import check_group_packages
from lab.config.padding_rules import check_pad_token
from lab.config.peft_rules import check_peft_config
from lab.config.ranges import check_ranges
from lab.config.step_rules import check_last_checkpoint, check_validation_steps
from lab.config.target_imports import check_target_imports
from lab.config.task_contract import check_task_contract
from lab.config.task_fit import check_task_fits_data
from lab.errors import ConfigError

__all__ = [
    "LAB_TRAINER_TARGET",
    "check_local_data",
    "check_streaming",
    "check_threshold_count",
    "check_trains_something",
    "cuda_available",
    "named_columns",
    "peek_columns",
    "strategy_target",
    "threshold_count_message",
    "trainer_argument_names",
    "validate_config",
]

# Options of lab's `build_trainer` that are not Lightning Trainer arguments.
LAB_TRAINER_OPTIONS = ("compile", "reuse_freed_memory", "val_every_n_steps")
LAB_TRAINER_TARGET = "lab.training.trainer.build_trainer"


def validate_config(cfg: DictConfig) -> None:
    """Apply every rule to `cfg`; raise the first `LabError` found."""
    from lab.run_dir.disk import check_output_root  # standard library only: cheap

    # First: they say why the config is not the one the user wrote, which other rules'
    # refusals (of lab's defaults, or of keys under a stray node) would only obscure.
    check_group_packages(cfg)
    check_deletions(cfg)
    check_output_dir_override(cfg)  # `paths.output_dir=`: the run split across two folders
    check_lookalike_keys(cfg)  # `model.freeze_layer: 2` in your YAML: read by nothing
    check_callback_targets(cfg)  # `+callbacks.early_stopping.patience=2`: no callback
    # Before any rule reads a task key: a task YAML of yours missing one is said in one line.
    check_task_contract(cfg)
    check_optimized_metric(cfg)
    check_output_root(cfg)
    check_ranges(cfg)
    check_choices(cfg)
    check_head_options(cfg)
    check_trains_something(cfg)
    check_max_time(cfg)
    check_hardware(cfg)
    check_trainer_options(cfg)
    check_validation_steps(cfg)
    check_last_checkpoint(cfg)
    check_target_imports(cfg)
    check_builder_arguments(cfg)
    check_module_contract(cfg)
    check_peft_config(cfg)
    check_task_fits_data(cfg)
    check_pad_token(cfg)
    check_quantized_base(cfg)
    check_model_files(cfg)
    check_freeze_depth(cfg)
    check_model_positions(cfg)
    check_model_config_keys(cfg)
    check_added_tokens(cfg)
    check_local_data(cfg)
    check_streaming(cfg)
    check_optimizer_hardware(cfg)
    check_threshold_count(cfg)


# ----------------------------------------------------------------------------- multi-label
def threshold_count_message(values: int, labels: int) -> str:
    """The refusal of a per-label `task.module.threshold` list of the wrong length."""
    return (
        f"task.module.threshold has {values} values for {labels} labels; "
        "give one number, or one per label in label order"
    )


def check_threshold_count(cfg: DictConfig) -> None:
    """A per-label threshold list must have one value per label; where the config names the
    labels (`data.label_names`, e.g. data=go_emotions's 28) that is known before any data
    loads (otherwise the head checks it once the data gives the labels)."""
    threshold = OmegaConf.select(cfg, "task.module.threshold", default=None)
    names = OmegaConf.select(cfg, "data.label_names", default=None)
    listed = isinstance(threshold, ListConfig) and isinstance(names, ListConfig)
    if listed and len(threshold) != len(names):
        raise ConfigError(threshold_count_message(len(threshold), len(names)))


# ----------------------------------------------------------------------------- run length
def check_trains_something(cfg: DictConfig) -> None:
    """Refuse a run that would train zero steps.

    Lightning accepts `max_epochs=0`, `max_steps=0` and `limit_train_batches=0`: the run then
    "finishes" at once and lab would test and export the untrained model as if trained.
    `fast_dev_run` and `overfit_batches` set their own limits, so they train in any case.
    """
    trainer = cfg.trainer
    if trainer.get("fast_dev_run") or trainer.get("overfit_batches"):
        return
    fixes = {
        "max_epochs": "give trainer.max_epochs >= 1",
        "max_steps": "give trainer.max_steps >= 1, or -1 to let trainer.max_epochs decide",
        "limit_train_batches": "give a number of batches >= 1, or a share of them in (0, 1]",
    }
    for key, fix in fixes.items():
        value = trainer.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0:
            raise ConfigError(
                f"trainer.{key}={value} would train zero steps (and test and export the "
                f"untrained model); {fix}"
            )
    check_stops(cfg)


# The keys of `datetime.timedelta`, which Lightning's Timer takes as a mapping.
TIMEDELTA_KEYS = ("weeks", "days", "hours", "minutes", "seconds", "milliseconds", "microseconds")


def check_max_time(cfg: DictConfig) -> None:
    """`trainer.max_time` as Lightning's Timer reads it: `DD:HH:MM:SS` (hours, minutes and
    seconds of two digits each) or a mapping of `timedelta`'s keys to numbers. Anything else
    was a Lightning traceback once the data and model had loaded (s34k M4)."""
    value = cfg.trainer.get("max_time")
    if value is None:
        return
    if isinstance(value, str):
        if re.fullmatch(r"(\d+):(\d\d):(\d\d):(\d\d)", value.strip()):  # Lightning's pattern
            return
    elif isinstance(value, DictConfig):
        numbers = all(
            key in TIMEDELTA_KEYS and type(number) in (int, float) for key, number in value.items()
        )
        if value and numbers:
            return
    raise ConfigError(
        f"trainer.max_time={value} is not a duration: give DD:HH:MM:SS "
        "(+trainer.max_time=00:12:00:00 for 12 hours) or a mapping of "
        f"{', '.join(TIMEDELTA_KEYS)} ('+trainer.max_time={{hours: 12}}')"
    )


def check_stops(cfg: DictConfig) -> None:
    """Refuse a run with no end: Lightning reads `max_epochs=-1` with `max_steps=-1` as train
    forever (never testing or exporting), unless `trainer.max_time` or an early-stopping
    callback ends it (`max_epochs=null` is Lightning's 1000 epochs: an end)."""
    trainer = cfg.trainer
    if trainer.get("max_epochs") != -1 or trainer.get("max_steps", -1) != -1:
        return
    if trainer.get("fast_dev_run"):
        return
    callbacks = cfg.get("callbacks") or {}
    nodes = [node for node in callbacks.values() if isinstance(node, DictConfig)]
    targets = [str(node.get("_target_", "")) for node in nodes]
    if trainer.get("max_time") or any(target.endswith("EarlyStopping") for target in targets):
        check_schedule_without_length(cfg)
        return
    raise ConfigError(
        "trainer.max_epochs=-1 with trainer.max_steps=-1 would train forever (and never test or "
        "export); give trainer.max_epochs=N or trainer.max_steps=N, or end it by time "
        "(+trainer.max_time=00:12:00:00, DD:HH:MM:SS) or by callbacks=early_stopping"
    )


# Schedules whose shape is drawn over the run's length in steps (transformers' names).
SCHEDULES_OVER_THE_RUN = ("linear", "cosine", "cosine_with_restarts", "polynomial")


def check_schedule_without_length(cfg: DictConfig) -> None:
    """A run ended by time or early stopping has no length in steps: refuse a schedule that
    decays over that length, or a warmup given as a share of it (Lightning's estimate of the
    steps is infinite; the schedule cannot be drawn)."""
    scheduler = cfg.get("scheduler")
    if not isinstance(scheduler, DictConfig) or not scheduler.get("_target_"):
        return  # scheduler=none: a constant rate
    name = str(scheduler.get("name", ""))
    ratio = not scheduler.get("warmup_steps") and (scheduler.get("warmup_ratio") or 0) > 0
    if name not in SCHEDULES_OVER_THE_RUN and not ratio:
        return
    why = (
        f"scheduler={name} decays the learning rate over the run's steps"
        if name in SCHEDULES_OVER_THE_RUN
        else f"scheduler.warmup_ratio={scheduler.get('warmup_ratio')} is a share of the run's steps"
    )
    raise ConfigError(
        "trainer.max_epochs=-1 with trainer.max_steps=-1 ends by time or early stopping, so the "
        f"run's length in steps is unknown, and {why}; give trainer.max_steps=N (the schedule's "
        "length; time or early stopping may still end the run first), or scheduler=constant "
        "scheduler.warmup_ratio=0 (scheduler.warmup_steps=N for a warmup), or scheduler=none"
    )


# ----------------------------------------------------------------------------- trainer
def check_trainer_options(cfg: DictConfig) -> None:
    """Every `trainer.*` key must be a Lightning Trainer argument (or one of lab's own)."""
    trainer = cfg.trainer
    ours = LAB_TRAINER_OPTIONS if trainer.get("_target_") == LAB_TRAINER_TARGET else ()
    given = {str(k) for k in trainer if not str(k).startswith("_") and k not in ours}
    valid = trainer_argument_names()
    unknown = sorted(given - valid)
    if unknown:
        # The command line's line where one key is wrong (s31f F7: a YAML's `max_epoch` got no
        # "Did you mean trainer.max_epochs?", which the README shows).
        from lab.config.key_hints import not_a_key
        from lab.config.lookalike_keys import defining_line

        if len(unknown) == 1:
            line = not_a_key("trainer", unknown[0], [*LAB_TRAINER_OPTIONS, *valid])
            where = defining_line("trainer", unknown[0])
            raise ConfigError(f"{line}; it is set at {where}" if where else line)
        names = ", ".join(sorted(valid))
        raise ConfigError(
            f"unknown trainer option(s) {unknown}; valid: {', '.join(LAB_TRAINER_OPTIONS)}, {names}"
        )
    if trainer.get("use_distributed_sampler"):
        raise ConfigError(
            "trainer.use_distributed_sampler=true is not supported: lab's data module shards "
            "the data across ranks itself"
        )


@functools.lru_cache(maxsize=1)
def trainer_argument_names() -> frozenset[str]:
    """The keyword arguments of `lightning.pytorch.Trainer`.

    Read from the source file that defines the class (found without importing it): importing
    Lightning takes several seconds, and this check must not. Should Lightning move the class,
    Lightning is imported and asked instead; `tests/test_validate.py` checks that both agree.
    """
    spec = importlib.util.find_spec("lightning")
    if spec is not None and spec.submodule_search_locations:
        root = Path(next(iter(spec.submodule_search_locations)))
        source = root / "pytorch" / "trainer" / "trainer.py"
        names = _init_arguments(source, "Trainer") if source.is_file() else set()
        if names:
            return frozenset(names)
    import inspect

    import lightning

    parameters = inspect.signature(lightning.pytorch.Trainer.__init__).parameters
    return frozenset(name for name in parameters if name != "self")


def _init_arguments(source: Path, class_name: str) -> set[str]:
    for node in ast.parse(source.read_text()).body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                    arguments = item.args
                    every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
                    return {a.arg for a in every if a.arg != "self"}
    return set()


# ----------------------------------------------------------------------------- files
def check_model_files(cfg: DictConfig) -> None:
    """A local model or tokenizer directory must exist (a Hub id is checked when loading)."""
    model = cfg.model
    tokenizer = model.get("tokenizer") or {}
    seen: set[str] = set()
    for key, value in (
        ("model.pretrained", model.get("pretrained")),
        (
            "model.tokenizer.pretrained_model_name_or_path",
            tokenizer.get("pretrained_model_name_or_path"),
        ),
    ):
        if not isinstance(value, str) or value in seen:
            continue
        seen.add(value)
        local = value.startswith(("/", "./", "../", "~")) or Path(value).is_absolute()
        if local and not Path(value).expanduser().exists():
            raise ConfigError(
                f"{key}={value} does not exist; give a Hub id or a local directory saved "
                "with save_pretrained"
            )
        if (export := run_directory_export(value)) is not None:
            where = (
                f"its exported model is {export} ({key}={export})"
                if (export / "config.json").is_file()
                else (
                    f"it has no exported model yet (python -m lab.export run={value} "
                    "checkpoint=best, or last, writes it from a checkpoint)"
                )
            )
            raise ConfigError(f"{key}={value} is a lab run directory, not a saved model: {where}")


def run_directory_export(value: str) -> Path | None:
    """Where the lab run directory `value` names keeps its exported model (`<run>/model`: what a
    model.pretrained of `<run>` meant, after domain-adaptive pretraining, say), or None where
    `value` is no run directory. Named at once: loading the run directory as a model failed in
    the tokenizer, whose words blamed a missing sentencepiece install (s30d F2)."""
    folder = Path(value).expanduser()
    try:
        is_run = (folder / "record.json").is_file() and not (folder / "config.json").exists()
    except OSError:  # a name too long to be a path (a Hub id never is)
        return None
    return folder / "model" if is_run else None
