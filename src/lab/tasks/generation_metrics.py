"""Metrics of generated text: ROUGE (summarization) and corpus BLEU (translation).

Both are torchmetrics `Metric`s whose states are sums, so Lightning reduces them across DDP
ranks exactly (each rank scores its own rows; the sums add up to the whole split's):

- ROUGE-1/2/L/Lsum: the F-measure of every (prediction, reference) pair from Google's
  `rouge-score` package (Porter stemming on, its default tokenizer: lowercase, runs of
  `[a-z0-9]`), averaged over the split and scaled to 0-100. Lsum (summary-level LCS) reads
  sentences from newlines, so both texts are split into sentences first, by a regex (no NLTK
  punkt model, which would need a download). The mean equals Hugging Face `evaluate`'s
  aggregated score up to its bootstrap resampling.
- BLEU: sacreBLEU's corpus BLEU (13a tokenization, exp smoothing, as `sacrebleu` on the
  command line): each rank sums the n-gram match counts, n-gram totals and lengths, and the
  score comes from the summed statistics, so it is the corpus score, not a mean of sentences.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import torch
from torchmetrics import Metric

from lab.compat.sacrebleu import sentence_statistics

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")
BLEU_ORDER = 4
# sacreBLEU's per-sentence statistics: hypothesis length, reference length, then matches and
# totals for n = 1..4.
_BLEU_STATS = 2 + 2 * BLEU_ORDER

# A sentence ends at . ! or ? (optionally followed by closing quotes or brackets) before
# whitespace. Crude beside a trained splitter, but ROUGE-Lsum only needs sentence boundaries to
# be consistent between prediction and reference, and this one needs no download.
_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"')\]]))\s+")


def split_sentences(text: str) -> str:
    """`text` with one sentence per line, the form ROUGE-Lsum reads."""
    sentences = (s.strip() for s in _SENTENCE_END.split(text.strip()))
    return "\n".join(s for s in sentences if s)


class RougeScore(Metric):
    """Mean ROUGE-1/2/L/Lsum F-measure x 100 over all scored pairs.

    `update(predictions, references)` takes lists of strings; `compute()` returns
    `{"rouge1": ..., "rouge2": ..., "rougeL": ..., "rougeLsum": ...}`.
    """

    full_state_update = False
    totals: torch.Tensor
    count: torch.Tensor

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        from rouge_score.rouge_scorer import RougeScorer

        from lab.training.absl_handler import keep_absl_off_borrowed_streams

        keep_absl_off_borrowed_streams()  # rouge_score imports absl
        self.scorer = RougeScorer(list(ROUGE_TYPES), use_stemmer=True)
        # float64: sums over tens of thousands of rows keep their precision.
        self.add_state(
            "totals", torch.zeros(len(ROUGE_TYPES), dtype=torch.float64), dist_reduce_fx="sum"
        )
        self.add_state("count", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, predictions: Sequence[str], references: Sequence[str]) -> None:  # type: ignore[override]
        for prediction, reference in zip(predictions, references, strict=True):
            scores = self.scorer.score(split_sentences(reference), split_sentences(prediction))
            self.totals += torch.tensor(
                [scores[name].fmeasure for name in ROUGE_TYPES], dtype=torch.float64
            ).to(self.totals.device)
            self.count += 1

    def compute(self) -> dict[str, torch.Tensor]:
        means = 100.0 * self.totals / self.count.clamp(min=1)
        return {name: means[i].float() for i, name in enumerate(ROUGE_TYPES)}


class CorpusBleu(Metric):
    """sacreBLEU corpus BLEU (0-100) of predictions against one reference each.

    `update(predictions, references)` takes lists of strings; `compute()` returns
    `{"bleu": ...}`.
    """

    full_state_update = False
    stats: torch.Tensor

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        from sacrebleu.metrics import BLEU

        self.bleu = BLEU()
        self.add_state("stats", torch.zeros(_BLEU_STATS, dtype=torch.int64), dist_reduce_fx="sum")

    def update(self, predictions: Sequence[str], references: Sequence[str]) -> None:  # type: ignore[override]
        if not predictions:
            return
        stats = bleu_statistics(self.bleu, predictions, references)
        self.stats += torch.tensor(stats, dtype=torch.int64).to(self.stats.device)

    def compute(self) -> dict[str, torch.Tensor]:
        return {
            "bleu": torch.tensor(bleu_from_statistics(self.stats.tolist()), dtype=torch.float64)
        }


def bleu_statistics(bleu: Any, predictions: Sequence[str], references: Sequence[str]) -> list[int]:
    """Summed sacreBLEU sufficient statistics of the pairs (see `_BLEU_STATS`).

    The per-sentence statistics come from `lab.compat.sacrebleu` (sacreBLEU's public API returns
    only finished scores, which cannot be summed across ranks or batches); tested equal to
    `corpus_score`.
    """
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
    per_sentence = sentence_statistics(bleu, predictions, references)
    return [int(sum(column)) for column in zip(*per_sentence, strict=True)]


def bleu_from_statistics(stats: Sequence[int]) -> float:
    """Corpus BLEU from summed statistics, with `BLEU()`'s defaults (exp smoothing)."""
    from sacrebleu.metrics import BLEU

    sys_len, ref_len = int(stats[0]), int(stats[1])
    correct = [int(s) for s in stats[2 : 2 + BLEU_ORDER]]
    total = [int(s) for s in stats[2 + BLEU_ORDER :]]
    return float(BLEU.compute_bleu(correct, total, sys_len, ref_len, smooth_method="exp").score)
