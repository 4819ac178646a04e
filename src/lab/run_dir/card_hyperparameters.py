"""The model card's hyperparameters table (`lab.run_dir.model_card`): what a recipe needs to
be told apart from another, from the run's resolved config (and, for `class_weights=balanced`,
the weights the run counted from its train split, which its record holds)."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

CLASS_WEIGHTS = "task.module.class_weights"

HYPERPARAMETERS = (
    "seed",
    "optimizer.lr",
    "optimizer.weight_decay",
    "scheduler.name",
    "scheduler.warmup_ratio",
    "scheduler.warmup_steps",
    "data.batch_size",
    "data.max_length",
    "data.doc_stride",
    "data.max_source_length",
    "data.max_target_length",
    "data.block_size",
    "trainer.max_epochs",
    "trainer.max_steps",
    "trainer.accumulate_grad_batches",
    "trainer.gradient_clip_val",
    "trainer.precision",
)

# The training knobs a recipe reaches for, listed when set to anything but "off" (the value
# beside each): a card that leaves them out describes another run.
KNOBS: dict[str, Any] = {
    "optimizer.layer_decay": 1.0,
    CLASS_WEIGHTS: None,
    "task.module.label_smoothing": 0.0,
    "model.freeze_layers": 0,
    "model.freeze": [],
    "model.add_tokens": [],
    "model.add_special_tokens": {},
    "model.gradient_checkpointing": False,
    "data.group_by_length": False,
    "final_weights": "best",
    "data.history_cut": "none",
}


def hyperparameter_rows(
    cfg: DictConfig, record: dict[str, Any] | None = None
) -> list[tuple[str, Any]]:
    """The card's hyperparameters: the optimizer (its builder's name), the values every run
    has (`HYPERPARAMETERS`), the training knobs that are on (`KNOBS`) and the adapter;
    `class_weights=balanced` with the weights it counted (`record`'s `class_weights`)."""
    rows: list[tuple[str, Any]] = []
    target = OmegaConf.select(cfg, "optimizer._target_")
    if target:
        rows.append(("optimizer", str(target).rsplit(".", 1)[-1]))
    rows += [(k, OmegaConf.select(cfg, k)) for k in HYPERPARAMETERS]
    for key, off in KNOBS.items():
        value = OmegaConf.select(cfg, key)
        if isinstance(value, (DictConfig, ListConfig)):
            value = OmegaConf.to_container(value, resolve=True)
        if value is not None and value != off:
            rows.append((key, value))
    rows += own_module_rows(cfg)
    counted = (record or {}).get("class_weights")
    if isinstance(counted, dict) and counted.get("weights"):  # a card travels without the log
        from lab.tasks.losses import counted_weights

        rows = [
            (k, f"{v} ({counted_weights(counted)})" if k == CLASS_WEIGHTS else v) for k, v in rows
        ]
    if OmegaConf.select(cfg, "peft.config._target_"):
        from lab.run_dir.model_card import adapter_facts

        rows.append(("peft", adapter_facts(cfg)["kind"]))
    return [(k, v) for k, v in rows if v is not None]


def own_module_target(cfg: DictConfig) -> str | None:
    """`task.module._target_` where it is a module of your own (outside lab), else None: the
    card names it on its Head line and lists its settings (`own_module_rows`)."""
    target = str(OmegaConf.select(cfg, "task.module._target_") or "")
    return target if target and not target.startswith("lab.") else None


def own_module_rows(cfg: DictConfig) -> list[tuple[str, Any]]:
    """A task module of your own: its target and the settings it takes (a focal loss's
    `gamma`), which no other row names; none for lab's own modules, which the head and the
    rows above describe."""
    target = own_module_target(cfg)
    if target is None:
        return []
    rows: list[tuple[str, Any]] = [("task.module", target)]
    for key in cfg.task.module:
        name = f"task.module.{key}"
        if str(key).startswith("_") or name in KNOBS:
            continue
        value = OmegaConf.select(cfg, name)
        if isinstance(value, (DictConfig, ListConfig)):
            value = OmegaConf.to_container(value, resolve=True)
        rows.append((name, value))
    return rows
