"""The value of an HF `TrainingArguments` name, checked against what lab's key takes.

`lab.config.hf_names` maps HF's names to lab's keys; this module makes the override it
suggests one lab accepts as written (s32d G1: the value was copied, so `num_train_epochs=2.0`
got `trainer.max_epochs=2.0`, refused as no integer, `fp16=false` got `precision=16-mixed`,
`lr_scheduler_type=cosine_with_min_lr` a scheduler lab has not, `adam_beta2` under
`optimizer=sgd` a `betas` key SGD has not). Each function takes the value given (None: not
known, as for a YAML key) and the command's `HintContext`, and returns (lab's override, a
note), or (None, why there is none) where lab has no such setting.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from omegaconf import DictConfig, OmegaConf

#: (lab's override, a note) or (None, why lab has none)
Suggestion = tuple[str | None, str]


@dataclass(frozen=True)
class HintContext:
    """What a hint knows of the command: `cfg`, the config its group choices compose (None:
    not known), and `given`, its other `key=value` overrides (`optimizer.betas` -> `[0.8,0.9]`)."""

    cfg: DictConfig | None = None
    given: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, cfg: DictConfig | None, overrides: Sequence[str]) -> HintContext:
        """The context of a command with `overrides`, composed as `cfg`."""
        pairs = (o.lstrip("+~").partition("=") for o in overrides)
        return cls(cfg, {key: value for key, sep, value in pairs if sep})

    @classmethod
    def composing(
        cls, compose: Callable[..., DictConfig], groups: set[str], overrides: Sequence[str]
    ) -> HintContext:
        """The context of `overrides`, its config composed by `compose` from their choices of
        `groups` alone (`data=imdb` beside a top-level HF name: the task's metric names); no
        config where those do not compose."""
        picked = [o for o in overrides if o.partition("=")[0] in groups]
        try:
            cfg = compose(overrides=picked, return_hydra_config=True)
        except Exception:
            cfg = None
        return cls.of(cfg, overrides)

    def optimizer_keys(self) -> set[str] | None:
        """The keys of the chosen optimizer (None: not known)."""
        node = None if self.cfg is None else OmegaConf.select(self.cfg, "optimizer")
        return {str(k) for k in node} if isinstance(node, DictConfig) else None

    def optimizer_name(self) -> str:
        """The chosen optimizer option (`adamw`), or "this optimizer"."""
        choices = OmegaConf.select(self.cfg, "hydra.runtime.choices") if self.cfg else None
        name = choices.get("optimizer") if isinstance(choices, DictConfig) else None
        return f"optimizer={name}" if name else "this optimizer"

    def value_of(self, leaf: str) -> str | None:
        """The value given to any key whose last name is `leaf` (`optimizer.adam_beta1`)."""
        for key, value in self.given.items():
            if key.rpartition(".")[2] == leaf:
                return value
        return None


def option(group: str, hf_name: str, aliases: Mapping[str, str]) -> Callable[..., Suggestion]:
    """HF's option `value` of `hf_name` as lab's option of `group` (`aliases` where the names
    differ); where lab has no such option, says so and lists lab's."""

    def suggest(value: str | None, _ctx: HintContext) -> Suggestion:
        from lab.config.option_errors import group_options

        options = group_options(group)
        if value is None:
            return f"{group}=<option>", f"lab's options: {', '.join(options)}"
        lab_name = aliases.get(value, value)
        if lab_name in options:
            return f"{group}={lab_name}", ""
        return None, f"lab has no {group} {value}; options: {', '.join(options)}"

    return suggest


def epochs(value: str | None, _ctx: HintContext) -> Suggestion:
    """`num_train_epochs` (HF's is a float): a whole number as `trainer.max_epochs`; a fraction
    needs `trainer.max_steps`, as max_epochs takes whole epochs."""
    number = _number(value)
    if number is None or number <= 0:
        return "trainer.max_epochs=<whole number>", ""
    if number.is_integer():
        return f"trainer.max_epochs={int(number)}", ""
    return (
        f"trainer.max_epochs={math.ceil(number)} trainer.max_steps=<steps of {value} epochs>",
        "trainer.max_epochs takes whole epochs; the first limit reached ends training",
    )


def precision(mixed: str) -> Callable[..., Suggestion]:
    """`fp16` / `bf16`: true is `precision=<mixed>`, false lab's default `precision=32-true`."""

    def suggest(value: str | None, _ctx: HintContext) -> Suggestion:
        if value is not None and value.lower() in ("false", "0", "no"):
            return None, "false is lab's default (precision=32-true): nothing to set"
        return f"precision={mixed}", "for true" if value is None else ""

    return suggest


def best_metric(value: str | None, ctx: HintContext) -> Suggestion:
    """`metric_for_best_model`: lab's `val/` name of HF's metric (`accuracy` -> `val/acc`)."""
    from lab.config.hf_metrics import lab_metric

    if value is None:
        return "optimized_metric=val/<name>", ""
    metric, note = lab_metric(value, ctx.cfg)
    return (f"optimized_metric={metric}" if metric else None), note


def beta(index: int) -> Callable[..., Suggestion]:
    """`adam_beta1` (`index` 0) / `adam_beta2` (1) as `optimizer.betas`, keeping the other
    beta where the command gives it (`optimizer.betas=[0.8,0.9]`, `adam_beta1=0.8`), else
    HF's default; only for an optimizer that takes betas."""

    def suggest(value: str | None, ctx: HintContext) -> Suggestion:
        if (refusal := _not_adam(ctx, "betas", f"adam_beta{index + 1}")) is not None:
            return None, refusal
        pair = [_given_beta(ctx, 0) or "0.9", _given_beta(ctx, 1) or "0.999"]
        pair[index] = value or "<value>"
        return f"'optimizer.betas=[{pair[0]},{pair[1]}]'", ""

    return suggest


def epsilon(value: str | None, ctx: HintContext) -> Suggestion:
    """`adam_epsilon` as `optimizer.eps`, only for an optimizer that takes Adam's betas."""
    if (refusal := _not_adam(ctx, "betas", "adam_epsilon")) is not None:
        return None, refusal
    return f"optimizer.eps={value or '<value>'}", ""


def eval_strategy(value: str | None, _ctx: HintContext) -> Suggestion:
    """`eval_strategy`: "steps" is `trainer.val_every_n_steps`, "epoch" lab's default; "no"
    has no strategy of its own: `trainer.limit_val_batches=0` validates no batch."""
    if value == "epoch":
        return None, '"epoch" is lab\'s default (a validation after each epoch): nothing to set'
    if value == "no":
        return (
            "trainer.limit_val_batches=0",
            "validates no batch; the final metrics are then of the last weights",
        )
    return "trainer.val_every_n_steps=<eval_steps>", 'for "steps"; "epoch" is lab\'s default'


def logging_strategy(value: str | None, _ctx: HintContext) -> Suggestion:
    """`logging_strategy`: lab logs every `trainer.log_every_n_steps` optimizer steps."""
    if value in (None, "steps"):
        return "trainer.log_every_n_steps=<logging_steps>", ""
    return None, (
        "lab has no logging strategy: it logs every trainer.log_every_n_steps optimizer "
        "steps, and each validation"
    )


def save_strategy(value: str | None, _ctx: HintContext) -> Suggestion:
    """`save_strategy`: lab writes `last.ckpt` (the resume point) every
    `callbacks.last_checkpoint.every_n_train_steps` steps, and keeps the best checkpoint at each
    validation that improves, which it tests and exports: "no" turns the former off (0), "best"
    is the latter, "epoch" has no setting of its own."""
    if value == "no":
        return "callbacks.last_checkpoint.every_n_train_steps=0", (
            "no periodic last.ckpt; the best checkpoint, which lab tests and exports, is still "
            "kept, and a SIGTERM still saves one to resume from"
        )
    if value == "best":
        return None, (
            '"best" is what lab\'s model_checkpoint does at each validation that improves '
            "optimized_metric: nothing to set"
        )
    if value == "epoch":
        return "callbacks.last_checkpoint.every_n_train_steps=<steps per epoch>", (
            "lab saves by steps, not epochs"
        )
    return "callbacks.last_checkpoint.every_n_train_steps=<save_steps>", ""


def save_top_k(value: str | None, _ctx: HintContext) -> Suggestion:
    """`save_total_limit` as `save_top_k`; HF's null (keep all) is lab's -1."""
    count = "-1" if value is not None and value.lower() in ("null", "none") else value
    return f"callbacks.model_checkpoint.save_top_k={count or '<value>'}", (
        "lab keeps the K best, not the K most recent"
    )


def _not_adam(ctx: HintContext, key: str, hf_name: str) -> str | None:
    """Why the chosen optimizer takes no `hf_name` (it has no `key`), or None."""
    keys = ctx.optimizer_keys()
    if keys is None or key in keys:
        return None
    return f"{ctx.optimizer_name()} takes no {hf_name} (its keys: {', '.join(sorted(keys))})"


def _given_beta(ctx: HintContext, index: int) -> str | None:
    """Beta `index` as the command gives it: `adam_beta1=`/`adam_beta2=`, or `optimizer.betas`."""
    if (own := ctx.value_of(f"adam_beta{index + 1}")) is not None:
        return own
    betas = ctx.given.get("optimizer.betas", "").strip("'\"[] ")
    parts = [p.strip() for p in betas.split(",")]
    return parts[index] if len(parts) == 2 and parts[index] else None


def _number(value: str | None) -> float | None:
    try:
        return None if value is None else float(value)
    except ValueError:
        return None
