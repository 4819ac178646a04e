"""sacreBLEU internals lab depends on.

Distributed BLEU must sum sufficient statistics (lengths, n-gram matches and totals) across
batches and ranks before computing the score once. sacreBLEU's public API returns finished
scores only (`corpus_score`, `sentence_score`), which cannot be summed; the statistics come
from `BLEU._extract_corpus_statistics`, the function `corpus_score` itself calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def sentence_statistics(
    bleu: Any, hypotheses: Sequence[str], references: Sequence[str]
) -> list[list[int]]:
    """One row of BLEU sufficient statistics per hypothesis, against one reference each.

    A row is `[hyp_len, ref_len, correct_1..N, total_1..N]`, as `BLEU.compute_bleu` takes it.
    """
    rows = bleu._extract_corpus_statistics(list(hypotheses), [list(references)])
    return [[int(value) for value in row] for row in rows]
