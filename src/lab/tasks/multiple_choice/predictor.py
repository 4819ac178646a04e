"""`MultipleChoicePredictor`: what `lab.predict` and `lab.serve` do with a multiple-choice run.

It works from the exported model alone and imports inference-side code only (`inputs`),
never the data or training module, so serving does not load Lightning.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch

from lab.inference.cuts import TRUNCATED, Cut, choice_cuts, cut_note, input_cuts, with_cuts
from lab.inference.predictors import Predictor, present_fields
from lab.tasks.multiple_choice.inputs import Choice, choice_encoding, pad_choices, split_choices

if TYPE_CHECKING:
    from omegaconf import DictConfig


class MultipleChoicePredictor(Predictor):
    """The ending that follows: `label` (its index), `ending` (its text), `probabilities`.

    A row gives the run's context column, its prefix column when the run has one (optional
    here: missing, null or empty adds nothing) and the endings: a list under the run's list
    column (or `endings` for data with one column per ending), a JSON array in that field
    (CSV cells), or, for data with one column per ending, those columns.

    Each (context, prefix + ending) pair is cut at `data.max_length` tokens, longest first, as
    in training: a row with a pair cut has `truncated`, the list of its choices cut with their
    pairs' counts (`[{"choice": 2, "tokens": 212, "tokens_read": 128}]`), and `notes` counts
    such rows and pairs (`lab.inference.cuts`).
    """

    outputs = ("label", "ending", "probabilities", TRUNCATED)

    def __init__(self, model: Any, tokenizer: Any, cfg: DictConfig) -> None:
        super().__init__(model, tokenizer, cfg)
        data = cfg.data
        self.context_field = str(data.get("context_column") or "context")
        self.prefix_field = str(data.prefix_column) if data.get("prefix_column") else None
        columns = data.get("ending_columns")
        self.ending_columns = [] if isinstance(columns, str) or not columns else list(columns)
        self.endings_field = columns if isinstance(columns, str) else "endings"
        prefix = [self.prefix_field] if self.prefix_field else []
        self.fields = (self.context_field, *prefix, self.endings_field)
        self.list_fields = (self.endings_field,)
        self.optional_fields = tuple(prefix)
        self.cut_rows = 0  # rows with a (context, ending) pair cut at data.max_length (`notes`)
        self.cut_pairs = 0  # and their pairs cut

    def notes(self) -> list[str]:
        """How many rows had a pair run past `data.max_length` tokens, and how many pairs."""
        if not self.cut_rows:
            return []
        note = cut_note(
            self.cut_rows, self.cut_setting, self.max_length, self.tokenizer, pairs=self.cut_pairs
        )
        return [note]

    def check(self, row: dict[str, Any]) -> str | None:
        """Why `row` cannot be predicted; puts its endings in a list under `endings_field`."""
        context = row.get(self.context_field)
        if context is None:  # in other heads' words
            return f"missing field '{self.context_field}' (fields present: {present_fields(row)})"
        if not isinstance(context, str) or not context.strip():
            return f"field '{self.context_field}' must be a non-empty string, got {context!r}"
        prefix = row.get(self.prefix_field) if self.prefix_field else None
        if prefix is not None and not isinstance(prefix, str):
            return f"field '{self.prefix_field}' must be a string, got {type(prefix).__name__}"
        endings = row.get(self.endings_field)
        given = [c for c in self.ending_columns if c in row and row[c] is not None]
        own = [row[c] for c in given] if len(given) == len(self.ending_columns) else None
        if endings is not None and given and endings != own:  # (own: a row checked before)
            # two sets of endings in one row: which one is meant?
            return (
                f"give the endings either as '{self.endings_field}' or as the fields "
                f"{', '.join(self.ending_columns)}, not both"
            )
        if endings is None and given:
            if len(given) < len(self.ending_columns):
                missing = [c for c in self.ending_columns if c not in row]
                return (
                    f"missing field(s) {', '.join(missing)}: one field per ending, "
                    f"{', '.join(self.ending_columns)} (or a list under '{self.endings_field}'; "
                    f"fields present: {present_fields(row)})"
                )
            endings = [row[c] for c in self.ending_columns]
        if isinstance(endings, str):
            try:
                endings = json.loads(endings)
            except json.JSONDecodeError:
                return f"field '{self.endings_field}' must be a list of strings (or a JSON array)"
        if endings is None:
            alternative = (
                f" (or the fields {', '.join(self.ending_columns)})" if self.ending_columns else ""
            )
            return (
                f"missing field '{self.endings_field}'{alternative} (fields present: "
                f"{present_fields(row)})"
            )
        if not isinstance(endings, list) or len(endings) < 2:
            return f"field '{self.endings_field}' must be a list of at least 2 endings"
        if not all(isinstance(e, str) and e.strip() for e in endings):
            return f"field '{self.endings_field}' must hold non-empty strings only"
        row[self.endings_field] = endings
        return None

    def predict(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """One result per row; rows with as many endings are scored as one batch."""
        choices = [
            Choice(
                row[self.context_field],
                (row.get(self.prefix_field) or "") if self.prefix_field else "",
                row[self.endings_field],
            )
            for row in rows
        ]
        results: list[dict[str, Any]] = [{} for _ in rows]
        cuts: list[Cut | None] = [None] * len(rows)
        for count in sorted({len(c.endings) for c in choices}):
            group = [i for i, c in enumerate(choices) if len(c.endings) == count]
            asked = [choices[i] for i in group]
            encoded, first, second = choice_encoding(self.tokenizer, asked, self.max_length)
            # The pairs cut, as training cuts them: read per pair, said per row.
            cut = choice_cuts(
                input_cuts(self.tokenizer, encoded, first, second), [count] * len(group)
            )
            inputs = pad_choices(self.tokenizer, split_choices(encoded, asked))
            with torch.no_grad():
                logits = self.model(**{k: v.to(self.device) for k, v in inputs.items()}).logits
            probabilities = torch.softmax(logits.float(), dim=-1).tolist()
            for i, p, pairs in zip(group, probabilities, cut, strict=True):
                best = max(range(count), key=p.__getitem__)
                results[i] = {"label": best, "ending": choices[i].endings[best], "probabilities": p}
                cuts[i] = pairs
        # Counted once the batch is done: a row retried alone is not counted twice.
        self.cut_rows += with_cuts(results, cuts)
        self.cut_pairs += sum(len(pairs) for pairs in cuts if isinstance(pairs, list))
        return results
