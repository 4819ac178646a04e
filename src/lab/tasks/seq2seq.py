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

`Seq2SeqPredictor` summarizes or translates raw rows for `lab.predict` / `lab.serve`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torchmetrics import MeanMetric, Metric

from lab.data.cut_counts import CUT_FLAGS, INPUTS, TARGETS, CutCountingDataModule
from lab.data.padding import Padding, PadToWidth, pad_rows
from lab.errors import ConfigError, DataError
from lab.inference.cuts import TRUNCATED, cut_note, input_cuts, with_cuts
from lab.inference.predictors import Generator
from lab.tasks.base import OptimizerFactory, SchedulerFactory, TaskModule
from lab.tasks.generation_metrics import CorpusBleu, RougeScore
from lab.tasks.language_pairs import cell_text, pair_problem

if TYPE_CHECKING:
    from datasets import Dataset
    from omegaconf import DictConfig
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

log = logging.getLogger(__name__)

IGNORE = -100  # the label id the loss skips (padding)
ROW_ID = "row_id"  # column of evaluation rows: their index in the raw split
METRICS: dict[str, Callable[[], Metric]] = {"rouge": RougeScore, "bleu": CorpusBleu}
# lab's split names -> the stage names metrics are logged under
STAGES = {"validation": "val", "test": "test"}


class Seq2SeqDataModule(CutCountingDataModule):
    """Tokenizes (prefixed) source texts as inputs and target texts as labels.

    Args:
        source_column / target_column: the input and output text columns (may be the same
            dictionary column, e.g. WMT's `translation`, with `source_lang` / `target_lang`).
        source_lang / target_lang: when set, the column holds a dictionary keyed by language
            and this key is read.
        source_prefix: prepended to every source (T5: `summarize: `,
            `translate English to Romanian: `; BART: none).
        max_source_length / max_target_length: truncation lengths in tokens.
        **kwargs: see `lab.data.datamodule.DataModule`.

    Each split's sources cut at `max_source_length` and targets cut at `max_target_length` are
    counted and said once (`lab.data.cut_counts`): the references generations are scored
    against are not cut, so a cut target caps the score.
    """

    cut_keys: ClassVar[dict[str, str]] = {INPUTS: "max_source_length", TARGETS: "max_target_length"}
    cut_nouns: ClassVar[dict[str, str]] = {INPUTS: "sources", TARGETS: "targets"}

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        *,
        source_column: str = "document",
        target_column: str = "summary",
        source_lang: str | None = None,
        target_lang: str | None = None,
        source_prefix: str | None = "",
        max_source_length: int = 512,
        max_target_length: int = 128,
        **kwargs: Any,
    ) -> None:
        super().__init__(tokenizer, **kwargs)
        for key, value in (
            ("max_source_length", max_source_length),
            ("max_target_length", max_target_length),
        ):
            if value < 1:
                raise ConfigError(f"data.{key}={value}: must be at least 1 token")
        self.source_column = source_column
        self.target_column = target_column
        self.source_lang = source_lang
        self.target_lang = target_lang
        self.source_prefix = source_prefix or ""
        self.max_source_length = max_source_length
        self.max_target_length = max_target_length
        # Untruncated target texts of the evaluation splits, by row: what generations are
        # scored against (truncated labels would flatter long-summary datasets).
        self.references: dict[str, list[str]] = {}

    # ----------------------------------------------------------------- checks
    def _fields(self) -> tuple[tuple[str, str, str | None, str], ...]:
        """(role, column, language key, config key of the column) of source and target."""
        return (
            ("source", self.source_column, self.source_lang, "data.source_column"),
            ("target", self.target_column, self.target_lang, "data.target_column"),
        )

    def check_split(self, name: str, dataset: Dataset) -> None:
        self.require_columns(name, dataset, {key: column for _, column, _, key in self._fields()})
        targets: list[str] = []
        for start, batch in self._batches(dataset):
            for role, column, lang, key in self._fields():
                for offset, value in enumerate(batch[column]):
                    try:
                        text = cell_text(value, lang)
                    except ValueError as err:
                        where = self.where(name, start + offset, column)
                        raise DataError(f"{where}: {err}") from err
                    if not text.strip():
                        raise DataError(
                            f"{self.where(name, start + offset, column)}"
                            f"{f' [{lang!r}]' if lang else ''}: empty {role} text ({key}); "
                            "every row needs a non-empty source and target"
                        )
                    if role == "target" and name in STAGES:
                        targets.append(text)
        if name in STAGES:
            self.references[STAGES[name]] = targets

    def _batches(self, dataset: Dataset) -> Iterator[tuple[int, dict[str, list[Any]]]]:
        # Column slices of 1000 rows: CNN/DailyMail's train articles would take gigabytes as
        # one Python list.
        columns = sorted({self.source_column, self.target_column})
        start = 0
        for batch in dataset.select_columns(columns).iter(batch_size=1000):
            yield start, batch  # type: ignore[misc]
            start += len(batch[columns[0]])

    # ----------------------------------------------------------------- tokenization
    def fingerprint_parts(self) -> tuple[Any, ...]:
        return (
            self.source_column,
            self.target_column,
            self.source_lang,
            self.target_lang,
            self.source_prefix,
            self.max_source_length,
            self.max_target_length,
            CUT_FLAGS,  # the cut rows' flags, counted and said per split (lab.data.cut_counts)
        )

    def tokenize(self, batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        column, lang = self.source_column, self.source_lang
        sources = [self.source_prefix + cell_text(v, lang) for v in batch[column]]
        column, lang = self.target_column, self.target_lang
        targets = [cell_text(v, lang) for v in batch[column]]
        inputs = self.tokenizer(sources, max_length=self.max_source_length, truncation=True)
        labels = self.tokenizer(
            text_target=targets, max_length=self.max_target_length, truncation=True
        )
        encoded = dict(inputs)
        encoded["labels"] = labels["input_ids"]
        self.mark_cuts(encoded, INPUTS, inputs)  # read off, said and dropped per split
        self.mark_cuts(encoded, TARGETS, labels)
        if ROW_ID in batch:
            encoded[ROW_ID] = batch[ROW_ID]
        return encoded

    def prepare_split(self, name: str, dataset: Dataset) -> Dataset:
        # Evaluation rows keep their index, so generations meet their raw references on any
        # rank; train rows need none (and the model would refuse the extra input).
        if name in STAGES:
            dataset = dataset.add_column(ROW_ID, list(range(len(dataset))))  # type: ignore[arg-type]
        return dataset

    def collate_fn(self) -> Callable[[list[dict[str, Any]]], Any]:
        from transformers import DataCollatorForSeq2Seq

        # Labels padded with IGNORE: padding is not a target. (The model builds its decoder
        # inputs from the labels, with pad tokens where they are IGNORE.)
        sources = self.padding(self.max_source_length)
        if sources.multiple is None:
            return DataCollatorForSeq2Seq(self.tokenizer, label_pad_token_id=IGNORE)
        return Seq2SeqCollator(self.tokenizer, sources, sources.limited(self.max_target_length))

    def module_kwargs(self) -> dict[str, Any]:
        """The tokenizer (to decode generations) and the raw references of val and test."""
        return {"tokenizer": self.tokenizer, "references": self.references}


class Seq2SeqCollator:
    """Sources padded by the tokenizer and labels with IGNORE, each to its own rounded width
    (`lab.data.padding`): `DataCollatorForSeq2Seq` rounds both with one multiple and no
    limit, and pads labels to the sources' width when given one. (A class: workers pickle it.)
    """

    def __init__(
        self, tokenizer: PreTrainedTokenizerBase, sources: Padding, targets: Padding
    ) -> None:
        from transformers import DataCollatorWithPadding

        self.inputs = PadToWidth(DataCollatorWithPadding(tokenizer), sources)
        self.targets = targets
        self.left = tokenizer.padding_side == "left"  # as DataCollatorForSeq2Seq pads labels

    def __call__(self, features: list[dict[str, Any]]) -> Any:
        labels = [f["labels"] for f in features]
        batch = self.inputs([{k: v for k, v in f.items() if k != "labels"} for f in features])
        width = self.targets.width(max(len(label) for label in labels))
        batch["labels"] = pad_rows(labels, width, IGNORE, self.left)
        return batch


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
        self._pending: dict[str, list[dict[str, str]]] = {"val": [], "test": []}
        self.samples: dict[str, list[dict[str, str]]] = {}

    def before_export(self, tokenizer: Any) -> None:
        """The export generates as evaluation did (`save_generation_settings`)."""
        from lab.tasks.generation_settings import save_generation_settings

        save_generation_settings(self.model, self.num_beams, self.max_new_tokens)

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
        self.samples[stage], self._pending[stage] = self._pending[stage], []
        try:
            trainer: Any = self.trainer
        except RuntimeError:  # called outside a Trainer (unit tests)
            trainer = None
        if stage == "val" and self.samples[stage] and trainer and not trainer.sanity_checking:
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
        """A few (source, reference, prediction) triples of the stage (rank 0's rows)."""
        return {"metric": self.metric, "samples": self.samples.get(stage, [])}


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
