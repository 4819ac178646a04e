"""`python -m lab.eval`: evaluate a trained run's model on its test split or on other data.

    python -m lab.eval run=outputs/runs/2026-11-22/10-00-00_123-abcd
    python -m lab.eval run=<run dir> data.path=other_reviews.csv      # same format, new rows
    python -m lab.eval run=<run dir> data=sst2 data.text_column=sentence
    python -m lab.eval run=<run dir> checkpoint=last                  # a checkpoint, not model/

The run's resolved `config.yaml` rebuilds the data module exactly as in training (same seed,
splits, subsampling, tokenization), so evaluating the run's own test split reproduces the
test metrics recorded at train time. Changing the data (`data=...`, `data.<key>=...`) loads
the new source and evaluates on its `test` split, or on its only split when it has one; pick
another with `split=`. Label names are pinned to the model's, so a dataset holding a subset
of the classes keeps the model's class ids.

Writes `<run dir>/eval/<time>/metrics.json` (metrics, data, checkpoint) and the head's
report and figures beside it, prints a table, and exits 0 (2 on bad input).
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from lab.config.cli import parse_options, run_tool
from lab.errors import ConfigError, DataError
from lab.run_dir.runs import TrainedRun, load_checkpoint_weights, load_exported, open_run

log = logging.getLogger(__name__)

OPTIONS = {
    "run": "run directory written by python -m lab.train (required)",
    "checkpoint": "model (the exported best model, default), best, last, or a .ckpt path",
    "split": "source split to evaluate when the data is changed (default: test, or the only one)",
    "output": "where to write metrics.json (default: <run>/eval/<time>/metrics.json)",
    "batch_size": "evaluation batch size (default: the run's data.eval_batch_size)",
    "load_in": "8bit or 4bit: load the exported model quantized (bitsandbytes, CUDA only)",
    "data": "another dataset config (data=sst2) and/or data.<key>=<value> overrides",
}
USAGE = "python -m lab.eval run=<run dir> [data=<name>] [data.<key>=<value> ...] [key=value ...]"


def evaluation_config(run: TrainedRun, data_overrides: list[str], split: str | None) -> DictConfig:
    """The run's config with its data section changed as asked (unchanged when not asked)."""
    cfg = OmegaConf.create(OmegaConf.to_container(run.config))
    assert isinstance(cfg, DictConfig)
    if not data_overrides:
        return cfg
    group = [o.split("=", 1)[1] for o in data_overrides if o.split("=", 1)[0] == "data"]
    keys = [o for o in data_overrides if o.split("=", 1)[0] != "data"]
    if group:
        cfg.data = _compose_data(group[-1], keys, run)
    else:
        valid = sorted(str(k) for k in run.config.data)
        for key in keys:
            name = key.split("=", 1)[0].split(".")[1]
            if name not in valid:
                raise ConfigError(f"'data.{name}' is not a data key; valid: {', '.join(valid)}")
        cfg.merge_with_dotlist(keys)
    _choose_split(cfg, split, run)
    # A head whose data module learns class names from the data declares
    # `task.pin_label_names`: other data then keeps the model's names and class ids.
    if cfg.task.get("pin_label_names") and cfg.data.get("problem_type") != "regression":
        names = _model_label_names(run)
        if names:
            cfg.data.label_names = names
            cfg.data.num_labels = None
    return cfg


def _compose_data(name: str, keys: list[str], run: TrainedRun) -> DictConfig:
    from lab.config import compose_train_config

    composed = compose_train_config(
        [f"data={name}", f"seed={run.config.seed}", *_task_choice(run), *keys]
    )
    if str(composed.task.head) != str(run.config.task.head):
        raise ConfigError(
            f"data={name} is a {composed.task.head.rsplit('.', 1)[-1]} dataset but this run's "
            f"model is a {run.head}; evaluate it on data of its own kind"
        )
    data = OmegaConf.create(OmegaConf.to_container(composed.data, resolve=True))
    assert isinstance(data, DictConfig)
    return data


def _task_choice(run: TrainedRun) -> list[str]:
    """The run's own `task=<name>` override, if it gave one: a head that trains on any data
    (task=masked_lm) is evaluated on other data with the same head, not the data's default."""
    overrides = run.directory / "overrides.yaml"
    if not overrides.is_file():
        return []
    given = OmegaConf.load(overrides)
    return [str(o) for o in given if isinstance(o, str) and o.startswith("task=")][-1:]


def _choose_split(cfg: DictConfig, split: str | None, run: TrainedRun) -> None:
    """Point all three splits at one source split: evaluation needs no training data."""
    from hydra.utils import instantiate
    from transformers import AutoTokenizer

    data = cfg.data
    # The head's own data module lists the splits: it knows its formats (e.g. SQuAD JSON).
    tokenizer = (
        AutoTokenizer.from_pretrained(run.model_dir)
        if (run.model_dir / "tokenizer_config.json").is_file()
        else instantiate(cfg.model.tokenizer)
    )
    own = cfg.task.get("data_module") or {}  # a head's own data module (lab.build)
    source = instantiate(data, tokenizer=tokenizer, **own, _convert_="all").load_raw()
    present = list(source)
    chosen = split or ("test" if "test" in present else present[0] if len(present) == 1 else "")
    if chosen not in present:
        raise DataError(
            f"cannot tell which split to evaluate; splits present: {', '.join(present)}; "
            "choose one with split=<name>"
        )
    with open_dict(cfg):
        data.splits = {"train": chosen, "validation": chosen, "test": chosen}
        data.max_train_samples = None


def _model_label_names(run: TrainedRun) -> list[str] | None:
    import json

    config_path = run.model_dir / "config.json"
    if not config_path.is_file():
        return None
    id2label = json.loads(config_path.read_text()).get("id2label") or {}
    return [id2label[str(i)] for i in range(len(id2label))] or None


def evaluate(
    run: TrainedRun,
    cfg: DictConfig,
    checkpoint: str = "model",
    batch_size: int | None = None,
    load_in: str | None = None,
) -> tuple[dict[str, float], dict[str, Any]]:
    """Test the run's model on `cfg`'s test split; return (metrics, the head's report)."""
    import lightning as L

    from lab.build import build_parts
    from lab.training.checkpointing import read_checkpoint
    from lab.training.console import tame_library_output
    from lab.training.progress import ProgressBar

    tame_library_output()
    L.seed_everything(int(cfg.seed), workers=True, verbose=False)
    if batch_size:
        cfg.data.eval_batch_size = batch_size
    if load_in and checkpoint != "model":
        raise ConfigError("load_in applies to the exported model; drop checkpoint=")
    if checkpoint == "model":
        model, tokenizer = load_exported(run, load_in=load_in)
        parts = build_parts(
            cfg,
            tokenizer=tokenizer,
            model=model,
            on_data=lambda data: _check_labels(
                data.model_kwargs().get("id2label"), model.config.id2label
            ),
        )
    else:
        path = run.checkpoint(checkpoint)
        saved = read_checkpoint(path)  # a bad file fails before any model is built
        parts = build_parts(cfg)
        load_checkpoint_weights(parts.module, saved, path)
    module, datamodule = parts.module, parts.datamodule
    trainer = L.Trainer(
        accelerator=str(cfg.trainer.get("accelerator", "auto")),
        devices=1,
        precision=cfg.trainer.get("precision", "32-true"),
        logger=False,
        callbacks=[ProgressBar()],
        enable_checkpointing=False,
        enable_model_summary=False,
    )
    results = trainer.test(module, datamodule=datamodule, verbose=False)
    metrics = {k: float(v) for result in results for k, v in result.items()}
    return metrics, module.test_report


def _check_labels(data_labels: dict[int, str] | None, model_labels: dict[int, str]) -> None:
    if data_labels is None:
        return
    wanted = {int(k): v for k, v in model_labels.items()}
    given = {int(k): v for k, v in data_labels.items()}
    if given != wanted:
        raise DataError(
            f"the data's labels {list(given.values())} differ from the model's "
            f"{list(wanted.values())}; set data.label_names to the model's labels in id order"
        )


def print_metrics(
    metrics: dict[str, float], recorded: dict[str, float], compare: bool, target: Path
) -> None:
    """A table of the evaluation's metrics (next to the recorded ones for the run's own data)."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title="Evaluation")
    table.add_column("metric")
    table.add_column("value", justify="right")
    if compare:
        table.add_column("at train time", justify="right")
    for name in sorted(metrics):
        row = [name, f"{metrics[name]:.6g}"]
        if compare:
            row.append(f"{recorded[name]:.6g}" if name in recorded else "")
        table.add_row(*row)
    console.print(table)
    console.print(f"Metrics written to [bold]{target}[/bold]")


def main(argv: list[str]) -> int:
    """Console entry point: parse `key=value` arguments, evaluate, write and print."""
    from lab.config.resolvers import register_resolvers
    from lab.run_dir.plots import write_run_plots
    from lab.run_dir.records import write_json

    register_resolvers()
    values, data_overrides = parse_options(
        argv, OPTIONS, required=("run",), passthrough=("data",), usage=USAGE
    )
    run = open_run(values["run"])
    cfg = evaluation_config(run, data_overrides, values.get("split"))
    checkpoint = values.get("checkpoint", "model")
    batch = int(values["batch_size"]) if values.get("batch_size") else None
    metrics, report = evaluate(run, cfg, checkpoint, batch, values.get("load_in"))
    stamp = datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    target = Path(values.get("output") or run.directory / "eval" / stamp / "metrics.json")
    target.parent.mkdir(parents=True, exist_ok=True)
    data = cfg.data
    write_json(
        target,
        {
            "run": str(run.directory),
            "checkpoint": checkpoint,
            "data": {
                "path": data.get("path"),
                "hub_id": data.get("hub_id"),
                "hub_config": data.get("hub_config"),
                "splits": OmegaConf.to_container(data.get("splits")),
            },
            "metrics": metrics,
        },
    )
    if report:
        write_json(target.parent / "test_report.json", report)
        write_run_plots(target.parent, report, cfg)
    print_metrics(metrics, run.recorded_metrics, not data_overrides, target)
    return 0


if __name__ == "__main__":
    run_tool(main)
