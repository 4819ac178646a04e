"""The generic DataModule: source -> splits -> subsample -> tokenize (cached) -> dataloaders.

Reading the source into splits (carving, subsampling) is `lab.data.splits`, or
`lab.data.stream_setup` for a streamed train split; this module checks and tokenizes what they
read and serves it to Lightning (the loaders, their samplers and settings: `lab.data.loaders`).

Everything a head needs to decide (which columns, how to tokenize, what the labels are) is a
hook that the head's own DataModule subclass implements in `lab/tasks/<head>.py`; this class
holds only what every head shares.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import lightning as L
from torch.utils.data import DataLoader

from lab.data.csv_header import checked_column_names
from lab.data.encoding import encode_split
from lab.data.fingerprints import content_fingerprint, tokenizer_fingerprint
from lab.data.first_bad_row import earlier_row_error
from lab.data.loaders import batch_device_type, distribution, eval_loader, sized_train_loader
from lab.data.origins import Origin
from lab.data.padding import Padding, pad_hf, resolve_multiple
from lab.data.pinning import pin_memory_problem, resolve_pin_memory
from lab.data.samplers import EpochSeededSampler, LengthGroupedBatchSampler
from lab.data.sources import load_source
from lab.data.splits import SPLITS, read_splits
from lab.errors import ConfigError, DataError

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict, IterableDataset
    from transformers import PreTrainedTokenizerBase

    from lab.data.streaming import TrainStreamPlan


@dataclass(frozen=True)
class Evaluation:
    """What `lab.eval` evaluates, set on a data module before `setup` (`DataModule.evaluation`).

    Every split of an evaluation holds the rows evaluated, so a message about any of them
    names `split` (the source's name, or lab's for the run's own), and a split that cannot
    be used gets `advice` (evaluate another split, naming those present) instead of
    training's (map lab's split to other rows)."""

    split: str
    advice: str
    model_labels: tuple[str, ...] = ()  # the evaluated model's class names, in id order
    # Other data's names of its integer ids (`lab.eval_labels`), in id order: () where it names
    # none; None on the run's own data, whose labels are read as training read them.
    data_labels: tuple[str, ...] | None = None


class DataModule(L.LightningDataModule):
    """Loads, splits, subsamples and tokenizes a dataset; subclasses say how to tokenize.

    Args:
        tokenizer: the model's tokenizer.
        path: local file or folder; when set it replaces `hub_id` (same columns).
        hub_id / hub_config / hub_revision: a Hugging Face Hub dataset, its configuration
            name and branch (`refs/convert/parquet` for script-only datasets).
        csv_quoting: how the cells of local .csv/.tsv files are quoted: `csv` as CSV writers
            quote them, `none` (GLUE's TSVs) quotes are text, one row per line
            (`lab.data.csv_quotes`).
        csv_column_names: the columns of headerless .csv/.tsv files, in order (CoLA's GLUE
            TSVs); None: the first line is the header (`lab.data.csv_header`).
        splits: lab split name -> source split name; a missing or null source split is
            carved from train (`test_fraction`, then `val_fraction`); `stratify` (the YAML's
            true; absent: a run recorded before it) by class (`lab.data.stratified`).
        max_train_samples / max_eval_samples / max_test_samples: a seeded random subset (many
            datasets are sorted by label: a plain head would be one class).
        batch_size / eval_batch_size / num_workers: the loaders' (eval None: by device).
        group_by_length: batch rows of similar length together (less padding), batches in a
            seeded random order (`lab.data.samplers.LengthGroupedBatchSampler`).
        length_group_size: batches per length-sorted group when `group_by_length`.
        pad_to_multiple_of: round every batch's padded length up to a multiple of this, never
            above the head's `max_length`: an int, None (the longest row) or `auto`, 64 when
            batches go to a GPU, else None (why: `lab.data.padding`). Training, evaluation
            and streamed batches alike.
        pin_memory: page-locked batches for the GPU: True, False or `auto` (True where batches
            go to a CUDA GPU: the `pins_memory` property).
        num_proc: processes for tokenization (`datasets.map`).
        seed: the run seed (`data.seed`), for the training order.
        split_seed: the seed of carving and of the `max_*_samples` subsets (`data.split_seed`,
            fixed: a seed study's runs share their rows); None: `seed` (older runs).
        streaming / shuffle_buffer / interleave / stream_sample_rows: stream the train split
            instead of loading it, through a seeded shuffle buffer, optionally mixed from
            several sources (`lab.data.streaming`).
    """

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        *,
        path: str | None = None,
        hub_id: str | None = None,
        hub_config: str | None = None,
        hub_revision: str | None = None,
        csv_quoting: str = "csv",
        csv_column_names: Sequence[str] | None = None,
        splits: dict[str, str | None] | None = None,
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        stratify: bool = False,
        max_train_samples: int | None = None,
        max_eval_samples: int | None = None,
        max_test_samples: int | None = None,
        batch_size: int = 32,
        eval_batch_size: int | None = None,
        num_workers: int = 0,
        group_by_length: bool = False,
        length_group_size: int = 50,
        pad_to_multiple_of: int | str | None = "auto",
        pin_memory: bool | str = "auto",
        num_proc: int | None = None,
        seed: int = 42,
        split_seed: int | None = None,
        streaming: bool = False,
        shuffle_buffer: int = 10_000,
        interleave: list[dict[str, Any]] | None = None,
        stream_sample_rows: int = 1000,
    ) -> None:
        super().__init__()
        self.tokenizer = tokenizer
        self.path = path
        self.hub_id = hub_id
        self.hub_config = hub_config
        self.hub_revision = hub_revision
        self.csv_quoting = csv_quoting
        self.csv_column_names = checked_column_names(csv_column_names)
        self.source_splits = dict(splits or {name: name for name in SPLITS})
        unknown = set(self.source_splits) - set(SPLITS)
        if unknown:
            raise ConfigError(
                f"data.splits has unknown key(s) {sorted(unknown)}; valid keys: {list(SPLITS)}"
            )
        for name, fraction in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
            if not 0.0 < fraction < 1.0:
                raise ConfigError(f"data.{name} must be between 0 and 1, got {fraction}")
        self.val_fraction = val_fraction
        self.test_fraction, self.stratify = test_fraction, stratify
        self.max_samples = {
            "train": max_train_samples,
            "validation": max_eval_samples,
            "test": max_test_samples,
        }
        self.batch_size = batch_size
        self._eval_batch_size = eval_batch_size
        self.num_workers = num_workers
        self.group_by_length = group_by_length
        self.length_group_size = length_group_size
        resolve_multiple(pad_to_multiple_of, on_cuda=False)  # a bad value fails here, in words
        self.pad_to_multiple_of = pad_to_multiple_of
        if problem := pin_memory_problem(pin_memory):
            raise ConfigError(problem)
        self.pin_memory = pin_memory
        self._resume_position: tuple[int, int] | None = None
        self.train_sampler: EpochSeededSampler | LengthGroupedBatchSampler | None = None
        self.num_proc = num_proc if num_proc and num_proc > 1 else None
        self.seed = seed
        self.split_seed = seed if split_seed is None else split_seed
        self.datasets: dict[str, Dataset] = {}
        self.raw_sizes: dict[str, int] = {}
        self.split_fingerprints: dict[str, str] = {}
        self.cache_hits: dict[str, bool] = {}
        self.origins: dict[str, Origin] = {}  # each split's file (or Hub split), for `where`
        self.row_indices: dict[str, Any] = {}  # and the indices of its rows there
        self.carved: list[str] = []  # lab's splits carved from train (the data line says so)
        self.streaming = streaming
        self.shuffle_buffer = shuffle_buffer
        self.interleave = interleave
        self.stream_sample_rows = stream_sample_rows
        self.train_plan: TrainStreamPlan | None = None  # the streamed train split's recipe
        # The streamed rows being checked: (origins, row in its source, source of each row).
        self.stream_rows: tuple[list[Origin], list[int], list[int]] | None = None

    #: Set by `lab.eval` (see `Evaluation`); None when training.
    evaluation: Evaluation | None = None
    #: Splits whose notes (rows cut, classes train lacks) are said; None: all (lab.eval: test)
    noted_splits: frozenset[str] | None = None

    # ----------------------------------------------------------------- hooks for heads
    def check_split(self, name: str, dataset: Dataset) -> None:
        """Raise `DataError` if a split lacks columns or has bad values (name the row)."""

    def require_columns(
        self, split: str, dataset: Dataset, wanted: dict[str, str], hint: str = ""
    ) -> None:
        """Raise `DataError` naming every column of `wanted` (config key -> column name) that
        `dataset` lacks, and the columns it has: the one wording every head uses. A head may
        add a `hint` (which setting fits the columns present)."""
        from lab.data.column_refusal import missing_columns_message, named_column

        missing = [
            named_column(c, key) for key, c in wanted.items() if c not in dataset.column_names
        ]
        if missing:
            raise DataError(
                missing_columns_message(
                    missing,
                    self.split_name(split),
                    dataset.column_names,
                    where=self.source_of(split) or "",
                    hint=hint,
                )
            )

    def split_name(self, split: str) -> str:
        """lab's `split` as messages name it: in `lab.eval`, the split evaluated."""
        return self.evaluation.split if self.evaluation else split

    def another_split(self, training: str) -> str:
        """Advice for a split that cannot be used as it is: `training` (how to give lab's split
        other rows) when training; in `lab.eval`, to evaluate another split."""
        return self.evaluation.advice if self.evaluation else training

    def where(self, split: str, row: int, column: str | None = None) -> str:
        """Row `row` (0-based, in the dataset `check_split` gets) as its user finds it, e.g.
        `data/train.csv:59 column 'label'`: the one wording of every row error."""
        origin, indices = self.origins.get(split), self.row_indices.get(split, ())
        if split == "train" and self.stream_rows is not None:  # a batch of the train stream
            origins, indices, sources = self.stream_rows
            origin = origins[sources[row]] if 0 <= row < len(sources) else None
        if origin is None or not 0 <= row < len(indices):  # rows not loaded by `setup`
            origin, indices = Origin(f"the {split} split", "rows"), range(row + 1)
        place = origin.locate(int(indices[row]))
        return f"{place} column '{column}'" if column else place

    def source_of(self, split: str) -> str:
        """The file (or Hub split) `split` was read or carved from; "" when not known."""
        origin = self.origins.get(split)
        return origin.describe() if origin else ""

    def _from(self, split: str) -> str:
        source = self.source_of(split)
        return f" ({source})" if source else ""

    def describe_labels(self, train: Dataset) -> None:
        """Learn label names etc. from the train split (called once, before `check_split`)."""

    def load_raw(self) -> DatasetDict:
        """The source's splits as stored (default: `data.path` files, else the Hub dataset).

        Heads with a format of their own (SQuAD JSON) convert it here.
        """
        return load_source(
            self.path,
            self.hub_id,
            self.hub_config,
            self.hub_revision,
            self.source_splits,
            self.csv_quoting,
            self.csv_column_names,
        )

    def drop_labels(self) -> tuple[str, list[Any]] | None:
        """(label column, values) of the rows to leave out of every split (`data.drop_labels`
        of heads with a label column, `lab.data.dropped_labels`); default none."""
        return None

    def prepare_split(self, name: str, dataset: Dataset) -> Dataset:
        """A checked raw split just before tokenization (e.g. add row ids); default as is."""
        return dataset

    def prepare_stream(self, stream: IterableDataset) -> IterableDataset:
        """The tokenized train stream before batching (e.g. pack examples); default as is.
        (A streamed train split skips `prepare_split`: `tokenize` gets its rows as read.)"""
        return stream

    def tokenize(self, batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        """Turn a batch of raw rows into model inputs (a `datasets.map` function)."""
        raise NotImplementedError

    def fingerprint_parts(self) -> tuple[Any, ...]:
        """Everything the tokenized output depends on, besides the raw data and tokenizer."""
        return ()

    def model_kwargs(self) -> dict[str, Any]:
        """Arguments the head needs from the data (e.g. `num_labels`, `id2label`)."""
        return {}

    def module_kwargs(self) -> dict[str, Any]:
        """Arguments the task's LightningModule needs from the data (e.g. the tokenizer for
        decoding generated text, raw examples for QA postprocessing)."""
        return {}

    def collate_fn(self) -> Callable[[list[dict[str, Any]]], Any]:
        """Batch tokenized rows; the default pads dynamically to the longest in the batch,
        rounded as `padding` says."""
        from transformers import DataCollatorWithPadding

        # A head that cuts rows keeps its cut as `max_length` (`data.max_length`); padding
        # never goes past it. (Not a base attribute: heads declare it as a plain int.)
        limit = getattr(self, "max_length", None)
        return pad_hf(DataCollatorWithPadding(self.tokenizer), self.padding(limit))

    def padding(self, limit: int | None) -> Padding:
        """How collators pad: to the longest row, rounded up to `data.pad_to_multiple_of`
        (`auto` resolved for the device batches go to), never above `limit` (the padded
        column's own cut: `data.max_length` for most heads)."""
        return Padding(resolve_multiple(self.pad_to_multiple_of, self._on_accelerator()), limit)

    # ----------------------------------------------------------------- Lightning API
    def setup(self, stage: str | None = None) -> None:
        """Load, check and tokenize all splits (idempotent: later calls return at once)."""
        if self.datasets:
            return
        if self.streaming:  # train is streamed; `sample` is its first rows
            from lab.data.stream_setup import prepare

            raw, sample = prepare(self)
        else:
            raw = read_splits(self)
            sample = raw["train"]
        self.raw_sizes = {name: len(ds) for name, ds in raw.items()}
        self.split_fingerprints = {name: content_fingerprint(ds) for name, ds in raw.items()}
        self.describe_labels(sample)
        if self.streaming:
            self.check_split("train", sample)
        try:
            for name, dataset in raw.items():
                self.check_split(name, dataset)
            for name, dataset in raw.items():
                self.datasets[name] = self._tokenize_split(name, self.prepare_split(name, dataset))
                if len(self.datasets[name]) == 0:
                    raise DataError(self.empty_split_message(name))
        except DataError as err:
            # Carved and cut splits are checked out of file order: name the file's first bad
            # row, not the first one met (lab.data.first_bad_row).
            earlier = None if self.streaming else earlier_row_error(self, raw, err)
            if earlier is None:
                raise
            raise earlier from None

    def empty_split_message(self, name: str) -> str:
        """Why a split has no examples after tokenization (heads may say more)."""
        return f"the {self.split_name(name)} split has no examples after tokenization"

    def train_dataloader(self) -> DataLoader:
        if self.train_plan is not None:
            from lab.data.streaming import train_loader

            replicas, rank = distribution(self)
            skip = self._resume_position[1] if self._resume_position else 0
            self._resume_position = None
            return train_loader(self, self.train_plan, replicas, rank, skip, self.collate_fn())
        position, self._resume_position = self._resume_position, None
        loader, self.train_sampler = sized_train_loader(self, position)
        return loader

    def val_dataloader(self) -> DataLoader:
        return eval_loader(self, "validation")

    def test_dataloader(self) -> DataLoader:
        return eval_loader(self, "test")

    @property
    def eval_batch_size(self) -> int:
        """Rows per evaluation batch: `data.eval_batch_size`, or when that is null the
        training batch on CPU and 4x it on a GPU.

        Evaluation keeps no activations for a backward pass, so a GPU fits (and is kept busy
        by) larger batches; a CPU is not: MiniLM over 256 IMDB reviews at 256 tokens, rows
        sorted by length, 2 cores, took 8.3-9.2 s at 16 rows per batch, 9.7-10.2 s at 32,
        10.6 s at 64 and 12.3-13.3 s at 128 (per-row work grows once a batch's activations
        leave the caches); 400 short sentences 1.1 s at 32 against 1.3-1.4 s at 128.
        """
        if self._eval_batch_size:
            return int(self._eval_batch_size)
        return self.batch_size * (4 if self._on_accelerator() else 1)

    @property
    def pins_memory(self) -> bool:
        """Whether the loaders hand out batches in page-locked (pinned) memory:
        `data.pin_memory`, `auto` being True when batches go to a CUDA GPU (why:
        `lab.data.pinning`)."""
        return resolve_pin_memory(self.pin_memory, batch_device_type(self))

    def _on_accelerator(self) -> bool:
        return batch_device_type(self) != "cpu"

    def resume_from_position(self, epoch: int, batches_done: int) -> None:
        """On resume: the next train loader starts `epoch` after its first `batches_done`."""
        self._resume_position = (epoch, batches_done)

    # ----------------------------------------------------------------- internals
    def _tokenize_split(self, name: str, dataset: Dataset) -> Dataset:
        parts = (type(self).__qualname__, tokenizer_fingerprint(self.tokenizer))
        encoded, self.cache_hits[name] = encode_split(
            dataset,
            self.tokenize,
            fingerprint_parts=(*parts, self.fingerprint_parts()),
            num_proc=self.num_proc,
            desc=f"Tokenizing {name}",
        )
        return encoded
