"""What a head declares for `lab.inspect` (`conf/data/base/inspect/<head>.yaml`, picked by the
data config's `_target_`), and the functions those declarations name: the head's label rules
(`labels:`), its classes for the balance table (`classes:`), its row reader (`rows:`), its
own loader of a file format (`source:`) and,
for `lab.validate`, the check of a head whose columns depend on a setting (`columns:`), what
a split lacking the columns its config names holds instead (`hint:`) and the check of a split
file's schema (`schema:`)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datasets import Dataset
    from omegaconf import DictConfig

    from lab.data.inspection_rows import RowReader

#: A head's label rules for lab.inspect: (data config, splits, class names) -> warnings.
LabelChecks = Callable[["DictConfig", "dict[str, Dataset]", "Sequence[str] | None"], list[str]]


def declared_columns(data_module: str) -> DictConfig | None:
    """The `conf/data/base/inspect/*.yaml` whose `data_module` is `data_module`, or None."""
    return next((d for d in _declarations() if d.get("data_module") == data_module), None)


@functools.cache
def _declarations() -> tuple[DictConfig, ...]:
    """Every head's declaration, read once per process (lab.train asks at start-up, through
    `lab.validate`'s column rule; lab.inspect several times)."""
    from omegaconf import DictConfig, OmegaConf

    from lab.config.paths import conf_dir

    found = []
    for path in sorted((conf_dir() / "data" / "base" / "inspect").glob("*.yaml")):
        declared = OmegaConf.load(path)
        if isinstance(declared, DictConfig):
            OmegaConf.set_readonly(declared, True)
            found.append(declared)
    return tuple(found)


def label_checks(data: DictConfig) -> LabelChecks | None:
    """The function the data module's inspect declaration names under `labels:` (kept with
    the head, e.g. `lab.tasks.text_classification.inspection.label_warnings`): the warnings
    its label rules give the splits, as training applies them; None where none is declared."""
    from hydra.utils import get_method

    declared = declared_columns(str(data.get("_target_") or ""))
    if declared is None or not declared.get("labels"):
        return None
    return get_method(str(declared.labels))  # type: ignore[no-any-return]


def train_classes(data: DictConfig, train: Dataset, column: str) -> Any:
    """What the function the data module's inspect declaration names under `classes:` gives
    (`lab.tasks.text_classification.inspection.train_classes`): training's class names and
    each stored label's class, for the balance table; None where none is declared."""
    from hydra.utils import get_method

    declared = declared_columns(str(data.get("_target_") or ""))
    if declared is None or not declared.get("classes"):
        return None
    return get_method(str(declared.classes))(data, train, column)


def columns_rule(data: DictConfig) -> Any:
    """The function the data module's inspect declaration names under `columns:` (e.g.
    `lab.tasks.sft.chat_columns.columns_problem`: a chat format's columns): `(data,
    {split: columns}) -> (split, problem) | None`, for `lab.validate`; None where none is
    declared."""
    from hydra.utils import get_method

    declared = declared_columns(str(data.get("_target_") or ""))
    if declared is None or not declared.get("columns"):
        return None
    return get_method(str(declared.columns))


def schema_rule(data: DictConfig) -> Any:
    """The function the data module's inspect declaration names under `schema:` (e.g.
    `lab.tasks.seq2seq_languages.schema_problem`: a translation column's languages): `(data,
    file) -> problem | None`, read from a split file's schema, for `lab.validate`; None where
    none is declared."""
    from hydra.utils import get_method

    declared = declared_columns(str(data.get("_target_") or ""))
    if declared is None or not declared.get("schema"):
        return None
    return get_method(str(declared.schema))


def columns_hint(data: DictConfig, columns: Sequence[str]) -> str:
    """What the function the data module's inspect declaration names under `hint:` says of a
    split lacking the columns its data config names (`columns`: the split's own), e.g.
    `lab.tasks.dpo.columns.sft_hint`: chat data given to DPO belongs to SFT. The data module
    gives the same hint when it refuses the split, so `lab.validate`'s pre-flight refusal says
    what training would; "" where none is declared or it has nothing to say."""
    from hydra.utils import get_method

    declared = declared_columns(str(data.get("_target_") or ""))
    if declared is None or not declared.get("hint"):
        return ""
    return str(get_method(str(declared.hint))(list(columns)))


def own_source(data: DictConfig) -> Any:
    """The splits as the head's own loader reads `data.path` (the function its inspect
    declaration names under `source:`, e.g. SQuAD JSON flattened as training flattens it),
    or None where it declares none or the loader finds nothing of its format there."""
    from hydra.utils import get_method

    declared = declared_columns(str(data.get("_target_") or ""))
    if declared is None or not declared.get("source"):
        return None
    return get_method(str(declared.source))(data.get("path"))


def row_reader(data: DictConfig, tokenizer: Any, train: Dataset) -> RowReader | None:
    """The `RowReader` the data module's inspect declaration names under `rows:` (a class kept
    with its head, e.g. `lab.tasks.sft.inspection.ChatRows`), or None."""
    from hydra.utils import get_class

    declared = declared_columns(str(data.get("_target_") or ""))
    if declared is None or not declared.get("rows"):
        return None
    reader = get_class(str(declared.rows))
    return reader(data, tokenizer, train)  # type: ignore[no-any-return]


# ----------------------------------------------------------------------------- numbers
