"""Token classification (NER, POS): word/subword label alignment, entity-level metrics.

Rows hold a list of words and one tag per word, as on the Hub (`tokens`, `ner_tags`): tags
as integer ids (names from `data.label_names` or the dataset's `ClassLabel` feature) or as
strings. Words are split into subwords by the tokenizer; the first subword of each word
carries the word's tag and the others are ignored by the loss and the metrics
(`data.label_all_tokens=true` labels them too in train, a B- tag continuing as I-; scored
over words all the same). IOB1 data (`data.tag_scheme=iob1`, an entity may start with I-) is
converted to IOB2 on load.

Given words are encoded by `lab.tasks.token_words.encode_words`, which the predictor shares.
`TokenClassificationPredictor` (`lab.tasks.token_predictor`: entities with character spans,
from raw text or given words) and `plot_entity_f1` (the test report's figure) are declared in
`conf/task/token_classification.yaml`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch

from lab.data.datamodule import DataModule
from lab.data.padding import pad_hf
from lab.data.unseen_classes import TrainClasses, tag_class_of
from lab.errors import ConfigError, DataError
from lab.tasks.base import OptimizerFactory, SchedulerFactory, TaskModule
from lab.tasks.entity_metrics import EntityScores, iob1_to_iob2, is_iob
from lab.tasks.ignore import IGNORE
from lab.tasks.losses import ClassLoss, ClassLossTraining, setup_class_loss
from lab.tasks.token_cut import CUT, collate_with_cut, cut_note, cut_words, without_cut

# Run directories' config.yaml name the predictor here (task.predictor._target_); it lives in
# `lab.tasks.token_predictor`, which imports neither Lightning nor the training code.
from lab.tasks.token_predictor import TokenClassificationPredictor as TokenClassificationPredictor
from lab.tasks.token_tags import (
    all_wordless_message,
    found_tags_line,
    iob1_hint,
    is_wordless,
    row_problem,
    tag_names,
    tag_problem,
    wordless_note,
)
from lab.tasks.token_words import encode_words, is_full

if TYPE_CHECKING:
    from datasets import Dataset
    from matplotlib.figure import Figure
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

log = logging.getLogger(__name__)


class TokenClassificationDataModule(DataModule):
    """Tokenizes pre-split words and aligns one label per word onto subwords.

    Args:
        tokens_column / tags_column: the word list and tag list columns.
        label_names: tag names in id order; None to take them from the data.
        tag_scheme: `iob2` (default) or `iob1` (converted to IOB2).
        label_all_tokens: label every subword, not only a word's first.
        max_length: truncation length in subword tokens.
        **kwargs: see `lab.data.datamodule.DataModule`.
    """

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        *,
        tokens_column: str = "tokens",
        tags_column: str = "ner_tags",
        label_names: Sequence[str] | None = None,
        tag_scheme: str = "iob2",
        label_all_tokens: bool = False,
        max_length: int = 128,
        **kwargs: Any,
    ) -> None:
        super().__init__(tokenizer, **kwargs)
        if tag_scheme not in ("iob1", "iob2"):
            raise ConfigError(f"data.tag_scheme={tag_scheme}: use iob2 or iob1")
        if not getattr(tokenizer, "is_fast", False):
            raise ConfigError("token classification needs a fast tokenizer (word_ids)")
        self.tokens_column = tokens_column
        self.tags_column = tags_column
        self.source_names: list[str] | None = [str(n) for n in label_names] if label_names else None
        self.tag_scheme = tag_scheme
        self.label_all_tokens = label_all_tokens
        self.max_length = max_length
        self.label_names: list[str] = []
        self._string_tags = False
        self._split: str | None = None  # the split being tokenized (None: streamed train rows)
        self._said: set[str] = set()
        self._tags_from_train = False  # no names given: train's string tags are the names
        # the tags train has words of (lab.train's note on splits lacking one reads them)
        self.classes: TrainClasses | None = None
        self.wordless: dict[str, int] = {}  # rows without words left out, per split (noted)

    # ----------------------------------------------------------------- labels
    def describe_labels(self, train: Dataset) -> None:
        self._require_columns("train", train)
        named = self.source_names is not None
        self.source_names, self._string_tags = tag_names(
            train,
            self.tags_column,
            self.source_names,
            # names that are the evaluated model's: a refusal asks for data of its tags
            pinned=self.evaluation is not None
            and list(self.source_names or ()) == list(self.evaluation.model_labels),
        )
        names = list(self.source_names)
        self._tags_from_train = self._string_tags and not named
        read = tag_class_of(names, string_tags=self._string_tags, iob1=self.tag_scheme == "iob1")
        self.classes = TrainClasses.read(train, self.tags_column, names, read, "tag")
        if self.tag_scheme == "iob2" and is_iob(names):
            tags = train.with_format("arrow")[self.tags_column].to_pylist()
            hint = iob1_hint([t for t in tags if isinstance(t, list)], names, self._string_tags)
            if hint:
                log.warning(hint)
        if self.tag_scheme == "iob1":  # IOB2 needs a B- for every I-
            names += [
                f"B-{n[2:]}" for n in names if n.startswith("I-") and f"B-{n[2:]}" not in names
            ]
        self.label_names = names
        if self._tags_from_train:  # named nowhere else: a typo'd tag would be a class unseen
            log.info(found_tags_line(names))

    @property
    def label2id(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.label_names)}

    def model_kwargs(self) -> dict[str, Any]:
        return {
            "num_labels": len(self.label_names),
            "id2label": dict(enumerate(self.label_names)),
            "label2id": self.label2id,
        }

    # ----------------------------------------------------------------- checks
    def _require_columns(self, split: str, dataset: Dataset) -> None:
        self.require_columns(
            split,
            dataset,
            {"data.tokens_column": self.tokens_column, "data.tags_column": self.tags_column},
        )

    def check_split(self, name: str, dataset: Dataset) -> None:
        self._require_columns(name, dataset)
        names = self.source_names or []
        for row, (words, tags) in enumerate(
            zip(dataset[self.tokens_column], dataset[self.tags_column], strict=True)
        ):
            shape = row_problem(words, tags, self.tokens_column, self.tags_column)
            if shape is not None:
                column, problem = shape
                raise DataError(f"{self.where(name, row, column)}: {problem}")
            for tag in tags:
                refused = tag_problem(
                    tag,
                    names,
                    self._string_tags,
                    self.evaluation is not None,
                    from_train=self._tags_from_train,
                )
                if refused is not None:
                    raise DataError(f"{self.where(name, row, self.tags_column)}: {refused}")
        # Tags the names list but no train word has: scored, never learnt. (A streamed train
        # split's tags are known from its first rows only; lab.eval has no train.)
        noted = self.noted_splits is None or name in self.noted_splits
        if name != "train" and self.evaluation is None and not self.streaming and self.classes:
            unseen = self.classes.warning(name, dataset, self.tags_column) if noted else None
            if unseen:
                log.warning(unseen)

    def prepare_split(self, name: str, dataset: Dataset) -> Dataset:
        """The checked split without its rows of no words and no tags (`is_wordless`: nothing
        to train on or score), counted for `setup`'s one warning on them. (A streamed train
        split skips this: such a row is read as special tokens alone, every label ignored.)"""
        pairs = zip(dataset[self.tokens_column][:], dataset[self.tags_column][:], strict=True)
        kept = [row for row, pair in enumerate(pairs) if not is_wordless(*pair)]
        if len(dataset) and not kept:
            raise DataError(all_wordless_message(self.split_name(name), len(dataset)))
        if self.noted_splits is None or name in self.noted_splits:
            self.wordless[self.split_name(name)] = len(dataset) - len(kept)
        return dataset if len(kept) == len(dataset) else dataset.select(kept)

    def setup(self, stage: str | None = None) -> None:
        """`DataModule.setup`, then one warning on the rows without words left out of each
        split, if any (F5 of s31a: a CoNLL file's trailing empty sentence stopped the run)."""
        fresh = not self.datasets
        super().setup(stage)
        note = wordless_note(self.wordless) if fresh else None
        if note:
            log.warning(note)

    # ----------------------------------------------------------------- tokenization
    def fingerprint_parts(self) -> tuple[Any, ...]:
        return (
            self.tokens_column,
            self.tags_column,
            self.label_names,
            self.tag_scheme,
            self._continuation() is not None,  # label_all_tokens, on the train split only
            self.max_length,
            CUT,  # caches written before the cut words were kept lack the column
        )

    def tokenize(self, batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        # The predictor encodes given words with the same function (`lab.tasks.token_words`).
        encoded = encode_words(self.tokenizer, batch[self.tokens_column], self.max_length)
        label2id = self.label2id
        labels, cut = [], []
        for index, tags in enumerate(batch[self.tags_column]):
            names = [t if self._string_tags else self.source_names[t] for t in tags]  # type: ignore[index]
            if self.tag_scheme == "iob1":
                names = iob1_to_iob2(names)
            ids = [label2id[n] for n in names]
            word_ids = encoded.word_ids(index)
            labels.append(align_labels(word_ids, ids, self._continuation()))
            full = is_full(encoded, index, self.max_length)
            cut.append([ids[j] for j in cut_words(word_ids, len(ids), full)])
        encoded["labels"] = labels
        encoded[CUT] = cut  # scored as missed (lab.tasks.token_cut)
        return dict(encoded)

    def _tokenize_split(self, name: str, dataset: Dataset) -> Dataset:
        self._split = name  # `_continuation` labels every subword of train rows only
        try:
            encoded = super()._tokenize_split(name, dataset)
        finally:
            self._split = None
        note = cut_note(self.split_name(name), encoded[CUT], self.max_length, self.tokenizer)
        if self.noted_splits is not None and name not in self.noted_splits:
            note = None  # lab.eval of the test split: its own note alone
        if note and note not in self._said:  # lab.eval reads its rows as all three splits
            self._said.add(note)
            log.warning(note)
        return encoded

    def _continuation(self) -> Callable[[int], int] | None:
        # Validation and test keep one label per word (its first subword) whatever
        # `label_all_tokens` says: scored over every subword, P/R/F1 and accuracy were not the
        # scores of the words `lab.predict` tags, nor comparable across the setting.
        if not self.label_all_tokens or self._split not in (None, "train"):
            return None
        label2id, names = self.label2id, self.label_names

        def inside(label: int) -> int:  # B-X continues as I-X on later subwords
            name = names[label]
            return label2id.get("I-" + name[2:], label) if name.startswith("B-") else label

        return inside

    def collate_fn(self) -> Callable[[list[dict[str, Any]]], Any]:
        from transformers import DataCollatorForTokenClassification

        # Labels follow the inputs' padded width (rounded by `padding`), padded with IGNORE.
        collator = DataCollatorForTokenClassification(self.tokenizer, label_pad_token_id=IGNORE)
        return collate_with_cut(pad_hf(collator, self.padding(self.max_length)))


def align_labels(
    word_ids: Sequence[int | None],
    word_labels: Sequence[int],
    continuation: Callable[[int], int] | None = None,
) -> list[int]:
    """One label per subword: the word's label on its first subword, IGNORE elsewhere.

    Special tokens (word id None) get IGNORE. With `continuation`, later subwords of a word get
    `continuation(label)` instead of IGNORE.
    """
    labels = []
    previous = None
    for word in word_ids:
        if word is None:
            labels.append(IGNORE)
        elif word != previous:
            labels.append(word_labels[word])
        else:
            labels.append(continuation(word_labels[word]) if continuation else IGNORE)
        previous = word
    return labels


class TokenClassificationModule(ClassLossTraining, TaskModule):
    """Per-token cross-entropy; entity precision/recall/F1 (seqeval, conlleval's reading).

    Metric keys: `val/loss`, `val/f1`, `val/precision`, `val/recall` (entity-level, micro),
    `val/accuracy` (token accuracy), `val/f1_<TYPE>` per entity type (and `test/...`).
    Words past `max_length` are not trained; they are scored as predicted `O` (missed),
    `lab.tasks.token_cut`. Tags that are no IOB scheme (POS) are scored per word instead.

    Args:
        class_weights: None, `balanced` (from the scored tokens of the train split) or one
            weight per tag in label order (`lab.tasks.losses`).
        label_smoothing: label smoothing of the per-token cross entropy, in [0, 1).
    """

    progress_bar_metrics = ("f1",)

    def __init__(
        self,
        model: PreTrainedModel,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        *,
        class_weights: str | Sequence[float] | None = None,
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(model, optimizer, scheduler)
        id2label = {int(k): v for k, v in model.config.id2label.items()}  # type: ignore[union-attr]
        names = [id2label[i] for i in sorted(id2label)]
        self.class_loss = ClassLoss(len(names), class_weights, label_smoothing, names)
        self.scores = torch.nn.ModuleDict(
            {"val": EntityScores(id2label), "test": EntityScores(id2label)}
        )
        self._last: dict[str, dict[str, Any]] = {}

    def setup(self, stage: str) -> None:
        setup_class_loss(self, self.class_loss)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return super().training_step(without_cut(batch), batch_idx)  # type: ignore[no-any-return]

    def evaluation_step(self, batch: dict[str, torch.Tensor], stage: str) -> None:
        cut = batch.get(CUT)
        batch = without_cut(batch)
        output = self.class_loss.model_output(self.model, batch)
        labels = batch["labels"]
        self.log_eval_loss(
            stage, output.loss, labels.shape[0], self.class_loss.target_weight(labels)
        )
        self._scores(stage).update(output.logits.argmax(dim=-1), batch["labels"], cut)

    def evaluation_metrics(self, stage: str) -> dict[str, torch.Tensor]:
        scores = self._scores(stage).compute()
        self._scores(stage).reset()
        self._last[stage] = scores
        # float64: Lightning keeps a logged tensor's float64 through its epoch reduction, so
        # metrics.json holds seqeval's own double (float32 was 3e-8 off it).
        metrics = {
            f"{stage}/{name}": torch.tensor(scores[name], dtype=torch.float64)
            for name in ("f1", "precision", "recall", "accuracy")
        }
        for entity, values in scores["per_type"].items():
            metrics[f"{stage}/f1_{entity}"] = torch.tensor(values["f1"], dtype=torch.float64)
        return metrics

    def _scores(self, stage: str) -> EntityScores:
        return self.scores[stage]  # type: ignore[return-value]

    def evaluation_report(self, stage: str) -> dict[str, Any]:
        """Per-entity-type precision, recall, F1 and support of the test set."""
        return {"entities": self._last.get(stage, {}).get("per_type", {})}


def plot_entity_f1(report: dict[str, Any]) -> Figure | None:
    """Test F1 and support per entity type, each bar labelled with its F1 to 3 decimals and
    its support (`0.989` over `n=55`: 0.989 and 1.000 look alike as bar heights); None
    without entities in `report`."""
    entities = report.get("entities")
    if not entities:
        return None
    import matplotlib.pyplot as plt

    names = sorted(entities)
    figure, axis = plt.subplots(figsize=(max(4, 0.8 * len(names) + 2), 3.5))
    bars = axis.bar(names, [entities[n]["f1"] for n in names])
    values = [f"{entities[n]['f1']:.3f}\nn={entities[n]['support']}" for n in names]
    axis.bar_label(bars, values, padding=2, fontsize=8)
    axis.set_ylim(0, 1.25)  # room for two lines of label above a bar of 1.0
    axis.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    axis.set_ylabel("F1")
    axis.set_title("test F1 per entity type")
    return figure
