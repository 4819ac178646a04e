"""What `python -m lab.inspect` measures: a dataset's shape before anything trains.

The numbers: rows per split (as training splits them: carved and subsampled with the run
seed), empty and duplicate rows, rows of validation/test also in train (leakage: exact, and
after lower-casing and collapsing whitespace), label counts with the class weights
`n / (k * count)` and an imbalance warning, every split's rows of each of train's classes
(`label_counts`; the classes a validation or test split lacks, `classes_missing`, warned:
`lab.data.inspection_classes`), and token lengths under the model's tokenizer
(p50/p90/p95/p99/max, the share of rows longer than the configured maximum, a suggested
maximum), the share of the unknown token among the measured tokens (`unknown_tokens`, where
the tokenizer has one text can become: `lab.data.inspection_tokens`; for a head read by rows,
over the ids its reader encodes), and rows whose label is hidden (-1) or empty in any split
(`label_gaps`).

**Which columns.** Each head's data module declares what to measure in
`conf/data/base/inspect/<head>.yaml`, found by its `data_module` (the data config's
`_target_`). Entries name *data keys*, not columns, so `data.text_column=review` is followed:

    data_module: lab.tasks.question_answering.data.QuestionAnsweringDataModule
    sequences:          # each is tokenized as the head does, and measured on its own
      - columns: [question_column, context_column]   # one text, or a pair (the rest joined)
        max_length: max_length     # the key of its length limit; null: none (packed LM)
        words: false               # true: a list of words (is_split_into_words)
        lang: null                 # a key naming the language of a {lang: text} cell
        choices: null              # a key naming endings: each is paired, the longest counts
    label: label_column            # the key of the label column; null: none
    labels: null                   # the head's label rules: a function (data, splits, names)
                                   # -> warnings, training's refusals and warnings in its words
    windows: null                  # a windowing head's lines on what its windows lose: a
                                   # function (data, splits, tokenizer, task, sample) -> warnings
    empty_when: all                # `any`: a row is empty when any measured text is (seq2seq)

The declaration sits beside, not inside, the data config: every data key is passed to the
data module's constructor, which would refuse one it does not know. A data module without a
declaration (a new head) falls back to every `*_column` key, each measured alone, with
`data.max_length` as the limit and no label; with no such key, to every text column.

**Rows read by the head.** A head whose rows are not texts in columns (a chat: `messages`,
prompt/completion or Alpaca rows; a preference pair) declares `rows:` instead of `sequences`:
the dotted path of a `RowReader` (`lab.data.inspection_rows`) kept with the head
(`lab.tasks.sft.inspection.ChatRows`, `lab.tasks.dpo.inspection.PairRows`), which reads,
renders and tokenizes a row with the head's own functions, so what is measured is what
training sees:

    rows: lab.tasks.sft.inspection.ChatRows

Such a head also reports, per split: `left_out`, rows training leaves out or refuses before
tokenizing (an empty answer, a pair that prefers nothing, a row it cannot read), counted over
every row; per sequence with a limit, `dropped`, the share of measured rows whose prompt alone
has `max_length` tokens or more (no answer token fits: `data.on_overlong` drops them or stops),
and `truncated` counts only the other rows; and `facts`, what the reader notes per row (turns,
messages per role, the share of pairs whose chosen side is the longer). A reader that gives each
row's labels (SFT: `targets_rule` says which tokens) adds per split `targets`, the measured rows
training keeps, their tokens (cut at `max_length`), how many are targets (label not -100) and
their share; and `targets.examples` of the report holds the first two such train rows as text
runs marked target or not, with their counts.

Duplicates and leakage leave out the rows training's leak line leaves out (blank rows, and
rows under a head's `leak_min_words`): one rule, `lab.data.counted_rows`.

Percentiles are nearest-rank (`numpy.percentile(..., method="inverted_cdf")`): each is a
length some row has. Lengths come from a seeded sample of at most `sample` rows per split
(0: every row); counts, duplicates, leakage and labels always use every row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lab.config.model_rules import positions_problem
from lab.data.column_refusal import column_keys
from lab.data.counted_rows import counted_keys, fewest_words
from lab.data.inspection_classes import inspect_labels
from lab.data.inspection_columns import require_label_column
from lab.data.inspection_hooks import declared_columns, label_checks, own_source, row_reader
from lab.data.inspection_places import PlacedSplits, in_file_order, place
from lab.data.inspection_rows import (
    ReadSplit,
    TextSpec,
    read_split,
    require_columns,
    row_keys,
)
from lab.data.inspection_stats import (
    block_size,
    duplicates,
    empty_rows,
    length_stats,
    normalized,
    packed_blocks,
    sample_indices,
    shared_rows,
    suggested_max_length,
    summarize_facts,
)
from lab.data.inspection_tokens import (
    target_example,
    target_stats,
    token_count,
    token_lengths,
    word_chars_limit,
)
from lab.data.inspection_warnings import warnings_of
from lab.errors import DataError

if TYPE_CHECKING:
    from omegaconf import DictConfig

SPLITS = ("train", "validation", "test")


def text_specs(data: DictConfig) -> tuple[list[TextSpec], str | None]:
    """The sequences to measure and the label column of the data config `data`."""
    declared = declared_columns(str(data.get("_target_") or ""))
    if declared is None:  # a head without a declaration: every *_column key, alone
        keys = [str(k) for k in data if str(k).endswith("_column") and data.get(str(k))]
        limit = data.get("max_length")
        specs = [
            TextSpec(str(data[k]), (str(data[k]),), limit, "data.max_length" if limit else None)
            for k in keys
        ]
        return specs, None
    specs = []
    for entry in declared.get("sequences") or []:
        columns = tuple(str(data[k]) for k in entry.columns if data.get(k))
        if not columns:
            continue
        limit_key = entry.get("max_length")
        choices = data.get(entry.choices) if entry.get("choices") else None
        lang = data.get(entry.lang) if entry.get("lang") else None
        # Translation pairs read both sides from one column: the language names each side.
        side = f"[{lang}]" if lang else ""
        specs.append(
            TextSpec(
                name=" + ".join(columns) + side + (" + choices" if choices else ""),
                columns=columns,
                max_length=data.get(limit_key) if limit_key else None,
                max_length_key=f"data.{limit_key}" if limit_key else None,
                words=bool(entry.get("words")),
                lang=lang,
                choices=choices if isinstance(choices, str) or choices is None else tuple(choices),
                windowed=bool(entry.get("windowed")),
                packed=block_size(data) if entry.get("packed") else None,
            )
        )
    label_key = declared.get("label")
    return specs, (str(data[label_key]) if label_key and data.get(label_key) else None)


def label_unit(data: DictConfig) -> str:
    """What the balance table counts: `row`, or the unit the head declares (`tag`)."""
    declared = declared_columns(str(data.get("_target_") or ""))
    return str(declared.get("label_unit") or "row") if declared is not None else "row"


# ----------------------------------------------------------------------------- splits
def load_splits(data: DictConfig, columns: Sequence[str] = ()) -> tuple[PlacedSplits, list[str]]:
    """The splits as training makes them (`lab.data.splits.carve_splits`: a missing validation
    or test split carved from train with the seed, then `max_*_samples` subsets), with each
    row's place in its file (`lab.data.inspection_places`), and the names of the carved ones;
    without importing Lightning. `columns` the data must have are checked first: a file
    without them is refused for that, not for being too small to carve from."""
    from lab.data.dropped_labels import drop_setting
    from lab.data.sources import load_source, origins_of
    from lab.data.splits import placed_splits, split_seed_of, stratifies

    mapping = dict(data.get("splits") or {name: name for name in SPLITS})
    source = own_source(data) or load_source(
        data.get("path"),
        data.get("hub_id"),
        data.get("hub_config"),
        data.get("hub_revision"),
        mapping,
        data.get("csv_quoting") or "csv",
        data.get("csv_column_names"),
    )
    ours = {str(theirs): str(name) for name, theirs in mapping.items() if theirs}
    keys = column_keys(data)
    origins = origins_of(source)
    # train first, as training reads them; a Hub dataset's other splits (unlabelled) unread
    for name in sorted(set(ours) & set(source), key=lambda n: SPLITS.index(ours[n])):
        origin = origins.get(name)  # the file, named first as training names it
        where = origin.describe() if origin is not None else ""
        require_columns(source[name], columns, ours[name], keys, where=where)
    splits, carved, places = placed_splits(
        source,
        dict(data.get("splits") or {name: name for name in SPLITS}),
        local=bool(data.get("path")),
        seed=split_seed_of(data),
        fractions={
            "test": float(data.get("test_fraction") or 0.1),
            "validation": float(data.get("val_fraction") or 0.1),
        },
        limits={
            "train": data.get("max_train_samples"),
            "validation": data.get("max_eval_samples"),
            "test": data.get("max_test_samples"),
        },
        drop_labels=drop_setting(data.get("label_column"), data.get("drop_labels")),
        label_column=data.get("label_column"),  # labeled splits left unread: training's warning
        stratify_by=data.get("label_column") if stratifies(data.get("stratify"), data) else None,
    )
    return in_file_order(splits, places), carved


def model_limit(tokenizer: Any, model_cfg: DictConfig) -> int | None:
    """The longest input the model takes, from its tokenizer or its config (no weights): the
    tokens its position table takes, as training counts them (`lab.model_positions`)."""
    from lab.config.model_rules import built_model_config
    from lab.model_positions import usable_positions

    limits = [int(tokenizer.model_max_length)] if tokenizer.model_max_length < 1e6 else []
    config = built_model_config(model_cfg)
    if config is not None and (usable := usable_positions(config)) is not None:
        limits.append(usable)
    return min(limits) if limits else None


def capped_share(
    train: Sequence[int], suggested: int | None, limit: int | None, spec: TextSpec, left: bool
) -> dict[str, Any]:
    """`{"still_truncated": share}` where the suggested maximum is the model's `limit`, the
    train p95 being longer: the share of measured train rows (`train`: their lengths) that
    the suggestion still cuts (the advice is not a fix: the model cannot read them whole),
    with `"left_cut": true` where `data.truncation_side=left` would keep their ends (`left`);
    {} otherwise, and for windowed sequences (split, not cut)."""
    if spec.windowed or suggested is None or suggested != limit or not train:
        return {}
    over = sum(1 for length in train if length > suggested)
    return {"still_truncated": over / len(train), "left_cut": left} if over else {}


def head_data(cfg: DictConfig) -> DictConfig:
    """`cfg.data`, its `_target_` the data module that reads it (a task's own, as with
    task=masked_lm: `task.data_module`), as training instantiates it; lab.inspect and
    lab.train's split notes read the head's declaration by it."""
    own = (cfg.task.get("data_module") or {}).get("_target_")
    if not own:
        return cfg.data
    from omegaconf import open_dict

    data = cfg.data.copy()
    with open_dict(data):
        data._target_ = own
    return data


def inspect_data(cfg: DictConfig, tokenizer: Any, sample: int = 10_000) -> dict[str, Any]:
    """Every number of the inspection report (JSON-ready); `warnings` lists what needs action.
    A split without a column the config names is refused first, as training refuses it
    (`lab.data.inspection_columns`)."""
    from lab.config.data_rules import check_local_data

    data = head_data(cfg)  # a task's own data module reads the data (task=masked_lm)
    specs, label_column = text_specs(data)
    # lab.train's own rule, before anything loads: a split file without a column the config
    # names (GLUE's test.tsv without labels) is refused in its words, the file first
    check_local_data(cfg)
    # Heads that read rows their own way (`rows:` in their inspect declaration: chat,
    # preferences, ...) check their columns themselves; the others' named columns first.
    declared = declared_columns(str(data.get("_target_") or ""))
    plain = declared is None or not declared.get("rows")
    splits, carved = load_splits(
        data, sorted({c for s in specs for c in s.columns}) if plain else ()
    )
    if label_column:  # a split without it is refused (lab.data.inspection_columns)
        require_label_column(splits, label_column, column_keys(data))
    reader = row_reader(data, tokenizer, splits["train"])
    if reader is not None:
        specs = reader.specs
    elif not specs:  # nothing named: every column of text (or of chat messages)
        specs = [
            TextSpec(str(c), (str(c),), data.get("max_length"), "data.max_length")
            for c, feature in splits["train"].features.items()
            if getattr(feature, "dtype", None) in ("string", "large_string")
            or isinstance(feature, list)
        ]
    if not specs:
        raise DataError(
            f"no text column to inspect; columns present: {', '.join(splits['train'].column_names)}"
        )
    seed = int(data.get("seed") or 0)
    limit = model_limit(tokenizer, cfg.model)
    # a row is empty when any measured text is (`empty_when: any`), else when all are
    empty_any = reader is None and declared is not None and declared.get("empty_when") == "any"
    report: dict[str, Any] = {
        "splits": {},
        "carved": carved,
        "model_max_length": limit,
        "positions": positions_problem(cfg.model, cfg.data),
        "unknown_token": tokenizer.unk_token if token_count(tokenizer) else None,
        "word_chars_limit": word_chars_limit(tokenizer),
        # whether the head takes `task.module.class_weights` (the imbalance warning's advice)
        "class_weights_option": "class_weights" in (cfg.task.get("module") or {}),
        # what the balance table counts: rows, or a head's own unit (tags: one per word)
        "label_unit": label_unit(data),
    }
    keys: dict[str, list[str]] = {}  # the rows duplicates and leaks count: training's rule
    fewest = fewest_words(data)
    lengths: dict[str, dict[str, list[int]]] = {spec.name: {} for spec in specs}
    for name, dataset in splits.items():
        indices = sample_indices(len(dataset), sample, seed)
        count = token_count(tokenizer)
        if reader is not None:  # it tokenizes as the head does; `count` sees those ids
            found = read_split(reader, name, dataset, indices, count)
        else:
            measured = dataset if len(indices) == len(dataset) else dataset.select(indices)
            found = ReadSplit(keys=row_keys(dataset, specs, name))
            found.lengths = {s.name: token_lengths(tokenizer, measured, s, count) for s in specs}
        keys[name] = counted_keys(found.keys, fewest)
        entry: dict[str, Any] = {
            "rows": len(dataset),
            "empty": empty_rows(found.keys, empty_any),
            "duplicates": duplicates(keys[name]),
            "duplicates_normalized": duplicates([normalized(k) for k in keys[name]]),
            "lengths": {},
        }
        if count is not None:
            entry["unknown_tokens"] = count.share()
        for spec in specs:
            lengths[spec.name][name] = found.lengths[spec.name]
            prompts = found.prompts if reader is not None else None
            entry["lengths"][spec.name] = length_stats(
                found.lengths[spec.name], prompts, spec.max_length
            )
            if spec.packed:  # masked LM: what training trains on is blocks, not rows
                entry["blocks"] = packed_blocks(found.lengths[spec.name], len(dataset), spec.packed)
        if reader is not None:
            entry["left_out"] = {
                reason: {
                    "rows": len(left),
                    "training": reader.left_out[reason],
                    "first": f"{place(splits, name, left[0][0])}: {left[0][1]}",
                }
                for reason, left in found.left_out.items()
            }
            entry["facts"] = summarize_facts(found.facts)
            if reader.targets_rule:
                entry["targets"] = target_stats(found)
                if name == "train":
                    report["targets"] = {
                        "rule": reader.targets_rule,
                        "examples": [
                            target_example(tokenizer, name, row, targets)
                            for row, targets in found.examples
                        ],
                    }
        report["splits"][name] = entry
    train_keys = set(keys["train"])
    train_normalized = {normalized(k) for k in keys["train"]}
    report["leakage"] = {
        name: {
            "exact": shared_rows(keys[name], train_keys),
            "normalized": shared_rows([normalized(k) for k in keys[name]], train_normalized),
        }
        for name in ("validation", "test")
    }
    suggested: dict[str, int | None] = {}
    report["max_length"] = {}
    # where the suggestion is the model's limit, the advice of a left cut for a head that has it
    left = "truncation_side" in data and data.get("truncation_side") != "left"
    for spec in specs:
        train_stats = report["splits"]["train"]["lengths"][spec.name]
        p95 = train_stats.get("p95")  # none when no train row could be measured
        suggested[spec.name] = (
            suggested_max_length(p95, limit) if spec.max_length and p95 is not None else None
        )
    for spec in specs:  # sequences under one limit (a pair's sides) share the largest
        shared = [suggested[s.name] for s in specs if s.max_length_key == spec.max_length_key]
        if suggested[spec.name] is not None:
            suggested[spec.name] = max(v for v in shared if v is not None)
        report["max_length"][spec.name] = {
            "key": spec.max_length_key,
            "current": spec.max_length,
            "suggested": suggested[spec.name],
            **({"windowed": True} if spec.windowed else {}),  # QA: split, not cut
            **capped_share(lengths[spec.name]["train"], suggested[spec.name], limit, spec, left),
        }
    report["labels"] = {}
    names = None
    if label_column:  # train's balance; every split's gaps and rows of each class
        names = inspect_labels(data, splits, label_column, report)
    # The head's own label rules (training's refusals and warnings), listed first: training
    # stops on them. A head that declares a label column needs it named; one without (QA,
    # whose answers are spans in their context) checks its own columns.
    checks = label_checks(data)
    declared = declared_columns(str(data.get("_target_") or ""))
    needs_label = declared is not None and bool(declared.get("label"))
    head = []
    if checks is not None and (label_column is not None or not needs_label):
        head = checks(data, splits, names)
    windows = declared.get("windows") if declared is not None else None
    if windows:  # a windowing head's answers its windows cannot hold (QA), in training's words
        from hydra.utils import get_method

        head += get_method(str(windows))(data, splits, tokenizer, cfg.task, sample)
    report["warnings"] = head + warnings_of(report, carved)
    return {"report": report, "lengths": lengths, "specs": specs, "suggested": suggested}
