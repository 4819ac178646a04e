"""Text given to an NER run is split into words as CoNLL-style files hold them, then
tagged exactly as given words (s22a H1-H3): the same entities as the words, for every
tokenizer family (WordPiece, byte-level BPE, SentencePiece-style `▁`), spans into the text,
and every word of a long text tagged (windows of whole words). A byte-level tokenizer reads
given words with their leading space (`add_prefix_space`), as running text has them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from helpers.fixed_tag_ner import CONLL, TINY_BERT, fixed_tag_tagger
from lab.tasks.text_words import text_words

from conftest import FIXTURES

TEXT = "José Müller works for Acme Corp. in New York, U.S.! Jean-Pierre (S&P)"


def _words(text: str) -> list[str]:
    return [text[start:end] for start, end in text_words(text)]


def test_text_is_split_as_conll_style_files_hold_their_words() -> None:
    assert _words(TEXT) == [
        "José", "Müller", "works", "for", "Acme", "Corp", ".", "in", "New", "York", ",",
        "U.S.", "!", "Jean-Pierre", "(", "S&P", ")",
    ]  # fmt: skip
    # Punctuation inside a word stays (s22c M1: `Jean-Pierre`, `S&P`, `O'Neil` were cut).
    assert _words("Jean-Pierre bought S&P at $5,000 (O'Neil).") == [
        "Jean-Pierre", "bought", "S&P", "at", "$", "5,000", "(", "O'Neil", ")", ".",
    ]  # fmt: skip
    assert _words("e.g. etc.). York.") == ["e.g.", "etc", ".", ")", ".", "York", "."]
    assert _words("北京大学 is") == ["北", "京", "大", "学", "is"]
    assert _words("葛\U000e0100 x") == ["葛\U000e0100", "x"]  # a variation selector stays
    assert _words("a\u200bb \u200b c\u3000d") == ["a\u200bb", "c", "d"]  # a lone ZWSP: none
    assert text_words("  ") == []


def _metaspace_tokenizer(tmp_path: Path) -> Any:
    """A SentencePiece-style BPE (`▁` marks a word's start, XLM-R's lone `▁` included)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    corpus = ["José works for Acme in New York", "Müller and Corp", "U.S. York , ! ."] * 5
    trainer = trainers.BpeTrainer(vocab_size=120, special_tokens=["<unk>", "<s>", "</s>", "<pad>"])
    tokenizer.train_from_iterator(corpus, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, unk_token="<unk>", bos_token="<s>", eos_token="</s>",
        pad_token="<pad>",
    )  # fmt: skip


def _tokenizer(kind: str, tmp_path: Path) -> Any:
    from transformers import AutoTokenizer

    if kind == "wordpiece":
        return AutoTokenizer.from_pretrained(TINY_BERT)
    if kind == "byte-level":  # as lab.training.tokenizers loads it for a word head
        gpt2 = AutoTokenizer.from_pretrained(TINY_BERT.parent / "tiny_gpt2", add_prefix_space=True)
        gpt2.pad_token = gpt2.eos_token
        return gpt2
    return _metaspace_tokenizer(tmp_path)


@pytest.mark.parametrize("kind", ["wordpiece", "byte-level", "metaspace"])
def test_text_gives_the_entities_of_its_words(kind: str, tmp_path: Path) -> None:
    from omegaconf import OmegaConf
    from transformers import BertConfig, BertForTokenClassification

    from lab.tasks.token_predictor import TokenClassificationPredictor

    tokenizer = _tokenizer(kind, tmp_path)
    torch.manual_seed(0)  # random weights: tags that differ from word to word
    config = BertConfig(
        vocab_size=max(len(tokenizer), 2048), hidden_size=16, num_hidden_layers=1,
        num_attention_heads=1, intermediate_size=16, id2label=dict(enumerate(CONLL)),
    )  # fmt: skip
    model = BertForTokenClassification(config).eval()
    cfg = OmegaConf.create({"data": {"max_length": 64, "tokens_column": "tokens"}})
    tagger = TokenClassificationPredictor(model, tokenizer, cfg)
    from_text, from_words = tagger.predict([{"text": TEXT}, {"tokens": _words(TEXT)}])
    assert from_text["entities"], "random weights tag some words"
    spans = text_words(TEXT)
    joined = " ".join(_words(TEXT))
    for entity, same in zip(from_text["entities"], from_words["entities"], strict=True):
        assert entity["text"] == TEXT[entity["start"] : entity["end"]]
        assert (entity["type"], entity["score"]) == (same["type"], same["score"])
        # The same words: the text's from its first word's start to its last word's end.
        first = joined[: same["start"]].count(" ")
        last = first + same["text"].count(" ")
        assert (entity["start"], entity["end"]) == (spans[first][0], spans[last][1])


def test_a_long_text_is_tagged_in_windows_of_whole_words() -> None:
    """max_length 8: [CLS], six one-subword words, [SEP]. Given words past the cut are `O`
    (as the metrics count them); a text's words go on in the next window."""
    tagger = fixed_tag_tagger("B-PER", max_length=8)
    text = " ".join(["the"] * 14)
    from_text = tagger.predict([{"text": text}])[0]["entities"]
    assert [(e["start"], e["end"]) for e in from_text] == [(4 * i, 4 * i + 3) for i in range(14)]
    assert tagger.notes() == []  # a text is tagged to its end
    from_words = tagger.predict([{"tokens": text.split()}, {"tokens": ["the"] * 7}])
    assert [len(row["entities"]) for row in from_words] == [6, 6]
    # s23a M4: lab.predict says where given words were cut (14 - 6 and 7 - 6 words).
    assert tagger.notes() == [
        "2 rows of given words ran past data.max_length=8 subwords: the 9 words past the cut, "
        "in all, are not read: tag null in `words`, in no entity (the run's metrics scored "
        "them as predicted O); give such a row as text to tag every word, in windows"
    ]


def test_a_word_head_reads_byte_level_words_with_their_space(compose_cfg: Any) -> None:
    from lab.training.tokenizers import build_tokenizer, byte_level_without_prefix_space

    ner = build_tokenizer(
        compose_cfg("model=tiny_gpt2", "data=conll2003", f"data.path={FIXTURES / 'ner'}")
    )
    assert not byte_level_without_prefix_space(ner)
    encoded = ner([["Ann", "Lee"]], is_split_into_words=True)["input_ids"][0]
    assert ner.convert_ids_to_tokens(encoded)[0].startswith("Ġ")  # as in running text
    classifier = build_tokenizer(compose_cfg("model=tiny_gpt2"))
    assert byte_level_without_prefix_space(classifier)  # other heads: the tokenizer as shipped
