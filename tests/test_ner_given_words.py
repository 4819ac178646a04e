"""Given words (a row's `tokens`) are tagged by lab.predict / lab.serve as training and the
metrics tag them: one tag per given word, by its first subword, with training's truncation,
grouped as seqeval's default mode reads tags. Text is split into words as CoNLL-style files
hold theirs, then tagged the same way (`test_ner_text_words`)."""

from __future__ import annotations

import json
import math
import random
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

from helpers.fixed_tag_ner import CONLL, fixed_tag_tagger
from lab.inference.predictors import Predictor
from test_ner_scoring import (
    _first_subword_tags,
    _word_tags,
    assert_eval_scores,
    train_and_predict_words,
)

from conftest import FIXTURES

WORDS = ["the", "U.S.", "and", "Jean-Pierre", "went"]
# e^5 / (e^5 + 8): the softmax of a bias of 5 on one tag and 0 on the 8 others
FIXED_SCORE = math.exp(5) / (math.exp(5) + 8)


def _tagger(tag: str, max_length: int = 64) -> Predictor:
    """An NER predictor whose model gives every subword `tag` (`helpers.fixed_tag_ner`)."""
    return fixed_tag_tagger(tag, max_length)


def _spans(entities: list[dict[str, Any]]) -> list[tuple[str, str, int, int]]:
    return [(e["type"], e["text"], e["start"], e["end"]) for e in entities]


def test_a_given_word_with_punctuation_inside_is_one_entity() -> None:
    """B-LOC on every subword: one LOC per given word (the pipeline found 10 for these 5
    words: U / . / S / . and Jean / - / Pierre), spans into the words joined by spaces."""
    tagger = _tagger("B-LOC")
    assert len(tagger.tokenizer.tokenize("U.S.")) == 4  # the words are cut into pieces
    entities = tagger.predict([{"tokens": WORDS}])[0]["entities"]
    assert _spans(entities) == [
        ("LOC", "the", 0, 3),
        ("LOC", "U.S.", 4, 8),
        ("LOC", "and", 9, 12),
        ("LOC", "Jean-Pierre", 13, 24),
        ("LOC", "went", 25, 29),
    ]
    assert [e["score"] for e in entities] == pytest.approx([FIXED_SCORE] * 5)
    more = tagger.predict([{"tokens": ["S&P", "won", "1-0"]}])[0]["entities"]
    assert _spans(more) == [("LOC", "S&P", 0, 3), ("LOC", "won", 4, 7), ("LOC", "1-0", 8, 11)]


def test_inside_tags_continue_across_given_words() -> None:
    """I-LOC on every subword: the five words are one LOC entity, as seqeval reads
    I-LOC x5 (an I- after nothing starts the entity, the others continue it)."""
    entities = _tagger("I-LOC").predict([{"tokens": WORDS}])[0]["entities"]
    assert _spans(entities) == [("LOC", "the U.S. and Jean-Pierre went", 0, 29)]
    assert entities[0]["score"] == pytest.approx(FIXED_SCORE)


def test_a_word_takes_its_first_subword_s_tag() -> None:
    """A model that says B-PER on the subword `j` and B-LOC on every other: `Jean-Pierre`
    (j ##ea ##n [UNK] p ##ie ##r ##re) is one PER, its other subwords' tags unread (the
    pipeline made PER Jean, LOC -, LOC Pierre of it)."""
    tagger = _tagger("B-LOC")
    j = tagger.tokenizer.convert_tokens_to_ids("j")
    loc = torch.tensor([5.0 if n == "B-LOC" else 0.0 for n in CONLL])
    per = torch.tensor([5.0 if n == "B-PER" else 0.0 for n in CONLL])

    class ByToken(torch.nn.Module):
        config = tagger.model.config

        def __init__(self) -> None:
            super().__init__()
            self.anchor = torch.nn.Parameter(torch.empty(0))

        def forward(self, input_ids: torch.Tensor, **_: Any) -> Any:
            logits = torch.where((input_ids == j)[..., None], per, loc)
            return type("Output", (), {"logits": logits})

    tagger.model = ByToken()
    entities = tagger.predict([{"tokens": ["Jean-Pierre", "went"]}])[0]["entities"]
    assert _spans(entities) == [("PER", "Jean-Pierre", 0, 11), ("LOC", "went", 12, 16)]


def test_words_past_max_length_are_predicted_o() -> None:
    """max_length 8: [CLS], six one-subword words, [SEP]; the last four words are cut, as
    training cuts them (`cut_words`), and predicted O, as the metrics count them."""
    from lab.tasks.token_cut import cut_words

    words = ["the", "and", "to", "is", "in", "of", "a", "he", "it", "at"]
    tagger = _tagger("B-LOC", max_length=8)
    encoded = tagger.tokenizer(words, is_split_into_words=True, truncation=True, max_length=8)
    assert list(cut_words(encoded.word_ids(), len(words), True)) == [6, 7, 8, 9]
    entities = tagger.predict([{"tokens": words}])[0]["entities"]
    assert [e["text"] for e in entities] == words[:6]


def test_a_word_the_tokenizer_reads_as_nothing_is_tagged() -> None:
    """A zero-width space is read as [UNK], as training reads it: it has a tag (the pipeline
    saw no token in it and returned no entity there)."""
    entities = _tagger("B-LOC").predict([{"tokens": ["\u200b", "Apple"]}])[0]["entities"]
    assert _spans(entities) == [("LOC", "\u200b", 0, 1), ("LOC", "Apple", 2, 7)]


def test_rows_of_text_and_of_words_keep_their_order() -> None:
    """A batch mixing both forms: each row its own entities, text split into its words."""
    rows: list[dict[str, Any]] = [
        {"tokens": ["U.S."]},
        {"text": "U.S."},
        {"tokens": ["Ann", "ran"]},
    ]
    found = [r["entities"] for r in _tagger("B-LOC").predict(rows)]
    assert [_spans(f) for f in found] == [
        [("LOC", "U.S.", 0, 4)],
        [("LOC", "U.S.", 0, 4)],  # text's words too: an abbreviation is one
        [("LOC", "Ann", 0, 3), ("LOC", "ran", 4, 7)],
    ]


def test_word_entities_are_seqeval_s_entities() -> None:
    """The oracle: seqeval's default-mode chunks of random IOB2-ish tag rows (stray I-, type
    changes) are the entities grouped from the same word tags."""
    from seqeval.metrics.sequence_labeling import get_entities

    from lab.tasks.token_words import word_entities

    rng = random.Random(0)
    for _ in range(500):
        tags = [rng.choice(CONLL) for _ in range(rng.randint(1, 9))]
        words = [f"w{i}" for i in range(len(tags))]
        starts = [len(" ".join(words[:i])) + (1 if i else 0) for i in range(len(words))]
        entities = word_entities(words, tags, [1.0] * len(tags))
        chunks = [(e["type"], starts.index(e["start"]), e["text"].count(" ")) for e in entities]
        expected = [(kind, first, last - first) for kind, first, last in get_entities(tags)]
        assert chunks == expected, tags


def _extended_fixture(folder: Path) -> Path:
    """The NER fixture with sentences whose names hold punctuation (U.S., Jean-Pierre, S&P,
    1-0, as CoNLL-2003 has them), in train (so the model tags them) and in test."""
    data = folder / "ner"
    shutil.copytree(FIXTURES / "ner", data, ignore=shutil.ignore_patterns("*.py"))
    sentences = [
        ("Jean-Pierre works for S&P in the U.S. .", "B-PER O O B-ORG O O B-LOC O"),
        ("the U.S. won 1-0 against Oslo .", "O B-LOC O O O B-LOC O"),
        ("S&P hired Jean-Pierre Dubois as a manager .", "B-ORG O B-PER I-PER O O O O"),
        ("Jean-Pierre flew from the U.S. to Lagos .", "B-PER O O O B-LOC O B-LOC O"),
    ]
    rows = [
        json.dumps({"tokens": text.split(), "ner_tags": [CONLL.index(t) for t in tags.split()]})
        for text, tags in sentences
    ]
    for split, copies in (("train", 4), ("validation", 1), ("test", 1)):
        with (data / f"{split}.jsonl").open("a") as handle:
            handle.write("".join(f"{row}\n" for row in rows * copies))
    return data


@pytest.mark.slow
def test_predicted_entities_on_given_words_score_the_eval_f1(tmp_path: Path) -> None:
    """A tiny NER model trained on the fixture with punctuation names: lab.predict's entities
    on the test rows' words are whole given words, the entities seqeval reads from the model's
    first-subword tags, and, scored by seqeval's default mode, lab.eval's test P/R/F1 (the
    pipeline cut U.S. and Jean-Pierre into entities inside the words: no word tags at all)."""
    from seqeval.metrics.sequence_labeling import get_entities

    data = _extended_fixture(tmp_path)
    run_dir = tmp_path / "run"
    rows, found = train_and_predict_words(data, run_dir, tmp_path)
    gold = [[CONLL[tag] for tag in row["ner_tags"]] for row in rows]
    for row, entities in zip(rows, found, strict=True):
        ends = {len(" ".join(row["tokens"][: i + 1])) for i in range(len(row["tokens"]))}
        starts = {len(" ".join(row["tokens"][:i])) + bool(i) for i in range(len(row["tokens"]))}
        cut = [e for e in entities if e["start"] not in starts or e["end"] not in ends]
        assert not cut, f"entities inside given words: {cut} of {row['tokens']}"
    predicted = [_word_tags(row["tokens"], f) for row, f in zip(rows, found, strict=True)]
    punctuated = {"U.S.", "Jean-Pierre", "S&P"}
    assert any(
        tag != "O" and word in punctuated
        for row, tags in zip(rows, predicted, strict=True)
        for word, tag in zip(row["tokens"], tags, strict=True)
    )  # the model does tag the words the pipeline cut
    raw = _first_subword_tags(run_dir / "model", [row["tokens"] for row in rows])
    assert [get_entities(tags) for tags in predicted] == [get_entities(tags) for tags in raw]

    assert_eval_scores(run_dir, gold, predicted, tmp_path)


def test_a_blank_given_word_is_refused_as_lab_serve_refuses_it() -> None:
    """s22c L1: lab.predict tagged `" "` and `""` as words (entities with trailing spaces),
    where lab.serve's schema refused them."""
    tagger = _tagger("B-LOC")
    for words in (["Ann", " "], ["", "Ann"]):
        problem = tagger.check({"tokens": words})
        blank = words.index(next(w for w in words if not w.strip()))
        assert problem == (
            f"field 'tokens' must be a non-empty list of non-blank strings (item {blank} is blank)"
        )
    assert tagger.check({"tokens": ["Ann", "Lee"]}) is None
