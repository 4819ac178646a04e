"""The finalize step of `lab.train`: what a finished run leaves behind, and the last words.

On rank zero, in this order: the best model exported to `model/` (with its tokenizer), the
head's `test_report.json`, the record marked finished (with `metrics.json`), the model card
(and the adapter's, for a PEFT run), the plots (also sent to the loggers), and the summary
table with the run directory (after a warning on classes the test split's macro averages
score 0, where there are any). Then every logger is finalized.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig

if TYPE_CHECKING:
    import lightning as L

    from lab.build import Parts
    from lab.run_dir.records import RunRecord

log = logging.getLogger(__name__)


def finalize(
    cfg: DictConfig,
    parts: Parts,
    trainer: L.Trainer,
    metrics: dict[str, float],
    record: RunRecord,
) -> None:
    """Write the run's export, test report, final record, model card and plots (unless
    `plots=false`); print the summary; close the loggers."""
    from lab.run_dir.model_card import write_run_cards
    from lab.run_dir.plots import log_plots, missing_curves_note, write_run_plots
    from lab.run_dir.records import write_json
    from lab.run_dir.summary import BEST, LAST, print_summary
    from lab.tasks.losses import counted_class_weights
    from lab.training.fit import best_checkpoint

    output_dir = record.output_dir
    if trainer.is_global_zero:
        parts.module.export(output_dir / "model", parts.tokenizer)
        report = parts.module.test_report
        if report:
            write_json(output_dir / "test_report.json", report, sort_keys=False)  # class order
        # Without a best checkpoint (no validation before the end), or with
        # `final_weights=last`, lab tested the last weights: recorded once, for the summary
        # table and the model card (lab.export's, lab.eval's too).
        last = cfg.get("final_weights", "best") == "last"
        record.data["tested"] = BEST if best_checkpoint(trainer) and not last else LAST
        if counted := counted_class_weights(parts.module):  # class_weights=balanced's numbers
            record.data["class_weights"] = counted
        record.finish(metrics)
        write_run_cards(output_dir, cfg, record.data, metrics)  # model/, and adapter/ if any
        if cfg.get("plots", True):  # a config from before `plots` drew them
            log_plots(trainer.loggers, write_run_plots(output_dir, report, cfg))
            if note := missing_curves_note(output_dir):
                log.info(note)
        note_zero_scored_classes(report or {})
        print_summary(metrics, output_dir, tested=record.data["tested"])
    for logger in trainer.loggers:
        logger.finalize("success")


def note_zero_scored_classes(report: dict[str, Any]) -> None:
    """Warn, before the final table, of the test split's classes that its macro averages
    count with a score of 0 (`lab.eval_table.absent_classes_note`), as lab.eval notes them."""
    from lab.eval_table import absent_classes_note

    note = absent_classes_note(report, where="the test split")
    if note:
        log.warning("%s", note)
