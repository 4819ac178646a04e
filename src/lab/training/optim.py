"""Optimizer and learning-rate schedule factories referenced by `conf/optimizer` and
`conf/scheduler`. Both are used as Hydra partials: the TaskModule supplies the model and the
number of training steps, which are only known once the Trainer is set up.

Every optimizer factory takes the parameters through `param_groups`, so all of them share:

* only parameters with `requires_grad` are given to the optimizer (frozen ones, see
  `lab.training.freezing`, get no optimizer state);
* no weight decay on biases and normalisation weights, by HF Trainer's rule
  (`lab.training.decay_names`);
* `layer_decay` (layer-wise learning-rate decay, as in the ELECTRA and DeBERTa recipes): a
  parameter at layer `i` of a model with `L` blocks trains at `lr * layer_decay ** (L + 1 - i)`,
  with the embeddings at layer 0, block `k` (0-based) at layer `k + 1` and everything above the
  blocks (final norm, pooler, task head) at `L + 1`, the full learning rate;
* every group has a readable `name`, which Lightning's `LearningRateMonitor` logs instead of
  `pg1..pgN`: `decay` and `no_decay` without layer decay; with it `embeddings`, `layer_0` ..
  `layer_{L-1}` (the blocks) and `head` (everything above the blocks), each with a
  `<layer>/no_decay` twin for its biases and normalisation weights (`lr-AdamW/layer_0`).

The bitsandbytes optimizers (`adamw_8bit` and the paged ones) need CUDA: `check_optimizer`
refuses them in words before any weights load.
"""

from __future__ import annotations

import importlib.util
import logging
import math
from collections.abc import Sequence
from typing import Any, TypeVar

import torch
from torch import nn

from lab.errors import ConfigError
from lab.training.decay_names import decayed_parameter_names

log = logging.getLogger(__name__)

_Optimizer = TypeVar("_Optimizer", bound=torch.optim.Optimizer)


def param_groups(
    model: nn.Module, lr: float, weight_decay: float, layer_decay: float = 1.0
) -> list[dict[str, Any]]:
    """The trainable parameters of `model` as optimizer groups.

    Without layer decay: two groups, decayed and not decayed (the groups lab always made, so
    checkpoints of earlier runs resume). With `layer_decay < 1`: one pair per layer, each with
    its own `lr` (see the module doc).
    """
    if not 0 < layer_decay <= 1:
        raise ConfigError(f"optimizer.layer_decay={layer_decay} must be in (0, 1]; 1: off")
    layers: dict[str, int] = {}
    depth = 0
    if layer_decay < 1:
        from lab.training.freezing import parameter_layers

        layers, depth = parameter_layers(model)
    decayed = decayed_parameter_names(model)
    groups: dict[tuple[int, bool], list[nn.Parameter]] = {}
    # named_parameters yields each tensor once: tied weights (GPT-2's input embedding is its
    # output layer) appear under two modules, and the optimizer must hold each tensor once.
    for name, param in model.named_parameters():
        if param.requires_grad:
            decays = name in decayed
            groups.setdefault((layers.get(name, 0), decays), []).append(param)
    if layer_decay == 1:
        return [
            {"params": groups.get((0, True), []), "weight_decay": weight_decay, "name": "decay"},
            {"params": groups.get((0, False), []), "weight_decay": 0.0, "name": "no_decay"},
        ]
    return [
        {
            "params": params,
            "weight_decay": weight_decay if decays else 0.0,
            "lr": lr * layer_decay ** (depth - layer),
            "name": _group_name(layer, depth, decays),
        }
        for (layer, decays), params in sorted(groups.items(), key=lambda item: item[0])
    ]


def _group_name(layer: int, depth: int, decays: bool) -> str:
    # Layer 0 is the embeddings, layer k + 1 block k, `depth` everything above the blocks.
    where = "embeddings" if layer == 0 else "head" if layer == depth else f"layer_{layer - 1}"
    return where if decays else f"{where}/no_decay"


def keep_group_names(optimizer: _Optimizer) -> _Optimizer:
    """`optimizer`, whose group names survive loading an optimizer state saved without them.

    torch's `load_state_dict` replaces each group by the saved one (it checks only the number
    and sizes of groups), so resuming a checkpoint written before groups had names would log
    `pg1..pgN` again; a post-load hook puts the names back.
    """
    names = [group.get("name") for group in optimizer.param_groups]

    def restore(loaded: torch.optim.Optimizer) -> None:
        for group, name in zip(loaded.param_groups, names, strict=True):
            if name is not None:
                group.setdefault("name", name)

    optimizer.register_load_state_dict_post_hook(restore)
    return optimizer


def adamw(
    model: nn.Module,
    lr: float = 5e-5,
    weight_decay: float = 0.01,
    betas: Sequence[float] = (0.9, 0.999),
    eps: float = 1e-8,
    fused: bool | None = None,
    layer_decay: float = 1.0,
) -> torch.optim.AdamW:
    """AdamW (torch) over the trainable parameters; see `param_groups`."""
    groups = param_groups(model, lr, weight_decay, layer_decay)
    optimizer = torch.optim.AdamW(groups, lr=lr, betas=tuple(betas), eps=eps, fused=fused)  # type: ignore[arg-type]
    return keep_group_names(optimizer)


def sgd(
    model: nn.Module,
    lr: float = 1e-2,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    nesterov: bool = False,
    layer_decay: float = 1.0,
) -> torch.optim.SGD:
    """SGD with momentum (torch) over the trainable parameters; see `param_groups`."""
    if nesterov and not momentum:
        raise ConfigError("optimizer.nesterov=true needs optimizer.momentum > 0")
    groups = param_groups(model, lr, weight_decay, layer_decay)
    optimizer = torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=nesterov)
    return keep_group_names(optimizer)


def adafactor(
    model: nn.Module,
    lr: float | None = 1e-3,
    weight_decay: float = 0.0,
    eps: Sequence[float] = (1e-30, 1e-3),
    clip_threshold: float = 1.0,
    decay_rate: float = -0.8,
    beta1: float | None = None,
    scale_parameter: bool = False,
    relative_step: bool = False,
    warmup_init: bool = False,
    layer_decay: float = 1.0,
) -> torch.optim.Optimizer:
    """Adafactor (`transformers.optimization.Adafactor`): factored second moments, so far less
    optimizer memory than Adam. The defaults are the fine-tuning recipe (a fixed `lr` driven by
    lab's scheduler); `relative_step=true` is the paper's own step size (`lr` is then unused)."""
    from transformers.optimization import Adafactor

    # relative_step=true: Adafactor computes its own step size and `lr` is not used (it stays
    # a number in the config, so one range rule covers every optimizer's lr).
    step = None if relative_step else lr
    if step is None and not relative_step:
        raise ConfigError("optimizer.lr=null needs optimizer.relative_step=true")
    groups = param_groups(model, step or 0.0, weight_decay, layer_decay)
    optimizer = Adafactor(  # type: ignore[no-untyped-call]
        groups,
        lr=step,
        eps=tuple(eps),
        clip_threshold=clip_threshold,
        decay_rate=decay_rate,
        beta1=beta1,
        weight_decay=weight_decay,
        scale_parameter=scale_parameter,
        relative_step=relative_step,
        warmup_init=warmup_init,
    )
    return keep_group_names(optimizer)


def check_bitsandbytes(what: str) -> None:
    """bitsandbytes optimizers run on CUDA only, with the bitsandbytes package installed."""
    if not torch.cuda.is_available():
        raise ConfigError(
            f"{what} is a bitsandbytes optimizer and needs a CUDA GPU; none is visible: "
            "use optimizer=adamw (or adafactor, which also saves optimizer memory)"
        )
    if importlib.util.find_spec("bitsandbytes") is None:
        raise ConfigError(f"{what} needs the bitsandbytes package: pip install bitsandbytes")


def bitsandbytes_adamw(
    model: nn.Module,
    optimizer_class: str = "bitsandbytes.optim.AdamW8bit",
    lr: float = 5e-5,
    weight_decay: float = 0.01,
    betas: Sequence[float] = (0.9, 0.999),
    eps: float = 1e-8,
    layer_decay: float = 1.0,
) -> torch.optim.Optimizer:
    """An AdamW of bitsandbytes (`optimizer_class`: 8-bit states and/or paged memory)."""
    from hydra.utils import get_class

    check_bitsandbytes(f"optimizer_class={optimizer_class}")
    groups = param_groups(model, lr, weight_decay, layer_decay)
    optimizer: torch.optim.Optimizer = get_class(optimizer_class)(
        groups, lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay
    )
    return keep_group_names(optimizer)


def check_optimizer(optimizer_cfg: Any) -> None:
    """Refuse, in words, an optimizer this machine cannot run (before any weights load).

    Reads the config only: an `optimizer_class` under `bitsandbytes.` needs CUDA and the
    bitsandbytes package. Called from `lab.build.build_model` (and by the config rules).
    """
    if optimizer_cfg is None:
        return
    target = str(optimizer_cfg.get("optimizer_class") or optimizer_cfg.get("_target_") or "")
    if target.startswith("bitsandbytes."):
        check_bitsandbytes(f"optimizer.optimizer_class={target}")


def warmup_steps_of(ratio: float, num_training_steps: int) -> int:
    """The warmup steps `ratio` of `num_training_steps` gives: rounded up, as HF Trainer's
    `get_warmup_steps` does (0.06 of 20 steps: 2), so a run ported from an HF script warms up
    as long. Unlike HF, a product that exceeds a whole number only by float error (0.07 x 100 =
    7.000000000000001) counts as that number (7, where HF takes 8)."""
    return math.ceil(round(ratio * num_training_steps, 9))


def warmup_past_the_end(
    warmup: int, num_training_steps: int, warmup_steps: int, warmup_ratio: float
) -> str | None:
    """A warning when the warmup lasts the whole run (`num_training_steps`, 0 when unknown):
    the learning rate then only rises and never reaches `optimizer.lr`, the mistake of a
    recipe's `warmup_steps` kept on a shorter run. HF Trainer takes it silently; not refused,
    as a smoke test of a recipe (`trainer.max_steps=5`) does this on purpose."""
    if num_training_steps <= 0 or warmup < num_training_steps:
        return None
    given = (
        f"scheduler.warmup_steps={warmup_steps}"
        if warmup_steps > 0
        else f"scheduler.warmup_ratio={warmup_ratio} ({warmup} steps)"
    )
    # The last step's learning rate under linear warmup: (steps - 1) / warmup of the peak.
    reached = 100 * (num_training_steps - 1) / warmup
    return (
        f"{given} lasts the run's {num_training_steps} optimizer steps: the learning rate only "
        f"rises, to {reached:.3g}% of optimizer.lr at the last step; lower the warmup"
    )


def warmup_scheduler(
    optimizer: torch.optim.Optimizer,
    num_training_steps: int,
    name: str = "linear",
    warmup_steps: int = 0,
    warmup_ratio: float = 0.0,
    num_cycles: float | None = None,
    power: float | None = None,
    lr_end: float | None = None,
    timescale: int | None = None,
) -> torch.optim.lr_scheduler.LRScheduler:
    """A `transformers` schedule with warmup given as steps or as a share of all steps.

    `name` is any `transformers.SchedulerType` (linear, cosine, constant_with_warmup,
    polynomial, cosine_with_restarts, inverse_sqrt, ...). Warmup is `warmup_steps` when it is
    above 0, else `warmup_ratio` of `num_training_steps` rounded up (`warmup_steps_of`): HF
    Trainer's rule, so
    `scheduler.warmup_steps=N` alone overrides the YAMLs' default ratio (ranges.py refuses
    negative values before anything loads). The schedule's own options, passed on only when
    set: `num_cycles` (cosine: waves; cosine_with_restarts: hard restarts), `power` and `lr_end`
    (polynomial), `timescale` (inverse_sqrt; null: the warmup steps, or 10000 without warmup).
    """
    from transformers import get_scheduler

    # Every conf/scheduler YAML sets a default ratio, so steps given alone must win over it.
    warmup = warmup_steps if warmup_steps > 0 else warmup_steps_of(warmup_ratio, num_training_steps)
    if note := warmup_past_the_end(warmup, num_training_steps, warmup_steps, warmup_ratio):
        log.warning(note)
    options = {
        key: value
        for key, value in (
            ("num_cycles", num_cycles),
            ("power", power),
            ("lr_end", lr_end),
            ("timescale", timescale),
        )
        if value is not None
    }
    if name == "cosine_with_restarts" and "num_cycles" in options:
        options["num_cycles"] = int(options["num_cycles"])  # hard restarts: a whole number
    return get_scheduler(
        name,
        optimizer,
        num_warmup_steps=warmup,
        num_training_steps=num_training_steps,
        scheduler_specific_kwargs=options or None,
    )


def check_training_options(cfg: Any, datamodule: Any) -> None:
    """The training options' checks that need the data but no weights (called by
    `lab.build.build_model` before the model loads): an optimizer this machine cannot run,
    and `task.module.class_weights` of the wrong length for the data's classes."""
    from lab.tasks.losses import check_class_weights

    check_optimizer(cfg.get("optimizer"))
    weights = (cfg.task.get("module") or {}).get("class_weights")
    head = datamodule.model_kwargs()
    if weights is not None and head.get("num_labels"):
        names = list((head.get("id2label") or {}).values())
        check_class_weights(weights, int(head["num_labels"]), names)
