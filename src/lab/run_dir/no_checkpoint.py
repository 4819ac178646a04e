"""A run without `checkpoints/last.ckpt`, in words: how it ended, as its record says, and the
way on.

`resume=<run>` of such a run is refused (nothing to continue exactly from), and `resume=auto`
passes over it and starts a new run. Both say why as the run's `record.json` does: a run that
a full disk ended is `failed: cannot write ...: No space left on device`, not "interrupted"
(s26 H3). Both name a whole best checkpoint where there is one: copied to `last.ckpt`, a
resume continues from it (the steps after it are trained again).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NoReturn

from lab.errors import LabError
from lab.run_dir.resume import LAST_CHECKPOINT_PATH, other_checkpoint


def how_it_ended(status: str, maybe_training: bool = False) -> tuple[str, str, str]:
    """`(it ..., in passing ..., what record.json says)` for a run without a `last.ckpt`
    whose record says `status`: `("it was interrupted", "interrupted", "")`, `("it failed",
    "failed", "record.json: 'failed: <why>'")`, ... An interruption's status says no more
    than the word. `maybe_training`: a record still `running` may be a run another process
    trains now (`resume=<run>` has ruled that out by then: its lock was free)."""
    if status.startswith("interrupted"):
        return "it was interrupted", "interrupted", ""
    said = f"record.json: {status!r}"
    if status.startswith("failed"):
        return "it failed", "failed", said
    if status.startswith("pruned"):
        return "it was pruned", "pruned", said
    if status == "running":  # no ending recorded: SIGKILL, out of memory, a machine gone
        why = "still training, or killed" if maybe_training else "its process was killed"
        return "it stopped", "stopped", f"record.json still says 'running': {why}"
    return "it ended", "ended", said


def refuse_without_last_checkpoint(run_dir: Path, record: dict[str, Any]) -> NoReturn:
    """Refuse `resume=<run_dir>` of a run whose `last.ckpt` is not there: one it wrote and
    lost (restore it), or one it never wrote (its record says why), naming a whole best
    checkpoint to continue from instead where there is one."""
    from lab.run_dir.endings import SWEEP_RESUMES

    # The record says whether one was written (its status names the resume then).
    status = str(record.get("status", ""))
    if "continue with resume=" in status or SWEEP_RESUMES in status:
        raise LabError(
            f"cannot resume {run_dir}: its checkpoint {LAST_CHECKPOINT_PATH} is missing, "
            f"though the run wrote one (record.json: {status!r}); restore it to continue"
            f"{other_checkpoint(run_dir)}, or start the run again without resume="
        )
    ended, _, said = how_it_ended(status)
    where = f"{LAST_CHECKPOINT_PATH}; {said}" if said else str(LAST_CHECKPOINT_PATH)
    best = other_checkpoint(run_dir).removeprefix(", or ")
    again = "start the run again without resume="
    raise LabError(
        f"cannot resume {run_dir}: {ended} before writing a checkpoint ({where}); "
        + (f"{best}, or {again}" if best else again)
    )


def passing_over_line(run_dir: Path) -> str:
    """`resume=auto: passing over <run> (...)`: why `resume=auto` does not continue a run of
    the same overrides that has no `last.ckpt` (its record's words), and a whole best
    checkpoint that `resume=<run>` would continue from once copied to `last.ckpt`."""
    _, ended, said = how_it_ended(_status(run_dir), maybe_training=True)
    best = other_checkpoint(run_dir).removeprefix(", or ")
    then = f"{best}, with resume={run_dir}" if best else "nothing to continue from"
    why = f"{ended} before writing a checkpoint" + (f"; {said}" if said else "")
    return f"resume=auto: passing over {run_dir} ({why}; {then})"


def _status(run_dir: Path) -> str:
    try:
        record = json.loads((run_dir / "record.json").read_text())
    except (OSError, ValueError):  # gone or rewritten since it was listed
        return ""
    return str(record.get("status", "")) if isinstance(record, dict) else ""
