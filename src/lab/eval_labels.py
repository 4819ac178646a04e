"""The class names `lab.eval` scores under: the model's, and the names other data gives its ids.

A head whose data module learns class names from the data declares `task.pin_label_names`:
on other data (and on the run's own train or validation split, read again) `data.label_names`
becomes the model's names, so labels that name classes (strings, a `ClassLabel`) are read as
the model's class ids by name, and the head's metrics count the model's classes.

Integer labels carry no names of their own: the names that other data gives its ids (a
`data.label_names=` on the command line, or those of the data config chosen with `data=`) are
noted here before the pin replaces them, and reach the head's data module as
`Evaluation.data_labels`; its label classes (`lab.tasks.text_classification.label_classes`,
by `lab.data.label_names.evaluated_id_names`) map those ids to the model's by name, warn
where the names are worded otherwise, refuse names that contradict the model's, and say how
integer labels are read where the data names none. The run's own data notes nothing: its
labels are read as training read them, without a word.
"""

from __future__ import annotations

import json
from typing import Any

from omegaconf import DictConfig, open_dict

from lab.run_dir.runs import TrainedRun

#: Key of an evaluation config holding the class names other data gives its ids (in id order;
#: an empty list where it names none); absent on the run's own data.
DATA_LABELS = "eval_data_labels"


def pin_label_names(cfg: DictConfig, run: TrainedRun, data_overrides: list[str]) -> None:
    """Set `cfg.data.label_names` to the model's class names where the head pins them (see the
    module), first noting the names the other data given (`data_overrides`, not empty for
    other data) gives its ids."""
    if not cfg.task.get("pin_label_names") or cfg.data.get("problem_type") == "regression":
        return
    names = model_label_names(run)
    if not names:
        return
    if _other_labels(data_overrides):
        with open_dict(cfg):
            cfg[DATA_LABELS] = _data_side_names(cfg.data, data_overrides)
    cfg.data.label_names = names
    cfg.data.num_labels = None


def _other_labels(data_overrides: list[str]) -> bool:
    """Whether `data_overrides` make the labels read other data's: another data config, source
    (`SOURCE_KEYS`: path, Hub id, splits) or label column or names. `data.max_length=16` alone
    reads the run's own labels, as training read them: no note."""
    from lab.eval_results import SOURCE_KEYS

    keys = {o.split("=", 1)[0].lstrip("+~") for o in data_overrides}
    other = {"data", *(f"data.{k}" for k in (*SOURCE_KEYS, "label_column", "label_names"))}
    return any(key in other or key.startswith("data.splits.") for key in keys)


def _data_side_names(data: DictConfig, data_overrides: list[str]) -> list[str]:
    """The class names the other data names its ids with: `data.label_names` as given now, or
    the data config's chosen with `data=`; none where neither was given (the run's own
    `data.label_names`, which `data.path=` alone keeps, are the model's names already)."""
    keys = {o.split("=", 1)[0].lstrip("+") for o in data_overrides}
    if not keys & {"data", "data.label_names"}:
        return []
    given: Any = data.get("label_names")
    return [str(name) for name in given or ()]


def data_labels_of(cfg: DictConfig) -> tuple[str, ...] | None:
    """`Evaluation.data_labels` of the evaluation `cfg` describes: the names noted by
    `pin_label_names` (() where the other data names none); None on the run's own data."""
    noted = cfg.get(DATA_LABELS)
    return None if noted is None else tuple(str(name) for name in noted)


def model_label_names(run: TrainedRun) -> list[str] | None:
    """The exported model's class names in id order (`id2label` of its config.json); None
    where it has none (no export, or a head without classes)."""
    config_path = run.model_dir / "config.json"
    if not config_path.is_file():
        return None
    id2label = json.loads(config_path.read_text()).get("id2label") or {}
    return [id2label[str(i)] for i in range(len(id2label))] or None
