"""s31a's token-classification findings: the card's pipeline claim for words with punctuation
inside (F1), `lab.predict`'s word tags (F2), PTB tags such as `-LRB-` (F3), no `O` in the per-tag
scores of an IO tag set (F4), rows without words left out (F5), lab.inspect's label-names warning
said once (F6) and the tags read from strings named (F7)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from helpers.fixed_tag_ner import fixed_tag_tagger

from conftest import FIXTURES

NER = FIXTURES / "ner"


def _spans(entities: list[dict[str, Any]]) -> list[tuple[str, int, int]]:
    return [
        (e["type"] if "type" in e else e["entity_group"], e["start"], e["end"]) for e in entities
    ]


# ----------------------------------------------------------------- F1: the card's pipeline claim
def test_the_pipeline_gives_labs_entities_only_for_words_without_inner_punctuation() -> None:
    """What the card and README now say, on a WordPiece model tagging every subword B-LOC:
    the pipeline (`aggregation_strategy="first"`) finds lab's entities in a text whose words
    hold no punctuation inside, and splits `S&P` and `Jean-Pierre`, one word each to lab."""
    from transformers import pipeline

    tagger = fixed_tag_tagger("B-LOC")
    plain = pipeline(
        "token-classification",
        model=tagger.model,
        tokenizer=tagger.tokenizer,
        aggregation_strategy="first",
    )
    same = "We met Acme in York."
    assert _spans(plain(same)) == _spans(tagger.predict([{"text": same}])[0]["entities"])
    split = "We met S&P and Jean-Pierre"
    assert [e["word"] for e in plain(split)][2:] == ["s", "&", "p", "and", "jean", "-", "pierre"]
    lab = tagger.predict([{"text": split}])[0]["entities"]
    assert [e["text"] for e in lab] == ["We", "met", "S&P", "and", "Jean-Pierre"]


# ----------------------------------------------------------------- F2: each word's tag
def test_predict_gives_each_words_tag_with_offsets_in_the_text() -> None:
    """`words`: every word of the text (punctuation at a word's edges a word of its own) with
    its own tag and its offsets, where `entities` groups runs of one tag."""
    text = "We met (Acme) in York."
    result = _pos_like_tagger().predict([{"text": text}])[0]
    assert result["words"] == [
        {"text": "We", "tag": "NN", "start": 0, "end": 2},
        {"text": "met", "tag": "NN", "start": 3, "end": 6},
        {"text": "(", "tag": "NN", "start": 7, "end": 8},
        {"text": "Acme", "tag": "NN", "start": 8, "end": 12},
        {"text": ")", "tag": "NN", "start": 12, "end": 13},
        {"text": "in", "tag": "NN", "start": 14, "end": 16},
        {"text": "York", "tag": "NN", "start": 17, "end": 21},
        {"text": ".", "tag": "NN", "start": 21, "end": 22},
    ]
    assert all(text[w["start"] : w["end"]] == w["text"] for w in result["words"])
    # the grouped view: one run of the one tag
    assert [(e["type"], e["text"]) for e in result["entities"]] == [("NN", text)]


def test_given_words_get_their_tags_with_joined_offsets_and_none_past_the_cut() -> None:
    """Given words: `start`/`end` in the words joined with single spaces, as the entities'
    are (so words and text give one answer); a word past `data.max_length` was not read, so
    its tag is null (the row says `truncated`), not a guess."""
    words = ["a", "b", "c", "d", "e", "f", "g", "h"]  # one subword each: 6 + 2 specials
    result = fixed_tag_tagger("I-PER", max_length=8).predict([{"tokens": words}])[0]
    assert result["truncated"] == {"words": 8, "words_read": 6}
    assert result["words"] == [
        {"text": w, "tag": "I-PER" if i < 6 else None, "start": 2 * i, "end": 2 * i + 1}
        for i, w in enumerate(words)
    ]


def test_serve_answers_each_words_tag_and_lists_the_field() -> None:
    """lab.serve shares the predictor's results: `words` in the answer and in /health."""
    from fastapi.testclient import TestClient

    from lab.serve import create_app

    client = TestClient(create_app(_pos_like_tagger()))
    assert client.get("/health").json()["outputs"] == ["entities", "words", "truncated"]
    reply = client.post("/predict", json={"tokens": ["John", "Smith"]})
    assert reply.status_code == 200, reply.text
    assert reply.json()["words"] == [
        {"text": "John", "tag": "NN", "start": 0, "end": 4},
        {"text": "Smith", "tag": "NN", "start": 5, "end": 10},
    ]
    assert [e["text"] for e in reply.json()["entities"]] == ["John Smith"]


def _pos_like_tagger() -> Any:
    """A predictor whose model tags every subword `NN` (a tag set of no IOB scheme)."""
    from helpers.fixed_tag_ner import fixed_tag_tagger

    return fixed_tag_tagger("NN", names=["DT", "NN", "VBD", "-LRB-", "-RRB-"])


# ----------------------------------------------------------------- F3: tags starting with `-`
def test_a_tag_is_split_only_where_it_has_a_b_or_i_prefix() -> None:
    from lab.tasks.token_words import tag_groups, word_entities

    found = word_entities(["(", "Acme", ")"], ["-LRB-", "NNP", "-RRB-"], [1.0, 1.0, 1.0])
    assert [(e["type"], e["text"]) for e in found] == [
        ("-LRB-", "("),
        ("NNP", "Acme"),
        ("-RRB-", ")"),
    ]
    assert tag_groups(["B-PER", "I-PER", "O", "I-LOC", "-NONE-", "PRP$"]) == [
        ("PER", [0, 1]),
        ("LOC", [3]),
        ("-NONE-", [4]),
        ("PRP$", [5]),
    ]


# ----------------------------------------------------------------- F4: no `O` per tag
def test_per_tag_scores_of_an_io_tag_set_leave_out_gold_o() -> None:
    from lab.tasks.entity_metrics import tag_scores

    scores = tag_scores([["O", "PER", "O", "LOC"]], [["O", "PER", "LOC", "O"]])
    assert sorted(scores["per_type"]) == ["LOC", "PER"]
    assert scores["per_type"]["LOC"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert scores["per_type"]["PER"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1}
    assert (scores["precision"], scores["recall"], scores["accuracy"]) == (0.5, 0.5, 0.5)


# ----------------------------------------------------------------- F5: rows without words
def _ner_copy(folder: Path, empty: dict[str, int]) -> Path:
    """The NER fixture, with `empty[split]` rows of no words and no tags in each split (one
    at the start, the rest at the end: a converted CoNLL file's trailing empty sentence)."""
    folder.mkdir()
    for split in ("train", "validation", "test"):
        lines = (NER / f"{split}.jsonl").read_text().splitlines()
        blank = json.dumps({"tokens": [], "ner_tags": []})
        n = empty.get(split, 0)
        rows = ([blank] if n else []) + lines + [blank] * max(0, n - 1)
        (folder / f"{split}.jsonl").write_text("\n".join(rows) + "\n")
    return folder


def test_rows_without_words_are_left_out_with_one_warning(
    compose_cfg: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from hydra.utils import instantiate

    folder = _ner_copy(tmp_path / "data", {"train": 2, "test": 1})
    cfg = compose_cfg("model=tiny_bert", "data=conll2003", f"data.path={folder}")
    datamodule = instantiate(cfg.data, tokenizer=instantiate(cfg.model.tokenizer), _convert_="all")
    with caplog.at_level(logging.WARNING):
        datamodule.setup("fit")
    said = [r.getMessage() for r in caplog.records if "no words" in r.getMessage()]
    assert said == [
        "3 rows have no words (and no tags): left out of train (2), test (1); they hold "
        "nothing to train on or score"
    ]
    sizes = {split: len(datamodule.datasets[split]) for split in ("train", "validation", "test")}
    originals = {s: len((NER / f"{s}.jsonl").read_text().splitlines()) for s in sizes}
    assert sizes == originals


def test_a_split_of_only_rows_without_words_is_refused_in_one_line(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """s31e N2: every validation row without words: left out, nothing was left, and the
    tokenizer's empty split crashed (`Column 'cut_labels' doesn't exist`, exit 1)."""
    from hydra.utils import instantiate

    from lab.data.inspection import inspect_data
    from lab.errors import DataError
    from lab.training.tokenizers import build_tokenizer

    folder = _ner_copy(tmp_path / "data", {})
    blank = json.dumps({"tokens": [], "ner_tags": []})
    (folder / "validation.jsonl").write_text(f"{blank}\n" * 5)
    cfg = compose_cfg("model=tiny_bert", "data=conll2003", f"data.path={folder}")
    line = (
        "the validation split has no rows left after leaving out its 5 rows with no words (and "
        "no tags): give it rows with words, or carve it from train (data.splits.validation=null)"
    )
    datamodule = instantiate(cfg.data, tokenizer=instantiate(cfg.model.tokenizer), _convert_="all")
    with pytest.raises(DataError) as refused:
        datamodule.setup("fit")
    assert str(refused.value) == line
    assert line in inspect_data(cfg, build_tokenizer(cfg))["report"]["warnings"]


def test_inspect_says_trainings_line_on_rows_without_words(
    compose_cfg: Any, tmp_path: Path
) -> None:
    from lab.data.inspection import inspect_data
    from lab.training.tokenizers import build_tokenizer

    folder = _ner_copy(tmp_path / "data", {"validation": 1})
    cfg = compose_cfg("model=tiny_bert", "data=conll2003", f"data.path={folder}")
    warnings = inspect_data(cfg, build_tokenizer(cfg))["report"]["warnings"]
    assert (
        "1 row has no words (and no tags): left out of validation (1); it holds nothing to "
        "train on or score"
    ) in warnings


@pytest.mark.slow
def test_a_run_with_rows_without_words_scores_as_the_run_without_them(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """HF's run_ner.py trains on such a row as special tokens alone (every label -100): it
    adds nothing, and left out it changes nothing: the same metrics to the last digit."""
    from lab.train import run

    def metrics(folder: Path, name: str) -> dict[str, float]:
        cfg = compose_cfg(
            "model=tiny_bert", "data=conll2003", f"data.path={folder}", "logger=csv",
            "trainer.max_epochs=2", "optimizer.lr=3e-3", "seed=3",
            output_dir=tmp_path / name,
        )  # fmt: skip
        return run(cfg)

    with_empty = metrics(
        _ner_copy(tmp_path / "empty", {"train": 3, "validation": 1, "test": 2}), "a"
    )
    without = metrics(NER, "b")
    assert with_empty == without
    assert {"test/f1", "test/accuracy", "val/f1"} <= set(without)


# ----------------------------------------------------------------- F6: one warning
def test_inspect_warns_once_where_label_names_differ_from_the_classlabel(
    compose_cfg: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from datasets import ClassLabel, Dataset, Features, Sequence, Value

    from lab.data.inspection import inspect_data
    from lab.training.tokenizers import build_tokenizer

    conll = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
    renamed = [n.replace("ORG", "org") for n in conll]
    features = Features(
        {"tokens": Sequence(Value("string")), "ner_tags": Sequence(ClassLabel(names=renamed))}
    )
    rows = [json.loads(line) for line in (NER / "train.jsonl").read_text().splitlines()]
    folder = tmp_path / "data"
    folder.mkdir()
    for split in ("train", "validation", "test"):
        Dataset.from_list(rows, features=features).to_parquet(str(folder / f"{split}.parquet"))
    cfg = compose_cfg("model=tiny_bert", "data=conll2003", f"data.path={folder}")
    with caplog.at_level(logging.WARNING):
        inspect_data(cfg, build_tokenizer(cfg))
    said = [r.getMessage() for r in caplog.records if "differ from column" in r.getMessage()]
    assert said == [
        f"data.label_names {conll} differ from column 'ner_tags''s class names {renamed}; ids "
        "0..8 are named by data.label_names"
    ]


# ----------------------------------------------------------------- F7: string tags named
def test_tags_read_from_strings_are_named_with_their_ids_in_one_line(
    compose_cfg: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from hydra.utils import instantiate

    conll = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
    folder = tmp_path / "data"
    folder.mkdir()
    for split in ("train", "validation", "test"):
        rows = [json.loads(line) for line in (NER / f"{split}.jsonl").read_text().splitlines()]
        text = [
            {"tokens": r["tokens"], "ner_tags": [conll[t] for t in r["ner_tags"]]} for r in rows
        ]
        if split == "train":  # a typo'd tag: a class of its own, which the line shows
            text[0]["ner_tags"][0] = "B-PRE"
        (folder / f"{split}.jsonl").write_text("\n".join(json.dumps(r) for r in text) + "\n")
    cfg = compose_cfg(
        "model=tiny_bert", "data=conll2003", f"data.path={folder}", "data.label_names=null"
    )
    datamodule = instantiate(cfg.data, tokenizer=instantiate(cfg.model.tokenizer), _convert_="all")
    with caplog.at_level(logging.INFO):
        datamodule.setup("fit")
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("tags (")]
    assert said == [
        "tags (8, sorted from the train split's strings): B-LOC=0, B-ORG=1, B-PER=2, "
        "B-PRE=3, I-LOC=4, I-ORG=5, I-PER=6, O=7"
    ]  # the fixture has no MISC entity
    assert datamodule.model_kwargs()["id2label"][3] == "B-PRE"


def test_tags_given_as_names_are_not_listed_again(
    compose_cfg: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Ids named by data.label_names (the config says them): no line."""
    from hydra.utils import instantiate

    cfg = compose_cfg("model=tiny_bert", "data=conll2003", f"data.path={NER}")
    datamodule = instantiate(cfg.data, tokenizer=instantiate(cfg.model.tokenizer), _convert_="all")
    with caplog.at_level(logging.INFO):
        datamodule.setup("fit")
    assert not [r for r in caplog.records if r.getMessage().startswith("tags (")]
