"""`trainer.val_every_n_steps=N`: validate after every N-th optimizer step of the run, as HF
Trainer's `eval_strategy="steps", eval_steps=N`.

Lightning's `val_check_interval` counts micro-batches, so with gradient accumulation it
validates in the middle of an accumulation group and N times as often (accumulation 2,
interval 4: after steps 2, 4, 6, 8, where HF validates after 4 and 8), and it starts counting
again each epoch, which also ends with a validation. Every other step count of lab
(`max_steps`, warmup, `log_every_n_steps`, `last_checkpoint.every_n_train_steps`, checkpoint
names) is in optimizer steps; this one is too.

`ValidateEveryNSteps` gives the fit's epoch loop this rule in place of Lightning's for the
length of the fit (`lab.compat.lightning.replace_validation_rule`): a validation follows the
training batch that took optimizer step S when S is a multiple of N, whichever epoch S falls
in, and never at an epoch's end otherwise. Lightning's one other reason to validate stays: a
stop requested mid-epoch (`trainer.should_stop`, once `min_epochs`/`min_steps` are met)
validates before the fit ends.

The rule is a function of the loop's state alone (the global step, whether the batch just
trained stepped the optimizer), not of earlier answers: Lightning asks it again on resume to
tell whether the checkpoint's batch was validated, and `periodic_checkpoint.validation_follows`
asks it at the batch's end before the loop does, and both must get the loop's own answer.

`build_trainer` adds the callback and gives Lightning `check_val_every_n_epoch=None` with a
whole number of batches as `val_check_interval`: Lightning then takes validations as
happening within epochs, so the best checkpoint is chosen and early stopping checks at each
validation's end (with the defaults, both act at the epoch's end instead), and a streamed
split (an endless epoch) needs no interval of its own.
"""

from __future__ import annotations

from typing import Any

import lightning as L

from lab.compat.lightning import (
    accumulating,
    can_stop_early,
    replace_validation_rule,
    restore_validation_rule,
)
from lab.errors import ConfigError


class ValidateEveryNSteps(L.Callback):
    """Validate after every `every`-th optimizer step of the fit (see the module)."""

    def __init__(self, every: int) -> None:
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ConfigError(f"trainer.val_every_n_steps={every!r}; valid: an integer >= 1")
        self.every = every

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if stage == "fit":
            replace_validation_rule(trainer, lambda: self.validates_now(trainer))

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if stage == "fit":
            restore_validation_rule(trainer)

    def validates_now(self, trainer: L.Trainer) -> bool:
        """Whether a validation follows the training batch that has just ended."""
        if not trainer.enable_validation:
            return False
        if trainer.should_stop and can_stop_early(trainer):
            return True  # Lightning's rule: validate before a requested stop ends the fit
        step = trainer.global_step
        return step > 0 and step % self.every == 0 and not accumulating(trainer)


def validation_arguments(every: int | None, accumulate: Any) -> dict[str, Any]:
    """The Trainer arguments `val_every_n_steps=every` sets (none when it is None): the
    validation interval in batches across epochs (see the module; only Lightning's own
    bookkeeping reads it: the rule is `ValidateEveryNSteps`'s)."""
    if every is None:
        return {}
    return {"check_val_every_n_epoch": None, "val_check_interval": every * int(accumulate or 1)}
