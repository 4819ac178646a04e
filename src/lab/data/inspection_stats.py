"""The numbers and the figure of `python -m lab.inspect` (`lab.data.inspection` gathers the
rows and columns they are computed on): nearest-rank length percentiles, a suggested maximum
length, duplicate and shared (leaked) rows before and after normalising Unicode form, case
and whitespace, label balance with class weights, and the length histogram."""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lab.data.label_names import as_integer

if TYPE_CHECKING:
    from datasets import Dataset

    from lab.data.inspection_rows import TextSpec

PERCENTILES = (50, 90, 95, 99)
_SPACES = re.compile(r"\s+")


def sample_indices(rows: int, size: int, seed: int) -> list[int]:
    """The indices of at most `size` of `rows` rows (seeded; 0: all) whose lengths are
    measured: the rows `Dataset.shuffle(seed=seed).select(range(size))` takes."""
    import numpy as np

    if not size or size >= rows:
        return list(range(rows))
    return [int(i) for i in np.random.default_rng(seed).permutation(rows)[:size]]


def percentiles(lengths: Sequence[int]) -> dict[str, int]:
    """Nearest-rank p50/p90/p95/p99 and the maximum of `lengths`."""
    import numpy as np

    if not lengths:
        return {}
    values = np.percentile(np.asarray(lengths), PERCENTILES, method="inverted_cdf")
    found = {f"p{p}": int(v) for p, v in zip(PERCENTILES, values, strict=True)}
    return {**found, "max": int(max(lengths))}


def suggested_max_length(p95: int, limit: int | None) -> int:
    """p95 rounded up to a multiple of 8 (of 32 from 128 on: fewer distinct shapes), at most
    `limit` (the model's)."""
    step = 32 if p95 >= 128 else 8
    value = max(step, math.ceil(p95 / step) * step)
    return min(value, limit) if limit else value


def normalized(key: str) -> str:
    """The normalised key of a row (`key`: its texts joined with U+001F): each text in
    Unicode's compatibility form, case-folded, whitespace runs made one space, ends stripped.

    The same sentence in NFC and NFD (`é` as one code point or as `e` + U+0301: macOS file
    names and clipboard, some Vietnamese and Korean sources), in full-width and half-width
    forms (`ＡＢＣ`, `ABC`: CJK data) or with a ligature (`ﬁ`) is one key: NFKC folds them,
    and tokenizers that normalise (BERT's) give such forms the same ids. Case folding, not
    `lower()`: `Straße` and `STRASSE` are one key. NFKC again after folding, since folding
    can leave text out of normal form. The texts are normalised one by one: U+001F is
    whitespace to `str.split`/`re`, and the field boundary must stay where it is."""
    return "\x1f".join(_normalized_text(text) for text in key.split("\x1f"))


def _normalized_text(text: str) -> str:
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return _SPACES.sub(" ", folded).strip()


def duplicates(keys: Sequence[str]) -> int:
    """Rows equal to an earlier row (3 equal rows: 2 duplicates)."""
    return len(keys) - len(set(keys))


def empty_rows(keys: Sequence[str], any_part: bool = False) -> int:
    """Rows whose key (measured texts joined by \x1f) is blank; with `any_part` (a head's
    `empty_when: any`: seq2seq, which refuses a row without its source or its target), rows
    with any blank part."""
    if any_part:
        return sum(1 for key in keys if any(not part.strip() for part in key.split("\x1f")))
    return sum(1 for key in keys if not key.replace("\x1f", "").strip())


def shared_rows(keys: Sequence[str], train: set[str]) -> int:
    """Rows of an evaluation split whose key is also a train row's."""
    return sum(1 for key in keys if key in train)


def summarize_facts(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """What a head's reader noted per row (`lab.data.inspection_rows.RowReader`), summed up by the
    kind of each value: a flag becomes the share of rows with it, a number its percentiles
    (as `percentiles`), a mapping of counts the counts added over the rows."""
    values: dict[str, list[Any]] = {}
    for facts in rows:
        for name, value in facts.items():
            values.setdefault(name, []).append(value)
    found: dict[str, Any] = {}
    for name, column in values.items():
        if all(isinstance(v, bool) for v in column):
            found[name] = sum(column) / len(column)
        elif all(isinstance(v, int) for v in column):
            found[name] = percentiles(column)
        else:
            counts: Counter[str] = Counter()
            for value in column:
                counts.update(value)
            found[name] = dict(sorted(counts.items()))
    return found


def label_balance(
    values: Iterable[Any],
    names: Sequence[str] | None,
    *,
    numeric: bool = False,
    name_of: Callable[[Any], str | None] | None = None,
    per_row: bool = False,
) -> dict[str, Any]:
    """Counts per class (list cells: each element; every one of `names`, 0 for one without
    rows), shares, weights n/(k*count) (None for a count of 0 or a value no name names), the
    ratio of the largest to the smallest weighted count; for numbers that are not classes
    (`numeric`, the regression head; or any float with a fraction among them): mean/min/max
    instead. An integer label (1.0 too, as training reads it) is the id of a name; `name_of`,
    where the head gives it (training's classes), names each value instead, None leaving out
    a value training refuses or hides. `per_row` (multi-label rows): a share is of the rows
    that hold the class (its positive rate), not of all labels given, which a row of three
    labels counts three times."""
    flat: list[Any] = []
    rows = 0  # rows of list cells: what `per_row` shares are of
    for value in values:
        if isinstance(value, list):
            flat.extend(value)
            rows += 1
        elif value is not None:
            flat.append(value)
    fractions = any(isinstance(v, float) and not v.is_integer() for v in flat)
    if numeric or fractions:
        # Numbers only: a score column with text in it ('high') is training's to refuse, and
        # its warning says so; NaN is a missing cell, counted as a gap.
        numbers = [v for v in flat if isinstance(v, int | float) and v == v]
        if not numbers:
            return {}
        found = {"mean": sum(numbers) / len(numbers), "min": min(numbers), "max": max(numbers)}
        return {"numeric": {k: significant(v) for k, v in found.items()}}
    counts = Counter(flat)
    named: dict[str, int] = {}
    for value, count in sorted(counts.items(), key=lambda item: str(item[0])):
        key = class_key(value, names, name_of)
        if key is not None:
            named[key] = named.get(key, 0) + count
    total = sum(named.values())
    if not total:
        return {}
    total = rows if per_row and rows else total
    # Every named class, in id order, 0 rows for one the split lacks; then values that name no
    # class (training refuses those). As training counts classes, k is the number of named
    # classes (of the values, without names).
    listed = [str(n) for n in names or []]
    named = {**{n: named.get(n, 0) for n in listed}, **named}
    weighted = {k: c for k, c in named.items() if c and (k in listed or not listed)}
    classes = len(listed) or len(named)
    return {
        "counts": named,
        "shares": {k: c / total for k, c in named.items()},
        # None for a class without rows (`class_weights=balanced` refuses it) or a value that
        # names no class
        "class_weights": {
            k: total / (classes * weighted[k]) if k in weighted else None for k in named
        },
        "imbalance_ratio": max(weighted.values()) / min(weighted.values()) if weighted else 1.0,
    }


def class_key(
    value: Any, names: Sequence[str] | None, name_of: Callable[[Any], str | None] | None
) -> str | None:
    """The balance table's name for a stored label `value`: `name_of`'s (the head's classes;
    None for a value training refuses or hides), else the name its integer id has in `names`,
    else the value as text. One reading for train's table and every split's counts
    (`lab.data.inspection_classes`)."""
    if name_of is not None:
        return name_of(value)
    v = as_integer(value)
    return names[v] if names and isinstance(v, int) and 0 <= v < len(names) else str(value)


def significant(value: float, digits: int = 4) -> float:
    """`value` rounded to `digits` significant digits: a float32 label (STS-B's 0.04, stored
    as 0.03999999910593033) as it was written."""
    return float(f"{value:.{digits}g}")


def label_gaps(dataset: Dataset, column: str, *, hidden: bool = True) -> dict[str, Any]:
    """Rows of `dataset` whose `column` holds no label (`empty`: null, NaN or blank text) and,
    with `hidden` (-1 names no class), the hidden label -1 (`hidden`: GLUE's test splits, SNLI's
    rows without a gold label; as a number or as text). Counted with Arrow compute, not a
    Python loop: a split of 600k rows costs milliseconds. List cells (tags, several labels)
    are counted empty when null; their elements are not looked at."""
    import pyarrow as pa
    import pyarrow.compute as pc

    values = dataset.with_format("arrow")[column]
    kind = values.type
    empty = pc.is_null(values, nan_is_null=True)
    text = pa.types.is_string(kind) or pa.types.is_large_string(kind)
    if text:
        trimmed = pc.utf8_trim_whitespace(values)
        empty = pc.or_(empty, pc.fill_null(pc.equal(trimmed, ""), False))
    gaps: dict[str, Any] = {"empty": int(pc.sum(empty).as_py() or 0), "hidden": 0}
    if gaps["empty"]:  # the first, for the warning to name it as training does
        gaps["first_empty"] = int(pc.index(empty, True).as_py())
    if hidden and text:
        gaps["hidden"] = int(pc.sum(pc.equal(trimmed, "-1")).as_py() or 0)
    elif hidden and (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
        gaps["hidden"] = int(pc.sum(pc.equal(values, -1)).as_py() or 0)
    return gaps


def is_label_gap(value: Any, *, hidden: bool = True) -> bool:
    """Whether `label_gaps` counts a cell holding `value` (for a head's label rules, which leave
    these to its warnings): None, NaN, blank text and, with `hidden`, -1 as a number or text."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return True
    if isinstance(value, str):
        return not value.strip() or (hidden and value.strip() == "-1")
    return (
        hidden and isinstance(value, (int, float)) and not isinstance(value, bool) and value == -1
    )


def draw_histogram(
    lengths: dict[str, dict[str, list[int]]],
    specs: Sequence[TextSpec],
    suggested: dict[str, int | None],
    path: Path,
) -> Path:
    """One panel per sequence: train and evaluation length histograms, the configured
    maximum (solid) and the suggested one (dashed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(len(specs), 1, figsize=(8, 3 * len(specs)), squeeze=False)
    for axis, spec in zip(axes[:, 0], specs, strict=True):
        for split, values in lengths[spec.name].items():
            if values:
                axis.hist(values, bins=50, alpha=0.5, label=f"{split} ({len(values)} rows)")
        if spec.max_length:
            axis.axvline(
                spec.max_length, color="black", label=f"{spec.max_length_key}={spec.max_length}"
            )
        if suggested.get(spec.name):
            axis.axvline(
                suggested[spec.name],
                color="red",
                linestyle="--",
                label=f"suggested {suggested[spec.name]}",
            )
        axis.set_title(f"tokens per row: {spec.name}")
        axis.set_xlabel("tokens")
        axis.set_ylabel("rows")
        # Not matplotlib's "best": it weighs every bar against the box and, slow on a loaded
        # machine, prints a UserWarning into lab.inspect's report (s34b L1). Lengths pile up
        # on the left; the maxima's lines are labelled in the box.
        axis.legend(loc="upper right")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


# ----------------------------------------------------------------------------- report


# The rows `datasets.map` hands the tokenizer at once (its default `batch_size`): masked LM packs
# each such batch on its own, so each ends in its own partial block.
MAP_BATCH_ROWS = 1000


def block_size(data: Any) -> tuple[str, int]:
    """The key and value of the tokens per packed block, as the masked-LM data module takes
    them: `data.block_size`, else `data.max_length`, else 128."""
    for key in ("block_size", "max_length"):
        if data.get(key):
            return f"data.{key}", int(data[key])
    return "data.block_size", 128


def packed_blocks(lengths: Sequence[int], rows: int, packed: tuple[str, int]) -> dict[str, Any]:
    """How many blocks of `packed` tokens a split of `rows` rows packs into, from the token
    counts of its rows (`lengths`: every row in order, or a sample, whose mean then stands
    for every row: `estimated`)."""
    key, size = packed
    if len(lengths) == rows:
        chunks = [lengths[i : i + MAP_BATCH_ROWS] for i in range(0, rows, MAP_BATCH_ROWS)]
        blocks = sum(-(-sum(chunk) // size) for chunk in chunks)
        return {"key": key, "size": size, "tokens": sum(lengths), "blocks": blocks}
    tokens = round(sum(lengths) / max(len(lengths), 1) * rows)
    return {
        "key": key,
        "size": size,
        "tokens": tokens,
        "blocks": -(-tokens // size),
        "estimated": True,
    }


def length_stats(
    values: list[int], prompts: list[int] | None, max_length: int | None
) -> dict[str, Any]:
    """Percentiles of `values`; with a limit (`max_length`), the share of rows over it
    (`truncated`) and, given each row's prompt tokens, the share whose prompt alone fills it
    (`dropped`: those are not also counted as truncated)."""
    stats: dict[str, Any] = {"measured_rows": len(values), **percentiles(values)}
    if not max_length:
        return stats
    limit = int(max_length)
    dropped = [p >= limit for p in prompts] if prompts is not None else [False] * len(values)
    over = sum(1 for v, d in zip(values, dropped, strict=True) if v > limit and not d)
    stats["truncated"] = over / len(values) if values else 0.0
    if prompts is not None:
        stats["dropped"] = sum(dropped) / len(values) if values else 0.0
    return stats
