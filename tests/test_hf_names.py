"""HF `TrainingArguments` names given as lab keys or options get the README table's lab key,
with the value given, before any look-alike (s32a F-M5: `trainer.eval_steps=4` was guessed
`trainer.max_steps`, `scheduler=constant_with_warmup` `scheduler=cosine_with_restarts`)."""

from __future__ import annotations

from typing import Any

import pytest
from omegaconf import OmegaConf

from lab.config.cli import unknown_key_hints
from lab.config.hf_names import HF_KEYS, HF_OPTIONS, HF_VALUES, hf_key_hint, hf_option_hint
from lab.config.hf_values import HintContext
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


# s32d G1: the value is checked against lab's, so that the suggestion is one lab accepts as
# written (the value was copied: `trainer.max_epochs=2.0`, refused as no integer;
# `fp16=false` -> `precision=16-mixed`; `scheduler=cosine_with_min_lr`, which lab has not).
SCHEDULERS = "constant, cosine, cosine_with_restarts, inverse_sqrt, linear, none, polynomial"
OPTIMIZERS = "adafactor, adamw, adamw_8bit, paged_adamw_32bit, paged_adamw_8bit, sgd"
CLASSIFICATION = "val/loss, val/acc, val/f1, val/precision, val/recall, val/mcc, val/f1_positive"


@pytest.mark.parametrize(
    ("overrides", "said"),
    [
        (
            ["trainer.lr_scheduler_type=cosine_with_min_lr"],
            "HF's lr_scheduler_type=cosine_with_min_lr: lab has no scheduler "
            f"cosine_with_min_lr; options: {SCHEDULERS}.",
        ),
        (
            ["lr_scheduler_type=reduce_lr_on_plateau"],
            "HF's lr_scheduler_type=reduce_lr_on_plateau: lab has no scheduler "
            f"reduce_lr_on_plateau; options: {SCHEDULERS}.",
        ),
        (
            ["trainer.lr_scheduler_type=warmup_stable_decay"],
            "HF's lr_scheduler_type=warmup_stable_decay: lab has no scheduler "
            f"warmup_stable_decay; options: {SCHEDULERS}.",
        ),
        (
            ["trainer.optim=lion_32bit"],
            f"HF's optim=lion_32bit: lab has no optimizer lion_32bit; options: {OPTIMIZERS}.",
        ),
        (  # was adamw_8bit: another optimizer, and a CUDA-only one
            ["trainer.optim=adamw_torch_4bit"],
            "HF's optim=adamw_torch_4bit: lab has no optimizer adamw_torch_4bit; options: "
            f"{OPTIMIZERS}.",
        ),
        (["trainer.optim=adamw_bnb_8bit"], "Did you mean optimizer=adamw_8bit? (HF's optim)"),
        (
            ["trainer.report_to=mlflow"],
            "HF's report_to=mlflow: lab has no logger mlflow; options: csv, default, none, "
            "tensorboard, wandb.",
        ),
        (
            ["trainer.num_train_epochs=2.0"],
            "Did you mean trainer.max_epochs=2? (HF's num_train_epochs)",
        ),
        (
            ["trainer.num_train_epochs=2.5"],
            "Did you mean trainer.max_epochs=3 trainer.max_steps=<steps of 2.5 epochs>? (HF's "
            "num_train_epochs; trainer.max_epochs takes whole epochs; the first limit reached "
            "ends training)",
        ),
        (
            ["trainer.fp16=false"],
            "HF's fp16=false: false is lab's default (precision=32-true): nothing to set.",
        ),
        (
            ["trainer.bf16=false"],
            "HF's bf16=false: false is lab's default (precision=32-true): nothing to set.",
        ),
        (["trainer.bf16=true"], "Did you mean precision=bf16-mixed? (HF's bf16)"),
        (
            ["metric_for_best_model=eval_accuracy"],
            "Did you mean optimized_metric=val/acc? (HF's metric_for_best_model; lab's name of "
            "HF's accuracy)",
        ),
        (
            ["data=imdb", "metric_for_best_model=accuracy"],
            "Did you mean optimized_metric=val/acc? (HF's metric_for_best_model; lab's name of "
            "HF's accuracy)",
        ),
        (
            ["metric_for_best_model=eval_matthews_correlation"],
            "Did you mean optimized_metric=val/mcc? (HF's metric_for_best_model; lab's name of "
            "HF's matthews_correlation)",
        ),
        (["metric_for_best_model=eval_f1"], "Did you mean optimized_metric=val/f1? (HF's "),
        (
            ["metric_for_best_model=eval_rouge1"],
            "HF's metric_for_best_model=eval_rouge1: this task's head logs no rouge1; pick one "
            f"of its metrics: {CLASSIFICATION}.",
        ),
        (
            ["optimizer.betas=[0.8,0.9]", "optimizer.adam_beta2=0.98"],
            "Did you mean 'optimizer.betas=[0.8,0.98]'? (HF's adam_beta2)",
        ),
        (
            ["optimizer.adam_beta1=0.8"],
            "Did you mean 'optimizer.betas=[0.8,0.999]'? (HF's adam_beta1)",
        ),
        (
            ["optimizer=sgd", "optimizer.adam_beta2=0.98"],
            "HF's adam_beta2=0.98: optimizer=sgd takes no adam_beta2 (its keys: _partial_, "
            "_target_, layer_decay, lr, momentum, nesterov, weight_decay).",
        ),
        (
            ["optimizer=sgd", "optimizer.adam_epsilon=1e-6"],
            "HF's adam_epsilon=1e-6: optimizer=sgd takes no adam_epsilon (its keys: "
            "_partial_, _target_, layer_decay, lr, momentum, nesterov, weight_decay).",
        ),
        (
            ["trainer.eval_strategy=no"],
            "Did you mean trainer.limit_val_batches=0? (HF's eval_strategy; validates no "
            "batch; the final metrics are then of the last weights)",
        ),
        (
            ["trainer.eval_strategy=epoch"],
            "HF's eval_strategy=epoch: \"epoch\" is lab's default (a validation after each "
            "epoch): nothing to set.",
        ),
        (  # not trainer.strategy, the DDP strategy (a look-alike)
            ["trainer.logging_strategy=steps"],
            "Did you mean trainer.log_every_n_steps=<logging_steps>? (HF's logging_strategy)",
        ),
        (
            ["trainer.logging_strategy=epoch"],
            "HF's logging_strategy=epoch: lab has no logging strategy: it logs every "
            "trainer.log_every_n_steps optimizer steps, and each validation.",
        ),
        (
            ["save_strategy=no"],
            "Did you mean callbacks.last_checkpoint.every_n_train_steps=0? (HF's save_strategy; "
            "no periodic last.ckpt; the best checkpoint, which lab tests and exports, is still "
            "kept, and a SIGTERM still saves one to resume from)",
        ),
        (
            ["save_strategy=best"],
            "HF's save_strategy=best: \"best\" is what lab's model_checkpoint does at each "
            "validation that improves optimized_metric: nothing to set.",
        ),
        (
            ["save_strategy=epoch"],
            "Did you mean callbacks.last_checkpoint.every_n_train_steps=<steps per epoch>? "
            "(HF's save_strategy; lab saves by steps, not epochs)",
        ),
        (
            ["save_total_limit=null"],
            "Did you mean callbacks.model_checkpoint.save_top_k=-1? (HF's save_total_limit; "
            "lab keeps the K best, not the K most recent)",
        ),
    ],
)
def test_an_hf_value_is_checked_against_labs(overrides: list[str], said: str) -> None:
    key = overrides[-1].partition("=")[0]
    assert _hint(*overrides).startswith(f"'{key}' is not a config key. {said}")


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("cosine_with_min_lr", "lab has no scheduler cosine_with_min_lr (an HF lr_scheduler_type"),
        ("cosine_typo", "Did you mean scheduler=cosine?"),  # not HF's: the look-alike
    ],
)
def test_an_hf_option_lab_lacks_gets_no_look_alike(name: str, said: str) -> None:
    hydra = f"In 'train': Could not find 'scheduler/{name}'\n\nAvailable options in 'scheduler':"
    hydra += "\n\t" + "\n\t".join(group_options("scheduler"))
    assert missing_option_line(hydra) == (
        f"In 'train': Could not find 'scheduler/{name}'. {said}"
        + (" option)." if "HF" in said else "")
        + f" Options in 'scheduler': {SCHEDULERS}"
    )
    line = missing_option_line(hydra.replace("scheduler", "optimizer").replace(name, "lion_8bit"))
    assert "lab has no optimizer lion_8bit (an HF optim option)." in line


def test_a_suggested_key_the_config_lacks_is_not_suggested(compose_cfg: Any) -> None:
    cfg = compose_cfg("model=tiny_bert")
    OmegaConf.set_struct(cfg, False)
    del cfg.task.module["label_smoothing"]  # as for a head without label smoothing
    assert hf_key_hint("label_smoothing_factor", "0.1", context=HintContext(cfg)) == (
        "HF's label_smoothing_factor=0.1: lab's task.module.label_smoothing, which this config "
        "has not."
    )


def test_every_value_checked_row_is_a_row_of_the_table() -> None:
    assert set(HF_VALUES) <= set(HF_KEYS)


def test_text_classifications_declared_metrics_are_what_it_logs() -> None:
    from lab.tasks.text_classification.module import (
        TextClassificationModule,
        classification_metrics,
    )

    logged = {"loss", *classification_metrics(2).keys()}
    assert set(TextClassificationModule.metric_names) == logged
    assert set(TextClassificationModule.hf_metric_names.values()) <= logged
