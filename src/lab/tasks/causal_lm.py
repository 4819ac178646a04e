"""Causal language modelling (GPT-style): concatenate, chunk into blocks, perplexity.

Rows of text are tokenized, joined with the end-of-text token between documents, and cut
into blocks of `data.block_size` tokens (the last partial block of each tokenization batch
is dropped, as in Hugging Face's `run_clm`); every token of a block is a target. Metrics are
the mean token loss and its exponential, perplexity, over the whole split. At the end of each
validation the model continues `task.module.sample_prompt` greedily; the sample goes to the
log and to the loggers that take text (W&B), and the last one to `test_report.json`.
`GenerationPredictor` continues prompts for `lab.predict` / `lab.serve`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch

from lab.data.datamodule import DataModule
from lab.errors import ConfigError, DataError
from lab.inference.predictors import Generator, model_positions, room_problem
from lab.tasks.base import OptimizerFactory, SchedulerFactory, TaskModule

if TYPE_CHECKING:
    from collections.abc import Sequence

    from datasets import Dataset
    from omegaconf import DictConfig
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

log = logging.getLogger(__name__)


def chunk_into_blocks(
    token_lists: list[list[int]], block_size: int, separator: int | None
) -> list[list[int]]:
    """Join the documents (with `separator` after each) and cut full blocks of `block_size`."""
    stream: list[int] = []
    for tokens in token_lists:
        stream.extend(tokens)
        if separator is not None and tokens:
            stream.append(separator)
    usable = len(stream) - len(stream) % block_size
    return [stream[i : i + block_size] for i in range(0, usable, block_size)]


class CausalLMDataModule(DataModule):
    """Tokenizes `text_column` and packs it into blocks of `block_size` tokens.

    Args:
        text_column: the text column (`text` for `.txt` files, one row per line).
        block_size: tokens per training example.
        **kwargs: see `lab.data.datamodule.DataModule`.
    """

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        *,
        text_column: str = "text",
        block_size: int = 128,
        **kwargs: Any,
    ) -> None:
        super().__init__(tokenizer, **kwargs)
        if block_size < 2:
            raise ConfigError(f"data.block_size={block_size}: a block needs at least 2 tokens")
        self.text_column = text_column
        self.block_size = block_size
        if tokenizer.pad_token is None:  # GPT-2 has none; blocks are full, so it is never used
            tokenizer.pad_token = tokenizer.eos_token

    def check_split(self, name: str, dataset: Dataset) -> None:
        self.require_columns(name, dataset, {"data.text_column": self.text_column})
        if not any(text and text.strip() for text in dataset[self.text_column]):
            source = self.source_of(name)
            raise DataError(
                f"the {self.split_name(name)} split{f' ({source})' if source else ''} has no "
                "text in column "
                f"'{self.text_column}'"
            )

    def fingerprint_parts(self) -> tuple[Any, ...]:
        return (self.text_column, self.block_size)

    def tokenize(self, batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        texts = [t for t in batch[self.text_column] if t and t.strip()]  # wikitext's blank lines
        ids = self.tokenizer(texts, add_special_tokens=False)["input_ids"]
        blocks = chunk_into_blocks(ids, self.block_size, self.tokenizer.eos_token_id)
        return {
            "input_ids": blocks,
            "attention_mask": [[1] * self.block_size for _ in blocks],
            "labels": [list(b) for b in blocks],  # the model shifts them by one itself
        }

    def empty_split_message(self, name: str) -> str:
        return (
            f"the {self.split_name(name)} split has fewer than "
            f"data.block_size={self.block_size} tokens; "
            "lower data.block_size or add text"
        )

    def module_kwargs(self) -> dict[str, Any]:
        """The tokenizer, for the validation samples."""
        return {"tokenizer": self.tokenizer}

    def collate_fn(self) -> Callable[[list[dict[str, Any]]], Any]:
        from transformers import default_data_collator

        return default_data_collator


class CausalLMModule(TaskModule):
    """Next-token cross-entropy. Metric keys: `val/loss`, `val/perplexity` (optimized, min)."""

    progress_bar_metrics = ("perplexity",)

    def __init__(
        self,
        model: PreTrainedModel,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        tokenizer: PreTrainedTokenizerBase | None = None,
        sample_prompt: str | None = "The",
        sample_max_new_tokens: int = 32,
    ) -> None:
        super().__init__(model, optimizer, scheduler)
        self.tokenizer = tokenizer
        self.sample_prompt = sample_prompt
        self.sample_max_new_tokens = sample_max_new_tokens
        self.samples: list[str] = []

    def before_export(self, tokenizer: Any) -> None:
        """The export generates as the samples and lab.predict do: greedy, the run's number of
        new tokens (`lab.tasks.generation_settings`)."""
        from lab.tasks.generation_settings import save_generation_settings

        save_generation_settings(self.model, 1, self.sample_max_new_tokens)

    def loss_weight_sum(self, batch: dict[str, torch.Tensor]) -> torch.Tensor | None:
        """The batch's target tokens under DDP (the loss is their mean; see `TaskModule`)."""
        from lab.training.rank_weights import token_count

        return token_count(self._trainer, batch["labels"], shifted=True)

    def evaluation_step(self, batch: dict[str, torch.Tensor], stage: str) -> None:
        from lab.training.rank_weights import target_tokens

        output = self.model(**batch)
        targets = int(target_tokens(batch["labels"], shifted=True))
        # The base class's loss mean, weighted by target tokens instead of rows: the split's
        # mean token loss, not a mean of batch means.
        metric: Any = self.eval_loss[stage]
        metric.update(output.loss.detach(), weight=targets)

    def evaluation_metrics(self, stage: str) -> dict[str, torch.Tensor]:
        metric: Any = self.eval_loss[stage]
        loss = metric.compute()
        metric.reset()
        if stage == "val":
            self._log_sample()
        return {f"{stage}/loss": loss, f"{stage}/perplexity": torch.exp(loss)}

    def _log_sample(self) -> None:
        if not self.sample_prompt or self.tokenizer is None or self.trainer.sanity_checking:
            return
        text = generate_sample(
            self.model, self.tokenizer, self.sample_prompt, self.sample_max_new_tokens
        )
        self.samples.append(text)
        log.info("Sample at step %d: %s", self.global_step, text)
        for logger in self.loggers:
            if hasattr(logger, "log_text"):  # W&B
                logger.log_text(
                    key="val/sample",
                    columns=["step", "text"],
                    data=[[self.global_step, text]],
                    step=self.global_step,
                )

    def evaluation_report(self, stage: str) -> dict[str, Any]:
        """The last validation sample."""
        return {"prompt": self.sample_prompt, "sample": self.samples[-1]} if self.samples else {}


def generate_sample(model: Any, tokenizer: Any, prompt: str, max_new_tokens: int) -> str:
    """Greedy continuation of `prompt` (deterministic, so samples compare across runs)."""
    inputs = tokenizer(prompt, return_tensors="pt").to(model.device)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        output = model.generate(
            **inputs,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
        )
    model.train(was_training)
    return str(tokenizer.decode(output[0], skip_special_tokens=True))


def perplexity(mean_token_loss: float) -> float:
    """exp(mean token loss); inf when it overflows."""
    try:
        return math.exp(mean_token_loss)
    except OverflowError:
        return math.inf


class GenerationPredictor(Generator):
    """Greedy (or beam) continuation of a prompt by a causal LM: `generated_text`.

    `task.module.sample_max_new_tokens` new tokens, as in the validation samples. A prompt
    with no room for them in the model's positions (GPT-2: `n_positions`) is refused by `check`,
    and so is one longer than the tokens `generate` reads of a prompt (the tokenizer's
    `model_max_length`, where it is below the positions or they are not known): cut on the
    right, its continuation would follow a middle of the prompt, not its end, yet be written
    after the whole prompt, so it is refused in words rather than cut without one (s26b H2).
    """

    settings = ("sample_max_new_tokens", "num_beams")

    def __init__(self, model: Any, tokenizer: Any, cfg: DictConfig) -> None:
        super().__init__(model, tokenizer, cfg)
        module = cfg.task.module
        self.max_new_tokens = int(module.get("sample_max_new_tokens") or 32)
        self.num_beams = int(module.get("num_beams") or 1)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "left"  # generation continues at the right edge

    def check(self, row: dict[str, Any]) -> str | None:
        """Why `row` cannot be continued: a missing or empty `text`, or a prompt whose tokens
        plus the new tokens are over the model's context (`room_problem`, the chat API's rule
        and words)."""
        problem = super().check(row)
        if problem:
            return problem
        # Measured whole (generation cuts at the tokenizer's model_max_length, which may be
        # more than the positions): past GPT-2's position table the forward pass fails with
        # an IndexError, so the row is refused in words before it gets there.
        ids = self.tokenizer(row[self.fields[0]], verbose=False)["input_ids"]
        problem = room_problem(
            model_positions(self.model),
            len(ids),
            self.max_new_tokens,
            shorten="the prompt",
            option="max_new_tokens",
        )
        if problem is None and len(ids) > self.max_length:
            return (
                f"the prompt has {len(ids)} tokens, over the {self.max_length} tokens lab reads "
                "of a prompt (the tokenizer's model_max_length); shorten the prompt"
            )
        return problem

    def predict(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """The prompt followed by its continuation, per row."""
        prompts = [row["text"] for row in rows]
        inputs, output = self.generate(prompts)
        new_tokens = output[:, inputs["input_ids"].shape[1] :]  # a decoder repeats its prompt
        texts = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        return [
            {"generated_text": prompt + text} for prompt, text in zip(prompts, texts, strict=True)
        ]
