"""HF `TrainingArguments` names as lab's: the README's "Coming from the HF Trainer" table, as data.

A porter writes HF's names where lab's keys go (`trainer.eval_steps=4`, `learning_rate=3e-5`,
`optimizer.adam_beta2=0.98`, `scheduler=constant_with_warmup`); difflib's look-alike of such a
name is often another key entirely (`trainer.max_steps`, `scheduler=cosine_with_restarts`).
The unknown-key line (`lab.config.key_hints.not_a_key`) and the unknown-option line
(`lab.config.option_errors.missing_option_line`) ask this table first, at whatever level the
name was given (top, `trainer.`, `optimizer.`, `data.`...): `Did you mean
trainer.val_every_n_steps=4? (HF's eval_steps)`.
"""

from __future__ import annotations

#: HF argument name -> (lab's override, a note on how lab differs or ""). In the override,
#: `{value}` is the value given (`<value>` where none is known, as for a YAML's key),
#: `{option}` that value as lab's option of the group (`HF_OPTIONS`), `{metric}` the value
#: without HF's `eval_` prefix.
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
    "eval_strategy": (
        "trainer.val_every_n_steps=<eval_steps>",
        'for "steps"; "epoch" is lab\'s default',
    ),
    "evaluation_strategy": (
        "trainer.val_every_n_steps=<eval_steps>",
        'for "steps"; "epoch" is lab\'s default',
    ),
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
        "adamw_torch_4bit": "adamw_8bit",
    },
    "scheduler": {"constant_with_warmup": "constant", "constant": "none"},
    "logger": {"all": "wandb"},
}


def hf_key_hint(leaf: str, value: str | None = None, given_key: str = "") -> str | None:
    """`Did you mean trainer.val_every_n_steps=4? (HF's eval_steps)` for a key whose last
    name `leaf` is an HF `TrainingArguments` name, `value` the value given (None: unknown);
    None for any other name, and where lab's key is `given_key` itself (`scheduler.warmup_ratio`
    under `scheduler=none`: not a misnamed key)."""
    entry = HF_KEYS.get(leaf)
    if entry is None:
        return None
    template, note = entry
    given = value if value not in (None, "") else "<value>"
    group = template.partition("=")[0]
    option = HF_OPTIONS.get(group, {}).get(str(given), str(given))
    metric = str(given).removeprefix("eval_") if given != "<value>" else "<name>"
    if leaf == "warmup_steps" and _is_share(value):  # HF v5: warmup_steps < 1 is a share
        template, note = "scheduler.warmup_ratio={value}", ""
    if leaf == "greater_is_better" and str(value).lower() == "false":
        template, note = "optimized_mode=min", ""
    if leaf == "load_best_model_at_end" and str(value).lower() == "false":
        template, note = "final_weights=last", ""
    override = template.format(value=given, option=option, metric=metric)
    if given_key and override.strip("'").startswith(f"{given_key}="):
        return None
    said = f"HF's {leaf}; {note}" if note else f"HF's {leaf}"
    return f"Did you mean {override}? ({said})"


def hf_option_hint(group: str, name: str) -> str | None:
    """`Did you mean scheduler=constant? (HF's constant_with_warmup)` for an option of `group`
    that is HF's name of one of lab's; None for any other name."""
    lab_name = HF_OPTIONS.get(group, {}).get(name)
    if lab_name is None:
        return None
    return f"Did you mean {group}={lab_name}? (HF's {name})"


def _is_share(value: str | None) -> bool:
    try:
        return value is not None and 0 < float(value) < 1
    except ValueError:
        return False
