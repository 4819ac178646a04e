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
  that line names `model.pretrained` (a local folder in full, a Hub id as it is). It, the
  model line and the data line live in `lab.training.run_lines`.

`hydra.verbose=true` (or `hydra.verbose=<logger name>`) brings everything back on screen.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from lab.log_records import is_file_only
from lab.run_dir.records import is_global_rank_zero
from lab.training.library_warnings import REPORTS, file_reports, filing

if TYPE_CHECKING:
    from rich.console import Console


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


class _LibraryLineOnce(logging.Filter):
    """Passes a library's warning once per process: a tool that reads a dataset twice (lab.eval:
    the split it scores, the run's train rows) got datasets' card warning each time (s31f F9),
    where lab.train says it once. lab's own lines always pass."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: set[tuple[str, str]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if _is_lab(record.name):
            return True
        key = (record.name, record.getMessage())
        if key in self._seen:
            return False
        self._seen.add(key)
        return True


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
        self.addFilter(_LibraryLineOnce())

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


def tame_library_output(data: bool = False) -> None:
    """Console set-up of a lab tool's process (`lab.eval`, `lab.predict`, `lab.serve`, ...):
    Lightning's INFO lines, transformers' progress bars and the library warnings that are
    reports (`FILE_ONLY`, `lab.training.library_warnings.REPORTS`) are not shown; warnings
    that need action are. For the whole process: a tool has no log file to send them to.
    `data`: the tool reads datasets (lab.eval), whose records then print through the same
    handler, once, not also bare through datasets' own (s31f F9)."""
    import lightning  # noqa: F401  (its handlers are attached on import: removed below)
    import transformers.utils.logging as transformers_logging

    _tame_lightning()
    transformers_logging.disable_progress_bar()  # "Loading weights" while a model loads
    transformers_logging.get_verbosity()  # transformers sets up its handler on first use
    # Its records through the root's handler below, worded as a run words them (`warning
    # (transformers.generation...): ...`), not by its own handler (`[transformers] ...`, s27c M3).
    if data:
        import datasets.utils.logging  # noqa: F401  (its handler is attached on import)
    for name in ("transformers", "datasets") if data else ("transformers",):
        library = logging.getLogger(name)
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
