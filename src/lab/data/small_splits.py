"""A validation split too small to choose by, said before training (s24c M3, M6; s23a L3).

The best checkpoint, early stopping and a sweep's objective all follow the validation metric.
On a handful of rows that metric moves in coarse steps (2 rows: accuracy is 0, 0.5 or 1), and
which epoch or configuration "wins" is mostly which rows happened to land there: a seed study
on a 16-row file reported the configuration with the worse test mean as best, on 2 validation
rows of one class, and nothing said why. Training now says so once, beside the data line,
where the validation split holds fewer than `FEW_ROWS` rows, with the way to a larger one
(carved: `data.val_fraction`; given: a larger file). Nothing for larger splits, for runs
without validation (`trainer.limit_val_batches=0`), or under `lab.eval`.
"""

from __future__ import annotations

from typing import Any

#: Below this many validation rows a run is warned (a rate moves by more than 1/30 a row).
FEW_ROWS = 30


def small_validation_line(datamodule: Any) -> str | None:
    """The warning for a data module whose validation split (as read, before tokenization)
    holds fewer than `FEW_ROWS` rows, or None."""
    rows = (getattr(datamodule, "raw_sizes", None) or {}).get("validation")
    if not rows or rows >= FEW_ROWS:
        return None
    carved = "validation" in (getattr(datamodule, "carved", None) or [])
    larger = (
        f"a larger data.val_fraction (now {datamodule.val_fraction:g} of train) carves more"
        if carved
        else "a validation file of more rows (data.splits.validation) gives steadier choices"
    )
    return (
        f"the validation split holds {rows} row{'s' * (rows != 1)}: one row moves a rate such "
        f"as accuracy by {1 / rows:.2g}, and the best checkpoint, early stopping and a sweep's "
        f"objective follow its metric, so their choices rest on {rows} row"
        f"{'s' * (rows != 1)}; {larger}"
    )


def too_few_classes(names: list[str], carved: list[str], train_rows: int) -> str:
    """The error for a train split of fewer than 2 classes (`names`); where lab carved the
    splits `carved` from the same file, it says so: a 3-row file's validation and test took
    2 of its rows, and "the train split has 1 class" read as false of the file (s24c M5). The
    file may hold that one class alone (s26c M6): the carving is said, not blamed."""
    line = f"the train split has {len(names)} class(es) ({names}); classification needs at least 2"
    if carved:
        splits = " and ".join(carved)
        were = "splits were" if len(carved) > 1 else "split was"
        rows = f"{train_rows} train row{'s' * (train_rows != 1)}"
        line += (
            f" (the {splits} {were} carved from the same file first, leaving {rows}: where the "
            f"file holds other classes, give each more rows, or give {splits} files of your own)"
        )
    return line
