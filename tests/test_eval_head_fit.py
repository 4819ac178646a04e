"""`lab.eval` on other data refuses data the run's head does not evaluate, by the task's
`trains_on` declaration (README "After training", lab.eval; "Errors"), and reads a run's
relative `data.path` from the run's working directory.

SFT, DPO and causal LM share `AutoModelForCausalLM`: comparing Auto classes let an SFT run
take preference data, which then failed in the head's constructor with a traceback (exit 1).
A masked-LM run reads the text of any data, but not chat data (an interpolation error).
Summarization and translation read the same data: evaluated, with a line naming the metric.

No training: the runs are composed configs (no weights are loaded before the refusals).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf, open_dict

from lab.config import compose_train_config
from lab.errors import ConfigError, DataError, LabError
from lab.eval import evaluation_config
from lab.eval_data_path import locate_run_data
from lab.eval_fit import check_data_fits_run, note_other_task, run_task
from lab.run_dir.runs import TrainedRun

from conftest import FIXTURES

ROOT = Path(__file__).resolve().parent.parent


def _run(tmp_path: Path, overrides: list[str], *, declared: bool = True) -> TrainedRun:
    """A run directory's config and `overrides.yaml` as `lab.train` writes them; without
    `declared`, its config predates `task.trains_on` (no such key)."""
    directory = tmp_path / "run"
    directory.mkdir()
    OmegaConf.save(OmegaConf.create(overrides), directory / "overrides.yaml")
    config = compose_train_config(overrides, output_dir=directory)
    if not declared:
        with open_dict(config):
            config.task.pop("trains_on", None)
    return TrainedRun(directory, config, {"cwd": str(ROOT)})


SFT = ["model=tiny_llama", "data=chat", f"data.path={FIXTURES / 'sft_task'}"]
DPO = ["model=tiny_llama", "data=preferences", f"data.path={FIXTURES / 'preferences'}"]
MLM = ["task=masked_lm", "model=tiny_bert", "data=text", f"data.path={FIXTURES / 'lm'}"]
SUMMARIES = ["model=tiny_bart", "data=xsum", f"data.path={FIXTURES / 'summaries'}"]
CLASSIFIER = ["model=tiny_bert", "data=csv", f"data.path={FIXTURES / 'sentiment'}"]


@pytest.mark.parametrize("declared", [True, False], ids=["recorded", "current-yaml"])
def test_an_sft_run_refuses_preference_data_naming_its_own(tmp_path: Path, declared: bool) -> None:
    run = _run(tmp_path, SFT, declared=declared)
    with pytest.raises(
        ConfigError,
        match=r"^data=preferences is data for task=dpo; this run \(task=sft\) evaluates sft "
        r"data \(data=alpaca, chat, smoltalk, ultrachat\): evaluate it on one of those",
    ):
        evaluation_config(run, ["data=preferences", f"data.path={FIXTURES / 'x'}"], None)


def test_a_dpo_run_refuses_chat_data(tmp_path: Path) -> None:
    run = _run(tmp_path, DPO, declared=False)
    with pytest.raises(
        ConfigError,
        match=r"^data=chat is data for task=sft; this run \(task=dpo\) evaluates dpo data "
        r"\(data=preferences, ultrafeedback\)",
    ):
        evaluation_config(run, ["data=chat", f"data.path={FIXTURES / 'sft_task'}"], None)


def test_a_classifier_refuses_regression_data_by_its_problem_type(tmp_path: Path) -> None:
    run = _run(tmp_path, CLASSIFIER)
    with pytest.raises(
        ConfigError,
        match=r"^data=stsb \(data.problem_type=regression\) is data for task=text_regression; "
        r"this run \(task=text_classification\) evaluates text classification data "
        r"\(problem_type=single_label\) \(data=.*sst2.*\): evaluate it on one of those "
        r"\(data.path=<your files>\)$",
    ):
        evaluation_config(run, ["data=stsb"], None)
    with pytest.raises(  # data made for the run's task, read as another problem type
        ConfigError,
        match=r"^data=csv \(data.problem_type=regression\) is data for task=text_regression; "
        r".*: evaluate it on one of those \(data.path=<your files>\), or set "
        r"data.problem_type=single_label$",
    ):
        evaluation_config(
            run, ["data=csv", "data.path=x.csv", "data.problem_type=regression"], None
        )


def test_a_masked_lm_run_reads_text_of_any_data_but_not_chat(tmp_path: Path) -> None:
    run = _run(tmp_path, MLM)
    assert run_task(run) == "masked_lm"
    with pytest.raises(
        ConfigError,
        match=r"^data=chat is chat messages \(data for task=sft\), not text; this run "
        r"\(task=masked_lm\) evaluates the text column \(data.text_column\) of other data",
    ):
        evaluation_config(run, ["data=chat", f"data.path={FIXTURES / 'sft_task'}"], None)
    for name in ("text", "imdb", "xsum"):  # text of other data: decided, accepted
        composed = compose_train_config([f"data={name}", "task=masked_lm"])
        assert check_data_fits_run(run, composed, name) is True


def test_summarization_run_scores_translation_data_saying_with_which_metric(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run = _run(tmp_path, SUMMARIES, declared=False)
    composed = compose_train_config(["data=wmt16_ro_en"])
    assert check_data_fits_run(run, composed, "wmt16_ro_en") is True  # the same data module
    cfg = OmegaConf.create(OmegaConf.to_container(run.config))
    with caplog.at_level(logging.WARNING, logger="lab.eval_fit"):
        note_other_task(run, cfg, ["data=wmt16_ro_en"])
    assert caplog.messages == [
        "data=wmt16_ro_en is made for task=translation, scored with bleu; this run "
        "(task=summarization) scores it with task.module.metric=rouge "
        "(task.module.metric=bleu scores it as task=translation does)"
    ]
    caplog.clear()
    cfg.task.module.metric = "bleu"  # task.module.metric=bleu given: nothing to say
    note_other_task(run, cfg, ["data=wmt16_ro_en"])
    note_other_task(run, cfg, ["data=xsum"])
    assert caplog.messages == []


def test_the_cli_refusal_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lab.config.cli import run_tool
    from lab.eval import main

    run = _run(tmp_path, SFT)
    (run.directory / "config.yaml").write_text(OmegaConf.to_yaml(run.config, resolve=True))
    (run.directory / "record.json").write_text('{"status": "finished"}')
    with pytest.raises(SystemExit) as exited:
        run_tool(main, [f"run={run.directory}", "data=preferences", "data.path=x.jsonl"])
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert err.startswith("error: data=preferences is data for task=dpo; this run (task=sft)")
    assert err.count("\n") == 1
    assert sorted(p.name for p in run.directory.iterdir()) == [
        "config.yaml", "overrides.yaml", "record.json"
    ]  # fmt: skip


# ------------------------------------------------------------ the run's relative data.path
def _relative_run(tmp_path: Path, recorded_cwd: Path | None) -> TrainedRun:
    relative = str((FIXTURES / "sentiment").relative_to(ROOT))
    config = compose_train_config(["model=tiny_bert", "data=csv", f"data.path={relative}"])
    record: dict[str, Any] = {"cwd": str(recorded_cwd)} if recorded_cwd else {}
    return TrainedRun(tmp_path / "run", config, record)


def test_a_relative_data_path_is_read_from_the_runs_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    run = _relative_run(tmp_path, ROOT)
    with caplog.at_level(logging.WARNING, logger="lab.eval_data_path"):
        locate_run_data(run, [])
    assert run.config.data.path == str(FIXTURES / "sentiment")
    assert caplog.messages == [
        f"data.path=tests/fixtures/sentiment is read from the run's working directory: "
        f"{FIXTURES / 'sentiment'}"
    ]


def test_a_relative_data_path_found_nowhere_names_both_places(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    run = _relative_run(tmp_path, tmp_path / "gone")
    with pytest.raises(
        DataError,
        match=r"^data.path=tests/fixtures/sentiment does not exist from here \(.*\) nor from "
        r"the run's working directory \(.*gone\); pass data.path=<where the data is now>$",
    ):
        locate_run_data(run, ["data.max_test_samples=5"])
    # A path given now is the user's, read from here as given: not looked up elsewhere.
    locate_run_data(run, ["data.path=mine.csv"])
    locate_run_data(run, ["data=csv"])
    assert run.config.data.path == "tests/fixtures/sentiment"


def test_a_relative_data_path_found_here_is_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    run = _relative_run(tmp_path, tmp_path / "elsewhere")
    locate_run_data(run, [])
    assert run.config.data.path == "tests/fixtures/sentiment"


@pytest.mark.parametrize(
    ("options", "reads_data"),
    [(["form=onnx"], True), (["checkpoint=best"], True), ([], False)],
    ids=["onnx", "checkpoint", "merged"],
)
def test_lab_export_reads_a_relative_data_path_from_the_runs_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: list[str], reads_data: bool
) -> None:
    """s22b H2: `lab.export form=onnx` (and `checkpoint=`), which read the run's data, looked
    for a relative data.path from where it was started; the copy of model/ reads none."""
    import lab.export

    monkeypatch.chdir(tmp_path)
    run = _relative_run(tmp_path, ROOT)
    seen: list[str] = []

    def export(run: TrainedRun, *args: Any, **kwargs: Any) -> Path:
        seen.append(str(run.config.data.path))
        return tmp_path

    monkeypatch.setattr(lab.export, "open_run", lambda path: run)
    monkeypatch.setattr(lab.export, "check_output", lambda *a, **k: None)
    monkeypatch.setattr(lab.export, "export_onnx_form", export)
    monkeypatch.setattr(lab.export, "export_run", export)
    monkeypatch.setattr(lab.export, "_print_onnx_report", lambda *a: None)
    assert lab.export.main([f"run={tmp_path / 'run'}", *options]) == 0
    relative = "tests/fixtures/sentiment"
    assert seen == [str(FIXTURES / "sentiment") if reads_data else relative]


def test_a_checkpoint_folder_is_said_to_be_a_folder(tmp_path: Path) -> None:
    run = TrainedRun(tmp_path, OmegaConf.create({"task": {}}), {})
    folder = tmp_path / "ckpt"
    folder.mkdir()
    with pytest.raises(LabError, match=rf"^checkpoint {folder} is a directory, not a file$"):
        run.checkpoint(str(folder))


def test_a_relative_start_model_is_read_from_the_runs_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """s30a F3: a DPO run started from `model.pretrained=sft/model` (relative, as the README's
    `<sft run>/model`), evaluated from another folder, could not build its reference model,
    and no override could say where; its model paths are read where the run was started."""
    recorded = tmp_path / "recorded"
    (recorded / "sft" / "model").mkdir(parents=True)
    config = compose_train_config(
        [
            "model=tiny_llama",
            "data=preferences",
            f"data.path={tmp_path}",
            "model.pretrained=sft/model",
        ]
    )
    OmegaConf.resolve(config)  # as config.yaml records it: the copies hold the path too
    assert config.task.module.start_model.model.pretrained == "sft/model"
    as_recorded = OmegaConf.to_container(config)
    run = TrainedRun(tmp_path / "run", OmegaConf.create(as_recorded), {"cwd": str(recorded)})
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    with caplog.at_level(logging.INFO, logger="lab.eval_data_path"):
        locate_run_data(run, [])
    start = str(recorded / "sft" / "model")
    assert run.config.model.pretrained == start
    assert run.config.task.module.start_model.model.pretrained == start
    assert caplog.messages[0].startswith(
        f"the run's model paths are read from its working directory {recorded}: "
    )
    assert "model.pretrained=sft/model" in caplog.messages[0]
    # Started where the run was: nothing moves.
    run = TrainedRun(tmp_path / "run", OmegaConf.create(as_recorded), {"cwd": str(recorded)})
    monkeypatch.chdir(recorded)
    locate_run_data(run, [])
    assert run.config.model.pretrained == "sft/model"
