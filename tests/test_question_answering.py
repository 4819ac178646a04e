"""Extractive QA: SQuAD metrics by hand, windows and their labels, n-best postprocessing over
windows, bad rows, SQuAD JSON input, and a tiny model trained on the fixture through
`run(cfg)` whose export loads as a transformers QA model and answers fixture questions (through the
`question-answering` pipeline too where the installed transformers still has it: v5 removed
it)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from lab.errors import ConfigError, DataError
from lab.tasks.question_answering.answers import answer_lists
from lab.tasks.question_answering.data import QuestionAnsweringDataModule
from lab.tasks.question_answering.decoding import (
    CLS_INDEX,
    Window,
    answer_questions,
    best_span,
    postprocess_predictions,
)
from lab.tasks.question_answering.metrics import SpanLogits, windows_from_logits
from lab.tasks.question_answering.scores import (
    best_scores,
    exact_match_score,
    f1_score,
    normalize_answer,
    squad_scores,
)
from lab.tasks.question_answering.squad_json import squad_json_files, squad_json_rows
from lab.tasks.question_answering.windows import answer_token_span

from conftest import FIXTURES, train_on_two_cpu_ranks

SQUAD = FIXTURES / "squad"
SQUAD_V2 = FIXTURES / "squad_v2"
# The fixture folder has its own test split; data=squad would test on validation.jsonl.
FIXTURE_DATA = [
    "model=tiny_bert",
    "data=squad",
    f"data.path={SQUAD}",
    "data.splits.validation=validation",
    "data.splits.test=test",
    "data.max_length=64",
    "data.doc_stride=16",
]


# --------------------------------------------------------------------------- metrics
def test_normalisation_drops_case_punctuation_articles_and_extra_space() -> None:
    assert normalize_answer("The  Eiffel Tower!") == "eiffel tower"
    assert normalize_answer("an apple, a pear and THE plum.") == "apple pear and plum"
    # "the" goes only as a word ("Theatre" stays); tabs and newlines are whitespace
    assert normalize_answer("  Theatre\tof\nthe   Absurd ") == "theatre of absurd"
    assert normalize_answer("U.S.-based") == "usbased"
    assert normalize_answer("A") == "" and normalize_answer("") == ""


def test_exact_match_and_f1_by_hand() -> None:
    assert exact_match_score("the Denver Broncos", "Denver Broncos!") == 1.0
    assert exact_match_score("Broncos", "Denver Broncos") == 0.0
    # prediction "denver broncos won" vs gold "the broncos": common {broncos} = 1 token;
    # precision 1/3, recall 1/1 -> F1 = 2 * (1/3) / (4/3) = 0.5
    assert f1_score("Denver Broncos won", "the Broncos") == pytest.approx(0.5)
    # repeated tokens count with multiplicity: pred "a b b" -> [b, b]? no: "b b c" vs "b c c"
    # common = {b: 1, c: 1} = 2; precision 2/3, recall 2/3 -> F1 2/3
    assert f1_score("b b c", "b c c") == pytest.approx(2 / 3)
    assert f1_score("north", "south") == 0.0


def test_the_best_gold_answer_counts() -> None:
    golds = ["Santa Clara, California", "Levi's Stadium", "Levi's Stadium in the San Francisco"]
    em, f1 = best_scores("Levi's Stadium", golds)
    assert em == 1.0 and f1 == 1.0
    em, f1 = best_scores("Stadium in Santa Clara", golds)
    # vs gold 1: common {santa, clara} = 2; P 2/4, R 2/3 -> 4/7; vs gold 3: {stadium, in}
    # = 2 ("the" dropped: gold 3 = levis stadium in san francisco); P 2/4, R 2/5 -> 4/9
    assert em == 0.0 and f1 == pytest.approx(4 / 7)


def test_no_answer_cases() -> None:
    assert best_scores("", []) == (1.0, 1.0)  # rightly abstained
    assert best_scores("Paris", []) == (0.0, 0.0)  # answered an unanswerable question
    assert best_scores("", ["Paris"]) == (0.0, 0.0)  # abstained on an answerable one
    assert best_scores("", ["the", ""]) == (1.0, 1.0)  # golds empty after normalisation


def test_v1_data_keeps_the_v1_scripts_rule_for_golds_that_normalise_to_nothing() -> None:
    """s29a F2: a gold answer of only an article or punctuation. The v1.1 script keeps it and
    finds no shared token (F1 0; exact match still 1); v2.0 drops it (an empty gold: F1 1)."""
    cases = [("The", ["the"]), ("a", ["A"]), ("", ["."]), ("the cat", ["the", "cat"])]
    v1 = [best_scores(p, g, version_2_with_negative=False) for p, g in cases]
    v2 = [best_scores(p, g, version_2_with_negative=True) for p, g in cases]
    assert v1 == [(1.0, 0.0), (1.0, 0.0), (1.0, 0.0), (1.0, 1.0)]  # "the cat" is "cat"
    assert v2 == [(1.0, 1.0), (1.0, 1.0), (1.0, 1.0), (1.0, 1.0)]
    references = {"q1": ["the"], "q2": ["Paris"]}
    predictions = {"q1": "The", "q2": "Paris"}
    assert squad_scores(predictions, references)["f1"] == pytest.approx(50.0)  # v1.1's number
    assert squad_scores(predictions, references, version_2_with_negative=True)["f1"] == 100.0


def test_squad_scores_percentages_and_v2_splits() -> None:
    references = {"q1": ["Paris"], "q2": ["the red car", "red car"], "q3": [], "q4": []}
    predictions = {"q1": "paris.", "q2": "car", "q3": "", "q4": "Rome"}
    scores = squad_scores(predictions, references, version_2_with_negative=True)
    # EM: q1 1, q2 0, q3 1, q4 0 -> 50. F1: q1 1, q2 (P 1, R 1/2 -> 2/3), q3 1, q4 0.
    assert scores["exact_match"] == pytest.approx(50.0)
    assert scores["f1"] == pytest.approx(100 * (1 + 2 / 3 + 1 + 0) / 4)
    assert scores["has_answer_exact_match"] == pytest.approx(50.0)
    assert scores["has_answer_f1"] == pytest.approx(100 * (1 + 2 / 3) / 2)
    assert scores["no_answer_exact_match"] == scores["no_answer_f1"] == pytest.approx(50.0)
    assert scores["total"] == 4 and scores["has_answer_total"] == scores["no_answer_total"] == 2
    v1 = squad_scores({"q1": "Paris"}, {"q1": ["Paris"], "q2": ["Rome"]})
    assert v1 == {"exact_match": 50.0, "f1": 50.0, "total": 2.0}  # a missing prediction is 0


# --------------------------------------------------------------------------- windows
@pytest.fixture(scope="module")
def tokenizer() -> Any:
    from transformers import AutoTokenizer

    from lab.config.paths import package_path

    return AutoTokenizer.from_pretrained(package_path("lab", "assets/tiny_bert"))


# 40 words that are single tokens of the tiny vocabulary: token i of the context is WORDS[i].
# fmt: off
WORDS = [
    "coffee", "soup", "bread", "hotel", "room", "film", "story", "concert", "salad", "pasta",
    "wine", "tea", "dessert", "museum", "tour", "lecture", "game", "novel", "lamp", "chair",
    "keyboard", "blender", "screen", "bed", "machine", "shoes", "puzzle", "battery", "kind",
    "witty", "friendly", "patient", "rude", "lazy", "clever", "wise", "clumsy", "smug",
    "waiter", "staff",
]
# fmt: on


def _module(tokenizer: Any, **kwargs: Any) -> QuestionAnsweringDataModule:
    return QuestionAnsweringDataModule(tokenizer, path="unused", **kwargs)


def _batch(context_words: list[str], answer_tokens: tuple[int, int]) -> dict[str, list[Any]]:
    context = " ".join(context_words)
    first, last = answer_tokens
    text = " ".join(context_words[first : last + 1])
    start = len(" ".join(context_words[:first])) + (1 if first else 0)
    assert context[start : start + len(text)] == text
    return {
        "id": ["q0"],
        "question": ["  how was the soup"],  # leading spaces are stripped
        "context": [context],
        "answers": [{"text": [text], "answer_start": [start]}],
    }


def test_a_late_answer_is_labelled_in_later_windows_and_cls_in_earlier(tokenizer: Any) -> None:
    # max_length 24 - 3 special tokens - 5 question tokens (h ##ow was the soup) = 16 context
    # tokens per window; stride 8: windows cover context tokens 0-15, 8-23, 16-31, 24-39.
    datamodule = _module(tokenizer, max_length=24, doc_stride=8)
    features = datamodule.tokenize(_batch(WORDS, (20, 21)))
    assert len(features["input_ids"]) == 4
    assert tokenizer.convert_ids_to_tokens(features["input_ids"][0][:7]) == [
        "[CLS]", "h", "##ow", "was", "the", "soup", "[SEP]",
    ]  # fmt: skip
    spans = list(zip(features["start_positions"], features["end_positions"], strict=True))
    assert spans[0] == (CLS_INDEX, CLS_INDEX) and spans[3] == (CLS_INDEX, CLS_INDEX)
    # Window 2 starts at context token 8 (input position 7): token 20 sits at 7 + 12 = 19.
    assert spans[1] == (19, 20) and spans[2] == (11, 12)
    for i in (1, 2):
        start, end = spans[i]
        ids = features["input_ids"][i][start : end + 1]
        assert tokenizer.decode(ids) == "keyboard blender"
        offsets = features["offset_mapping"][i]
        context = _batch(WORDS, (20, 21))["context"][0]
        assert context[offsets[start][0] : offsets[end][1]] == "keyboard blender"
    assert all(f == "q0" for f in features["example_id"])


def test_an_answer_across_a_window_boundary_is_labelled_only_where_it_is_whole(
    tokenizer: Any,
) -> None:
    datamodule = _module(tokenizer, max_length=24, doc_stride=8)
    # Context tokens 14-17: window 1 (0-15) holds only half of it, window 2 (8-23) all.
    features = datamodule.tokenize(_batch(WORDS[:30], (14, 17)))
    spans = list(zip(features["start_positions"], features["end_positions"], strict=True))
    assert spans[0] == (CLS_INDEX, CLS_INDEX)
    start, end = spans[1]
    assert tokenizer.decode(features["input_ids"][1][start : end + 1]) == " ".join(WORDS[14:18])
    assert spans[2] == (CLS_INDEX, CLS_INDEX)  # window 3 (16-29) holds only its tail


def test_offsets_are_masked_outside_the_context(tokenizer: Any) -> None:
    datamodule = _module(tokenizer, max_length=24, doc_stride=8)
    features = datamodule.tokenize(_batch(WORDS[:10], (2, 2)))
    offsets = features["offset_mapping"][0]
    assert offsets[:7] == [None] * 7 and offsets[-1] is None  # [CLS] question [SEP] / [SEP]
    assert all(o is not None for o in offsets[7:-1])


def test_answer_token_span_by_hand() -> None:
    # [CLS] q [SEP] "ab" "cd" "ef" [SEP]: context characters 0-2, 3-5, 6-8
    offsets = [(0, 0), (0, 1), (0, 0), (0, 2), (3, 5), (6, 8), (0, 0)]
    sequence_ids = [None, 0, None, 1, 1, 1, None]
    assert answer_token_span(offsets, sequence_ids, 3, 8) == (4, 5)
    assert answer_token_span(offsets, sequence_ids, 0, 2) == (3, 3)
    assert answer_token_span(offsets, sequence_ids, 6, 12) == (CLS_INDEX, CLS_INDEX)  # cut off


def test_unanswerable_questions_target_the_classification_token(tokenizer: Any) -> None:
    datamodule = _module(tokenizer, max_length=24, doc_stride=8, version_2_with_negative=True)
    batch = _batch(WORDS, (3, 3)) | {"answers": [{"text": [], "answer_start": []}]}
    features = datamodule.tokenize(batch)
    assert set(features["start_positions"]) == set(features["end_positions"]) == {CLS_INDEX}


def test_a_question_longer_than_the_window_allows_is_named(tokenizer: Any) -> None:
    datamodule = _module(tokenizer, max_length=16, doc_stride=8)
    with pytest.raises(DataError, match=r"question id q0 has .* tokens"):
        datamodule.tokenize(_batch(WORDS, (3, 3)) | {"question": ["how was " * 4]})
    with pytest.raises(ConfigError, match="doc_stride"):
        _module(tokenizer, max_length=16, doc_stride=16)


# --------------------------------------------------------------------------- postprocessing
def _window(qid: str, start: list[float], end: list[float], context_from: int = 1) -> Window:
    # token i covers characters 2i..2i+1 of the context; tokens before `context_from` and the
    # last one are not context (CLS, question, SEP)
    n = len(start)
    offsets = [(2 * i, 2 * i + 1) if context_from <= i < n - 1 else None for i in range(n)]
    return Window(qid, offsets, np.array(start), np.array(end))


CONTEXT = "a b c d e f g h i j k l"  # token i -> letter i


def test_the_best_span_over_all_windows_wins() -> None:
    windows = [
        _window("q", [0, 5, 1, 0, 0, 0], [0, 0, 1, 4, 0, 0]),  # best: 1..3 = "b c d", 9
        _window("other", [0, 9, 0, 0], [0, 0, 9, 0]),
        _window("q", [0, 0, 0, 6, 0, 0], [0, 0, 0, 0, 5, 0]),  # best: 3..4 = "d e", 11
    ]
    answers = postprocess_predictions(windows, {"q": CONTEXT, "other": CONTEXT})
    assert answers == {"q": "d e", "other": "b c"}


def test_spans_must_be_in_context_ordered_and_short_enough() -> None:
    # The highest logits sit on CLS (0) and on a question token (1); end before start (4 > 2)
    window = _window("q", [9, 8, 0, 1, 7, 0, 0], [9, 8, 6, 0, 0, 0.5, 0], context_from=2)
    assert best_span(window) == (7.5, 4, 5)  # start 4 (7) + end 5 (0.5); 4 + 2 is reversed
    assert best_span(window, max_answer_length=1) == (7.0, 4, 4)  # one-token spans only
    # 3 best starts: 0, 1, 4; 3 best ends: 0, 1, 2: no valid pair among them; the 4th best
    # end (5, logit 0.5) makes one
    assert best_span(window, n_best_size=3) is None
    assert best_span(window, n_best_size=4) == (7.5, 4, 5)
    answers = postprocess_predictions([window], {"q": CONTEXT}, max_answer_length=2)
    assert answers == {"q": "e f"}


def test_v2_answers_nothing_when_the_null_score_wins_by_more_than_the_threshold() -> None:
    # null score = 3 + 3 = 6 in window 1, 1 + 1 = 2 in window 2 (the minimum counts);
    # best span: "b" with 2 + 2 = 4 in window 1.
    windows = [
        _window("q", [3, 2, 0, 0], [3, 2, 0, 0]),
        _window("q", [1, 0, 0, 0], [1, 0, 0, 0]),
    ]
    contexts = {"q": CONTEXT}
    assert postprocess_predictions(windows, contexts, version_2_with_negative=True) == {"q": "b"}
    # with window 1 alone the null score is 6: 6 - 4 = 2 > 0 -> no answer, unless threshold >= 2
    alone = windows[:1]
    assert postprocess_predictions(alone, contexts, version_2_with_negative=True) == {"q": ""}
    assert postprocess_predictions(
        alone, contexts, version_2_with_negative=True, null_score_diff_threshold=2.0
    ) == {"q": "b"}
    assert postprocess_predictions(alone, contexts) == {"q": "b"}  # v1 always answers


def test_gathered_logits_find_their_features_in_any_order() -> None:
    from datasets import Dataset

    features = Dataset.from_dict(
        {
            "example_id": ["a", "a", "b"],
            "offset_mapping": [
                [None, [0, 2], [3, 5], None],
                [None, [3, 5], None],
                [None, [0, 1], None],
            ],
        }
    )
    metric = SpanLogits()
    # feature 2 first, then 0 and 1 together, right-padded to 4 tokens
    metric.update(torch.tensor([2]), torch.tensor([[0.0, 5, 0]]), torch.tensor([[0.0, 5, 0]]),
                  torch.tensor([[1, 1, 1]]))  # fmt: skip
    metric.update(
        torch.tensor([0, 1]),
        torch.tensor([[0.0, 1, 2, 0], [0, 9, 0, -1]]),
        torch.tensor([[0.0, 0, 3, 0], [0, 9, 0, -1]]),
        torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]]),
    )
    windows = list(windows_from_logits(features, *metric.compute()))
    assert [w.example_id for w in windows] == ["a", "a", "b"]
    assert [len(w.start_logits) for w in windows] == [4, 3, 3]
    answers = postprocess_predictions(windows, {"a": "xy zw", "b": "qq"})
    assert answers == {"a": "zw", "b": "q"}  # window 2 of "a" (9 + 9 on chars 3-5) wins


# --------------------------------------------------------------------------- data
def _datamodule(compose_cfg: Any, *overrides: str) -> QuestionAnsweringDataModule:
    from hydra.utils import instantiate

    cfg = compose_cfg(*FIXTURE_DATA, *overrides)
    tokenizer = instantiate(cfg.model.tokenizer)
    return instantiate(cfg.data, tokenizer=tokenizer, _convert_="all")  # type: ignore[no-any-return]


def test_fixture_contexts_need_several_windows(compose_cfg: Any) -> None:
    datamodule = _datamodule(compose_cfg)
    datamodule.setup("fit")
    assert datamodule.raw_sizes == {"train": 90, "validation": 20, "test": 20}
    test = datamodule.references["test"]
    windows = datamodule.datasets["test"]["example_id"]
    assert len(windows) > 2 * len(test.ids)  # long contexts: several windows each
    assert set(windows) == set(test.ids)
    assert datamodule.datasets["test"]["feature_index"] == list(range(len(windows)))
    train = datamodule.datasets["train"]
    labelled = [s for s in train["start_positions"] if s != CLS_INDEX]
    assert 90 <= len(labelled) < len(train)  # some windows hold no answer
    batch = datamodule.collate_fn()(
        [datamodule.datasets["test"][0], datamodule.datasets["test"][1]]
    )
    assert set(batch) == {"input_ids", "token_type_ids", "attention_mask", "start_positions",
                          "end_positions", "feature_index"}  # fmt: skip


def test_squad_json_loads_the_same_examples_as_flattened_rows(compose_cfg: Any) -> None:
    flat = _datamodule(compose_cfg)
    original = _datamodule(compose_cfg, f"data.path={SQUAD / 'json'}")  # train/dev/test.json
    flat.setup("fit")
    original.setup("fit")
    assert original.split_fingerprints == flat.split_fingerprints  # the same rows, byte for byte
    for split in ("validation", "test"):
        a, b = flat.references[split], original.references[split]
        for field in ("ids", "questions", "contexts", "answers"):
            assert getattr(a, field) == getattr(b, field)
    assert original.datasets["train"]["input_ids"] == flat.datasets["train"]["input_ids"]


def test_squad_json_files_are_found_by_their_official_names(tmp_path: Path) -> None:
    document = (SQUAD / "json" / "train.json").read_text()
    (tmp_path / "train-v1.1.json").write_text(document)
    (tmp_path / "dev-v1.1.json").write_text(document)
    (tmp_path / "notes.txt").write_text("not data")
    assert squad_json_files(tmp_path) == {
        "train": tmp_path / "train-v1.1.json",
        "validation": tmp_path / "dev-v1.1.json",
    }
    assert squad_json_files(tmp_path / "dev-v1.1.json") == {"train": tmp_path / "dev-v1.1.json"}
    assert squad_json_files(SQUAD) == {}  # flattened .jsonl rows: the generic loader's job
    lines = tmp_path / "lines"
    lines.mkdir()
    (lines / "train.json").write_text((SQUAD / "train.jsonl").read_text())  # JSON lines
    assert squad_json_files(lines) == {}
    (tmp_path / "test.jsonl").write_text((SQUAD / "test.jsonl").read_text())
    with pytest.raises(
        DataError, match=r"mixes SQuAD JSON .* with other data files \(test.jsonl\)"
    ):
        squad_json_files(tmp_path)
    (tmp_path / "test.jsonl").unlink()
    (tmp_path / "dev-v2.0.json").write_text("\ufeff" + document)  # a byte-order mark, too
    with pytest.raises(DataError, match="two files for the validation split"):
        squad_json_files(tmp_path)


def test_squad_json_marks_impossible_questions_unanswerable() -> None:
    document = {
        "version": "v2.0",
        "data": [
            {
                "title": "T",
                "paragraphs": [
                    {
                        "context": "Oslo is cold.",
                        "qas": [
                            {"id": "1", "question": "Where?",
                             "answers": [{"text": "Oslo", "answer_start": 0}]},
                            {"id": "2", "question": "Who?", "answers": [], "is_impossible": True,
                             "plausible_answers": [{"text": "Oslo", "answer_start": 0}]},
                        ],
                    }
                ],
            }
        ],
    }  # fmt: skip
    rows = squad_json_rows(document)
    assert [r["answers"] for r in rows] == [
        {"text": ["Oslo"], "answer_start": [0]},
        {"text": [], "answer_start": []},
    ]
    assert rows[0] | {"answers": None} == {
        "id": "1", "title": "T", "context": "Oslo is cold.", "question": "Where?", "answers": None,
    }  # fmt: skip
    with pytest.raises(DataError, match=r"data\[0\].paragraphs\[0\].qas\[0\] lacks question"):
        squad_json_rows({"data": [{"paragraphs": [{"context": "x", "qas": [{"id": "1"}]}]}]})


GOOD = {"id": "g", "context": "the soup was cold", "question": "how was the soup",
        "answers": {"text": ["cold"], "answer_start": [13]}}  # fmt: skip


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            GOOD | {"id": "bad", "answers": {"text": ["cold"], "answer_start": [12]}},
            r"train\.jsonl:2 column 'answers' \(id bad\): answer 'cold' is not at "
            r"answer_start 12 .*found ' col'",
        ),
        (
            GOOD | {"id": "far", "answers": {"text": ["cold"], "answer_start": [40]}},
            r"train\.jsonl:2 column 'answers' \(id far\): .*out of range: the context has 17 "
            r"characters",
        ),
        (
            GOOD | {"id": "nq", "question": " "},
            r"train\.jsonl:2 column 'question' \(id nq\): empty question",
        ),
    ],
)
def test_bad_rows_are_named(compose_cfg: Any, tmp_path: Path, row: dict, message: str) -> None:
    (tmp_path / "train.jsonl").write_text(json.dumps(GOOD) + "\n" + json.dumps(row) + "\n")
    for split in ("validation", "test"):
        (tmp_path / f"{split}.jsonl").write_text(json.dumps(GOOD) + "\n")
    datamodule = _datamodule(compose_cfg, f"data.path={tmp_path}")
    with pytest.raises(DataError, match=message):
        datamodule.setup("fit")


def test_missing_columns_are_named_with_those_present(compose_cfg: Any, tmp_path: Path) -> None:
    row = {k: v for k, v in GOOD.items() if k != "answers"} | {"answer": "cold"}
    for split in ("train", "validation", "test"):
        (tmp_path / f"{split}.jsonl").write_text(json.dumps(row) + "\n")
    datamodule = _datamodule(compose_cfg, f"data.path={tmp_path}")
    expected = (
        r"column 'answers' \(data.answers_column\) is not in the train split; "
        r"columns present: id, context, question, answer"
    )
    with pytest.raises(DataError, match=expected):
        datamodule.setup("fit")


def test_data_without_ids_is_refused_with_the_way_out_or_numbered(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """No `id` column: the refusal says how to do without (`data.id_column=null` gave a
    column 'None'); with it, each split's questions are numbered and bad rows keep their line."""
    row = {k: v for k, v in GOOD.items() if k != "id"}
    bad = row | {"answers": {"text": ["cold"], "answer_start": [12]}}
    (tmp_path / "train.jsonl").write_text(json.dumps(row) + "\n" + json.dumps(row) + "\n")
    for split in ("validation", "test"):
        (tmp_path / f"{split}.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(DataError, match=r"columns present: context, question, answers; "
                       r"data.id_column=null numbers the questions instead$"):  # fmt: skip
        _datamodule(compose_cfg, f"data.path={tmp_path}").setup("fit")
    datamodule = _datamodule(compose_cfg, f"data.path={tmp_path}", "data.id_column=null")
    datamodule.setup("fit")
    assert datamodule.references["validation"].ids == ["validation-1"]
    assert datamodule.references["test"].ids == ["test-1"]
    (tmp_path / "test.jsonl").write_text(json.dumps(row) + "\n" + json.dumps(bad) + "\n")
    datamodule = _datamodule(compose_cfg, f"data.path={tmp_path}", "data.id_column=null")
    with pytest.raises(DataError, match=r"test\.jsonl:2 column 'answers' \(id test-2\): "):
        datamodule.setup("fit")


# --------------------------------------------------------------------------- training
@pytest.mark.slow
def test_tiny_qa_model_learns_the_fixture_and_exports_a_working_model(compose_cfg: Any) -> None:
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer, pipeline
    from transformers.pipelines import SUPPORTED_TASKS

    from lab.train import run

    cfg = compose_cfg(
        *FIXTURE_DATA,
        "logger=csv",
        "trainer.max_epochs=12",
        "trainer.log_every_n_steps=1",
        "optimizer.lr=3e-3",
        "scheduler.warmup_ratio=0.0",
    )
    metrics = run(cfg)
    run_dir = Path(cfg.paths.output_dir)
    assert {"val/f1", "val/exact_match", "test/f1", "test/exact_match", "val/loss"} <= set(metrics)
    assert not any("has_answer" in k for k in metrics)  # v1 data: no HasAns/NoAns split
    assert metrics["test/exact_match"] >= 30 and metrics["test/f1"] >= 30
    with open(run_dir / "csv" / "metrics.csv") as handle:
        losses = [float(r["train/loss"]) for r in csv.DictReader(handle) if r.get("train/loss")]
    assert sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5  # the loss went down
    report = json.loads((run_dir / "test_report.json").read_text())
    assert len(report["examples"]) == 5
    assert {"id", "question", "answers", "prediction"} <= set(report["examples"][0])

    # The exported folder loads as a plain transformers QA model and answers fixture questions.
    model = AutoModelForQuestionAnswering.from_pretrained(run_dir / "model")
    exported_tokenizer = AutoTokenizer.from_pretrained(run_dir / "model")
    rows = [json.loads(line) for line in (SQUAD / "test.jsonl").read_text().splitlines()]
    predicted = answer_questions(
        model,
        exported_tokenizer,
        [r["question"] for r in rows],
        [r["context"] for r in rows],
        max_length=64,
        doc_stride=16,
    )
    right = [p.text in r["answers"]["text"] for p, r in zip(predicted, rows, strict=True)]
    assert sum(right) >= 0.3 * len(rows)
    for answer, row in zip(predicted, rows, strict=True):  # spans index the context
        assert row["context"][answer.start : answer.end] == answer.text
        assert 0.0 <= answer.score <= 1.0
    if "question-answering" in SUPPORTED_TASKS:  # transformers < 5 still has the pipeline
        answerer = pipeline("question-answering", model=str(run_dir / "model"))
        row = rows[right.index(True)]
        result = answerer(question=row["question"], context=row["context"])
        assert row["context"][result["start"] : result["end"]] == result["answer"]


@pytest.mark.slow
def test_v2_data_scores_answerable_and_unanswerable_questions_apart(
    compose_cfg: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from lab.train import run

    v2_data = [o.replace("data=squad", "data=squad_v2") for o in FIXTURE_DATA]
    cfg = compose_cfg(
        *[o.replace(str(SQUAD), str(SQUAD_V2)) for o in v2_data],
        "logger=none",
        "callbacks=none",
        "trainer.max_epochs=2",
        "optimizer.lr=3e-3",
    )
    assert cfg.data.version_2_with_negative
    metrics = run(cfg)
    for stage in ("val", "test"):
        for group in ("has_answer", "no_answer"):
            assert 0 <= metrics[f"{stage}/{group}_f1"] <= 100
            assert f"{stage}/{group}_exact_match" in metrics
    # 20 test questions: 17 answerable, 3 not (a third of the "who" questions of 10 contexts,
    # rounded down: contexts 2, 5, 8)
    answerable, unanswerable = 17 / 20, 3 / 20
    overall = (
        answerable * metrics["test/has_answer_f1"] + unanswerable * metrics["test/no_answer_f1"]
    )
    assert metrics["test/f1"] == pytest.approx(overall, rel=1e-12)  # doubles, not float32
    # The no-answer threshold is tuned after training with lab.eval: at -1e6 the null score
    # always wins, so every question gets "" (the 3 unanswerable ones right, no other).
    from lab.eval import main as evaluate

    out = Path(cfg.paths.output_dir) / "tuned.json"
    threshold = "task.module.null_score_diff_threshold=-1e6"
    capsys.readouterr()
    assert evaluate([f"run={cfg.paths.output_dir}", threshold, f"output={out}"]) == 0
    printed = capsys.readouterr().out
    assert f"Settings: {threshold}" in printed
    # the recorded column was decoded with the run's own threshold: said under the table
    assert "at train time*" in printed
    assert "* at train time with the run's own task.module.null_score_diff_threshold=0.0" in printed
    tuned = json.loads(out.read_text())
    assert tuned["task_module"] == [threshold]
    assert tuned["metrics"]["test/no_answer_exact_match"] == 100.0
    assert tuned["metrics"]["test/has_answer_exact_match"] == 0.0
    assert tuned["metrics"]["test/exact_match"] == pytest.approx(100 * unanswerable)
    with pytest.raises(ConfigError, match=r"'task.module.null_score' is not a setting lab.eval "
                       r"changes; valid: .*task.module.null_score_diff_threshold"):  # fmt: skip
        evaluate([f"run={cfg.paths.output_dir}", "task.module.null_score=1"])


def test_decided_answer_has_its_character_span_and_window_probability() -> None:
    """The span is cut from the context by offsets; the probability is softmax(start) x
    softmax(end) over the window, worked out by hand here."""
    import math

    from lab.tasks.question_answering.decoding import Answer, decide_answers

    window = Window("q", [None, (0, 1), (2, 3)], [0.0, 2.0, 0.0], [0.0, 0.0, 2.0])
    (answer,) = decide_answers([window], {"q": "a b"}).values()
    share = math.exp(2) / (2 + math.exp(2))
    assert answer == Answer("a b", 0, 3, pytest.approx(share * share))
    # v2: a null score above the span's abstains with the null (CLS, CLS) probability.
    null_window = Window("q", [None, (0, 1), (2, 3)], [5.0, 0.0, 0.0], [5.0, 0.0, 0.0])
    decided = decide_answers([null_window], {"q": "a b"}, version_2_with_negative=True)
    (abstained,) = decided.values()
    cls_share = math.exp(5) / (math.exp(5) + 2)
    assert abstained == Answer("", 0, 0, pytest.approx(cls_share * cls_share))


@pytest.mark.slow
def test_ddp_ranks_share_windows_and_score_each_question_once(
    tmp_path: Path, compose_cfg: Any
) -> None:
    """Two CPU processes split the test windows between them (a question's windows can land
    on both ranks); the gathered scores equal one process evaluating the exported model."""
    from lab.eval import evaluate, evaluation_config
    from lab.run_dir.runs import open_run

    train_on_two_cpu_ranks(
        *FIXTURE_DATA,
        "trainer.max_epochs=6",
        "optimizer.lr=3e-3",
        "scheduler.warmup_ratio=0.0",
        "data.batch_size=8",
        "callbacks=none",
        cwd=tmp_path,
    )
    (run_dir,) = (tmp_path / "out").glob("runs/*/*")
    distributed = json.loads((run_dir / "metrics.json").read_text())
    assert distributed["test/f1"] > 0  # a comparison of zeros would prove nothing
    run = open_run(run_dir)
    single, report = evaluate(run, evaluation_config(run, [], None))
    assert len(report["examples"]) == 5
    for name in ("test/exact_match", "test/f1", "test/loss"):
        assert distributed[name] == pytest.approx(single[name], rel=1e-5, abs=1e-5), name


# --------------------------------------------------------------------------- package layout
def test_predictor_and_decoding_import_without_lightning() -> None:
    """`lab.predict` / `lab.serve` import the head's predictor: it must not pull in Lightning
    (a fresh interpreter, since this one has long imported it). The masked-LM package head
    (`lab.tasks.masked_lm`) is checked here too, in the same interpreter."""
    import subprocess
    import sys

    code = (
        "import json, sys\n"
        "import lab.tasks.question_answering.predictor\n"
        "import lab.tasks.question_answering.decoding\n"
        "from lab.tasks.question_answering import answer_questions\n"
        "import lab.tasks.masked_lm.predictor\n"
        "from lab.tasks.masked_lm import FillMaskPredictor, mask_tokens\n"
        "training = {'lightning', 'pytorch_lightning'}\n"
        "packages = ('lab.tasks.question_answering.', 'lab.tasks.masked_lm.')\n"
        "heavy = {package + name for package in packages for name in ('module', 'data')}\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in training\n"
        "    or m in heavy)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_old_dotted_names_of_the_single_file_head_still_resolve() -> None:
    """Run directories written before the package name the classes by their old paths in
    config.yaml; `lab.eval` and `lab.train run=...` instantiate them by those names."""
    from hydra.utils import get_class

    import lab.tasks.question_answering as package
    from lab.tasks.question_answering import decoding
    from lab.tasks.question_answering.data import QuestionAnsweringDataModule as DataModule
    from lab.tasks.question_answering.module import QuestionAnsweringModule

    old = "lab.tasks.question_answering."
    assert get_class(old + "QuestionAnsweringModule") is QuestionAnsweringModule
    assert get_class(old + "QuestionAnsweringDataModule") is DataModule
    assert package.answer_questions is decoding.answer_questions
    assert {"QuestionAnsweringModule", "QuestionAnsweringDataModule"} <= set(dir(package))
    with pytest.raises(AttributeError, match="no attribute 'NoSuchThing'"):
        package.NoSuchThing  # noqa: B018


def test_task_yaml_predictor_answers_with_the_run_config(compose_cfg: Any) -> None:
    """`task.predictor` completes with (model, tokenizer, cfg) and windows as the run did:
    its answers equal `answer_questions` called with the run's lengths (64 / 16 here)."""
    from hydra.utils import instantiate

    from lab.inference.predictors import Predictor

    cfg: Any = compose_cfg(*FIXTURE_DATA)
    assert cfg.task.pipeline_tag == "question-answering"
    assert cfg.task.pin_label_names is False and dict(cfg.task.report_plots) == {}
    torch.manual_seed(0)
    model = instantiate(cfg.model.network)(head=cfg.task.head).eval()
    tokenizer = instantiate(cfg.model.tokenizer)
    predictor = instantiate(cfg.task.predictor)(model=model, tokenizer=tokenizer, cfg=cfg)
    assert isinstance(predictor, Predictor)
    assert predictor.fields == ("question", "context")
    rows = [json.loads(line) for line in (SQUAD / "test.jsonl").read_text().splitlines()]
    results = predictor.predict(rows)
    expected = answer_questions(
        model,
        tokenizer,
        [r["question"] for r in rows],
        [r["context"] for r in rows],
        max_length=64,
        doc_stride=16,
    )
    assert [list(r) for r in results] == [["answer", "start", "end", "score"]] * len(rows)
    for result, answer, row in zip(results, expected, rows, strict=True):
        assert (result["answer"], result["start"], result["end"]) == answer[:3]
        assert result["score"] == pytest.approx(answer.score)
        assert row["context"][result["start"] : result["end"]] == result["answer"]
    # Windows of 64 tokens, not the tokenizer's 512: some fixture contexts need several.
    assert max(len(tokenizer(r["question"], r["context"])["input_ids"]) for r in rows) > 64


def test_the_readme_snippet_answers_as_lab_predict_does(compose_cfg: Any, tmp_path: Path) -> None:
    """README (extractive QA, "Using the exported model"): `answer_questions` with the settings
    its snippet reads from the run's config.yaml (64-token windows, stride 16, v2) answers as
    lab.predict's predictor does; its defaults (384 / 128, v1) score otherwise."""
    import re

    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    options = [o.replace("data=squad", "data=squad_v2") for o in FIXTURE_DATA]
    cfg: Any = compose_cfg(*[o.replace(str(SQUAD), str(SQUAD_V2)) for o in options])
    assert cfg.data.version_2_with_negative is True
    torch.manual_seed(0)
    model = instantiate(cfg.model.network)(head=cfg.task.head).eval()
    tokenizer = instantiate(cfg.model.tokenizer)
    run = tmp_path / "run"
    model.save_pretrained(run / "model")
    tokenizer.save_pretrained(run / "model")
    # as lab.train writes it (lab.run_dir.records), the parts the snippet reads
    (run / "config.yaml").write_text(
        OmegaConf.to_yaml(
            {
                "data": OmegaConf.to_container(cfg.data, resolve=True),
                "task": {"module": OmegaConf.to_container(cfg.task.module, resolve=True)},
            }
        )
    )
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme[readme.index("### Extractive question answering") :]
    section = section[section.index("**Using the exported model.**") :]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found is not None
    code = found.group(1)
    example = '["Who wrote it?"], ["It was written by Ann Lee."]'
    assert '"outputs/runs/<date>/<time>"' in code and example in code
    code = code.replace('"outputs/runs/<date>/<time>"', repr(str(run)))
    rows = [json.loads(line) for line in (SQUAD_V2 / "test.jsonl").read_text().splitlines()]
    scope: dict[str, Any] = {
        "questions": [r["question"] for r in rows],
        "contexts": [r["context"] for r in rows],
    }
    exec(code.replace(example, "questions, contexts"), scope)  # the README's own code

    predictor = instantiate(cfg.task.predictor)(model=model, tokenizer=tokenizer, cfg=cfg)
    predicted = predictor.predict(rows)
    got = [(a.text, a.start, a.end) for a in scope["answers"]]
    assert got == [(p["answer"], p["start"], p["end"]) for p in predicted]
    assert [a.score for a in scope["answers"]] == pytest.approx([p["score"] for p in predicted])
    defaults = answer_questions(model, tokenizer, scope["questions"], scope["contexts"])
    assert [a.score for a in defaults] != pytest.approx([p["score"] for p in predicted])


def test_a_bad_answer_in_squad_json_names_the_json_file_and_question(
    compose_cfg: Any, tmp_path: Path
) -> None:
    def document(*answers: tuple[str, int]) -> str:
        qas = [
            {"id": f"q{i}", "question": "how was the soup",
             "answers": [{"text": text, "answer_start": start}]}
            for i, (text, start) in enumerate(answers)
        ]  # fmt: skip
        paragraph = {"context": "the soup was cold", "qas": qas}
        return json.dumps({"version": "1.1", "data": [{"title": "t", "paragraphs": [paragraph]}]})

    (tmp_path / "train.json").write_text(document(("cold", 13), ("cold", 12)))
    (tmp_path / "dev.json").write_text(document(("cold", 13)))
    datamodule = _datamodule(compose_cfg, f"data.path={tmp_path}", "data.splits.test=validation")
    with pytest.raises(DataError) as refused:
        datamodule.setup("fit")
    message = str(refused.value)
    # The user's file and the question's position in it, not lab's flattened copy in the cache.
    assert message.startswith(f"{tmp_path / 'train.json'} question 2 (1-based) column 'answers'")
    assert "(id q1)" in message and "answer_start 12" in message


def test_a_csv_answers_cell_that_is_not_json_says_what_it_must_be() -> None:
    """pandas' to_csv of the Hub's Parquet writes the struct's Python repr."""
    cell = "{'text': array(['Vienna'], dtype=object), 'answer_start': array([26], dtype=int32)}"
    with pytest.raises(ValueError) as caught:
        answer_lists(cell)
    assert str(caught.value).startswith(f"{cell[:60]!r}... is not JSON (Expecting property name")
    assert str(caught.value).endswith(
        'in a CSV file `answers` is JSON: {"text": [...], "answer_start": [...]} (write it with '
        "json.dumps, or keep the data as JSON lines or Parquet)"
    )
    assert answer_lists('{"text": ["Vienna"], "answer_start": [26]}') == (["Vienna"], [26])
