"""`python -m lab.train`: compose a config with Hydra, train, test, export.

    python -m lab.train                                   # offline quickstart (MiniLM on demo)
    python -m lab.train model=roberta data=imdb           # the canonical run
    python -m lab.train experiment=roberta_imdb seed=3    # a pinned experiment

`run(cfg)` is the whole pipeline and knows nothing about any particular head: the config
names the classes (data module, task module, model head) and `run` wires them together. The
same `run` serves the CLI, the tests, sweeps and reproduction.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import hydra
from omegaconf import DictConfig, OmegaConf

from lab.config.cli import run_hydra_app
from lab.config.paths import conf_dir
from lab.config.resolvers import register_resolvers
from lab.errors import EXIT_INTERRUPTED, EXIT_USER_ERROR, ConfigError, LabError

if TYPE_CHECKING:
    import lightning as L

    from lab.run_dir.resume import ResumePoint

log = logging.getLogger(__name__)


def run(cfg: DictConfig, *, callbacks: Sequence[L.Callback] = ()) -> dict[str, float]:
    """Train, validate and test the configured model; export it; return the final metrics.

    Returns `{"val/acc": ..., "test/acc": ..., ...}` for the best checkpoint (on
    `cfg.optimized_metric`). Raises `LabError` for bad config or data, before any model
    weights are loaded. `callbacks` adds built Lightning callbacks to the configured ones
    (for programmatic use: notebooks, benchmarks).
    """
    from lab.training.distributed import job_scope

    with job_scope():  # DDP ranks of this job only; one run directory per job (see module)
        return _run(cfg, list(callbacks))


def _run(cfg: DictConfig, callbacks: list[L.Callback]) -> dict[str, float]:
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    from lab.run_dir.records import finish_record, is_global_rank_zero, resume_record, start_record
    from lab.run_dir.resume import prepare_resume
    from lab.training.loggers import finish_wandb_run

    output_dir = Path(cfg.paths.output_dir).resolve()
    # Refusals to resume come first and touch nothing in the run they refer to.
    resume_point = prepare_resume(output_dir, cfg) if cfg.get("resume") else None
    if resume_point:
        record = resume_record(output_dir, resume_point.record, resume_point.global_step)
        log.info("Resuming %s from step %d", output_dir, resume_point.global_step)
    else:
        record = start_record(output_dir, cfg)
    if is_global_rank_zero():
        log.info("Run directory: %s", output_dir)
    try:
        metrics = _train(cfg, output_dir, record, resume_point, callbacks)
        finish_wandb_run(exit_code=0)
        return metrics
    except LabError as err:
        finish_record(output_dir, record, {}, status=f"failed: {err}")
        raise
    except SIGTERMException:
        finish_record(output_dir, record, {}, status="interrupted (SIGTERM); resume=<this dir>")
        raise
    except Exception as err:
        # Pruned by a sweep, out of memory, a bug: the record says how the run ended.
        ended = "pruned" if type(err).__name__ == "TrialPruned" else "failed"
        finish_record(output_dir, record, {}, status=f"{ended}: {type(err).__name__}: {err}")
        raise
    finally:
        finish_wandb_run(exit_code=1)  # only still active when the run did not finish


def _train(
    cfg: DictConfig,
    output_dir: Path,
    record: dict[str, Any],
    resume_point: ResumePoint | None,
    extra_callbacks: list[L.Callback],
) -> dict[str, float]:
    import lightning as L
    from hydra.utils import instantiate

    from lab.build import build_datamodule, build_model, build_module
    from lab.run_dir.model_card import write_model_card
    from lab.run_dir.plots import log_plots, write_run_plots
    from lab.run_dir.records import finish_record, write_json
    from lab.run_dir.summary import print_summary
    from lab.training.adapters import parameter_counts
    from lab.training.checkpointing import AtomicCheckpointIO, ResumeStateCallback
    from lab.training.console import tame_library_output

    tame_library_output()
    check_hardware(cfg)

    L.seed_everything(cfg.seed, workers=True, verbose=False)
    tokenizer = instantiate(cfg.model.tokenizer)
    datamodule = build_datamodule(cfg, tokenizer)  # data errors come before weights
    _log_data(datamodule)
    record["data"] = {
        name: {"rows": datamodule.raw_sizes[name], "sha256": datamodule.split_fingerprints[name]}
        for name in datamodule.raw_sizes
    }
    model = build_model(cfg, datamodule, tokenizer)
    record["parameters"] = parameter_counts(model)
    module = build_module(cfg, model, datamodule)
    callbacks = [*_instantiate_all(cfg.get("callbacks")), *_sweep_callbacks(cfg)]
    loggers = _instantiate_all(cfg.get("logger"))
    if not loggers:
        # Learning rates are logged to the loggers; with `logger=none` there is nowhere to go.
        lr_monitor = L.pytorch.callbacks.LearningRateMonitor
        callbacks = [c for c in callbacks if not isinstance(c, lr_monitor)]
    trainer: L.Trainer = instantiate(
        cfg.trainer,
        callbacks=[*callbacks, *extra_callbacks, ResumeStateCallback()],
        logger=loggers or False,
        # Checkpoints are the callbacks group's business: none configured, none written.
        enable_checkpointing=any(
            isinstance(c, L.pytorch.callbacks.ModelCheckpoint) for c in callbacks
        ),
        plugins=[AtomicCheckpointIO()],
    )
    for logger in trainer.loggers:
        if resume_point and hasattr(logger, "resume_from"):
            logger.resume_from(resume_point.global_step, record)
        if hasattr(logger, "record_identity"):
            logger.record_identity(record)
        logger.log_hyperparams(_flat_config(cfg))
    write_json(output_dir / "record.json", record)

    trainer.fit(
        module,
        datamodule=datamodule,
        ckpt_path=str(resume_point.checkpoint) if resume_point else None,
    )
    best = _best_checkpoint(trainer)
    # Parameter counts travel with the metrics: a sweep may minimize them (multi-objective).
    metrics: dict[str, float] = {
        "model/params_total": float(record["parameters"]["total"]),
        "model/params_trainable": float(record["parameters"]["trainable"]),
    }
    for evaluate in (trainer.validate, trainer.test):
        for result in evaluate(module, datamodule=datamodule, ckpt_path=best, verbose=False):
            metrics.update({k: float(v) for k, v in result.items()})

    if trainer.is_global_zero:
        module.export(output_dir / "model", tokenizer)
        if module.test_report:
            write_json(output_dir / "test_report.json", module.test_report)
        finish_record(output_dir, record, metrics)
        write_model_card(output_dir / "model", cfg, record, metrics)
        plots = write_run_plots(output_dir, module.test_report, str(cfg.optimized_metric))
        log_plots(trainer.loggers, plots)
        print_summary(metrics, output_dir)
    for logger in trainer.loggers:
        logger.finalize("success")
    return metrics


def check_hardware(cfg: DictConfig) -> None:
    """Stop early, in words, when the config asks for hardware this machine does not have."""
    import torch

    accelerator = str(cfg.trainer.get("accelerator", "auto"))
    precision = str(cfg.trainer.get("precision", "32-true"))
    has_cuda = torch.cuda.is_available()
    if accelerator in ("gpu", "cuda") and not has_cuda:
        raise ConfigError(
            f"trainer.accelerator={accelerator} but no CUDA GPU is visible on this machine; "
            "use trainer.accelerator=cpu (or auto)"
        )
    strategy = cfg.trainer.get("strategy", "auto")
    target = (
        str(strategy.get("_target_", "")) if isinstance(strategy, DictConfig) else str(strategy)
    )
    for name, package in (("DeepSpeed", "deepspeed"), ("FSDP", None)):
        if name.lower() in target.lower():
            if not has_cuda:
                raise ConfigError(
                    f"strategy {name} needs CUDA GPUs and none is visible; use strategy=ddp "
                    "(or auto) on this machine"
                )
            if package and importlib.util.find_spec(package) is None:
                raise ConfigError(
                    f"strategy {name} needs the {package} package: pip install {package}"
                )
    clip = cfg.trainer.get("gradient_clip_val")
    if cfg.get("optimizer", {}).get("fused") and clip and "mixed" in precision:
        raise ConfigError(
            "optimizer.fused=true with mixed precision cannot clip gradients in Lightning "
            f"(trainer.gradient_clip_val={clip}); set trainer.gradient_clip_val=null or "
            "optimizer.fused=false"
        )
    if precision.startswith("16") and not has_cuda:
        raise ConfigError(
            f"precision={precision} (fp16) needs a CUDA GPU; on CPU use precision=bf16-mixed "
            "or precision=32"
        )


def _instantiate_all(group: DictConfig | None) -> list[Any]:
    from hydra.utils import instantiate

    if not group:
        return []
    return [instantiate(node) for node in group.values() if node is not None]


def _sweep_callbacks(cfg: DictConfig) -> list[L.Callback]:
    """A trial of an Optuna sweep reports to its study (and may be pruned); see lab.sweeps."""
    trial = cfg.get("optuna_trial")
    if not trial or not trial.get("monitor"):
        return []
    from lab.sweeps.pruning import OptunaPruning

    return [
        OptunaPruning(
            storage=trial.storage,
            study_name=trial.study_name,
            trial_number=int(trial.number),
            monitor=trial.monitor,
            pruner=OmegaConf.to_container(trial.pruner) if trial.get("pruner") else None,  # type: ignore[arg-type]
        )
    ]


def _flat_config(cfg: DictConfig) -> dict[str, Any]:
    container = OmegaConf.to_container(cfg, resolve=True)
    flat: dict[str, Any] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(f"{prefix}.{key}" if prefix else str(key), value)
        else:
            flat[prefix] = node

    walk("", container)
    return flat


def _best_checkpoint(trainer: L.Trainer) -> str | None:
    # The checkpoint callback that monitors a metric holds the best model; others (the
    # step-interval `last.ckpt` writer) do not.
    for callback in trainer.checkpoint_callbacks:
        if getattr(callback, "monitor", None) and getattr(callback, "best_model_path", ""):
            return str(callback.best_model_path)  # type: ignore[attr-defined]
    return None


def _log_data(datamodule: Any) -> None:
    sizes = {name: len(ds) for name, ds in datamodule.datasets.items()}
    cached = [name for name, hit in datamodule.cache_hits.items() if hit]
    log.info("Data: %s; tokenization cache hit for: %s", sizes, ", ".join(cached) or "none")


@hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name="train")
def _hydra_main(cfg: DictConfig) -> dict[str, float]:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    try:
        return run(cfg)
    except SIGTERMException:
        where = cfg.paths.output_dir
        print(
            f"interrupted by SIGTERM; checkpoint saved. Continue with: resume={where}",
            file=sys.stderr,
        )
        sys.exit(EXIT_INTERRUPTED)
    except LabError as err:
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            raise  # one bad job must not end a sweep: the sweeper records it as failed
        # One readable line, no traceback: the user's input is wrong, not the code.
        print(f"error: {err}", file=sys.stderr)
        sys.exit(EXIT_USER_ERROR)


def main() -> None:
    """Console entry point (`python -m lab.train`, `lab-train`)."""
    register_resolvers()
    run_hydra_app(_hydra_main, str(conf_dir()), "train")


if __name__ == "__main__":
    main()
