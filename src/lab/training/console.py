"""A quiet console: what a run shows on screen, and what goes to `<run dir>/train.log` only.

A default `python -m lab.train` shows the progress bar, one line on the data, one line on the
model (which weights are new), warnings that need action, the final table and the run
directory. Everything else the libraries say (Lightning's "GPU available: False", the
transformers LOAD REPORT, its weight-loading bars) goes to `train.log` only; the datasets
library's bars stay on screen, since tokenizing a large split is long work.

* Hydra sends every log record to the console and to `train.log` (`conf/hydra/default.yaml`);
  the console handler carries `QuietConsole` (lab's own lines and other libraries' warnings
  pass) and `ConsoleFormatter` (lab's lines bare, without timestamps).
* `quiet_console()`, around `lab.train.run`, sends the records of transformers and datasets
  through those handlers (each prints its own by default), turns transformers' bars off and
  files the library warnings that are reports (`lab.training.library_warnings`).
* `tame_library_output()` is the same set-up for the other tools (`lab.eval`, `lab.predict`,
  `lab.serve`, `lab.demo`, `lab.export`), which have no log file: Lightning's INFO lines,
  transformers' bars and the reports are not shown; warnings are, worded as in a run
  (`warning: ...`; a library's `warning (<logger>): ...`: `ToolConsole`).
* `message_console()` is the rich console of lab's own printed lines (paths, commands, the
  final table), soft-wrapped: a line a user or a script copies is never split.
* A record logged with `extra=FILE_ONLY_RECORD` (`lab.log_records`) goes to `train.log` only
  (lab's notes that are reports, such as a carved split).
* `weight_loading_report()` reads the newly initialised weights out of transformers' load
  report, for lab's one model line (`report_model`); `lab.training.model_source` says how
  that line names `model.pretrained` (a local folder in full, a Hub id as it is).

`hydra.verbose=true` (or `hydra.verbose=<logger name>`) brings everything back on screen.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lab.log_records import is_file_only
from lab.run_dir.records import is_global_rank_zero
from lab.training.library_warnings import REPORTS, file_reports, filing
from lab.training.model_source import source_name

if TYPE_CHECKING:
    from omegaconf import DictConfig
    from rich.console import Console

    from lab.data.datamodule import DataModule
    from lab.run_dir.resume import ResumePoint

log = logging.getLogger(__name__)

Verbose = bool | str | Sequence[str] | None
# Library warnings that are reports, not calls to action: (logger, text in the message).
FILE_ONLY = (
    ("transformers.modeling_utils", "LOAD REPORT"),
    # GPT-2 and other causal LMs whose class names no loss: transformers then uses the
    # causal-LM loss, the one lab wants.
    (
        "transformers.modeling_utils",
        "`loss_type=None` was set in the config but it is unrecognized",
    ),
    # `model.gradient_checkpointing=true`: transformers turns the generation cache off for the
    # training forward passes itself (the exported config keeps `use_cache`), as it should.
    ("transformers.utils.generic", "`use_cache=True` is incompatible with gradient checkpointing"),
    # A head that tokenizes a whole text before cutting it to `data.max_length` (SFT renders
    # the conversation, then truncates): no sequence over the model's length reaches it.
    (
        "transformers.tokenization_utils_base",
        "Token indices sequence length is longer than the specified maximum sequence length",
    ),
)
# The libraries whose loggers print through handlers of their own unless told otherwise.
ROUTED_LIBRARIES = ("transformers", "datasets")
_MODEL_LINE_KEYS = 8  # newly initialised weights named on the model line; the rest counted


def _is_lab(name: str) -> bool:
    return name in ("lab", "__main__") or name.startswith("lab.")


def _verbose_names(verbose: Verbose) -> tuple[str, ...] | bool:
    if isinstance(verbose, str):
        return (verbose,)
    if isinstance(verbose, Sequence):
        return tuple(str(name) for name in verbose)
    return bool(verbose)


class QuietConsole(logging.Filter):
    """Console filter: lab's own records and other libraries' warnings, minus known reports.

    `verbose` is `hydra.verbose`: true lets every record through; a logger name (or a list
    of them) lets that logger's records through as well.
    """

    def __init__(self, verbose: Verbose = False) -> None:
        super().__init__()
        self.verbose = _verbose_names(verbose)
        self._said: set[tuple[str, str]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if (record.levelno or 0) < logging.ERROR and not is_global_rank_zero():
            # Another DDP rank: its lines are rank zero's too (each said once on the screen);
            # they stay in its own log file (`train_ddp_process_<rank>.log`).
            return False
        if self.verbose is True:
            return True
        if isinstance(self.verbose, tuple) and any(
            record.name == name or record.name.startswith(f"{name}.") for name in self.verbose
        ):
            return True
        if _is_lab(record.name):
            return not is_file_only(record)
        if _file_only(record) or record.levelno < logging.WARNING:
            return False
        # A library's warning once per process: datasets repeats a dataset card's per split
        said = (record.name, record.getMessage())
        seen = said in self._said
        self._said.add(said)
        return not seen


def _file_only(record: logging.LogRecord) -> bool:
    return any(record.name == name and text in str(record.msg) for name, text in FILE_ONLY)


def message_console(**kwargs: Any) -> Console:
    """A rich `Console` for lab's printed lines (`kwargs` as rich's): soft-wrapped, so a path
    or command stays on one line whatever the width; tables still fit the width."""
    from rich.console import Console

    # Without a terminal (a pipe, a batch job's log) rich assumes 80 columns and would break
    # "Run directory: <path>" or a `git apply <patch>` command across lines.
    return Console(soft_wrap=True, **kwargs)


class _DropFileOnly(logging.Filter):
    """On a library logger of a tool without a log file: drops the `FILE_ONLY` reports."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not _file_only(record)


class ConsoleFormatter(logging.Formatter):
    """lab's lines as plain text; warnings and errors prefixed with their level (and, from a
    library, its logger). With `verbose`, Hydra's full format with time and logger."""

    def __init__(self, verbose: Verbose = False) -> None:
        detailed = "[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"
        super().__init__(detailed if _verbose_names(verbose) else "%(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if self._fmt != "%(message)s" or record.levelno < logging.WARNING:
            return text
        level = record.levelname.lower()
        return f"{level}: {text}" if _is_lab(record.name) else f"{level} ({record.name}): {text}"


class ToolConsole(logging.StreamHandler):  # type: ignore[type-arg]
    """The console of a lab tool without a log file (`tame_library_output`): warnings and
    errors on stderr, worded by `ConsoleFormatter` as a run's console words them. The stream
    is stderr as it is at each record, as for Python's last resort (a test's capture swaps
    `sys.stderr`)."""

    def __init__(self) -> None:
        super().__init__()
        self.setLevel(logging.WARNING)
        self.setFormatter(ConsoleFormatter())
        self.addFilter(_DropFileOnly())  # a tool has no log file for the reports

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        """Ignored: always the stderr of the moment."""


def hydra_verbose() -> Verbose:
    """`hydra.verbose` of the running Hydra job (False outside one)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return False
    return HydraConfig.get().verbose  # type: ignore[no-any-return]


class _DropTips(logging.Filter):
    """Drops Lightning's product tips (e.g. 'try installing litlogger')."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Tip:" not in record.getMessage()


def _tame_lightning() -> None:
    """Remove Lightning's own console handlers, its product tips and a harmless warning."""
    # `import lightning` attaches its own console handler to `lightning`, and to
    # `lightning.pytorch` / `lightning.fabric` when the root logger has none yet (a tool, or a
    # run started before Hydra set up logging). The root's handlers print and file every
    # record already (Python's last-resort handler: warnings only); without this, each
    # Lightning line appears twice, and its INFO lines ("GPU available") on a tool's console.
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        logger.propagate = True
    rank_zero = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    if not any(isinstance(f, _DropTips) for f in rank_zero.filters):
        rank_zero.addFilter(_DropTips())
    # Lightning 2.6 on torch 2.13 warns about its own use of a deprecated torch API.
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")


def drop_transformers_reports() -> None:
    """transformers' own console handler stops printing its records that are reports
    (`FILE_ONLY`); for a tool without a log file and without Lightning (`lab.inspect`)."""
    import transformers.utils.logging as transformers_logging

    transformers_logging.get_verbosity()  # transformers sets up its handler on first use
    # On transformers' own handler, not its logger: `weight_loading_report` reads the load
    # report off the logger, and `quiet_console` detaches the handler for a run's duration.
    for handler in logging.getLogger("transformers").handlers:
        if not any(isinstance(f, _DropFileOnly) for f in handler.filters):
            handler.addFilter(_DropFileOnly())


def tame_library_output() -> None:
    """Console set-up of a lab tool's process (`lab.eval`, `lab.predict`, `lab.serve`, ...):
    Lightning's INFO lines, transformers' progress bars and the library warnings that are
    reports (`FILE_ONLY`, `lab.training.library_warnings.REPORTS`) are not shown; warnings
    that need action are. For the whole process: a tool has no log file to send them to."""
    import lightning  # noqa: F401  (its handlers are attached on import: removed below)
    import transformers.utils.logging as transformers_logging

    _tame_lightning()
    transformers_logging.disable_progress_bar()  # "Loading weights" while a model loads
    transformers_logging.get_verbosity()  # transformers sets up its handler on first use
    # Its records through the root's handler below, worded as a run words them (`warning
    # (transformers.generation...): ...`), not by its own handler (`[transformers] ...`, s27c M3).
    library = logging.getLogger("transformers")
    for handler in list(library.handlers):
        library.removeHandler(handler)
    library.propagate = True
    root = logging.getLogger()
    if not root.handlers:
        # A handler of warnings and errors for the root: a library that calls
        # `logging.basicConfig()` (absl does, on ROUGE's first use) would otherwise give the
        # root a handler that prints every INFO record (Lightning's "GPU available"). Worded
        # as a run's console words them (`warning: data.max_length=64 cuts ...`), not bare as
        # Python's last resort prints them: `lab.export checkpoint=` and `lab.eval` build the
        # run's data, and its cut line read otherwise than in `lab.train` (s26c L3).
        root.addHandler(ToolConsole())
    if not filing(REPORTS):
        file_reports(REPORTS)
    if not sys.stderr.isatty():
        # As in a run: without a terminal each redraw of datasets' bars is a new line.
        if "datasets" in sys.modules:
            import datasets.utils.logging as datasets_logging

            datasets_logging.disable_progress_bar()
        else:  # read when datasets is imported; importing it here would slow lab.predict
            os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")


@contextmanager
def quiet_console(verbose: Verbose = False) -> Iterator[None]:
    """Inside the block, transformers and datasets log through the root handlers (the console
    filter and train.log) and, unless `verbose`, draw no progress bars. Restored after."""
    import transformers.utils.logging as transformers_logging

    _tame_lightning()
    undo_reports = file_reports(REPORTS)
    transformers_logging.get_verbosity()  # transformers sets up its logger on first use
    import datasets.utils.logging as datasets_logging  # adds its handler: moved below too

    saved = {}
    for name in ROUTED_LIBRARIES:
        library = logging.getLogger(name)
        saved[name] = (list(library.handlers), library.propagate)
        for handler in saved[name][0]:
            library.removeHandler(handler)
        library.propagate = True
    bars = transformers_logging.is_progress_bar_enabled()
    data_bars = datasets_logging.is_progress_bar_enabled()
    if not _verbose_names(verbose):
        # transformers' bars (loading and writing weight shards) are seconds of noise; datasets'
        # bars stay on a terminal: tokenizing a large split is long work, and the user should
        # see it move. Without a terminal (a batch job's log) each redraw would be a new line.
        transformers_logging.disable_progress_bar()
        if not sys.stderr.isatty():
            datasets_logging.disable_progress_bar()
    try:
        yield
    finally:
        undo_reports()
        if data_bars:
            datasets_logging.enable_progress_bar()
        for name, (handlers, propagate) in saved.items():
            library = logging.getLogger(name)
            for handler in handlers:
                library.addHandler(handler)
            library.propagate = propagate
        if bars:
            transformers_logging.enable_progress_bar()


# ----------------------------------------------------------------------------- the model line
@dataclass
class LoadReport:
    """What transformers reported while loading pretrained weights."""

    newly_initialised: list[str] = field(default_factory=list)
    reported: bool = False


class _LoadReportReader(logging.Filter):
    # transformers (5.x, `utils/loading_report.py`) logs a table with one `key | STATUS | ...`
    # row per weight that did not load as is: MISSING weights were newly initialised, MISMATCH
    # ones re-initialised for their new shape. No public API hands these keys to a caller of
    # `from_pretrained` except `output_loading_info=True`, which changes what it returns.
    _ANSI = re.compile(r"\x1b\[[0-9;]*m")

    def __init__(self, report: LoadReport) -> None:
        super().__init__()
        self.report = report

    def filter(self, record: logging.LogRecord) -> bool:
        text = self._ANSI.sub("", record.getMessage())
        if "LOAD REPORT" in text:
            self.report.reported = True
            for line in text.splitlines():
                cells = [cell.strip() for cell in line.split("|")]
                if len(cells) >= 2 and cells[1] in ("MISSING", "MISMATCH"):
                    self.report.newly_initialised.append(cells[0])
        return True


@contextmanager
def weight_loading_report() -> Iterator[LoadReport]:
    """Collect the weights that transformers initialises anew while loading in the block."""
    report = LoadReport()
    reader = _LoadReportReader(report)
    logger = logging.getLogger("transformers.modeling_utils")
    logger.addFilter(reader)
    try:
        yield report
    finally:
        logger.removeFilter(reader)


def _count(value: float) -> str:
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if value >= size:
            return f"{value / size:.1f}{unit}"
    return f"{value:.0f}"


def model_line(
    cfg: DictConfig,
    model: Any,
    counts: dict[str, float],
    report: LoadReport,
    resumed: ResumePoint | None = None,
) -> str:
    """`model: <source> (<class>, <n> parameters); newly initialised: <weights>`; a resumed
    run's weights come from its checkpoint, which the line names instead."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    size = f"{_count(counts['total'])} parameters"
    if counts["trainable"] != counts["total"]:
        size += f", {_count(counts['trainable'])} trainable"
    pretrained = cfg.model.get("pretrained")
    if resumed is not None:
        # The model is built as at the start (pretrained or random), then Lightning loads
        # every weight from the checkpoint: what transformers reported no longer holds.
        checkpoint = Path(resumed.checkpoint)
        built = (
            f"{source_name(str(pretrained))} ({type(base).__name__}, {size})"
            if pretrained
            else f"{type(base).__name__} from its config ({size})"
        )
        return (
            f"model: {built}; every weight from the resumed checkpoint "
            f"{checkpoint.parent.name}/{checkpoint.name} (step {resumed.global_step})"
        )
    if not pretrained:
        return (
            f"model: {type(base).__name__} from its config ({size}); all weights newly initialised"
        )
    line = f"model: {source_name(str(pretrained))} ({type(base).__name__}, {size})"
    keys = sorted(set(report.newly_initialised))  # the report's row order varies between runs
    if not keys:
        return f"{line}; every weight loaded from the checkpoint"
    named = ", ".join(keys[:_MODEL_LINE_KEYS])
    more = f" and {len(keys) - _MODEL_LINE_KEYS} more" if len(keys) > _MODEL_LINE_KEYS else ""
    return f"{line}; newly initialised: {named}{more}"


def data_line(datamodule: DataModule) -> str:
    """`data: <n> train, <n> validation, <n> test rows from <source>; ...` (the data line)."""
    source = datamodule.path or datamodule.hub_id or "?"
    if not datamodule.path and datamodule.hub_config:
        source += f" ({datamodule.hub_config})"
    splits = []
    if getattr(datamodule, "streaming", False):
        splits.append(f"train streamed (shuffle buffer {datamodule.shuffle_buffer})")
    for name, rows in datamodule.raw_sizes.items():
        # Heads that window or pack rows (QA, language modelling) train on more or fewer
        # sequences than the source has rows.
        tokenized = len(datamodule.datasets[name]) if name in datamodule.datasets else rows
        notes = [f"{tokenized} sequences"] if tokenized != rows else []  # one group (s25a L4)
        if name in getattr(datamodule, "carved", ()):  # its scores are on train-file rows
            notes.append("carved from train")
        splits.append(f"{rows} {name}" + (f" ({', '.join(notes)})" if notes else ""))
    cached = [name for name, hit in datamodule.cache_hits.items() if hit]
    return (
        f"data: {', '.join(splits)} rows from {source}; "
        f"tokenization cache hit for: {', '.join(cached) or 'none'}"
    )
