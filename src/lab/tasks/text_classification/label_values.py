"""Label cells as stored, read as the classes they mean (text classification).

Files store class labels less tidily than a `ClassLabel` column:

- integer labels as floats: pandas reads a column of 0/1 with one empty cell as float64
  (0.0, 1.0, NaN), and `DataFrame.to_json` writes a float column as 0.0/1.0. A float that is
  a whole number is that integer (`lab.data.label_names.as_integer`, which the data layer's
  integer label names read the same way); an empty cell (None, NaN) is named as one, not as
  a label.
- booleans (`true`/`false`, BoolQ's `answer`, a `toxic` flag): the classes "False" and "True",
  ids 0 and 1, as `datasets`' users expect.
- strings with surrounding whitespace ('neg ' from a spreadsheet): the same class as 'neg'.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from lab.data.label_names import as_integer

log = logging.getLogger(__name__)

#: the names of boolean labels, in id order (False = 0, True = 1)
BOOL_NAMES = ["False", "True"]
#: why an empty label cell is refused (after the row that holds it)
EMPTY_CELL = "the cell is empty"


def is_empty(value: Any) -> bool:
    """Whether a label cell holds nothing: None (an empty CSV cell, a JSON null), NaN, or a
    string of whitespace only."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, str) and not value.strip()


def integer_values(values: Iterable[Any]) -> list[int]:
    """The integer labels among `values` (whole-number floats read as integers); empty cells
    and other values are left out, for the split's row checks to name."""
    found = (as_integer(v) for v in values if not is_empty(v))
    return [v for v in found if isinstance(v, int)]


def string_label_names(values: Iterable[Any]) -> list[str]:
    """The sorted distinct string labels of train (`values`), surrounding whitespace removed;
    says which stored values were read as another, with their train rows (a warning when that
    merged them with a class)."""
    counts = Counter(v for v in values if isinstance(v, str) and v.strip())
    spellings = Counter(v.strip() for v in counts)  # stored spellings of each class
    names = sorted(spellings, key=_number_order(spellings))
    for value, rows in sorted(counts.items()):
        name = value.strip()
        if value == name:
            continue
        # A warning where it merged classes (a spreadsheet's 'neg ' beside 'neg'); info where
        # every row of the class has the same spaces. The rows counted are the train split's
        # (the classes come from it): the other splits' are read the same way, uncounted.
        (log.warning if spellings[name] > 1 else log.info)(
            "label %r read as %r (surrounding spaces removed, %d train row%s)",
            value,
            name,
            rows,
            "s" if rows > 1 else "",
        )
    return names


def _number_order(names: Iterable[str]) -> Any:
    """The sort key of string labels: where every one is a whole number written as text
    ("1".."10", a JSON export of star ratings), the number's order ("2" before "10", as the
    same labels stored as integers sort); otherwise the text's."""
    try:
        for name in names:
            int(name)
    except ValueError:
        return None  # sorted() by the text itself
    return int


def class_id(ids: Mapping[Any, int], value: Any) -> int | None:
    """The class id of a stored label by `ids` (value -> id); a string is also looked up
    without its surrounding whitespace. None when it names no class."""
    if value in ids:
        return ids[value]
    if isinstance(value, str):
        return ids.get(value.strip())
    return None


def one_based_top(present: Iterable[int], count: int) -> bool:
    """Whether integer labels `present` look like 1..`count` (1-based ids for `count` names):
    all within 1..count, `count` among them."""
    values = set(present)
    return bool(values) and count in values and all(1 <= v <= count for v in values)


def one_based_fix(*, configured: bool, evaluating: bool = False) -> str:
    """How to fix 1-based labels (1..K for the K class names of ids 0..K-1): shift them by -1;
    when training under `data.label_names` (`configured`), naming the classes by the values
    works too. A ClassLabel keeps its names with data.label_names=null, and `lab.eval`
    (`evaluating`) keeps the trained model's names whatever data.label_names says: there
    the shift is the only fix."""
    if evaluating:
        return "shift the labels by -1 (lab.eval keeps the trained model's class names)"
    fix = "shift the labels by -1"
    return fix + (", or set data.label_names=null to use the values as names" if configured else "")


def outside_classes(
    value: Any, count: int, *, one_based: bool, evaluating: bool = False, configured: bool = False
) -> str:
    """Why label `value` (an integer outside 0..`count`-1) is refused, after the row that holds
    it: `one_based`, the train split's labels are 1..`count` under `count` configured names
    (`one_based_top`), whose top `count` gets the 1-based advice. Where `data.label_names`
    gives the classes (`configured`: a preset's, RTE's two) `data.num_labels` cannot differ
    from them (s30b F5), and `lab.eval` (`evaluating`) keeps the model's classes."""
    if one_based and as_integer(value) == count:
        lister = (
            f"the model was trained with {count} class names"
            if evaluating
            else f"data.label_names lists {count} names"
        )
        fix = one_based_fix(configured=True, evaluating=evaluating)
        advice = f"labels 1..{count} look 1-based; {lister} for ids 0..{count - 1}: {fix}"
    elif evaluating:
        advice = f"the model was trained with {count} classes: fix the data"
    elif configured:
        advice = f"data.label_names lists {count}: fix the data, or list every class there"
    else:
        advice = "fix the data or set data.num_labels"
    return f"label {value!r} is outside num_labels={count} (valid: 0..{count - 1}); {advice}"


def class_zero_unused(
    present: Iterable[int],
    names: Sequence[str],
    *,
    lister: str | None,
    column: str,
    split: str,
    evaluating: bool = False,
) -> str | None:
    """The warning where integer labels `present` under the K `names` all lie in 1..K-1: class
    0 has no row in `split` ("the train split"); None otherwise. Not refused: a small train
    split may miss a class; but they may be 1-based labels whose top class is absent, every
    row trained under the wrong class. `lister`: "data.label_names" where the names are
    configured; None for a ClassLabel's. `evaluating`: `lab.eval`, whose names are the trained
    model's and whose rows are scored, not trained on."""
    values, count = set(present), len(names)
    if not values or not all(1 <= v < count for v in values):
        return None
    labels = "are all 1" if count == 2 else f"lie in 1..{count - 1}"
    fix = one_based_fix(configured=lister is not None, evaluating=evaluating)
    if evaluating:  # the split evaluated ("the test split"), scored under the model's names
        listed = f"the model was trained with {count} class names"
        kept = "a split without class 0 is scored"
        absent = split.removeprefix("the ").removesuffix(" split")
    else:
        owner = lister or f"column '{column}''s ClassLabel"
        listed, kept, absent = (
            f"{owner} lists {count} names",
            "a subsample that missed class 0 trains",
            "train",
        )
        if "streamed" in split:  # the stream's first rows (s30e F6: IMDB's files are sorted)
            kept = (
                "the stream (a file sorted by label streams one class first: a "
                "data.shuffle_buffer above its longest run of one class mixes them) trains"
            )
    return (
        f"class 0 ({names[0]!r}) has no row in {split}, whose labels {labels} while {listed} "
        f"for ids 0..{count - 1}: {kept} as is; if the labels "
        f"are 1-based (1..{count}, {count} absent from {absent}), {fix}"
    )


def describe_non_text(value: Any) -> str:
    """How a cell of a text column that is not a string reads in a message."""
    if isinstance(value, bool):
        return f"{str(value).lower()} is a boolean, not text"
    if isinstance(value, (int, float)):
        return f"{value!r} is a number, not text"
    if isinstance(value, list):
        return "a list is not text"
    if isinstance(value, dict):
        return "an object is not text"
    return f"{value!r} ({type(value).__name__}) is not text"


def regression_label_problem(
    values: Sequence[Any], *, skip_missing: bool = False
) -> tuple[int, str] | None:
    """The first regression label among `values` that is not a number, as (row, why it is
    refused); None when every one is a number. A cell of text that reads as a number ("0.69")
    is one only when the whole column is text: the row named is then the first that is no
    number at all ('high', whose presence made the column text), and where every cell reads
    as a number, the first one, with the advice to store them as numbers. `skip_missing`
    passes over missing cells (None, NaN): `lab.inspect` counts those on their own."""
    first_text: int | None = None
    for row, value in enumerate(values):
        if isinstance(value, str) and _reads_as_number(value):
            first_text = row if first_text is None else first_text
            continue
        missing = value is None or (isinstance(value, float) and value != value)
        if missing and not skip_missing:
            # lab reads only an empty CSV cell as missing ("n/a" stays text: refused below).
            return row, "the regression label is missing (an empty cell, a null or NaN)"
        if isinstance(value, float) and math.isinf(value):
            return row, f"regression label {value} is not a finite number"
        if not missing and not isinstance(value, (int, float)):
            kind = "a finite number" if _is_infinite(value) else "a number"
            why = f"regression label {value!r} is not {kind}"
            if first_text is not None:
                why += f" (so the column is read as text, {values[first_text]!r} included)"
            return row, why
    if first_text is not None:
        return first_text, (f"regression label {values[first_text]!r} is text; {STORE_AS_NUMBERS}")
    return None


#: the end of `regression_label_problem`'s verdict on a column of numbers read as text: the row
#: it names stands for the column; the cell that made it text may be in another split
STORE_AS_NUMBERS = "store the scores as numbers"


def _integer_text(text: str) -> bool:
    """Whether `text` is a whole number written out ("1", " -2 ")."""
    return text.strip().lstrip("+-").isdigit()


def _reads_as_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _is_infinite(value: Any) -> bool:
    try:
        return math.isinf(float(value))
    except (TypeError, ValueError):
        return False


def multi_label_element_problem(value: Any) -> str | None:
    """Why training refuses `value` inside a multi-label list whatever the classes are: -1,
    which bare integer labels would otherwise make a class of its own (and every real class
    one id up); None for any other element (the classes decide those)."""
    if isinstance(value, bool) or not (value == -1 or value == "-1"):
        return None
    return (
        "label -1 inside a multi-label list names no class (a hidden label); a row's list "
        "holds its classes: remove the -1 (an empty list is a row of no class)"
    )


def mixed_label_problem(values: Sequence[Any]) -> tuple[int, str] | None:
    """(row, why) for single labels that mix text and numbers (a JSON file's 299 "neg"/"pos"
    and one 1, which `datasets` reads as one column of both; a CSV's 0s and 1s and one
    "positive", which its reader reads as a column of text): the first label of the rarer
    kind, named at its row; None where the labels are of one kind (empty cells aside). A
    whole number written as text ("1") counts as a number among words, and as text (a class
    id written as text) where every label is one."""
    strings = [i for i, v in enumerate(values) if isinstance(v, str) and v.strip()]
    numbers = [
        i
        for i, v in enumerate(values)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and not is_empty(v)
    ]
    words = [i for i in strings if not _integer_text(values[i])]
    texts = words or strings
    if words:  # "1" among words: a number, as a CSV reader would have read it without them
        # ("-1" aside: a hidden label among named ones, GLUE's test rows, judged on its own)
        ids = [i for i in strings if _integer_text(values[i]) and int(values[i]) != -1]
        numbers = sorted(numbers + ids)
    if not texts or not numbers:
        return None
    rare, common = (numbers, texts) if len(numbers) <= len(texts) else (texts, numbers)
    kind, other = ("a number", "text") if rare is numbers else ("text", "numbers")
    shown = sorted({repr(values[i]) for i in common[:1000]})[:3]
    return rare[0], (
        f"label {values[rare[0]]!r} is {kind} among labels of {other} ({', '.join(shown)}, ...): "
        f"write every label as {other}"
    )
