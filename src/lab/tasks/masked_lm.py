"""Masked language modelling (BERT-style): domain adaptation of an encoder on any text data.

    python -m lab.train task=masked_lm data=imdb model=roberta          # then:
    python -m lab.train data=imdb model=roberta model.pretrained=<run dir>/model

**Any text data.** A data config picks its own head's data module (`data=imdb` a
classification one, `data=wikitext2` a causal-LM one). Masked-LM training needs only the text
of those rows, so the task YAML declares `task.data_module._target_`, which
`lab.build.build_datamodule` puts in place of the data config's: the data keys stay as they
are (path, Hub id, splits, subsampling, batch sizes, text columns) and `MaskedLMDataModule`
takes what it uses and ignores the head-specific rest (labels, tags). The task YAML also
includes `conf/data/base/masked_lm.yaml` into `data`, which adds `data.mlm_probability` and
`data.whole_word_mask` to whichever data config is chosen: no `+data...` is needed, and struct
mode still refuses a misspelt key. One data config per dataset, every head.

**Rows to blocks.** Each row (`text_column`, with `text_pair_column` as its pair when set) is
tokenized with its special tokens; rows are joined and cut into blocks of `data.block_size`
tokens (or `data.max_length` for datasets that have no block size), as Hugging Face's
`run_mlm` does; the tail of each tokenization batch is kept as a shorter block.

**Masking** (`mask_tokens`, BERT's recipe, the same as `DataCollatorForLanguageModeling`): each
non-special token is a target with probability `data.mlm_probability`; a target is replaced by
the mask token 80% of the time, by a random token 10%, and kept 10%. With
`data.whole_word_mask=true` words (the fast tokenizer's `word_ids`, so any tokenizer family)
are picked instead, all their pieces together. Training masks are drawn anew for every batch
(dynamic masking) from a generator seeded with (seed, rank, batches drawn so far), the count
kept in checkpoints: two runs with one seed see the same masks, and a resumed run continues
the sequence. Validation and test masks are drawn per block from (seed, block index), so
`val/loss` compares across epochs, batch sizes and ranks. Masking happens in the module (on
the batch) rather than in the collate function, where worker processes would each hold a copy
of the generator and a resume could not restore it.

Metrics: `loss` (mean cross-entropy over the split's target tokens), `perplexity` (its
exponential, optimized) and `accuracy` (top-1 on targets). `FillMaskPredictor` serves the
exported model for `lab.predict` / `lab.serve`.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torchmetrics import MeanMetric

from lab.data.datamodule import DataModule
from lab.errors import ConfigError, DataError
from lab.inference.predictors import Predictor
from lab.tasks.base import OptimizerFactory, SchedulerFactory, TaskModule

if TYPE_CHECKING:
    from datasets import Dataset
    from omegaconf import DictConfig
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

log = logging.getLogger(__name__)

IGNORE = -100  # the label of a token that is not a target
MASK_SHARE, RANDOM_SHARE = 0.8, 0.1  # of targets: mask token, random token; the rest kept
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
                f"the {name} split{self._from(name)} has no text in column '{self.text_column}'"
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
        return f"the {name} split has no tokens to mask in column '{self.text_column}'"

    def module_kwargs(self) -> dict[str, Any]:
        """How to mask: the module draws the masks (see the module doc for why)."""
        return {
            "mlm_probability": self.mlm_probability,
            "mask_token_id": int(self.tokenizer.mask_token_id),  # type: ignore[arg-type]
            "vocab_size": len(self.tokenizer),
            "seed": self.seed,
        }

    def collate_fn(self) -> Callable[[list[dict[str, Any]]], Any]:
        pad_id = self.tokenizer.pad_token_id or 0
        return lambda rows: collate_blocks(rows, pad_id)


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


def collate_blocks(rows: list[dict[str, Any]], pad_id: int) -> dict[str, torch.Tensor]:
    """Pad blocks to the longest in the batch; `attention_mask` marks the real tokens."""
    longest = max(len(row["input_ids"]) for row in rows)
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


def mask_tokens(
    input_ids: torch.Tensor,
    special_tokens_mask: torch.Tensor,
    probability: float,
    mask_token_id: int,
    draws: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    word_ids: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's masking of a batch: (masked inputs, labels with -100 where not a target).

    `draws` (from `draw`) holds the randomness: uniforms that pick targets, uniforms that
    choose mask token / random token / keep, and the random tokens. With `word_ids` (each
    token's word number, -1 for special tokens) words are picked, all their pieces together;
    the 80/10/10 choice is still made per token, as `DataCollatorForWholeWordMask` does.
    """
    pick, how, random_ids = (d.to(input_ids.device) for d in draws)
    if word_ids is not None:
        # Each token takes the draw of its word's first token (a word's pieces are adjacent).
        previous = torch.nn.functional.pad(word_ids[:, :-1], (1, 0), value=-2)
        positions = torch.arange(word_ids.shape[1], device=word_ids.device).expand_as(word_ids)
        first = torch.cummax(torch.where(word_ids != previous, positions, 0), dim=1).values
        pick = pick.gather(1, first)
    targets = (special_tokens_mask == 0) & (pick < probability)
    labels = torch.where(targets, input_ids, IGNORE)
    masked = input_ids.clone()
    masked[targets & (how < MASK_SHARE)] = mask_token_id
    swap = targets & (how >= MASK_SHARE) & (how < MASK_SHARE + RANDOM_SHARE)
    masked[swap] = random_ids[swap]
    return masked, labels


def draw(
    generators: Sequence[torch.Generator], lengths: Sequence[int], vocab_size: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The randomness of `mask_tokens` for rows of `lengths` tokens (padded to the longest).

    One generator draws for the whole batch; one per row draws each row at its own length,
    so a row's masks do not depend on the rows batched with it.
    """
    longest = max(lengths)
    if len(generators) == 1:
        return _uniform_draws(generators[0], len(lengths), longest, vocab_size)
    parts = [_uniform_draws(g, 1, n, vocab_size) for g, n in zip(generators, lengths, strict=True)]
    return tuple(  # type: ignore[return-value]
        torch.cat([torch.nn.functional.pad(p[i], (0, longest - p[i].shape[1])) for p in parts])
        for i in range(3)
    )


def _uniform_draws(
    generator: torch.Generator, rows: int, length: int, vocab_size: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    pick = torch.rand((rows, length), generator=generator)
    how = torch.rand((rows, length), generator=generator)
    random_ids = torch.randint(vocab_size, (rows, length), generator=generator)
    return pick, how, random_ids


def seeded_generator(*key: int) -> torch.Generator:
    """A CPU generator seeded from a tuple of integers (numpy's `SeedSequence` mixes them, so
    nearby keys give unrelated streams)."""
    state = np.random.SeedSequence([int(k) for k in key]).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(state) & (2**63 - 1))


class MaskedLMModule(TaskModule):
    """Masks each batch, then the head's cross-entropy on the targets.

    Metric keys: `val/loss`, `val/perplexity` (optimized, min), `val/accuracy`.

    Args:
        mlm_probability / mask_token_id / vocab_size / seed: how to mask (from the data).
    """

    progress_bar_metrics = ("perplexity",)

    def __init__(
        self,
        model: PreTrainedModel,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        *,
        mlm_probability: float = 0.15,
        mask_token_id: int = 0,
        vocab_size: int = 1,
        seed: int = 0,
    ) -> None:
        super().__init__(model, optimizer, scheduler)
        self.mlm_probability = mlm_probability
        self.mask_token_id = mask_token_id
        self.vocab_size = vocab_size
        self.seed = seed
        self.batches_masked = 0  # training batches drawn so far (kept in checkpoints)
        self.eval_accuracy = torch.nn.ModuleDict({"val": MeanMetric(), "test": MeanMetric()})

    def masked(self, batch: dict[str, torch.Tensor], training: bool) -> dict[str, torch.Tensor]:
        """The model's inputs: `batch` masked, with labels, without the masking columns."""
        batch = dict(batch)
        special = batch.pop("special_tokens_mask")
        word_ids = batch.pop("word_ids", None)
        blocks = batch.pop("block", None)
        if training:
            key = (self.seed, 0, self.global_rank, self.batches_masked)
            generators = [seeded_generator(*key)]
            self.batches_masked += 1
        else:
            assert blocks is not None, "evaluation batches carry their block numbers"
            generators = [seeded_generator(self.seed, 1, block) for block in blocks.tolist()]
        lengths = batch["attention_mask"].sum(dim=1).tolist()
        special = special | (batch["attention_mask"] == 0)  # padding is never a target
        batch["input_ids"], batch["labels"] = mask_tokens(
            batch["input_ids"],
            special,
            self.mlm_probability,
            self.mask_token_id,
            draw(generators, lengths, self.vocab_size),
            word_ids,
        )
        return batch

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        inputs = self.masked(batch, training=True)
        output = self.model(**inputs)
        # A batch without a target (a few short blocks) has a NaN mean loss: train on nothing.
        loss = output.loss if bool((inputs["labels"] != IGNORE).any()) else output.logits.sum() * 0
        self.log("train/loss", loss, prog_bar=True, batch_size=int(inputs["input_ids"].shape[0]))
        return loss

    def evaluation_step(self, batch: dict[str, torch.Tensor], stage: str) -> None:
        inputs = self.masked(batch, training=False)
        output = self.model(**inputs)
        targets = inputs["labels"] != IGNORE
        count = int(targets.sum())
        if count == 0:
            return
        # Weighted by target tokens: the split's mean token loss, not a mean of batch means.
        loss: Any = self.eval_loss[stage]
        loss.update(output.loss.detach(), weight=count)
        hits = (output.logits.argmax(dim=-1) == inputs["labels"])[targets].float()
        accuracy: Any = self.eval_accuracy[stage]
        accuracy.update(hits.mean(), weight=count)

    def evaluation_metrics(self, stage: str) -> dict[str, torch.Tensor]:
        loss_metric: Any = self.eval_loss[stage]
        accuracy_metric: Any = self.eval_accuracy[stage]
        loss, accuracy = loss_metric.compute(), accuracy_metric.compute()
        loss_metric.reset()
        accuracy_metric.reset()
        return {
            f"{stage}/loss": loss,
            f"{stage}/perplexity": torch.exp(loss),
            f"{stage}/accuracy": accuracy,
        }

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["masked_lm_batches_masked"] = self.batches_masked

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.batches_masked = int(checkpoint.get("masked_lm_batches_masked", 0))


class FillMaskPredictor(Predictor):
    """The likeliest tokens at each mask token of `text`: `filled_text` (each mask replaced
    by its first guess) and `predictions` (per mask, the `top_k` tokens and probabilities)."""

    outputs = ("filled_text", "predictions")

    def __init__(self, model: Any, tokenizer: Any, cfg: DictConfig, top_k: int = 5) -> None:
        super().__init__(model, tokenizer, cfg)
        self.top_k = top_k

    def check(self, row: dict[str, Any]) -> str | None:
        """The text must hold the tokenizer's mask token."""
        problem = super().check(row)
        if problem is None and self.tokenizer.mask_token not in row["text"]:
            return f"field 'text' has no mask token {self.tokenizer.mask_token}"
        return problem

    def predict(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """One result per row (see the class doc)."""
        inputs = self.tokenizer(
            [row["text"] for row in rows],
            return_tensors="pt",
            padding=True,
            truncation=True,
            max_length=self.max_length,
        ).to(self.device)
        with torch.no_grad():
            probabilities = self.model(**inputs).logits.softmax(dim=-1)
        results = []
        for ids, probs in zip(inputs["input_ids"], probabilities, strict=True):
            guesses = []
            filled = ids.clone()
            for position in (ids == self.tokenizer.mask_token_id).nonzero().flatten().tolist():
                top = probs[position].topk(self.top_k)
                tokens = self.tokenizer.convert_ids_to_tokens(top.indices.tolist())
                guesses.append(
                    [
                        {"token": token, "score": round(float(score), 6)}
                        for token, score in zip(tokens, top.values.tolist(), strict=True)
                    ]
                )
                filled[position] = top.indices[0]
            text = self.tokenizer.decode(filled, skip_special_tokens=True)
            results.append({"filled_text": text, "predictions": guesses})
        return results
