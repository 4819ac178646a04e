"""Entity scores read tags as `conlleval` does (seqeval's default mode), the grouping of the
entities `lab.predict` returns: a predicted I-X after O or another type starts an X entity. So
a run's test F1 is the F1 of the entities `lab.predict` finds on the same rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lab.tasks.entity_metrics import entity_scores

from conftest import FIXTURES

# A stray I- tag starts each of the three predicted entities the strict reading left out.
GOLD = [
    ["B-PER", "O", "O", "B-ORG", "O", "B-LOC", "O"],  # Kim works for Nordbank in Berlin .
    ["O", "B-ORG", "I-ORG", "O"],  # the Red Cross stand
    ["B-LOC", "I-LOC", "O", "B-PER"],  # New York , Ana
]
PREDICTED = [
    ["B-PER", "O", "O", "I-ORG", "O", "I-PER", "O"],  # I-ORG after O; I-PER after O
    ["O", "B-ORG", "I-ORG", "O"],
    ["B-LOC", "I-PER", "O", "B-PER"],  # I-PER after B-LOC: LOC "New", PER "York"
]


def test_a_stray_inside_tag_starts_an_entity() -> None:
    """By hand: predicted entities PER Kim, ORG Nordbank, PER Berlin, ORG Red Cross, LOC New,
    PER York, PER Ana (7); right: Kim, Nordbank, Red Cross, Ana (4) of 6 gold entities.
    Strict IOB2 found only Kim, Red Cross, LOC New and Ana (P 3/4): not lab.predict's 7."""
    scores = entity_scores(GOLD, PREDICTED)
    assert scores["precision"] == pytest.approx(4 / 7)
    assert scores["recall"] == pytest.approx(4 / 6)
    assert scores["f1"] == pytest.approx(2 * 4 / (7 + 6))
    assert scores["per_type"]["PER"] == {
        "precision": pytest.approx(2 / 4), "recall": 1.0, "f1": pytest.approx(2 / 3), "support": 2,
    }  # fmt: skip
    assert scores["per_type"]["ORG"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 2}
    assert scores["per_type"]["LOC"]["support"] == 2 and scores["per_type"]["LOC"]["f1"] == 0.0
    # Tags per word: I-ORG for B-ORG, I-PER for B-LOC and I-PER for I-LOC are wrong.
    assert scores["accuracy"] == pytest.approx(12 / 15)


def test_scores_equal_seqeval_default_mode() -> None:
    """The oracle: seqeval's default (conlleval-compatible) mode, with a stray I- on the gold
    side too (a gold "I-LOC" after O is a LOC entity there, as conlleval counts it)."""
    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score

    gold = [*GOLD, ["O", "I-LOC", "I-LOC", "O"]]
    predicted = [*PREDICTED, ["O", "B-LOC", "I-LOC", "O"]]
    scores = entity_scores(gold, predicted)
    assert scores["precision"] == pytest.approx(precision_score(gold, predicted))
    assert scores["recall"] == pytest.approx(recall_score(gold, predicted))
    assert scores["f1"] == pytest.approx(f1_score(gold, predicted))
    assert scores["recall"] == pytest.approx(5 / 7)  # the gold I-LOC I-LOC is found
    report = classification_report(gold, predicted, output_dict=True, zero_division=0)
    for name, values in scores["per_type"].items():
        assert values["f1"] == pytest.approx(report[name]["f1-score"]), name
        assert values["support"] == report[name]["support"], name


def _word_tags(words: list[str], entities: list[dict[str, Any]]) -> list[str]:
    """IOB2 word tags of `lab.predict`'s entities, whose spans refer to the words joined with
    spaces: B- on an entity's first word, I- on the others."""
    starts, position = [], 0
    for word in words:
        starts.append(position)
        position += len(word) + 1
    tags = ["O"] * len(words)
    for entity in entities:
        inside = [
            i
            for i, start in enumerate(starts)
            if start >= entity["start"] and start + len(words[i]) <= entity["end"]
        ]
        assert " ".join(words[inside[0] : inside[-1] + 1]) == entity["text"]
        tags[inside[0]] = "B-" + entity["type"]
        for i in inside[1:]:
            tags[i] = "I-" + entity["type"]
    return tags


@pytest.mark.slow
def test_eval_f1_is_the_f1_of_predicted_entities(tmp_path: Path) -> None:
    """A tiny NER model (trained as the pipeline test trains it) tags stray I- words on the
    fixture's test rows; lab.eval's test P/R/F1 equal those of lab.predict's entities on the
    same rows, scored by seqeval's default mode (strict IOB2 gave P 0.7576, F1 0.7692 here,
    lab.predict's entities P 0.6944, F1 0.7353)."""
    from seqeval.metrics import f1_score
    from seqeval.scheme import IOB2

    run_dir = tmp_path / "run"
    rows, found = train_and_predict_words(FIXTURES / "ner", run_dir, tmp_path)
    names = json.loads((run_dir / "model" / "config.json").read_text())["id2label"]
    gold = [[names[str(tag)] for tag in row["ner_tags"]] for row in rows]
    predicted = [_word_tags(row["tokens"], f) for row, f in zip(rows, found, strict=True)]

    metrics = assert_eval_scores(run_dir, gold, predicted, tmp_path)
    recorded = json.loads((run_dir / "metrics.json").read_text())
    assert recorded["test/f1"] == pytest.approx(metrics["test/f1"], rel=1e-12)
    # The check has teeth only where the model tags a stray I- (an entity strict IOB2 drops):
    # the model's own word tags (first subword), read strictly, do not give that F1.
    raw = _first_subword_tags(run_dir / "model", [row["tokens"] for row in rows])
    assert f1_score(gold, raw, mode="strict", scheme=IOB2) != pytest.approx(metrics["test/f1"])


def _first_subword_tags(model_dir: Path, sentences: list[list[str]]) -> list[list[str]]:
    """Each word's tag as the exported model gives it on the word's first subword."""
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    model = AutoModelForTokenClassification.from_pretrained(model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tags = []
    for words in sentences:
        encoded = tokenizer(words, is_split_into_words=True, return_tensors="pt")
        with torch.no_grad():
            best = model(**encoded).logits[0].argmax(dim=-1).tolist()
        first = {}
        for position, word in enumerate(encoded.word_ids()):
            if word is not None and word not in first:
                first[word] = model.config.id2label[best[position]]
        tags.append([first[i] for i in range(len(words))])
    return tags


def train_and_predict_words(
    data: Path, run_dir: Path, scratch: Path
) -> tuple[list[dict[str, Any]], list[list[dict[str, Any]]]]:
    """Train tiny BERT on the NER folder `data` into `run_dir` (20 epochs at 3e-3: it tags
    stray I- words), then run lab.predict on its test rows' words: the rows and the entities
    predicted for each."""
    from lab.config import compose_train_config
    from lab.predict import main as predict
    from lab.train import run

    overrides = [
        "model=tiny_bert", "data=conll2003", f"data.path={data}", "logger=csv",
        "trainer.max_epochs=20", "optimizer.lr=3e-3", "scheduler.warmup_ratio=0.0",
    ]  # fmt: skip
    run(compose_train_config(overrides, output_dir=run_dir))
    rows = [json.loads(line) for line in (data / "test.jsonl").read_text().splitlines()]
    words = scratch / "words.jsonl"
    words.write_text("".join(json.dumps({"tokens": row["tokens"]}) + "\n" for row in rows))
    out = scratch / "entities.jsonl"
    assert predict([f"run={run_dir}", f"input={words}", f"output={out}"]) == 0
    return rows, [json.loads(line)["entities"] for line in out.read_text().splitlines()]


def assert_eval_scores(
    run_dir: Path, gold: list[list[str]], predicted: list[list[str]], scratch: Path
) -> dict[str, float]:
    """lab.eval's test precision, recall and F1 of `run_dir` equal seqeval's default mode on
    `predicted` word tags against `gold` (seqeval's double, not a float32 of it); its metrics."""
    from seqeval.metrics import f1_score, precision_score, recall_score

    from lab.eval import main as evaluate

    result = scratch / "eval.json"
    assert evaluate([f"run={run_dir}", f"output={result}"]) == 0
    metrics: dict[str, float] = json.loads(result.read_text())["metrics"]
    assert metrics["test/precision"] == pytest.approx(precision_score(gold, predicted), rel=1e-12)
    assert metrics["test/recall"] == pytest.approx(recall_score(gold, predicted), rel=1e-12)
    assert metrics["test/f1"] == pytest.approx(f1_score(gold, predicted), rel=1e-12)
    return metrics
