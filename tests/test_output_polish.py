"""What lab prints and writes, read as a user reads it: the curves figure (markers on short
series, whole-number steps, fixed colours, the tested checkpoint's step), the model card's
parameter counts and tags, train.log without terminal codes, lab.eval's number format, the
tools' `--help` within 80 columns, the closing lines of a multirun and lab.inspect's labels
table at any width."""

from __future__ import annotations

import csv
import io
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf

from lab.run_dir.plots import BEST_LABEL, best_tested_step, curves_figure
from lab.run_dir.summary import BEST, LAST

from conftest import TINY_FIXTURE_RUN, lab_cli


# ------------------------------------------------------------------------------- curves.png
def _metrics_csv(run_dir: Path, rows: list[dict[str, Any]]) -> Path:
    """A Lightning-style CSV log in `run_dir/csv/metrics.csv` (empty cells where unset)."""
    path = run_dir / "csv" / "metrics.csv"
    path.parent.mkdir(parents=True)
    names = ["epoch", "step", "train/loss", "val/loss", "val/acc"]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, names, restval="")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _cfg(metric: str = "val/acc") -> Any:
    return OmegaConf.create({"optimized_metric": metric, "task": {}})


def _lines(axis: Any) -> dict[str, Any]:
    return {line.get_label(): line for line in axis.get_lines()}


def test_a_one_point_series_is_drawn_and_steps_are_whole_numbers(tmp_path: Path) -> None:
    """A tiny_gpt2 LM run logs one train/loss (at the 10th step): a line without a marker
    through one point drew nothing. A 5-step run's axis read 4.8 4.9 5.0 5.1 5.2."""
    import matplotlib.pyplot as plt

    path = _metrics_csv(
        tmp_path,
        [{"epoch": 0, "step": 9, "train/loss": 2.5}, {"epoch": 0, "step": 9, "val/loss": 2.4}],
    )
    figure = curves_figure(path, _cfg("val/loss"))
    (axis,) = figure.axes
    lines = _lines(axis)
    assert set(lines) == {"train/loss", "val/loss"}
    for line in lines.values():
        assert line.get_marker() == "o" and line.get_markersize() == 5
        # Steps as the console and the checkpoint names count them: the 10th is 10, not 9.
        assert list(line.get_xdata()) == [10]
    figure.canvas.draw()
    ticks = [tick for tick in axis.get_xticks() if axis.get_xlim()[0] <= tick <= axis.get_xlim()[1]]
    assert ticks and all(float(tick).is_integer() for tick in ticks)
    plt.close(figure)


def test_each_metric_keeps_its_colour_and_long_train_series_have_no_markers(
    tmp_path: Path,
) -> None:
    import matplotlib.pyplot as plt

    only_val = _metrics_csv(
        tmp_path / "a", [{"epoch": 0, "step": s, "val/loss": 1.0} for s in (4, 9)]
    )
    figure = curves_figure(only_val, _cfg("val/loss"))
    assert _lines(figure.axes[0])["val/loss"].get_color() == "tab:orange"  # not blue alone
    plt.close(figure)
    rows = [{"epoch": 0, "step": s, "train/loss": 1.0 / (s + 1)} for s in range(40)]
    rows += [{"epoch": 0, "step": 39, "val/loss": 0.5, "val/acc": 0.75}]
    figure = curves_figure(_metrics_csv(tmp_path / "b", rows), _cfg())
    losses, metric = figure.axes
    train, val = _lines(losses)["train/loss"], _lines(losses)["val/loss"]
    assert (train.get_color(), train.get_marker()) == ("tab:blue", "None")  # 40 points: a line
    assert (val.get_color(), val.get_marker()) == ("tab:orange", "o")
    assert _lines(metric)["val/acc"].get_color() == "tab:green"
    assert BEST_LABEL not in _lines(losses)  # no checkpoints folder: no step to mark
    plt.close(figure)


def test_the_tested_checkpoints_step_is_marked(tmp_path: Path) -> None:
    """A run whose val/loss climbs after its best validation: the dotted line says which
    weights the final metrics are of."""
    import matplotlib.pyplot as plt

    rows = [
        {"epoch": 0, "step": s, "val/loss": v, "val/acc": 0.5} for s, v in ((9, 0.7), (19, 0.9))
    ]
    path = _metrics_csv(tmp_path, rows)
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "best-epoch00-step000010.ckpt").write_bytes(b"")
    (tmp_path / "record.json").write_text(json.dumps({"tested": BEST}))
    assert best_tested_step(tmp_path) == 10
    figure = curves_figure(path, _cfg())
    for axis in figure.axes:
        best = _lines(axis)[BEST_LABEL]
        assert list(best.get_xdata()) == [10, 10] and best.get_linestyle() == ":"
    plt.close(figure)
    # The final metrics of the last weights (no validation before the end): nothing marked.
    (tmp_path / "record.json").write_text(json.dumps({"tested": LAST}))
    assert best_tested_step(tmp_path) is None


def test_a_fit_that_logged_nothing_draws_no_curves(tmp_path: Path) -> None:
    """A 5-step run logging every 10 steps, stopped before its first validation: an empty
    figure (and matplotlib's 'No artists with labels' warning) was written."""
    path = _metrics_csv(tmp_path, [{"epoch": 1, "step": 5}])
    assert curves_figure(path, _cfg()) is None


# ------------------------------------------------------------------------------ model card
def test_the_card_counts_parameters_in_words_and_tags_no_peft_task_type(compose_cfg: Any) -> None:
    from lab.run_dir.model_card import model_card

    cfg = compose_cfg(*TINY_FIXTURE_RUN)
    metrics = {"model/params_total": 22713986.0, "model/params_trainable": 22713986.0}
    card = model_card(cfg, {"command": "c"}, {**metrics, "test/acc": 0.5})
    front = card.split("---")[1].strip().splitlines()
    assert front == [
        "library_name: transformers",
        "pipeline_tag: text-classification",
        "tags: [lab]",
    ]
    assert "- **Parameters**: 22,713,986 (all trainable)" in card.splitlines()
    assert "params" not in card.split("## Results")[1]  # counts are no metrics
    assert "| `test/acc` | 0.5000 |" in card
    partly = {"model/params_total": 100258.0, "model/params_trainable": 2306.0}
    assert "- **Parameters**: 100,258 (2,306 trainable)" in model_card(cfg, {}, partly)
    assert "**Parameters**" not in model_card(cfg, {}, {"test/acc": 0.5})


def test_a_merged_lora_card_counts_the_weights_in_its_folder(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """model/ of a LoRA run holds the merged weights, without the adapter's own parameters:
    the card said the adapted model's count (146,752 where the folder held 139,584)."""
    import torch
    from safetensors.torch import save_file

    from lab.run_dir.model_card import write_model_card

    cfg = compose_cfg(*TINY_FIXTURE_RUN, "peft=lora")
    save_file({"a": torch.zeros(3, 4), "b": torch.zeros(5)}, str(tmp_path / "model.safetensors"))
    metrics = {"model/params_total": 40.0, "model/params_trainable": 23.0}
    card = write_model_card(tmp_path, cfg, {"command": "c"}, metrics).read_text()
    assert (
        "- **Parameters**: 17 (the adapter merged in; training held 40, 23 of them trainable)"
        in (card.splitlines())
    )


# ------------------------------------------------------------------------------- train.log
def test_train_log_is_written_without_terminal_codes(compose_cfg: Any, tmp_path: Path) -> None:
    """transformers' LOAD REPORT title is bold (`ESC[1m`): in train.log that was `^[[1m`."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.utils import get_class

    compose_cfg(*TINY_FIXTURE_RUN)
    logging_cfg = HydraConfig.get().job_logging
    spec = dict(logging_cfg.formatters[logging_cfg.handlers.file.formatter])
    formatter = get_class(spec.pop("()"))(**spec)
    handler = logging.FileHandler(tmp_path / "train.log")
    handler.setFormatter(formatter)
    logger = logging.getLogger("test_output_polish.transformers")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        logger.warning(
            "\x1b[1mBertForSequenceClassification LOAD REPORT\x1b[0m from: x\n"
            "\x1b[31mred\x1b[0m \x1b]8;;https://hf.co\x1b\\link\x1b]8;;\x1b\\"
        )
    finally:
        logger.removeHandler(handler)
        handler.close()
    text = (tmp_path / "train.log").read_text()
    assert "\x1b" not in text
    first, second = text.splitlines()
    assert first.endswith(
        "][test_output_polish.transformers][WARNING] - "
        "BertForSequenceClassification LOAD REPORT from: x"
    )
    assert first.startswith("[") and second == "red link"


# ---------------------------------------------------------------------------------- lab.eval
def test_lab_eval_prints_four_decimals_as_the_final_table_does(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from lab.eval_table import print_metrics

    monkeypatch.setenv("COLUMNS", "80")
    print_metrics(
        {"test/acc": 1 / 12, "test/loss": 2.985654, "test/f1": 0.125},
        {"test/acc": 0.25},
        True,
        tmp_path / "metrics.json",
    )
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("│")]
    assert [row.split("│")[1:4] for row in rows] == [
        [" test/acc  ", " 0.0833 ", "        0.2500 "],
        [" test/f1   ", " 0.1250 ", "               "],
        [" test/loss ", " 2.9857 ", "               "],
    ]


# ---------------------------------------------------------------------------------- --help
@pytest.mark.parametrize("tool", ["eval", "predict", "export", "serve", "demo", "inspect"])
def test_each_tools_help_fits_80_columns(tool: str, capsys: pytest.CaptureFixture[str]) -> None:
    import importlib

    module = importlib.import_module(f"lab.{tool}")
    with pytest.raises(SystemExit) as done:
        module.main(["--help"])
    assert done.value.code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"python -m lab.{tool} ")
    assert all(len(line) <= 80 for line in lines), [line for line in lines if len(line) > 80]
    # Every option is listed, its text in the column after the names.
    listed = [line.split()[0] for line in lines[1:] if not line.startswith("    ")]
    assert listed == list(module.OPTIONS)


def test_help_folds_at_words_in_the_text_column() -> None:
    from lab.tool_help import help_text

    text = help_text(
        "python -m lab.x run=<run dir> [option=value] [another_option=value] [a_third=value]",
        {"run": "the run", "task.module.<key>": "a setting, e.g. " + "word " * 12 + "end"},
        width=60,
    )
    assert text.splitlines() == [
        "python -m lab.x run=<run dir> [option=value]",
        "    [another_option=value] [a_third=value]",
        "  run                the run",
        "  task.module.<key>  a setting, e.g. word word word word",
        "                     word word word word word word word word",
        "                     end",
    ]


def test_validate_help_explains_its_flags(capsys: pytest.CaptureFixture[str]) -> None:
    from lab.validate import main

    assert main(["--help"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == [
        "python -m lab.validate [--instantiate] [-m] [--config-dir <folder>] [<lab.train",
        "    override> ...]",
    ]
    assert all(len(line) <= 80 for line in lines)
    names = [line.split("  ")[1].strip() for line in lines[2:] if not line.startswith("    ")]
    assert names == ["<override>", "--instantiate", "-m, --multirun", "--config-dir"]
    assert "--instantiate   also build every part that needs neither weights nor data:" in (
        "\n".join(lines)
    )


# -------------------------------------------------------------------------------- multirun
def _finished_run(path: Path, finished: bool = True) -> None:
    path.mkdir(parents=True)
    (path / "record.json").write_text("{}")
    if finished:
        (path / "metrics.json").write_text("{}")


def test_a_plain_multirun_closes_with_its_folder_and_the_compare_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from lab.sweeps.multirun_end import BASIC_SWEEPER, MultirunEnd, closing_lines

    monkeypatch.setenv("COLUMNS", "80")
    folder = tmp_path / "multiruns" / "10-00-00_1-ab"
    _finished_run(folder / "0")
    _finished_run(folder / "1")
    config = OmegaConf.create({"hydra": {"sweeper": {"_target_": BASIC_SWEEPER}}})
    config.hydra.sweep = {"dir": str(folder)}
    MultirunEnd().on_multirun_end(config)
    assert capsys.readouterr().out.splitlines() == [
        f"Multirun directory: {folder} (2 finished runs)",
        f"Compare the runs: python -m lab.compare {folder}",
    ]
    # An Optuna sweep ends with a summary of its own.
    config.hydra.sweeper._target_ = "hydra_plugins.lab_optuna_sweeper.sweeper.LabOptunaSweeper"
    MultirunEnd().on_multirun_end(config)
    assert capsys.readouterr().out == ""
    _finished_run(folder / "2", finished=False)
    assert closing_lines(folder)[0] == ("Multirun directory", f"{folder} (2 finished runs of 3)")
    spaced = tmp_path / "a b"
    _finished_run(spaced / "0", finished=False)
    assert closing_lines(spaced) == [("Multirun directory", f"{spaced} (0 finished runs of 1)")]
    # A folder name rich would read as markup, and one the shell would split: both as they are.
    odd = tmp_path / "runs[lr] x"
    _finished_run(odd / "0")
    config.hydra.sweeper._target_ = BASIC_SWEEPER
    config.hydra.sweep.dir = str(odd)
    MultirunEnd().on_multirun_end(config)
    assert capsys.readouterr().out.splitlines() == [
        f"Multirun directory: {odd} (1 finished run)",
        f"Compare the runs: python -m lab.compare '{odd}'",
    ]


def test_the_callback_is_hydras(compose_cfg: Any) -> None:
    from hydra.core.hydra_config import HydraConfig

    compose_cfg(*TINY_FIXTURE_RUN)
    callbacks = HydraConfig.get().callbacks
    assert [c._target_ for c in callbacks.values()] == ["lab.sweeps.multirun_end.MultirunEnd"]


@pytest.mark.slow
def test_a_real_multirun_ends_with_the_closing_lines(tmp_path: Path) -> None:
    result = lab_cli(
        "train",
        "-m",
        *TINY_FIXTURE_RUN,
        "trainer.max_steps=2",
        "callbacks=none",
        "seed=1,2",
        "paths.output_root=out",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (folder,) = (tmp_path / "out" / "multiruns").glob("*/*")
    assert result.stdout.splitlines()[-2:] == [
        f"Multirun directory: {folder.resolve()} (2 finished runs)",
        f"Compare the runs: python -m lab.compare {folder.resolve()}",
    ]


# ------------------------------------------------------------------------ lab.inspect labels
LABELS = [
    "account_access_and_password_reset_problem",
    "billing",
    *(f"label_{i:02d}_of_the_ticket_set" for i in range(18)),
]


def _label_report(weighted: bool = True) -> dict[str, Any]:
    counts = {name: 10 for name in LABELS}
    return {
        "labels": {
            "counts": counts,
            "shares": {name: 0.05 for name in LABELS},
            "class_weights": {name: 1.0 for name in LABELS},
        },
        "class_weights_option": weighted,
    }


def _printed(width: int, report: dict[str, Any]) -> list[str]:
    from rich.console import Console

    from lab.inspect_labels import print_label_table

    screen = io.StringIO()
    print_label_table(report, Console(file=screen, width=width, color_system=None))
    return screen.getvalue().splitlines()


def test_a_list_of_labels_stays_one_table_at_60_columns() -> None:
    lines = _printed(60, _label_report())
    assert [line.strip() for line in lines].count("train labels") == 1
    assert all(len(line) <= 60 for line in lines)
    assert lines[1:6] == [
        "┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━┳━━━━━━━┳━━━━━━━━━━━━━━┓",
        "┃ label                      ┃ rows ┃ share ┃ class weight ┃",
        "┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━╇━━━━━━━╇━━━━━━━━━━━━━━┩",
        "│ account_access_and_        │   10 │  5.0% │        1.000 │",
        "│ password_reset_problem     │      │       │              │",
    ]
    assert sum(line.startswith("│ label_") for line in lines) == 18  # one row each


def test_labels_are_left_aligned_where_they_fit() -> None:
    lines = _printed(80, _label_report(weighted=False))
    assert "│ billing                                   │   10 │  5.0% │" in lines
    assert "│ account_access_and_password_reset_problem │   10 │  5.0% │" in lines


def test_a_narrow_console_folds_the_headers_too() -> None:
    lines = _printed(40, _label_report())
    assert all(len(line) <= 40 for line in lines)
    assert "│ account_     │   10 │  5.0% │  1.000 │" in lines


@pytest.mark.parametrize(
    ("name", "width", "folded"),
    [
        (
            "account_access_and_password_reset_problem",
            20,
            "account_access_and_\npassword_reset_\nproblem",
        ),
        ("technical issue web dashboard", 12, "technical\nissue web\ndashboard"),
        # A word wider than the column is the column's to cut (rich's fold).
        ("abcdefghijklmnopqrstuvwxyz", 10, "abcdefghijklmnopqrstuvwxyz"),
        ("en-US/fr.FR", 6, "en-US/\nfr.FR"),
        ("short", 12, "short"),
    ],
)
def test_a_label_folds_after_words(name: str, width: int, folded: str) -> None:
    from lab.inspect_labels import WORD_ENDS
    from lab.wide_tables import fold_after

    assert fold_after(name, width, WORD_ENDS) == folded


def test_fitting_tables_left_align_text_and_right_align_numbers() -> None:
    from rich.console import Console

    from lab.wide_tables import print_fitting_table

    screen = io.StringIO()
    print_fitting_table(
        "splits",
        ["split", "rows", "mean ± std", "extra"],
        [["train", "1600", "0.8123 ± 0.0100", "-"], ["validation", "200", "0.5 ± 0.1", "7"]],
        Console(file=screen, width=80, color_system=None),
        labels=["a", "b"],
        key_title="key",
        min_value_width=8,
    )
    rows = [line for line in screen.getvalue().splitlines() if line.startswith("│")]
    assert rows == [
        "│ train      │ 1600 │ 0.8123 ± 0.0100 │     - │",
        "│ validation │  200 │       0.5 ± 0.1 │     7 │",
    ]


def test_a_long_list_of_labels_shows_its_ends_and_a_summary() -> None:
    """s23a L2: 150 intents made a 150-row table; the most and least frequent ten are shown,
    the rest counted, and one line sums them all up (every count stays in inspect.json)."""
    counts = {f"intent {i}": i % 13 for i in range(150)}  # 0..12 rows, 12 of them each
    total = sum(counts.values())
    report = {"labels": {"counts": counts, "shares": {k: v / total for k, v in counts.items()}}}
    lines = [line.strip("│ ") for line in _printed(120, report)]
    rows = [line.split("│")[0].strip() for line in lines if line.startswith("intent")]
    assert rows[:10] == [f"intent {i}" for i in range(12, 130, 13)]  # 12 rows: first ten
    assert rows[10:] == [f"intent {i}" for i in range(26, 150, 13)]  # the last ten with 0
    assert any(line.startswith("... 130 more") for line in lines)
    assert len(rows) == 20
    assert " ".join(lines[-2:]) == (  # the console folds it at its width
        "150 labels, the 10 most and least frequent shown (all in inspect.json): rows per "
        "label 0 to 12, median 6; 12 with no train row; 12 with one"
    )
    assert len(_printed(120, _label_report())) < 30  # 20 labels: every one, as before


def test_a_run_without_a_csv_log_says_why_it_has_no_curves(tmp_path: Path) -> None:
    """s34d L2: `logger=tensorboard` or `none` left plots/ without curves.png, unexplained."""
    from lab.run_dir.plots import missing_curves_note

    assert missing_curves_note(tmp_path) == (
        "no plots/curves.png: it is drawn from the CSV log (csv/metrics.csv), which no logger wrote"
    )
    _metrics_csv(tmp_path, [{"step": 0, "epoch": 0, "train/loss": 0.7}])
    assert missing_curves_note(tmp_path) is None
