"""Fonts for the names a run's figures show (class names, entity types, metric names in any
script): matplotlib's font fallback, and what is done where no installed font has a character.

matplotlib's default font, DejaVu Sans, has no CJK ideographs, kana, hangul, Thai or emoji:
a confusion matrix of the classes 正面 / 负面 would show two identical rows of empty boxes, and
matplotlib prints a "Glyph ... missing from font(s)" warning per character on the console.

* `plot_fonts()`, around the drawing and saving of lab's figures (`lab.run_dir.plots`): the
  current `font.family` followed by one installed font of each `FALLBACK_GROUPS` group (chosen
  from `matplotlib.font_manager` when the figures are drawn, set only inside the block:
  matplotlib >= 3.6 takes each glyph from the first font of the list that has it), and
  matplotlib's missing-glyph warnings silenced (`number_undrawable_ticks` finds those
  characters itself, and `lab.run_dir.plots` says so in one train.log line).
* `number_undrawable_ticks(figure)`: where a tick label still has a character no font of its
  list draws, every tick of that axis is numbered (`0: 正面`, a class's id on the confusion
  matrix), so the rows and bars can be told apart and looked up.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

# One font is taken from each group: the first that is installed and that matplotlib can draw
# with. The fonts of a group cover the same characters; each one listed is loaded for every
# text drawn, so one per group is enough. Simplified Chinese first (its glyph forms for the
# shared ideographs); Japanese kana and Korean hangul are in every CJK font listed.
FALLBACK_GROUPS: tuple[tuple[str, ...], ...] = (
    (  # Chinese, Japanese, Korean
        "Noto Sans CJK SC",
        "Noto Sans CJK JP",
        "Noto Sans CJK TC",
        "Noto Sans CJK KR",
        "Source Han Sans SC",
        "Source Han Sans CN",
        "Source Han Sans",
        "Source Han Sans JP",
        "WenQuanYi Zen Hei",
        "WenQuanYi Micro Hei",
        "Droid Sans Fallback",
        "Microsoft YaHei",
        "SimHei",
        "PingFang SC",
        "Hiragino Sans GB",
        "Hiragino Sans",
        "Yu Gothic",
        "Meiryo",
        "MS Gothic",
        "Malgun Gothic",
        "Apple SD Gothic Neo",
        "Arial Unicode MS",
    ),
    ("Noto Sans Thai", "Tahoma", "Leelawadee UI", "Thonburi"),  # Thai
    # Emoji in outlines. Colour-bitmap emoji fonts (Noto Color Emoji, Apple Color Emoji) have
    # fixed sizes that matplotlib's FreeType cannot scale (`set_size` fails): one of them in
    # the list would fail every text drawn, so `usable` leaves them out.
    ("Noto Emoji", "Segoe UI Emoji", "Symbola", "Segoe UI Symbol"),
)
# matplotlib's warning per character no font has ("... missing from font(s) DejaVu Sans." in
# 3.10+, "... missing from current font." before).
GLYPH_WARNING = r"Glyph \d+ .*missing from"


def installed_fonts() -> dict[str, str]:
    """`{family name: font file}` of the fonts matplotlib knows (its font cache)."""
    from matplotlib import font_manager

    found: dict[str, str] = {}
    for entry in font_manager.fontManager.ttflist:
        found.setdefault(entry.name, entry.fname)
    return found


@lru_cache(maxsize=64)
def usable(path: str) -> bool:
    """Whether matplotlib can draw text with the font file at `path` (it loads and scales)."""
    from matplotlib import font_manager

    try:
        font_manager.get_font(path).set_size(12, 72)
    except Exception:  # a font FreeType refuses, whatever the reason, is skipped
        return False
    return True


def fallback_families(installed: Mapping[str, str] | None = None) -> list[str]:
    """The `font.family` list for lab's figures: the current one (the user's style), then the
    first usable font of each `FALLBACK_GROUPS` group found in `installed` (default: the
    fonts matplotlib knows now)."""
    import matplotlib

    families = list(matplotlib.rcParams["font.family"])
    fonts = installed_fonts() if installed is None else installed
    for group in FALLBACK_GROUPS:
        chosen = next((name for name in group if name in fonts and usable(fonts[name])), None)
        if chosen is not None and chosen not in families:
            families.append(chosen)
    return families


@contextmanager
def plot_fonts(families: list[str] | None = None) -> Iterator[list[str]]:
    """Inside the block, new figures' texts use `families` (default `fallback_families()`)
    and matplotlib's missing-glyph warnings are not shown; yields the family list."""
    import matplotlib

    chosen = fallback_families() if families is None else families
    with matplotlib.rc_context({"font.family": chosen}), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=GLYPH_WARNING, category=UserWarning)
        yield chosen


def missing_characters(text: Any) -> str:
    """The characters of the matplotlib `Text` `text` that none of its fonts has (in order,
    each once; line breaks and tabs aside), "" when every one can be drawn."""
    covered = _covered(text.get_fontproperties())
    missing = dict.fromkeys(c for c in text.get_text() if c not in "\n\t" and ord(c) not in covered)
    return "".join(missing)


def _covered(prop: Any) -> frozenset[int]:
    """The code points the fonts of `prop`'s family list have, together (as matplotlib's
    fallback takes each glyph from the first of them that has it)."""
    from matplotlib import font_manager

    paths = []
    for family in prop.get_family():
        single = prop.copy()
        single.set_family(family)
        try:
            paths.append(str(font_manager.findfont(single, fallback_to_default=False)))
        except ValueError:  # a family not installed: matplotlib skips it too
            continue
    return frozenset().union(*(_charmap(path) for path in paths))


@lru_cache(maxsize=32)
def _charmap(path: str) -> frozenset[int]:
    from matplotlib import font_manager

    return frozenset(font_manager.get_font(path).get_charmap())


def undrawable_texts(figure: Any) -> list[str]:
    """The visible texts of `figure` with a character no font of theirs draws, each once:
    titles, legends, annotations and the tick labels in view."""
    from matplotlib.text import Text

    ticks: set[int] = set()
    shown: list[Any] = []
    for axes in figure.axes:
        for axis in (axes.xaxis, axes.yaxis):
            # A tick's label is filled in when drawn; a spare tick keeps an old one: the
            # labels in view are read from the axis (which formats them), not from its ticks.
            shown += axis.get_ticklabels() + axis.get_ticklabels(minor=True)
            for tick in [*axis.majorTicks, *axis.minorTicks]:
                ticks.update(id(label) for label in (tick.label1, tick.label2))
    texts = [t for t in figure.findobj(Text) if id(t) not in ticks] + shown
    found = dict.fromkeys(
        str(t.get_text())
        for t in texts
        if t.get_visible() and t.get_text() and missing_characters(t)
    )
    return list(found)


def number_undrawable_ticks(figure: Any) -> list[str]:
    """Number the ticks (`3: name`, the tick's position: a class's id on an axis of class
    ids) of every axis of `figure` with a tick label no font draws, where all its ticks sit
    at whole numbers; returns the figure's undrawable texts (`undrawable_texts`) as drawn:
    a numbered tick's label with its number."""
    from matplotlib.ticker import FuncFormatter

    if not undrawable_texts(figure):
        return []
    for axes in figure.axes:
        for axis in (axes.xaxis, axes.yaxis):
            labels = axis.get_ticklabels()
            whole = all(float(loc).is_integer() for loc in axis.get_ticklocs())
            if whole and any(missing_characters(t) for t in labels if t.get_text()):
                axis.set_major_formatter(FuncFormatter(_numbered(axis.get_major_formatter())))
    return undrawable_texts(figure)


def _numbered(formatter: Any) -> Any:
    """A tick formatter: `formatter`'s label behind the tick's position (`0: 正面`); a label
    that starts with its position already (the capped confusion matrix's `0: 正面`) is kept."""

    def label(value: float, position: int | None = None) -> str:
        text = str(formatter(value, position))
        number = f"{round(value)}: "
        return number + text if text and not text.startswith(number) else text

    return label


def undrawn_line(figures: Mapping[str, list[str]], shown: int = 10) -> str:
    """The train.log line on the texts no installed font draws: `figures` maps a PNG's name
    to its undrawable texts; the first `shown` texts are quoted, the rest counted."""
    parts, left = [], shown
    for name, texts in figures.items():
        quoted = ", ".join(f"'{_one_line(t)}'" for t in texts[: max(left, 0)])
        more = len(texts) - max(left, 0)
        counted = f"{', ' if quoted else ''}{more} more" if more > 0 else ""
        parts.append(f"{quoted}{counted} ({name}.png)")
        left -= len(texts)
    return (
        f"plots: no installed font draws every character of {'; '.join(parts)}: those "
        "characters are boxes, and the ticks they label are numbered (the class id on the "
        "confusion matrix); a font matplotlib finds draws them (lab.run_dir.plot_fonts lists "
        "the ones lab looks for, e.g. Noto Sans CJK, WenQuanYi, Noto Emoji)"
    )


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()
