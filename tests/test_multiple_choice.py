"""Multiple choice (SWAG and HellaSwag layouts): the pairing of context, prefix and endings by
hand, both column layouts, bad rows in words before any weights load, a tiny model that
learns the fixture, `lab.eval` / `lab.predict` / `lab.export` / `lab.serve` on its run, and
DDP over two CPU ranks agreeing with one process.

The fixture (tests/fixtures/multiple_choice, written by its make_fixtures.py) holds the same
questions in both layouts: a context naming food or a story, four endings, one of the same kind.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from lab.errors import DataError
from lab.train import run

from conftest import FIXTURES, http_json, serving, train_on_two_cpu_ranks

FIXTURE = FIXTURES / "multiple_choice"
ROOT = Path(__file__).resolve().parent.parent
SPLITS = ["data.splits.validation=validation", "data.splits.test=test"]
SWAG_RUN = ["model=tiny_bert", "data=swag", f"data.path={FIXTURE / 'swag'}", *SPLITS]
HELLASWAG_RUN = [
    "model=tiny_bert", "data=hellaswag", f"data.path={FIXTURE / 'hellaswag'}", *SPLITS,
]  # fmt: skip
# 600 steps: enough for the tiny model to find the pairing whatever the seed (tried 15 of 15
# seed x data-sample draws at 1.0 test accuracy; 4 choices, so chance is 0.25).
LEARN = ["logger=csv", "data.batch_size=8", "optimizer.lr=1e-3", "trainer.max_epochs=12"]


def _datamodule(compose_cfg: Any, *overrides: str) -> Any:
    from hydra.utils import instantiate

    cfg = compose_cfg(*overrides)
    tokenizer = instantiate(cfg.model.tokenizer)
    datamodule = instantiate(cfg.data, tokenizer=tokenizer, _convert_="all")
    datamodule.setup("fit")
    return datamodule


def _write_splits(folder: Path, rows: list[dict[str, Any]], suffix: str = ".jsonl") -> Path:
    """The same rows as train, validation and test files (jsonl, or csv with a header)."""
    folder.mkdir(exist_ok=True)
    if suffix == ".jsonl":
        text = "".join(json.dumps(r) + "\n" for r in rows)
    else:
        header = list(rows[0])
        text = (
            ",".join(header)
            + "\n"
            + "".join(",".join(str(r[k]) for k in header) + "\n" for r in rows)
        )
    for split in ("train", "validation", "test"):
        (folder / f"{split}{suffix}").write_text(text)
    return folder


# ---------------------------------------------------------------------------- pairing, layouts
def test_each_row_becomes_n_pairs_of_context_and_prefix_plus_ending(
    compose_cfg: Any, tmp_path: Path
) -> None:
    rows = [
        {"sent1": "the team loved the soup", "sent2": "the team",
         "ending0": "made the tea", "ending1": "kept the book", "ending2": "hated the film",
         "label": 0},
        {"sent1": "the kids hated the novel", "sent2": "",
         "ending0": "loved the wine", "ending1": "solved the puzzle", "ending2": "made the bread",
         "label": 1},
    ]  # fmt: skip
    _write_splits(tmp_path / "data", rows)
    datamodule = _datamodule(
        compose_cfg,
        "model=tiny_bert", "data=swag", f"data.path={tmp_path / 'data'}", *SPLITS,
        "data.ending_columns=[ending0,ending1,ending2]",
    )  # fmt: skip
    assert datamodule.num_choices == 3  # from the data: three ending columns
    tokenizer = datamodule.tokenizer
    encoded = [datamodule.datasets["train"][i] for i in range(2)]
    # By hand: the context is the first sequence, prefix + " " + ending the second; an
    # empty prefix adds nothing.
    for row, example in zip(rows, encoded, strict=True):
        endings = [row[f"ending{j}"] for j in range(3)]
        seconds = [f"{row['sent2']} {e}".strip() for e in endings]
        expected = [tokenizer(row["sent1"], s)["input_ids"] for s in seconds]
        assert example["input_ids"] == expected
        assert example["labels"] == row["label"]
    assert tokenizer.decode(encoded[0]["input_ids"][1]) == (
        "[CLS] the team loved the soup [SEP] the team kept the book [SEP]"
    )
    assert tokenizer.decode(encoded[1]["input_ids"][2]) == (
        "[CLS] the kids hated the novel [SEP] made the bread [SEP]"
    )
    # A batch: [questions, choices, tokens], padded to the longest pair of the batch.
    batch = datamodule.collate_fn()(encoded)
    longest = max(len(ids) for example in encoded for ids in example["input_ids"])
    assert batch["input_ids"].shape == (2, 3, longest)
    assert batch["attention_mask"].shape == batch["token_type_ids"].shape == (2, 3, longest)
    lengths = [[len(ids) for ids in example["input_ids"]] for example in encoded]
    assert batch["attention_mask"].sum(dim=-1).tolist() == lengths
    assert batch["labels"].tolist() == [0, 1]


def test_swag_and_hellaswag_layouts_load_the_same_questions(compose_cfg: Any) -> None:
    """SWAG columns (ending0..3, integer labels) and HellaSwag columns (a list of endings,
    labels as digit strings, ctx_b sometimes empty) give the same pairs' words and labels."""
    swag = _datamodule(compose_cfg, *SWAG_RUN)
    hellaswag = _datamodule(compose_cfg, *HELLASWAG_RUN)
    assert swag.num_choices == hellaswag.num_choices == 4
    lines = (FIXTURE / "hellaswag" / "test.jsonl").read_text().splitlines()
    raw = [json.loads(line) for line in lines]
    assert {r["label"] for r in raw} == {"0", "1", "2", "3"}  # strings in the file
    assert any(r["ctx_b"] == "" for r in raw)
    tokenizer = swag.tokenizer
    for split in ("train", "validation", "test"):
        a, b = swag.datasets[split], hellaswag.datasets[split]
        assert len(a) == len(b) == {"train": 400, "validation": 64, "test": 64}[split]
        assert a["labels"] == b["labels"]
        for i in range(0, len(a), 37):
            for ids_a, ids_b in zip(a[i]["input_ids"], b[i]["input_ids"], strict=True):
                words_a = tokenizer.decode(ids_a, skip_special_tokens=True)
                assert words_a == tokenizer.decode(ids_b, skip_special_tokens=True)
    assert hellaswag.datasets["test"]["labels"] == [int(r["label"]) for r in raw]


# ------------------------------------------------------------------------------------ bad rows
GOOD = {"sent1": "the team loved the soup", "sent2": "the team", "ending0": "made the tea",
        "ending1": "kept the book", "ending2": "hated the film", "ending3": "loved the pasta",
        "label": 0}  # fmt: skip
LISTED = {"ctx_a": "the team loved the soup", "ctx_b": "the team",
          "endings": ["made the tea", "kept the book", "hated the film", "loved the pasta"],
          "label": "0"}  # fmt: skip


@pytest.mark.parametrize(
    ("dataset", "rows", "suffix", "message"),
    [
        ("swag", [{k: v for k, v in GOOD.items() if k != "sent2"}] * 2, ".jsonl",
         r"column 'sent2' \(data.prefix_column\) is not in the train split; columns present: "
         r"sent1, ending0, ending1, ending2, ending3, label"),
        ("swag", [GOOD, {**GOOD, "label": 4}], ".jsonl",
         r"train\.jsonl:2 column 'label': label 4 is not an ending index 0..3$"),
        ("swag", [GOOD, {**GOOD, "label": -1}], ".jsonl",
         r"train\.jsonl:2 column 'label': label -1 .* 0..3 \(hidden test labels cannot be "
         r"scored\)"),
        ("hellaswag", [LISTED, {**LISTED, "label": "-1"}], ".jsonl",  # a string, as its labels
         r"train\.jsonl:2 column 'label': label '-1' .* 0..3 \(hidden test labels cannot be "
         r"scored\)"),
        ("swag", [GOOD, {**GOOD, "ending2": None}], ".jsonl",
         r"train\.jsonl:2 column 'ending2': ending 2 is None, not text"),
        ("swag", [GOOD, {**GOOD, "label": 1.0}, {**GOOD, "label": 1.5}], ".jsonl",  # floats
         r"train\.jsonl:3 column 'label': label 1.5 is not an ending index 0..3$"),
        ("hellaswag", [LISTED, {**LISTED, "endings": "cooks eggs"}], ".jsonl",
         r"train\.jsonl:2 column 'endings': 'cooks eggs' is not a list of 4 endings"),
        ("hellaswag", [LISTED, {**LISTED, "endings": ["a", 5, "b", "c"]}], ".jsonl",
         r"train\.jsonl:2 column 'endings': ending 1 is 5, not text"),
        ("hellaswag", [LISTED, {**LISTED, "endings": LISTED["endings"][:3]}], ".jsonl",
         r"train\.jsonl:2 column 'endings': 3 endings, expected 4"),
        ("hellaswag", [LISTED, {**LISTED, "label": "7"}], ".jsonl",
         r"train\.jsonl:2 column 'label': label '7' is not an ending index 0..3"),
        ("hellaswag", [{**LISTED, "endings": "a|b"}, {**LISTED, "endings": "c|d"}], ".csv",
         r"train\.csv column 'endings': holds text, not a list of endings"),
    ],
)  # fmt: skip
def test_bad_rows_are_named(
    compose_cfg: Any, tmp_path: Path, dataset: str, rows: list[Any], suffix: str, message: str
) -> None:
    folder = _write_splits(tmp_path / "data", rows, suffix)
    with pytest.raises(DataError, match=message):
        _datamodule(
            compose_cfg, "model=tiny_bert", f"data={dataset}", f"data.path={folder}", *SPLITS
        )


def test_bad_data_fails_before_any_weights_load(
    compose_cfg: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lab.training.models

    def must_not_load(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a model was built before the data was rejected")

    monkeypatch.setattr(lab.training.models, "head_from_config", must_not_load)
    folder = _write_splits(tmp_path / "data", [{**GOOD, "label": "0"}, {**GOOD, "label": "x"}])
    with pytest.raises(DataError, match=r"train\.jsonl:2 column 'label': label 'x'"):
        run(compose_cfg("model=tiny_bert", "data=swag", f"data.path={folder}", *SPLITS))


# ------------------------------------------------------------------------------ a trained model
@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, float]]:
    """A tiny model trained on the SWAG-layout fixture (best checkpoint exported)."""
    from lab.config import compose_train_config

    out = tmp_path_factory.mktemp("multiple_choice") / "run"
    metrics = run(compose_train_config([*SWAG_RUN, *LEARN], output_dir=out))
    return out, metrics


def _test_rows() -> list[dict[str, Any]]:
    lines = (FIXTURE / "swag" / "test.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def _logits(model_dir: Path, rows: list[dict[str, Any]]) -> torch.Tensor:
    """What the README shows: load the export without lab or a pipeline, pair, score."""
    from transformers import AutoModelForMultipleChoice, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForMultipleChoice.from_pretrained(model_dir).eval()
    scores = []
    for row in rows:
        endings = [row[f"ending{i}"] for i in range(4)]
        inputs = tokenizer(
            [row["sent1"]] * len(endings),
            [f"{row['sent2']} {e}" for e in endings],
            truncation=True,
            max_length=128,  # the run's data.max_length
            padding=True,
            return_tensors="pt",
        )
        with torch.no_grad():
            scores.append(model(**{k: v.unsqueeze(0) for k, v in inputs.items()}).logits[0])
    return torch.stack(scores)


@pytest.mark.slow
def test_a_tiny_model_learns_the_fixture(trained: tuple[Path, dict[str, float]]) -> None:
    run_dir, metrics = trained
    assert {"val/acc", "val/loss", "test/acc", "test/loss"} <= set(metrics)
    assert metrics["test/acc"] >= 0.9  # chance is 0.25
    report = json.loads((run_dir / "test_report.json").read_text())
    assert report["accuracy"] == pytest.approx(metrics["test/acc"], abs=1e-6)
    matrix = report["confusion_matrix"]
    assert len(matrix) == 4 and sum(map(sum, matrix)) == 64  # every test question, once
    rows = _test_rows()
    for shown, row in zip(report["examples"], rows, strict=False):
        assert shown["context"] == row["sent1"] and shown["prefix"] == row["sent2"]
        assert shown["endings"] == [row[f"ending{i}"] for i in range(4)]
        assert shown["gold"] == row["label"]
        assert shown["predicted"] == max(range(4), key=shown["probabilities"].__getitem__)
    assert len(report["examples"]) == 5
    assert (run_dir / "plots" / "choice_positions.png").read_bytes().startswith(b"\x89PNG")
    card = (run_dir / "model" / "README.md").read_text()
    assert "pipeline_tag: multiple-choice" in card


@pytest.mark.slow
def test_eval_predict_and_export_agree_with_the_run(
    trained: tuple[Path, dict[str, float]], tmp_path: Path
) -> None:
    from transformers import AutoModelForMultipleChoice

    from lab.eval import main as evaluate
    from lab.export import main as export
    from lab.predict import main as predict

    run_dir, metrics = trained
    # lab.eval on the run's own test split gives the recorded test metrics.
    out = tmp_path / "eval.json"
    assert evaluate([f"run={run_dir}", f"output={out}"]) == 0
    evaluated = json.loads(out.read_text())["metrics"]
    recorded = {k: v for k, v in metrics.items() if k.startswith("test/")}
    assert set(evaluated) == set(recorded)
    for name, value in recorded.items():
        assert evaluated[name] == pytest.approx(value, abs=1e-6), name

    # lab.predict: the test rows in the data's layout (one column per ending), then an
    # `endings` list, an `endings` JSON array (as a CSV cell holds it) and a bad row.
    rows = _test_rows()
    first = rows[0]
    endings = [first[f"ending{i}"] for i in range(4)]
    extra = [
        {"sent1": first["sent1"], "sent2": first["sent2"], "endings": endings},
        {"sent1": first["sent1"], "sent2": first["sent2"], "endings": json.dumps(endings)},
        {"sent1": first["sent1"], "endings": ["only one"]},
    ]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in [*rows, *extra]))
    predictions = tmp_path / "out.jsonl"
    assert predict([f"run={run_dir}", f"input={source}", f"output={predictions}"]) == 0
    results = [json.loads(line) for line in predictions.read_text().splitlines()]
    logits = _logits(run_dir / "model", rows)
    labels = [r["label"] for r in results[: len(rows)]]
    assert labels == logits.argmax(dim=-1).tolist()  # the labels the model gives
    for result, row, scores in zip(results, rows, logits, strict=False):
        assert result["ending"] == row[f"ending{result['label']}"]
        expected = torch.softmax(scores, dim=-1).tolist()
        assert result["probabilities"] == pytest.approx(expected, abs=1e-5)
    accuracy = sum(p == r["label"] for p, r in zip(labels, rows, strict=True)) / len(rows)
    assert accuracy == pytest.approx(metrics["test/acc"], abs=1e-6)
    listed, encoded, bad = results[len(rows) :]
    assert (listed["label"], listed["ending"]) == (results[0]["label"], results[0]["ending"])
    assert encoded["probabilities"] == pytest.approx(listed["probabilities"], abs=1e-6)
    assert [r["line"] for r in results] == list(range(1, len(rows) + 4))
    assert bad["error"] == (
        f"{source}:{len(rows) + 3}: field 'endings' must be a list of at least 2 endings"
    )

    # lab.export from the best checkpoint: a plain Hugging Face directory with the same logits.
    exported = tmp_path / "export"
    assert export([f"run={run_dir}", "checkpoint=best", f"output={exported}"]) == 0
    assert isinstance(AutoModelForMultipleChoice.from_pretrained(exported).eval(), torch.nn.Module)
    torch.testing.assert_close(_logits(exported, rows[:8]), logits[:8], atol=1e-5, rtol=1e-5)


@pytest.fixture
def server(trained: tuple[Path, dict[str, float]]) -> Iterator[str]:
    with serving(trained[0]) as (url, _):
        yield url


@pytest.mark.slow
def test_serve_answers_over_http(server: str, tmp_path: Path) -> None:
    status, health = http_json(f"{server}/health")
    assert (status, health["fields"]) == (200, ["sent1", "sent2", "endings"])
    # `truncated`: only in the result of a question with a pair cut (tests/test_cuts_mc_mlm.py)
    assert health["outputs"] == ["label", "ending", "probabilities", "truncated"]
    row = _test_rows()[0]
    endings = [row[f"ending{i}"] for i in range(4)]
    # The endings are a JSON list (or, as in a CSV cell, a JSON array in a string).
    question = {"sent1": row["sent1"], "sent2": row["sent2"], "endings": endings}
    status, answer = http_json(f"{server}/predict", question)
    assert status == 200, answer
    assert answer["ending"] == endings[answer["label"]]
    assert sum(answer["probabilities"]) == pytest.approx(1.0, abs=1e-5)
    as_string = {**question, "endings": json.dumps(endings)}
    status, batch = http_json(f"{server}/predict", {"inputs": [question, as_string]})
    assert status == 200 and batch["predictions"] == [answer, answer]
    # The prefix is optional: left out, each choice is the ending alone.
    no_prefix = {"sent1": row["sent1"], "endings": [f"{row['sent2']} {e}" for e in endings]}
    status, joined = http_json(f"{server}/predict", no_prefix)
    assert status == 200 and joined["label"] == answer["label"], joined
    status, reply = http_json(f"{server}/predict", {**question, "endings": ["one"]})
    assert status == 422 and "at least 2 endings" in reply["detail"][0]["msg"], reply
    status, reply = http_json(f"{server}/predict", {**question, "endings": []})
    assert status == 422, reply


# ----------------------------------------------------------------------------------------- DDP
# Dropout off: each DDP rank has its own RNG stream, so masks could not match one process.
NO_DROPOUT = [
    "+model.network.config.hidden_dropout_prob=0",
    "+model.network.config.attention_probs_dropout_prob=0",
    "optimizer.lr=1e-3",
    "trainer.max_epochs=2",
    "logger=csv",
    # 33 validation and test questions: two ranks cannot split them evenly, so a sampler
    # that repeated a question would change the metrics.
    "data.max_eval_samples=33",
    "data.max_test_samples=33",
]


@pytest.mark.slow
def test_ddp_on_two_cpu_ranks_gives_the_metrics_of_one_process(
    tmp_path: Path, compose_cfg: Any
) -> None:
    train_on_two_cpu_ranks(*SWAG_RUN, *NO_DROPOUT, "data.batch_size=8", cwd=tmp_path)
    (run_dir,) = list((tmp_path / "out").glob("runs/*/*"))  # rank 1 wrote into rank 0's
    rank_log = (run_dir / "train_ddp_process_1.log").read_text()
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in rank_log  # two ranks did train
    distributed = json.loads((run_dir / "metrics.json").read_text())
    # One process with the same global batch (2 x 8 = 16) and seed: the same model and metrics.
    single = run(compose_cfg(*SWAG_RUN, *NO_DROPOUT, "data.batch_size=16"))
    assert distributed.keys() == single.keys()
    assert {"test/acc", "test/loss", "val/acc"} <= set(single)
    for name, value in single.items():
        assert distributed[name] == pytest.approx(value, rel=1e-4, abs=1e-5), name
    report = json.loads((run_dir / "test_report.json").read_text())
    assert sum(map(sum, report["confusion_matrix"])) == 33  # every rank's questions, once


def test_a_prediction_row_s_endings_are_named_in_both_forms(compose_cfg: Any) -> None:
    """A SWAG-layout run given 2 of its 4 ending fields: "missing field 'endings'" did not say
    the ending fields were the other way; a row with both forms was read from one silently."""
    from types import SimpleNamespace

    from lab.tasks.multiple_choice.predictor import MultipleChoicePredictor

    cfg = compose_cfg("model=tiny_bert", "data=swag")
    predictor = MultipleChoicePredictor(None, SimpleNamespace(model_max_length=64), cfg)
    row = {"sent1": "the team", "ending0": "a", "ending1": "b"}
    assert predictor.check(dict(row)) == (
        "missing field(s) ending2, ending3: one field per ending, ending0, ending1, ending2, "
        "ending3 (or a list under 'endings'; fields present: sent1, ending0, ending1)"
    )
    assert predictor.check({"sent1": "the team"}) == (
        "missing field 'endings' (or the fields ending0, ending1, ending2, ending3) (fields "
        "present: sent1)"
    )
    assert predictor.check({"endings": ["a", "b"]}) == (
        "missing field 'sent1' (fields present: endings)"
    )
    assert predictor.check({"sent1": " ", "endings": ["a", "b"]}) == (
        "field 'sent1' must be a non-empty string, got ' '"
    )
    both = {**row, "ending2": "c", "ending3": "d", "endings": ["w", "x"]}
    assert predictor.check(both) == (
        "give the endings either as 'endings' or as the fields ending0, ending1, ending2, "
        "ending3, not both"
    )
    whole = {**row, "ending2": "c", "ending3": "d"}
    assert predictor.check(whole) is None and whole["endings"] == ["a", "b", "c", "d"]
    assert predictor.check(whole) is None, "a row checked again (lab.serve, then predict)"
    unset = {f"ending{i}": None for i in range(4)}  # lab.serve's schema: absent fields None
    assert predictor.check({"sent1": "the team", **unset, "endings": ["w", "x"]}) is None


def test_a_model_family_without_the_head_is_one_line() -> None:
    """GPT-2 has no multiple-choice head: transformers' "Unrecognized configuration class"
    and its list of 35 configs become one line naming the family and some that have one."""
    from transformers import GPT2Config

    from lab.errors import ConfigError
    from lab.training.models import head_from_config

    with pytest.raises(ConfigError) as refused:
        head_from_config("transformers.AutoModelForMultipleChoice", GPT2Config(n_layer=1))
    message = str(refused.value)
    assert message.startswith(
        "GPT2 models have no AutoModelForMultipleChoice head in transformers; pick a model of "
        "a family that has one (Albert, Bert, "
    )
    assert message.endswith(" more)") and "\n" not in message
