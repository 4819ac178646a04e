"""`plot_confusion_matrix`: the test confusion matrix of single-label classification
(`confusion_matrix.png`), drawn from test_report.json, in a figure of bounded size whatever
the number of classes.

The figure used to grow with the classes (0.5 inch a class, a count written in every cell):
150 classes made a 9240-pixel-square PNG in about 40 s, 300 classes 7 GB of memory, and 1000
would have been killed for memory at the end of a finished run. What is drawn now, by the
number of classes `n`:

* `n <= ANNOTATED_MAX` (30): as before. The figure is `0.5 * n + 2` inches a side (3.5 at
  least, 17 at most), every cell has its count and both axes name every class. A count is
  black on a light cell and white on a dark one (`text_colour` of the cell's drawn colour).
* `n > ANNOTATED_MAX`: a figure of `WIDE` x `TALL` inches whatever `n` (2640 x 1920 pixels
  at the 120 dpi `lab.run_dir.plots` saves at), so drawing time and memory stay flat.
  - The full matrix, without per-cell counts: a cell is under half an inch, the digits
    would overlap, and nearly all of them would be 0. The colours are the small figure's
    (counts, linear Blues), so a model that predicts one class for everything still shows
    as a dark column, and groups of classes confused among themselves as blocks. Each cell
    keeps its own colour down to a pixel (`NEAREST_MAX` classes); with more classes than
    pixels, neighbouring cells are blended.
  - Tick labels while they fit: a class's id and name on each tick (`12: customer_c…type_12`,
    upright on the x axis) while every class gets at least `NAME_PITCH_PT` (12) points of
    axis, a line of `NAME_FONT_PT` (7-point) text, which the capped matrix gives up to
    `NAMED_MAX` (80) classes. A tick is at most `NAME_CHARS` characters, a longer name cut
    in its middle (`_short`): names sharing a long prefix (`intent/billing/...`) differ at
    their end, and before 2026-12-07 35 names cut to their first 23 characters read the
    same. Above `NAMED_MAX`, the ticks are class ids at a round step (0, 20, 40, ...). The
    title says where the full names are: test_report.json's `labels`, in id order.
  - Beside it, the `MOST_CONFUSED` (20) largest off-diagonal cells as bars, each labelled
    `true id: name → predicted id: name` with its count: at 150 classes a single confused
    row is a pale cell 0.09 inch wide, and which classes are taken for which is what a
    confusion matrix is read for (fastai's `most_confused`). The per-class precision,
    recall, F1 and support are test_report.json's `per_label`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

ANNOTATED_MAX = 30  # up to this many classes: a count in every cell, names on every tick
NAMED_MAX = 80  # up to this many classes: names on the ticks of the capped figure
# The capped figure (inches); its matrix panel leaves about 13.5 inches (970 pt, measured
# with 24-character names) of axis to the classes once the title, the tick names and the
# colour bar have their room.
WIDE, TALL = 22.0, 16.0
NAME_FONT_PT = 7.0
NAME_PITCH_PT = 12.0  # a line of NAME_FONT_PT text and the gap to the next: 970 / 12 = 80
NAME_CHARS = 24  # a longer tick (id and name) or name of a bar is cut (with "…") in its middle
MOST_CONFUSED = 20  # (true, predicted) pairs listed beside the capped matrix
ID_TICKS = 20  # about this many class-id ticks per axis above NAMED_MAX classes
NEAREST_MAX = 1600  # about the capped matrix's side in pixels (13.5 inches at 120 dpi)


def plot_confusion_matrix(report: dict[str, Any]) -> Figure | None:
    """The test confusion matrix (counts, true label by row); None without one in `report`.

    Up to `ANNOTATED_MAX` classes every cell has its count; above, the figure has a fixed
    size, the matrix is drawn without counts beside the most confused pairs (the module's
    docstring says what and why)."""
    matrix = report.get("confusion_matrix")
    if not matrix:
        return None
    labels = [str(name) for name in report.get("labels") or range(len(matrix))]
    # `split`: the split evaluated, where lab.eval scored another than the test split
    title = f"{report.get('split') or 'test'} confusion matrix"
    if len(matrix) <= ANNOTATED_MAX:
        return _annotated(matrix, labels, title)
    return _capped(matrix, labels, title)


def _annotated(matrix: list[list[int]], labels: list[str], title: str) -> Figure:
    """The figure of a few classes: a count in every cell, a name on every tick."""
    import matplotlib.pyplot as plt
    import numpy as np

    size = max(3.5, 0.5 * len(labels) + 2)
    figure, axis = plt.subplots(figsize=(size, size))
    image = axis.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=axis, fraction=0.046)
    axis.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    axis.set_yticks(range(len(labels)), labels)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    # The text colour follows the colour the cell is drawn in: imshow scales the colours from
    # the matrix's smallest count to its largest, so `count > peak / 2` (used before
    # 2026-12-07) put white text on near-white cells whenever every count was above half the
    # peak (a balanced binary run near chance: [[53, 42], [39, 66]]).
    cells = image.to_rgba(np.asarray(matrix, dtype=np.float64))  # through the image's norm
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            shade = text_colour(tuple(float(part) for part in cells[i, j]))
            axis.text(j, i, str(count), ha="center", va="center", color=shade)
    axis.set_title(title)
    return figure


def text_colour(cell: tuple[float, ...]) -> str:
    """`black` or `white`, whichever contrasts more with the RGB(A) colour `cell` (0-1
    floats): the WCAG relative luminance of the cell, black text from 0.179 up, where its
    contrast ratio with black passes the one with white."""
    red, green, blue = (
        part / 12.92 if part <= 0.04045 else ((part + 0.055) / 1.055) ** 2.4 for part in cell[:3]
    )
    luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    # (L + 0.05) / 0.05 >= 1.05 / (L + 0.05)  <=>  L >= sqrt(1.05 * 0.05) - 0.05 = 0.179
    return "black" if luminance >= (1.05 * 0.05) ** 0.5 - 0.05 else "white"


def _capped(matrix: list[list[int]], labels: list[str], title: str) -> Figure:
    """The figure of many classes: the matrix without counts, and the most confused pairs."""
    import matplotlib.pyplot as plt
    import numpy as np

    counts = np.asarray(matrix, dtype=np.int64)
    figure, (axis, pairs_axis) = plt.subplots(
        1, 2, figsize=(WIDE, TALL), gridspec_kw={"width_ratios": [3, 1]}
    )
    # Each cell its own colour while cells are a pixel or more (matplotlib's default smooths
    # cells under 3 pixels, which pales a lone confusion); above, the default blends them.
    crisp = {"interpolation": "nearest"} if len(labels) <= NEAREST_MAX else {}
    image = axis.imshow(counts, cmap="Blues", **crisp)
    figure.colorbar(image, ax=axis, fraction=0.046)
    _class_ticks(axis, labels)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    axis.set_title(
        f"{title} ({len(labels)} classes; counts, and class names in full by id, "
        "in test_report.json: confusion_matrix, labels)"
    )
    pairs = most_confused(counts, MOST_CONFUSED)
    _most_confused_bars(pairs_axis, pairs, labels, tied_beyond(counts, pairs))
    return figure


def _class_ticks(axis: Axes, labels: list[str]) -> None:
    """Ids and names on the ticks while they fit (`NAMED_MAX`), class ids at a round step
    above."""
    from matplotlib.ticker import MaxNLocator

    if len(labels) <= NAMED_MAX:
        # The id makes every tick one class's, whatever the names (the same after a cut, or
        # given twice), and it is the row of test_report.json's matrix and labels.
        names = [
            _short(name, NAME_CHARS - len(f"{i}: "), f"{i}: ") for i, name in enumerate(labels)
        ]
        # Upright names on the x axis: slanted ones overlap once the classes are closer
        # together than a line of text divided by sin(45°).
        axis.set_xticks(range(len(names)), names, rotation=90, fontsize=NAME_FONT_PT)
        axis.set_yticks(range(len(names)), names, fontsize=NAME_FONT_PT)
        return
    for side in (axis.xaxis, axis.yaxis):
        side.set_major_locator(MaxNLocator(nbins=ID_TICKS, integer=True))


def most_confused(counts: Any, top: int) -> list[tuple[int, int, int]]:
    """The `top` largest off-diagonal cells of the confusion matrix `counts` (an integer
    array, true class by row) as `(true, predicted, count)`, largest first (ties by true
    then predicted id); cells of 0 are left out."""
    import numpy as np

    errors = np.array(counts, dtype=np.int64)  # a copy: the diagonal is cleared below
    np.fill_diagonal(errors, 0)
    flat = errors.ravel()
    # Stable order on (-count, flat index): ties keep the (true, predicted) id order.
    order = np.argsort(-flat, kind="stable")[:top]
    width = errors.shape[1]
    return [(int(k // width), int(k % width), int(flat[k])) for k in order if flat[k] > 0]


def tied_beyond(counts: Any, pairs: list[tuple[int, int, int]]) -> int:
    """How many off-diagonal cells not among `pairs` (`most_confused`) hold the count of the
    last one shown: pairs as confused as those shown, left out by the cap."""
    import numpy as np

    if not pairs:
        return 0
    errors = np.array(counts, dtype=np.int64)
    np.fill_diagonal(errors, 0)
    last = pairs[-1][2]
    return int((errors == last).sum()) - sum(1 for *_, count in pairs if count == last)


def _most_confused_bars(
    axis: Axes, pairs: list[tuple[int, int, int]], labels: list[str], more: int = 0
) -> None:
    """Horizontal bars of `pairs`, largest on top; each is labelled left of the axis with its
    classes' ids and names (texts, not tick labels: `lab.run_dir.plot_fonts` numbers tick
    labels it cannot draw by their position, which here would be a rank, not a class id).
    `more`: pairs left out as confused as the last shown (`tied_beyond`), said in the title."""
    tied = f"\n({more} more pairs of {pairs[-1][2]} not shown)" if more and pairs else ""
    axis.set_title(f"most confused (true → predicted), top {MOST_CONFUSED}{tied}")
    axis.set_yticks([])
    if not pairs:
        axis.set_xticks([])
        axis.text(
            0.5, 0.5, "no test row confused", ha="center", va="center", transform=axis.transAxes
        )
        return
    rows = range(len(pairs))
    values = [count for _, _, count in pairs]
    axis.barh(rows, values, height=0.6, color="tab:blue")
    axis.set_ylim(MOST_CONFUSED - 0.5, -0.5)  # rank 0 on top; a short list keeps its bar size
    axis.set_xlim(0, max(values) * 1.15)  # room for the counts at the bars' ends
    axis.set_xlabel("test rows")
    place = axis.get_yaxis_transform()  # x in axis fractions, y in rows
    for row, (true, predicted, count) in zip(rows, pairs, strict=True):
        pair = f"{true}: {_short(labels[true])} → {predicted}: {_short(labels[predicted])}"
        axis.text(-0.02, row, pair, transform=place, ha="right", va="center", fontsize=9)
        axis.text(count, row, f" {count}", va="center", fontsize=9)


def _short(name: str, width: int = NAME_CHARS, prefix: str = "") -> str:
    """`prefix` and `name`, the name cut in its middle to `width` characters where longer:
    its start and its end (where names sharing a prefix differ) around "…"."""
    if len(name) <= width:
        return prefix + name
    head = (width - 1) // 2
    return f"{prefix}{name[:head]}…{name[len(name) - (width - 1 - head) :]}"
