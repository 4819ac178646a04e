"""How `lab.reproduce` logs: as a `python -m lab.train` job does under Hydra (`run_log`), but
for the `Run directory:` line of a reproduction refused before it read its data
(`run_directory_held`): that folder is removed again (`lab.reproduce_target`), and a line
naming it would send the user to a folder that is not there.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

# The logger and the words of lab.train's run-directory line (`lab.run_dir.records.RunRecord`).
RECORDS_LOGGER = "lab.run_dir.records"
RUN_DIRECTORY = "Run directory:"


@contextmanager
def run_log(
    output_dir: Path, overrides: Sequence[str] = (), file_name: str = "train.log"
) -> Iterator[None]:
    """Inside the block, logging is set up as Hydra sets it up for a `python -m lab.train` job:
    `hydra.job_logging` of conf/ (lab's lines on the console, library chatter filtered out)
    with its file handler on `<output_dir>/<file_name>` (another DDP rank's: its own file).
    `overrides`: the command's `hydra.*` ones (`hydra.verbose=true`). The root logger's
    handlers and level are restored after."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.utils import configure_log
    from omegaconf import open_dict

    from lab.config.paths import conf_dir
    from lab.training.absl_handler import keep_absl_off_borrowed_streams

    # `run` is called directly, not as a Hydra job, so nothing else would set logging up:
    # without this the lab lines are INFO records with no handler (not shown) and no
    # train.log is written. The config is composed for its `hydra` node only.
    hydra_overrides = [o for o in overrides if o.lstrip("+~").startswith("hydra.")]
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            cfg = compose("train", overrides=hydra_overrides, return_hydra_config=True)
    finally:
        GlobalHydra.instance().clear()
    job_logging = cfg.hydra.job_logging
    if job_logging is not None and "file" in (job_logging.get("handlers") or {}):
        # Hydra names the file after the job (`train.log` for lab.train): the same name here.
        with open_dict(job_logging):
            job_logging.handlers.file.filename = str(output_dir / file_name)
    output_dir.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    keep_absl_off_borrowed_streams()  # dictConfig below closes every handler
    configure_log(job_logging, cfg.hydra.verbose)
    try:
        yield
    finally:
        for handler in list(root.handlers):
            if handler not in saved_handlers:
                root.removeHandler(handler)
                handler.close()
        for handler in saved_handlers:
            if handler not in root.handlers:
                root.addHandler(handler)
        root.setLevel(saved_level)


class _HeldRunDirectory(logging.Filter):
    """A filter of one handler that holds back the first `Run directory:` line and hands it
    to the handler just before the next line it gets (`release`: now; `drop`: never)."""

    def __init__(self, handler: logging.Handler) -> None:
        super().__init__()
        self.handler = handler
        self.held: logging.LogRecord | None = None
        self.seen = False

    def filter(self, record: logging.LogRecord) -> bool:
        line = not self.seen and record.name == RECORDS_LOGGER
        if line and record.getMessage().startswith(RUN_DIRECTORY):
            self.held, self.seen = record, True
            return False
        self.release()
        return True

    def release(self) -> None:
        held, self.held = self.held, None
        if held is not None:
            self.handler.handle(held)  # passes this filter now: `seen`, nothing held


class HeldLine:
    """The held `Run directory:` line of `run_directory_held`: `drop()` it where the
    reproduction's folder is removed."""

    def __init__(self, holds: list[_HeldRunDirectory]) -> None:
        self.holds = holds
        self.dropped = False

    def drop(self) -> None:
        """Never show the line (a line already shown stays)."""
        self.dropped = True


@contextmanager
def run_directory_held() -> Iterator[HeldLine]:
    """Inside the block (inside `run_log`), the reproduction's `Run directory:` line waits
    for its next line (the data line, once the data is read), then shows before it, in
    order. A reproduction refused before that line, whose folder is removed, `drop`s it;
    else leaving the block shows a line still held (a bug's folder stays: it is named)."""
    root = logging.getLogger()
    held = HeldLine([_HeldRunDirectory(handler) for handler in root.handlers])
    for hold in held.holds:
        hold.handler.addFilter(hold)
    try:
        yield held
    finally:
        for hold in held.holds:
            hold.handler.removeFilter(hold)
            if not held.dropped:
                hold.release()
