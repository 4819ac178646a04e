"""What a user reads off the run's figures (s32e F1, F2, F7): every count of the confusion
matrix contrasts with its cell, every tick of the capped matrix names one class, and each bar
of entity_f1.png carries its F1. Values are read back from the matplotlib figures."""

from __future__ import annotations

from typing import Any

import matplotlib
import pytest
from matplotlib.colors import to_rgb

from lab.tasks.text_classification.confusion_plot import plot_confusion_matrix, text_colour
from lab.tasks.token_classification import plot_entity_f1

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def _luminance(colour: Any) -> float:
    """WCAG relative luminance of a matplotlib colour."""
    parts = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in to_rgb(colour)]
    return 0.2126 * parts[0] + 0.7152 * parts[1] + 0.0722 * parts[2]


def _contrast(first: Any, second: Any) -> float:
    low, high = sorted((_luminance(first), _luminance(second)))
    return (high + 0.05) / (low + 0.05)


def _cells(figure: Any) -> list[tuple[str, str, float]]:
    """(count, text colour, contrast with the cell's drawn colour) of every annotated cell."""
    axis = figure.axes[0]
    image = axis.images[0]
    found = []
    for text in axis.texts:
        x, y = text.get_position()
        cell = image.cmap(image.norm(image.get_array()[int(y)][int(x)]))
        found.append((text.get_text(), text.get_color(), _contrast(cell, text.get_color())))
    return found


# --------------------------------------------------------------- F1: counts readable
def test_the_counts_of_a_balanced_run_near_chance_are_dark_on_light_cells() -> None:
    """The acceptance run's matrix: every count above half the peak, so the old rule
    (`count > peak / 2`) drew 53, 42 and 39 white on light cells (39 on white)."""
    figure = plot_confusion_matrix(
        {"labels": ["neg", "pos"], "confusion_matrix": [[53, 42], [39, 66]]}
    )
    cells = _cells(figure)
    assert [(count, colour) for count, colour, _ in cells] == [
        ("53", "black"),
        ("42", "black"),
        ("39", "black"),
        ("66", "white"),
    ]
    assert min(contrast for *_, contrast in cells) >= 4.5
    plt.close(figure)


@pytest.mark.parametrize(
    "matrix",
    [
        [[5, 1], [2, 4]],
        [[100, 0], [50, 1]],
        [[0, 0], [0, 0]],
        [[7, 7], [7, 7]],
        [[i * 9 + j for j in range(9)] for i in range(9)],  # every shade of the scale
        [[40 + (i == j) * 60 + i for j in range(12)] for i in range(12)],
    ],
)
def test_every_count_contrasts_with_its_cell(matrix: list[list[int]]) -> None:
    """Black or white, whichever contrasts more with the drawn cell: at least the contrast
    where the two are equal (4.58), WCAG's 4.5 for text."""
    labels = [f"c{i}" for i in range(len(matrix))]
    figure = plot_confusion_matrix({"labels": labels, "confusion_matrix": matrix})
    cells = _cells(figure)
    assert [count for count, *_ in cells] == [str(c) for row in matrix for c in row]
    for count, colour, contrast in cells:
        other = "white" if colour == "black" else "black"
        assert contrast >= 4.5, count
        image = figure.axes[0].images[0]
        cell = image.cmap(image.norm(int(count)))
        assert contrast >= _contrast(cell, other), count
    plt.close(figure)


def test_text_colour_by_the_cell_luminance() -> None:
    assert text_colour((1.0, 1.0, 1.0, 1.0)) == "black"
    assert text_colour((0.0, 0.0, 0.0)) == "white"
    blues = plt.get_cmap("Blues")
    assert text_colour(blues(0.0)) == "black" and text_colour(blues(1.0)) == "white"
    assert text_colour((0.5, 0.5, 0.5)) == "black"  # luminance 0.214 >= 0.179
    assert text_colour((0.45, 0.45, 0.45)) == "white"  # luminance 0.171


# ------------------------------------------------ F2: capped matrix ticks, one class each
def _capped_ticks(figure: Any) -> tuple[list[str], list[str]]:
    axis = figure.axes[0]
    figure.canvas.draw()  # tick labels are filled in when drawn
    return (
        [t.get_text() for t in axis.get_xticklabels() if t.get_text()],
        [t.get_text() for t in axis.get_yticklabels() if t.get_text()],
    )


def _report(names: list[str]) -> dict[str, Any]:
    n = len(names)
    matrix = [[5 * (i == j) + (j == (i + 1) % n) for j in range(n)] for i in range(n)]
    return {"labels": names, "confusion_matrix": matrix}


def test_names_sharing_a_long_prefix_get_unique_ticks_with_their_ids() -> None:
    """The acceptance case: 35 names that differ in their last two characters were all
    `customer_complaint_abou…`; now each tick has its id and the name's distinguishing end."""
    names = [f"customer_complaint_about_billing_issue_type_{i:02d}" for i in range(35)]
    figure = plot_confusion_matrix(_report(names))
    xs, ys = _capped_ticks(figure)
    assert xs == ys
    assert len(set(xs)) == 35
    assert xs[0] == "0: customer_c…ue_type_00"
    assert xs[12] == "12: customer_…ue_type_12"
    assert all(len(tick) <= 24 for tick in xs)
    for i, tick in enumerate(xs):  # traceable: the id, then the name's start and end
        head, tail = tick.removeprefix(f"{i}: ").split("…")
        assert names[i].startswith(head) and names[i].endswith(tail)
    # the most confused pairs keep ids and the distinguishing end too
    pairs = [t.get_text() for t in figure.axes[1].texts if "→" in t.get_text()]
    assert pairs[0] == "0: customer_co…ssue_type_00 → 1: customer_co…ssue_type_01"
    plt.close(figure)


def test_the_capped_title_says_where_the_full_names_are() -> None:
    for n in (35, 120):
        figure = plot_confusion_matrix(_report([f"class {i}" for i in range(n)]))
        assert figure.axes[0].get_title() == (
            f"test confusion matrix ({n} classes; counts, and class names in full by id, "
            "in test_report.json: confusion_matrix, labels)"
        )
        plt.close(figure)


def test_the_same_name_twice_still_gets_two_ticks() -> None:
    names = ["dup"] * 2 + [f"c{i}" for i in range(33)]
    xs, _ = _capped_ticks(figure := plot_confusion_matrix(_report(names)))
    assert xs[:3] == ["0: dup", "1: dup", "2: c0"] and len(set(xs)) == 35
    plt.close(figure)


def test_a_few_classes_keep_their_names_as_given() -> None:
    """Up to 30 classes nothing changes: every name whole, no id."""
    names = [f"customer_complaint_about_billing_issue_type_{i:02d}" for i in range(30)]
    xs, ys = _capped_ticks(figure := plot_confusion_matrix(_report(names)))
    assert xs == ys == names
    assert figure.axes[0].get_title() == "test confusion matrix"
    plt.close(figure)


# ------------------------------------------------------ F7: entity F1 values on the bars
ENTITIES = {
    "ORG": {"precision": 0.98, "recall": 0.998, "f1": 0.98912, "support": 55},
    "LOC": {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 40},
    "MISC": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 3},
}


def test_each_entity_bar_carries_its_f1_to_three_decimals_and_its_support() -> None:
    """s32e F7: ORG 0.989 and LOC 1.000 looked the same as bar heights on a 0-1 axis."""
    figure: Any = plot_entity_f1({"entities": ENTITIES})
    axis = figure.axes[0]
    [bars] = axis.containers
    assert [bar.get_height() for bar in bars] == [1.0, 0.0, 0.98912]  # LOC, MISC, ORG
    labels = [text.get_text() for text in axis.texts]
    assert labels == ["1.000\nn=40", "0.000\nn=3", "0.989\nn=55"]
    for bar, text in zip(bars, axis.texts, strict=True):  # on top of its own bar
        assert text.xy == (bar.get_x() + bar.get_width() / 2, bar.get_height())
    figure.canvas.draw()
    inside = axis.get_window_extent()
    for text in axis.texts:  # the label over a bar of 1.0 stays inside the axes
        box = text.get_window_extent()
        assert inside.y0 <= box.y0 and box.y1 <= inside.y1, text.get_text()
    assert list(axis.get_yticks()) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    plt.close(figure)


def test_no_entities_no_figure() -> None:
    assert plot_entity_f1({"entities": {}}) is None
