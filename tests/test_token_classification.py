"""Token classification: IOB conversion, entity scores by hand, subword alignment, bad data,
and a tiny model trained on the CoNLL-format fixture through `run(cfg)`."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from lab.errors import DataError
from lab.tasks.entity_metrics import EntityScores, entity_scores, iob1_to_iob2, is_iob, tag_scores
from lab.tasks.token_classification import IGNORE, align_labels

from conftest import FIXTURES

NER = FIXTURES / "ner"
CONLL = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]


def test_iob1_becomes_iob2() -> None:
    assert iob1_to_iob2(["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-LOC", "I-ORG"]) == [
        "B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC", "B-ORG",
    ]  # fmt: skip


def test_entity_scores_by_hand() -> None:
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "O"], ["B-ORG", "I-ORG", "O"]]
    predicted = [["B-PER", "I-PER", "O", "B-ORG"], ["O", "O"], ["I-ORG", "I-ORG", "O"]]
    scores = entity_scores(gold, predicted)
    # Gold entities: PER, LOC, ORG. Predicted: PER (right), ORG at 0,3 (wrong type), and
    # "I-ORG I-ORG" after the sentence start is an ORG (right), as conlleval and lab.predict's
    # grouping read it (strict IOB2 dropped it: P 1/2, R 1/3, ORG F1 0 were its scores).
    assert scores["precision"] == pytest.approx(2 / 3)
    assert scores["recall"] == pytest.approx(2 / 3)
    assert scores["f1"] == pytest.approx(2 / 3)
    assert scores["per_type"]["PER"]["f1"] == 1.0
    assert scores["per_type"]["LOC"] == {"f1": 0.0, "precision": 0.0, "recall": 0.0, "support": 1}
    assert scores["per_type"]["ORG"] == {  # one of the two predicted ORGs is right
        "f1": pytest.approx(2 / 3), "precision": 0.5, "recall": 1.0, "support": 1,
    }  # fmt: skip
    assert scores["accuracy"] == pytest.approx(7 / 9)  # token accuracy
    all_o = entity_scores([["O", "O"]], [["O", "O"]])
    assert all_o["f1"] == 0.0 and all_o["accuracy"] == 1.0 and all_o["per_type"] == {}


def test_entity_metric_ignores_unlabelled_positions_and_keeps_sentences_apart() -> None:
    id2label = dict(enumerate(CONLL))
    metric = EntityScores(id2label)
    # Sentence 1: [CLS] Anna(B-PER) Berg(I-PER) ##x(ignored) [SEP]; sentence 2: [CLS] Oslo [SEP] pad
    labels = torch.tensor([[IGNORE, 1, 2, IGNORE, IGNORE], [IGNORE, 5, IGNORE, IGNORE, IGNORE]])
    predictions = torch.tensor([[0, 1, 2, 0, 0], [0, 2, 0, 0, 0]])
    metric.update(predictions, labels)
    scores = metric.compute()
    # Sentence 2's I-PER starts a PER (wrong); read as one sentence, "Anna Berg Oslo" would
    # have been one wrong PER entity (PER precision 0, not 1/2). Under strict IOB2 the I-PER
    # was no entity and PER F1 was 1.
    assert scores["per_type"]["PER"]["precision"] == 0.5
    assert scores["per_type"]["PER"]["recall"] == 1.0
    assert scores["per_type"]["LOC"]["recall"] == 0.0
    assert scores["accuracy"] == pytest.approx(2 / 3)


def test_first_subword_carries_the_label_or_all_do() -> None:
    word_ids = [None, 0, 0, 0, 1, 2, 2, None]
    assert align_labels(word_ids, [1, 0, 5]) == [IGNORE, 1, IGNORE, IGNORE, 0, 5, IGNORE, IGNORE]
    inside = {1: 2, 5: 6, 0: 0}
    assert align_labels(word_ids, [1, 0, 5], inside.__getitem__) == [
        IGNORE, 1, 2, 2, 0, 5, 6, IGNORE,
    ]  # fmt: skip


def _datamodule(compose_cfg, *overrides: str):  # type: ignore[no-untyped-def]
    from hydra.utils import instantiate

    cfg = compose_cfg("model=tiny_bert", "data=conll2003", f"data.path={NER}", *overrides)
    tokenizer = instantiate(cfg.model.tokenizer)
    return instantiate(cfg.data, tokenizer=tokenizer, _convert_="all"), tokenizer


def test_words_split_into_subwords_are_aligned(compose_cfg) -> None:  # type: ignore[no-untyped-def]
    datamodule, tokenizer = _datamodule(compose_cfg)
    datamodule.setup("fit")
    row = datamodule.datasets["train"][0]  # Anna Berg flew from New York to Lagos on Monday .
    pieces = tokenizer.convert_ids_to_tokens(row["input_ids"])
    assert pieces[:5] == ["[CLS]", "an", "##n", "##a", "be"]  # "Anna": three subwords
    labelled = [
        (p, CONLL[label]) for p, label in zip(pieces, row["labels"], strict=True) if label != IGNORE
    ]
    assert [tag for _, tag in labelled] == [
        "B-PER", "I-PER", "O", "O", "B-LOC", "I-LOC", "O", "B-LOC", "O", "O", "O",
    ]  # fmt: skip
    assert [piece for piece, _ in labelled[:2]] == ["an", "be"]  # first subword of each word


def test_label_all_tokens_labels_train_subwords_and_scores_words(compose_cfg) -> None:  # type: ignore[no-untyped-def]
    """`data.label_all_tokens=true` trains on every subword; validation and test keep one label
    per word, so the metrics are those of the words `lab.predict` tags (they were scored over
    subwords: F1 0.31 against 0.47 over words on one run) and comparable across the setting."""
    datamodule, tokenizer = _datamodule(compose_cfg, "data.label_all_tokens=true")
    datamodule.setup("fit")
    word_level, _ = _datamodule(compose_cfg)
    word_level.setup("fit")
    row = datamodule.datasets["train"][0]  # "Anna": an ##n ##a, a B-PER word
    pieces = tokenizer.convert_ids_to_tokens(row["input_ids"])
    tags = [CONLL[label] if label != IGNORE else None for label in row["labels"]]
    assert list(zip(pieces, tags, strict=True))[:5] == [
        ("[CLS]", None), ("an", "B-PER"), ("##n", "I-PER"), ("##a", "I-PER"), ("be", "I-PER"),
    ]  # fmt: skip
    for split in ("validation", "test"):
        assert datamodule.datasets[split]["labels"] == word_level.datasets[split]["labels"]
    assert datamodule.datasets["train"]["labels"] != word_level.datasets["train"]["labels"]


def test_truncation_keeps_the_visible_part_of_a_cut_entity(compose_cfg, caplog) -> None:  # type: ignore[no-untyped-def]
    datamodule, _ = _datamodule(compose_cfg, "data.max_length=12")
    datamodule.setup("fit")
    # Training says how many rows the cut reaches, split by split.
    cut_rows = {
        split: sum(1 for cut in data["cut_labels"] if cut)
        for split, data in datamodule.datasets.items()
    }
    notes = [r.getMessage() for r in caplog.records if "data.max_length=12 cuts" in r.getMessage()]
    assert len(notes) == sum(1 for n in cut_rows.values() if n) and cut_rows["train"] > 0
    rows = len(datamodule.datasets["train"])
    train_words = sum(len(cut) for cut in datamodule.datasets["train"]["cut_labels"])
    assert f"cuts {cut_rows['train']} of {rows} train rows ({train_words} words past" in notes[0]
    row = datamodule.datasets["train"][0]
    assert len(row["input_ids"]) == 12
    tags = [CONLL[label] for label in row["labels"] if label != IGNORE]
    assert tags[:4] == ["B-PER", "I-PER", "O", "O"] and len(tags) < 11
    # The words past the cut keep their gold tags, for the scores (lab.tasks.token_cut).
    gold = ["B-PER", "I-PER", "O", "O", "B-LOC", "I-LOC", "O", "B-LOC", "O", "O", "O"]
    assert [CONLL[label] for label in row["cut_labels"]] == gold[len(tags) :]
    batch = datamodule.collate_fn()([datamodule.datasets["train"][i] for i in range(2)])
    assert batch["cut_labels"].shape[0] == 2
    assert batch["cut_labels"][0].tolist()[: len(gold) - len(tags)] == row["cut_labels"]
    # The same rows tokenized again (lab.eval reads its rows as each split): said once.
    from lab.data.splits import read_splits

    caplog.clear()
    raw = read_splits(datamodule)["train"]
    datamodule._tokenize_split("train", datamodule.prepare_split("train", raw))
    assert not [r for r in caplog.records if "data.max_length=12 cuts" in r.getMessage()]


def test_words_past_the_cut_count_as_missed() -> None:
    """A row cut after "Anna Berg flew": its gold LOC past the cut is missed (predicted O), so
    recall is 1/2, not the 1/1 of the words the model saw."""
    metric = EntityScores(dict(enumerate(CONLL)))
    labels = torch.tensor([[IGNORE, 1, 2, 0, IGNORE]])
    predictions = torch.tensor([[0, 1, 2, 0, 0]])
    cut = torch.tensor([[0, 5, 6, IGNORE]])  # "from New York" (padded)
    metric.update(predictions, labels, cut)
    metric.update(
        torch.tensor([[0, 5, 0]]), torch.tensor([[IGNORE, 5, IGNORE]]), torch.tensor([[IGNORE]])
    )
    scores = metric.compute()
    assert scores["precision"] == 1.0 and scores["recall"] == pytest.approx(2 / 3)
    assert scores["per_type"]["LOC"]["support"] == 2 and scores["per_type"]["LOC"]["recall"] == 0.5
    assert scores["accuracy"] == pytest.approx(5 / 7)  # "from" is O: right; New York: wrong


def test_tags_of_no_iob_scheme_are_scored_per_word() -> None:
    """POS tags (DT, NN, VBZ) make no entities: seqeval raised KeyError 'D' at the first
    validation. They are scored per word, by hand: 5 of 6 words right."""
    assert not is_iob(["DT", "NN", "VBZ"]) and not is_iob(["O"]) and is_iob(CONLL)
    assert not is_iob(["O", "B-PER", "X"])
    gold = [["DT", "NN", "VBZ"], ["NN", "VBZ", "DT"]]
    predicted = [["DT", "NN", "NN"], ["NN", "VBZ", "DT"]]
    scores = tag_scores(gold, predicted)
    assert scores["accuracy"] == pytest.approx(5 / 6)
    assert scores["precision"] == scores["recall"] == scores["f1"] == pytest.approx(5 / 6)
    assert scores["per_type"]["NN"] == {
        "precision": pytest.approx(2 / 3), "recall": 1.0, "f1": pytest.approx(0.8), "support": 2,
    }  # fmt: skip
    assert scores["per_type"]["VBZ"]["recall"] == 0.5
    metric = EntityScores({0: "DT", 1: "NN", 2: "VBZ"})
    metric.update(torch.tensor([[0, 1, 1]]), torch.tensor([[0, 1, 2]]), torch.tensor([[2]]))
    assert metric.compute()["accuracy"] == pytest.approx(2 / 4)  # the cut VBZ is missed


def test_iob1_data_read_as_iob2_gets_the_hint(compose_cfg, tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    rows = [
        {"tokens": ["Anna", "Berg", "in", "Oslo"], "ner_tags": ["I-PER", "I-PER", "O", "I-LOC"]},
        {"tokens": ["Oslo", "."], "ner_tags": ["I-LOC", "O"]},
        {"tokens": ["Anna", "Oslo"], "ner_tags": ["I-PER", "B-PER"]},
    ]
    for split in ("train", "validation", "test"):
        (tmp_path / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    from hydra.utils import instantiate

    for scheme, hinted in (("iob2", True), ("iob1", False)):
        caplog.clear()
        cfg = compose_cfg(
            "model=tiny_bert", "data=conll2003", f"data.path={tmp_path}",
            "data.label_names=null", f"data.tag_scheme={scheme}",
        )  # fmt: skip
        tokenizer = instantiate(cfg.model.tokenizer)
        datamodule = instantiate(cfg.data, tokenizer=tokenizer, _convert_="all")
        datamodule.setup("fit")
        hints = [r.getMessage() for r in caplog.records if "IOB1" in r.getMessage()]
        assert hints == (
            [
                "4 of the train split's 5 entities start with I- (after O or another type), as "
                "in IOB1 data; read as IOB2 (data.tag_scheme=iob2) the model learns to start "
                "entities with I- (lab's scores and entities count them, a strict IOB2 reader "
                "drops them): set data.tag_scheme=iob1"
            ]
            if hinted
            else []
        )


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            {"tokens": ["a", "b"], "ner_tags": [0, 9]},
            r"train\.jsonl:2 column 'ner_tags': tag 9 is not in the label list",
        ),
        (
            {"tokens": ["a", "b"], "ner_tags": [0]},
            r"train\.jsonl:2 column 'ner_tags': 2 words but 1 tags",
        ),
        (  # no words but a tag: refused (no words and no tags: left out, test_s31a_ner)
            {"tokens": [], "ner_tags": [0]},
            r"train\.jsonl:2 column 'ner_tags': 0 words but 1 tags",
        ),
        (  # a string is no word list: it was tokenized letter by letter, or a TypeError
            {"tokens": "Jo", "ner_tags": [0, 5]},
            r"train\.jsonl:2 column 'tokens': text 'Jo', not a list of words \(one per word, "
            r"e\.g\. \[\"John\", \"lives\"\]\)$",
        ),
        (
            {"tokens": ["a", "b"], "ner_tags": None},
            r"train\.jsonl:2 column 'ner_tags': the cell is empty; give a list of tags",
        ),
    ],
)
def test_bad_rows_are_named(compose_cfg, tmp_path: Path, row: dict, message: str) -> None:  # type: ignore[no-untyped-def]
    good = {"tokens": ["Oslo", "."], "ner_tags": [5, 0]}
    (tmp_path / "train.jsonl").write_text(json.dumps(good) + "\n" + json.dumps(row) + "\n")
    for split in ("validation", "test"):
        (tmp_path / f"{split}.jsonl").write_text(json.dumps(good) + "\n")
    from hydra.utils import instantiate

    cfg = compose_cfg("model=tiny_bert", "data=conll2003", f"data.path={tmp_path}")
    datamodule = instantiate(cfg.data, tokenizer=instantiate(cfg.model.tokenizer), _convert_="all")
    with pytest.raises(DataError, match=message):
        datamodule.setup("fit")


@pytest.mark.slow
def test_tiny_ner_model_trains_and_exports_a_working_pipeline(compose_cfg) -> None:  # type: ignore[no-untyped-def]
    from transformers import pipeline

    from lab.train import run

    cfg = compose_cfg(
        "model=tiny_bert",
        "data=conll2003",
        f"data.path={NER}",
        "logger=csv",
        "trainer.max_epochs=20",
        "trainer.log_every_n_steps=1",
        "optimizer.lr=3e-3",
        "scheduler.warmup_ratio=0.0",
    )
    metrics = run(cfg)
    run_dir = Path(cfg.paths.output_dir)
    # Above Hugging Face's own example-test floor (NER accuracy >= 0.75), on the test split.
    assert metrics["test/accuracy"] >= 0.75
    assert metrics["test/f1"] >= 0.5
    assert {"val/f1", "val/precision", "val/recall", "test/f1_PER"} <= set(metrics)
    with open(run_dir / "csv" / "metrics.csv") as handle:
        losses = [float(r["train/loss"]) for r in csv.DictReader(handle) if r.get("train/loss")]
    assert sum(losses[-4:]) / 4 < 0.5 * sum(losses[:4]) / 4  # the loss went down
    report = json.loads((run_dir / "test_report.json").read_text())
    assert set(report["entities"]) == {"PER", "ORG", "LOC"}
    assert report["entities"]["PER"]["support"] > 0
    assert (run_dir / "plots" / "entity_f1.png").read_bytes()[:4] == b"\x89PNG"

    tagger = pipeline(
        "token-classification", model=str(run_dir / "model"), aggregation_strategy="first"
    )
    entities = tagger("Anna Berg works for Acme Corp in Paris .")
    assert entities and {e["entity_group"] for e in entities} <= {"PER", "ORG", "LOC", "MISC"}
    assert any(e["entity_group"] == "PER" and e["start"] == 0 for e in entities)


def test_predicted_entities_are_whole_words_tagged_by_their_first_subword() -> None:
    """`lab.predict`/`lab.serve` tag each word by its first subword, as training does: a model
    that says B-PER everywhere finds one PER per word, never a word cut into subwords."""
    from omegaconf import OmegaConf
    from transformers import AutoTokenizer, BertConfig, BertForTokenClassification

    from lab.tasks.token_classification import TokenClassificationPredictor

    tokenizer = AutoTokenizer.from_pretrained(FIXTURES.parent.parent / "src/lab/assets/tiny_bert")
    config = BertConfig(
        vocab_size=2048, hidden_size=8, num_hidden_layers=1, num_attention_heads=1,
        intermediate_size=8, id2label=dict(enumerate(CONLL)),
    )  # fmt: skip
    model = BertForTokenClassification(config).eval()
    with torch.no_grad():  # every token: B-PER
        model.classifier.weight.zero_()
        model.classifier.bias.copy_(torch.tensor([0.0, 5.0, 0, 0, 0, 0, 0, 0, 0]))
    cfg = OmegaConf.create({"data": {"max_length": 64, "tokens_column": "tokens"}})
    predictor = TokenClassificationPredictor(model, tokenizer, cfg)
    text = "Angelique Vandenberghe flew"
    assert len(tokenizer.tokenize(text)) > 3  # the words are split into subwords
    entities = predictor.predict([{"text": text}])[0]["entities"]
    assert [(e["type"], e["text"], e["start"], e["end"]) for e in entities] == [
        ("PER", "Angelique", 0, 9),
        ("PER", "Vandenberghe", 10, 22),
        ("PER", "flew", 23, 27),
    ]


def test_a_word_the_tokenizer_reads_as_nothing_keeps_its_tag(compose_cfg, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A zero-width space or soft hyphen has no subword of its own: it is read as [UNK], so its
    gold tag is trained and scored (it vanished, and the entities' support with it)."""
    from hydra.utils import instantiate

    # ORG on the zero-width space (as tweets have them), then Apple; the soft hyphen last.
    row = {"tokens": ["\u200b", "Apple", "said", "\u00ad"], "ner_tags": [3, 3, 0, 0]}
    for split in ("train", "validation", "test"):
        (tmp_path / f"{split}.jsonl").write_text(json.dumps(row) + "\n")
    cfg = compose_cfg("model=tiny_bert", "data=conll2003", f"data.path={tmp_path}")
    tokenizer = instantiate(cfg.model.tokenizer)
    datamodule = instantiate(cfg.data, tokenizer=tokenizer, _convert_="all")
    datamodule.setup("fit")
    encoded = datamodule.datasets["train"][0]
    pieces = tokenizer.convert_ids_to_tokens(encoded["input_ids"])
    labelled = [
        (piece, CONLL[label])
        for piece, label in zip(pieces, encoded["labels"], strict=True)
        if label != IGNORE
    ]
    assert [tag for _, tag in labelled] == ["B-ORG", "B-ORG", "O", "O"]  # all four words
    assert labelled[0][0] == labelled[-1][0] == "[UNK]"


def test_lab_eval_s_unknown_tag_advice_is_one_it_can_follow() -> None:
    """lab.eval refuses data.label_names other than the model's: it does not advise them."""
    from lab.tasks.token_tags import tag_problem

    names = ["O", "B-PER", "I-PER"]
    assert tag_problem("B-PERSON", names, True) == (
        f"tag 'B-PERSON' is not in the label list {names}; fix the data or set data.label_names"
    )
    assert tag_problem("B-PERSON", names, True, evaluating=True) == (
        f"tag 'B-PERSON' is not in the label list {names}; the model was trained on these tags "
        "only: fix the data"
    )
