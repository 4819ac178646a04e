"""How a run ended, in words: the `status` `record.json` keeps and what `lab.train` says on
stderr when a signal stopped it, each with what to run next (a single run: `resume=<dir>`
with its overrides; a sweep's trial: the sweep's own command, which resumes it)."""

from __future__ import annotations

import contextlib
import shlex
import signal
import sys
from pathlib import Path

from lab.errors import lab_error_in
from lab.run_dir.disk import disk_error

# The global step this process's fit ended at (`note_training_ended`), once it has: a
# last.ckpt of that step resumes to the test pass and export alone (s30a F8).
_TRAINING_ENDED_AT: list[int] = []


def note_training_ended(step: int | None) -> None:
    """Note that this process's fit ended at global step `step` (`lab.training.fit`); None:
    a fit starts (an in-process run after another, tests), none has ended."""
    _TRAINING_ENDED_AT[:] = [] if step is None else [step]


class RunInterrupted(SystemExit):
    """A signal stopped the run (raised by `lab.train`'s handler outside training steps,
    where nothing is lost by stopping at once). Like Lightning's `SIGTERMException`, a
    `SystemExit`: code that catches `Exception` lets it through."""

    def __init__(self, signal_name: str) -> None:
        super().__init__(128 + signal.Signals[signal_name].value)
        self.signal_name = signal_name


def interrupting_signal(error: BaseException) -> str | None:
    """The name of the signal that `error` reports (`SIGTERM`, `SIGUSR1`, `SIGINT`), or None."""
    if isinstance(error, RunInterrupted):
        return error.signal_name
    if isinstance(error, KeyboardInterrupt):
        return "SIGINT"
    # Looked up, not imported: Lightning takes seconds to import, and when it is not
    # imported yet the error cannot be its SIGTERMException.
    exceptions = sys.modules.get("lightning.pytorch.utilities.exceptions")
    if exceptions is not None and isinstance(error, exceptions.SIGTERMException):
        # Lightning raises it for SIGUSR1 too, which lab routes to its SIGTERM handler; the
        # callback that saves last.ckpt names the signal (`PreemptionCheckpoint`).
        return str(getattr(error, "signal_name", "SIGTERM"))
    if isinstance(error, SystemExit) and isinstance(error.__context__, KeyboardInterrupt):
        return "SIGINT"  # Lightning turns Ctrl-C during fit/validate/test into sys.exit(1)
    return None


def last_checkpoint(output_dir: Path) -> Path | None:
    """The run's `checkpoints/last.ckpt`, if it exists (what `resume=<dir>` continues)."""
    from lab.run_dir.resume import LAST_CHECKPOINT_PATH

    path = output_dir / LAST_CHECKPOINT_PATH
    return path if path.is_file() else None


SWEEP_RESUMES = "it resumes this trial from its checkpoint"


def interrupted_status(signal_name: str, output_dir: Path, in_sweep: bool = False) -> str:
    """The `status` of a run stopped by a signal, with what to run next (for a sweep's
    trial, the sweep's own command: it resumes the trial)."""
    if last_checkpoint(output_dir):
        then = f"resume={output_dir}" if not in_sweep else f"the sweep's command ({SWEEP_RESUMES})"
        return f"interrupted ({signal_name}); continue with {then}"
    if best := best_checkpoint_way_out(output_dir):
        return f"interrupted ({signal_name}); no last.ckpt was written; {best}"
    return f"interrupted ({signal_name}); no checkpoint was written; start the run again"


def best_checkpoint_way_out(output_dir: Path) -> str:
    """`copy checkpoints/best-....ckpt (step N) to checkpoints/last.ckpt to continue from there`
    where a run stopped before its first `last.ckpt` holds a best checkpoint (Ctrl-C saves
    none; saying "no checkpoint was written" led users to delete runs that held one); ""
    when there is none."""
    from lab.run_dir.resume import other_checkpoint

    return other_checkpoint(output_dir).removeprefix(", or ")


def start_command(overrides: list[str]) -> str:
    """`python -m lab.train <overrides>`: the command that starts the run again from its
    beginning (a `resume=` among them left out)."""
    kept = [o for o in overrides if not o.lstrip("+~").startswith("resume=")]
    return shlex.join(["python", "-m", "lab.train", *kept])


def typed_command(argv: list[str]) -> str:
    """The command as typed: `python -m lab.<tool> ...` for a lab tool's script (a run of
    `lab.reproduce` too, not the path of reproduce.py), else the arguments as given."""
    script = Path(argv[0]) if argv else Path()
    tool = "train" if script.name == "lab-train" else script.stem
    if script.name == "lab-train" or (script.suffix == ".py" and script.parent.name == "lab"):
        return shlex.join([Path(sys.executable).name, "-m", f"lab.{tool}", *argv[1:]])
    return shlex.join(argv)


def resume_command(overrides: list[str], output_dir: Path) -> str:
    """`python -m lab.train <overrides> resume=<output_dir>`: a resume needs the overrides
    the run was started with (`resume=` alone composes the default config, which differs)."""
    return f"{start_command(overrides)} {shlex.quote(f'resume={output_dir}')}"


def interrupted_message(
    signal_name: str, output_dir: Path, command: str = "", overrides: list[str] | None = None
) -> str:
    """What `lab.train` says on stderr when a signal stopped the run in `output_dir`
    (`overrides`: the run's command-line overrides, for the command that resumes it)."""
    checkpoint = last_checkpoint(output_dir)
    if checkpoint:
        return (
            f"interrupted by {signal_name}; the last checkpoint is {checkpoint}"
            f"{saved_at(checkpoint, signal_name)}. Continue with: "
            f"{resume_command(overrides or [], output_dir)}"
        )
    again = f": {command}" if command else ""
    if best := best_checkpoint_way_out(output_dir):
        return (
            f"interrupted by {signal_name}; no last.ckpt was written (Ctrl-C saves none, SIGTERM "
            f"and SIGUSR1 do); {best}: {resume_command(overrides or [], output_dir)}, or start "
            f"the run again{again}"
        )
    return f"interrupted by {signal_name}; no checkpoint was written; start the run again{again}"


def disk_fault_line(fault: Exception, output_dir: Path, overrides: list[str]) -> str:
    """The one line of a run in `output_dir` that a disk fault ended: `fault` and what to run
    once the disk is fixed (`overrides`: the run's, for the commands): with a `last.ckpt`, the
    resume; before it, the copy of a whole best checkpoint that a resume then continues from,
    where there is one (as a signal's line says), and the command that starts it again."""
    if last_checkpoint(output_dir):
        return f"{fault}; once fixed, continue with {resume_command(overrides, output_dir)}"
    again = f"start it again: {start_command(overrides)}"
    if best := best_checkpoint_way_out(output_dir):
        return f"{fault}; once fixed, {best}: {resume_command(overrides, output_dir)}, or {again}"
    return f"{fault}; once fixed, {again}"


def data_fault_line(output_dir: Path, overrides: list[str]) -> str:
    """The line that follows the error of a run in `output_dir` that bad data stopped after
    it wrote a checkpoint (a row deep in a streamed train split, s28a M3): the checkpoints
    are kept, and what to run once the data is fixed, as a signal's line says (`overrides`:
    the run's, for the command). "" where the run wrote no checkpoint: starting it again is
    all there is to do."""
    checkpoint = last_checkpoint(output_dir)
    resume = resume_command(overrides, output_dir)
    if checkpoint:
        return (
            f"the run's checkpoints are kept; the last is {checkpoint}{saved_at(checkpoint)}. "
            f"Once the data is fixed, continue with: {resume}"
        )
    if best := best_checkpoint_way_out(output_dir):
        return (
            "the run's checkpoints are kept (no last.ckpt was written yet); once the data is "
            f"fixed, {best}: {resume}"
        )
    return ""


def saved_at(checkpoint: Path, signal_name: str = "SIGINT") -> str:
    """` (step 125; later steps are trained again)`: where a resume from `checkpoint` starts
    (Ctrl-C saves none: the periodic `last.ckpt` may be many steps back; SIGTERM and SIGUSR1
    save it at the step they stop: ` (step 182)`, s25a L1); a checkpoint of the step this
    process's training ended at (a signal in the test pass) is said to resume to the test.
    "" where unknown, and where Lightning is not imported yet: a run stopped while it starts
    up (importing it takes seconds, and the signal may have cut that import short)."""
    if "lightning" not in sys.modules:
        return ""
    try:
        from lab.training.validation_metrics import checkpoint_step

        step = checkpoint_step(checkpoint)  # mapped, not read
    except Exception:  # the message must be said whatever the checkpoint holds
        return ""
    if step is None:
        return ""
    if step in _TRAINING_ENDED_AT:  # stopped in the test pass or the export after fit
        return f" (step {step}, where training ended: a resume tests and exports only)"
    return (
        f" (step {step}; later steps are trained again)"
        if signal_name == "SIGINT"
        else f" (step {step})"
    )


def ending_status(
    error: BaseException, output_dir: Path | None = None, in_sweep: bool = False
) -> str:
    """The `status` of a run in `output_dir` that ended with `error` (what `record.json`
    says happened)."""
    signal_name = interrupting_signal(error)
    if signal_name is not None:
        if output_dir is None:
            return f"interrupted ({signal_name})"
        return interrupted_status(signal_name, output_dir, in_sweep)
    user_error = lab_error_in(error)  # Hydra's `instantiate` wraps what it builds raises
    if user_error is not None:
        return f"failed: {user_error}"
    if isinstance(error, Exception):
        fault = disk_error(error, output_dir)
        if fault is not None:
            return f"failed: {fault}"
        # Pruned by a sweep, out of memory, a bug: the record says how the run ended.
        ended = "pruned" if type(error).__name__ == "TrialPruned" else "failed"
        return f"{ended}: {type(error).__name__}: {error}"
    return f"interrupted ({type(error).__name__})"


# What a new run directory holds before its record.json: Hydra's files, then the first files
# `records.start_record` writes (a signal can stop it between them).
BEFORE_RECORD = {".hydra", "train.log", "config.yaml", "overrides.yaml", "code.patch"}


def remove_unstarted_run(output_dir: Path) -> bool:
    """Remove `output_dir` where a run stopped before it wrote its record: no record.json, and
    nothing in the folder but what comes before it (`BEFORE_RECORD`: Hydra's `.hydra/` and
    `train.log`, a config.yaml cut short): no run to resume, compare or clean up later (five
    signals in a row left five such folders, s25a M2). Returns whether it did; a folder
    holding anything else is kept."""
    import shutil

    try:
        if (output_dir / "record.json").exists() or not output_dir.is_dir():
            return False
        entries = {entry.name for entry in output_dir.iterdir()}
        if entries - BEFORE_RECORD:
            return False
        shutil.rmtree(output_dir / ".hydra", ignore_errors=True)
        for name in entries - {".hydra"}:
            (output_dir / name).unlink(missing_ok=True)
        output_dir.rmdir()
    except OSError:
        return False
    with contextlib.suppress(OSError):  # the day's folder, where it held only this run
        output_dir.parent.rmdir()
    return True
