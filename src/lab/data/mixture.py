"""A `data.interleave` mixture in words: what the data line, `train.log` and `lab.inspect` say
a streamed run trained on (s30e F2: they named only `data.path`, which under a mixture gives
the validation and test splits, not the train stream)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def mixture_words(entries: Sequence[Mapping[str, Any]] | None) -> str:
    """`mixA.jsonl 0.7, mixB.jsonl 0.3` (a local source by its file or folder name, a Hub one
    by its id and configuration); "" without entries."""
    parts = []
    for entry in entries or ():
        if entry.get("path"):
            name = Path(str(entry["path"])).name or str(entry["path"])
        else:
            config = entry.get("hub_config")
            name = f"{entry.get('hub_id')}" + (f" ({config})" if config else "")
        parts.append(f"{name} {entry.get('probability')}")
    return ", ".join(parts)


def mixture_inspect_note(data: Any) -> str | None:
    """What `lab.inspect` says of a config (`cfg.data`) that trains on a `data.interleave`
    mixture: it reads `data.path`'s splits, whose train figures (classes, balance, lengths,
    the warnings on classes a split lacks) are not the mixture's; None without a mixture."""
    from omegaconf import OmegaConf

    interleave = data.get("interleave")
    if not interleave:
        return None
    entries: Any = OmegaConf.to_container(interleave, resolve=True)  # a list of mappings
    where = data.get("path") or data.get("hub_id")
    return (
        f"data.interleave: the run trains on a mixture of {mixture_words(entries)}; lab.inspect "
        f"reads data.path's splits ({where}), so its train figures (classes, balance, lengths) "
        "are not the mixture's: inspect each source with data.path=<it>"
    )
