"""SQuAD scores: exact match and token F1 with the official answer normalisation.

Follows the official SQuAD v1.1 / v2.0 evaluation scripts: answers are normalised (lower case,
punctuation removed, the articles a/an/the removed, whitespace collapsed) before comparing; a
prediction is scored against every gold answer and keeps the best. A question without an
answer (SQuAD v2) has the empty string as its only gold answer, so predicting "" for it
scores EM = F1 = 1, and any text scores 0. The two scripts differ where a gold answer
normalises to nothing ("the", "."): v2.0 drops it (and F1 is 1 when both sides are empty);
v1.1 keeps it and its F1 is 0 (no shared token). Each data's own rule applies
(`version_2_with_negative`), so v1.1 numbers are those of the v1.1 script (s29a F2). Scores
are percentages (0-100), as on the SQuAD leaderboards; v2 data also gets the scores of
answerable (HasAns) and unanswerable (NoAns) questions apart.
"""

from __future__ import annotations

import collections
import re
import string
from collections.abc import Mapping, Sequence

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower-case, drop punctuation and the articles a/an/the, collapse whitespace."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def _tokens(text: str) -> list[str]:
    return normalize_answer(text).split() if text else []


def exact_match_score(prediction: str, gold: str) -> float:
    """1.0 when the normalised strings are equal, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(gold))


def f1_score(prediction: str, gold: str, *, empty_matches_empty: bool = True) -> float:
    """Harmonic mean of token precision and recall (tokens counted with multiplicity).

    When either side is empty after normalisation (a no-answer), F1 is 1 if both are empty
    and 0 otherwise, as in the official v2.0 script; `empty_matches_empty=False` is v1.1's
    rule: no shared token, F1 0.
    """
    predicted, reference = _tokens(prediction), _tokens(gold)
    if empty_matches_empty and (not predicted or not reference):
        return float(predicted == reference)
    common = collections.Counter(predicted) & collections.Counter(reference)
    overlap = sum(common.values())
    if overlap == 0:
        return 0.0
    precision = overlap / len(predicted)
    recall = overlap / len(reference)
    return 2 * precision * recall / (precision + recall)


def gold_answers(texts: Sequence[str]) -> list[str]:
    """The gold answers that count: the non-empty ones, or [""] for a no-answer question."""
    kept = [t for t in texts if normalize_answer(t)]
    return kept or [""]


def best_scores(
    prediction: str, golds: Sequence[str], *, version_2_with_negative: bool = True
) -> tuple[float, float]:
    """(exact match, F1) of one prediction: the maximum over its gold answers (0 or 1), by
    the v2.0 script's rules, or by v1.1's (every gold answer kept, an empty one scoring F1 0)
    where not `version_2_with_negative`. A question with no gold answer at all is a no-answer
    under either."""
    if version_2_with_negative or not golds:
        answers, v2 = gold_answers(golds), True
    else:
        answers, v2 = list(golds), False
    return (
        max(exact_match_score(prediction, g) for g in answers),
        max(f1_score(prediction, g, empty_matches_empty=v2) for g in answers),
    )


def squad_scores(
    predictions: Mapping[str, str],
    references: Mapping[str, Sequence[str]],
    *,
    version_2_with_negative: bool = False,
) -> dict[str, float]:
    """Exact match and F1 (0-100) of `predictions` (id -> text) against `references`
    (id -> gold answer texts, empty for a no-answer question).

    Every reference question counts; one without a prediction scores 0. Returns
    `exact_match`, `f1`, `total`, and with `version_2_with_negative` also
    `has_answer_exact_match`, `has_answer_f1`, `has_answer_total`, and the same for
    `no_answer_...` (a group with no questions is left out).
    """
    exact: dict[str, float] = {}
    f1: dict[str, float] = {}
    for qid, golds in references.items():
        exact[qid], f1[qid] = best_scores(
            predictions.get(qid, ""), golds, version_2_with_negative=version_2_with_negative
        )
        if qid not in predictions:
            exact[qid] = f1[qid] = 0.0  # missing is wrong, even for a no-answer question

    def summary(ids: list[str], prefix: str = "") -> dict[str, float]:
        if not ids:
            return {}
        return {
            f"{prefix}exact_match": 100.0 * sum(exact[i] for i in ids) / len(ids),
            f"{prefix}f1": 100.0 * sum(f1[i] for i in ids) / len(ids),
            f"{prefix}total": float(len(ids)),
        }

    ids = list(references)
    scores = summary(ids) or {"exact_match": 0.0, "f1": 0.0, "total": 0.0}
    if version_2_with_negative:
        answerable = [i for i in ids if gold_answers(references[i]) != [""]]
        unanswerable = [i for i in ids if gold_answers(references[i]) == [""]]
        scores |= summary(answerable, "has_answer_") | summary(unanswerable, "no_answer_")
    return scores
