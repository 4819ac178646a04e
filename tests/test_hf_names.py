"""HF `TrainingArguments` names given as lab keys or options get the README table's lab key,
with the value given, before any look-alike (s32a F-M5: `trainer.eval_steps=4` was guessed
`trainer.max_steps`, `scheduler=constant_with_warmup` `scheduler=cosine_with_restarts`)."""

from __future__ import annotations

from typing import Any

import pytest
from omegaconf import OmegaConf

from lab.config.cli import unknown_key_hints
from lab.config.hf_names import HF_KEYS, HF_OPTIONS, hf_key_hint, hf_option_hint
from lab.config.option_errors import group_options, missing_option_line
from lab.config.paths import conf_dir
from lab.config.resolvers import register_resolvers


def _hint(*overrides: str) -> str:
    register_resolvers()  # as the command line has them: the default config interpolates
    (line,) = unknown_key_hints(list(overrides), str(conf_dir()), "train")
    return line


@pytest.mark.parametrize(
    ("override", "guess"),
    [
        ("trainer.eval_steps=4", "trainer.val_every_n_steps=4? (HF's eval_steps)"),
        (
            "trainer.eval_strategy=steps",
            'trainer.val_every_n_steps=<eval_steps>? (HF\'s eval_strategy; for "steps"; '
            '"epoch" is lab\'s default)',
        ),
        (
            "data.per_device_train_batch_size=8",
            "data.batch_size=8? (HF's per_device_train_batch_size)",
        ),
        (
            "trainer.gradient_accumulation_steps=3",
            "trainer.accumulate_grad_batches=3? (HF's gradient_accumulation_steps)",
        ),
        ("trainer.max_grad_norm=0.5", "trainer.gradient_clip_val=0.5? (HF's max_grad_norm)"),
        ("optimizer.adam_beta2=0.98", "'optimizer.betas=[0.9,0.98]'? (HF's adam_beta2)"),
        ("optimizer.adam_epsilon=1e-6", "optimizer.eps=1e-6? (HF's adam_epsilon)"),
        ("optimizer.learning_rate=3e-5", "optimizer.lr=3e-5? (HF's learning_rate)"),
        ("learning_rate=3e-5", "optimizer.lr=3e-5? (HF's learning_rate)"),
        (
            "save_total_limit=2",
            "callbacks.model_checkpoint.save_top_k=2? (HF's save_total_limit; lab keeps the K "
            "best, not the K most recent)",
        ),
        (
            "load_best_model_at_end=true",
            "final_weights=best? (HF's load_best_model_at_end; lab's default; "
            "final_weights=last for HF's default)",
        ),
        ("load_best_model_at_end=false", "final_weights=last? (HF's load_best_model_at_end)"),
        (
            "metric_for_best_model=eval_loss",
            "optimized_metric=val/loss? (HF's metric_for_best_model)",
        ),
        ("num_train_epochs=3", "trainer.max_epochs=3? (HF's num_train_epochs)"),
        (
            "trainer.warmup_ratio=0.1",
            "scheduler.warmup_ratio=0.1? (HF's warmup_ratio; lab's default is 0.06, HF's 0)",
        ),
        ("trainer.warmup_steps=0.1", "scheduler.warmup_ratio=0.1? (HF's warmup_steps)"),
        (
            "trainer.warmup_steps=50",
            "scheduler.warmup_steps=50? (HF's warmup_steps; a share below 1: "
            "scheduler.warmup_ratio)",
        ),
        ("optim=adamw_torch", "optimizer=adamw? (HF's optim)"),
        ("lr_scheduler_type=constant", "scheduler=none? (HF's lr_scheduler_type)"),
        ("trainer.fp16=true", "precision=16-mixed? (HF's fp16)"),
    ],
)
def test_an_hf_name_gets_its_lab_key_with_the_value(override: str, guess: str) -> None:
    key = override.partition("=")[0]
    line = _hint(override)
    assert line.startswith(f"'{key}' is not a config key. Did you mean {guess} Valid ")


def test_a_yaml_key_without_a_value_is_said_with_a_placeholder() -> None:
    assert hf_key_hint("adam_beta2") == (
        "Did you mean 'optimizer.betas=[0.9,<value>]'? (HF's adam_beta2)"
    )
    assert hf_key_hint("metric_for_best_model") == (
        "Did you mean optimized_metric=val/<name>? (HF's metric_for_best_model)"
    )
    assert hf_key_hint("eval_stepz", "4") is None  # not HF's: the look-alike stays


@pytest.mark.parametrize(
    ("group", "name", "lab_name"),
    [
        ("scheduler", "constant_with_warmup", "constant"),
        ("optimizer", "adamw_torch", "adamw"),
        ("optimizer", "adamw_torch_fused", "adamw"),
    ],
)
def test_an_hf_option_name_gets_labs_option(group: str, name: str, lab_name: str) -> None:
    options = group_options(group)
    hydra = (
        f"In 'train': Could not find '{group}/{name}'\n\nAvailable options in '{group}':\n\t"
        + "\n\t".join(options)
    )
    assert missing_option_line(hydra) == (
        f"In 'train': Could not find '{group}/{name}'. Did you mean {group}={lab_name}? "
        f"(HF's {name}) Options in '{group}': {', '.join(options)}"
    )
    assert hf_option_hint(group, "cosine_typo") is None


def test_every_lab_key_and_option_the_table_names_exists(compose_cfg: Any) -> None:
    cfg = compose_cfg("model=tiny_bert", "callbacks=[default,early_stopping]")
    for hf_name, (template, _) in HF_KEYS.items():
        for part in template.strip("'").split():
            key, sep, value = part.partition("=")
            if not sep:  # `resume=<run dir>`'s "dir>"
                continue
            if "." in key:
                found = OmegaConf.select(cfg, key, default="<missing>")
                assert found != "<missing>", f"{hf_name}: {key}"
            elif key in ("precision", "strategy") and "{" not in value:
                assert value in group_options(key), f"{hf_name}: {part}"
            else:
                assert key in cfg, f"{hf_name}: {key}"
    for group, names in HF_OPTIONS.items():
        assert set(names.values()) <= set(group_options(group)), group
