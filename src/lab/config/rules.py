"""The rules a composed config must pass before any data or weights are loaded.

`validate_config(cfg)` applies every rule; `lab.train` calls it first, `lab.validate` calls it
alone. Each rule raises a `ConfigError` (or a `DataError` for local data files) whose message
names the offending key, file or column and what would work instead:

* ranges: every numeric value within its valid range (`lab.config.ranges`, one table);
* run length: a run that would train zero steps (`trainer.max_epochs=0`, `max_steps=0`,
  `limit_train_batches=0`);
* hardware: a GPU accelerator, fp16, DeepSpeed or FSDP without a visible CUDA GPU; a
  strategy whose package is missing; a quantized (QLoRA) base without CUDA or bitsandbytes;
* strategy x precision x optimizer: a fused optimizer cannot clip gradients under mixed
  precision;
* trainer: options that `lightning.pytorch.Trainer` does not take (with the valid ones), and
  `use_distributed_sampler` (lab's data module shards the data itself);
* files: a local `model.pretrained` (or tokenizer) directory that does not exist;
* local data (`data.path`): the files exist, and every column the data config names (each
  `data.*_column` key, and each name in a `data.*_columns` list) is in each split's file,
  read from its header or first rows only;
* streaming (`data.streaming=true`, `lab.data.streaming`): the train stream repeats without
  epochs, so the run needs `trainer.max_steps` and a validation interval in batches, and
  refuses options that count in epochs or need the whole split (`data.group_by_length`);
  `data.interleave` entries are well formed and their local files exist.

Everything here stays cheap to import and to run (no torch, Lightning or transformers in the
common path): `lab.validate` answers in well under three seconds.
"""

from __future__ import annotations

import ast
import csv
import ctypes
import functools
import gzip
import importlib.util
import io
import itertools
import json
import sys
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from lab.config.ranges import check_ranges
from lab.errors import ConfigError, DataError

# Options of lab's `build_trainer` that are not Lightning Trainer arguments.
LAB_TRAINER_OPTIONS = ("compile", "reuse_freed_memory")
_LAB_TRAINER = "lab.training.trainer.build_trainer"
# JSON-lines rows read to learn a file's columns (rows may differ in their keys).
_JSON_ROWS_PEEKED = 100


def validate_config(cfg: DictConfig) -> None:
    """Apply every rule to `cfg`; raise the first `LabError` found."""
    from lab.run_dir.disk import check_output_root  # standard library only: cheap

    check_output_root(cfg)
    check_ranges(cfg)
    check_trains_something(cfg)
    check_hardware(cfg)
    check_trainer_options(cfg)
    check_quantized_base(cfg)
    check_model_files(cfg)
    check_local_data(cfg)
    check_streaming(cfg)
    check_optimizer_hardware(cfg)


# ----------------------------------------------------------------------------- run length
def check_trains_something(cfg: DictConfig) -> None:
    """Refuse a run that would train zero steps.

    Lightning accepts `max_epochs=0`, `max_steps=0` and `limit_train_batches=0`: the run then
    "finishes" at once and lab would test and export the untrained model as if trained.
    `fast_dev_run` and `overfit_batches` set their own limits, so they train in any case.
    """
    trainer = cfg.trainer
    if trainer.get("fast_dev_run") or trainer.get("overfit_batches"):
        return
    fixes = {
        "max_epochs": "give trainer.max_epochs >= 1",
        "max_steps": "give trainer.max_steps >= 1, or -1 to let trainer.max_epochs decide",
        "limit_train_batches": "give a number of batches >= 1, or a share of them in (0, 1]",
    }
    for key, fix in fixes.items():
        value = trainer.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0:
            raise ConfigError(
                f"trainer.{key}={value} would train zero steps (and test and export the "
                f"untrained model); {fix}"
            )


# ----------------------------------------------------------------------------- hardware
def cuda_available() -> bool:
    """`torch.cuda.is_available()`, answered without importing torch where it must be False.

    Importing torch takes seconds, more than `lab.validate` may spend. A torch build without
    its CUDA library, or a Linux machine without the CUDA driver, cannot see a CUDA GPU;
    anything else (a GPU machine, ROCm, another OS) is left to torch itself.
    """
    if "torch" not in sys.modules and not _may_have_cuda():
        return False
    import torch

    return bool(torch.cuda.is_available())


def _may_have_cuda() -> bool:
    spec = importlib.util.find_spec("torch")
    if sys.platform != "linux" or spec is None or not spec.submodule_search_locations:
        return True
    lib = Path(next(iter(spec.submodule_search_locations))) / "lib"
    names = [p.name for p in lib.iterdir()] if lib.is_dir() else []
    if not names or any("torch_hip" in name for name in names):
        return True  # unknown layout, or ROCm (torch.cuda runs on HIP): ask torch
    if not any("torch_cuda" in name for name in names):
        return False  # a CPU-only build of torch
    try:
        ctypes.CDLL("libcuda.so.1")  # the driver torch itself would load
    except OSError:
        return False
    return True


def check_hardware(cfg: DictConfig) -> None:
    """Stop early, in words, when the config asks for hardware this machine does not have."""
    accelerator = str(cfg.trainer.get("accelerator", "auto"))
    precision = str(cfg.trainer.get("precision", "32-true"))
    has_cuda = cuda_available()
    if accelerator in ("gpu", "cuda") and not has_cuda:
        raise ConfigError(
            f"trainer.accelerator={accelerator} but no CUDA GPU is visible on this machine; "
            "use trainer.accelerator=cpu (or auto)"
        )
    target = strategy_target(cfg)
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


def strategy_target(cfg: DictConfig) -> str:
    """The trainer's strategy: its `_target_` class path, or its Lightning name (`auto`)."""
    strategy = cfg.trainer.get("strategy", "auto")
    if isinstance(strategy, DictConfig):
        return str(strategy.get("_target_", ""))
    return str(strategy)


def check_quantized_base(cfg: DictConfig) -> None:
    """A 4/8-bit base model (`peft.quantization`, QLoRA) needs CUDA and bitsandbytes."""
    quantization = (cfg.get("peft") or {}).get("quantization")
    if quantization:
        from lab.training.adapters import check_quantization

        check_quantization(quantization)


# ----------------------------------------------------------------------------- trainer
def check_trainer_options(cfg: DictConfig) -> None:
    """Every `trainer.*` key must be a Lightning Trainer argument (or one of lab's own)."""
    trainer = cfg.trainer
    ours = LAB_TRAINER_OPTIONS if trainer.get("_target_") == _LAB_TRAINER else ()
    given = {str(k) for k in trainer if not str(k).startswith("_") and k not in ours}
    valid = trainer_argument_names()
    unknown = sorted(given - valid)
    if unknown:
        names = ", ".join(sorted(valid))
        raise ConfigError(
            f"unknown trainer option(s) {unknown}; valid: {', '.join(LAB_TRAINER_OPTIONS)}, {names}"
        )
    if trainer.get("use_distributed_sampler"):
        raise ConfigError(
            "trainer.use_distributed_sampler=true is not supported: lab's data module shards "
            "the data across ranks itself"
        )


@functools.lru_cache(maxsize=1)
def trainer_argument_names() -> frozenset[str]:
    """The keyword arguments of `lightning.pytorch.Trainer`.

    Read from the source file that defines the class (found without importing it): importing
    Lightning takes several seconds, and this check must not. Should Lightning move the class,
    Lightning is imported and asked instead; `tests/test_validate.py` checks that both agree.
    """
    spec = importlib.util.find_spec("lightning")
    if spec is not None and spec.submodule_search_locations:
        root = Path(next(iter(spec.submodule_search_locations)))
        source = root / "pytorch" / "trainer" / "trainer.py"
        names = _init_arguments(source, "Trainer") if source.is_file() else set()
        if names:
            return frozenset(names)
    import inspect

    import lightning

    parameters = inspect.signature(lightning.pytorch.Trainer.__init__).parameters
    return frozenset(name for name in parameters if name != "self")


def _init_arguments(source: Path, class_name: str) -> set[str]:
    for node in ast.parse(source.read_text()).body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                    arguments = item.args
                    every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
                    return {a.arg for a in every if a.arg != "self"}
    return set()


# ----------------------------------------------------------------------------- files
def check_model_files(cfg: DictConfig) -> None:
    """A local model or tokenizer directory must exist (a Hub id is checked when loading)."""
    model = cfg.model
    tokenizer = model.get("tokenizer") or {}
    seen: set[str] = set()
    for key, value in (
        ("model.pretrained", model.get("pretrained")),
        (
            "model.tokenizer.pretrained_model_name_or_path",
            tokenizer.get("pretrained_model_name_or_path"),
        ),
    ):
        if not isinstance(value, str) or value in seen:
            continue
        seen.add(value)
        local = value.startswith(("/", "./", "../", "~")) or Path(value).is_absolute()
        if local and not Path(value).expanduser().exists():
            raise ConfigError(
                f"{key}={value} does not exist; give a Hub id or a local directory saved "
                "with save_pretrained"
            )


def check_local_data(cfg: DictConfig) -> None:
    """With `data.path`, each split's file must hold every column the data config names."""
    data = cfg.data
    if not data.get("path"):
        return
    from lab.data.sources import local_data_files

    _, files = local_data_files(data.path)  # a missing path, an empty file...: named here
    wanted = named_columns(data)
    splits = data.get("splits") or {}
    for split in ("train", "validation", "test"):
        source = splits.get(split, split)
        if source is None or source not in files:
            continue  # carved from train, or absent: the data module decides
        present = peek_columns(Path(files[source]))
        if present is None:
            continue  # a layout the head converts itself (SQuAD JSON)
        missing = [f"'{column}' ({key})" for key, column in wanted.items() if column not in present]
        if missing:
            # The data module's own wording, file first (`DataModule.require_columns`).
            subject = (
                f"column {missing[0]} is"
                if len(missing) == 1
                else f"columns {', '.join(missing)} are"
            )
            raise DataError(
                f"{files[source]}: {subject} not in the {split} split; columns present: "
                f"{', '.join(present) or 'none'}"
            )


def named_columns(data: DictConfig) -> dict[str, str]:
    """`{"data.text_column": "review", "data.ending_columns[0]": "ending0", ...}`: the
    columns a data config names, by the convention that such keys end in `_column(s)`."""
    wanted: dict[str, str] = {}
    for key in data:
        name = str(key)
        if not name.endswith(("_column", "_columns")):
            continue
        value = data.get(name)
        if isinstance(value, str) and value:
            wanted[f"data.{name}"] = value
        elif isinstance(value, ListConfig):
            for index, column in enumerate(value):
                wanted[f"data.{name}[{index}]"] = str(column)
    return wanted


def peek_columns(file: Path) -> list[str] | None:
    """The column names of a local data file from its first line(s); None when unknown."""
    suffixes = [s.lower() for s in file.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    kind = suffixes[-1] if suffixes else ""
    if kind == ".txt":
        return ["text"]  # one row per line, as the datasets `text` builder reads it
    if kind == ".parquet":
        import pyarrow.parquet

        return list(pyarrow.parquet.read_schema(file).names)
    opener: Any = gzip.open if file.name.lower().endswith(".gz") else open
    with opener(file, "rb") as handle:
        if kind in (".csv", ".tsv"):
            # Bytes, then decoded leniently: a bad byte further down is the data module's
            # to report (with its offset), not a reason to miss the header here.
            header = handle.readline().decode("utf-8-sig", errors="replace")
            rows = list(csv.reader(io.StringIO(header), delimiter="\t" if kind == ".tsv" else ","))
            return rows[0] if rows else None
        columns: dict[str, None] = {}
        for line in itertools.islice(handle, _JSON_ROWS_PEEKED):
            if not line.strip():
                continue
            try:
                row = json.loads(line.decode("utf-8-sig", errors="replace"))
            except ValueError:
                return None  # not JSON lines: one document (a list of rows, SQuAD JSON)
            if not isinstance(row, dict) or isinstance(row.get("data"), list):
                return None
            columns.update(dict.fromkeys(str(k) for k in row))
        return list(columns) or None


# ----------------------------------------------------------------------------- streaming
def check_optimizer_hardware(cfg: DictConfig) -> None:
    """The bitsandbytes optimizers (adamw_8bit, paged_*) need CUDA: refused on a CPU machine
    before anything loads (torch is imported only for those)."""
    optimizer = cfg.get("optimizer") or {}
    if str(optimizer.get("optimizer_class") or "").startswith("bitsandbytes."):
        from lab.training.optim import check_optimizer

        check_optimizer(optimizer)


def check_streaming(cfg: DictConfig) -> None:
    """A streaming run trains by `trainer.max_steps`; refuse what cannot work with a stream."""
    from lab.data.sources import interleave_sources, local_data_files

    data, trainer = cfg.data, cfg.trainer
    interleave = data.get("interleave")
    if not data.get("streaming"):
        if interleave:
            raise ConfigError("data.interleave mixes streams: it needs data.streaming=true")
        return
    why = "data.streaming=true: the train stream repeats without epochs"
    max_steps = trainer.get("max_steps")
    if not isinstance(max_steps, int) or max_steps <= 0:
        raise ConfigError(
            f"{why}, so a run ends only at trainer.max_steps (now {max_steps}); give "
            "trainer.max_steps=<optimizer steps>"
        )
    interval = trainer.get("val_check_interval")
    if isinstance(interval, float) and interval == 1.0:
        # The default: lab.training.fit.streaming_validation validates once, at the end.
        interval = max_steps * int(trainer.get("accumulate_grad_batches") or 1)
    if not isinstance(interval, int) or isinstance(interval, bool):
        raise ConfigError(
            f"{why}, so trainer.val_check_interval={interval} (a share of an epoch) has no "
            f"meaning; give a number of batches, e.g. trainer.val_check_interval={max_steps}, "
            "or leave the default (validate at the end)"
        )
    batches = max_steps * int(trainer.get("accumulate_grad_batches") or 1)
    if interval > batches:
        raise ConfigError(
            f"trainer.val_check_interval={interval} batches is more than the {batches} the run "
            f"trains (trainer.max_steps={max_steps}): it would never validate"
        )
    every = trainer.get("check_val_every_n_epoch")
    if every not in (None, 1):
        raise ConfigError(
            f"{why}; trainer.check_val_every_n_epoch={every} would never validate: remove it"
        )
    limit = trainer.get("limit_train_batches")
    if limit not in (None, 1.0):
        raise ConfigError(
            f"{why}; trainer.limit_train_batches={limit} would restart the stream from its first "
            "row after that many batches: remove it and set trainer.max_steps"
        )
    if data.get("group_by_length"):
        raise ConfigError(
            "data.group_by_length=true needs every row's length before training, which a stream "
            "does not have; set data.group_by_length=false"
        )
    entries = OmegaConf.to_container(interleave, resolve=True) if interleave else None
    for source in interleave_sources(entries):  # type: ignore[arg-type]
        if source.path:
            local_data_files(source.path)  # a missing path, an empty file...: named here
