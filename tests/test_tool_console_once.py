"""A tool's console says a library's warning once (s31f F9): lab.eval printed datasets' card
warning four times, bare through datasets' own handler and worded through lab's, once for
each time it read the dataset; lab.train says it once."""

from __future__ import annotations

import logging

import pytest

from lab.training.console import ToolConsole, tame_library_output

CARD = "Ignoring part of dataset_info from the dataset card: The `splits` field is malformed"


def _record(name: str, message: str) -> logging.LogRecord:
    return logging.LogRecord(name, logging.WARNING, __file__, 1, message, None, None)


def test_a_library_warning_is_said_once_and_labs_lines_each_time(
    capsys: pytest.CaptureFixture[str],
) -> None:
    console = ToolConsole()
    for _ in range(2):
        console.handle(_record("datasets.info", CARD))
        console.handle(_record("lab.eval", "data.max_length=64 cuts 3 of 10 test rows"))
    assert capsys.readouterr().err.splitlines() == [
        f"warning (datasets.info): {CARD}",
        "warning: data.max_length=64 cuts 3 of 10 test rows",
        "warning: data.max_length=64 cuts 3 of 10 test rows",
    ]


def test_a_tool_reading_data_routes_datasets_records_through_its_console() -> None:
    """datasets' own handler is off (its records reach the root's handler only)."""
    import datasets.utils.logging  # noqa: F401  (attaches datasets' handler)

    library = logging.getLogger("datasets")
    saved = list(library.handlers), library.propagate
    try:
        tame_library_output(data=True)
        assert library.handlers == [] and library.propagate
    finally:
        for handler in saved[0]:
            library.addHandler(handler)
        library.propagate = saved[1]
