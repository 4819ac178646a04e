"""A callback of your own whose line reaches the console and train.log, as lab's own lines do."""

from __future__ import annotations

import logging

import lightning as L

# A logger under `lab.user.` is shown like lab's own: INFO on the console (bare) and in
# train.log. (print() reaches the console only; a logger of another name, train.log only.)
log = logging.getLogger("lab.user.my_head")


class ValidationNote(L.Callback):
    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            spearman = float(trainer.callback_metrics.get("val/spearman", float("nan")))
            log.info("my_head: step %d, val/spearman %.4f", trainer.global_step, spearman)
