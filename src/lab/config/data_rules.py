"""Data rules of `validate_config` (`lab.config.rules`): local data files and the columns a
data config names (read from each file's header or first rows only), and what a streaming
run needs. Cheap to import (no torch, datasets or transformers in the common path)."""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import itertools
import json
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from lab.data.column_refusal import missing_columns_message, named_column, unlabeled_split_fix
from lab.data.csv_header import checked_column_names, named_header
from lab.data.inspection_hooks import columns_hint, columns_rule, schema_rule
from lab.errors import ConfigError, DataError

# JSON-lines rows read to learn a file's columns (rows may differ in their keys).
_JSON_ROWS_PEEKED = 100


def check_local_data(cfg: DictConfig) -> None:
    """With `data.path`, each split's file must hold every column the data config names,
    except a column its config marks optional (`optional_column_keys`) that is absent."""
    data = cfg.data
    optional = optional_column_keys(data)
    if not data.get("path"):
        return
    from lab.data.local_files import local_data_files
    from lab.data.splits import no_train_split, source_split_name

    splits = dict(data.get("splits") or {name: name for name in ("train", "validation", "test")})
    # A missing path, an empty file, an unreadable Hub dataset folder...: named here.
    _, files = local_data_files(data.path, data.get("hub_config"), splits=splits)
    # The split names are the file names: a train split the data config reads and the folder
    # lacks is refused here, in training's words (s31e N9; a streamed run words its own).
    train = source_split_name(splits, "train", files, local=True)
    if files and train not in files and not data.get("streaming"):
        raise DataError(no_train_split(train, files))
    # A headerless CSV's columns (`lab.data.csv_header`): its first line is a row, not names.
    names = checked_column_names(data.get("csv_column_names"))
    wanted = {
        key: column
        for key, column in named_columns(data).items()
        if key.split("[")[0] not in optional
    }
    peeked: dict[str, tuple[str, list[str]]] = {}  # split: (its first file, its columns)
    for split in ("train", "validation", "test"):
        source = source_split_name(splits, split, files, local=True)
        if not source or source not in files:
            continue  # carved from train, or absent: the data module decides
        first = files[source][0]  # a split's files (the Hub's shards) share their columns
        present = peek_columns(Path(first))
        if present is None:
            continue  # a layout the head converts itself (SQuAD JSON)
        if names:
            present = named_header(first, names, data.get("csv_quoting") or "csv") or present
        peeked[split] = (first, present)
        missing = [
            named_column(column, key) for key, column in wanted.items() if column not in present
        ]
        if missing:
            # A Kaggle test.csv of id,text: its labels are not published. GLUE's test.tsv
            # beside a labeled dev.tsv: test on that, as GLUE's results are reported.
            label = wanted.get("data.label_column")
            validation = peeked.get("validation")
            labeled = split == "test" and validation is not None and label in validation[1]
            hint = (
                unlabeled_split_fix(
                    split,
                    source_split_name(splits, "validation", files, local=True) if labeled else "",
                    validation[0] if labeled and validation is not None else "",
                )
                if split != "train" and label is not None and label not in present
                else columns_hint(data, present)  # the head's own (chat data given to DPO)
            )
            # The data module's own wording, file first (`DataModule.require_columns`).
            raise DataError(
                missing_columns_message(missing, split, present, where=str(first), hint=hint)
            )
    # A head whose columns depend on a setting (a chat format) checks them itself; one whose
    # column types do (a translation column's languages), each file's schema.
    schema = schema_rule(data)
    for first, _ in peeked.values() if schema else ():
        if problem := schema(data, Path(first)):
            raise DataError(f"{first}: {problem}")
    rule = columns_rule(data)
    found = rule(data, {s: cols for s, (_, cols) in peeked.items()}) if rule and peeked else None
    if found is not None:
        split, problem = found
        raise DataError(f"{peeked[split][0]}: {problem}")


def named_columns(data: DictConfig) -> dict[str, str]:
    """`{"data.text_column": "review", "data.ending_columns[0]": "ending0", ...}`: the
    columns a data config names, by the convention that such keys end in `_column(s)`."""
    wanted: dict[str, str] = {}
    for key in data:
        name = str(key)
        if not name.endswith(("_column", "_columns")):
            continue
        value = data.get(name)
        if isinstance(value, str) and value:
            wanted[f"data.{name}"] = value
        elif isinstance(value, ListConfig):
            for index, column in enumerate(value):
                wanted[f"data.{name}[{index}]"] = str(column)
    return wanted


def optional_column_keys(data: DictConfig) -> set[str]:
    """`{"data.prompt_column"}`: the column keys a data config lists under
    `optional_column_keys`, whose columns a file may lack.

    Whether such a column is needed depends on the rows, which only the data module reads
    (preference pairs need a prompt column for string chosen/rejected, not for conversations
    whose shared leading turns are the prompt), so the pre-flight check leaves it to the
    module. The list sits in the data config next to the columns it qualifies: one
    declaration per data base, read here without importing the module. Its key does not end
    in `_columns`, so it is not taken for a list of columns (`named_columns`)."""
    listed = [str(key) for key in data.get("optional_column_keys") or ()]
    keys = [str(k) for k in data if str(k).endswith(("_column", "_columns"))]
    unknown = [key for key in listed if key not in keys]
    if unknown:
        raise ConfigError(
            f"data.optional_column_keys lists {', '.join(unknown)}, not among the column keys "
            f"of data: {', '.join(keys)}"
        )
    return {f"data.{key}" for key in listed}


def peek_columns(file: Path) -> list[str] | None:
    """The column names of a local data file from its first line(s); None when unknown."""
    suffixes = [s.lower() for s in file.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    kind = suffixes[-1] if suffixes else ""
    from lab.data.lfs_pointers import LFS_POINTER, lfs_pointer_message

    with open(file, "rb") as handle:  # any format: a clone without Git LFS holds pointers
        if handle.read(len(LFS_POINTER)) == LFS_POINTER:
            raise DataError(lfs_pointer_message(file))
    if kind == ".txt":
        return ["text"]  # one row per line, as the datasets `text` builder reads it
    if kind == ".parquet":
        from lab.data.sources import parquet_columns

        return parquet_columns(file)
    if kind == ".arrow":  # datasets' save_to_disk files: Arrow IPC streams
        import pyarrow.ipc

        with pyarrow.ipc.open_stream(file) as reader:
            return list(reader.schema.names)
    opener: Any = gzip.open if file.name.lower().endswith(".gz") else open
    with opener(file, "rb") as handle:
        if kind in (".csv", ".tsv"):
            # Bytes, then decoded leniently: a bad byte further down is the data module's
            # to report (with its offset), not a reason to miss the header here.
            line = handle.readline()
            from lab.data.text_encoding import first_invalid_utf8_byte, not_utf8_message

            if problem := first_invalid_utf8_byte(line.removeprefix(codecs.BOM_UTF8)):
                # A header that is no UTF-8 text (UTF-16, a binary file): named as training
                # names it, not as columns of mojibake.
                raise DataError(not_utf8_message(str(file), problem))
            header = line.decode("utf-8-sig")
            rows = list(csv.reader(io.StringIO(header), delimiter="\t" if kind == ".tsv" else ","))
            return rows[0] if rows else None
        columns: dict[str, None] = {}
        for line in itertools.islice(handle, _JSON_ROWS_PEEKED):
            if not line.strip():
                continue
            try:
                row = json.loads(line.decode("utf-8-sig", errors="replace"))
            except ValueError:
                return None  # not JSON lines: one document (a list of rows, SQuAD JSON)
            if not isinstance(row, dict) or isinstance(row.get("data"), list):
                return None
            columns.update(dict.fromkeys(str(k) for k in row))
        return list(columns) or None


def check_streaming(cfg: DictConfig) -> None:
    """A streaming run trains by `trainer.max_steps`; refuse what cannot work with a stream."""
    from lab.data.local_files import local_data_files
    from lab.data.sources import interleave_sources

    data, trainer = cfg.data, cfg.trainer
    interleave = data.get("interleave")
    if not data.get("streaming"):
        if interleave:
            raise ConfigError("data.interleave mixes streams: it needs data.streaming=true")
        return
    reason = cfg.task.get("cannot_stream")
    if reason:  # the head's task YAML says why its data cannot stream
        module = str(cfg.task.module.get("_target_", "")).rsplit(".", 1)[-1]
        raise ConfigError(
            f"data.streaming=true: this head ({module}) {reason}, so it cannot stream; set "
            "data.streaming=false"
        )
    why = "data.streaming=true: the train stream repeats without epochs"
    max_steps = trainer.get("max_steps")
    if not isinstance(max_steps, int) or max_steps <= 0:
        raise ConfigError(
            f"{why}, so a run ends only at trainer.max_steps (now {max_steps}); give "
            "trainer.max_steps=<optimizer steps>"
        )
    interval = trainer.get("val_check_interval")
    if isinstance(interval, float) and interval == 1.0:
        # The default: lab.training.fit.streaming_validation validates once, at the end.
        interval = max_steps * int(trainer.get("accumulate_grad_batches") or 1)
    if not isinstance(interval, int) or isinstance(interval, bool):
        raise ConfigError(
            f"{why}, so trainer.val_check_interval={interval} (a share of an epoch) has no "
            f"meaning; give a number of batches, e.g. trainer.val_check_interval={max_steps}, "
            "or leave the default (validate at the end)"
        )
    batches = max_steps * int(trainer.get("accumulate_grad_batches") or 1)
    if interval > batches:
        raise ConfigError(
            f"trainer.val_check_interval={interval} batches is more than the {batches} the run "
            f"trains (trainer.max_steps={max_steps}): it would never validate"
        )
    every = trainer.get("check_val_every_n_epoch")
    if every not in (None, 1):
        raise ConfigError(
            f"{why}; trainer.check_val_every_n_epoch={every} would never validate: remove it"
        )
    limit = trainer.get("limit_train_batches")
    if limit not in (None, 1.0):
        raise ConfigError(
            f"{why}; trainer.limit_train_batches={limit} would restart the stream from its first "
            "row after that many batches: remove it and set trainer.max_steps"
        )
    if data.get("group_by_length"):
        raise ConfigError(
            "data.group_by_length=true needs every row's length before training, which a stream "
            "does not have; set data.group_by_length=false"
        )
    if OmegaConf.select(cfg, "task.module.class_weights") == "balanced":
        raise ConfigError(
            "task.module.class_weights=balanced counts the train split's labels before "
            "training, which a stream (data.streaming=true) cannot; give the weights as a list "
            "(a run without streaming writes the counted list to train.log and record.json)"
        )
    entries = OmegaConf.to_container(interleave, resolve=True) if interleave else None
    for index, source in enumerate(interleave_sources(entries)):  # type: ignore[arg-type]
        if source.path:
            # A missing path, an empty file...: named here, by its own key (s30e F3).
            local_data_files(source.path, source.hub_config, key=f"data.interleave[{index}].path")
