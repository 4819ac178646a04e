"""`lab.errors.exception_chain`: the walk every "what is behind this error" reader shares
(disk faults, the datasets cache, a data source's root cause, an export's staging)."""

from __future__ import annotations

from lab.data.sources import root_cause
from lab.errors import exception_chain


def test_the_chain_follows_causes_then_contexts_each_once() -> None:
    inner = OSError(28, "No space left on device")
    middle = RuntimeError("write failed")
    middle.__cause__ = inner
    outer = ValueError("could not save")
    outer.__context__ = middle
    assert list(exception_chain(outer)) == [outer, middle, inner]
    assert root_cause(outer) == "OSError: [Errno 28] No space left on device"


def test_a_chain_that_loops_back_ends() -> None:
    first, second = RuntimeError("a"), RuntimeError("b")
    first.__context__, second.__context__ = second, first
    assert list(exception_chain(first)) == [first, second]
    assert root_cause(first) == "RuntimeError: b"  # it used to loop for ever
