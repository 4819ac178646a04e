"""`python -m lab.validate`: the rules `lab.train` applies first, without loading anything."""

from __future__ import annotations

import gzip
import inspect
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from lab.config.paths import conf_dir
from lab.config.rules import (
    cuda_available,
    named_columns,
    peek_columns,
    trainer_argument_names,
    validate_config,
)
from lab.errors import ConfigError, DataError

from conftest import FIXTURES, TINY_FIXTURE_RUN, lab_cli

no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
FP16_ERROR = (
    "error: precision=16-mixed (fp16) needs a CUDA GPU; on CPU use precision=bf16-mixed "
    "or precision=32"
)


def _validate(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return lab_cli("validate", *args, cwd=cwd, timeout=120)


def _last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


# ----------------------------------------------------------------------------- the command
def test_a_good_config_prints_what_would_run(tmp_path: Path) -> None:
    result = _validate("model=tiny_bert", "data=demo", "trainer.max_epochs=2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(":", 1) for line in result.stdout.splitlines())
    assert lines["model"].strip().startswith("tiny_bert: from its config (transformers.BertConfig)")
    assert (
        lines["task"]
        .strip()
        .startswith(
            "text_classification: transformers.AutoModelForSequenceClassification with "
            "lab.tasks.text_classification.module.TextClassificationModule; best on val/acc (max)"
        )
    )
    assert "demo: local files" in lines["data"] and "text_column=text" in lines["data"]
    assert "max_epochs=2" in lines["trainer"] and "accelerator=auto" in lines["trainer"]
    assert lines["strategy"].strip() == "auto"
    assert lines["precision"].strip() == "32-true"
    assert lines["peft"].strip() == "none"
    assert "outputs/runs/" in lines["output"]
    assert result.stdout.splitlines()[-1].startswith("config ok")
    assert not (tmp_path / "outputs").exists(), "validation writes nothing"


def test_validation_imports_no_heavy_library(tmp_path: Path) -> None:
    """What keeps `lab.validate` under three seconds: torch, Lightning and transformers are
    not imported on a machine without CUDA (each takes seconds)."""
    script = (
        "import sys; from lab.validate import main; code = main(sys.argv[1:]); "
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & "
        "{'torch', 'lightning', 'transformers', 'datasets'}); print(code, heavy)"
    )
    data = [f"data.path={FIXTURES / 'sentiment'}", "data.text_column=review"]
    result = subprocess.run(
        [sys.executable, "-c", script, "model=tiny_bert", "data=csv", *data,
         "data.label_column=sentiment"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    expected = "0 []" if not torch.cuda.is_available() else "0 ['torch']"
    assert result.stdout.strip().splitlines()[-1] == expected


@no_cuda
def test_a_head_that_cannot_stream_exits_2_without_importing_it(tmp_path: Path) -> None:
    """`data.streaming=true` with the dpo head: refused in the words training ends with, from
    the task YAML (importing the head would load torch and Lightning)."""
    script = (
        "import sys; from lab.validate import main; code = main(sys.argv[1:]); "
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & "
        "{'torch', 'lightning', 'transformers', 'datasets'}); print(code, heavy)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, "model=tiny_llama", "data=preferences",
         f"data.path={FIXTURES / 'preferences'}", "data.streaming=true", "trainer.max_steps=4"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    expected = "2 []" if not torch.cuda.is_available() else "2 ['torch']"
    assert result.stdout.strip() == expected
    assert _last_line(result.stderr).startswith(
        "error: data.streaming=true: this head (DPOModule) reads its pairs whole"
    )


def test_fp16_on_cpu_exits_2_with_the_training_message(tmp_path: Path) -> None:
    result = _validate("model=tiny_bert", "precision=16-mixed", cwd=tmp_path)
    assert result.returncode == 2
    assert _last_line(result.stderr) == FP16_ERROR
    assert "Traceback" not in result.stderr


@no_cuda
def test_deepspeed_on_cpu_exits_2(tmp_path: Path) -> None:
    result = _validate("model=tiny_bert", "strategy=deepspeed_stage_2", cwd=tmp_path)
    assert result.returncode == 2
    assert _last_line(result.stderr) == (
        "error: strategy DeepSpeed needs CUDA GPUs and none is visible; use strategy=ddp "
        "(or auto) on this machine"
    )


def test_unknown_trainer_key_lists_the_valid_ones(tmp_path: Path) -> None:
    result = _validate("model=tiny_bert", "+trainer.max_epoch=3", cwd=tmp_path)
    assert result.returncode == 2
    line = _last_line(result.stderr)
    # The command line's words for one unknown key, with its guess (s31f F7)
    assert line.startswith(
        "error: 'trainer.max_epoch' is not a config key. Did you mean trainer.max_epochs? "
        "Valid keys of trainer: "
    )
    valid = line.split("Valid keys of trainer: ", 1)[1].split(", ")
    assert {"reuse_freed_memory", "max_epochs", "accelerator", "precision"} <= set(valid)


def test_missing_column_in_a_local_csv_names_the_columns_present(tmp_path: Path) -> None:
    reviews = tmp_path / "reviews.csv"
    reviews.write_text("body,sentiment\ngreat,positive\nawful,negative\n")
    result = _validate(
        "model=tiny_bert", "data=csv", f"data.path={reviews}", "data.label_column=sentiment",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    assert _last_line(result.stderr) == (
        f"error: {reviews}: column 'text' (data.text_column) is not in the train split; "
        "columns present: body, sentiment"
    )


def test_an_appended_data_key_is_refused_like_a_misspelt_one(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """`+data.batchsize=8` (Hydra's advice for an unknown key) adds a key no data module reads:
    refused by lab.validate, and by training when it builds the data module."""
    from lab.build import instantiate_datamodule

    result = _validate("model=tiny_bert", "data=demo", "+data.batchsize=8", cwd=tmp_path)
    assert result.returncode == 2
    expected = "'data.batchsize' is not a config key. Did you mean data.batch_size? Valid keys"
    assert result.stderr.startswith(f"error: {expected}")
    cfg = compose_cfg("model=tiny_bert", "data=demo", "+data.batchsize=8")
    with pytest.raises(ConfigError, match=re.escape(expected)):
        instantiate_datamodule(cfg, tokenizer=None)


def test_bad_group_option_exits_2_with_hydra_message(tmp_path: Path) -> None:
    result = _validate("model=robertaa", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: In 'train': Could not find 'model/robertaa'. Did you mean model=roberta? "
        "Options in 'model': "
        + ", ".join(sorted(p.stem for p in (conf_dir() / "model").glob("*.yaml")))
    ]


@no_cuda
def test_train_refuses_the_same_config_before_any_checkpoint(tmp_path: Path) -> None:
    refused = _validate(*TINY_FIXTURE_RUN, "precision=16-mixed", cwd=tmp_path)
    trained = lab_cli(
        "train", *TINY_FIXTURE_RUN, "precision=16-mixed", "paths.output_root=out", cwd=tmp_path
    )
    assert (refused.returncode, trained.returncode) == (2, 2)
    assert _last_line(trained.stderr) == _last_line(refused.stderr) == FP16_ERROR
    (run_dir,) = (tmp_path / "out" / "runs").glob("*/*")
    assert not (run_dir / "checkpoints").exists()
    assert not (run_dir / "model").exists()
    record = json.loads((run_dir / "record.json").read_text())
    assert record["status"] == f"failed: {FP16_ERROR.removeprefix('error: ')}"
    assert "data" not in record, "refused before the data was loaded"


# ----------------------------------------------------------------------------- the rules
def test_trainer_arguments_read_from_source_match_lightnings_signature() -> None:
    """The trainer-options rule reads `Trainer.__init__` from Lightning's source file (an
    import costs seconds); if a Lightning release moves it, this says so."""
    import lightning

    signature = inspect.signature(lightning.pytorch.Trainer.__init__).parameters
    assert trainer_argument_names() == {name for name in signature if name != "self"}


def test_cuda_probe_agrees_with_torch() -> None:
    from lab.config import hardware_rules

    assert cuda_available() == torch.cuda.is_available()
    if torch.cuda.is_available():
        assert hardware_rules._may_have_cuda(), "the quick probe must never deny a visible GPU"


def test_columns_are_peeked_from_every_local_format(tmp_path: Path) -> None:
    csv_gz = tmp_path / "train.csv.gz"
    csv_gz.write_bytes(gzip.compress(b"review,stars\ncaf\xe9,1\n"))  # a bad byte after the header
    tsv = tmp_path / "train.tsv"
    tsv.write_text("a\tb\n1\t2\n")
    jsonl = tmp_path / "train.jsonl"
    jsonl.write_text('{"x": 1}\n\n{"x": 2, "y": 3}\n')
    squad = tmp_path / "train.json"
    squad.write_text(json.dumps({"version": "1.1", "data": []}))
    assert peek_columns(csv_gz) == ["review", "stars"]
    assert peek_columns(tsv) == ["a", "b"]
    assert peek_columns(jsonl) == ["x", "y"]
    assert peek_columns(squad) is None  # converted by the QA head: columns unknown here
    assert peek_columns(FIXTURES / "lm" / "train.txt") == ["text"]


def test_every_named_column_is_checked(compose_cfg: Any) -> None:
    cfg = compose_cfg("model=tiny_bert", "data=swag")
    assert named_columns(cfg.data) == {
        "data.context_column": "sent1",
        "data.prefix_column": "sent2",
        **{f"data.ending_columns[{i}]": f"ending{i}" for i in range(4)},
        "data.label_column": "label",
    }


def test_a_column_the_data_config_marks_optional_may_be_absent(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """UltraFeedback binarized's layout (trl-lib): chosen/rejected are whole conversations and
    there is no prompt column. `optional_column_keys: [prompt_column]` in the preference data
    base lets the pre-flight check pass it (the data module decides); the other columns are
    still required, and an entry that names no column key of the config is refused."""
    turns = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "HI"}]
    row = {"chosen": turns, "rejected": [*turns[:1], {"role": "assistant", "content": "hi"}]}
    (tmp_path / "train.jsonl").write_text(json.dumps({**row, "score_chosen": 8.0}) + "\n")
    preferences = ["model=tiny_llama", "data=preferences", f"data.path={tmp_path}"]
    cfg = compose_cfg(*preferences)
    validate_config(cfg)
    assert list(cfg.data.optional_column_keys) == ["prompt_column"]
    with pytest.raises(DataError) as missing:
        validate_config(compose_cfg(*preferences, "data.rejected_column=worse"))
    assert str(missing.value) == (
        f"{tmp_path / 'train.jsonl'}: column 'worse' (data.rejected_column) is not in the train "
        "split; columns present: chosen, rejected, score_chosen"
    )
    with pytest.raises(ConfigError) as unknown:
        validate_config(compose_cfg(*preferences, "data.optional_column_keys=[promt_column]"))
    assert str(unknown.value) == (
        "data.optional_column_keys lists promt_column, not among the column keys of data: "
        "prompt_column, system_column, chosen_column, rejected_column"
    )


def test_chat_files_are_checked_for_their_format_s_columns(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """A chat column under another name: training stops on it after loading; lab.validate
    said "config ok". It now says what training says, for auto and a set format alike."""
    from lab.build import build_datamodule
    from lab.training.tokenizers import build_tokenizer

    turns = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "HI"}]
    (tmp_path / "train.jsonl").write_text(json.dumps({"conversation": turns}) + "\n")
    for split in ("validation", "test"):
        (tmp_path / f"{split}.jsonl").write_text(json.dumps({"messages": turns}) + "\n")
    chat = ["model=tiny_llama", "data=chat", f"data.path={tmp_path}"]
    for extra in ([], ["data.format=messages"]):
        with pytest.raises(DataError) as refused:
            validate_config(compose_cfg(*chat, *extra))
        cfg = compose_cfg(*chat, *extra)
        with pytest.raises(DataError) as trained:
            build_datamodule(cfg, build_tokenizer(cfg))
        assert str(refused.value) == str(trained.value)
        assert str(refused.value).startswith(f"{tmp_path / 'train.jsonl'}: ")
    (tmp_path / "train.jsonl").write_text(json.dumps({"messages": turns}) + "\n")
    validate_config(compose_cfg(*chat))  # train fits; test too
    (tmp_path / "test.jsonl").write_text(json.dumps({"prompt": "a", "completion": "b"}) + "\n")
    with pytest.raises(DataError) as other:
        validate_config(compose_cfg(*chat))
    assert str(other.value) == (
        f"{tmp_path / 'test.jsonl'}: column 'messages' (data.format=messages) is not in the test "
        "split; columns present: prompt, completion; these columns fit "
        "data.format=prompt_completion (data.format=auto detects it)"
    )


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        (["data=samsum", f"data.path={FIXTURES / 'summaries'}"], DataError,
         r"column 'dialogue' \(data.source_column\) is not in the train split"),
        (["data=csv", "data.path=/nowhere/reviews.csv"], DataError,
         "data.path does not exist: /nowhere/reviews.csv"),
        (["model=minilm", "model.pretrained=/nowhere/model"], ConfigError,
         r"model.pretrained=/nowhere/model does not exist"),
        (["+trainer.use_distributed_sampler=true"], ConfigError, "use_distributed_sampler"),
        # a nested list would add the token "['a']"
        (["model.add_tokens=[[a]]"], ConfigError,
         r"^model.add_tokens: each token is one string; got \['a'\]$"),
        (["model.add_tokens=[SKU,'']"], ConfigError,
         "^model.add_tokens: each token is one string, not empty; got ''$"),
        (["model.add_tokens=SKU"], ConfigError,
         r"^model.add_tokens is a list of tokens, e.g. \[SKU-123,ERR_TIMEOUT\]; got 'SKU'$"),
        # `+` adds a key the builder does not take (it was a TypeError after the model loaded)
        (["+optimizer.lrr=0.001"], ConfigError,
         r"^'optimizer.lrr' is not an argument of lab.training.optim.adamw. Did you mean "
         r"optimizer.lr\? Valid keys of optimizer: betas, eps, fused, layer_decay, lr, "
         r"weight_decay$"),
        (["+scheduler.warmup=3"], ConfigError,
         r"^'scheduler.warmup' is not an argument of lab.training.optim.warmup_scheduler. Did "
         r"you mean scheduler.warmup_steps\?"),
        (["+task.module.smoothing=0.1"], ConfigError,
         r"^'task.module.smoothing' is not an argument of lab.tasks.text_classification.module."
         r"TextClassificationModule. Did you mean task.module.label_smoothing\? Valid keys of "
         r"task.module: class_weights, label_smoothing$"),
        (["+model.add_special_tokens={additional_special_tokens:[x,[y]]}"], ConfigError,
         r"^model.add_special_tokens.additional_special_tokens: each token is one string; "
         r"got \['y'\]$"),
    ],
)  # fmt: skip
def test_rules_name_the_problem(
    compose_cfg: Any, overrides: list[str], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        validate_config(compose_cfg("model=tiny_bert", *overrides))


@pytest.mark.parametrize(
    "overrides",
    [
        ["data=squad", f"data.path={FIXTURES / 'squad' / 'json'}"],
        ["data=swag", f"data.path={FIXTURES / 'multiple_choice' / 'swag'}"],
        ["data=conll2003", f"data.path={FIXTURES / 'ner'}"],
        ["data=text", f"data.path={FIXTURES / 'lm'}"],
        ["data=go_emotions", f"data.path={FIXTURES / 'aspects'}"],
    ],
)
def test_the_fixture_data_of_every_head_passes(compose_cfg: Any, overrides: list[str]) -> None:
    validate_config(compose_cfg("model=tiny_bert", *overrides))


@pytest.mark.parametrize(
    ("overrides", "module"),
    [
        (["model=tiny_llama", "data=preferences", f"data.path={FIXTURES / 'preferences'}"],
         "DPOModule"),
        (["model=tiny_bert", "data=squad", f"data.path={FIXTURES / 'squad'}"],
         "QuestionAnsweringModule"),
    ],
)  # fmt: skip
def test_heads_that_cannot_stream_are_refused_with_their_reason(
    compose_cfg: Any, overrides: list[str], module: str
) -> None:
    """A head's task YAML says why its data cannot stream (`cannot_stream`); the rule that
    `lab.train` and `lab.validate` both apply refuses `data.streaming=true` with that reason."""
    cfg = compose_cfg(*overrides, "data.streaming=true", "trainer.max_steps=4")
    with pytest.raises(ConfigError) as refused:
        validate_config(cfg)
    message = str(refused.value)
    assert message.startswith(f"data.streaming=true: this head ({module}) ")
    assert cfg.task.cannot_stream in message
    assert message.endswith(", so it cannot stream; set data.streaming=false")
    validate_config(compose_cfg(*overrides))  # not streamed: nothing to refuse


def test_heads_that_stream_pass(compose_cfg: Any) -> None:
    for data in ("data=text", "data=chat", "data=csv"):
        cfg = compose_cfg("model=tiny_llama", data, "data.streaming=true", "trainer.max_steps=4")
        assert cfg.task.get("cannot_stream") is None
        validate_config(cfg)


def test_instantiate_builds_the_parts_that_need_no_weights(compose_cfg: Any) -> None:
    from lab.validate import instantiate_parts

    cfg = compose_cfg("model=tiny_bert")
    assert instantiate_parts(cfg) == [
        "6 callbacks",
        "2 loggers",
        "optimizer",
        "scheduler",
        "tokenizer",
    ]
    with pytest.raises(ConfigError, match=r"^optimizer: cannot be built: TypeError: .*momentum"):
        instantiate_parts(compose_cfg("model=tiny_bert", "+optimizer.momentum=0.9"))


def test_a_threshold_list_of_the_wrong_length_is_refused_before_data_loads(
    compose_cfg: Any,
) -> None:
    """data=go_emotions names its 28 labels: a 2-value threshold list is training's refusal,
    said by validate_config (lab.validate) too; one per label passes."""
    cfg = compose_cfg("model=tiny_bert", "data=go_emotions", "task.module.threshold=[0.5,0.5]")
    with pytest.raises(ConfigError) as caught:
        validate_config(cfg)
    assert str(caught.value) == (
        "task.module.threshold has 2 values for 28 labels; give one number, or one per label "
        "in label order"
    )
    every = "[" + ",".join(["0.5"] * 28) + "]"
    validate_config(
        compose_cfg("model=tiny_bert", "data=go_emotions", f"task.module.threshold={every}")
    )


def test_reading_every_heads_builders_imports_no_heavy_library() -> None:
    """The builder-argument rule reads each head's module file, never imports it (QA's
    package once imported its decoder, and torch with it)."""
    script = (
        "import sys\n"
        "from lab.config import compose_train_config\n"
        "from lab.config.builder_arguments import builder_parameters, check_builder_arguments\n"
        "for task in sys.argv[1:]:\n"
        "    cfg = compose_train_config([f'task={task}'])\n"
        "    check_builder_arguments(cfg)\n"
        "    assert builder_parameters(cfg.task.module._target_) is not None, task\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'torch', 'lightning', 'transformers', 'datasets', 'numpy'}))"
    )
    tasks = sorted(p.stem for p in (conf_dir() / "task").glob("*.yaml"))
    result = subprocess.run(
        [sys.executable, "-c", script, *tasks], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
