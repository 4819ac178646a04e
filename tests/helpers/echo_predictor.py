"""A stand-in predictor for tests of lab.predict's and lab.serve's row handling: the base
class's row checks, and the text it read as its result (no model, tokenizer or run config)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lab.inference.predictors import Predictor


class Echo(Predictor):
    """Reads `review`; answers `{"label": <the review>}` per row."""

    fields = ("review",)
    outputs = ("label",)

    def __init__(self) -> None:  # no model, tokenizer or run config
        pass

    def predict(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"label": row["review"]} for row in rows]
