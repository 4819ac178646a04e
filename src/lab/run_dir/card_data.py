"""What a model card (`lab.run_dir.model_card`) says of the run's data and of the class its
`f1_positive` scores.

* `data_line`: the card's **Data** line: the local path or Hub id, with the dataset's
  configuration (`data.hub_config`: for XNLI or WikiANN, one per language, the language the
  model was trained on) and, for a Hub id, the revision (`data.hub_revision`).
* `data_metadata`: the Hub's metadata on the data, for the card's front matter: `datasets`
  (Hub dataset ids only: a local path names nothing on the Hub) and `model-index`, the test
  metrics with the dataset, its configuration and revision (`huggingface_hub`'s `EvalResult`
  writes the Hub's format).
* `metric_cell` / `metric_name`: a metric's name in the card's results table / metadata:
  `f1_positive` (the F1 of label id 1) names that class (`class_note`), whose place in the
  sorted label values a name like "positive" does not tell (`负面`, "negative", sorts after
  `正面`).
* `read_id2label`: the label names of an exported model (its `config.json`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from omegaconf import DictConfig

# The Hub's metric ids (the `evaluate` library's) for lab's own names where they differ.
HUB_METRIC_TYPES = {"acc": "accuracy", "mcc": "matthews_correlation"}
POSITIVE = "f1_positive"


def data_line(cfg: DictConfig) -> str:
    """The card's data: `data.path` or `data.hub_id` (`?` without either), then in brackets
    the configuration and, for a Hub id, the revision where set."""
    path, hub_id = cfg.data.get("path"), cfg.data.get("hub_id")
    source = path or hub_id or "?"
    details = []
    if cfg.data.get("hub_config"):
        details.append(f"configuration {cfg.data.hub_config}")
    if not path and hub_id and cfg.data.get("hub_revision"):  # a local folder has no revision
        details.append(f"revision {cfg.data.hub_revision}")
    return f"{source} ({', '.join(details)})" if details else str(source)


def data_metadata(
    cfg: DictConfig,
    model_name: str,
    metrics: Mapping[str, float],
    id2label: Mapping[int, str] | None = None,
) -> str:
    """Front-matter lines (YAML, each ending in a line break) on a Hub dataset's run: its id
    under `datasets`, and a `model-index` of `model_name`'s test metrics (losses aside) on it,
    where the head has a Hub task; "" for data that is no Hub id."""
    import yaml

    path, hub_id = cfg.data.get("path"), cfg.data.get("hub_id")
    if path or not hub_id:
        return ""
    lines = yaml.safe_dump({"datasets": [str(hub_id)]}, allow_unicode=True, sort_keys=False)
    task = str(cfg.task.get("pipeline_tag") or "")
    tested = {k: v for k, v in sorted(metrics.items()) if _tested_metric(k)}
    if not task or not tested:
        return lines
    from huggingface_hub import EvalResult
    from huggingface_hub.repocard_data import eval_results_to_model_index

    config, revision = cfg.data.get("hub_config"), cfg.data.get("hub_revision")
    dataset = f"{hub_id} ({config})" if config else str(hub_id)
    results = [
        EvalResult(
            task_type=task,
            dataset_type=str(hub_id),
            dataset_name=dataset,
            dataset_config=str(config) if config else None,
            dataset_revision=str(revision) if revision else None,
            metric_type=HUB_METRIC_TYPES.get(key.split("/", 1)[1], key.split("/", 1)[1]),
            metric_value=float(value),
            metric_name=metric_name(key, id2label),
        )
        for key, value in tested.items()
    ]
    index = eval_results_to_model_index(model_name, results)
    return lines + yaml.safe_dump({"model-index": index}, allow_unicode=True, sort_keys=False)


def _tested_metric(key: str) -> bool:
    stage, _, name = key.partition("/")
    return stage == "test" and bool(name) and name != "loss"


def metric_name(key: str, id2label: Mapping[int, str] | None) -> str:
    """`key` as the card's metadata names it: `key` and its `class_note`."""
    return key + class_note(key, id2label)


def metric_cell(key: str, id2label: Mapping[int, str] | None) -> str:
    """`key` in the card's results table: in backticks, with its `class_note` (a `|` in a
    label name escaped: it would end the cell)."""
    return f"`{key}`" + class_note(key, id2label).replace("|", "\\|")


def class_note(key: str, id2label: Mapping[int, str] | None) -> str:
    """` (class 1: 负面)` after `f1_positive`, the F1 of label id 1, of a two-class model
    whose labels `id2label` names; "" after any other metric."""
    if key.rpartition("/")[2] != POSITIVE or not id2label or len(id2label) != 2:
        return ""
    return f" (class 1: {id2label.get(1, '1')})"


def read_id2label(model_dir: Path | None) -> dict[int, str] | None:
    """The label names of the exported model in `model_dir` (its `config.json`), by id; None
    where there is no such file or it names no labels."""
    config = model_dir / "config.json" if model_dir else None
    if config is None or not config.is_file():
        return None
    try:
        labels = json.loads(config.read_text(encoding="utf-8")).get("id2label")
    except (OSError, ValueError):
        return None
    return {int(k): str(v) for k, v in labels.items()} if labels else None
