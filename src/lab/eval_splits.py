"""Which rows `python -m lab.eval` evaluates, by its `split=` option (the rules are in
`lab.eval`'s docstring): the split named, checked against those present, and the run's own
train or validation split read again as training read it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, open_dict

from lab.data.origins import Origin
from lab.data.splits import LONE_FILE, SPLITS, source_split_name
from lab.errors import DataError
from lab.run_dir.runs import TrainedRun

if TYPE_CHECKING:
    from datasets import Dataset

    from lab.data.datamodule import DataModule, Evaluation

#: Key of an evaluation config naming the split of the run's own data it tests, as training
#: read it (`evaluation_config` sets it; `evaluate` re-reads a run's train or validation
#: split and hands those rows to the head's data module as its test split).
RUN_SPLIT = "eval_run_split"
#: the one split name of the rows handed to the data module (`read_as_test`, `rows_source`)
ROWS = "rows"
#: Key of an evaluation config naming the split evaluated (as the user named it) and the
#: splits present: the data module's messages name that split, and a split that cannot be
#: evaluated gets lab.eval's advice (`evaluation_of`).
EVALUATED = "eval_split"
#: lab's three splits as `split=` names them on the run's own data
RUN_SPLITS = f"{', '.join(SPLITS)} (the run's, as training read them)"


def note_evaluated(
    cfg: DictConfig, split: str, present: str = RUN_SPLITS, named: str | None = None
) -> None:
    """Note in `cfg` the split it evaluates, the splits present (`present`, listed) and, when
    messages name it otherwise (`LONE_FILE`), how (`named`)."""
    with open_dict(cfg):
        cfg[EVALUATED] = {"split": split, "present": present, "named": named}


def evaluated_split(cfg: DictConfig) -> str:
    """The split `cfg` evaluates as messages name it (`the <it> split`)."""
    noted = cfg.get(EVALUATED) or {}
    return str(noted.get("named") or noted.get("split") or "test")


def evaluation_of(cfg: DictConfig) -> Evaluation:
    """What the data module is told of the evaluation noted in `cfg` (`note_evaluated`)."""
    from lab.data.datamodule import Evaluation  # torch and Lightning: only once data is read

    noted = cfg.get(EVALUATED) or {"split": "test", "present": RUN_SPLITS}
    split = evaluated_split(cfg)
    if noted.get("named") == LONE_FILE:  # no other split to choose
        advice = f"the {split} split cannot be evaluated as it is: give another file (data.path=)"
    else:
        advice = (
            f"the {split} split cannot be evaluated as it is: choose another with "
            f"split=<name>; splits present: {noted['present']}"
        )
    return Evaluation(split, advice)


def run_split_named(data: DictConfig, split: str | None) -> str | None:
    """lab's split of the run's own data that `split` names: its own name, or the source split
    the run read it from (`test_sft`); None for any other name (a source split, or none)."""
    if split is None or split in SPLITS:
        return split or "test"
    return next((name for name in SPLITS if data.splits.get(name) == split), None)


def read_as_test(data: DictConfig) -> None:
    """Make `data` read one split's rows, already as training cut them, as all three splits:
    `evaluate` hands the data module the run's split (evaluation needs no training data)."""
    with open_dict(data):
        data.splits = dict.fromkeys(SPLITS, ROWS)
    # Keys a run's config may lack (written before they existed) are left out, not added.
    read: dict[str, bool | None] = dict.fromkeys(
        ("max_train_samples", "max_eval_samples", "max_test_samples", "interleave")
    )
    read["streaming"] = False
    for key, value in read.items():
        if key in data:
            data[key] = value


def choose_split(cfg: DictConfig, split: str | None, run: TrainedRun, own: bool) -> None:
    """Point all three splits at one source split: evaluation needs no training data."""
    data = cfg.data
    datamodule = data_module(cfg, run_tokenizer(run, cfg))
    source = datamodule.load_raw()
    present = list(source)
    # Splits whose labels are all hidden (GLUE's test splits) cannot be scored: not offered.
    # The data module's label column: a head that reads none (masked LM) takes any split.
    offered = _labeled(source, getattr(datamodule, "label_column", None))
    listed = ", ".join(offered) or f"{', '.join(present)}, none of them labeled"
    if own:  # lab's three come first: those are what split= names on the run's own data
        read = set(data.splits.values())
        more = [s for s in offered if s not in SPLITS and s not in read]
        listed = RUN_SPLITS
        listed += f"; {', '.join(more)} (more of the source's, evaluated whole)" if more else ""
    if split is None:
        chosen = _default_split(data, present)
    elif split in present:
        chosen = split
    else:
        raise DataError(
            f"split '{split}' is not in the data; splits present: {listed}; "
            "choose one with split=<name>"
        )
    with open_dict(cfg):
        data.splits = {"train": chosen, "validation": chosen, "test": chosen}
        data.max_train_samples = None
    path = data.get("path")
    lone_file = not own and len(present) == 1 and bool(path) and Path(str(path)).is_file()
    note_evaluated(cfg, chosen, listed, LONE_FILE if lone_file else None)


def _labeled(source: Any, label_column: Any) -> list[str]:
    """The splits of `source` (a `DatasetDict`) that hold labels in `label_column`: all of
    them where the data module reads no label column."""
    if not isinstance(label_column, str) or not label_column:
        return list(source)
    from lab.data.unread_splits import has_labels

    return [name for name in source if has_labels(source[name], label_column)]


def _default_split(data: DictConfig, present: list[str]) -> str:
    """The split training on `data` would test on (its `data.splits.test`, found as training
    finds it), else `test`, else the only one."""
    wanted = source_split_name(data.splits, "test", present, local=bool(data.get("path")))
    for name in (wanted, "test"):
        if name and name in present:
            return name
    if len(present) == 1:
        return present[0]
    looked_for = " or ".join(f"'{n}'" for n in dict.fromkeys(n for n in (wanted, "test") if n))
    raise DataError(
        f"cannot tell which split to evaluate: the data has no {looked_for} split; splits "
        f"present: {', '.join(present)}; choose one with split=<name>"
    )


def run_tokenizer(run: TrainedRun, cfg: DictConfig) -> Any:
    """The run's exported tokenizer, else the configured one."""
    from hydra.utils import instantiate
    from transformers import AutoTokenizer

    if (run.model_dir / "tokenizer_config.json").is_file():
        return AutoTokenizer.from_pretrained(run.model_dir)
    return instantiate(cfg.model.tokenizer)


def data_module(cfg: DictConfig, tokenizer: Any) -> DataModule:
    """`cfg.data`'s data module, not set up: the head's own class knows its formats (SQuAD
    JSON); a task may bring its own for any data (`task.data_module`)."""
    from lab.build import instantiate_datamodule

    return instantiate_datamodule(cfg, tokenizer)


def run_split_rows(run: TrainedRun, tokenizer: Any, split: str) -> tuple[Dataset, Origin]:
    """The run's `split` as training read it: its source split or the rows carved from train,
    with the run's seed, fractions and `max_*_samples` (lab.data.splits / stream_setup); and
    where each of its rows came from, for errors."""
    from lab.data.splits import read_splits

    datamodule = data_module(run.config, tokenizer)
    if not datamodule.streaming:
        rows = read_splits(datamodule, warn=False)[split]
    elif split == "train":
        raise DataError(
            "this run streamed its train split (data.streaming=true), so it has no train rows "
            "to evaluate; give the files: data.path=<train files> data.streaming=false "
            "split=train"
        )
    else:
        from lab.data.stream_setup import prepare

        rows = prepare(datamodule)[0][split]
    return rows, _Placed(datamodule.origins[split], datamodule.row_indices[split])


class _Placed(Origin):
    """The source of a run's split read again: its row `i` is the row training found at
    `indices[i]` of `origin`, so an error names the file line training would have named."""

    def __init__(self, origin: Origin, indices: Sequence[int]) -> None:
        super().__init__(origin.name, origin.kind, origin.split, origin.size, origin.unit)
        self._origin, self._indices = origin, indices

    def locate(self, index: int) -> str:
        return self._origin.locate(int(self._indices[index]))


def rows_source(rows: Dataset, origin: Origin) -> Any:
    """`rows` as a source of one split, named as `read_as_test` maps lab's three splits."""
    from datasets import DatasetDict

    from lab.data.sources import set_origins

    source = DatasetDict({ROWS: rows})
    set_origins(source, {ROWS: origin})
    return source
