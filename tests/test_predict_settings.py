"""`task.module.<key>=` / `task.predictor.<key>=` of lab.predict, lab.serve and lab.demo
(`lab.inference.settings`): a setting the head's results read changes them, as the same value
at train time would; a setting the predictions do not read, or a value out of range, is one
line naming the valid ones, before the model loads.

No training: run directories are written as `lab.train` leaves them, with random tiny weights.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
import torch

from lab.errors import ConfigError
from lab.inference.predictors import open_predictor
from test_predict_options import write_run

from conftest import FIXTURES, SENTIMENT

SQUAD_V2_RUN = [
    "model=tiny_bert",
    "data=squad_v2",
    f"data.path={FIXTURES / 'squad_v2'}",
    "data.splits.validation=validation",
    "data.splits.test=test",
    "data.max_length=64",
    "data.doc_stride=16",
]
LABELS = ["battery", "price", "screen", "service"]
MULTI_LABEL_RUN = [
    "model=tiny_bert",
    "data=go_emotions",
    f"data.path={FIXTURES / 'aspects'}",
    f"data.label_names=[{','.join(LABELS)}]",
]
CLASSIFIER_RUN = ["model=tiny_bert", "data=csv", f"data.path={SENTIMENT}"]


def _predict(run: Path, source: Path, tmp_path: Path, *settings: str) -> list[dict[str, Any]]:
    from lab.predict import main

    target = tmp_path / "out.jsonl"
    assert main([f"run={run}", f"input={source}", f"output={target}", *settings]) == 0
    return [json.loads(line) for line in target.read_text().splitlines()]


def _multi_label_run(compose_cfg: Any, tmp_path: Path) -> Path:
    """A multi-label run directory: 4 classes, sigmoid outputs, random weights."""
    from hydra.utils import instantiate
    from transformers import AutoModelForSequenceClassification

    cfg: Any = compose_cfg(*MULTI_LABEL_RUN)
    run = write_run(tmp_path / "aspects", cfg, model=False)
    config = instantiate(cfg.model.network.config)
    config.num_labels = len(LABELS)
    config.id2label = dict(enumerate(LABELS))
    config.label2id = {name: i for i, name in enumerate(LABELS)}
    config.problem_type = "multi_label_classification"
    torch.manual_seed(0)
    AutoModelForSequenceClassification.from_config(config).save_pretrained(run / "model")
    instantiate(cfg.model.tokenizer).save_pretrained(run / "model")
    return run


def test_a_v2_qa_runs_null_threshold_decides_its_empty_answers(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """`null_score_diff_threshold` as tuned with lab.eval: far below any score difference,
    every question answers "" (no answer); far above, none does; each equals
    `answer_questions` called with that threshold on the run's windows (64 / 16, v2)."""
    from lab.tasks.question_answering.decoding import answer_questions

    run = write_run(tmp_path / "squad", compose_cfg(*SQUAD_V2_RUN))
    source = FIXTURES / "squad_v2" / "test.jsonl"
    rows = [json.loads(line) for line in source.read_text().splitlines()]
    never = _predict(run, source, tmp_path, "task.module.null_score_diff_threshold=-1e6")
    always = _predict(run, source, tmp_path, "task.module.null_score_diff_threshold=1e6")
    assert [r["answer"] for r in never] == [""] * len(rows)
    assert all(r["answer"] for r in always)
    _, _, predictor = open_predictor(
        str(run), device="cpu", settings=["task.module.null_score_diff_threshold=1e6"]
    )
    expected = answer_questions(
        predictor.model,
        predictor.tokenizer,
        [r["question"] for r in rows],
        [r["context"] for r in rows],
        max_length=64,
        doc_stride=16,
        version_2_with_negative=True,
        null_score_diff_threshold=1e6,
    )
    assert [(r["answer"], r["start"], r["end"]) for r in always] == [a[:3] for a in expected]


def test_a_multi_label_runs_threshold_decides_its_labels(compose_cfg: Any, tmp_path: Path) -> None:
    """`task.module.threshold`: 0 gives every class, 1 none; one per class in label order
    applies each to its own class; the probabilities do not move."""
    run = _multi_label_run(compose_cfg, tmp_path)
    source = tmp_path / "in.jsonl"
    source.write_text('{"text": "the battery died fast"}\n{"text": "fair price"}\n')
    default = _predict(run, source, tmp_path)
    every = _predict(run, source, tmp_path, "task.module.threshold=0")
    none = _predict(run, source, tmp_path, "task.module.threshold=1")
    only_price = _predict(run, source, tmp_path, "task.module.threshold=[1,0,1,1]")
    assert [r["labels"] for r in every] == [LABELS, LABELS]
    assert [r["labels"] for r in none] == [[], []]
    assert [r["labels"] for r in only_price] == [["price"], ["price"]]
    probabilities = [r["probabilities"] for r in default]
    assert [r["probabilities"] for r in every] == probabilities
    assert [r["labels"] for r in default] == [
        [name for name in LABELS if p[name] >= 0.5] for p in probabilities
    ]


def test_masked_lm_takes_its_predictor_argument_top_k(compose_cfg: Any, tmp_path: Path) -> None:
    run = write_run(tmp_path / "mlm", compose_cfg("task=masked_lm", "model=tiny_bert"))
    source = tmp_path / "in.jsonl"
    source.write_text('{"text": "the [MASK] was great"}\n')
    (five,) = _predict(run, source, tmp_path)
    (two,) = _predict(run, source, tmp_path, "task.predictor.top_k=2")
    assert [len(mask) for mask in five["predictions"]] == [5]
    assert two["predictions"] == [five["predictions"][0][:2]]


@pytest.mark.parametrize(
    ("options", "setting", "message"),
    [
        (
            SQUAD_V2_RUN,
            "task.module.report_examples=2",
            "'task.module.report_examples' is not a setting this run's predictions read "
            "(AutoModelForQuestionAnswering); valid: task.module.n_best_size, "
            "task.module.max_answer_length, task.module.null_score_diff_threshold",
        ),
        (
            CLASSIFIER_RUN,
            "task.module.threshold=0.3",
            "'task.module.threshold' is not a setting this run's predictions read "
            "(AutoModelForSequenceClassification); it has none to change",
        ),
        (
            CLASSIFIER_RUN,
            "task.module.class_weights=balanced",
            "'task.module.class_weights' is not a setting this run's predictions read "
            "(AutoModelForSequenceClassification); it has none to change",
        ),
        (
            SQUAD_V2_RUN,
            "task.module.n_best_size=0",
            "task.module.n_best_size=0 is out of range; valid: an integer >= 1",
        ),
        (
            SQUAD_V2_RUN,
            "task.module.max_answer_length=2.5",
            "task.module.max_answer_length=2.5 is not an integer; valid: an integer >= 1",
        ),
    ],
)
def test_a_setting_the_predictions_do_not_read_is_refused_before_the_model_loads(
    compose_cfg: Any, tmp_path: Path, options: list[str], setting: str, message: str
) -> None:
    """One line naming the valid keys (or none); the run has no model/ at all."""
    run = write_run(tmp_path / "run", compose_cfg(*options), model=False)
    with pytest.raises(ConfigError) as refused:
        open_predictor(str(run), device="cpu", settings=[setting])
    assert str(refused.value) == message


def test_a_threshold_list_of_the_wrong_length_is_refused(compose_cfg: Any, tmp_path: Path) -> None:
    run = _multi_label_run(compose_cfg, tmp_path)
    with pytest.raises(ConfigError, match=r"^task\.module\.threshold has 2 values for 4 labels"):
        open_predictor(str(run), device="cpu", settings=["task.module.threshold=[0.5,0.5]"])
    out_of_range = r"^task\.module\.threshold=1\.5 is out of range; valid: a number in \[0, 1\]$"
    with pytest.raises(ConfigError, match=out_of_range):
        open_predictor(str(run), device="cpu", settings=["task.module.threshold=1.5"])


def test_predict_prints_the_settings_it_ran_with(
    compose_cfg: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _multi_label_run(compose_cfg, tmp_path)
    source = tmp_path / "in.txt"
    source.write_text("fair price\n")
    _predict(run, source, tmp_path, "task.module.threshold=0.2")
    assert "Settings: task.module.threshold=0.2" in capsys.readouterr().out


def test_serve_and_demo_refuse_a_setting_in_the_same_words(
    compose_cfg: Any, tmp_path: Path
) -> None:
    from lab.demo import main as demo
    from lab.serve import main as serve

    run = write_run(tmp_path / "run", compose_cfg(*CLASSIFIER_RUN))  # lab.demo checks model/
    words = r"^'task\.module\.label_smoothing' is not a setting this run's predictions read"
    with pytest.raises(ConfigError, match=words):
        serve([f"run={run}", "port=0", "task.module.label_smoothing=0.1"])
    with socket.socket() as probe:  # a port free now (lab.demo takes no port 0)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ConfigError, match=words):
        demo([f"run={run}", f"port={port}", "task.module.label_smoothing=0.1"])


def test_lab_eval_holds_its_settings_to_their_ranges(compose_cfg: Any) -> None:
    from lab.eval_settings import set_module_settings

    cfg: Any = compose_cfg(*SQUAD_V2_RUN)
    with pytest.raises(ConfigError, match=r"^task\.module\.n_best_size=0 is out of range"):
        set_module_settings(cfg, ["task.module.n_best_size=0"])
    set_module_settings(cfg, ["task.module.null_score_diff_threshold=-2"])
    assert cfg.task.module.null_score_diff_threshold == -2


@pytest.mark.parametrize("value", ["abc", "nan", "inf"])
def test_the_null_threshold_is_a_finite_number(
    compose_cfg: Any, tmp_path: Path, value: str
) -> None:
    """It decides every v2 answer: text crashed the decoding (a traceback mid-training), NaN
    answered every question with a span (no comparison with NaN is true)."""
    from lab.config.rules import validate_config

    run = write_run(tmp_path / "run", compose_cfg(*SQUAD_V2_RUN), model=False)
    # text: not a number; nan and inf: not finite (s27c M6's rule: no infinite number passes)
    refused = r"^task\.module\.null_score_diff_threshold=.* is not (a number|finite)"
    with pytest.raises(ConfigError, match=refused):
        open_predictor(
            str(run), device="cpu", settings=[f"task.module.null_score_diff_threshold={value}"]
        )
    with pytest.raises(ConfigError, match=r"valid: a number in \[-1e6, 1e6\]"):
        validate_config(
            compose_cfg(*SQUAD_V2_RUN, f"task.module.null_score_diff_threshold={value}")
        )


@pytest.mark.parametrize("port", [70000, -1])
def test_a_port_no_socket_has_is_one_line(port: int) -> None:
    from lab.errors import LabError
    from lab.inference.ports import bind

    with pytest.raises(LabError) as refused:
        bind("127.0.0.1", port)
    assert str(refused.value) == f"port must be between 1 and 65535 (0: any free port), got {port}"


def test_an_address_of_another_machine_blames_the_host_not_the_port() -> None:
    import socket

    from lab.errors import LabError
    from lab.inference.ports import HOST_ADVICE, bind

    with pytest.raises(LabError) as refused:
        bind("192.0.2.7", 8123)  # TEST-NET-1: never this machine's
    assert str(refused.value) == (
        f"cannot listen on 192.0.2.7:8123: Cannot assign requested address ({HOST_ADVICE})"
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(LabError, match=r"another server on that port\? choose another"):
            bind("127.0.0.1", port)


def test_more_guesses_than_the_tokenizer_has_tokens_is_one_line(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """tiny_bert's embedding table has 2048 rows for its tokenizer's 775 tokens: the rows past
    them are never guessed, so 776 guesses would list tokens that are none (null)."""
    run = write_run(tmp_path / "mlm", compose_cfg("task=masked_lm", "model=tiny_bert"))
    with pytest.raises(ConfigError) as refused:
        open_predictor(str(run), device="cpu", settings=["task.predictor.top_k=776"])
    assert str(refused.value) == (
        "task.predictor.top_k=776 is more guesses than the tokenizer has tokens (775); give "
        "at most 775"
    )
    *_, predictor = open_predictor(str(run), device="cpu", settings=["task.predictor.top_k=775"])
    [result] = predictor.predict([{"text": "the cat [MASK] on the mat"}])
    tokens = [guess["token"] for guess in result["predictions"][0]]
    assert len(tokens) == 775 and None not in tokens and len(set(tokens)) == 775


def test_predict_reads_a_task_option_as_a_setting_not_a_column(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """`task=sft` (no dot) is a setting like `task.module.x=`: refused as one, not read as a
    column mapping."""
    from lab.predict import main

    run = write_run(tmp_path / "run", compose_cfg(*CLASSIFIER_RUN), model=False)
    source = tmp_path / "in.txt"
    source.write_text("hello\n")
    with pytest.raises(ConfigError, match=r"^'task' is not a setting this run's predictions read"):
        main([f"run={run}", f"input={source}", f"output={tmp_path / 'o.jsonl'}", "task=sft"])
