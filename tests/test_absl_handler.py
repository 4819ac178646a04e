"""absl's handler (ROUGE imports absl) never closes a stream it borrowed: in a process that
swaps sys.stderr (pytest, a notebook) a later `dictConfig` closed the stream of whoever held
stderr at absl's import, and every later test of that pytest worker failed."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator

import pytest

from lab.training.absl_handler import keep_absl_off_borrowed_streams

absl_logging = pytest.importorskip("absl.logging")


@pytest.fixture
def absl_handler() -> Iterator[object]:
    handler = absl_logging.get_absl_handler().python_handler
    yield handler
    handler.setStream(sys.__stderr__)


def test_a_stream_borrowed_at_import_is_not_closed_by_a_later_shutdown(
    absl_handler: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    borrowed = io.StringIO()  # sys.stderr when absl was imported: a test's capture
    absl_handler.setStream(borrowed)  # type: ignore[attr-defined]
    keep_absl_off_borrowed_streams()
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # a later test's capture
    absl_logging.get_absl_handler().close()  # what logging.shutdown (dictConfig) does
    assert not borrowed.closed
    assert absl_handler.stream is sys.__stderr__  # type: ignore[attr-defined]


def test_without_it_absl_closes_the_borrowed_stream(
    absl_handler: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The failure the function prevents, as absl behaves on its own."""
    borrowed = io.StringIO()
    absl_handler.setStream(borrowed)  # type: ignore[attr-defined]
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    absl_logging.get_absl_handler().close()
    assert borrowed.closed


def test_rouge_scoring_points_absl_at_the_process_stderr(absl_handler: object) -> None:
    """The ROUGE metric, which imports absl, applies it as it is built."""
    from lab.tasks.generation_metrics import RougeScore

    absl_handler.setStream(io.StringIO())  # type: ignore[attr-defined]
    RougeScore()
    assert absl_handler.stream is sys.__stderr__  # type: ignore[attr-defined]
