"""N-best span decoding: from a window's start/end logits to each question's answer.

A long context is cut into several windows (features); each window carries its example id,
its offset mapping with non-context tokens masked (None), and the model's start and end
logits over its tokens. `decide_answers` takes the `n_best_size` best start and end logits
of every window, keeps spans that lie in the context, end after they start and are at most
`max_answer_length` tokens long, and answers each question with the best-scoring span over
all of its windows. With `version_2_with_negative` the answer is "" when the smallest null
score (start + end logit of the classification token, over windows) beats the best span by
more than `null_score_diff_threshold`.

SentencePiece tokenizers (DeBERTa-v3, Llama, XLNet ...) give a word's token the offsets of
the space before it too (`▁Paris` -> " Paris"), and have tokens that are a space alone (`▁`).
So an answer is trimmed to its first and last non-whitespace character, its start and end
moving with it (`answer == context[start:end]`, never with a space at either end, whatever
the tokenizer), and a span that is only whitespace is no candidate at all: the next best
span answers instead. It never becomes "" by itself, because "" is the no-answer of SQuAD
v2, which the null score alone decides (and SQuAD v1 always answers when some span has text).

`answer_questions` runs the same windowing and decoding on raw questions with an exported
model. Tokenizers must put the classification token first (BERT, RoBERTa, DeBERTa, MiniLM
...). This module needs torch, numpy and a tokenizer only, so inference (`lab.predict`,
`lab.serve`) can use it without Lightning.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import torch

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

CLS_INDEX = 0  # the classification token's position: the "no answer" target and null score
# Feature columns that carry a `Window`'s example id and offsets: used by decoding only, so
# the collator drops them before the model.
METADATA_COLUMNS = ("example_id", "offset_mapping")


class Window(NamedTuple):
    """One feature's logits with its example id and (masked) offset mapping."""

    example_id: str
    offsets: Sequence[Sequence[int] | None]
    start_logits: Sequence[float] | np.ndarray
    end_logits: Sequence[float] | np.ndarray


def best_span(
    window: Window,
    n_best_size: int = 20,
    max_answer_length: int = 30,
    context: str | None = None,
) -> tuple[float, int, int] | None:
    """(score, start token, end token) of the window's best valid span, or None.

    Candidates pair each of the `n_best_size` best starts with each of the `n_best_size`
    best ends; valid spans lie in the context (offset not None), end at or after their
    start and are at most `max_answer_length` tokens long. Given the window's `context`,
    a span whose text is only whitespace (a SentencePiece `▁` token alone) is not valid
    either. Score = start + end logit.
    """
    start_logits = np.asarray(window.start_logits, dtype=np.float64)
    end_logits = np.asarray(window.end_logits, dtype=np.float64)
    count = min(len(start_logits), len(window.offsets))
    if count == 0:
        return None
    in_context = np.array([window.offsets[i] is not None for i in range(count)])
    starts = np.argsort(-start_logits[:count], kind="stable")[:n_best_size]
    ends = np.argsort(-end_logits[:count], kind="stable")[:n_best_size]
    s, e = starts[:, None], ends[None, :]
    valid = in_context[s] & in_context[e] & (e >= s) & (e - s + 1 <= max_answer_length)
    if context is not None:
        # A span's text is context[first start : last end]; it has text when the count of
        # non-whitespace characters before its end exceeds the count before its start. Read
        # for the candidates only (2 x n_best_size offsets, not the window's).
        visible = _visible_before(context)
        starts_at = visible[_char_offsets(window, starts, 0, len(context))]
        ends_at = visible[_char_offsets(window, ends, 1, len(context))]
        valid &= ends_at[None, :] > starts_at[:, None]
    if not valid.any():
        return None
    scores = np.where(valid, start_logits[s] + end_logits[e], -np.inf)
    i, j = np.unravel_index(int(np.argmax(scores)), scores.shape)
    return float(scores[i, j]), int(starts[i]), int(ends[j])


class Answer(NamedTuple):
    """A question's decided answer: text, character span in its context, probability.

    `score` is the span's probability within its window (softmax of the start logits times
    softmax of the end logits, as `transformers`' QA pipeline reports); "" has span (0, 0)
    and, for v2 abstentions, the null probability.
    """

    text: str
    start: int
    end: int
    score: float


def postprocess_predictions(
    windows: Iterable[Window], contexts: Mapping[str, str], **options: Any
) -> dict[str, str]:
    """Each question's answer text (id -> text); `options` as for `decide_answers`."""
    answers = decide_answers(windows, contexts, **options)
    return {qid: answer.text for qid, answer in answers.items()}


def decide_answers(
    windows: Iterable[Window],
    contexts: Mapping[str, str],
    *,
    n_best_size: int = 20,
    max_answer_length: int = 30,
    version_2_with_negative: bool = False,
    null_score_diff_threshold: float = 0.0,
) -> dict[str, Answer]:
    """Each question's `Answer` (id -> answer), decided over all of its windows.

    The answer is the best span (see `best_span`) over every window of the question. With
    `version_2_with_negative` the answer is "" when the null score (the smallest over the
    windows of start + end logit at the classification token) exceeds the best span's score
    by more than `null_score_diff_threshold`. A question without any valid span gets "".
    Windows of one question need not be adjacent.
    """
    best: dict[str, tuple[float, Answer]] = {}
    null: dict[str, tuple[float, float]] = {}  # (null score, its probability)
    for window in windows:
        qid = window.example_id
        null_score = float(window.start_logits[CLS_INDEX]) + float(window.end_logits[CLS_INDEX])
        if qid not in null or null_score < null[qid][0]:
            null[qid] = (null_score, _span_probability(window, CLS_INDEX, CLS_INDEX))
        context = contexts[qid]
        span = best_span(window, n_best_size, max_answer_length, context)
        if span is None:
            continue
        score, start, end = span
        if qid not in best or score > best[qid][0]:
            first, last = window.offsets[start], window.offsets[end]
            assert first is not None and last is not None  # best_span keeps context tokens
            begin, finish = _trimmed(context, int(first[0]), int(last[1]))
            probability = _span_probability(window, start, end)
            best[qid] = (score, Answer(context[begin:finish], begin, finish, probability))
    answers: dict[str, Answer] = {}
    for qid, (null_score, null_probability) in null.items():
        abstain = (
            version_2_with_negative
            and qid in best
            and (null_score - best[qid][0] > null_score_diff_threshold)
        )
        if qid not in best or abstain:
            answers[qid] = Answer("", 0, 0, null_probability if abstain else 0.0)
        else:
            answers[qid] = best[qid][1]
    return answers


@lru_cache(maxsize=16)  # a question's windows come together: its context is counted once
def _visible_before(context: str) -> np.ndarray:
    """Entry k: how many non-whitespace characters `context[:k]` has (k = 0 .. len)."""
    visible = np.fromiter((not c.isspace() for c in context), dtype=np.int64, count=len(context))
    return np.concatenate(([0], np.cumsum(visible)))


def _char_offsets(window: Window, tokens: np.ndarray, side: int, limit: int) -> np.ndarray:
    """The start (`side` 0) or end (1) character offset of each of `tokens`, 0 for a token
    outside the context (no offsets: never valid anyway), at most `limit`."""
    found = [window.offsets[int(t)] for t in tokens]
    return np.clip([int(o[side]) if o is not None else 0 for o in found], 0, limit)


def _trimmed(context: str, start: int, end: int) -> tuple[int, int]:
    """`start`, `end` moved inward past the whitespace at both ends of `context[start:end]`
    (the space a SentencePiece `▁word` token's offsets include)."""
    text = context[start:end]
    return start + len(text) - len(text.lstrip()), end - (len(text) - len(text.rstrip()))


def _span_probability(window: Window, start: int, end: int) -> float:
    """softmax(start logits)[start] x softmax(end logits)[end] over the window's tokens."""
    count = min(len(window.start_logits), len(window.offsets))
    probabilities = []
    for logits, position in ((window.start_logits, start), (window.end_logits, end)):
        values = np.asarray(logits, dtype=np.float64)[:count]
        values = np.exp(values - values.max())
        probabilities.append(values[position] / values.sum())
    return float(probabilities[0] * probabilities[1])


def answer_questions(
    model: Any,
    tokenizer: PreTrainedTokenizerBase,
    questions: Sequence[str],
    contexts: Sequence[str],
    *,
    max_length: int = 384,
    doc_stride: int = 128,
    n_best_size: int = 20,
    max_answer_length: int = 30,
    version_2_with_negative: bool = False,
    null_score_diff_threshold: float = 0.0,
) -> list[Answer]:
    """Answer each question from its context with a QA model (e.g. an exported run's).

    The same windowing and postprocessing as evaluation, under the settings given: the
    defaults are not a run's, and the exported model does not record them, so pass the run's
    (`data.max_length`, `data.doc_stride`, `data.version_2_with_negative` and
    `task.module.*` of its `config.yaml`, as `lab.predict` does) to score as `lab.eval` does.
    Each `Answer` has the text, its character span in the context and a probability. Stands
    in for `transformers`' `question-answering` pipeline, which transformers 5 removed:

        model = AutoModelForQuestionAnswering.from_pretrained("<run dir>/model")
        tokenizer = AutoTokenizer.from_pretrained("<run dir>/model")
        cfg = OmegaConf.load("<run dir>/config.yaml")
        answer_questions(model, tokenizer, ["Who wrote it?"], ["It was written by Ann."],
                         max_length=cfg.data.max_length, doc_stride=cfg.data.doc_stride)
    """
    encoded = tokenizer(
        [q.lstrip() for q in questions],
        list(contexts),
        truncation="only_second",
        max_length=max_length,
        stride=doc_stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding=True,
        return_tensors="pt",
    )
    example_of = encoded.pop("overflow_to_sample_mapping").tolist()
    offsets = encoded.pop("offset_mapping").tolist()
    was_training = model.training
    model.eval()
    with torch.no_grad():
        output = model(**{k: v.to(model.device) for k, v in encoded.items()})
    model.train(was_training)
    windows = []
    for i, row in enumerate(example_of):
        real = encoded["attention_mask"][i].bool()
        sequence_ids = encoded.sequence_ids(i)
        masked = [o if s == 1 else None for o, s in zip(offsets[i], sequence_ids, strict=True)]
        windows.append(
            Window(
                str(row),
                [m for m, keep in zip(masked, real.tolist(), strict=True) if keep],
                output.start_logits[i][real].float().cpu().numpy(),
                output.end_logits[i][real].float().cpu().numpy(),
            )
        )
    answers = decide_answers(
        windows,
        {str(i): c for i, c in enumerate(contexts)},
        n_best_size=n_best_size,
        max_answer_length=max_answer_length,
        version_2_with_negative=version_2_with_negative,
        null_score_diff_threshold=null_score_diff_threshold,
    )
    return [answers.get(str(i), Answer("", 0, 0, 0.0)) for i in range(len(questions))]
