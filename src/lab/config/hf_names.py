"""HF `TrainingArguments` names as lab's: the README's "Coming from the HF Trainer" table, as data.

A porter writes HF's names where lab's keys go (`trainer.eval_steps=4`, `learning_rate=3e-5`,
`optimizer.adam_beta2=0.98`, `scheduler=constant_with_warmup`); difflib's look-alike of such a
name is often another key entirely (`trainer.max_steps`, `scheduler=cosine_with_restarts`).
The unknown-key line (`lab.config.key_hints.not_a_key`) and the unknown-option line
(`lab.config.option_errors.missing_option_line`) ask this table first, at whatever level the
name was given (top, `trainer.`, `optimizer.`, `data.`...): `Did you mean
trainer.val_every_n_steps=4? (HF's eval_steps)`. A row whose value needs checking against
lab's (an option lab has, a whole number of epochs, `fp16=false`, a metric's name, an
optimizer with betas) has its function in `HF_VALUES` (`lab.config.hf_values`), so that a
suggestion is one lab accepts as written, or says lab has no such setting (s32d G1).
"""

from __future__ import annotations

from collections.abc import Callable

from omegaconf import OmegaConf

from lab.config import hf_values
from lab.config.hf_values import HintContext, Suggestion

#: HF's eval_strategy (evaluation_strategy before transformers 4.46) in lab.
EVAL_STRATEGY = ("trainer.val_every_n_steps=<eval_steps>", 'for "steps"; "epoch" is lab\'s default')

#: HF argument name -> (lab's override, a note on how lab differs or ""). In the override,
#: `{value}` is the value given (`<value>` where none is known, as for a YAML's key); a row
#: with `{option}` or `{metric}` is said by its `HF_VALUES` function, which checks the value.
HF_KEYS: dict[str, tuple[str, str]] = {
    "learning_rate": ("optimizer.lr={value}", ""),
    "weight_decay": ("optimizer.weight_decay={value}", "lab's default is 0.01, HF's 0"),
    "adam_beta1": ("'optimizer.betas=[{value},0.999]'", ""),
    "adam_beta2": ("'optimizer.betas=[0.9,{value}]'", ""),
    "adam_epsilon": ("optimizer.eps={value}", ""),
    "optim": ("optimizer={option}", ""),
    "lr_scheduler_type": ("scheduler={option}", ""),
    "warmup_steps": ("scheduler.warmup_steps={value}", "a share below 1: scheduler.warmup_ratio"),
    "warmup_ratio": ("scheduler.warmup_ratio={value}", "lab's default is 0.06, HF's 0"),
    "num_train_epochs": ("trainer.max_epochs={value}", ""),
    "max_steps": ("trainer.max_steps={value}", "the first limit reached ends training"),
    "per_device_train_batch_size": ("data.batch_size={value}", ""),
    "per_device_eval_batch_size": ("data.eval_batch_size={value}", ""),
    "gradient_accumulation_steps": ("trainer.accumulate_grad_batches={value}", ""),
    "max_grad_norm": ("trainer.gradient_clip_val={value}", ""),
    "eval_steps": ("trainer.val_every_n_steps={value}", ""),
    "eval_strategy": EVAL_STRATEGY,
    "evaluation_strategy": EVAL_STRATEGY,  # its name before transformers 4.46
    "save_steps": ("callbacks.last_checkpoint.every_n_train_steps={value}", ""),
    "save_strategy": ("callbacks.last_checkpoint.every_n_train_steps=<save_steps>", ""),
    "save_total_limit": (
        "callbacks.model_checkpoint.save_top_k={value}",
        "lab keeps the K best, not the K most recent",
    ),
    "load_best_model_at_end": (
        "final_weights=best",
        "lab's default; final_weights=last for HF's default",
    ),
    "metric_for_best_model": ("optimized_metric=val/{metric}", ""),
    "greater_is_better": ("optimized_mode=max", "optimized_mode=min for false"),
    "early_stopping_patience": (
        "callbacks=early_stopping callbacks.early_stopping.patience={value}",
        "",
    ),
    "data_seed": ("data.seed={value}", ""),
    "label_smoothing_factor": ("task.module.label_smoothing={value}", ""),
    "logging_steps": ("trainer.log_every_n_steps={value}", ""),
    "logging_strategy": ("trainer.log_every_n_steps=<logging_steps>", ""),
    "dataloader_num_workers": ("data.num_workers={value}", ""),
    "dataloader_pin_memory": ("data.pin_memory={value}", ""),
    "fp16": ("precision=16-mixed", ""),
    "bf16": ("precision=bf16-mixed", ""),
    "report_to": ("logger={option}", ""),
    "resume_from_checkpoint": ("resume=<run dir>", "or resume=auto"),
    "torch_compile": ("trainer.compile={value}", ""),
    "gradient_checkpointing": ("model.gradient_checkpointing={value}", ""),
    "deepspeed": ("strategy=deepspeed_stage_2", "or deepspeed_stage_3"),
    "fsdp": ("strategy=fsdp", ""),
}

#: HF's option names (`optim`, `lr_scheduler_type`, `report_to` values) -> lab's option of
#: the group, where the two differ. HF's `constant` is lab's `none` (a constant rate without
#: warmup): given as `scheduler=constant` it is lab's constant-with-warmup, a valid option.
HF_OPTIONS: dict[str, dict[str, str]] = {
    "optimizer": {
        "adamw_torch": "adamw",
        "adamw_torch_fused": "adamw",
        "adamw_hf": "adamw",
        "adamw_bnb_8bit": "adamw_8bit",
    },
    "scheduler": {"constant_with_warmup": "constant", "constant": "none"},
    "logger": {"all": "wandb"},
}

#: HF argument name -> the function that checks its value against lab's (`hf_values`); the
#: rows not named here take the value as it is given.
HF_VALUES: dict[str, Callable[[str | None, HintContext], Suggestion]] = {
    "optim": hf_values.option("optimizer", "optim", HF_OPTIONS["optimizer"]),
    "lr_scheduler_type": hf_values.option(
        "scheduler", "lr_scheduler_type", HF_OPTIONS["scheduler"]
    ),
    "report_to": hf_values.option("logger", "report_to", HF_OPTIONS["logger"]),
    "num_train_epochs": hf_values.epochs,
    "fp16": hf_values.precision("16-mixed"),
    "bf16": hf_values.precision("bf16-mixed"),
    "metric_for_best_model": hf_values.best_metric,
    "adam_beta1": hf_values.beta(0),
    "adam_beta2": hf_values.beta(1),
    "adam_epsilon": hf_values.epsilon,
    "eval_strategy": hf_values.eval_strategy,
    "evaluation_strategy": hf_values.eval_strategy,
    "logging_strategy": hf_values.logging_strategy,
    "save_strategy": hf_values.save_strategy,
    "save_total_limit": hf_values.save_top_k,
}

#: HF's `TrainingArguments` fields whose values name options (`OptimizerNames`,
#: `SchedulerType`), by lab's group: an HF option lab lacks is said so, not given a look-alike
#: (`scheduler=cosine_with_min_lr` is no `cosine_with_restarts`).
HF_OPTION_ENUMS = {
    "optimizer": ("optim", "transformers.training_args.OptimizerNames"),
    "scheduler": ("lr_scheduler_type", "transformers.trainer_utils.SchedulerType"),
}


def hf_key_hint(
    leaf: str, value: str | None = None, given_key: str = "", context: HintContext | None = None
) -> str | None:
    """`Did you mean trainer.val_every_n_steps=4? (HF's eval_steps)` for a key whose last
    name `leaf` is an HF `TrainingArguments` name, `value` the value given (None: unknown),
    `context` the command's (`HintContext`: its config and other overrides), or why lab has no
    such setting (`HF's optim=lion_32bit: lab has no optimizer lion_32bit; options: ...`);
    None for any other name, and where lab's key is `given_key` itself (`scheduler.warmup_ratio`
    under `scheduler=none`: not a misnamed key)."""
    entry = HF_KEYS.get(leaf)
    if entry is None:
        return None
    context = context or HintContext()
    known = value if value not in (None, "") else None
    override, note = _suggestion(leaf, known, entry, context)
    if override is None:
        return f"HF's {leaf}{'=' + known if known else ''}: {note}."
    if given_key and override.strip("'").startswith(f"{given_key}="):
        return None
    said = f"HF's {leaf}; {note}" if note else f"HF's {leaf}"
    return f"Did you mean {override}? ({said})"


def _suggestion(
    leaf: str, value: str | None, entry: tuple[str, str], context: HintContext
) -> Suggestion:
    """(lab's override, a note) for HF's `leaf`=`value`, or (None, why lab has none)."""
    if (check := HF_VALUES.get(leaf)) is not None:
        return check(value, context)
    template, note = entry
    if leaf == "warmup_steps" and _is_share(value):  # HF v5: warmup_steps < 1 is a share
        template, note = "scheduler.warmup_ratio={value}", ""
    if leaf == "greater_is_better" and str(value).lower() == "false":
        template, note = "optimized_mode=min", ""
    if leaf == "load_best_model_at_end" and str(value).lower() == "false":
        template, note = "final_weights=last", ""
    override = template.format(value=value or "<value>")
    key = override.strip("'").partition("=")[0]
    if (
        context.cfg is not None
        and " " not in override
        and "." in key
        and OmegaConf.select(context.cfg, key, default="<missing>") == "<missing>"
    ):
        return None, f"lab's {key}, which this config has not"
    return override, note


def hf_option_hint(group: str, name: str) -> str | None:
    """`Did you mean scheduler=constant? (HF's constant_with_warmup)` for an option of `group`
    that is HF's name of one of lab's; `lab has no ...` for an HF option lab lacks
    (`optimizer=lion_32bit`); None for any other name."""
    lab_name = HF_OPTIONS.get(group, {}).get(name)
    if lab_name is not None:
        return f"Did you mean {group}={lab_name}? (HF's {name})"
    if name in _hf_option_names(group):
        field_name = HF_OPTION_ENUMS[group][0]
        return f"lab has no {group} {name} (an HF {field_name} option)."
    return None


def _hf_option_names(group: str) -> set[str]:
    """HF's option names of lab's `group` (from transformers' own enum), or none."""
    if group not in HF_OPTION_ENUMS:
        return set()
    from lab.config.target_imports import locate

    enum, problem = locate(HF_OPTION_ENUMS[group][1])
    return set() if problem else {str(member.value) for member in enum}


def _is_share(value: str | None) -> bool:
    try:
        return value is not None and 0 < float(value) < 1
    except ValueError:
        return False
