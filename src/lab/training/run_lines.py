"""The lines a run says of its data and its model (`data_line`, `model_line`), and the
transformers load report the model line reads (`weight_loading_report`): which weights were
newly initialised. Moved out of `lab.training.console`, which re-exports them."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lab.data.mixture import mixture_words
from lab.training.model_source import source_name

if TYPE_CHECKING:
    from omegaconf import DictConfig

    from lab.data.datamodule import DataModule
    from lab.run_dir.resume import ResumePoint

_MODEL_LINE_KEYS = 8  # newly initialised weights named on the model line; the rest counted


@dataclass
class LoadReport:
    """What transformers reported while loading pretrained weights."""

    newly_initialised: list[str] = field(default_factory=list)
    reported: bool = False


class _LoadReportReader(logging.Filter):
    # transformers (5.x, `utils/loading_report.py`) logs a table with one `key | STATUS | ...`
    # row per weight that did not load as is: MISSING weights were newly initialised, MISMATCH
    # ones re-initialised for their new shape. No public API hands these keys to a caller of
    # `from_pretrained` except `output_loading_info=True`, which changes what it returns.
    _ANSI = re.compile(r"\x1b\[[0-9;]*m")

    def __init__(self, report: LoadReport) -> None:
        super().__init__()
        self.report = report

    def filter(self, record: logging.LogRecord) -> bool:
        text = self._ANSI.sub("", record.getMessage())
        if "LOAD REPORT" in text:
            self.report.reported = True
            for line in text.splitlines():
                cells = [cell.strip() for cell in line.split("|")]
                if len(cells) >= 2 and cells[1] in ("MISSING", "MISMATCH"):
                    self.report.newly_initialised.append(cells[0])
        return True


@contextmanager
def weight_loading_report() -> Iterator[LoadReport]:
    """Collect the weights that transformers initialises anew while loading in the block."""
    report = LoadReport()
    reader = _LoadReportReader(report)
    logger = logging.getLogger("transformers.modeling_utils")
    logger.addFilter(reader)
    try:
        yield report
    finally:
        logger.removeFilter(reader)


def _count(value: float) -> str:
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if value >= size:
            return f"{value / size:.1f}{unit}"
    return f"{value:.0f}"


def model_line(
    cfg: DictConfig,
    model: Any,
    counts: dict[str, float],
    report: LoadReport,
    resumed: ResumePoint | None = None,
) -> str:
    """`model: <source> (<class>, <n> parameters); newly initialised: <weights>`; a resumed
    run's weights come from its checkpoint, which the line names instead."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    size = f"{_count(counts['total'])} parameters"
    if counts["trainable"] != counts["total"]:
        size += f", {_count(counts['trainable'])} trainable"
    pretrained = cfg.model.get("pretrained")
    if resumed is not None:
        # The model is built as at the start (pretrained or random), then Lightning loads
        # every weight from the checkpoint: what transformers reported no longer holds.
        checkpoint = Path(resumed.checkpoint)
        built = (
            f"{source_name(str(pretrained))} ({type(base).__name__}, {size})"
            if pretrained
            else f"{type(base).__name__} from its config ({size})"
        )
        return (
            f"model: {built}; every weight from the resumed checkpoint "
            f"{checkpoint.parent.name}/{checkpoint.name} (step {resumed.global_step})"
        )
    if not pretrained:
        return (
            f"model: {type(base).__name__} from its config ({size}); all weights newly initialised"
        )
    line = f"model: {source_name(str(pretrained))} ({type(base).__name__}, {size})"
    keys = sorted(set(report.newly_initialised))  # the report's row order varies between runs
    if not keys:
        return f"{line}; every weight loaded from the checkpoint"
    named = ", ".join(keys[:_MODEL_LINE_KEYS])
    more = f" and {len(keys) - _MODEL_LINE_KEYS} more" if len(keys) > _MODEL_LINE_KEYS else ""
    return f"{line}; newly initialised: {named}{more}"


def data_line(datamodule: DataModule) -> str:
    """`data: <n> train, <n> validation, <n> test rows from <source>; ...` (the data line)."""
    source = datamodule.path or datamodule.hub_id or "?"
    if not datamodule.path and datamodule.hub_config:
        source += f" ({datamodule.hub_config})"
    splits = []
    if getattr(datamodule, "streaming", False):
        mixture = mixture_words(getattr(datamodule, "interleave", None))
        source_words = f" from a mixture of {mixture}" if mixture else ""
        splits.append(f"train streamed{source_words} (shuffle buffer {datamodule.shuffle_buffer})")
    # Heads that pack rows into blocks (language modelling) say the blocks' size (s30d F3).
    block = getattr(datamodule, "block_size", None)
    # A head's own word for what it trains on, where rows become others (DPO: the pairs kept).
    up_to = "up to " if getattr(datamodule, "keeps_partial_blocks", False) else ""
    plural = getattr(datamodule, "tokenized_unit", "sequences")  # "pairs"
    units = (f"{plural[:-1]}", plural)  # (one, several)
    if isinstance(block, int):
        units = (f"block of {up_to}{block} tokens", f"blocks of {up_to}{block} tokens")
    for name, rows in datamodule.raw_sizes.items():
        # Heads that window or pack rows (QA, language modelling) train on more or fewer
        # sequences than the source has rows.
        tokenized = len(datamodule.datasets[name]) if name in datamodule.datasets else rows
        counted = f"{tokenized} {units[tokenized != 1]}"
        notes = [counted] if tokenized != rows else []  # one group (s25a L4)
        if name in getattr(datamodule, "carved", ()):  # its scores are on train-file rows
            notes.append("carved from train")
        splits.append(f"{rows} {name}" + (f" ({', '.join(notes)})" if notes else ""))
    cached = [name for name, hit in datamodule.cache_hits.items() if hit]
    return (
        f"data: {', '.join(splits)} rows from {source}{_masking_words(datamodule)}; "
        f"tokenization cache hit for: {', '.join(cached) or 'none'}"
    )


def _masking_words(datamodule: DataModule) -> str:
    """`, 15% of tokens masked` for a masked-LM data module (s30d F3: what `run_mlm`'s
    `mlm_probability` says), `... of words` with whole-word masking; "" for other heads."""
    share = getattr(datamodule, "mlm_probability", None)
    if not isinstance(share, float):
        return ""
    unit = "words" if getattr(datamodule, "whole_word_mask", False) else "tokens"
    return f", {share * 100:.4g}% of {unit} masked"  # 12.5%, not 12% (s31e N7)
