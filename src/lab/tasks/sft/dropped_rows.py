"""What the SFT data module says of the rows it drops: their reasons in words, and a warning
when prompts that fill `data.max_length` take a large share of a split.

A dropped validation or test row is not scored, so a split that loses many of its rows to
long prompts gives metrics over the short rows only: not the split a paper reports on. The
one-line summary counts them; past `MANY_DROPPED` of the rows read, a warning says so and
what to change (s33a L1). Empty answers are not warned of: they have nothing to score.
"""

from __future__ import annotations

from lab.tasks.sft.history import NONE

EMPTY, OVERLONG_PROMPT = "empty", "overlong"  # a dropped row's reasons
MANY_DROPPED = 0.1  # a share of a split's rows read past which its overlong drops are warned of


def dropped_words(counts: dict[str, int], max_length: int) -> str:
    """`3 empty answers, 4 prompts >= data.max_length=256`: a split's dropped rows by reason
    (the reasons without rows left out)."""
    words = []
    if counts.get(EMPTY):
        words.append(counted(counts[EMPTY], "empty answer"))
    if counts.get(OVERLONG_PROMPT):
        prompts = counted(counts[OVERLONG_PROMPT], "prompt")
        words.append(f"{prompts} >= data.max_length={max_length}")
    return ", ".join(words)


def overlong_fix(history_cut: str) -> str:
    """What to change when long prompts are dropped."""
    fix = "raise data.max_length"
    if history_cut == NONE:
        fix += " or set data.history_cut=oldest_turns (leave out long chats' oldest turns)"
    return fix


def many_dropped_warning(
    split: str, counts: dict[str, int], read: int, kept: int, max_length: int, history_cut: str
) -> str | None:
    """A warning when more than `MANY_DROPPED` of the `read` rows of `split` were dropped
    because their prompts alone fill `max_length` (`kept`: the examples left); None otherwise."""
    overlong = counts.get(OVERLONG_PROMPT, 0)
    if not read or overlong <= MANY_DROPPED * read:
        return None
    left = "trains on" if split == "train" else "is scored on"
    return (
        f"sft {split}: {overlong} of the {read} rows read ({100 * overlong / read:.1f}%) "
        f"dropped, their prompts alone filling data.max_length={max_length}: the {split} "
        f"split {left} the {counted(kept, 'example')} left; {overlong_fix(history_cut)}"
    )


def counted(n: int, noun: str) -> str:
    """`1 example`, `3 examples`: `n` and `noun`, plural where `n` is not 1."""
    return f"{n} {noun}{'' if n == 1 else 's'}"
