"""What `python -m lab.inspect` measures: a dataset's shape before anything trains.

The numbers: rows per split (as training splits them: carved and subsampled with the run
seed), empty and duplicate rows, rows of validation/test also in train (leakage: exact, and
after lower-casing and collapsing whitespace), label counts with the class weights
`n / (k * count)` and an imbalance warning, and token lengths under the model's tokenizer
(p50/p90/p95/p99/max, the share of rows longer than the configured maximum, a suggested
maximum).

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

The declaration sits beside, not inside, the data config: every data key is passed to the
data module's constructor, which would refuse one it does not know. A data module without a
declaration (a new head) falls back to every `*_column` key, each measured alone, with
`data.max_length` as the limit and no label; with no such key, to every text column.

Percentiles are nearest-rank (`numpy.percentile(..., method="inverted_cdf")`): each is a
length some row has. Lengths come from a seeded sample of at most `sample` rows per split
(0: every row); counts, duplicates, leakage and labels always use every row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lab.data.inspection_stats import (
    duplicates,
    label_balance,
    normalized,
    percentiles,
    shared_rows,
    suggested_max_length,
)
from lab.errors import DataError

if TYPE_CHECKING:
    from datasets import Dataset
    from omegaconf import DictConfig

IMBALANCE_RATIO = 3.0  # largest / smallest class count from which a warning is printed
SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class TextSpec:
    """One measured sequence: its columns (a pair when two or more) and how to read them."""

    name: str
    columns: tuple[str, ...]
    max_length: int | None
    max_length_key: str | None = None
    words: bool = False
    lang: str | None = None
    choices: str | tuple[str, ...] | None = None


def declared_columns(data_module: str) -> DictConfig | None:
    """The `conf/data/base/inspect/*.yaml` whose `data_module` is `data_module`, or None."""
    from omegaconf import DictConfig, OmegaConf

    from lab.config.paths import conf_dir

    for path in sorted((conf_dir() / "data" / "base" / "inspect").glob("*.yaml")):
        declared = OmegaConf.load(path)
        if isinstance(declared, DictConfig) and declared.get("data_module") == data_module:
            return declared
    return None


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
        specs.append(
            TextSpec(
                name=" + ".join(columns) + (" + choices" if choices else ""),
                columns=columns,
                max_length=data.get(limit_key) if limit_key else None,
                max_length_key=f"data.{limit_key}" if limit_key else None,
                words=bool(entry.get("words")),
                lang=data.get(entry.lang) if entry.get("lang") else None,
                choices=choices if isinstance(choices, str) or choices is None else tuple(choices),
            )
        )
    label_key = declared.get("label")
    return specs, (str(data[label_key]) if label_key and data.get(label_key) else None)


# ----------------------------------------------------------------------------- splits
def load_splits(data: DictConfig) -> tuple[dict[str, Dataset], list[str]]:
    """The splits as training makes them (`lab.data.splits.carve_splits`: a missing validation
    or test split carved from train with the seed, then `max_*_samples` subsets), and the
    names of the carved ones; without importing Lightning."""
    from lab.data.sources import load_source
    from lab.data.splits import carve_splits

    source = load_source(
        data.get("path"), data.get("hub_id"), data.get("hub_config"), data.get("hub_revision")
    )
    return carve_splits(
        source,
        dict(data.get("splits") or {name: name for name in SPLITS}),
        local=bool(data.get("path")),
        seed=int(data.get("seed") or 0),
        fractions={
            "test": float(data.get("test_fraction") or 0.1),
            "validation": float(data.get("val_fraction") or 0.1),
        },
        limits={
            "train": data.get("max_train_samples"),
            "validation": data.get("max_eval_samples"),
            "test": data.get("max_test_samples"),
        },
    )


# ----------------------------------------------------------------------------- numbers
def _cell_text(value: Any, spec: TextSpec) -> str:
    if isinstance(value, dict) and spec.lang:
        value = value.get(spec.lang)
    if isinstance(value, list):  # words, or chat messages ({role, content})
        return " ".join(str(v.get("content", "")) if isinstance(v, dict) else str(v) for v in value)
    return "" if value is None else str(value)


def _choices(row_index: int, dataset: Dataset, spec: TextSpec) -> list[str]:
    if spec.choices is None:
        return []
    if isinstance(spec.choices, str):  # one column holding a list of endings
        return [str(c) for c in dataset[row_index][spec.choices] or []]
    return [str(dataset[row_index][c] or "") for c in spec.choices]


def row_keys(dataset: Dataset, specs: Sequence[TextSpec]) -> list[str]:
    """Each row's text (every measured column, choices included), joined: duplicates and
    leakage compare these."""
    columns = sorted({c for s in specs for c in s.columns} | _choice_columns(specs))
    missing = [c for c in columns if c not in dataset.column_names]
    if missing:
        raise DataError(
            f"column(s) {', '.join(missing)} not in the data; columns present: "
            f"{', '.join(dataset.column_names)} (set data.<key>_column=...)"
        )
    spec_of = {c: s for s in specs for c in s.columns}
    table = {c: dataset.with_format("arrow")[c].to_pylist() for c in columns}
    default = specs[0]
    return [
        "\x1f".join(_cell_text(table[c][i], spec_of.get(c, default)) for c in columns)
        for i in range(len(dataset))
    ]


def _choice_columns(specs: Sequence[TextSpec]) -> set[str]:
    found: set[str] = set()
    for spec in specs:
        if isinstance(spec.choices, str):
            found.add(spec.choices)
        elif spec.choices:
            found.update(spec.choices)
    return found


def token_lengths(tokenizer: Any, dataset: Dataset, spec: TextSpec) -> list[int]:
    """Tokens per row of `spec` as the model sees them (special tokens included); with
    choices, the longest (first text, rest + choice) pair."""
    first = [_cell_text(v, spec) for v in dataset[spec.columns[0]]]
    if spec.words:
        words = [list(v or []) for v in dataset[spec.columns[0]]]
        return _lengths(tokenizer, words, None, is_split_into_words=True)
    rest = (
        [[_cell_text(dataset[c][i], spec) for c in spec.columns[1:]] for i in range(len(dataset))]
        if len(spec.columns) > 1
        else None
    )
    if spec.choices is None:
        pairs = [" ".join(p for p in row if p) for row in rest] if rest is not None else None
        return _lengths(tokenizer, first, pairs)
    longest = [0] * len(dataset)
    endings = [_choices(i, dataset, spec) for i in range(len(dataset))]
    for k in range(max((len(e) for e in endings), default=0)):
        rows = [i for i, e in enumerate(endings) if k < len(e)]
        prefix = [" ".join(p for p in rest[i] if p) if rest else "" for i in rows]
        pairs = [f"{p} {endings[i][k]}".strip() for p, i in zip(prefix, rows, strict=True)]
        for i, n in zip(rows, _lengths(tokenizer, [first[i] for i in rows], pairs), strict=True):
            longest[i] = max(longest[i], n)
    return longest


def _lengths(
    tokenizer: Any, texts: list[Any], pairs: list[str] | None, **options: Any
) -> list[int]:
    encoded = tokenizer(
        texts,
        pairs,
        return_attention_mask=False,
        return_token_type_ids=False,
        verbose=False,  # rows over the model's limit are what we are counting
        **options,
    )
    return [len(ids) for ids in encoded["input_ids"]]


def sample_rows(dataset: Dataset, size: int, seed: int) -> Dataset:
    """At most `size` rows (seeded; 0: all) for the length measurements."""
    if not size or size >= len(dataset):
        return dataset
    return dataset.shuffle(seed=seed).select(range(size))


def model_limit(tokenizer: Any, model_cfg: DictConfig) -> int | None:
    """The longest input the model takes, from its tokenizer or its config (no weights)."""
    from omegaconf import OmegaConf

    limits = [int(tokenizer.model_max_length)] if tokenizer.model_max_length < 1e6 else []
    config_limit = OmegaConf.select(model_cfg, "network.config.max_position_embeddings")
    if isinstance(config_limit, int):
        limits.append(config_limit)
    return min(limits) if limits else None


def inspect_data(cfg: DictConfig, tokenizer: Any, sample: int = 10_000) -> dict[str, Any]:
    """Every number of the inspection report (JSON-ready); `warnings` lists what needs action."""
    data = cfg.data
    specs, label_column = text_specs(data)
    splits, carved = load_splits(data)
    if not specs:  # nothing named: every column of text (or of chat messages)
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
    report: dict[str, Any] = {"splits": {}, "carved": carved, "model_max_length": limit}
    keys = {name: row_keys(dataset, specs) for name, dataset in splits.items()}
    lengths: dict[str, dict[str, list[int]]] = {spec.name: {} for spec in specs}
    for name, dataset in splits.items():
        measured = sample_rows(dataset, sample, seed)
        entry: dict[str, Any] = {
            "rows": len(dataset),
            "empty": sum(1 for key in keys[name] if not key.replace("\x1f", "").strip()),
            "duplicates": duplicates(keys[name]),
            "duplicates_normalized": duplicates([normalized(k) for k in keys[name]]),
            "lengths": {},
        }
        for spec in specs:
            values = token_lengths(tokenizer, measured, spec)
            lengths[spec.name][name] = values
            stats: dict[str, Any] = {"measured_rows": len(values), **percentiles(values)}
            if spec.max_length:
                over = sum(1 for v in values if v > spec.max_length)
                stats["truncated"] = over / len(values) if values else 0.0
            entry["lengths"][spec.name] = stats
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
    for spec in specs:
        train_stats = report["splits"]["train"]["lengths"][spec.name]
        suggested[spec.name] = (
            suggested_max_length(train_stats["p95"], limit) if spec.max_length else None
        )
        report["max_length"][spec.name] = {
            "key": spec.max_length_key,
            "current": spec.max_length,
            "suggested": suggested[spec.name],
        }
    report["labels"] = (
        label_balance(
            splits["train"][label_column], _label_names(data, splits["train"], label_column)
        )
        if label_column
        else {}
    )
    report["warnings"] = _warnings(report, carved)
    return {"report": report, "lengths": lengths, "specs": specs, "suggested": suggested}


def _label_names(data: DictConfig, train: Dataset, column: str) -> list[str] | None:
    names = data.get("label_names")
    if names:
        return [str(n) for n in names]
    feature = train.features.get(column)
    feature = getattr(feature, "feature", feature)  # a list of ClassLabel (NER tags)
    return list(feature.names) if hasattr(feature, "names") else None


def _warnings(report: dict[str, Any], carved: list[str]) -> list[str]:
    found = []
    labels = report["labels"]
    if labels.get("imbalance_ratio", 1.0) >= IMBALANCE_RATIO:
        found.append(
            f"imbalanced labels: the largest class has {labels['imbalance_ratio']:.1f}x the rows "
            "of the smallest; consider task.module.class_weights=balanced (weights above)"
        )
    for name, entry in report["splits"].items():
        if entry["empty"]:
            found.append(f"{name}: {entry['empty']} empty row(s)")
        if entry["duplicates"]:
            found.append(f"{name}: {entry['duplicates']} duplicate row(s)")
    for name, shared in report["leakage"].items():
        if shared["normalized"] and name not in carved:
            found.append(
                f"leakage: {shared['exact']} {name} row(s) also in train "
                f"({shared['normalized']} after normalising case and whitespace)"
            )
        elif shared["normalized"]:
            found.append(
                f"leakage: {shared['normalized']} row(s) of the carved {name} split "
                "repeat a train row (duplicates in the source)"
            )
    for name, entry in report["max_length"].items():
        share = report["splits"]["train"]["lengths"][name].get("truncated", 0.0)
        if share > 0.05:
            found.append(
                f"{entry['key']}={entry['current']} truncates {share:.0%} of train rows "
                f"({name}); suggested {entry['key']}={entry['suggested']}"
            )
    return found
