"""PyTorch's refusal of a state dict (`load_state_dict`, strict), said in one line.

PyTorch names every key that does not fit, one per line and with `torch.Size(...)` around
each shape: a checkpoint of another model lists hundreds. lab's refusal (`error: ...`) is one
line, so the keys are named by kind (size mismatches, missing, unexpected), the first few of
each, with the count of the rest:

    size mismatch for model.classifier.weight: [1, 32] in the checkpoint, [2, 32] in the
    model; missing from the checkpoint: model.pooler.dense.weight and 3 more
"""

from __future__ import annotations

import re

# How many keys of one kind are named; the rest are counted.
SHOWN = 3

_SIZE_MISMATCH = re.compile(
    r"size mismatch for (?P<key>\S+): copying a param with shape (?P<saved>.+?) from "
    r"checkpoint, the shape in current model is (?P<model>.+?)\.?$"
)
_KEYS = re.compile(r"^(?P<kind>Missing|Unexpected) key\(s\) in state_dict: (?P<keys>.*?)\.?\s*$")
_TORCH_SIZE = re.compile(r"torch\.Size\((\[[^\]]*\])\)")


def describe_load_error(error: BaseException) -> str:
    """`error` (a `RuntimeError` of `load_state_dict`) as one line; any other error's text
    with its lines joined."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if lines and lines[0].startswith("Error(s) in loading state_dict"):
        lines = lines[1:]  # "... for TextClassificationModule:": the class says nothing here
    mismatches, parts = [], []
    for line in lines:
        if found := _SIZE_MISMATCH.match(line):
            saved, model = (_TORCH_SIZE.sub(r"\1", found[k]) for k in ("saved", "model"))
            mismatches.append(f"{found['key']}: {saved} in the checkpoint, {model} in the model")
        elif found := _KEYS.match(line):
            keys = [key.strip().strip('"') for key in found["keys"].split(",") if key.strip()]
            where = (
                "missing from the checkpoint" if found["kind"] == "Missing" else "not in the model"
            )
            parts.append(f"{where}: {_first(keys)}")
        else:
            parts.append(line)
    if mismatches:
        parts.insert(0, f"size mismatch for {_first(mismatches, '; ')}")
    return "; ".join(parts)


def _first(items: list[str], separator: str = ", ") -> str:
    shown = separator.join(items[:SHOWN])
    rest = len(items) - SHOWN
    return f"{shown} and {rest} more" if rest > 0 else shown
