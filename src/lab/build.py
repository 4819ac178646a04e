"""Build a run's parts from its config: tokenizer -> data module -> model -> task module.

`build_parts` is the one build step of training (`lab.train`) and of everything that rebuilds
a trained run from its directory (`lab.eval`, `lab.export` from a checkpoint), so a model
rebuilt later is built exactly as it was trained. The data is loaded, checked and tokenized
before the model is built: data errors come before any weights are loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig

from lab.config.hardware_rules import scales_loss
from lab.config.model_rules import check_positions, positions_problem
from lab.errors import ConfigError

if TYPE_CHECKING:
    from lab.data.datamodule import DataModule
    from lab.tasks.base import TaskModule


@dataclass
class Parts:
    """What a run is made of: the tokenizer, the data module (set up), the Hugging Face model
    and the task's LightningModule around it."""

    tokenizer: Any
    datamodule: DataModule
    model: Any
    module: TaskModule


def build_parts(
    cfg: DictConfig,
    *,
    tokenizer: Any = None,
    model: Any = None,
    on_data: Callable[[DataModule], None] | None = None,
    before_setup: Callable[[DataModule], None] | None = None,
) -> Parts:
    """Build tokenizer -> data module -> model -> task module from `cfg`.

    A given `tokenizer` or `model` is used instead of building one (`lab.eval` on an exported
    model). `on_data(datamodule)` is called once the data is ready, before the model is built
    (`lab.train` reports on the data while the weights load); `before_setup(datamodule)`
    before the data is read (`lab.eval` hands it rows it has read already).
    """
    from lab.training.tokenizers import build_tokenizer

    if model is None:
        # A length over the model's position table, where its config is at hand without the
        # weights: said before the splits are tokenized (minutes on a large set), not after.
        problem = positions_problem(cfg.model, cfg.data)
        if problem is not None:
            raise ConfigError(problem)
    else:  # a loaded model (lab.eval's export) meeting other data's lengths
        check_positions(model, cfg.data)
    if tokenizer is None:
        tokenizer = build_tokenizer(cfg)
    datamodule = build_datamodule(cfg, tokenizer, before_setup)
    if on_data is not None:
        on_data(datamodule)
    if model is None:
        model = build_model(cfg, datamodule, tokenizer)
    return Parts(tokenizer, datamodule, model, build_module(cfg, model, datamodule))


def build_datamodule(
    cfg: DictConfig, tokenizer: Any, before_setup: Callable[[DataModule], None] | None = None
) -> DataModule:
    """Instantiate `cfg.data` and load, check and tokenize every split now.

    Data errors therefore come before any model weights are loaded.
    """
    datamodule = instantiate_datamodule(cfg, tokenizer)
    if before_setup is not None:
        before_setup(datamodule)
    datamodule.setup("fit")
    return datamodule


def instantiate_datamodule(cfg: DictConfig, tokenizer: Any) -> DataModule:
    """`cfg.data`'s data module, not set up (nothing read yet)."""
    # A task may bring its own data module for any data (`task.data_module`: task=masked_lm).
    own = cfg.task.get("data_module") or {}
    # `+data.<key>=...` adds a key no data module reads (every option has a YAML default):
    # refused naming the data config's keys.
    keys = [str(k) for k in cfg.data]
    datamodule: DataModule = instantiate_node(
        cfg.data, "data", keys=keys, tokenizer=tokenizer, _convert_="all", **own
    )
    return datamodule


def instantiate_node(
    node: DictConfig, path: str, *, keys: Sequence[str] | None = None, **kwargs: Any
) -> Any:
    """Hydra's `instantiate(node, **kwargs)` for the config node at `path` (`task.module`,
    `callbacks.mine`), with the two mistakes made in a config of one's own said in one line
    instead of Hydra's traceback:

    * a key its target does not take (`+task.module.huber_delt=0.3`: Hydra's TypeError
      "unexpected keyword argument"), naming the keys it does take: `keys` where given (the
      data config's), else the parameters of the class or function `_target_` names;
    * a `_target_` of your code that cannot be imported (a typo, your project not on
      PYTHONPATH: `lab.config.target_imports.target_refusal`). lab's own targets keep
      Hydra's error: a bug of lab's, with its traceback.
    """
    from hydra.utils import instantiate

    try:
        return instantiate(node, **kwargs)
    except Exception as err:
        refusal = _refusal(err, node, path, keys)
        if refusal is None:
            raise
        raise refusal from err


def data_key_refusal(unknown: str, keys: Sequence[str], path: str = "data") -> ConfigError:
    """Training's refusal of a data config key its data module does not take: the command
    line's line over the config's keys, and the file of yours that sets it where one does
    (s31f F2, F7); `lab.validate` says the same (`lab.validate.check_data_keys`)."""
    from lab.config.key_hints import not_a_key
    from lab.config.lookalike_keys import defining_line

    line = not_a_key(path, unknown, [k for k in keys if k != unknown])
    where = defining_line(path, unknown)
    return ConfigError(f"{line}; it is set at {where}" if where else line)


def _refusal(
    err: Exception, node: DictConfig, path: str, keys: Sequence[str] | None
) -> ConfigError | None:
    """`instantiate_node`'s one line for `err`, or None where it is not one it words."""
    from lab.config.target_imports import (
        argument_names,
        forwarded_argument_names,
        locate,
        target_refusal,
        unexpected_argument_error,
    )

    unknown = _unexpected_keyword(err)
    if unknown is not None and keys is not None:
        return data_key_refusal(unknown, keys, path)
    if unknown is not None:
        target = str(node.get("_target_"))
        found, _ = locate(target)
        valid = argument_names(found) if found is not None else None
        if valid is None:  # `**kwargs` passed on to a base: its arguments and the base's
            valid = forwarded_argument_names(found)
        if valid is None:
            valid = [str(k) for k in node if not str(k).startswith("_") and str(k) != unknown]
        return unexpected_argument_error(path, target, unknown, valid)
    line = target_refusal(err)
    return ConfigError(line) if line is not None else None


def _unexpected_keyword(error: BaseException) -> str | None:
    """The argument name of a "got an unexpected keyword argument 'x'" TypeError that
    `error` (Hydra's InstantiationException) was raised from, or None."""
    import re

    cause = error.__cause__
    if isinstance(cause, TypeError):
        found = re.search(r"unexpected keyword argument '(\w+)'", str(cause))
        return found[1] if found else None
    return None


def build_model(cfg: DictConfig, datamodule: DataModule, tokenizer: Any) -> Any:
    """The configured head (label maps from the data), quantized and wrapped by PEFT if asked."""
    from hydra.utils import instantiate

    from lab.training.adapters import (
        apply_peft,
        check_quantization,
        keep_unquantized,
        unquantized_modules,
    )
    from lab.training.freezing import prepare_model
    from lab.training.optim import check_training_options
    from lab.training.vocabulary import warn_if_new_rows_frozen

    check_training_options(cfg, datamodule)  # before any weights load
    peft_cfg = cfg.get("peft") or DictConfig({})
    quantization = None
    if peft_cfg.get("quantization"):
        quantization = instantiate(peft_cfg.quantization, _convert_="all")
        # The head peft trains whole (`modules_to_save`) cannot train in 4 bit.
        keep_unquantized(quantization, unquantized_modules(cfg))
    check_quantization(quantization)
    network = instantiate(cfg.model.network)
    load_options = {"quantization_config": quantization} if quantization is not None else {}
    model = network(head=cfg.task.head, **datamodule.model_kwargs(), **load_options)
    classifies = str(cfg.task.head).endswith("ForSequenceClassification")
    if classifies and model.config.pad_token_id is None and tokenizer.pad_token_id is not None:
        # A decoder's sequence-classification head finds each row's last token by the pad id;
        # its config has none where its tokenizer had no pad token (`pad_with_end_of_text`).
        model.config.pad_token_id = tokenizer.pad_token_id
    prepare_model(model, tokenizer, cfg.model)  # new tokens' rows, then model.freeze*
    check_vocabulary(model, tokenizer)
    check_positions(model, cfg.data)
    if cfg.model.get("gradient_checkpointing"):
        # transformers 5 renamed it (the old name warns that it goes in v6).
        enable = getattr(model, "activation_checkpointing_enable", None)
        (enable or model.gradient_checkpointing_enable)()
        if peft_cfg.get("config"):
            model.enable_input_require_grads()  # frozen embeddings would cut the graph
    if peft_cfg.get("config"):
        model = apply_peft(model, instantiate(peft_cfg.config, _convert_="all"))
    else:
        warn_if_new_rows_frozen(model)
    return model


def build_module(cfg: DictConfig, model: Any, datamodule: DataModule) -> TaskModule:
    """The task's LightningModule around `model`, with optimizer and scheduler factories."""
    from hydra.utils import instantiate

    module: TaskModule = instantiate_node(
        cfg.task.module,
        "task.module",
        model=model,
        optimizer=optimizer_factory(cfg),
        scheduler=instantiate(cfg.scheduler) if cfg.get("scheduler") else None,
        **datamodule.module_kwargs(),
    )
    return module


def optimizer_factory(cfg: DictConfig) -> Any:
    """`cfg.optimizer` as a factory `model -> optimizer`, `fused=null` decided for this run."""
    from hydra.utils import instantiate

    options = {}
    if "fused" in cfg.optimizer and cfg.optimizer.fused is None:
        options["fused"] = fused_optimizer_fits(cfg)
    return instantiate(cfg.optimizer, **options)


def fused_optimizer_fits(cfg: DictConfig) -> bool:
    """Whether `optimizer.fused=null` (auto) means the fused kernel for this run.

    The fused AdamW kernel (one kernel over all parameters; CPU and CUDA) is what HF Trainer
    uses by default since torch 2.8, and measured on 2 CPU cores it takes about half the time of
    the `foreach` implementation: on short texts the optimizer step is a large share of a
    training step. It is left off where it cannot work: gradients cannot be clipped before a
    fused step under 16-mixed (the loss scaler's gradients are unscaled inside the step;
    bf16-mixed has no scaler and lab clips there itself: `lab.training.unscaled_clipping`),
    and the sharded strategies (FSDP, DeepSpeed) manage the optimizer themselves.
    """
    trainer = cfg.trainer
    if scales_loss(str(trainer.get("precision", "32-true"))) and trainer.get("gradient_clip_val"):
        return False
    strategy = trainer.get("strategy", "auto")
    target = str(strategy.get("_target_", "")) if isinstance(strategy, DictConfig) else strategy
    return str(target).rsplit(".", 1)[-1] in ("auto", "ddp", "DDPStrategy", "SingleDeviceStrategy")


# Data keys that set how many tokens one sequence may hold, by head.
def check_vocabulary(model: Any, tokenizer: Any) -> None:
    """The embedding table must cover every token id the tokenizer can produce."""
    rows = model.get_input_embeddings().num_embeddings
    if rows < len(tokenizer):
        raise ConfigError(
            f"the model's embedding table has {rows} rows but the tokenizer has {len(tokenizer)} "
            "tokens; set the model config's vocab_size to at least the tokenizer size"
        )
