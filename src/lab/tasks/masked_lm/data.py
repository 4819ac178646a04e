"""`MaskedLMDataModule`: the text of any data config, tokenized and packed into blocks of
tokens, and `collate_blocks`, which pads them into batches. Masking happens later, in the
module (`lab.tasks.masked_lm.masking`); the package doc says why.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch

from lab.data.datamodule import DataModule
from lab.data.padding import Padding
from lab.errors import ConfigError, DataError

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedTokenizerBase

log = logging.getLogger(__name__)

_BASE_OPTIONS = set(inspect.signature(DataModule.__init__).parameters) - {"self", "tokenizer"}
# Padding values of the columns a block carries (`collate_blocks`).
_PAD = {"attention_mask": 0, "special_tokens_mask": 1, "word_ids": -1}


class MaskedLMDataModule(DataModule):
    """Tokenizes the text column(s) of any data config and packs it into blocks.

    Args:
        text_column / text_pair_column: the text (and optional second text) of each row.
        block_size / max_length: tokens per block; `block_size` wins when both are set.
        mlm_probability: share of tokens (or words) that are targets.
        whole_word_mask: pick words, all their pieces together (needs a fast tokenizer).
        **options: see `lab.data.datamodule.DataModule`; other heads' keys (labels, tags)
            are accepted and ignored, so every data config works.
    """

    #: Each tokenization batch's last block is kept whole or not (no row is dropped, unlike
    #: causal LM's blocks): the data line says "blocks of up to N tokens".
    keeps_partial_blocks = True

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        *,
        text_column: str = "text",
        text_pair_column: str | None = None,
        block_size: int | None = None,
        max_length: int | None = None,
        mlm_probability: float = 0.15,
        whole_word_mask: bool = False,
        **options: Any,
    ) -> None:
        ignored = sorted(k for k in options if k not in _BASE_OPTIONS)
        super().__init__(tokenizer, **{k: v for k, v in options.items() if k in _BASE_OPTIONS})
        log.debug("masked_lm ignores data keys of other heads: %s", ", ".join(ignored))
        if not 0.0 < mlm_probability < 1.0:
            raise ConfigError(f"data.mlm_probability={mlm_probability} must be in (0, 1)")
        if tokenizer.mask_token_id is None:
            raise ConfigError(
                f"the tokenizer ({type(tokenizer).__name__}) has no mask token; masked-LM "
                "training needs an encoder's tokenizer (BERT, RoBERTa, DeBERTa...)"
            )
        if whole_word_mask and not getattr(tokenizer, "is_fast", False):
            raise ConfigError(
                "data.whole_word_mask=true needs a fast tokenizer (word ids); this one is "
                f"{type(tokenizer).__name__}"
            )
        self.text_column = text_column
        self.text_pair_column = text_pair_column
        self.block_size = int(block_size or max_length or 128)
        if self.block_size < 2:
            raise ConfigError(f"data.block_size={self.block_size}: a block needs 2 tokens")
        self.mlm_probability = mlm_probability
        self.whole_word_mask = whole_word_mask

    def check_split(self, name: str, dataset: Dataset) -> None:
        wanted = {"data.text_column": self.text_column}
        if self.text_pair_column:
            wanted["data.text_pair_column"] = self.text_pair_column
        self.require_columns(name, dataset, wanted)
        if not any(isinstance(t, str) and t.strip() for t in dataset[self.text_column]):
            raise DataError(
                f"the {self.split_name(name)} split{self._from(name)} has no text in column "
                f"'{self.text_column}'"
            )

    def fingerprint_parts(self) -> tuple[Any, ...]:
        return (self.text_column, self.text_pair_column, self.block_size, self.whole_word_mask)

    def tokenize(self, batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        keep = [
            i for i, t in enumerate(batch[self.text_column]) if isinstance(t, str) and t.strip()
        ]
        texts = [batch[self.text_column][i] for i in keep]
        pairs = [batch[self.text_pair_column][i] for i in keep] if self.text_pair_column else None
        # verbose=False: rows longer than the model's limit are fine here, blocks cut them.
        encoded = self.tokenizer(texts, pairs, return_special_tokens_mask=True, verbose=False)
        ids: list[int] = []
        special: list[int] = []
        words: list[int] = []
        for row, (row_ids, row_special) in enumerate(
            zip(encoded["input_ids"], encoded["special_tokens_mask"], strict=True)
        ):
            ids += row_ids
            special += row_special
            if self.whole_word_mask:
                words += _numbered_words(
                    encoded.word_ids(row), encoded.sequence_ids(row), start=len(words) + 1
                )
        blocks: dict[str, list[Any]] = {"input_ids": [], "special_tokens_mask": []}
        if self.whole_word_mask:
            blocks["word_ids"] = []
        for start in range(0, len(ids), self.block_size):
            end = start + self.block_size
            if all(special[start:end]):
                continue  # a tail of special tokens only: nothing to predict
            blocks["input_ids"].append(ids[start:end])
            blocks["special_tokens_mask"].append(special[start:end])
            if self.whole_word_mask:
                blocks["word_ids"].append(words[start:end])
        return blocks

    def setup(self, stage: str | None = None) -> None:
        """As the base class, then number the evaluation splits' blocks (their masks key on
        the number; a streamed train split has no length to number)."""
        if self.datasets:
            return
        super().setup(stage)
        for name in ("validation", "test"):
            dataset = self.datasets[name]
            self.datasets[name] = dataset.add_column("block", list(range(len(dataset))))

    def empty_split_message(self, name: str) -> str:
        return (
            f"the {self.split_name(name)} split has no tokens to mask in column "
            f"'{self.text_column}'"
        )

    def module_kwargs(self) -> dict[str, Any]:
        """How to mask: the module draws the masks (the package doc says why)."""
        return {
            "mlm_probability": self.mlm_probability,
            "mask_token_id": int(self.tokenizer.mask_token_id),  # type: ignore[arg-type]
            "vocab_size": len(self.tokenizer),
            "seed": self.seed,
        }

    def collate_fn(self) -> Callable[[list[dict[str, Any]]], Any]:
        pad_id = self.tokenizer.pad_token_id or 0
        padding = self.padding(self.block_size)  # blocks are at most block_size tokens
        return lambda rows: collate_blocks(rows, pad_id, padding)


def _numbered_words(
    word_ids: Sequence[int | None], sequence_ids: Sequence[int | None], start: int
) -> list[int]:
    """Number each token's word from `start` upwards (-1 for special tokens), so a number
    names one word in the whole stream even across rows and the two texts of a pair."""
    numbers: list[int] = []
    last: tuple[int | None, int | None] | None = None
    current = start - 1
    for word, sequence in zip(word_ids, sequence_ids, strict=True):
        if word is None:
            numbers.append(-1)
            last = None
            continue
        if (sequence, word) != last:
            current += 1
            last = (sequence, word)
        numbers.append(current)
    return numbers


def collate_blocks(
    rows: list[dict[str, Any]], pad_id: int, padding: Padding | None = None
) -> dict[str, torch.Tensor]:
    """Pad blocks to the longest in the batch (or `padding.width` of it); `attention_mask`
    marks the real tokens, and padding is a special token (never picked to be masked)."""
    longest = (padding or Padding()).width(max(len(row["input_ids"]) for row in rows))
    batch: dict[str, torch.Tensor] = {}
    lengths = [len(row["input_ids"]) for row in rows]
    batch["input_ids"] = _padded([row["input_ids"] for row in rows], longest, pad_id)
    batch["attention_mask"] = _padded([[1] * n for n in lengths], longest, _PAD["attention_mask"])
    for key in ("special_tokens_mask", "word_ids"):
        if key in rows[0]:
            batch[key] = _padded([row[key] for row in rows], longest, _PAD[key])
    if "block" in rows[0]:
        batch["block"] = torch.tensor([row["block"] for row in rows])
    return batch


def _padded(rows: list[list[int]], length: int, value: int) -> torch.Tensor:
    return torch.tensor([list(row) + [value] * (length - len(row)) for row in rows])
