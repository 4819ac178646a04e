"""The steps after the last validation of a `trainer.val_every_n_steps` run, said up front.

With `trainer.val_every_n_steps=N` lab validates after every N-th optimizer step and nowhere
else; HF Trainer's `DefaultFlowCallback` also evaluates at the final step when `max_steps` is
no multiple of `eval_steps`. A recipe ported with `max_steps=30, eval_steps=4` therefore never
validated its last 2 steps in lab, and the after-training note said so only once the run was
over (s32a F-M3). `tail_warning` is the line said before: by `lab.validate` where
`trainer.max_steps` is set (`config_tail_warning`), and when training starts, where the run's
last step is known exactly (`lab.training.progress_lines`).

Standard library and OmegaConf only: `lab.validate` stays cheap.
"""

from __future__ import annotations

from omegaconf import DictConfig


def tail_warning(every: int, last: int, ends: str) -> str | None:
    """The warning that steps `M + 1 .. last` (M the last multiple of `every`) are never
    validated, `ends` saying what makes `last` the last step (`trainer.max_steps=30`); None
    where `last` is a multiple of `every`, or where no validation comes before it at all."""
    if every < 1 or last < 1 or last % every == 0 or last < every:
        return None
    validated = last - last % every
    left = last - validated
    steps = f"{left} steps (after step {validated} of {last}) are"
    if left == 1:
        steps = f"step (after step {validated} of {last}) is"
    return (
        f"the last {steps} never validated: {ends} is no "
        f"multiple of trainer.val_every_n_steps={every} (HF's Trainer would also evaluate at "
        f"step {last}); to validate the final weights make trainer.max_steps a multiple of "
        f"{every} ({validated} or {validated + every})"
    )


def config_tail_warning(cfg: DictConfig) -> str | None:
    """`tail_warning` for a config whose `trainer.max_steps` and `trainer.val_every_n_steps`
    are set, or None; where `trainer.max_epochs` may end the run first, the line says so."""
    trainer = cfg.get("trainer")
    if not isinstance(trainer, DictConfig):
        return None
    every, max_steps = trainer.get("val_every_n_steps"), trainer.get("max_steps")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (every, max_steps)):
        return None
    line = tail_warning(every, max_steps, f"trainer.max_steps={max_steps}")
    epochs = trainer.get("max_epochs")
    if line is not None and isinstance(epochs, int) and epochs > 0:
        line += f" (unless trainer.max_epochs={epochs} ends training first)"
    return line
