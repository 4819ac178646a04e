"""Open a finished run directory: its resolved config, record, exported model, checkpoints.

`lab.eval`, `lab.predict`, `lab.export` and `lab.serve` all start from `run=<run dir>`; this
module is the one place that knows the directory's layout (see `lab.run_dir.records`) and turns a
missing or damaged piece into one readable `LabError`.

A run recorded by an older lab is read with today's names for the code it names
(`lab.run_dir.config_upgrade.rename_targets`, in memory: the run's files stay as they are); a
`lab.` target this lab does not have is refused at once, in one line naming the code that
recorded the run and how to use it (`lab.run_dir.code_version`), and so is a config of other
code that this lab's code cannot build (`building`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lab.errors import LabError

MODEL_DIR = "model"
ADAPTER_DIR = "adapter"
CHECKPOINT_DIR = "checkpoints"

log = logging.getLogger(__name__)


@dataclass
class TrainedRun:
    """A run directory written by `lab.train`."""

    directory: Path
    config: DictConfig
    record: dict[str, Any]

    @property
    def model_dir(self) -> Path:
        """The exported Hugging Face directory (best checkpoint, merged for PEFT runs)."""
        return self.directory / MODEL_DIR

    @property
    def adapter_dir(self) -> Path:
        """The adapter-only export of a PEFT run."""
        return self.directory / ADAPTER_DIR

    @property
    def head(self) -> str:
        """The `transformers` Auto class of the head, e.g. `AutoModelForTokenClassification`."""
        return str(self.config.task.head).rsplit(".", 1)[-1]

    def code_note(self) -> str | None:
        """The line naming the other code that recorded the run and how to use it, None where
        this code recorded it (`lab.run_dir.code_version.other_code_note`)."""
        from lab.run_dir.code_version import other_code_note

        return other_code_note(self.record, self.directory)

    def refusal(self, problem: str) -> str:
        """`<run dir>: <problem>; <code note>`: what this lab cannot do with the run, and the
        code that can (`retrain it with this lab` where the run is this lab's own)."""
        return f"{self.directory}: {problem}; {self.code_note() or 'retrain it with this lab'}"

    @property
    def recorded_metrics(self) -> dict[str, float]:
        """Final metrics recorded at train time ({} for a run that did not finish)."""
        return dict(self.record.get("metrics") or {})

    def metrics_of(self, which: str) -> dict[str, float]:
        """The recorded metrics where checkpoint `which` (`best`, `last` or a path) holds the
        weights the run recorded them for (`record.json`'s `tested`: its best checkpoint, or
        its last weights, which `last.ckpt` holds once training ends); {} for other weights:
        a card must not give the tested weights' numbers to others (s27c H1)."""
        import os

        from lab.run_dir.summary import BEST

        tested = self.record.get("tested") or BEST  # a record from before `tested`: the best
        try:
            recorded = self.checkpoint("best" if tested == BEST else "last")
            chosen = self.checkpoint(which)
        except LabError:
            return {}
        return self.recorded_metrics if os.path.samefile(recorded, chosen) else {}

    def require_model(self) -> Path:
        """The exported model directory, or a `LabError` saying how to get one."""
        if not (self.model_dir / "config.json").is_file():
            raise LabError(
                f"{self.directory} has no exported model ({self.model_dir}/config.json missing; "
                f"run status: {self.record.get('status', '?')}). {self.export_advice()}"
            )
        return self.model_dir

    def export_advice(self) -> str:
        """How to export the model the run is missing: `python -m lab.export run=<dir>
        checkpoint=<which>`, `which` the weights a finished run exported (and recorded its
        metrics for, `record.json`'s `tested`): its best checkpoint, or its last weights
        (`last.ckpt` holds them once training ends) where it had no best one. A run that did
        not finish exported nothing: its latest weights, `last`. Said when those weights'
        file is gone, and when the run has no checkpoint at all (a pruned sweep trial)."""
        from lab.run_dir.run_lock import being_trained_advice, held_elsewhere
        from lab.run_dir.summary import BEST

        folder = self.directory / CHECKPOINT_DIR
        saved = sorted(p.name for p in folder.glob("*.ckpt")) if folder.is_dir() else []
        if not saved:
            return "It has no checkpoint to export one from either: train it again"
        best = any(name.startswith("best-") for name in saved)
        finished = self.record.get("status") == "finished"
        tested = self.record.get("tested") or BEST  # a record from before `tested`: the best
        command = f"python -m lab.export run={self.directory} checkpoint="
        if finished and tested == BEST and best:
            return (
                f"Export one from a checkpoint: {command}best (the best checkpoint: the weights "
                "the run exported and recorded its metrics for)"
            )
        which = "last" if "last.ckpt" in saved else str(folder / saved[0])
        if self.record.get("status") == "running" and held_elsewhere(self.directory):  # s25c M2
            return f"It is {being_trained_advice(self.directory, which)}"
        if finished and tested == BEST:  # its best checkpoint was deleted
            return (
                f"Export one from a checkpoint: {command}{which} (the run exported its best "
                "checkpoint, which is gone: its recorded metrics are not of these weights)"
            )
        return f"Export one from a checkpoint: {command}{which}"

    def checkpoint(self, which: str) -> Path:
        """`best`, `last` or a path: the Lightning checkpoint file (it must exist)."""
        folder = self.directory / CHECKPOINT_DIR
        present = sorted(p.name for p in folder.glob("*.ckpt")) if folder.is_dir() else []
        if which == "best":
            best = sorted(folder.glob("best-*.ckpt"), key=lambda p: p.stat().st_mtime)
            if not best:
                raise LabError(
                    f"{self.directory} has no best checkpoint; checkpoints present: "
                    f"{', '.join(present) or 'none'}"
                )
            return best[-1]
        path = folder / "last.ckpt" if which == "last" else Path(which)
        if path.is_dir():  # a folder given for a file: "does not exist" would mislead
            raise LabError(f"checkpoint {path} is a directory, not a file")
        if not path.is_file():
            raise LabError(
                f"checkpoint {path} does not exist; checkpoints present in {folder}: "
                f"{', '.join(present) or 'none'}"
            )
        return path


def open_run(path: str | Path) -> TrainedRun:
    """Read a run directory's `config.yaml` and `record.json`; a recorded path inside an
    installed package that is gone is read where the package is now
    (`lab.run_dir.package_paths`)."""
    directory = Path(path).expanduser().resolve()
    if not directory.is_dir():
        raise LabError(f"run directory {directory} does not exist")
    config_path, record_path = directory / "config.yaml", directory / "record.json"
    if not config_path.is_file() or not record_path.is_file():
        raise LabError(
            f"{directory} is not a lab run directory (it needs config.yaml and record.json, "
            "written by python -m lab.train)"
        )
    try:
        config = OmegaConf.load(config_path)
        record = json.loads(record_path.read_text())
    except Exception as err:
        raise LabError(f"{directory}: cannot read config.yaml/record.json: {err}") from err
    if not isinstance(config, DictConfig) or "task" not in config:
        raise LabError(f"{config_path} is not a lab training config (no task section)")
    config = _with_todays_names(config)
    if isinstance(record, dict):
        from lab.run_dir.package_paths import restore_package_paths, restored_once

        # A run trained on another install (a recreated venv, a moved clone): its paths inside
        # installed packages (the quickstart model, lab's demo data) are read where they are now.
        line = restored_once(restore_package_paths(config, record))
        if line:
            log.warning("%s", line)
    run = TrainedRun(directory, config, record if isinstance(record, dict) else {})
    _refuse_unknown_targets(run)
    return run


def _with_todays_names(config: DictConfig) -> DictConfig:
    """`config` with its renamed targets under today's names (a new config where any is)."""
    from lab.run_dir.config_upgrade import rename_targets

    container = OmegaConf.to_container(config)
    if not isinstance(container, dict) or not rename_targets(container):  # type: ignore[arg-type]
        return config
    renamed = OmegaConf.create(container)
    assert isinstance(renamed, DictConfig)
    return renamed


def _refuse_unknown_targets(run: TrainedRun) -> None:
    """A run of other code whose config names a `lab.` target this lab does not have (and
    `RENAMED_TARGETS` cannot map) is refused before anything loads, in one line. Under this
    code the names are its own: nothing to look up."""
    from lab.run_dir.config_upgrade import unknown_targets

    if run.code_note() is None:
        return
    unknown = unknown_targets(OmegaConf.to_container(run.config))  # type: ignore[arg-type]
    if unknown:
        named = ", ".join(f"{target} ({key})" for key, target in unknown)
        raise LabError(run.refusal(f"its config.yaml names code this lab does not have: {named}"))


@contextmanager
def building(run: TrainedRun) -> Iterator[None]:
    """Inside the block, Hydra's refusal to build a node of the run's config (a target it
    cannot locate, arguments the target no longer takes) is, for a run of other code, one
    `LabError` naming that code (`TrainedRun.refusal`); for this code's own run it stays a
    bug, with its traceback. A `LabError` the built code raised passes as it is."""
    from hydra.errors import InstantiationException

    from lab.errors import lab_error_in

    try:
        yield
    except InstantiationException as err:
        if lab_error_in(err) is not None or run.code_note() is None:
            raise
        raise LabError(run.refusal(f"this lab cannot build its config: {_said(err)}")) from None


def _said(err: Exception) -> str:
    """Hydra's instantiation error in one line: `Error locating target 'lab.optim.adamw'
    (full_key: optimizer)`, without its advice to set HYDRA_FULL_ERROR."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    key = [line for line in lines if line.startswith("full_key:")]
    text = " ".join(line for line in lines if not line.startswith("full_key:"))
    text = text.replace(", set env var HYDRA_FULL_ERROR=1 to see chained exception.", "")
    return f"{text} ({key[0]})" if key else text


def load_exported(
    run: TrainedRun, model_dir: Path | None = None, load_in: str | None = None
) -> tuple[Any, Any]:
    """(model in eval mode, tokenizer) from the run's exported directory.

    `load_in="8bit"` or `"4bit"` loads the weights quantized with bitsandbytes (NF4 for 4-bit;
    CUDA only), to evaluate or serve a large model in less memory. The modules the run kept
    unquantized (its head, as in training: `lab.training.adapters.unquantized_modules`) load
    in float, as trained.
    """
    from hydra.utils import get_class
    from transformers import AutoTokenizer

    from lab.training.adapters import unquantized_modules

    options = {}
    if load_in:
        options["quantization_config"] = quantization_config(
            load_in, unquantized_modules(run.config)
        )
    directory = model_dir or run.require_model()
    try:
        tokenizer = AutoTokenizer.from_pretrained(directory)
        head = get_class(str(run.config.task.head))
        model = head.from_pretrained(directory, **options)  # type: ignore[attr-defined]
    except Exception as err:  # truncated safetensors, missing tokenizer files, ...
        raise LabError(
            f"the exported model in {directory} cannot be loaded ({type(err).__name__}: {err})"
        ) from err
    return model.eval(), tokenizer


def quantization_config(load_in: str, keep: list[str] | None = None) -> Any:
    """A bitsandbytes config for `8bit` or `4bit` (NF4) loading, the `keep` modules left in
    float; refused without CUDA."""
    from transformers import BitsAndBytesConfig

    from lab.training.adapters import check_quantization, keep_unquantized

    if load_in not in ("8bit", "4bit"):
        raise LabError(f"load_in must be 8bit or 4bit, got '{load_in}'")
    if load_in == "8bit":
        config = BitsAndBytesConfig(load_in_8bit=True)
    else:
        config = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype="bfloat16"
        )
    keep_unquantized(config, keep or [])
    check_quantization(config, f"load_in={load_in} (bitsandbytes)", "load the model unquantized")
    return config


def load_checkpoint_weights(module: Any, checkpoint: dict[str, Any], path: Path) -> None:
    """Load a checkpoint read by `lab.training.checkpointing.read_checkpoint` (read it before
    building the model, so a bad file fails first) into a rebuilt task module; `path` names it."""
    from lab.training.quantized_state import without_quantization_state
    from lab.training.state_dict_errors import describe_load_error

    try:
        module.load_state_dict(without_quantization_state(module, checkpoint["state_dict"]))
    except RuntimeError as err:  # torch's many lines, said in one
        raise LabError(
            f"checkpoint {path} does not fit this run's model: {describe_load_error(err)}"
        ) from err
