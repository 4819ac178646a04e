"""Extractive QA answers with SentencePiece offsets: a `▁word` token's offsets take in the
space before the word (DeBERTa-v3, Llama), and `▁` alone is a token that is only a space.
Answers are trimmed to their text (start/end moved with it), and a whitespace-only span is
no candidate, so it never turns into a "" that is not SQuAD v2's no-answer.

The decoding is tested on hand-made windows with such offsets; `answer_questions` and the
predictor (`lab.predict` / `lab.serve`) with a tiny Unigram/Metaspace tokenizer built here
and a stub model whose logits point at chosen tokens."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from omegaconf import OmegaConf

from lab.tasks.question_answering.decoding import (
    Answer,
    Window,
    answer_questions,
    best_span,
    decide_answers,
    postprocess_predictions,
)
from lab.tasks.question_answering.predictor import QuestionAnsweringPredictor

CONTEXT = "The museum is in Paris."
# What DeBERTa-v3's tokenizer gives for CONTEXT (after [CLS], masked to None):
# ▁The ▁museum ▁ is ▁ in ▁Paris .
OFFSETS: list[tuple[int, int] | None] = [
    None,  # [CLS]
    (0, 3),  # ▁The
    (3, 10),  # ▁museum: " museum"
    (10, 11),  # ▁: " "
    (11, 13),  # is
    (13, 14),  # ▁: " "
    (14, 16),  # in
    (16, 22),  # ▁Paris: " Paris"
    (22, 23),  # .
]


def _pointing(start: int, end: int, *, cls: float = 0.0, size: int = len(OFFSETS)) -> Window:
    """A window over CONTEXT whose logits are 5 at token `start` (start) and `end` (end),
    `cls` at the classification token and 0 elsewhere."""
    starts, ends = [0.0] * size, [0.0] * size
    starts[0] = ends[0] = cls
    starts[start] += 5.0
    ends[end] += 5.0
    return Window("q", OFFSETS[:size], starts, ends)


def test_the_space_a_token_takes_in_is_trimmed_and_the_span_moves_with_it() -> None:
    (answer,) = decide_answers([_pointing(7, 7)], {"q": CONTEXT}).values()
    assert (answer.text, answer.start, answer.end) == ("Paris", 17, 22)
    assert CONTEXT[answer.start : answer.end] == answer.text
    # a longer span: ▁museum ▁ is -> "museum is" at 4..13
    (answer,) = decide_answers([_pointing(2, 4)], {"q": CONTEXT}).values()
    assert (answer.text, answer.start, answer.end) == ("museum is", 4, 13)
    # a span ending on a lone `▁` loses that trailing space too: is ▁ (tokens 4..5) -> "is"
    (answer,) = decide_answers([_pointing(4, 5)], {"q": CONTEXT}).values()
    assert (answer.text, answer.start, answer.end) == ("is", 11, 13)
    # the text (and EM/F1 input) of `lab.eval` comes from the same decision
    assert postprocess_predictions([_pointing(7, 7)], {"q": CONTEXT}) == {"q": "Paris"}


def test_trailing_whitespace_and_newlines_are_trimmed_too() -> None:
    context = "in Paris \n now"
    window = Window("q", [None, (0, 2), (2, 10), (10, 14)], [0, 0, 5, 0], [0, 0, 5, 0])
    (answer,) = decide_answers([window], {"q": context}).values()
    assert (answer.text, answer.start, answer.end) == ("Paris", 3, 8)


def test_an_answer_without_surrounding_space_is_unchanged() -> None:
    (answer,) = decide_answers([_pointing(1, 1)], {"q": CONTEXT}).values()
    assert (answer.text, answer.start, answer.end) == ("The", 0, 3)
    # DeBERTa-v3 gives the first `▁` of a context the offsets of its first letter ((0, 1)
    # over "T"): that is text, not a space, and stays a candidate.
    window = Window("q", [None, (0, 1), (0, 1), (1, 3)], [0, 5, 0, 0], [0, 5, 0, 0])
    (answer,) = decide_answers([window], {"q": CONTEXT}).values()
    assert (answer.text, answer.start, answer.end) == ("T", 0, 1)


def test_a_whitespace_only_span_is_no_candidate() -> None:
    window = _pointing(3, 3)  # the best logits sit on the lone `▁` (" ")
    # without the context `best_span` cannot tell (and keeps its old answer) ...
    assert best_span(window) == (10.0, 3, 3)
    # ... with it, the best span that has text wins: start 3 (5) + end 4 (0) = " is" -> "is"
    assert best_span(window, context=CONTEXT) == (5.0, 3, 4)
    (answer,) = decide_answers([window], {"q": CONTEXT}).values()
    assert (answer.text, answer.start, answer.end) == ("is", 11, 13)


def test_only_whitespace_spans_give_exactly_the_no_answer() -> None:
    """A window whose only context token is a space answers as a window without any
    context token does: "" at (0, 0), for SQuAD v1 and v2 alike; never " " or a "" with a
    span of its own."""
    context = "a b"
    blank = Window("q", [None, (1, 2)], [0.0, 5.0], [0.0, 5.0])
    nothing = Window("q", [None, None], [0.0, 5.0], [0.0, 5.0])
    for v2 in (False, True):
        decided = decide_answers([blank], {"q": context}, version_2_with_negative=v2)
        expected = decide_answers([nothing], {"q": context}, version_2_with_negative=v2)
        assert decided == expected == {"q": Answer("", 0, 0, 0.0)}


def test_v2_compares_the_null_score_with_the_best_span_that_has_text() -> None:
    """Null score 6 (3 + 3 at CLS). The lone `▁` scores 10 but is no candidate; the best span
    with text is `▁ is` (5 + 0 = 5), which the null score beats by 1."""
    window = _pointing(3, 3, cls=3.0)
    assert postprocess_predictions([window], {"q": CONTEXT}, version_2_with_negative=True) == {
        "q": ""
    }
    assert postprocess_predictions(
        [window], {"q": CONTEXT}, version_2_with_negative=True, null_score_diff_threshold=1.0
    ) == {"q": "is"}


def test_the_best_window_is_chosen_by_score_then_trimmed() -> None:
    """Two windows of one question: the trimmed answer comes from the better one."""
    weak = _pointing(2, 2)  # " museum", 10
    strong = Window("q", OFFSETS, [0, 0, 0, 0, 0, 0, 0, 7, 0], [0, 0, 0, 0, 0, 0, 0, 7, 0])
    (answer,) = decide_answers([weak, strong], {"q": CONTEXT}).values()
    assert (answer.text, answer.start, answer.end) == ("Paris", 17, 22)


# --------------------------------------------------------------- through a real tokenizer
PIECES = ["[PAD]", "[CLS]", "[SEP]", "[UNK]", "▁", "▁The", "▁museum", "is", "in", "▁Paris",
          ".", "▁Where", "?"]  # fmt: skip


def _sentencepiece_tokenizer() -> Any:
    """A tiny DeBERTa-v3-like fast tokenizer: Unigram pieces behind a Metaspace pre-tokenizer
    (prepend_scheme "always"), [CLS] question [SEP] context [SEP]."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = [(piece, -float(i)) for i, piece in enumerate(PIECES)]
    backend = Tokenizer(models.Unigram(vocab, unk_id=PIECES.index("[UNK]")))
    backend.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    backend.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", 1), ("[SEP]", 2)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        cls_token="[CLS]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        unk_token="[UNK]",
    )


class _PointingModel(torch.nn.Module):
    """A QA head stand-in: start/end logit 5 on the tokens with the ids given, 0 elsewhere."""

    def __init__(self, start_id: int, end_id: int) -> None:
        super().__init__()
        self.ids = (start_id, end_id)
        self.anchor = torch.nn.Parameter(torch.zeros(1))  # gives the module a device

    @property
    def device(self) -> torch.device:
        return self.anchor.device

    def forward(self, input_ids: torch.Tensor, **_: Any) -> Any:
        from transformers.modeling_outputs import QuestionAnsweringModelOutput

        start, end = ((input_ids == i).float() * 5.0 for i in self.ids)
        return QuestionAnsweringModelOutput(start_logits=start, end_logits=end)


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    tokenizer = _sentencepiece_tokenizer()
    encoded = tokenizer("Where?", CONTEXT, return_offsets_mapping=True)
    tokens = tokenizer.convert_ids_to_tokens(encoded["input_ids"])
    # the offsets this test is about: `▁Paris` covers " Paris"
    assert encoded["offset_mapping"][tokens.index("▁Paris")] == (16, 22)
    return tokenizer


def test_answer_questions_trims_what_a_sentencepiece_tokenizer_offsets(tokenizer: Any) -> None:
    paris = PIECES.index("▁Paris")
    (answer,) = answer_questions(_PointingModel(paris, paris), tokenizer, ["Where?"], [CONTEXT])
    assert (answer.text, answer.start, answer.end) == ("Paris", 17, 22)
    # the lone `▁` pieces (before "is" and "in") score highest, but only ▁ is ▁ has text
    space = PIECES.index("▁")
    (answer,) = answer_questions(_PointingModel(space, space), tokenizer, ["Where?"], [CONTEXT])
    assert (answer.text, answer.start, answer.end) == ("is", 11, 13)


def test_the_predictor_of_lab_predict_and_lab_serve_answers_trimmed(tokenizer: Any) -> None:
    cfg = OmegaConf.create(
        {"data": {"max_length": 64, "doc_stride": 16}, "task": {"module": {"n_best_size": 20}}}
    )
    paris = PIECES.index("▁Paris")
    predictor = QuestionAnsweringPredictor(_PointingModel(paris, paris), tokenizer, cfg)
    (row,) = predictor.predict([{"question": "Where?", "context": CONTEXT}])
    assert (row["answer"], row["start"], row["end"]) == ("Paris", 17, 22)
