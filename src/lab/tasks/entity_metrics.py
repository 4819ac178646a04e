"""Entity-level scores for tagging heads, in the seqeval sense, and IOB1 -> IOB2 conversion.

Scores are computed by `seqeval` in its default mode, which reads tags as the CoNLL scorer
`conlleval` does (the numbers papers report for CoNLL-2003; Hugging Face's `run_ner.py` and
`evaluate`'s seqeval metric too): an entity counts only if its type and both its boundaries
match, and an I-X tag that does not continue an X entity (after O, or after another type)
starts one. That is how the token-classification pipeline behind `lab.predict`, `lab.serve`
and the demo groups tags into entities, so the scores are those of the entities they return
(strict IOB2, seqeval's `mode="strict"`, would leave out such an entity they return). Gold
tags are read the same way: in valid IOB2 (IOB1 data is converted on load) both readings find
the same entities, and a stray gold I-X counts as an entity, as conlleval counts it.
`EntityScores` is a torchmetrics `Metric` holding predicted and gold tag ids per sentence, so
DDP gathers every rank's sentences before scoring (entity F1 cannot be averaged over ranks).

Tags that are no IOB scheme (POS tags: `DT`, `NN`, `VBZ`) have no entities: they are scored
per word instead (`tag_scores`): token accuracy, and precision/recall/F1 per tag and over all
tags (micro, leaving out `O` where the set has one), under the same metric names.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import torch
from torchmetrics import Metric

from lab.tasks.ignore import IGNORE

MISSED = -1  # the prediction of a word past the truncation: `O`, outside any entity


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


def is_iob(names: Sequence[str]) -> bool:
    """Whether tag `names` follow an IOB scheme: each `O` or `B-`/`I-` plus a type."""
    return any(n != "O" for n in names) and all(
        n == "O" or (n[:2] in ("B-", "I-") and len(n) > 2) for n in names
    )


def tag_scores(gold: list[list[str]], predicted: list[list[str]]) -> dict[str, Any]:
    """Per-word scores of tags without entities (see the module): the same keys as
    `entity_scores`, `per_type` holding each gold or predicted tag but `O`."""
    pairs = [
        (g, p) for gs, ps in zip(gold, predicted, strict=True) for g, p in zip(gs, ps, strict=True)
    ]
    tags = sorted(({g for g, _ in pairs} | {p for _, p in pairs}) - {"O"})
    per_type = {}
    for tag in tags:
        hits = sum(1 for g, p in pairs if g == p == tag)
        support = sum(1 for g, _ in pairs if g == tag)
        guessed = sum(1 for _, p in pairs if p == tag)
        per_type[tag] = {**_prf(hits, guessed, support), "support": support}
    hits = sum(1 for g, p in pairs if g == p != "O")
    guessed = sum(1 for _, p in pairs if p != "O")
    support = sum(1 for g, _ in pairs if g != "O")
    accuracy = sum(1 for g, p in pairs if g == p) / len(pairs) if pairs else 0.0
    return {**_prf(hits, guessed, support), "accuracy": accuracy, "per_type": per_type}


def _prf(hits: int, guessed: int, support: int) -> dict[str, float]:
    precision = hits / guessed if guessed else 0.0
    recall = hits / support if support else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def entity_scores(gold: list[list[str]], predicted: list[list[str]]) -> dict[str, Any]:
    """Micro precision/recall/F1 over entities, per-type F1 and support, token accuracy.

    Entities are read as `conlleval` reads them (an I-X after O or another type starts an X
    entity), the grouping of `lab.predict`'s entities: see the module.
    """
    from seqeval.metrics import accuracy_score, classification_report

    # Default (conlleval) mode, not mode="strict": see the module for why.
    report = classification_report(gold, predicted, output_dict=True, zero_division=0)
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

    `update(predictions, labels, cut)` takes `[batch, tokens]` id tensors in which positions
    with label -100 (special tokens, non-first subwords) are ignored, and optionally the gold
    tag ids of each row's words past the truncation (`[batch, words]`, -100 padded; see
    `lab.tasks.token_cut`), which are appended to the row predicted as `O` (missed).
    """

    full_state_update = False

    def __init__(self, id2label: dict[int, str]) -> None:
        super().__init__()
        self.id2label = dict(id2label)
        self.iob = is_iob(list(self.id2label.values()))
        self.add_state("gold", default=[], dist_reduce_fx="cat")
        self.add_state("predicted", default=[], dist_reduce_fx="cat")
        self.add_state("lengths", default=[], dist_reduce_fx="cat")

    def update(
        self, predictions: torch.Tensor, labels: torch.Tensor, cut: torch.Tensor | None = None
    ) -> None:
        keep = labels != IGNORE
        # States are lists of tensors (torchmetrics concatenates them across ranks).
        states = cast(Any, self)
        lengths = keep.sum(dim=1)
        if cut is None or not (cut != IGNORE).any():
            states.gold.append(labels[keep])
            states.predicted.append(predictions[keep])
            states.lengths.append(lengths)
            return
        cut = cut.to(labels.device)
        gold, predicted = [], []
        for row in range(labels.shape[0]):
            missed = cut[row][cut[row] != IGNORE]
            gold += [labels[row][keep[row]], missed]
            predicted += [predictions[row][keep[row]], torch.full_like(missed, MISSED)]
        states.gold.append(torch.cat(gold))
        states.predicted.append(torch.cat(predicted))
        states.lengths.append(lengths + (cut != IGNORE).sum(dim=1))

    def compute(self) -> dict[str, Any]:
        states = cast(Any, self)
        gold = _cat(states.gold).tolist()
        predicted = _cat(states.predicted).tolist()
        lengths = _cat(states.lengths).tolist()
        gold_tags, predicted_tags, start = [], [], 0
        names = {**self.id2label, MISSED: "O"}
        for length in lengths:
            gold_tags.append([names[i] for i in gold[start : start + length]])
            predicted_tags.append([names[i] for i in predicted[start : start + length]])
            start += length
        return (entity_scores if self.iob else tag_scores)(gold_tags, predicted_tags)


def _cat(state: Any) -> torch.Tensor:
    if isinstance(state, torch.Tensor):
        return state
    return torch.cat(state) if state else torch.zeros(0, dtype=torch.long)
