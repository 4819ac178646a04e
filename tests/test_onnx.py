"""CPU deployment: `lab.export form=onnx|onnx-int8`, and `lab.predict` / `lab.serve` on the export.

Tiny runs of five heads (sentence classification, NER, QA, multiple choice, masked LM) trained
once for the module;
their ONNX exports are compared with the PyTorch models they came from: fp32 logits and
probabilities to 1e-4 (on batch shapes other than the traced one), the head's test metrics
in the export's report equal to PyTorch's, and int8 close (the bar: the same label on at
least 90% of rows, probabilities within 0.05).
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

from lab.config import compose_train_config
from lab.errors import LabError
from lab.train import run

from conftest import FIXTURES, SENTIMENT, TINY_FIXTURE_RUN, http_json, serving

pytestmark = pytest.mark.slow  # every test uses models trained by the module fixture

EXTRA = ["logger=csv", "trainer.max_epochs=1", "data.batch_size=16"]
HEADS = {
    "classifier": [*TINY_FIXTURE_RUN, "trainer.max_epochs=3", "optimizer.lr=3e-3"],
    "ner": ["model=tiny_bert", "data=conll2003", f"data.path={FIXTURES / 'ner'}", *EXTRA],
    "qa": [
        "model=tiny_bert", "data=squad", f"data.path={FIXTURES / 'squad'}",
        "data.splits.validation=validation", "data.splits.test=test",
        "data.max_length=64", "data.doc_stride=16", *EXTRA,
    ],
    "choice": [
        "model=tiny_bert", "data=swag", f"data.path={FIXTURES / 'multiple_choice' / 'swag'}",
        "data.splits.validation=validation", "data.splits.test=test", *EXTRA,
    ],
    # Masked LM: the 12 test reviews pack into one block of 128 tokens, a one-row test split.
    "mlm": [
        "task=masked_lm", "model=tiny_bert", "data=csv", f"data.path={SENTIMENT}",
        "data.text_column=review", *EXTRA,
    ],
}  # fmt: skip
REVIEWS = [
    row["review"]
    for name in ("train", "test")
    for row in csv.DictReader((SENTIMENT / f"{name}.csv").read_text().splitlines())
]
BENCH = ["benchmark_rows=6", "benchmark_batch_size=4", "threads=1"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One finished tiny run per head, each with its fp32 ONNX export (the classifier also
    with its int8 one), made by `python -m lab.export`'s entry point."""
    from lab.export import main as export

    root = tmp_path_factory.mktemp("onnx")
    for name, overrides in HEADS.items():
        run(compose_train_config(overrides, output_dir=root / name))
        assert export([f"run={root / name}", "form=onnx", *BENCH]) == 0
    assert export([f"run={root / 'classifier'}", "form=onnx-int8", *BENCH]) == 0
    return {name: root / name for name in HEADS}


def _predictors(run_dir: Path, form: str) -> tuple[Any, Any]:
    from lab.inference.predictors import predictor_for
    from lab.run_dir.runs import open_run

    trained = open_run(run_dir)
    return predictor_for(trained, "cpu"), predictor_for(trained, None, run_dir / form)


def _report(run_dir: Path, form: str = "onnx") -> dict[str, Any]:
    return json.loads((run_dir / form / "onnx_report.json").read_text())  # type: ignore[no-any-return]


# ------------------------------------------------------------------------------- export
@pytest.mark.parametrize("form", ["onnx", "onnx-int8"])
def test_export_writes_the_model_its_report_and_card(runs: dict[str, Path], form: str) -> None:
    folder = runs["classifier"] / form
    present = {p.name for p in folder.iterdir()}
    assert {
        "model.onnx",
        "config.json",
        "tokenizer.json",
        "README.md",
        "onnx_report.json",
    } <= present
    report = _report(runs["classifier"], form)
    assert report["form"] == form and report["main_metric"] == "test/acc"
    assert report["cpu"]["threads"] == 1 and report["test_rows"] == 12
    pytorch, exported = report["models"]["pytorch"], report["models"][form]
    recorded = json.loads((runs["classifier"] / "record.json").read_text())["metrics"]
    # PyTorch's side of the report is the run's own test result, measured again on the CPU.
    assert pytorch["metrics"]["test/acc"] == pytest.approx(recorded["test/acc"], abs=1e-6)
    for result in (pytorch, exported):
        assert result["latency_ms"]["rows"] == 6 and result["throughput"]["rows"] == 6
        assert 0 < result["latency_ms"]["p50"] <= result["latency_ms"]["p95"]
        assert result["throughput"]["rows_per_s"] > 0 and result["throughput"]["batch_size"] == 4
    ratio = exported["throughput"]["rows_per_s"] / pytorch["throughput"]["rows_per_s"]
    assert report["comparison"]["throughput_ratio"] == pytest.approx(ratio)
    if form == "onnx":  # fp32: every test metric (the loss too) is PyTorch's
        for name, value in pytorch["metrics"].items():
            assert exported["metrics"][name] == pytest.approx(value, abs=1e-5), name
    card = (folder / "README.md").read_text()
    assert "## CPU deployment (ONNX)" in card and f"model={form}" in card
    accuracy = exported["metrics"]["test/acc"]
    p50 = exported["latency_ms"]["p50"]
    assert f"| {form} | {accuracy:.4f} | {p50:.2f} |" in card


def test_fp32_logits_equal_pytorch_on_other_shapes(runs: dict[str, Path]) -> None:
    """Traced on two rows; run on one row, and on 7 rows padded to another length."""
    from lab.inference.onnx_runtime import load_onnx
    from lab.run_dir.runs import load_exported, open_run

    model, tokenizer = load_exported(open_run(runs["classifier"]))
    onnx_model, _ = load_onnx(runs["classifier"] / "onnx")
    for texts in (REVIEWS[:1], REVIEWS[3:10]):
        inputs = tokenizer(texts, padding=True, return_tensors="pt")
        with torch.no_grad():
            expected = model(**inputs).logits
        assert torch.allclose(onnx_model(**inputs).logits, expected, atol=1e-4, rtol=0)


def test_the_report_s_onnx_session_leaves_no_thread_spinning(runs: dict[str, Path]) -> None:
    """lab.export times ONNX and PyTorch alternately: onnxruntime's threads spin-waiting after
    each call took the cores from the PyTorch call that followed (476 ms against 13 ms a
    row on 2 cores, 7.3 against 5.2 ms without). Served models keep onnxruntime's default."""
    from lab.inference.onnx_runtime import load_onnx

    key = "session.intra_op.allow_spinning"
    timed, _ = load_onnx(runs["classifier"] / "onnx", spin=False)
    served, _ = load_onnx(runs["classifier"] / "onnx")
    assert timed.session.get_session_options().get_session_config_entry(key) == "0"
    with pytest.raises(RuntimeError, match="does not have configuration"):  # the default
        served.session.get_session_options().get_session_config_entry(key)


def test_fp32_predictions_equal_pytorch(runs: dict[str, Path]) -> None:
    from lab.inference.predictors import predict_rows

    pytorch, onnx = _predictors(runs["classifier"], "onnx")
    assert type(onnx.model).__name__ == "BertForSequenceClassification"
    assert onnx.model.session.get_providers() == ["CPUExecutionProvider"]
    rows = [{"review": text} for text in REVIEWS]
    for expected, got in zip(predict_rows(pytorch, rows), predict_rows(onnx, rows), strict=True):
        assert got["label"] == expected["label"]
        for name, p in expected["probabilities"].items():
            assert got["probabilities"][name] == pytest.approx(p, abs=1e-4)


def test_int8_predictions_are_close(runs: dict[str, Path]) -> None:
    from lab.inference.predictors import predict_rows

    pytorch, int8 = _predictors(runs["classifier"], "onnx-int8")
    rows = [{"review": text} for text in REVIEWS]
    expected, got = predict_rows(pytorch, rows), predict_rows(int8, rows)
    same = sum(e["label"] == g["label"] for e, g in zip(expected, got, strict=True))
    assert same >= 0.9 * len(rows)
    gap = max(
        abs(g["probabilities"][k] - e["probabilities"][k])
        for e, g in zip(expected, got, strict=True)
        for k in e["probabilities"]
    )
    assert gap <= 0.05
    assert _report(runs["classifier"], "onnx-int8")["export"]["precision"].startswith("int8")


def test_multiple_choice_scores_and_choices_equal_pytorch(runs: dict[str, Path]) -> None:
    """One forward pass over [batch, choices, tokens]: the export works for this head too."""
    from lab.inference.predictors import predict_rows

    report = _report(runs["choice"])
    assert report["main_metric"] == "test/acc"
    pytorch_metrics, onnx_metrics = (report["models"][m]["metrics"] for m in ("pytorch", "onnx"))
    assert onnx_metrics["test/acc"] == pytest.approx(pytorch_metrics["test/acc"], abs=1e-6)
    pytorch, onnx = _predictors(runs["choice"], "onnx")
    rows = [
        {"sent1": "the team loved the soup", "sent2": "the team",
         "endings": ["made the tea", "kept the book", "hated the film", "loved the pasta"]},
        {"sent1": "she read the map", "sent2": "she", "endings": ["found the way", "lost it"]},
    ]  # fmt: skip
    expected, got = predict_rows(pytorch, rows), predict_rows(onnx, rows)
    for e, g in zip(expected, got, strict=True):
        assert g["label"] == e["label"]
        assert g["probabilities"] == pytest.approx(e["probabilities"], abs=1e-4)


def test_ner_entities_equal_pytorch(runs: dict[str, Path]) -> None:
    from lab.inference.predictors import predict_rows

    report = _report(runs["ner"])
    assert report["main_metric"] == "test/f1"
    pytorch_metrics, onnx_metrics = (report["models"][m]["metrics"] for m in ("pytorch", "onnx"))
    for name, value in pytorch_metrics.items():
        assert onnx_metrics[name] == pytest.approx(value, abs=1e-5), name
    pytorch, onnx = _predictors(runs["ner"], "onnx")
    rows = [
        {"tokens": json.loads(line)["tokens"]}
        for line in (FIXTURES / "ner" / "test.jsonl").read_text().splitlines()
    ]
    for expected, got in zip(predict_rows(pytorch, rows), predict_rows(onnx, rows), strict=True):
        assert [(e["type"], e["start"], e["end"]) for e in got["entities"]] == [
            (e["type"], e["start"], e["end"]) for e in expected["entities"]
        ]
        for e, g in zip(expected["entities"], got["entities"], strict=True):
            assert g["score"] == pytest.approx(e["score"], abs=1e-4)


def test_qa_answers_equal_pytorch(runs: dict[str, Path]) -> None:
    from lab.inference.predictors import predict_rows

    report = _report(runs["qa"])
    assert report["main_metric"] == "test/f1"
    assert report["export"]["outputs"] == ["start_logits", "end_logits"]
    pytorch_metrics, onnx_metrics = (report["models"][m]["metrics"] for m in ("pytorch", "onnx"))
    assert set(onnx_metrics) == set(pytorch_metrics) >= {"test/f1", "test/exact_match"}
    for name, value in pytorch_metrics.items():
        assert onnx_metrics[name] == pytest.approx(value, abs=1e-4), name
    pytorch, onnx = _predictors(runs["qa"], "onnx")
    rows = [
        {"question": row["question"], "context": row["context"]}
        for row in map(json.loads, (FIXTURES / "squad" / "test.jsonl").read_text().splitlines())
    ]
    for expected, got in zip(predict_rows(pytorch, rows), predict_rows(onnx, rows), strict=True):
        assert (got["answer"], got["start"], got["end"]) == (
            expected["answer"], expected["start"], expected["end"],
        )  # fmt: skip
        assert got["score"] == pytest.approx(expected["score"], abs=1e-4)


# --------------------------------------------------------------------- predict and serve
def test_predict_runs_the_onnx_export(runs: dict[str, Path], tmp_path: Path) -> None:
    """`model=onnx` and `run=<run>/onnx` give the PyTorch model's predictions."""
    from lab.predict import main as predict

    source = SENTIMENT / "test.csv"
    outputs = {}
    for name, options in {
        "pytorch": [f"run={runs['classifier']}"],
        "model": [f"run={runs['classifier']}", "model=onnx"],
        "folder": [f"run={runs['classifier'] / 'onnx'}"],
    }.items():
        target = tmp_path / f"{name}.jsonl"
        assert predict([*options, f"input={source}", f"output={target}", "device=cpu"]) == 0
        outputs[name] = [json.loads(line) for line in target.read_text().splitlines()]
    assert len(outputs["pytorch"]) == 12
    for name in ("model", "folder"):
        for expected, got in zip(outputs["pytorch"], outputs[name], strict=True):
            assert got["label"] == expected["label"]
            for label, p in expected["probabilities"].items():
                assert got["probabilities"][label] == pytest.approx(p, abs=1e-4)


def test_serve_answers_with_the_int8_export(runs: dict[str, Path]) -> None:
    _, int8 = _predictors(runs["classifier"], "onnx-int8")
    text = REVIEWS[0]
    with serving(runs["classifier"], "model=onnx-int8") as (url, output):
        status, answer = http_json(f"{url}/predict", {"review": text})
    assert status == 200, answer
    expected = int8.predict([{"review": text}])[0]
    assert answer["label"] == expected["label"]
    for label, p in expected["probabilities"].items():
        assert answer["probabilities"][label] == pytest.approx(p, abs=1e-6)
    assert "ONNX on onnxruntime" in output[0]


# ------------------------------------------------------------------------------ refusals
def test_generating_head_is_refused_in_one_line(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A causal-LM run (its files made by hand: a tiny GPT-2) cannot be exported to ONNX:
    one line on stderr and exit status 2, from the entry point the command line runs."""
    from omegaconf import OmegaConf
    from transformers import GPT2Config, GPT2LMHeadModel

    from lab.config.cli import run_tool
    from lab.export import main as export

    fake = tmp_path / "lm"
    fake.mkdir()
    shutil.copy(runs["classifier"] / "record.json", fake)
    config = OmegaConf.load(runs["classifier"] / "config.yaml")
    config.task.head = "transformers.AutoModelForCausalLM"
    OmegaConf.save(config, fake / "config.yaml")
    tiny = GPT2Config(
        n_layer=1, n_embd=8, n_head=2, vocab_size=64, n_positions=32, bos_token_id=0,
        eos_token_id=0,
    )  # fmt: skip
    GPT2LMHeadModel(tiny).save_pretrained(fake / "model")
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_status:
        run_tool(export, [f"run={fake}", "form=onnx"])
    assert exit_status.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: form=onnx covers heads that answer in one forward pass")
    assert "AutoModelForCausalLM generates text token by token" in lines[0]
    assert not (fake / "onnx").exists()
    with pytest.raises(SystemExit):
        run_tool(export, [f"run={fake}", "form=onnx-int8"])
    assert capsys.readouterr().err.startswith("error: form=onnx-int8 covers heads")
    # lab.predict / lab.serve say the same instead of advising the export.
    from lab.predict import main as predict

    io = [f"input={SENTIMENT / 'test.csv'}", f"output={tmp_path / 'out.jsonl'}"]
    with pytest.raises(LabError, match=r"^model=onnx: form=onnx covers heads .* model=pytorch"):
        predict([f"run={fake}", "model=onnx", *io])


def test_bad_choices_are_refused_in_words(runs: dict[str, Path], tmp_path: Path) -> None:
    from lab.export import main as export
    from lab.predict import main as predict

    with pytest.raises(LabError, match="form must be one of merged, adapter, onnx, onnx-int8"):
        export([f"run={runs['classifier']}", "form=tflite"])
    with pytest.raises(LabError, match="benchmark_rows must be an integer of at least 1"):
        export([f"run={runs['classifier']}", "form=onnx", "benchmark_rows=0"])
    io = [f"input={SENTIMENT / 'test.csv'}", f"output={tmp_path / 'out.jsonl'}"]
    with pytest.raises(LabError, match=r"make it with: python -m lab.export run=.* form=onnx-int8"):
        predict([f"run={runs['ner']}", "model=onnx-int8", *io])
    with pytest.raises(LabError, match="runs on the CPU"):
        predict([f"run={runs['classifier']}", "model=onnx", "device=cuda", *io])
    # run= naming one export and model= another (or PyTorch): which one was meant?
    with pytest.raises(LabError, match=r"run= names the export .*/onnx and model=pytorch"):
        predict([f"run={runs['classifier'] / 'onnx'}", "model=pytorch", *io])
    with pytest.raises(LabError, match=r"run= names the export .*/onnx and model=onnx-int8"):
        predict([f"run={runs['classifier'] / 'onnx'}", "model=onnx-int8", *io])


def test_a_one_block_masked_lm_exports_and_fills_masks_as_pytorch(runs: dict[str, Path]) -> None:
    """Its test split is one row (one packed block): traced on that row, measured on it."""
    report = _report(runs["mlm"])
    assert report["test_rows"] == 1
    pytorch, exported = report["models"]["pytorch"], report["models"]["onnx"]
    for name, value in pytorch["metrics"].items():
        assert exported["metrics"][name] == pytest.approx(value, rel=1e-5), name
    torch_side, onnx_side = _predictors(runs["mlm"], "onnx")
    rows = [{"text": "the film was [MASK] and the cast [MASK]"}, {"text": "a [MASK] story"}]
    for expected, got in zip(torch_side.predict(rows), onnx_side.predict(rows), strict=True):
        assert got["filled_text"] == expected["filled_text"]
        for want, have in zip(expected["predictions"], got["predictions"], strict=True):
            scores = [guess["score"] for guess in want]
            assert [guess["score"] for guess in have] == pytest.approx(scores, abs=1e-4)


def test_a_checkpoint_exports_to_onnx_beside_its_own_export(runs: dict[str, Path]) -> None:
    """`checkpoint=last form=onnx`: the checkpoint's weights exported (as `checkpoint=last`
    alone does), then to ONNX beside them; logits equal that model's."""
    from lab.export import main as export
    from lab.inference.onnx_runtime.model import load_onnx
    from lab.run_dir.runs import load_exported, open_run

    run_dir = runs["classifier"]
    assert export([f"run={run_dir}", "form=onnx", "checkpoint=last", *BENCH]) == 0
    (folder,) = (run_dir / "exports").iterdir()
    assert folder.name == "last" and {p.name for p in folder.iterdir()} == {"model", "onnx"}
    assert (folder / "onnx" / "model.onnx").is_file()
    model, tokenizer = load_exported(open_run(run_dir), folder / "model")
    onnx_model, _ = load_onnx(folder / "onnx", 1, spin=False)
    batch = tokenizer(REVIEWS[:3], padding=True, return_tensors="pt")
    with torch.no_grad():
        expected = model(**batch).logits
    got = onnx_model(**{k: v for k, v in batch.items() if k in onnx_model.input_names}).logits
    assert torch.allclose(torch.as_tensor(got), expected, atol=1e-4)


def test_a_decoder_classifier_exports_without_its_cache(tmp_path: Path) -> None:
    """GPT-2 classifying text returns its key/value cache beside the logits (refused as an
    unknown output before): exported without it, the logits of a padded batch (the head finds
    each row's last token by the pad id) equal PyTorch's. The export leaves the model in eval
    mode (the exporter restored its wrapper's training mode onto the model: dropout on)."""
    import onnxruntime
    import torch
    from transformers import AutoTokenizer, GPT2Config, GPT2ForSequenceClassification

    from lab.inference.onnx_runtime.export import export_onnx

    tokenizer = AutoTokenizer.from_pretrained(FIXTURES.parent.parent / "src/lab/assets/tiny_gpt2")
    tokenizer.pad_token = tokenizer.eos_token
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=1024, n_embd=32, n_layer=2, n_head=2, n_positions=64)
    config.pad_token_id = tokenizer.pad_token_id
    model = GPT2ForSequenceClassification(config).eval()
    batch = dict(tokenizer(["a long review of a film", "short"], padding=True, return_tensors="pt"))
    path = tmp_path / "model.onnx"
    assert export_onnx(model, batch, path) == ["logits"]
    assert not any(module.training for module in model.modules())  # dropout stays off
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [node.name for node in session.get_inputs()]
    (logits,) = session.run(None, {name: batch[name].numpy() for name in names})
    with torch.no_grad():
        expected = model(**batch).logits.numpy()
    assert logits.shape == (2, 2)
    assert abs(logits - expected).max() < 1e-5


def test_run_may_name_the_runs_own_pytorch_export(tmp_path: Path) -> None:
    """`run=<run>/model` (the folder lab.train exports) is the run with its own model; it was
    refused as "not a lab run directory" (s28b L4). Other folders stay as given."""
    from lab.inference.onnx_runtime.model import split_export

    run_dir = tmp_path / "run"
    (run_dir / "model").mkdir(parents=True)
    (run_dir / "config.yaml").write_text("task: {}\n")
    (run_dir / "model" / "config.json").write_text("{}")
    assert split_export(run_dir / "model") == (run_dir.resolve(), None)
    assert split_export(run_dir) == (run_dir, None)
    (tmp_path / "model").mkdir()  # a model folder outside a run: not a run
    (tmp_path / "model" / "config.json").write_text("{}")
    assert split_export(tmp_path / "model") == (tmp_path / "model", None)
