"""What seq2seq keeps of its generations beyond the scores.

- Every test generation (`TestGenerations`), written to `test_report.json` under `generations`
  as SFT writes its answers: one entry per test row, in the order of the test split, with the
  row's index in it (`row`, 0-based), its `id` where the data has an `id` column (XSum,
  CNN/DailyMail), the untruncated `reference` and the `prediction`, so ROUGE / BLEU can be
  recomputed from the run folder alone. Under DDP every rank's rows are gathered (a row the
  sampler repeats to even out the ranks is kept once).
- How many validation generations are empty once special tokens are removed
  (`EmptyGenerations`, summed across ranks): when all are, `empty_warning` says so once per
  validation. A model that emits only special tokens (a random tiny BART repeating `<s>`)
  scores 0 while its loss still falls, which is otherwise a puzzle.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torchmetrics import Metric

from lab.tasks.rank_items import gather_items

#: the metric's name in the warning, by `task.module.metric`
METRIC_NAMES = {"rouge": "ROUGE", "bleu": "BLEU"}


class EmptyGenerations(Metric):
    """Generations and empty ones (no text after special tokens are removed) of a stage."""

    full_state_update = False
    empty: torch.Tensor
    total: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        self.add_state("empty", default=torch.tensor(0), dist_reduce_fx="sum")
        self.add_state("total", default=torch.tensor(0), dist_reduce_fx="sum")

    def update(self, predictions: Sequence[str]) -> None:  # type: ignore[override]
        """Count `predictions` (decoded, stripped texts)."""
        self.empty += sum(1 for p in predictions if not p)
        self.total += len(predictions)

    def compute(self) -> tuple[int, int]:
        """(empty generations, generations)."""
        return int(self.empty), int(self.total)


def empty_warning(empty: int, total: int, metric: str) -> str | None:
    """The warning for a validation whose `total` generations are all empty, else None."""
    if not total or empty < total:
        return None
    return (
        f"all {total} validation generations are empty after removing special tokens (the "
        f"model emits only special tokens): {METRIC_NAMES.get(metric, metric)} is 0, though "
        "val/loss can still fall"
    )


class TestGenerations:
    """This rank's test generations, by row index, and the report of all ranks'."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(
        self, rows: Sequence[int] | None, references: Sequence[str], predictions: Sequence[str]
    ) -> None:
        """Keep one batch's generations (`rows`: their indices in the test split; None for a
        module used without lab's data module, whose rows are counted as they come)."""
        indices = list(rows) if rows is not None else [None] * len(predictions)
        for row, reference, prediction in zip(indices, references, predictions, strict=True):
            self.rows.append({"row": row, "reference": reference, "prediction": prediction})

    def report(self, ids: Sequence[Any] | None) -> list[dict[str, Any]]:
        """Every rank's generations, once per row, in test-split order; each with the row's
        `id` from `ids` (the data's `id` column) where given. Clears what this rank kept."""
        kept, self.rows = gather_items(self.rows), []
        if any(entry["row"] is None for entry in kept):  # no row indices: as they came
            return [{**entry, "row": i} for i, entry in enumerate(kept)]
        by_row = {int(entry["row"]): entry for entry in kept}
        ordered = [by_row[row] for row in sorted(by_row)]
        if ids is None:
            return ordered
        return [{"row": e["row"], "id": ids[e["row"]], **e} for e in ordered]
