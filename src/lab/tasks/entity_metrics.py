"""Entity-level scores for tagging heads, in the seqeval sense, and IOB1 -> IOB2 conversion.

Scores are computed by `seqeval` (the reference implementation behind the CoNLL numbers
papers report) in strict IOB2 mode: an entity counts only if its type and both its boundaries
match, and an I- tag that does not continue an entity of its type does not start one.
`EntityScores` is a torchmetrics `Metric` holding predicted and gold tag ids per sentence, so
DDP gathers every rank's sentences before scoring (entity F1 cannot be averaged over ranks).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import torch
from torchmetrics import Metric


def iob1_to_iob2(tags: Sequence[str]) -> list[str]:
    """Convert one sentence's IOB1 tags (an entity starts with I-) to IOB2 (B- starts it)."""
    converted: list[str] = []
    previous = "O"
    for tag in tags:
        if tag.startswith("I-") and (previous == "O" or previous[2:] != tag[2:]):
            tag = "B-" + tag[2:]
        converted.append(tag)
        previous = tag
    return converted


def entity_scores(gold: list[list[str]], predicted: list[list[str]]) -> dict[str, Any]:
    """Micro precision/recall/F1 over entities, per-type F1 and support, token accuracy."""
    from seqeval.metrics import accuracy_score, classification_report
    from seqeval.scheme import IOB2

    report = classification_report(
        gold, predicted, mode="strict", scheme=IOB2, output_dict=True, zero_division=0
    )
    micro = report.get("micro avg", {"precision": 0.0, "recall": 0.0, "f1-score": 0.0})
    per_type = {
        name: {
            "f1": v["f1-score"],
            "precision": v["precision"],
            "recall": v["recall"],
            "support": int(v["support"]),
        }
        for name, v in report.items()
        if not name.endswith(" avg")
    }
    return {
        "precision": float(micro["precision"]),
        "recall": float(micro["recall"]),
        "f1": float(micro["f1-score"]),
        "accuracy": float(accuracy_score(gold, predicted)) if any(gold) else 0.0,
        "per_type": per_type,
    }


class EntityScores(Metric):
    """Accumulates (gold, predicted) tag ids of whole sentences; scores them with seqeval.

    `update(predictions, labels)` takes `[batch, tokens]` id tensors in which positions with
    label -100 (special tokens, non-first subwords) are ignored.
    """

    full_state_update = False

    def __init__(self, id2label: dict[int, str]) -> None:
        super().__init__()
        self.id2label = dict(id2label)
        self.add_state("gold", default=[], dist_reduce_fx="cat")
        self.add_state("predicted", default=[], dist_reduce_fx="cat")
        self.add_state("lengths", default=[], dist_reduce_fx="cat")

    def update(self, predictions: torch.Tensor, labels: torch.Tensor) -> None:
        keep = labels != -100
        # States are lists of tensors (torchmetrics concatenates them across ranks).
        states = cast(Any, self)
        states.gold.append(labels[keep])
        states.predicted.append(predictions[keep])
        states.lengths.append(keep.sum(dim=1))

    def compute(self) -> dict[str, Any]:
        states = cast(Any, self)
        gold = _cat(states.gold).tolist()
        predicted = _cat(states.predicted).tolist()
        lengths = _cat(states.lengths).tolist()
        gold_tags, predicted_tags, start = [], [], 0
        for length in lengths:
            gold_tags.append([self.id2label[i] for i in gold[start : start + length]])
            predicted_tags.append([self.id2label[i] for i in predicted[start : start + length]])
            start += length
        return entity_scores(gold_tags, predicted_tags)


def _cat(state: Any) -> torch.Tensor:
    if isinstance(state, torch.Tensor):
        return state
    return torch.cat(state) if state else torch.zeros(0, dtype=torch.long)
