"""Which rows say enough to be counted as a duplicate or as a leaked row: one rule for training
and lab.inspect.

Training's leak line (`lab.data.leaked_rows`) leaves out rows that say too little to leak
(s30d F1): a blank row (no letter or digit in any script: an NER row with no words, WikiText's
empty lines), and, where a head's declaration sets `leak_min_words` (the LM heads: 4), a row
of fewer words (headings, list items that recur in any corpus). lab.inspect's duplicate and
leak counts leave out the same rows (s31e N4): a head's empty rows, which it reports as left
out, matched each other and the empty train rows, so inspect said 20 duplicates and 8 leaked
validation rows where training's line said 7.

A word is a run of letters or digits (`WORD`, RE2 syntax, counted by Arrow in C++, no Python
object per row); a key is a row's measured texts joined (`lab.data.inspection_rows.row_keys`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lab.data.inspection_hooks import declared_columns

if TYPE_CHECKING:
    import pyarrow as pa

#: a word, as the counts count them (RE2: letters or digits of any script)
WORD = r"[\pL\pN]+"


def fewest_words(data: Any) -> int:
    """The words a row needs to be counted under the data config `data`: its head's
    declared `leak_min_words` (`conf/data/base/inspect/<head>.yaml`), else 1."""
    declared = declared_columns(str(data.get("_target_") or ""))
    return max(int(declared.get("leak_min_words") or 1), 1) if declared is not None else 1


def counted_mask(keys: pa.Array | pa.ChunkedArray, fewest: int) -> pa.Array | pa.ChunkedArray:
    """Per key, whether its row is counted: it holds at least `fewest` words."""
    import pyarrow.compute as pc

    return pc.greater_equal(pc.count_substring_regex(keys, WORD), fewest)


def counted_keys(keys: Sequence[str], fewest: int) -> list[str]:
    """The keys of `keys` whose rows are counted (`counted_mask`), in order."""
    import pyarrow as pa

    if not keys:
        return []
    mask = counted_mask(pa.array(keys, pa.large_string()), fewest).to_pylist()
    return [key for key, keep in zip(keys, mask, strict=True) if keep]
