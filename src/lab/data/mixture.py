"""A `data.interleave` mixture in words: what the data line, `train.log` and `lab.inspect` say
a streamed run trained on (s30e F2: they named only `data.path`, which under a mixture gives
the validation and test splits, not the train stream)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def mixture_words(entries: Sequence[Mapping[str, Any]] | None) -> str:
    """`mixA.jsonl 0.7, mixB.jsonl 0.3` (a local source by its file or folder name, a Hub one
    by its id and configuration); "" without entries. Local sources of one name (Hub-shaped
    folders all hold `train.jsonl`) are named by as many of their last path parts as tell
    them apart: `mixA/train.jsonl 0.7, mixB/train.jsonl 0.3` (s33b F3)."""
    local = [Path(str(e["path"])) for e in entries or () if e.get("path")]
    names = iter(_distinct_names(local))
    parts = []
    for entry in entries or ():
        if entry.get("path"):
            name = next(names)
        else:
            config = entry.get("hub_config")
            name = f"{entry.get('hub_id')}" + (f" ({config})" if config else "")
        parts.append(f"{name} {entry.get('probability')}")
    return ", ".join(parts)


def _distinct_names(paths: Sequence[Path]) -> list[str]:
    """Each path's shortest tail (its name, then parent/name, ...) that no other path shares."""
    depth = [1] * len(paths)

    def tail(index: int) -> str:
        parts = paths[index].parts
        return "/".join(parts[-depth[index] :]) or str(paths[index])

    while True:
        names = [tail(i) for i in range(len(paths))]
        clashing = [
            i for i, n in enumerate(names)
            if names.count(n) > 1 and depth[i] < len(paths[i].parts)
        ]  # fmt: skip
        if not clashing:
            return names
        for i in clashing:
            depth[i] += 1


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
