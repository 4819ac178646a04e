"""How `python -m lab.inspect` measures preference data (`rows:` in
`conf/data/base/inspect/dpo.yaml`).

Each pair is read as the DPO data module reads it, with the same functions of
`lab.tasks.dpo.pairs` (strings or message lists; chat turns when the tokenizer has a chat
template). Imports no torch or Lightning: `lab.inspect` answers without them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lab.data.inspection_rows import Measured, RowReader, TextSpec, as_skip, cell_text
from lab.errors import ConfigError
from lab.tasks.dpo.pairs import NoPreference, encode_pair, make_pair, prompt_ids

if TYPE_CHECKING:
    from datasets import Dataset
    from omegaconf import DictConfig


class PairRows(RowReader):
    """Three sequences per pair: the prompt (the rows `data.on_overlong` drops or refuses),
    prompt + chosen and prompt + rejected (each cut at `data.max_length` in training). Facts:
    `chosen_longer`, the share of pairs whose chosen side has more tokens; `reply cut` (with
    `data.max_length`), the share of pairs training keeps and cuts a reply of, as its line
    counts them (`PreferenceDataModule`: a cut reply's reward is not the whole reply's)."""

    def __init__(self, data: DictConfig, tokenizer: Any, train: Dataset) -> None:
        self.prompt_column = str(data.get("prompt_column") or "")
        self.system_column = data.get("system_column")  # the prompt's first turn, as trained
        self.sides = (str(data.chosen_column), str(data.rejected_column))
        # The prompt column may be absent when chosen/rejected hold the whole conversation.
        first = train[0].get(self.sides[0]) if len(train) else None
        needs_prompt = self.prompt_column in train.column_names or isinstance(first, str)
        self.columns = ((self.prompt_column,) if needs_prompt else ()) + self.sides
        limit = data.get("max_length")
        key = "data.max_length" if limit else None
        self.specs = [
            TextSpec("prompt", self.columns[:1] if needs_prompt else (), None),
            TextSpec("prompt + chosen", self.columns, limit, key),
            TextSpec("prompt + rejected", self.columns, limit, key),
        ]
        self.left_out = {
            "tie": "data.on_tie drops such pairs or stops",
            "unreadable": "training stops at the first",
        }
        self.chat = bool(getattr(tokenizer, "chat_template", None))
        self._tokenizer = tokenizer

    def read(self, row: dict[str, Any]) -> tuple[str, Any, dict[str, Any]]:
        prompt, chosen, rejected = (row.get(self.prompt_column), *(row[c] for c in self.sides))
        try:
            system = row.get(self.system_column) if self.system_column else None
            pair = make_pair(prompt, chosen, rejected, chat=self.chat, system=system)
        except ValueError as err:  # the head's ChatError, naming the field at fault
            fields = {"prompt": self.prompt_column, "chosen": self.sides[0]}
            fields["system"] = str(self.system_column)
            raise as_skip(err, NoPreference, "tie", fields | {"rejected": self.sides[1]}) from None
        if not self.chat and not isinstance(pair.prompt, str):
            raise ConfigError(
                "the data holds chat messages but the tokenizer has no chat template; "
                "set model.chat_template (a Jinja string or file)"
            )
        return "\x1f".join(cell_text(row.get(c)) for c in self.columns), pair, {}

    def measure(self, parsed: Any, split: str) -> Measured:
        prompt = len(prompt_ids(self._tokenizer, parsed.prompt))
        encoded = encode_pair(self._tokenizer, parsed)
        chosen, rejected = len(encoded.chosen), len(encoded.rejected)
        lengths = {"prompt": prompt, "prompt + chosen": chosen, "prompt + rejected": rejected}
        facts = {"chosen_longer": chosen > rejected}
        limit = self.specs[1].max_length
        if limit:  # a prompt of `limit` tokens is dropped in training, not cut
            facts["reply cut"] = prompt < limit < max(chosen, rejected)
        return Measured(lengths, prompt, facts, ids=[encoded.chosen, encoded.rejected])
