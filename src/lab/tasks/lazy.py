"""Lazy re-exports for head packages: old dotted names that import their module on first use.

A head that grew from one module into a package (`question_answering`, `masked_lm`) keeps
its old names (`lab.tasks.masked_lm.MaskedLMModule`, in configs of earlier runs) without
importing Lightning when only its predictor is wanted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_exports(
    package: str, table: Mapping[str, str], present: Callable[[], dict[str, Any]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """`(__getattr__, __dir__)` for `package`: each name in `table` comes from the module
    `table[name]` on first use; `present` is the package's `globals`."""

    def getattr_(name: str) -> Any:
        if name in table:
            return getattr(import_module(table[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def dir_() -> list[str]:
        return sorted(set(present()) | set(table))

    return getattr_, dir_
