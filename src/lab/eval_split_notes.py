"""What `python -m lab.eval` says about the split it scores, in lab.train's words (s26 M3).

`lab.train` says which validation/test rows have exactly a train row's text and which train
classes a validation/test split holds no row of (`lab.data.split_notes`). `lab.eval` printed
a perfect score on a test split without a row of class 1, or with rows copied from train, with
no caveat. It now says the same lines, by the same function (`split_warnings`), for the split
it scores, compared with the run's train split *as the run read it*; each is printed before the
table and kept in the evaluation's `metrics.json` (`warnings`). The split is scored whole
(lab.eval has no `limit_test_batches`), so its counts are of every row.

Which train rows, by what is evaluated:

- the run's test split (`lab.eval run=<run>`): the evaluation reads the run's three splits as
  training read them, so the train split and classes it reads are the run's (held as read by
  `SplitsAsRead`, no second read);
- the run's validation split (`split=validation`): the run's data is read again for its train
  split (loaded, carved and cut as the run did, not tokenized: `lab.data.splits.read_splits`);
- the run's train split: nothing (its rows are train's);
- other data (`data.path=<file>`, `data.<key>=`, `data=<name>`, a split of the source's own):
  its evaluated rows against the run's train split read again as above. A row the run trained
  on is called so (the split's train is not the run's), without `lab.inspect`'s command (which
  inspects a data source against its own train split).

Said nothing, where the run's train rows are not cheaply at hand as the run had them: a run
on Hub data (`data.hub_id`, no `data.path`) for any split but its own test split (reading its
train split again could mean a download, on a machine without that dataset's cache), a run
that streamed its train split (it never held it whole; reading the stream now would read all of
it), the run's data that cannot be read now (its files moved or gone: `LabError`, `OSError`),
train rows that differ from those the run recorded (the digest of `record.json`: the files
changed since), and other data whose columns are not the run's (another data module or another
`*_column` / `format`: a row of one has no key comparable with the other's). The
missing-classes line is left out for other data whose integer labels lab.eval maps to the
model's classes by name (`lab.eval_labels`: the data's ids are not the run's).

The train classes are the evaluation data module's (the model's names, the evaluated data's
reading of its labels), with the ids the run's train split has rows of (`seen`) read from those
train rows: under lab.eval a data module keeps none (`LabelClasses.seen`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, OmegaConf

from lab.data.split_notes import SplitsAsRead, split_warnings
from lab.data.splits import LONE_FILE
from lab.errors import LabError
from lab.eval_splits import EVALUATED, RUN_SPLIT, data_module, evaluated_split
from lab.run_dir.runs import TrainedRun

if TYPE_CHECKING:
    from datasets import Dataset

    from lab.data.datamodule import DataModule

#: data keys besides `*_column` that decide what a row's text is (the chat format)
READING_KEYS = ("_target_", "format")


@dataclasses.dataclass(frozen=True)
class _TrainReading:
    """What `split_warnings` reads of a data module: its tokenizer (a head's row reader), the
    splits it carved from train, and its train classes."""

    tokenizer: Any
    carved: list[str]
    classes: Any


class EvaluatedSplitNotes:
    """The lines on the split a `lab.eval` evaluation scores (see the module): `keep` before
    the data module reads its splits, `read` once it has; the lines are then in `lines`."""

    def __init__(self, run: TrainedRun, cfg: DictConfig) -> None:
        self.run, self.cfg = run, cfg
        self.held = SplitsAsRead()
        self.lines: list[str] = []

    def keep(self, datamodule: DataModule) -> None:
        """Hold the splits `datamodule` reads (`SplitsAsRead.keep`)."""
        self.held.keep(datamodule)

    def read(self, datamodule: DataModule) -> None:
        """Find the lines for `datamodule`'s test split (the rows evaluated), then let the
        splits go."""
        try:
            self.lines = self._lines(datamodule)
        finally:
            self.held.release(datamodule)

    def _lines(self, datamodule: DataModule) -> list[str]:
        from lab.data.inspection import head_data

        own = self.cfg.get(RUN_SPLIT)
        evaluated = self.held.splits.get("test")
        if own == "train" or evaluated is None or getattr(datamodule, "streaming", False):
            return []
        if own == "test":  # the run's own three splits, read as trained
            train = self.held.splits.get("train")
            digest = (getattr(datamodule, "split_fingerprints", None) or {}).get("train")
            reading: Any = datamodule
        else:
            if not own and not self._reads_as_the_run():
                return []
            found = run_train_split(self.run, datamodule.tokenizer)
            if found is None:
                return []
            train, carved = found
            digest = None
            classes = classes_of_train(datamodule, train, head_data(self.cfg))
            reading = _TrainReading(datamodule.tokenizer, carved if own else [], classes)
        if train is None or not self._as_trained(train, digest):
            return []
        name = own or self._named()
        splits = {"train": train, name: evaluated}
        run_dir = self.run.directory if own else None
        return split_warnings(head_data(self.cfg), reading, splits, [name], run_dir)

    def _reads_as_the_run(self) -> bool:
        """Whether the evaluation's data is read as the run's is (the same data module and
        columns): only then do their rows' keys and labels compare."""
        from lab.data.inspection import head_data

        def reading(data: DictConfig) -> dict[str, Any]:
            keys = [str(k) for k in data if str(k).endswith("_column") or k in READING_KEYS]
            return {k: OmegaConf.select(data, k, default=None) for k in keys}

        return reading(head_data(self.cfg)) == reading(head_data(self.run.config))

    def _as_trained(self, train: Dataset, digest: str | None) -> bool:
        """Whether `train` (with content digest `digest`, computed where None) holds the rows
        the run trained on, by the digest `record.json` notes (none noted: taken as such)."""
        recorded = ((self.run.record.get("data") or {}).get("train") or {}).get("sha256")
        if not recorded:
            return True
        if digest is None:
            from lab.data.fingerprints import content_fingerprint

            digest = content_fingerprint(train)
        return bool(digest == recorded)

    def _named(self) -> str:
        """Other data's evaluated split as the lines name it: the source's split name, the
        file's name for a lone file, never `train` (the run's, in these lines)."""
        split = evaluated_split(self.cfg)
        noted = self.cfg.get(EVALUATED) or {}
        path = self.cfg.data.get("path")
        if noted.get("named") == LONE_FILE and path:
            return Path(str(path)).name
        return f"evaluated {split}" if split == "train" else split


def run_train_split(run: TrainedRun, tokenizer: Any) -> tuple[Dataset, list[str]] | None:
    """The run's train split as it read it (loaded, carved, cut: not tokenized) and the splits
    it carved from it; None for a streamed run, a run on Hub data (on a machine without its
    cache, reading it again for a warning would download it) and data that cannot be read now."""
    from lab.data.splits import read_splits

    if run.config.data.get("streaming") or not run.config.data.get("path"):
        return None  # a run on Hub data: its train split read again could be a download
    try:
        datamodule = data_module(_run_data_config(run), tokenizer)
        splits = read_splits(datamodule, warn=False)
    except (LabError, OSError):  # moved or gone: nothing to compare with (see the module)
        return None
    return splits["train"], list(datamodule.carved)


def _run_data_config(run: TrainedRun) -> DictConfig:
    """The run's config, its relative `data.path` read from the run's working directory where
    it is not found from here (as `lab.eval_data_path.locate_run_data`, without its line: the
    evaluation reads other data, and says where it reads that)."""
    path = run.config.data.get("path")
    cwd = run.record.get("cwd")
    if not isinstance(path, str) or not path or Path(path).expanduser().is_absolute():
        return run.config
    if Path(path).exists() or not cwd or not (Path(str(cwd)) / path).exists():
        return run.config
    cfg = OmegaConf.create(OmegaConf.to_container(run.config))
    assert isinstance(cfg, DictConfig)
    cfg.data.path = str(Path(str(cwd)) / path)
    return cfg


def classes_of_train(datamodule: DataModule, train: Dataset, data: DictConfig) -> Any:
    """The evaluation data module's classes (`datamodule.classes`) with the ids `train` (the
    run's train split) has rows of as `seen`, or None where that reading does not hold (no
    classes, no label column in train, other data's ids mapped by name)."""
    from lab.data.inspection import text_specs
    from lab.data.unseen_classes import distinct_values, seen_classes

    classes: Any = getattr(datamodule, "classes", None)
    column = text_specs(data)[1]
    # (LabelClasses and TrainClasses: frozen dataclasses, copied with another `seen`)
    if not hasattr(type(classes), "__dataclass_fields__") or not hasattr(classes, "seen"):
        return None
    if not column:
        return None
    if column not in train.column_names or getattr(classes, "data_names", None) is not None:
        return None
    seen = seen_classes(distinct_values(train, column), classes.class_of)
    return dataclasses.replace(classes, seen=seen)
