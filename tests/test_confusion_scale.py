"""Single-label classification with many classes (s23a H1, L1): the confusion matrix figure
keeps a bounded size with 150 to 1000 classes (counts in the cells and names on the ticks only
while they fit, the most confused pairs beside), a figure that fails at any step of drawing or
saving never fails the run, and test_report.json's per-class precision / recall / F1 / support
agree with sklearn."""

from __future__ import annotations

import csv
import itertools
import json
import logging
import struct
from pathlib import Path
from typing import Any

import matplotlib
import pytest
import torch
from matplotlib.figure import Figure
from omegaconf import DictConfig, OmegaConf
from transformers import BertConfig, BertForSequenceClassification

from lab.run_dir import plot_fonts
from lab.run_dir.plot_fonts import number_undrawable_ticks
from lab.run_dir.plots import write_run_plots
from lab.tasks.text_classification import confusion_plot
from lab.tasks.text_classification.confusion_plot import (
    ANNOTATED_MAX,
    MOST_CONFUSED,
    NAMED_MAX,
    TALL,
    WIDE,
    most_confused,
    plot_confusion_matrix,
)
from lab.tasks.text_classification.module import TextClassificationModule, per_class_table

from conftest import TINY_FIXTURE_RUN

matplotlib.use("Agg")
import matplotlib.pyplot as plt

CONFUSION = {
    "_target_": "lab.tasks.text_classification.module.plot_confusion_matrix",
    "_partial_": True,
}
SMALL = {"labels": ["neg", "pos"], "confusion_matrix": [[5, 1], [2, 4]]}


def _report(n: int, name: str = "intent {} / sub") -> dict[str, Any]:
    """n classes, 5 rows each right, and a row of each class i taken for class (i + 1) % n,
    with class 3 taken for class 7 four times: the most confused pair."""
    matrix = [[0] * n for _ in range(n)]
    for i in range(n):
        matrix[i][i] = 5
        matrix[i][(i + 1) % n] += 1
    matrix[3][7] += 4
    return {"labels": [name.format(i) for i in range(n)], "confusion_matrix": matrix}


def _cfg(report_plots: dict[str, Any]) -> DictConfig:
    return OmegaConf.create({"optimized_metric": "val/acc", "task": {"report_plots": report_plots}})


def _png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    width, height = struct.unpack(">II", path.read_bytes()[16:24])
    return width, height


def _tick_texts(axis: Any) -> tuple[list[str], list[str]]:
    figure = axis.get_figure()
    figure.canvas.draw()  # tick labels are filled in when drawn
    return (
        [t.get_text() for t in axis.get_xticklabels() if t.get_text()],
        [t.get_text() for t in axis.get_yticklabels() if t.get_text()],
    )


def _ticks_in_view(axis: Any) -> list[int]:
    """The ticks of `axis` inside its view (a locator may place one just outside)."""
    low, high = sorted(axis.get_view_interval())
    return [int(t) for t in axis.get_ticklocs() if low <= t <= high]


# --------------------------------------------------------------------------- the figure
def test_a_few_classes_keep_counts_in_cells_and_names_on_ticks() -> None:
    for n in (2, 8, ANNOTATED_MAX):
        report = _report(n) if n > 2 else SMALL
        figure: Any = plot_confusion_matrix(report)
        axis = figure.axes[0]
        assert tuple(figure.get_size_inches()) == (max(3.5, 0.5 * n + 2),) * 2
        counts = [int(t.get_text()) for t in axis.texts]
        assert counts == [c for row in report["confusion_matrix"] for c in row]
        assert _tick_texts(axis) == (report["labels"], report["labels"])
        assert axis.get_xticklabels()[0].get_rotation() == 45
        plt.close(figure)


def test_the_title_names_the_split_lab_eval_scored() -> None:
    """s30b F3: `lab.eval split=validation` drew a figure titled "test confusion matrix"."""
    for report, title in ((SMALL, "test"), ({**SMALL, "split": "validation"}, "validation")):
        figure: Any = plot_confusion_matrix(report)
        assert figure.axes[0].get_title() == f"{title} confusion matrix"
        plt.close(figure)
    figure = plot_confusion_matrix({**_report(40), "split": "validation_matched"})
    assert figure.axes[0].get_title().startswith("validation_matched confusion matrix (40 classes")
    plt.close(figure)


def test_lab_eval_hands_its_split_to_the_figures(
    compose_cfg: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lab.eval_results as results
    from lab.eval_splits import note_evaluated
    from lab.run_dir.runs import TrainedRun

    drawn: list[dict[str, Any]] = []
    monkeypatch.setattr(results, "_write_plots", lambda folder, report, cfg: drawn.append(report))
    cfg = compose_cfg(*TINY_FIXTURE_RUN)
    note_evaluated(cfg, "validation")
    report = {"labels": ["a"], "confusion_matrix": [[1]]}
    target = tmp_path / "eval" / "metrics.json"
    run = TrainedRun(tmp_path, compose_cfg(*TINY_FIXTURE_RUN), {})
    results.write_results(
        target, run, cfg, checkpoint="model", evaluated={}, module_settings=[], metrics={},
        report=report,
    )  # fmt: skip
    assert drawn == [{**report, "split": "validation"}]
    assert json.loads((target.parent / "test_report.json").read_text()) == report  # as it was


@pytest.mark.parametrize("n", [ANNOTATED_MAX + 1, NAMED_MAX, NAMED_MAX + 1, 150, 300, 1000])
def test_many_classes_get_a_capped_figure_without_cell_counts(n: int) -> None:
    figure: Any = plot_confusion_matrix(_report(n))
    assert tuple(figure.get_size_inches()) == (WIDE, TALL)
    matrix_axis, pairs_axis = figure.axes[0], figure.axes[1]
    assert len(matrix_axis.texts) == 0  # no per-cell numbers
    assert matrix_axis.images[0].get_array().shape == (n, n)  # every class, none left out
    xs, ys = _tick_texts(matrix_axis)
    if n <= NAMED_MAX:  # s32e F2: each class's id before its name
        assert xs == ys == [f"{i}: intent {i} / sub" for i in range(n)]
    else:  # class ids at a round step, about 20 of them, never a name
        ids, rows = _ticks_in_view(matrix_axis.xaxis), _ticks_in_view(matrix_axis.yaxis)
        assert ids == rows and all(x.lstrip("\N{MINUS SIGN}").isdigit() for x in xs + ys)
        assert ids[0] == 0 and len(ids) <= 21 and ids[-1] >= n - (ids[1] - ids[0])
        assert all(b - a == ids[1] - ids[0] for a, b in itertools.pairwise(ids))
    # Beside it, the most confused pairs: ids and names, largest first, ties in id order.
    pairs = [t.get_text() for t in pairs_axis.texts if "→" in t.get_text()]
    assert len(pairs) == MOST_CONFUSED
    assert pairs[0] == "3: intent 3 / sub → 7: intent 7 / sub"
    assert pairs[1:3] == [
        "0: intent 0 / sub → 1: intent 1 / sub",
        "1: intent 1 / sub → 2: intent 2 / sub",
    ]
    assert [t.get_text() for t in pairs_axis.texts if "→" not in t.get_text()][:2] == [" 4", " 1"]
    plt.close(figure)


def test_long_names_are_cut_in_the_middle_on_the_capped_figure() -> None:
    """s32e F2: a tick is the class id and the name's start and end, 24 characters."""
    long = "a very long intent name that goes on {}"
    figure: Any = plot_confusion_matrix(_report(40, long))
    xs, _ = _tick_texts(figure.axes[0])
    assert xs[0] == "0: a very lon… goes on 0" and xs[39] == "39: a very lo…goes on 39"
    assert max(map(len, xs)) == 24
    pairs = [t.get_text() for t in figure.axes[1].texts if "→" in t.get_text()]
    assert pairs[0] == "3: a very long…at goes on 3 → 7: a very long…at goes on 7"
    plt.close(figure)


def test_undrawable_names_are_numbered_on_the_matrix_not_on_the_pairs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where no font draws the names, the matrix ticks get their class ids; the pairs'
    texts carry their ids already, and the pairs axis has no tick label to number."""
    monkeypatch.setattr(plot_fonts, "installed_fonts", lambda: {})
    with plot_fonts.plot_fonts():
        figure: Any = plot_confusion_matrix(_report(40, "类别{}"))
        number_undrawable_ticks(figure)
        xs, ys = _tick_texts(figure.axes[0])
    assert xs[:2] == ys[:2] == ["0: 类别0", "1: 类别1"]
    assert _tick_texts(figure.axes[1])[1] == []
    plt.close(figure)


def test_a_perfect_many_class_model_has_no_pairs() -> None:
    report = {"labels": [str(i) for i in range(50)], "confusion_matrix": [[0] * 50] * 50}
    report["confusion_matrix"] = [[3 * (i == j) for j in range(50)] for i in range(50)]
    figure: Any = plot_confusion_matrix(report)
    assert [t.get_text() for t in figure.axes[1].texts] == ["no test row confused"]
    plt.close(figure)


def test_most_confused_by_hand() -> None:
    counts = [[9, 2, 0], [2, 9, 5], [0, 1, 0]]
    assert most_confused(counts, 10) == [(1, 2, 5), (0, 1, 2), (1, 0, 2), (2, 1, 1)]
    assert most_confused(counts, 2) == [(1, 2, 5), (0, 1, 2)]
    assert counts[1][1] == 9  # the caller's matrix is left as it was
    # s23d L6: pairs as confused as the last one shown, left out by the cap, are counted
    assert confusion_plot.tied_beyond(counts, most_confused(counts, 2)) == 1  # (1, 0): 2
    assert confusion_plot.tied_beyond(counts, most_confused(counts, 10)) == 0
    ring = [[5 * (i == j) + (j == (i + 1) % 50) for j in range(50)] for i in range(50)]
    figure: Any = plot_confusion_matrix({"labels": [str(i) for i in range(50)],
                                         "confusion_matrix": ring})  # fmt: skip
    title = figure.axes[1].get_title()
    assert title == "most confused (true → predicted), top 20\n(30 more pairs of 1 not shown)"
    plt.close(figure)


@pytest.mark.parametrize("n", [150, 1000])
def test_a_run_writes_a_bounded_png_with_many_classes(n: int, tmp_path: Path) -> None:
    """s23a H1: 9240 pixels a side at 150 classes before; the same size at 1000 now."""
    (path,) = write_run_plots(tmp_path, _report(n), _cfg({"confusion_matrix": CONFUSION}))
    assert path == tmp_path / "plots" / "confusion_matrix.png"
    assert _png_size(path) == (int(WIDE * 120), int(TALL * 120))
    assert plt.get_fignums() == []


# ----------------------------------------------------------------- failures never fail
def _open_figures() -> set[int]:
    return set(plt.get_fignums())


@pytest.mark.parametrize(
    ("step", "error", "said"),
    [
        ("savefig", OSError(28, "No space left on device"), "[Errno 28] No space left on device"),
        ("tight_layout", MemoryError(), "MemoryError"),
        ("savefig", MemoryError(), "MemoryError"),
    ],
)
def test_a_figure_failing_to_lay_out_or_save_is_skipped_with_a_warning(
    step: str,
    error: BaseException,
    said: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    """The curves and the confusion matrix are both drawn; the confusion matrix fails at
    `step`: the curves are still written, the run goes on with a warning, and neither a
    partial file nor an open figure is left behind."""
    original = getattr(Figure, step)

    def failing(self: Figure, *args: Any, **kwargs: Any) -> Any:
        if self.axes and self.axes[0].get_title() == "test confusion matrix":
            if step == "savefig":  # a partial file first, as a full disk leaves one
                Path(args[0]).write_bytes(b"\x89PNG half")
            raise error
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Figure, step, failing)
    _write_metrics_csv(tmp_path)
    before = _open_figures()
    with caplog.at_level(logging.INFO, logger="lab.run_dir.plots"):
        written = write_run_plots(tmp_path, SMALL, _cfg({"confusion_matrix": CONFUSION}))
    assert written == [tmp_path / "plots" / "curves.png"]
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["curves.png"]
    (record,) = [r for r in caplog.records if "skipped" in r.getMessage()]
    assert record.levelno == logging.WARNING
    assert record.getMessage() == f"plot confusion_matrix skipped: {said}"
    assert _open_figures() == before


def test_a_figure_failing_half_drawn_is_closed(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    def half_drawn(matrix: Any, labels: Any, title: str) -> Any:
        plt.subplots(figsize=(30, 30))
        raise MemoryError

    monkeypatch.setattr(confusion_plot, "_annotated", half_drawn)
    before = _open_figures()
    with caplog.at_level(logging.WARNING, logger="lab.run_dir.plots"):
        assert write_run_plots(tmp_path, SMALL, _cfg({"confusion_matrix": CONFUSION})) == []
    assert "plot confusion_matrix skipped: MemoryError" in caplog.text
    assert _open_figures() == before
    assert not (tmp_path / "plots").exists()


def test_an_unwritable_plots_folder_and_a_font_search_failure_are_not_fatal(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    (tmp_path / "plots").write_text("a file where the folder goes")
    with caplog.at_level(logging.WARNING, logger="lab.run_dir.plots"):
        assert write_run_plots(tmp_path, SMALL, _cfg({"confusion_matrix": CONFUSION})) == []
    assert "plot confusion_matrix skipped" in caplog.text
    (tmp_path / "plots").unlink()

    def broken_font_cache() -> dict[str, str]:
        raise RuntimeError("font cache unreadable")

    monkeypatch.setattr(plot_fonts, "installed_fonts", broken_font_cache)
    written = write_run_plots(tmp_path, SMALL, _cfg({"confusion_matrix": CONFUSION}))
    assert written == [tmp_path / "plots" / "confusion_matrix.png"]


def _write_metrics_csv(run_dir: Path) -> None:
    (run_dir / "csv").mkdir(parents=True)
    with (run_dir / "csv" / "metrics.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["step", "epoch", "train/loss", "val/loss", "val/acc"])
        writer.writerows([[1, 0, 0.7, "", ""], [2, 0, "", 0.6, 0.5]])


# ------------------------------------------------------------------ per-class report
TINY = {"vocab_size": 64, "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 1,
        "intermediate_size": 8}  # fmt: skip


def test_single_label_report_has_per_class_scores_as_sklearn() -> None:
    """s23a L1: precision, recall, F1 and support per class, the shape of multi-label's
    `per_label`, from the test confusion matrix; `fear` is never predicted, `calm` has no
    row (but is predicted once), `awe` is neither labelled nor predicted."""
    from sklearn.metrics import precision_recall_fscore_support

    names = ["joy", "anger", "fear", "calm", "awe"]
    model = BertForSequenceClassification(BertConfig(num_labels=5, **TINY))
    model.config.id2label = dict(enumerate(names))
    module = TextClassificationModule(model, optimizer=None)  # type: ignore[arg-type]
    truth = torch.tensor([0, 0, 0, 1, 1, 2, 2, 1])
    predicted = torch.tensor([0, 0, 1, 1, 0, 0, 1, 3])
    module.test_confusion.update(predicted, truth)
    module.metrics["test"].update(predicted, truth)
    report = module.evaluation_report("test")
    assert report["labels"] == names
    assert report["confusion_matrix"][:3] == [[2, 1, 0, 0, 0], [1, 1, 0, 1, 0], [1, 1, 0, 0, 0]]
    # By hand: joy tp 2 fp 2 fn 1; anger tp 1 fp 2 fn 2; fear fn 2; calm fp 1.
    assert report["per_label"] == {
        "joy": {"precision": 0.5, "recall": pytest.approx(2 / 3), "f1": pytest.approx(4 / 7),
                "support": 3, "predicted": 4},
        "anger": {"precision": pytest.approx(1 / 3), "recall": pytest.approx(1 / 3),
                  "f1": pytest.approx(1 / 3), "support": 3, "predicted": 3},
        "fear": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 2, "predicted": 0},
        "calm": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0, "predicted": 1},
        "awe": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0, "predicted": 0},
    }  # fmt: skip
    p, r, f, n = precision_recall_fscore_support(truth, predicted, labels=range(5), zero_division=0)
    for i, name in enumerate(names):
        row = report["per_label"][name]
        assert row["precision"] == pytest.approx(p[i]) and row["recall"] == pytest.approx(r[i])
        assert row["f1"] == pytest.approx(f[i]) and row["support"] == n[i]
        assert isinstance(row["support"], int)
    # test/f1, the macro F1 the run logs, is their mean over the classes labelled or
    # predicted (`awe`, neither, is left out).
    logged = float(module.metrics["test"].compute()["test/f1"])
    assert logged == pytest.approx(sum(report["per_label"][n]["f1"] for n in names[:4]) / 4)
    assert module.evaluation_report("val") == {}


def test_per_class_table_of_a_big_matrix_matches_sklearn() -> None:
    from sklearn.metrics import precision_recall_fscore_support

    report = _report(150)
    truth, predicted = [], []
    for i, row in enumerate(report["confusion_matrix"]):
        for j, count in enumerate(row):
            truth += [i] * count
            predicted += [j] * count
    table = per_class_table(report["confusion_matrix"], report["labels"])
    p, r, f, n = precision_recall_fscore_support(
        truth, predicted, labels=range(150), zero_division=0
    )
    assert list(table) == report["labels"]
    assert [row["support"] for row in table.values()] == n.tolist()
    assert [row["f1"] for row in table.values()] == pytest.approx(f.tolist())
    assert [row["precision"] for row in table.values()] == pytest.approx(p.tolist())
    assert [row["recall"] for row in table.values()] == pytest.approx(r.tolist())


def test_a_report_keeps_its_per_class_scores_in_class_order(tmp_path: Path) -> None:
    """s23d L4: test_report.json's `per_label` was written sorted by name (every JSON of a
    run is), while `labels` and the matrix are in class-id order."""
    import json

    from lab.run_dir.records import write_json

    labels = ["zebra", "apple", "mango"]
    report = {"labels": labels, "per_label": per_class_table([[1, 0, 0]] * 3, labels)}
    write_json(tmp_path / "test_report.json", report, sort_keys=False)
    written = json.loads((tmp_path / "test_report.json").read_text())
    assert list(written) == ["labels", "per_label"]
    assert list(written["per_label"]) == labels
