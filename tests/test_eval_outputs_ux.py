"""What `lab.eval`, `lab.predict` and `lab.export` say and write around the numbers (s21c):

* M1: beside other weights than the run recorded metrics for (`checkpoint=last`, a `model/`
  exported from `last.ckpt`), the column is `at train time (best checkpoint)`, with a note;
* M2: a run without `model/` is advised to export the weights it exported (`checkpoint=best`
  for a finished run); a checkpoint's export's card names it, with no empty results table;
* M3: evaluations written to one folder keep their own report and figures (named after the
  metrics file), `metrics.json` names them, and `output=` without `.json` is refused;
* M4: the data settings that differ from training are said in a line and recorded;
* M5: without a terminal, lab.predict and lab.eval say how far they are in plain lines;
* L5: a class the data has no row of, that the model predicted, is noted under the table
  (L4, the blank lines lab.predict skipped: `test_prediction_rows.py`).

No training: a run directory holds random tiny weights, or only what the code reads.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from omegaconf import DictConfig, OmegaConf

from helpers.echo_predictor import Echo
from lab.config import compose_train_config
from lab.errors import ConfigError, LabError
from lab.eval_results import (
    METRICS,
    claim_folder,
    report_paths,
    results_target,
    settings_changed,
    write_results,
)
from lab.eval_table import (
    absent_classes_note,
    other_weights,
    plain_test_progress,
    print_metrics,
    setting_changes_line,
)
from lab.inference.plain_progress import PlainProgress
from lab.run_dir.model_card import exported_checkpoint, model_card, write_model_card
from lab.run_dir.runs import TrainedRun
from lab.run_dir.summary import BEST, LAST
from test_tool_refusals import write_classifier_run

from conftest import TINY_FIXTURE_RUN

BEST_FILE = "best-epoch00-step000050.ckpt"
RECORDED = {"test/acc": 0.755, "val/acc": 0.755}


def _run(
    tmp_path: Path, files: tuple[str, ...] = (BEST_FILE, "last.ckpt"), **record: Any
) -> TrainedRun:
    """A run directory holding the checkpoint `files` (empty: only their names are read)."""
    directory = tmp_path / "run"
    (directory / "checkpoints").mkdir(parents=True)
    for name in files:
        (directory / "checkpoints" / name).write_bytes(b"")
    full = {"status": "finished", "tested": BEST, "metrics": RECORDED, **record}
    return TrainedRun(directory, OmegaConf.create({"task": {}}), full)


def _printed(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().out.splitlines()


# ------------------------------------------------------------------- M1: which weights
def test_last_is_compared_with_a_column_titled_with_the_best_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _run(tmp_path)
    why = (
        f"the run recorded these metrics for its best checkpoint ({BEST_FILE}), not for the "
        "last.ckpt evaluated here"
    )
    assert other_weights(run, "last") == (BEST, why)
    print_metrics(
        {"test/acc": 0.8475}, {"test/acc": 0.755}, True, tmp_path / "m.json", run=run,
        checkpoint="last",
    )  # fmt: skip
    lines = _printed(capsys)
    assert any("at train time (best checkpoint)*" in line for line in lines)
    assert any(" 0.8475 " in line and " 0.7550 " in line for line in lines)
    assert f"* {why}" in lines
    # A limited pass's note too: both, one line.
    print_metrics(
        {"test/acc": 0.8}, {"test/acc": 0.7}, True, tmp_path / "m.json", "a note", run=run,
        checkpoint="last",
    )  # fmt: skip
    assert f"* {why}; a note" in _printed(capsys)
    # The best checkpoint's file is gone: named without it.
    (run.directory / "checkpoints" / BEST_FILE).unlink()
    assert other_weights(run, "last")[1] == (
        "the run recorded these metrics for its best checkpoint, not for the last.ckpt "
        "evaluated here"
    )


def test_the_weights_recorded_are_no_other_weights(tmp_path: Path) -> None:
    """The best checkpoint, the exported model, and `last.ckpt` where it is the best file (a
    hard link: a run still improving at its end) or where the run tested its last weights."""
    run = _run(tmp_path)
    assert other_weights(run, "best") == ("", "")
    assert other_weights(run, "model") == ("", "")
    assert other_weights(run, str(run.directory / "checkpoints" / BEST_FILE)) == ("", "")
    last = run.directory / "checkpoints" / "last.ckpt"
    last.unlink()
    os.link(run.directory / "checkpoints" / BEST_FILE, last)
    assert other_weights(run, "last") == ("", "")
    shutil.rmtree(run.directory)
    untested = _run(tmp_path, ("last.ckpt",), tested=LAST)
    assert other_weights(untested, "last") == ("", "")


def test_a_model_exported_from_last_is_other_weights_and_its_card_says_so(
    tmp_path: Path, compose_cfg: Any
) -> None:
    """`lab.export checkpoint=last` into an empty `model/` (the advice lab gave before): a plain
    `lab.eval run=` evaluates those weights, which its card names."""
    run = _run(tmp_path)
    cfg = compose_cfg(*TINY_FIXTURE_RUN)
    run.model_dir.mkdir()
    write_model_card(run.model_dir, cfg, run.record, {}, checkpoint="last.ckpt")
    assert exported_checkpoint(run.model_dir) == "last.ckpt"
    assert other_weights(run, "model") == (
        BEST,
        f"the run recorded these metrics for its best checkpoint ({BEST_FILE}), not for the "
        "model/ exported from last.ckpt evaluated here",
    )
    write_model_card(run.model_dir, cfg, run.record, RECORDED, checkpoint=BEST_FILE)
    assert other_weights(run, "model") == ("", "")
    write_model_card(run.model_dir, cfg, run.record, RECORDED)  # the run's own export
    assert exported_checkpoint(run.model_dir) is None
    assert other_weights(run, "model") == ("", "")


# ------------------------------------------------------------ M2: advice and model card
@pytest.mark.parametrize(
    ("files", "record", "advice"),
    [
        ((BEST_FILE, "last.ckpt"), {}, "checkpoint=best (the best checkpoint: the weights the "
         "run exported and recorded its metrics for)"),
        (("last.ckpt",), {"tested": LAST}, "checkpoint=last"),
        ((BEST_FILE, "last.ckpt"), {"status": "interrupted", "metrics": {}}, "checkpoint=last"),
        (("last.ckpt",), {}, "checkpoint=last (the run exported its best checkpoint, which is "
         "gone: its recorded metrics are not of these weights)"),
    ],
)  # fmt: skip
def test_a_run_without_model_is_advised_to_export_the_weights_it_exported(
    tmp_path: Path, files: tuple[str, ...], record: dict[str, Any], advice: str
) -> None:
    run = _run(tmp_path, files, **record)
    status = record.get("status", "finished")
    with pytest.raises(LabError) as caught:
        run.require_model()
    assert str(caught.value) == (
        f"{run.directory} has no exported model ({run.model_dir}/config.json missing; run "
        f"status: {status}). Export one from a checkpoint: python -m lab.export "
        f"run={run.directory} {advice}"
    )


def test_the_card_of_a_checkpoint_export_names_it_and_has_no_empty_table(
    compose_cfg: Any,
) -> None:
    cfg = compose_cfg(*TINY_FIXTURE_RUN)
    record = {"command": "c", "status": "finished", "tested": BEST, "metrics": RECORDED}
    card = model_card(cfg, record, {}, checkpoint="last.ckpt")
    assert "\n- **Weights**: checkpoint `last.ckpt` of the run\n" in card
    assert "| metric | value |" not in card and "## Results (" not in card
    assert (
        "## Results\n\nNo metrics were recorded for these weights (checkpoint `last.ckpt`): the "
        "run recorded its metrics for its best checkpoint. Measure them with `python -m "
        "lab.eval run=<run dir> checkpoint=last`.\n"
    ) in card
    # The tested checkpoint exported: its metrics, under the weights they are of.
    best = model_card(cfg, record, {"test/acc": 0.755}, checkpoint=BEST_FILE)
    assert (
        "## Results (best checkpoint)\n\n| metric | value |\n|---|---|\n| `test/acc` | 0.7550 |\n"
        in best
    )
    # A run that did not finish recorded none; the run's own export names no checkpoint.
    interrupted = model_card(cfg, {"command": "c", "status": "interrupted"}, {})
    assert "**Weights**" not in interrupted
    assert (
        "## Results\n\nNo metrics were recorded for these weights: the run recorded none "
        "(status: interrupted).\n"
    ) in interrupted


# ------------------------------------------------------------------ M3: where results go
def test_the_report_and_figures_are_named_after_the_metrics_file(tmp_path: Path) -> None:
    named, default = report_paths(tmp_path / "ev_int.json"), report_paths(tmp_path / METRICS)
    assert named == (tmp_path / "ev_int.test_report.json", tmp_path / "ev_int.plots")
    assert default == (tmp_path / "test_report.json", tmp_path / "plots")


def test_evaluations_started_in_the_same_second_get_folders_of_their_own(tmp_path: Path) -> None:
    """s25c H1: two `lab.eval` of one run in the same second wrote into one `eval/<time>/`,
    and one evaluation's results were lost."""
    target = tmp_path / "eval" / "2026-12-06_16-53-28" / METRICS
    first, second, third = (claim_folder(target) for _ in range(3))
    assert first == target and first.parent.is_dir()
    assert second == tmp_path / "eval" / "2026-12-06_16-53-28_2" / METRICS
    assert third == tmp_path / "eval" / "2026-12-06_16-53-28_3" / METRICS
    # newest last in name order, as lab.compare --eval-data reads them
    names = [*(p.parent.name for p in (first, second, third)), "2026-12-06_16-53-29"]
    assert sorted(names) == names


@pytest.mark.parametrize(
    ("name", "example"), [("ev_order", "ev_order.json"), ("ev.txt", "ev.json")]
)
def test_an_output_that_is_no_json_file_is_refused_in_one_line(
    tmp_path: Path, name: str, example: str
) -> None:
    output, run = tmp_path / "evout" / name, _run(tmp_path)
    with pytest.raises(ConfigError) as caught:
        results_target(run, str(output))
    assert str(caught.value) == (
        f"output={output} must name a .json file (the metrics are written there, the report "
        f"and plots beside it, named after it), e.g. output={output.parent / example}"
    )
    assert not output.exists()
    assert results_target(run, str(tmp_path / "a.JSON")) == tmp_path / "a.JSON"


def _trained(tmp_path: Path) -> tuple[TrainedRun, DictConfig]:
    cfg = compose_train_config(TINY_FIXTURE_RUN, output_dir=tmp_path / "run")
    run = TrainedRun(tmp_path / "run", cfg, {"status": "finished", "metrics": {}})
    return run, OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))


def test_two_evaluations_in_one_folder_keep_their_own_reports(tmp_path: Path) -> None:
    """The second no longer replaces the first's test_report.json and plots/; metrics.json
    names its own, and records the data options given and what differs from training."""
    run, cfg = _trained(tmp_path)
    folder = tmp_path / "evout"
    reports = {
        "ev_onlypos": {"confusion_matrix": [[0, 0], [62, 138]], "labels": ["neg", "pos"]},
        "ev_int": {"confusion_matrix": [[164, 36], [62, 138]], "labels": ["neg", "pos"]},
    }
    cfg.data.max_length = 8
    for name, report in reports.items():
        write_results(
            folder / f"{name}.json", run, cfg, checkpoint="model", evaluated={"rows": 1},
            module_settings=[], metrics={"test/acc": 0.5}, report=report,
            data_overrides=["data.max_length=8", "data.eval_batch_size=4"],
        )  # fmt: skip
    for name, report in reports.items():
        written = json.loads((folder / f"{name}.json").read_text())
        assert written["report"] == f"{name}.test_report.json"
        assert written["plots"] == f"{name}.plots"
        assert json.loads((folder / written["report"]).read_text()) == report
        assert (folder / written["plots"] / "confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"
        assert written["data_overrides"] == ["data.max_length=8", "data.eval_batch_size=4"]
        assert written["differs_from_training"] == {
            "data.max_length": {"training": 128, "evaluation": 8}
        }
    assert sorted(p.name for p in folder.iterdir()) == [
        "ev_int.json", "ev_int.plots", "ev_int.test_report.json",
        "ev_onlypos.json", "ev_onlypos.plots", "ev_onlypos.test_report.json",
    ]  # fmt: skip
    # Without a report (a head that writes none): no names of files that are not there.
    plain = folder / "plain.json"
    empty: dict[str, Any] = {"evaluated": {}, "module_settings": [], "metrics": {}}
    write_results(plain, run, cfg, checkpoint="model", report={}, **empty)
    assert not {"report", "plots", "data_overrides"} & set(json.loads(plain.read_text()))


def test_lab_eval_written_to_one_folder_twice_keeps_both_reports(tmp_path: Path) -> None:
    """Through `lab.eval`: the run's train split and its test split, both written to one
    folder; each report holds its own split's rows."""
    from lab.eval import main

    run_dir = write_classifier_run(tmp_path / "run")
    folder = tmp_path / "evout"
    rows = {}
    for split in ("train", "test"):
        output = folder / f"{split}.json"
        assert main([f"run={run_dir}", f"split={split}", f"output={output}"]) == 0
        written = json.loads(output.read_text())
        rows[split] = written["data"]["rows"]
        assert written["report"] == f"{split}.test_report.json"
    for split in ("train", "test"):
        report = json.loads((folder / f"{split}.test_report.json").read_text())
        assert sum(map(sum, report["confusion_matrix"])) == rows[split]
    assert (rows["train"], rows["test"]) == (56, 12)
    assert not (folder / "test_report.json").exists()


def test_lab_eval_plots_false_draws_no_figures_and_names_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`plots=false`: the report and metrics are written, no figures folder, and neither
    metrics.json nor the printed lines name one; an earlier evaluation's figures under the
    same name are left as they were, unnamed. A word other than true/false is refused."""
    from lab.eval import main

    run_dir = write_classifier_run(tmp_path / "run")
    output = tmp_path / "evout" / "ev.json"
    assert main([f"run={run_dir}", f"output={output}"]) == 0
    figure = output.parent / "ev.plots" / "confusion_matrix.png"
    earlier = figure.read_bytes()
    capsys.readouterr()
    assert main([f"run={run_dir}", f"output={output}", "plots=false"]) == 0
    written = json.loads(output.read_text())
    assert written["report"] == "ev.test_report.json" and "plots" not in written
    assert sum(map(sum, json.loads((output.parent / written["report"]).read_text())[
        "confusion_matrix"])) == written["data"]["rows"]  # fmt: skip
    assert figure.read_bytes() == earlier  # not redrawn, not deleted
    printed = capsys.readouterr().out
    assert f"Report written to {output.parent / 'ev.test_report.json'}" in printed
    assert "figures in" not in printed
    fresh = tmp_path / "fresh" / "ev.json"
    assert main([f"run={run_dir}", f"output={fresh}", "plots=0"]) == 0
    assert sorted(p.name for p in fresh.parent.iterdir()) == ["ev.json", "ev.test_report.json"]
    with pytest.raises(LabError, match="plots must be true or false, got 'maybe'"):
        main([f"run={run_dir}", "plots=maybe"])


# ------------------------------------------------------------- M4: settings from training
def test_settings_that_differ_from_training_are_named_with_the_runs_value(
    tmp_path: Path,
) -> None:
    run, cfg = _trained(tmp_path)
    assert setting_changes_line(run, cfg, []) == ""
    cfg.data.max_length = 8
    cfg.data.eval_batch_size = 4  # batching: no result changes
    cfg.data.path = str(tmp_path)  # other data: no setting
    given = ["data.max_length=8", "data.eval_batch_size=4", f"data.path={tmp_path}"]
    assert settings_changed(run, cfg, given) == {"data.max_length": (128, 8)}
    assert setting_changes_line(run, cfg, given) == (
        "Data settings that differ from training: data.max_length=8 (the run trained with 128)"
    )
    # A data config of other data sets its own cut, though no data.max_length= was given.
    cfg.data.text_column = "sentence"
    assert setting_changes_line(run, cfg, ["data=demo", "data.text_column=sentence"]) == (
        "Data settings that differ from training: data.text_column=sentence (the run trained "
        "with review); data.max_length=8 (data=demo sets it; the run trained with 128)"
    )


def test_a_chat_runs_history_cut_is_a_setting_compared_with_training() -> None:
    """A chat run trained with data.history_cut=oldest_turns, evaluated on a data config that
    cuts chats at their end: said, as data.max_length is (s27 open finding)."""
    trained = {"max_length": 64, "history_cut": "oldest_turns", "path": "a"}
    run: Any = SimpleNamespace(config=OmegaConf.create({"data": trained}))
    cfg = OmegaConf.create({"data": {**trained, "history_cut": "none", "path": "b"}})
    assert settings_changed(run, cfg, ["data=chat"]) == {
        "data.history_cut": ("oldest_turns", "none")
    }


# ----------------------------------------------------------------- M5: plain progress lines
def _clock(step: float) -> Callable[[], float]:
    """A clock that moves `step` seconds each time it is read."""
    return partial(next, itertools.count(step, step))


def test_plain_progress_says_a_line_each_tenth_after_ten_seconds_and_every_thirty() -> None:
    lines: list[str] = []
    progress = PlainProgress("predicted", 20000, say=lines.append, clock=_clock(4))  # 4 s a read
    for _ in range(10):
        progress.advance(1000)  # 5% every 4 s: a tenth every 8 s
    progress.advance(10000)  # the end: the tool's summary says it
    assert lines == [
        "predicted 3000 of 20000 rows (15%), 0:00:12 elapsed, about 0:01:08 left",
        "predicted 6000 of 20000 rows (30%), 0:00:24 elapsed, about 0:00:56 left",
        "predicted 9000 of 20000 rows (45%), 0:00:36 elapsed, about 0:00:44 left",
    ]
    slow: list[str] = []
    crawling = PlainProgress("evaluated", 1000, unit="batches", say=slow.append, clock=_clock(6))
    for _ in range(12):
        crawling.advance(1)  # no tenth: a line every 30 s
    assert slow == [
        "evaluated 5 of 1000 batches (0%), 0:00:30 elapsed, about 1:39:30 left",
        "evaluated 10 of 1000 batches (1%), 0:01:00 elapsed, about 1:39:00 left",
    ]
    short = PlainProgress("predicted", 10, say=slow.append, clock=_clock(0.1))
    for _ in range(10):
        short.advance(1)
    assert len(slow) == 2  # a pass of a second says nothing before its summary


def test_predict_without_a_terminal_prints_plain_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """stdout is no terminal under pytest, as under nohup: no bar, lines on stdout."""
    import lab.predict

    run = SimpleNamespace(head="AutoModelForSequenceClassification", model_dir=tmp_path / "model")
    monkeypatch.setattr(lab.predict, "open_predictor", lambda *a, **k: (run, None, Echo()))
    monkeypatch.setattr(lab.predict, "PlainProgress", partial(PlainProgress, clock=_clock(11)))
    source = tmp_path / "in.jsonl"
    source.write_text("".join(f'{{"review": "text {n}"}}\n' for n in range(40)))
    argv = ["run=x", f"input={source}", f"output={tmp_path / 'out.jsonl'}", "batch_size=10"]
    assert lab.predict.main(argv) == 0
    assert _printed(capsys)[:4] == [
        "predicted 10 of 40 rows (25%), 0:00:11 elapsed, about 0:00:33 left",
        "predicted 20 of 40 rows (50%), 0:00:22 elapsed, about 0:00:22 left",
        "predicted 30 of 40 rows (75%), 0:00:33 elapsed, about 0:00:11 left",
        "Predicted 40 of 40 rows",
    ]


def test_evals_test_loop_without_a_terminal_prints_plain_lines(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import lab.inference.plain_progress

    clocked = partial(PlainProgress, clock=_clock(11))
    monkeypatch.setattr(lab.inference.plain_progress, "PlainProgress", clocked)
    callback = plain_test_progress()
    trainer = SimpleNamespace(num_test_batches=[3, 1], is_global_zero=True)
    callback.on_test_start(trainer, None)
    for batch in range(4):
        callback.on_test_batch_end(trainer, None, None, None, batch)
    assert _printed(capsys) == [
        "evaluated 1 of 4 batches (25%), 0:00:11 elapsed, about 0:00:33 left",
        "evaluated 2 of 4 batches (50%), 0:00:22 elapsed, about 0:00:22 left",
        "evaluated 3 of 4 batches (75%), 0:00:33 elapsed, about 0:00:11 left",
    ]


# ----------------------------------------------------------------- L5: an absent class
def test_a_class_no_row_is_labelled_with_but_predicted_is_noted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    only_pos = {"confusion_matrix": [[0, 0], [62, 138]], "labels": ["neg", "pos"]}
    note = (
        "no row of the data evaluated is labelled 'neg' (predicted for 62 rows); the macro "
        "averages (f1, precision, recall) count that class with a score of 0, which lowers them"
    )
    assert absent_classes_note(only_pos) == note
    one = {"confusion_matrix": [[0, 0], [1, 199]], "labels": ["neg", "pos"]}
    assert "'neg' (predicted for 1 row);" in absent_classes_note(one)  # s21e L1
    # Neither labelled nor predicted: left out of the macro averages, nothing to say.
    assert absent_classes_note({"confusion_matrix": [[5, 0], [0, 0]], "labels": ["a", "b"]}) == ""
    assert absent_classes_note({"generations": []}) == ""
    target = tmp_path / "ev.json"
    print_metrics({"test/f1": 0.4}, {}, False, target, report=only_pos)
    assert _printed(capsys)[-3:] == [
        f"note: {note}",
        f"Metrics written to {target}",
        f"Report written to {tmp_path / 'ev.test_report.json'}",
    ]
