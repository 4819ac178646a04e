"""Sequence-to-sequence (encoder-decoder: T5, BART): summarization and translation.

Each row has a source text and a target text, as on the Hub: plain text columns (XSum's
`document` -> `summary`), or one dictionary column keyed by language (WMT's `translation` =
`{"en": ..., "ro": ...}`, read with `data.source_lang` / `data.target_lang`). The source is
prefixed with `data.source_prefix` (T5 was trained with task prefixes such as `summarize: `)
and truncated to `data.max_source_length` tokens; the target to `data.max_target_length`.
Batches pad labels with -100, which the loss ignores.

At validation and test the model also generates (`task.module.num_beams`,
`task.module.max_new_tokens`), and the generated texts are scored against the untruncated
references of the raw data: ROUGE-1/2/L/Lsum for summarization (`task.module.metric=rouge`),
sacreBLEU for translation (`metric=bleu`), see `lab.tasks.generation_metrics`. Metric states
are sums reduced across DDP ranks, and evaluation rows carry their index into the split, so
every rank scores its own rows against the right references.

Every test generation is kept in `test_report.json`, and a validation whose generations are
all empty is said (`lab.tasks.seq2seq_generations`). The data side (reading, checking,
tokenizing, padding) is `lab.tasks.seq2seq_data`. `Seq2SeqPredictor` summarizes or translates
raw rows for `lab.predict` / `lab.serve`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torchmetrics import MeanMetric, Metric

from lab.errors import ConfigError
from lab.inference.cuts import TRUNCATED, cut_note, input_cuts, with_cuts
from lab.inference.predictors import Generator
from lab.tasks.base import OptimizerFactory, SchedulerFactory, TaskModule
from lab.tasks.generation_metrics import CorpusBleu, RougeScore
from lab.tasks.language_pairs import pair_problem
from lab.tasks.seq2seq_data import IGNORE, ROW_ID, Seq2SeqDataModule  # noqa: F401 (below)
from lab.tasks.seq2seq_generations import EmptyGenerations, TestGenerations, empty_warning

# `Seq2SeqDataModule` is re-exported: runs recorded before the data module moved to
# seq2seq_data name it here (`data._target_` in config.yaml), and lab.eval, lab.reproduce and a
# resume build it from that path.

if TYPE_CHECKING:
    from omegaconf import DictConfig
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

log = logging.getLogger(__name__)

METRICS: dict[str, Callable[[], Metric]] = {"rouge": RougeScore, "bleu": CorpusBleu}


class Seq2SeqModule(TaskModule):
    """Cross-entropy on the target tokens; generation scored with ROUGE or BLEU.

    Metric keys (and `test/...`): `val/loss`; with `metric=rouge`, `val/rouge1`, `val/rouge2`,
    `val/rougeL`, `val/rougeLsum` (F-measure x 100); with `metric=bleu`, `val/bleu` (corpus
    sacreBLEU); and `val/gen_len`, the mean number of generated tokens (end of sequence
    included, padding not).

    Args:
        tokenizer: decodes generated ids (given by the data module).
        references: stage -> untruncated reference texts by row index (given by the data
            module); without them, the decoded (truncated) labels are the references.
        metric: `rouge` or `bleu`.
        num_beams / max_new_tokens: generation settings (greedy when `num_beams=1`).
        num_report_samples: (source, reference, prediction) triples kept for the log and
            `test_report.json` (from the first batches of rank 0).
        ids: the test rows' ids (the data's `id` column; given by the data module), named
            with each test generation in `test_report.json`; None: their row numbers only.
    """

    progress_bar_metrics = ("rouge1", "bleu")

    def __init__(
        self,
        model: PreTrainedModel,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        tokenizer: PreTrainedTokenizerBase | None = None,
        references: dict[str, list[str]] | None = None,
        metric: str = "rouge",
        num_beams: int = 1,
        max_new_tokens: int = 64,
        num_report_samples: int = 5,
        ids: Sequence[Any] | None = None,
    ) -> None:
        super().__init__(model, optimizer, scheduler)
        if metric not in METRICS:
            raise ConfigError(f"task.module.metric={metric}: use one of {', '.join(METRICS)}")
        if num_beams < 1 or max_new_tokens < 1:
            raise ConfigError(
                f"task.module.num_beams={num_beams}, max_new_tokens={max_new_tokens}: both "
                "must be at least 1"
            )
        if tokenizer is None:
            raise ConfigError("the seq2seq module needs the tokenizer (to decode generations)")
        self.tokenizer = tokenizer
        self.references = references or {}
        self.metric = metric
        self.num_beams = num_beams
        self.max_new_tokens = max_new_tokens
        self.num_report_samples = num_report_samples
        self.scores = torch.nn.ModuleDict({s: METRICS[metric]() for s in ("val", "test")})
        self.gen_len = torch.nn.ModuleDict({s: MeanMetric() for s in ("val", "test")})
        self.empty = torch.nn.ModuleDict({s: EmptyGenerations() for s in ("val", "test")})
        self.ids = ids
        self.test_generations = TestGenerations()  # every one, for test_report.json
        self._pending: dict[str, list[dict[str, str]]] = {"val": [], "test": []}
        self.samples: dict[str, list[dict[str, str]]] = {}

    def before_export(self, tokenizer: Any) -> None:
        """The export generates as evaluation did (`save_generation_settings`)."""
        from lab.tasks.generation_settings import save_generation_settings

        save_generation_settings(self.model, self.num_beams, self.max_new_tokens)

    def loss_weight_sum(self, batch: dict[str, torch.Tensor]) -> torch.Tensor | None:
        """The batch's target tokens under DDP (the loss is their mean; see `TaskModule`)."""
        from lab.training.rank_weights import token_count

        return token_count(self._trainer, batch["labels"])

    def evaluation_step(self, batch: dict[str, torch.Tensor], stage: str) -> None:
        rows = batch.get(ROW_ID)
        inputs = {k: v for k, v in batch.items() if k != ROW_ID}
        output = self.model(**inputs)
        size = int(inputs["labels"].shape[0])
        scored = (inputs["labels"] != IGNORE).sum()  # the loss is a mean over target tokens
        self.log_eval_loss(stage, output.loss, size, scored.float())

        generated = self.generate(inputs["input_ids"], inputs["attention_mask"])
        predictions = [t.strip() for t in self._decode(generated)]
        references = self._references(stage, rows, inputs["labels"])
        scores: Any = self.scores[stage]
        scores.update(predictions, references)
        # Tokens after the decoder's start token, padding excluded.
        lengths = (generated[:, 1:] != self.tokenizer.pad_token_id).sum(dim=-1)
        gen_len: Any = self.gen_len[stage]
        gen_len.update(lengths.float())
        empty: Any = self.empty[stage]
        empty.update(predictions)
        if stage == "test":
            self.test_generations.add(
                rows.tolist() if rows is not None else None, references, predictions
            )
        room = self.num_report_samples - len(self._pending[stage])
        if room > 0:
            sources = self._decode(inputs["input_ids"][:room])
            self._pending[stage] += [
                {"source": s, "reference": r, "prediction": p}
                for s, r, p in zip(sources, references, predictions, strict=False)
            ]

    def generate(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Generated token ids (deterministic: greedy or beam search, no sampling)."""
        return self.model.generate(  # type: ignore[no-any-return, operator]
            input_ids=input_ids,
            attention_mask=attention_mask,
            num_beams=self.num_beams,
            max_new_tokens=self.max_new_tokens,
            do_sample=False,
        )

    def _decode(self, ids: torch.Tensor) -> list[str]:
        return list(self.tokenizer.batch_decode(ids, skip_special_tokens=True))

    def _references(self, stage: str, rows: torch.Tensor | None, labels: torch.Tensor) -> list[str]:
        known = self.references.get(stage)
        if known is not None and rows is not None:
            return [known[i] for i in rows.tolist()]
        # No raw references (a module built by hand): the labels, decoded.
        pad = self.tokenizer.pad_token_id
        return [t.strip() for t in self._decode(labels.masked_fill(labels == IGNORE, pad))]

    def evaluation_metrics(self, stage: str) -> dict[str, torch.Tensor]:
        scores: Any = self.scores[stage]
        gen_len: Any = self.gen_len[stage]
        metrics = {f"{stage}/{name}": value for name, value in scores.compute().items()}
        metrics[f"{stage}/gen_len"] = gen_len.compute()
        scores.reset()
        gen_len.reset()
        empty: Any = self.empty[stage]
        empty.update([])  # no "compute before update" warning for a rank that had no rows
        empty_count, generated = empty.compute()
        empty.reset()
        self.samples[stage], self._pending[stage] = self._pending[stage], []
        try:
            trainer: Any = self.trainer
        except RuntimeError:  # called outside a Trainer (unit tests)
            trainer = None
        evaluating = stage == "val" and trainer is not None and not trainer.sanity_checking
        warning = empty_warning(empty_count, generated, self.metric) if evaluating else None
        if warning and trainer.is_global_zero:  # once per validation, the sums of every rank
            log.warning(warning)
        if evaluating and self.samples[stage]:
            first = self.samples[stage][0]
            log.info(
                "Sample at step %d: %r -> %r (reference %r)",
                self.global_step,
                first["source"][:200],
                first["prediction"],
                first["reference"],
            )
        return metrics

    def evaluation_report(self, stage: str) -> dict[str, Any]:
        """A few (source, reference, prediction) triples of the stage (rank 0's rows), and at
        test every generation in test-split order (`lab.tasks.seq2seq_generations`)."""
        report = {"metric": self.metric, "samples": self.samples.get(stage, [])}
        if stage == "test":
            report["generations"] = self.test_generations.report(self.ids)
        return report


class Seq2SeqPredictor(Generator):
    """Summary or translation by an encoder-decoder: `generated_text`.

    The input field is the run's `data.source_column` (e.g. XSum's `document`), or `text` for
    translation data whose column holds `{language: text}` (or that column itself, as in the
    data: its `data.source_lang` text is translated). The run's `data.source_prefix`
    (e.g. T5's `summarize: `) is prepended and the source cut at `data.max_source_length`, as
    in training: a cut row's result has `truncated` too, and `notes` counts them
    (`lab.inference.cuts`); `task.module.num_beams` and `max_new_tokens` as at evaluation.
    """

    settings = ("num_beams", "max_new_tokens")
    outputs = ("generated_text", TRUNCATED)
    cut_setting = "data.max_source_length"

    def __init__(self, model: Any, tokenizer: Any, cfg: DictConfig) -> None:
        super().__init__(model, tokenizer, cfg)
        column = cfg.data.get("source_column")
        self.source_lang = cfg.data.get("source_lang")
        self.pair_column = str(column) if self.source_lang and column else None
        self.text_dict_field = self.pair_column  # lab.serve takes it in place of `text`
        self.fields = ("text",) if self.source_lang or not column else (str(column),)
        self.prefix = str(cfg.data.get("source_prefix") or "")
        self.max_length = int(cfg.data.get("max_source_length") or self.max_length)
        self.max_new_tokens = int(cfg.task.module.get("max_new_tokens") or 64)
        self.num_beams = int(cfg.task.module.get("num_beams") or 1)
        self.cut_rows = 0  # sources cut at max_source_length (`notes`)

    def notes(self) -> list[str]:
        """How many sources ran past `data.max_source_length` tokens, if any."""
        if not self.cut_rows:
            return []
        return [cut_note(self.cut_rows, self.cut_setting, self.max_length, self.tokenizer)]

    def check(self, row: dict[str, Any]) -> str | None:
        """As `Predictor.check`; a translation row without `text` may give the run's own
        column of `{language: text}` (WMT's `translation`), whose source language is read."""
        problem = pair_problem(row, self.pair_column, self.source_lang)
        return problem if problem is not None else super().check(row)

    def predict(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """The generated text of each row's (prefixed) source."""
        sources = [self.prefix + row[self.fields[0]] for row in rows]
        inputs, output = self.generate(sources)
        texts = self.tokenizer.batch_decode(output, skip_special_tokens=True)
        results = [{"generated_text": text.strip()} for text in texts]
        # Counted once the batch is done: a row retried alone is not counted twice.
        self.cut_rows += with_cuts(results, input_cuts(self.tokenizer, inputs, sources))
        return results
