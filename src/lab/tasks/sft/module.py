"""`SFTModule`: instruction / chat supervised fine-tuning of a causal LM.

Training batches hold `input_ids`, `attention_mask`, `labels` (-100 wherever no loss is taken:
prompt turns, unless `task.module.train_on_prompt`, and padding); packed rows carry
`position_ids` restarting per example instead of the mask (`lab.tasks.sft.packing`). The loss
is the Hugging Face head's own: next-token cross entropy over the labels that are not -100,
i.e. the completion (assistant) tokens. Under DDP each rank's loss is rescaled so that the averaged
gradient is that of the mean over every rank's target tokens: one process with the whole batch
trains the same model (tested); with gradient accumulation the step's gradient is that of the
mean over all its micro-batches' target tokens (`lab.tasks.sft.token_mean`, tested).

Evaluation batches carry three more entries, which the module takes out before the forward
pass: `prompt_input_ids` / `prompt_attention_mask` (left-padded: every message before the final
assistant turn, with the template's generation prompt) and `references` (the final assistant
turn's text); optionally `row_id` (each row's index in the split). The module then

- adds each batch's mean completion-token loss to the split's mean *weighted by the batch's
  target tokens* (summed over batches and DDP ranks): `val/loss` is the split's mean token loss
  and `val/perplexity` its exponential, not a mean of batch means;
- generates greedily from the prompts (`max_new_tokens`; stopping at the tokenizer's EOS or the
  model's generation-config EOS ids, which covers end-of-turn tokens such as `<|im_end|>`) for
  the first `max_generation_rows` rows of the split (null: every row; with `row_id`, exactly
  rows 0..N-1 whatever the rank or batch order, else the first N each rank meets, shared out
  across ranks) and scores them where the reference is non-empty: `val/exact_match` (the
  stripped texts equal, 0-1) and `val/rouge_l` (ROUGE-L F-measure x 100, lab's ROUGE
  convention, `lab.tasks.generation_metrics.RougeScore`). Both are sums reduced across ranks.
  Without any non-empty reference the two keys are left out;
- at each validation logs the first `num_report_samples` generations (the lowest row ids of
  rank 0) to the log (one line each: console and train.log) and, as a table, to loggers that
  take text (W&B); the test split's
  generations (all ranks', in row order) go to `test_report.json`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torchmetrics import Metric

from lab.errors import ConfigError
from lab.tasks.base import OptimizerFactory, SchedulerFactory, TaskModule
from lab.tasks.generation_metrics import RougeScore
from lab.tasks.ignore import IGNORE
from lab.tasks.rank_items import gather_items
from lab.tasks.sft.predictor import greedy_config
from lab.tasks.sft.token_mean import TokenMeanAccumulation, accumulates_tokens

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

log = logging.getLogger(__name__)

PROMPT_IDS = "prompt_input_ids"
PROMPT_MASK = "prompt_attention_mask"
REFERENCES = "references"
ROW_ID = "row_id"
# Entries of an evaluation batch that are not model inputs.
EVAL_ONLY = (PROMPT_IDS, PROMPT_MASK, REFERENCES, ROW_ID)
STAGES = ("val", "test")


class ExactMatch(Metric):
    """Share of (prediction, reference) pairs whose texts are equal after stripping
    surrounding whitespace. States are sums, so DDP ranks reduce exactly."""

    full_state_update = False
    matches: torch.Tensor
    count: torch.Tensor

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_state("matches", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, predictions: Sequence[str], references: Sequence[str]) -> None:  # type: ignore[override]
        pairs = list(zip(predictions, references, strict=True))
        self.matches += sum(p.strip() == r.strip() for p, r in pairs)
        self.count += len(pairs)

    def compute(self) -> dict[str, torch.Tensor]:
        """`exact_match` (0 without pairs) and `count`, the pairs scored (all ranks')."""
        return {
            "exact_match": (self.matches / self.count.clamp(min=1)).float(),
            "count": self.count,
        }


class SFTModule(TaskModule):
    """Completion-token cross entropy; greedy generations scored against the references.

    Metric keys (and `test/...`): `val/loss`, `val/perplexity`, and where references exist
    `val/exact_match` (0-1) and `val/rouge_l` (0-100).

    Args:
        tokenizer: decodes prompts and generations (given by the data module).
        train_on_prompt: whether prompt tokens are targets too. The data module builds the
            labels from it (the key is read there as `${task.module.train_on_prompt}`); the
            module keeps it so a checkpoint says how it was trained.
        max_new_tokens: the generation budget per evaluation row.
        max_generation_rows: generate for the first N rows of each evaluation split (null:
            every row). Loss and perplexity always cover every row.
        num_report_samples: generations shown at each validation (log, W&B).
    """

    progress_bar_metrics = ("perplexity", "exact_match")
    # The gradient weighs ranks by their target tokens already (`_mean_over_ranks`,
    # `lab.tasks.sft.token_mean`): no row weight on top (`lab.training.rank_weights`).
    ranks_weighed_by_rows = False

    def __init__(
        self,
        model: PreTrainedModel,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        *,
        tokenizer: PreTrainedTokenizerBase | None = None,
        train_on_prompt: bool = False,
        max_new_tokens: int = 128,
        max_generation_rows: int | None = None,
        num_report_samples: int = 3,
    ) -> None:
        super().__init__(model, optimizer, scheduler)
        if max_new_tokens < 1:
            raise ConfigError(f"task.module.max_new_tokens={max_new_tokens}: must be at least 1")
        if max_generation_rows is not None and max_generation_rows < 0:
            raise ConfigError(
                f"task.module.max_generation_rows={max_generation_rows}: use null (every row) "
                "or a count >= 0"
            )
        self.tokenizer = tokenizer
        self.train_on_prompt = train_on_prompt
        self.max_new_tokens = max_new_tokens
        self.max_generation_rows = max_generation_rows
        self.num_report_samples = num_report_samples
        self.exact_match = torch.nn.ModuleDict({s: ExactMatch() for s in STAGES})
        self.rouge = torch.nn.ModuleDict({s: RougeScore() for s in STAGES})
        # This rank's generations of the running evaluation, and of the last finished one.
        self._generations: dict[str, list[dict[str, Any]]] = {s: [] for s in STAGES}
        self.generations: dict[str, list[dict[str, Any]]] = {}
        self._token_mean = TokenMeanAccumulation()

    # ------------------------------------------------------------------ training
    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        inputs = model_inputs(batch)
        output = self.model(**inputs)
        self.log_train_loss(output.loss, int(inputs["input_ids"].shape[0]))
        if accumulates_tokens(self._trainer):  # the step's token mean (`lab.tasks.sft.token_mean`)
            tokens = (inputs["labels"][:, 1:] != IGNORE).sum()
            return self._token_mean.loss(output.loss, tokens)
        return self._mean_over_ranks(output, inputs["labels"])

    def on_before_optimizer_step(self, optimizer: Any) -> None:
        """With gradient accumulation, the step's gradient divided by its target tokens (all
        micro-batches' and ranks'), before clipping and the step."""
        if accumulates_tokens(self._trainer):
            self._token_mean.rescale(self.trainer, optimizer)

    def _mean_over_ranks(self, output: Any, labels: torch.Tensor) -> torch.Tensor:
        """The loss whose DDP gradient mean is the gradient of the mean over *all* ranks'
        target tokens, as one process with the whole batch computes it.

        Each rank's loss is a mean over its own target tokens, and DDP averages the ranks'
        gradients with equal weights; ranks whose rows hold different numbers of completion
        tokens would otherwise weigh each token differently (transformers' Trainer and TRL
        do the same: `average_tokens_across_devices`). Costs one scalar all-reduce per step.
        With gradient accumulation (not under FSDP / DeepSpeed) `lab.tasks.sft.token_mean`
        weighs every token of the step instead.
        """
        tokens = (labels[:, 1:] != IGNORE).sum()
        # A batch with no target token has a nan mean: train on 0 instead, in the graph (DDP
        # wants every parameter's gradient), whose gradients are zeros (the loss gives ignored
        # positions none). `torch.where`, not `if not tokens`: a branch on a device value
        # waits for the GPU at every step.
        loss = torch.where(tokens > 0, output.loss, torch.zeros_like(output.loss))
        world = int(self.trainer.world_size) if self._attached() else 1
        if world == 1:
            return loss
        total = self.trainer.strategy.reduce(tokens.detach().clone().float(), reduce_op="sum")
        return loss * tokens.float() * world / total.clamp(min=1)

    # ---------------------------------------------------------------- evaluation
    def before_export(self, tokenizer: Any) -> None:
        """The exported generation config answers as evaluation did: greedy, the run's
        `max_new_tokens`, stopping where the chat template ends a turn."""
        from lab.tasks.sft.predictor import save_chat_generation_settings

        save_chat_generation_settings(self.model, tokenizer, self.max_new_tokens)

    def evaluation_step(self, batch: dict[str, Any], stage: str) -> None:  # type: ignore[override]
        inputs = model_inputs(batch)
        targets = int((inputs["labels"][:, 1:] != IGNORE).sum())
        if targets:  # a batch without targets has a 0/0 (nan) loss and no weight
            # No KV cache: nothing generates from this forward pass.
            output = self.model(**{"use_cache": False, **inputs})
            metric: Any = self.eval_loss[stage]
            # Weighted by target tokens: the split's mean token loss, not a mean of batch means.
            metric.update(output.loss.detach().float(), weight=targets)
        if PROMPT_IDS in batch and not self._sanity_checking():
            self._generate_and_score(batch, stage)

    def _generate_and_score(self, batch: dict[str, Any], stage: str) -> None:
        chosen = self._rows_to_generate(batch, stage)
        if not chosen:
            return
        index = torch.tensor(chosen, device=batch[PROMPT_IDS].device)
        prompt_ids = batch[PROMPT_IDS].index_select(0, index)
        prompt_mask = batch[PROMPT_MASK].index_select(0, index)
        completions = self.generate(prompt_ids, prompt_mask)
        references = [str(batch[REFERENCES][i]) for i in chosen]
        rows = batch.get(ROW_ID)
        for k, i in enumerate(chosen):
            self._generations[stage].append(
                {
                    "row": int(rows[i]) if rows is not None else None,
                    "prompt": self._decode_prompt(prompt_ids[k], prompt_mask[k]),
                    "reference": references[k],
                    "generation": completions[k],
                    "exact_match": completions[k] == references[k].strip()
                    if references[k].strip()
                    else None,
                }
            )
        scored = [(c, r) for c, r in zip(completions, references, strict=True) if r.strip()]
        if scored:
            predictions, targets = [c for c, _ in scored], [r for _, r in scored]
            exact: Any = self.exact_match[stage]
            exact.update(predictions, targets)
            rouge: Any = self.rouge[stage]
            rouge.update(predictions, targets)

    def _rows_to_generate(self, batch: dict[str, Any], stage: str) -> list[int]:
        """Positions in `batch` of the rows to generate for (see `max_generation_rows`)."""
        size = int(batch[PROMPT_IDS].shape[0])
        limit = self.max_generation_rows
        if limit is None:
            return list(range(size))
        rows = batch.get(ROW_ID)
        if rows is not None:
            return [i for i, row in enumerate(rows.tolist()) if row < limit]
        # No row ids: the first rows this rank meets, its share of the limit.
        world = int(getattr(self.trainer, "world_size", 1) or 1) if self._attached() else 1
        room = -(-limit // world) - len(self._generations[stage])
        return list(range(max(0, min(size, room))))

    @torch.no_grad()
    def generate(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> list[str]:
        """Greedy completions (new tokens only, special tokens dropped, stripped) of
        left-padded prompts."""
        if self.tokenizer is None:
            raise ConfigError("the sft module needs the tokenizer (to decode generations)")
        output = self.model.generate(  # type: ignore[operator]
            input_ids=input_ids,
            attention_mask=attention_mask,
            generation_config=greedy_config(self.model, self.tokenizer, self.max_new_tokens),
        )
        new_tokens = output[:, input_ids.shape[1] :]  # a decoder repeats its prompt
        texts = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        return [str(t).strip() for t in texts]

    def _decode_prompt(self, ids: torch.Tensor, mask: torch.Tensor) -> str:
        # The templated prompt as the model saw it (special tokens kept), padding left out.
        assert self.tokenizer is not None
        return str(self.tokenizer.decode(ids[mask.bool()], skip_special_tokens=False))

    def evaluation_metrics(self, stage: str) -> dict[str, torch.Tensor]:
        loss_metric: Any = self.eval_loss[stage]
        loss = loss_metric.compute()
        loss_metric.reset()
        metrics = {f"{stage}/loss": loss, f"{stage}/perplexity": torch.exp(loss)}
        exact: Any = self.exact_match[stage]
        rouge: Any = self.rouge[stage]
        # An empty update counts as one: a rank (or a sanity check) that generated nothing
        # still syncs without torchmetrics' "compute before update" warning.
        exact.update([], [])
        rouge.update([], [])
        # Computed from every rank's sums, so every rank takes the same branch below.
        exact_values = exact.compute()
        if float(exact_values["count"]) > 0:
            metrics[f"{stage}/exact_match"] = exact_values["exact_match"]
            metrics[f"{stage}/rouge_l"] = rouge.compute()["rougeL"]
        exact.reset()
        rouge.reset()
        self.generations[stage], self._generations[stage] = self._generations[stage], []
        if stage == "val":
            self._log_samples()
        return metrics

    def _log_samples(self) -> None:
        samples = _in_row_order(self.generations.get("val", []))[: self.num_report_samples]
        if not samples or not self._attached() or self.trainer.sanity_checking:
            return
        if not self.trainer.is_global_zero:
            return
        step = self.global_step
        for sample in samples:
            log.info(
                "Generation at step %d (row %s): %r -> %r (reference %r)",
                step,
                sample["row"],
                _tail(sample["prompt"]),
                sample["generation"],
                sample["reference"],
            )
        for logger in self.loggers:
            if hasattr(logger, "log_text"):  # W&B: one table row per sample
                logger.log_text(
                    key="val/generations",
                    columns=["step", "prompt", "reference", "generation"],
                    data=[[step, s["prompt"], s["reference"], s["generation"]] for s in samples],
                    step=step,
                )

    def evaluation_report(self, stage: str) -> dict[str, Any]:
        """Every generation of the stage (all ranks', in row order): prompt (templated),
        reference and generation."""
        generations = gather_items(self.generations.get(stage, []))
        return {"generations": _in_row_order(generations)}

    # ------------------------------------------------------------------ helpers
    def _attached(self) -> bool:
        return self._trainer is not None

    def _sanity_checking(self) -> bool:
        return self._attached() and bool(self.trainer.sanity_checking)


def model_inputs(batch: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The batch without its evaluation-only entries (prompts, references, row ids)."""
    return {k: v for k, v in batch.items() if k not in EVAL_ONLY}


def _tail(prompt: str, width: int = 60) -> str:
    """The end of a templated prompt for a one-line log: markup tokens (`<|...|>`) and runs
    of whitespace made single spaces, the last `width` characters kept."""
    text = " ".join(re.sub(r"<\|[^|]*\|>", " ", prompt).split())
    return text if len(text) <= width else "..." + text[-width:]


def _in_row_order(generations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if all(g.get("row") is not None for g in generations):
        return sorted(generations, key=lambda g: int(g["row"]))
    return list(generations)
