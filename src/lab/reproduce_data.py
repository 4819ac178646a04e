"""`lab.reproduce`'s check of the data against the recorded run's, said before it retrains.

The recorded run's `record.json` holds each split's row count and SHA-256 content fingerprint
as loaded (`lab.run_dir.records.RunRecord.note_data`). A reproduction on changed data was told
so only beside the final table, after the whole retrain: for a run of hours, hours late.
`RecordedDataCheck` compares the data module's fingerprints with the recorded ones when the
fit starts (the data is read, nothing trained yet) and warns then; the verdict beside the
table stays (`lab.reproduce.environment_differences`, from the same `data_differences`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import lightning as L

log = logging.getLogger("lab.reproduce")


def data_differences(recorded: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    """One line per recorded split whose content fingerprint differs from `now`'s (both
    `{split: {"rows": n, "sha256": hex}}`, as record.json keeps them); a split missing now
    differs too."""
    lines = []
    for split, info in recorded.items():
        current = now.get(split) or {}
        if (info or {}).get("sha256") != current.get("sha256"):
            rows = f"rows {(info or {}).get('rows')} -> {current.get('rows')}"
            lines.append(f"data {split}: content differs from the recorded run ({rows})")
    return lines


def loaded_data(datamodule: Any) -> dict[str, dict[str, Any]]:
    """`{split: {"rows", "sha256"}}` of a data module that has read its splits, as the run
    record notes them; {} for one that keeps no fingerprints."""
    sizes = getattr(datamodule, "raw_sizes", None) or {}
    fingerprints = getattr(datamodule, "split_fingerprints", None) or {}
    return {name: {"rows": rows, "sha256": fingerprints.get(name)} for name, rows in sizes.items()}


class RecordedDataCheck(L.Callback):
    """Warns, when the fit starts, of every split whose content differs from `recorded`
    (the recorded run's `record.json` `data`): the metrics may differ for that reason alone,
    and the user may stop the reproduction before it spends the run's time."""

    def __init__(self, recorded: Mapping[str, Any]) -> None:
        self.recorded = dict(recorded)

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if stage != "fit" or not self.recorded:
            return
        # `trainer.datamodule`: set by `fit(datamodule=...)`, undeclared on the class.
        now = loaded_data(getattr(trainer, "datamodule", None))
        if not now:  # a data module without fingerprints: nothing to compare before the end
            return
        for line in data_differences(self.recorded, now):
            log.warning("%s; reproducing on it anyway (Ctrl-C stops)", line)
