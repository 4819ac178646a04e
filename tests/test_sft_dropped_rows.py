"""The SFT data module's words for dropped rows, and its warning when long prompts take a
large share of a split (`lab.tasks.sft.dropped_rows`)."""

from __future__ import annotations

from lab.tasks.sft.dropped_rows import dropped_words, many_dropped_warning


def test_the_reasons_are_named_with_their_counts_and_empty_reasons_left_out() -> None:
    assert dropped_words({"empty": 1, "overlong": 0}, 256) == "1 empty answer"
    assert dropped_words({"empty": 0, "overlong": 4}, 256) == "4 prompts >= data.max_length=256"
    assert dropped_words({"empty": 3, "overlong": 1}, 64) == (
        "3 empty answers, 1 prompt >= data.max_length=64"
    )


def test_a_tenth_of_the_rows_or_fewer_is_not_warned_of() -> None:
    assert many_dropped_warning("test", {"overlong": 10}, 100, 90, 256, "none") is None
    assert many_dropped_warning("test", {"overlong": 0, "empty": 80}, 100, 20, 256, "none") is None
    assert many_dropped_warning("test", {}, 0, 0, 256, "none") is None


def test_more_than_a_tenth_names_the_share_the_rows_left_and_the_fix() -> None:
    warning = many_dropped_warning("test", {"overlong": 11, "empty": 2}, 100, 87, 256, "none")
    assert warning == (
        "sft test: 11 of the 100 rows read (11.0%) dropped, their prompts alone filling "
        "data.max_length=256: the test split is scored on the 87 examples left; raise "
        "data.max_length or set data.history_cut=oldest_turns (leave out long chats' oldest "
        "turns)"
    )
    # With the oldest turns already cut, only the length is left to change; train trains.
    warning = many_dropped_warning("train", {"overlong": 3}, 4, 1, 64, "oldest_turns")
    assert warning == (
        "sft train: 3 of the 4 rows read (75.0%) dropped, their prompts alone filling "
        "data.max_length=64: the train split trains on the 1 example left; raise "
        "data.max_length"
    )
