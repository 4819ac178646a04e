"""Check a resume's checkpoint against the run's built model, before the resume writes.

`lab.run_dir.resume.prepare_resume` checks what can be known before anything is built: the
record, the config, that `last.ckpt` is a whole Lightning checkpoint holding the optimizer
and scheduler states. Whether its weights fit the model (another size, another head, a key
missing or extra: a `last.ckpt` copied from another run) is known only once the model is
built, and Lightning would find out only inside `trainer.fit`, with a traceback, after the
CSV log had been cut back to the checkpoint's step and the record rewritten. So `lab.train`
loads the weights here first, as soon as the model is built (before its model line, which
says the weights are the checkpoint's: s33d F4), the way `lab.eval` and `lab.export` load a
checkpoint (`lab.run_dir.runs.load_checkpoint_weights`), and refuses a checkpoint that does
not fit in one line, naming what does not fit, before `RunRecord.commit_resume` writes
anything.

Loading them here costs no memory (the file is mapped) and changes nothing: Lightning
restores the same weights again when the fit starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lab.errors import LabError

if TYPE_CHECKING:
    import torch

    from lab.run_dir.records import RunRecord


def check_resume_fits(module: torch.nn.Module, record: RunRecord) -> None:
    """Refuse (`LabError`) a resume whose checkpoint's weights do not fit `module`, the
    run's built task module; nothing to do for a new run or a resume already written."""
    point = record.resume_point
    if point is None or not record.resume_pending:
        return
    problem = weights_misfit(module, point.checkpoint)
    if problem is None:
        return
    from lab.run_dir.resume import other_checkpoint

    run_dir = record.output_dir
    instead = other_checkpoint(run_dir, lambda path: weights_misfit(module, path) is None)
    raise LabError(
        f"cannot resume {run_dir}: checkpoint {point.checkpoint} (step {point.global_step}) "
        f"does not fit this run's model: {problem}. It is another model's (another size or "
        f"head?): restore the run's own {point.checkpoint.name} to continue{instead}, or start "
        "the run again without resume="
    )


def weights_misfit(module: torch.nn.Module, path: Path) -> str | None:
    """What of the checkpoint at `path` does not fit `module`, in one line (None: it fits,
    and `module` now holds its weights)."""
    from lab.run_dir.runs import load_checkpoint_weights
    from lab.training.checkpointing import read_checkpoint
    from lab.training.state_dict_errors import describe_load_error

    saved = read_checkpoint(path, mmap=True)
    try:
        load_checkpoint_weights(module, saved, path)
    except LabError as err:  # `load_state_dict`'s refusal, in its words (err.__cause__)
        return describe_load_error(err.__cause__ or err)
    return None
