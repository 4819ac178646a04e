"""After training: `lab.eval`, `lab.predict`, `lab.export` (and push_to_hub), `lab.serve`.

Tiny models trained once per module on the fixture data of each head; the tools then run on
their run directories the way a user would (entry-point `main`, or a real subprocess for
the HTTP server and the Hub upload).
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import socket
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from lab.config import compose_train_config
from lab.errors import LabError
from lab.train import run

from conftest import (
    FIXTURES,
    SENTIMENT,
    TINY_FIXTURE_RUN,
    http_json,
    lab_cli,
    serving,
)

pytestmark = pytest.mark.slow  # every test here uses a model trained by a module fixture

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from helpers.fake_hub import FakeHub  # noqa: E402

HEADS = {
    "token_classification": [
        "model=tiny_bert", "data=conll2003", f"data.path={FIXTURES / 'ner'}",
    ],
    "multi_label": [
        "model=tiny_bert", "data=go_emotions", f"data.path={FIXTURES / 'aspects'}",
        "data.label_names=null",
    ],
    "regression": [
        "model=tiny_bert", "data=json", f"data.path={FIXTURES / 'ratings'}",
        "data.problem_type=regression", "task=text_regression", "data.label_column=score",
    ],
    "causal_lm": [
        "model=tiny_gpt2", "data=text", f"data.path={FIXTURES / 'lm'}", "data.block_size=32",
        "task.module.sample_prompt=null",
    ],
    "question_answering": [
        "model=tiny_bert", "data=squad", f"data.path={FIXTURES / 'squad'}",
        "data.splits.validation=validation", "data.splits.test=test",
        "data.max_length=64", "data.doc_stride=16",
    ],
    "seq2seq": [
        "model=tiny_bart", "data=xsum", f"data.path={FIXTURES / 'summaries'}",
        "data.max_target_length=16",
    ],
}  # fmt: skip
CONTEXT = "this bed is broken, the puzzle was made by the witty staff, the dessert was charming"
# One input row per head for lab.predict, and the result keys it must produce.
PREDICT_ROWS = {
    "token_classification": ({"tokens": ["John", "flew", "to", "Cairo", "."]}, {"entities"}),
    "multi_label": ({"text": "the battery died fast"}, {"labels", "probabilities"}),
    "regression": ({"text": "the room was dirty"}, {"score"}),
    "causal_lm": ({"text": "the cat"}, {"generated_text"}),
    "question_answering": (
        {"question": "who made the puzzle", "context": CONTEXT},
        {"answer", "start", "end", "score"},
    ),
    "seq2seq": ({"document": "Kim won the garden prize at the old station."}, {"generated_text"}),
}


@pytest.fixture(scope="module")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny sentiment classifier trained on the fixture (best checkpoint exported)."""
    out = tmp_path_factory.mktemp("classifier") / "run"
    run(compose_train_config([*TINY_FIXTURE_RUN, "trainer.max_epochs=3"], output_dir=out))
    return out


@pytest.fixture(scope="module")
def head_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One finished tiny run per head beyond sentence classification."""
    root = tmp_path_factory.mktemp("heads")
    runs = {}
    for name, overrides in HEADS.items():
        extra = ["logger=csv", "trainer.max_epochs=1", "data.batch_size=16"]
        run(compose_train_config([*overrides, *extra], output_dir=root / name))
        runs[name] = root / name
    return runs


def _eval(*args: str) -> dict[str, Any]:
    from lab.eval import main

    output = Path(args[0].split("=", 1)[1]) / "eval-test" / f"{abs(hash(args))}.json"
    assert main([*args, f"output={output}"]) == 0
    return json.loads(output.read_text())  # type: ignore[no-any-return]


def _recorded_test(run_dir: Path) -> dict[str, float]:
    metrics = json.loads((run_dir / "record.json").read_text())["metrics"]
    return {k: v for k, v in metrics.items() if k.startswith("test/")}


def _recorded_as_test(run_dir: Path, prefix: str) -> dict[str, float]:
    """The metrics recorded for one split (`val/`, `test/`), named as lab.eval names them."""
    metrics = json.loads((run_dir / "record.json").read_text())["metrics"]
    return {f"test/{k[len(prefix) :]}": v for k, v in metrics.items() if k.startswith(prefix)}


# ------------------------------------------------------------------------------------ eval
def test_eval_reproduces_the_recorded_test_metrics(classifier: Path) -> None:
    recorded = _recorded_test(classifier)
    assert {"test/acc", "test/loss", "test/f1"} <= set(recorded)
    for checkpoint in ("model", "best"):
        result = _eval(f"run={classifier}", f"checkpoint={checkpoint}")
        assert set(result["metrics"]) == set(recorded)
        for name, value in recorded.items():
            assert result["metrics"][name] == pytest.approx(value, abs=1e-6), (checkpoint, name)


@pytest.mark.parametrize("head", sorted(HEADS))
def test_eval_reproduces_every_head(head_runs: dict[str, Path], head: str) -> None:
    recorded = _recorded_test(head_runs[head])
    result = _eval(f"run={head_runs[head]}")
    assert set(result["metrics"]) == set(recorded)
    for name, value in recorded.items():
        assert result["metrics"][name] == pytest.approx(value, abs=1e-6), name


def test_eval_refuses_a_length_over_the_models_positions(head_runs: dict[str, Path]) -> None:
    """Other data's length (CNN/DailyMail's 1024 source tokens) past the exported model's
    512 positions: lab.train's refusal, before any data is read (an IndexError mid-test)."""
    from lab.errors import ConfigError
    from lab.eval import main

    with pytest.raises(ConfigError, match=r"data\.max_source_length=1024 is over the model's 512"):
        main([f"run={head_runs['seq2seq']}", "data.max_source_length=1024"])


def test_eval_on_another_file_agrees_with_predict(classifier: Path, tmp_path: Path) -> None:
    """The whole of a single file is evaluated; its accuracy is the share predict gets right."""
    from lab.predict import main as predict

    data = SENTIMENT / "train.csv"
    result = _eval(f"run={classifier}", f"data.path={data}")
    assert result["data"]["splits"] == {"train": "train", "validation": "train", "test": "train"}
    out = tmp_path / "pred.jsonl"
    assert predict([f"run={classifier}", f"input={data}", f"output={out}"]) == 0
    with data.open() as handle:
        gold = [row["sentiment"] for row in csv.DictReader(handle)]
    predicted = [json.loads(line)["label"] for line in out.read_text().splitlines()]
    assert len(predicted) == len(gold)
    accuracy = sum(p == g for p, g in zip(predicted, gold, strict=True)) / len(gold)
    assert result["metrics"]["test/acc"] == pytest.approx(accuracy, abs=1e-6)


def test_eval_reads_the_heads_own_formats(head_runs: dict[str, Path]) -> None:
    """A QA run evaluated on original SQuAD JSON (the fixture's test questions in that layout)
    gives the test metrics recorded on the flattened rows."""
    run_dir = head_runs["question_answering"]
    result = _eval(f"run={run_dir}", f"data.path={FIXTURES / 'squad' / 'json' / 'test.json'}")
    assert result["data"]["path"].endswith("test.json")  # one file: its only split is used
    recorded = _recorded_test(run_dir)
    for name, value in recorded.items():
        assert result["metrics"][name] == pytest.approx(value, abs=1e-6), name


@pytest.fixture(scope="module")
def carved_classifier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny classifier trained one epoch on one file: its test and validation splits are
    carved from it (validation then cut to 4 rows), and its exported model is the validated one."""
    out = tmp_path_factory.mktemp("carved") / "run"
    overrides = [f"data.path={SENTIMENT / 'train.csv'}", "data.max_eval_samples=4"]
    run(
        compose_train_config(
            [*TINY_FIXTURE_RUN, *overrides, "trainer.max_epochs=1"], output_dir=out
        )
    )
    return out


def _confusion_total(run_dir: Path, result: dict[str, Any]) -> int:
    """Rows in the confusion matrix of the test report of `result` (the metrics.json `_eval`
    wrote for `run_dir`, which names its report file beside it)."""
    report = json.loads((run_dir / "eval-test" / result["report"]).read_text())
    matrix = report["confusion_matrix"]
    return sum(map(sum, matrix))


def test_eval_split_is_the_runs_own_split_as_training_carved_it(carved_classifier: Path) -> None:
    """split=validation / train / test on the run's own data: the rows training read (its
    record's row count and digest, carving and max_eval_samples included); validation and test
    give the metrics recorded for them at train time."""
    record = json.loads((carved_classifier / "record.json").read_text())
    assert record["data"]["validation"]["rows"] == 4  # 5 carved, cut to max_eval_samples
    total = sum(record["data"][name]["rows"] for name in ("train", "test")) + 5
    assert total == len((SENTIMENT / "train.csv").read_text().splitlines()) - 1
    for split, prefix in (("validation", "val/"), ("train", None), ("test", "test/")):
        result = _eval(f"run={carved_classifier}", f"split={split}")
        data = result["data"]
        assert (data["split"], data["run_split"]) == (split, True)
        assert {"rows": data["rows"], "sha256": data["sha256"]} == record["data"][split], split
        assert _confusion_total(carved_classifier, result) == data["rows"]
        if prefix:
            wanted = _recorded_as_test(carved_classifier, prefix)
            assert set(result["metrics"]) == set(wanted)
            for name, value in wanted.items():
                assert result["metrics"][name] == pytest.approx(value, abs=1e-6), (split, name)


def test_eval_split_names_a_row_where_training_found_it(carved_classifier: Path) -> None:
    """The run's carved validation rows, read again for evaluation, keep their file lines:
    a bad row would be named as training names it (`train.csv:<line> column 'review'`)."""
    from transformers import AutoTokenizer

    from lab.build import build_datamodule
    from lab.eval import evaluate, evaluation_config
    from lab.run_dir.runs import open_run

    trained = open_run(carved_classifier)
    places: list[str] = []
    evaluate(
        trained,
        evaluation_config(trained, [], "validation"),
        on_data=lambda data: places.extend(data.where("test", row, "review") for row in range(4)),
    )
    training = build_datamodule(trained.config, AutoTokenizer.from_pretrained(trained.model_dir))
    assert places == [training.where("validation", row, "review") for row in range(4)]
    assert all(re.fullmatch(r".*train\.csv:\d+ column 'review'", place) for place in places)


def test_eval_split_validation_of_a_run_with_a_validation_file(classifier: Path) -> None:
    """The run's validation file, whole, from the exported model and from the best checkpoint:
    the val/ metrics recorded for the best checkpoint."""
    rows = len((SENTIMENT / "validation.csv").read_text().splitlines()) - 1
    for checkpoint in ("model", "best"):
        result = _eval(f"run={classifier}", "split=validation", f"checkpoint={checkpoint}")
        assert result["data"]["rows"] == rows
        assert _confusion_total(classifier, result) == rows
        for name, value in _recorded_as_test(classifier, "val/").items():
            assert result["metrics"][name] == pytest.approx(value, abs=1e-6), (checkpoint, name)


@pytest.mark.parametrize("head", sorted(HEADS))
def test_eval_split_validation_gives_the_recorded_val_metrics_for_every_head(
    head_runs: dict[str, Path], head: str
) -> None:
    """Each head's own evaluation rules (QA windows, seq2seq references, LM blocks) applied to
    the run's validation rows given as the test split: the val/ metrics of its one epoch."""
    run_dir = head_runs[head]
    result = _eval(f"run={run_dir}", "split=validation")
    recorded = json.loads((run_dir / "record.json").read_text())["data"]["validation"]
    assert {"rows": result["data"]["rows"], "sha256": result["data"]["sha256"]} == recorded
    wanted = _recorded_as_test(run_dir, "val/")
    assert set(result["metrics"]) == set(wanted)
    for name, value in wanted.items():
        assert result["metrics"][name] == pytest.approx(value, abs=1e-6), name


def test_eval_split_of_a_streamed_run(tmp_path: Path) -> None:
    """A streamed run's validation split (the head of its validation file) gives its val/
    metrics; its train split, read as a stream, is refused in words."""
    from lab.eval import main

    run_dir = tmp_path / "run"
    streamed = ["data.streaming=true", "trainer.max_steps=2", "data.stream_sample_rows=8"]
    run(compose_train_config([*TINY_FIXTURE_RUN, *streamed], output_dir=run_dir))
    result = _eval(f"run={run_dir}", "split=validation")
    assert (
        result["data"]["rows"] == len((SENTIMENT / "validation.csv").read_text().splitlines()) - 1
    )
    for name, value in _recorded_as_test(run_dir, "val/").items():
        assert result["metrics"][name] == pytest.approx(value, abs=1e-6), name
    with pytest.raises(LabError, match=r"^this run streamed its train split .* split=train$"):
        main([f"run={run_dir}", "split=train"])


def test_eval_refuses_a_split_that_is_not_there_listing_those_that_are(classifier: Path) -> None:
    from lab.eval import main

    with pytest.raises(
        LabError,
        match=r"^split 'nonexistent' is not in the data; splits present: train, validation, "
        r"test \(the run's, as training read them\); choose one with split=<name>$",
    ):
        main([f"run={classifier}", "split=nonexistent"])
    with pytest.raises(
        LabError,
        match=r"^split 'nonexistent' is not in the data; splits present: (train|validation|test)"
        r", (train|validation|test), (train|validation|test); choose one with split=<name>$",
    ):
        main([f"run={classifier}", f"data.path={SENTIMENT}", "split=nonexistent"])


def test_eval_refuses_bad_input_in_words(classifier: Path, tmp_path: Path) -> None:
    from lab.eval import main

    with pytest.raises(LabError, match=r"not a data key; valid: .*text_column"):
        main([f"run={classifier}", "data.text_colum=x"])
    with pytest.raises(LabError, match="does not exist"):
        main([f"run={tmp_path / 'nowhere'}"])
    with pytest.raises(LabError, match=r"unknown option 'chekpoint'\. Did you mean checkpoint"):
        main([f"run={classifier}", "chekpoint=best"])
    with pytest.raises(
        LabError,
        match=r"^data=conll2003 is data for task=token_classification; this run "
        r"\(task=text_classification\) evaluates text classification data "
        r"\(data=.*sst2.*\): evaluate it on one of those \(data.path=<your files>\)$",
    ):
        main([f"run={classifier}", "data=conll2003", f"data.path={FIXTURES / 'ner'}"])
    if not torch.cuda.is_available():
        with pytest.raises(LabError, match=r"load_in=4bit \(bitsandbytes\) needs a CUDA GPU"):
            main([f"run={classifier}", "load_in=4bit"])
    bad = tmp_path / "bad.csv"
    bad.write_text("review,sentiment\na fine film,positive\na film,neutral\n")
    with pytest.raises(
        LabError, match=re.escape(f"{bad}:3 column 'sentiment': label 'neutral' is not")
    ):
        main([f"run={classifier}", f"data.path={bad}"])
    corrupt = tmp_path / "corrupt.ckpt"
    corrupt.write_bytes(b"PK\x03\x04 not really a checkpoint")
    with pytest.raises(LabError, match="corrupt or unreadable"):
        main([f"run={classifier}", f"checkpoint={corrupt}"])
    assert (classifier / "model" / "config.json").is_file()  # nothing of the run was touched


# --------------------------------------------------------------------------------- predict
def test_predict_writes_one_row_per_input_and_errors_for_bad_rows(
    classifier: Path, tmp_path: Path
) -> None:
    from lab.predict import main

    source = tmp_path / "in.jsonl"
    source.write_text(
        '{"id": "a", "review": "a thoughtful documentary"}\n'
        '{"review": "   "}\n'
        "this is not json\n"
        '{"review": 7}\n'
        '{"text": "wrong column"}\n'
        '{"id": "f", "review": "a shallow documentary"}\n'
    )
    with pytest.raises(LabError, match=r"output file .*out\.txt must end in one of \.jsonl, \.csv"):
        main([f"run={classifier}", f"input={source}", f"output={tmp_path / 'out.txt'}"])
    out = tmp_path / "out.jsonl"
    assert main([f"run={classifier}", f"input={source}", f"output={out}", "batch_size=2"]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["line"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert [r.get("id") for r in rows] == ["a", None, None, None, None, "f"]
    assert rows[1]["error"] == f"{source}:2: field 'review' is empty"
    assert rows[2]["error"].startswith(f"{source}:3: not valid JSON")
    assert rows[3]["error"] == f"{source}:4: field 'review' must be a string, got int"
    assert rows[4]["error"] == f"{source}:5: missing field 'review' (fields present: text)"
    for good in (rows[0], rows[5]):
        assert good["label"] in ("negative", "positive")
        assert set(good["probabilities"]) == {"negative", "positive"}
        assert sum(good["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        probabilities = good["probabilities"]
        assert good["label"] == max(probabilities, key=probabilities.get)


def test_predict_streams_csv_and_txt(classifier: Path, tmp_path: Path) -> None:
    from lab.predict import main

    source = tmp_path / "in.txt"
    source.write_text("".join(f"review number {i}\n" for i in range(70)))
    out = tmp_path / "out.csv"
    assert main([f"run={classifier}", f"input={source}", f"output={out}"]) == 0
    with out.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 70
    assert list(rows[0]) == ["line", "id", "label", "probabilities", "truncated", "error"]
    assert all(r["label"] in ("negative", "positive") and not r["error"] for r in rows)


def test_predict_exits_2_when_no_row_succeeded(classifier: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text('{"text": "wrong column"}\n\n{"text": "again"}\n')
    out = tmp_path / "out.jsonl"
    result = lab_cli("predict", f"run={classifier}", f"input={source}", f"output={out}")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: no row of {source} could be predicted: 2 of 2 rows failed; first: "
        f"{source}:1: missing field 'review' (fields present: text); columns.review=<column> "
        f"reads the head's 'review' from a column of another name (every row's error is in {out})"
    )
    lines = [json.loads(line)["line"] for line in out.read_text().splitlines()]
    assert lines == [1, 3]  # the blank line 2 is no row, as in training data


@pytest.mark.parametrize("head", sorted(PREDICT_ROWS))
def test_predict_gives_each_heads_result(
    head_runs: dict[str, Path], head: str, tmp_path: Path
) -> None:
    from lab.predict import main

    row, keys = PREDICT_ROWS[head]
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(row) + "\n" + json.dumps({"other": "x"}) + "\n")
    out = tmp_path / "out.jsonl"
    assert main([f"run={head_runs[head]}", f"input={source}", f"output={out}"]) == 0
    good, bad = (json.loads(line) for line in out.read_text().splitlines())
    assert keys <= set(good), good
    assert "missing field" in bad["error"]
    if head == "token_classification":
        text = " ".join(row["tokens"])
        for entity in good["entities"]:  # spans index the joined words
            assert text[entity["start"] : entity["end"]] == entity["text"]
    if head == "causal_lm":
        assert good["generated_text"].startswith("the cat")
    if head == "question_answering":
        assert CONTEXT[good["start"] : good["end"]] == good["answer"]
        assert 0.0 <= good["score"] <= 1.0
    if head == "multi_label":
        over = {k for k, p in good["probabilities"].items() if p >= 0.5}
        assert set(good["labels"]) == over


# ---------------------------------------------------------------------------------- export
def test_export_card_and_reexport_from_a_checkpoint(classifier: Path, tmp_path: Path) -> None:
    from transformers import pipeline

    from lab.export import main

    card = (classifier / "model" / "README.md").read_text()
    record = json.loads((classifier / "record.json").read_text())
    assert record["command"] in card
    assert f"| `test/acc` | {record['metrics']['test/acc']:.4f} |" in card
    copy = tmp_path / "copy"
    assert main([f"run={classifier}", f"output={copy}"]) == 0
    assert (copy / "model.safetensors").read_bytes() == (
        classifier / "model" / "model.safetensors"
    ).read_bytes()
    assert main([f"run={classifier}", "checkpoint=last"]) == 0
    exported = classifier / "exports" / "last" / "model"  # named after the file, last.ckpt
    classify = pipeline("text-classification", model=str(exported))
    assert classify("a thoughtful documentary")[0]["label"] in ("negative", "positive")
    assert "test/acc" not in (exported / "README.md").read_text()  # not the best model's numbers
    with pytest.raises(LabError, match="form=adapter needs a PEFT run"):
        main([f"run={classifier}", "form=adapter"])
    with pytest.raises(LabError, match="exists and is not empty"):
        main([f"run={classifier}", f"output={copy}"])


def test_push_to_hub_uploads_to_a_local_stand_in_and_never_writes_the_token(
    classifier: Path, tmp_path: Path
) -> None:
    token = "hf_TESTTOKENdoNotLeak0123456789"
    target = tmp_path / "share"
    env = {"HF_TOKEN": token, "HF_HUB_OFFLINE": "0", "HF_HUB_DISABLE_TELEMETRY": "1"}
    export = ["export", f"run={classifier}", f"output={target}", "push_to_hub=me/tiny-sentiment"]
    with FakeHub() as hub:
        env["HF_ENDPOINT"] = hub.endpoint
        done = lab_cli(*export, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "Pushed to the Hub" in done.stdout
    uploaded = hub.files["me/tiny-sentiment"]
    assert {"README.md", "config.json", "model.safetensors", "tokenizer.json"} <= set(uploaded)
    assert uploaded["model.safetensors"] == (target / "model.safetensors").read_bytes()
    assert hub.created[0]["name"] == "tiny-sentiment"
    assert all(auth == f"Bearer {token}" for method, _, auth in hub.requests if method == "POST")
    # the token is in no output and no file of the run or the export
    assert token not in done.stdout + done.stderr
    for folder in (classifier, target):
        for path in folder.rglob("*"):
            if path.is_file():
                assert token.encode() not in path.read_bytes(), path

    # A Hub that cannot be reached (nothing listening) is one line, exit 2, before anything
    # is exported, and still no token.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        env["HF_ENDPOINT"] = f"http://127.0.0.1:{probe.getsockname()[1]}"
    shutil.rmtree(target)
    failed = lab_cli(*export, env=env, cwd=ROOT)
    assert failed.returncode == 2
    assert f"error: the Hub at {env['HF_ENDPOINT']} cannot be reached (" in failed.stderr
    assert not target.exists()
    assert token not in failed.stdout + failed.stderr


# ----------------------------------------------------------------------------------- serve
@pytest.fixture
def server(classifier: Path) -> Iterator[str]:
    with serving(classifier, "max_batch_size=3", "max_text_length=40") as (url, output):
        yield url
    assert "Finished server process" in output[0]


def test_serve_predicts_over_http_and_validates_requests(server: str) -> None:
    status, health = http_json(f"{server}/health")
    assert (status, health["status"], health["fields"]) == (200, "ok", ["review"])

    status, single = http_json(f"{server}/predict", {"review": "a thoughtful documentary"})
    assert status == 200
    assert single["label"] in ("negative", "positive")
    assert sum(single["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    status, batch = http_json(
        f"{server}/predict", {"inputs": [{"review": "a thoughtful documentary"}, {"review": "x"}]}
    )
    assert status == 200
    assert len(batch["predictions"]) == 2
    assert batch["predictions"][0] == single  # batching does not change a row's result

    bad = {
        "empty": ({"review": ""}, "must not be empty or only whitespace"),
        "blank": ({"review": "   "}, "must not be empty or only whitespace"),
        "too long": ({"review": "x" * 41}, "at most 40 characters"),
        "wrong type": ({"review": 3}, "valid string"),
        "missing field": ({"text": "hello"}, "Field required"),
        "batch too big": ({"inputs": [{"review": "a"}] * 4}, "at most 3 items"),
        "empty batch": ({"inputs": []}, "at least 1 item"),
        "not an object": ([1, 2], "valid dictionary"),
    }
    for case, (body, message) in bad.items():
        status, reply = http_json(f"{server}/predict", body)
        assert status == 422, case
        assert message in json.dumps(reply), (case, reply)

    # A 1 MB bad input: the 422 body quotes an excerpt, not the megabyte.
    status, reply = http_json(f"{server}/predict", {"review": "x" * 1_000_000})
    assert status == 422 and len(json.dumps(reply)) < 1000
    assert reply["detail"][0]["input"] == "x" * 80 + "... (1000000 characters)"
    # Over the default cap of 1 MiB: 413 before anything parses the body.
    status, reply = http_json(f"{server}/predict", {"review": "x" * 2_000_000})
    assert status == 413
    assert reply == {"detail": "request body over 1048576 bytes (the server's max_request_bytes)"}

    status, schema = http_json(f"{server}/openapi.json")
    assert status == 200 and "/predict" in schema["paths"]
    with urllib.request.urlopen(f"{server}/docs", timeout=30) as page:
        assert page.status == 200 and b"swagger" in page.read().lower()
