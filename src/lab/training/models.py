"""Build Hugging Face heads: from pretrained weights (Hub id or local dir) or from a config.

The head class (e.g. `transformers.AutoModelForSequenceClassification`) comes from the task
config; the weights come from the model config; the label maps come from the data. These
functions are Hydra partials completed by `lab.train.run`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from hydra.utils import get_class

from lab.config.model_config_keys import unexpected_argument_error
from lab.errors import ConfigError


def pretrained_head(head: str, name_or_path: str, **kwargs: Any) -> Any:
    """Load `head` with weights from a Hub id or a local directory (`model.pretrained`)."""
    if not name_or_path:
        raise ConfigError("model.pretrained is empty: give a Hub id or a local model directory")
    if _local_path(name_or_path) and not Path(name_or_path).expanduser().exists():
        # transformers would take it for a Hub id and word a repo-id error about it
        raise ConfigError(
            f"could not load model weights from '{name_or_path}': no such directory "
            "(moved or deleted?)"
        )
    try:
        return get_class(head).from_pretrained(name_or_path, **kwargs)  # type: ignore[attr-defined]
    except ValueError as err:
        refusal = no_such_head(head, err)
        if refusal is None:
            raise
        raise refusal from err
    except TypeError as err:  # a model.network key the model's class does not take
        refusal = unexpected_argument_error(err, _loaded_config(name_or_path))
        if refusal is None:
            raise
        raise refusal from err
    except OSError as err:
        raise ConfigError(
            f"could not load model weights from '{name_or_path}': {str(err).rstrip('.')}. "
            "Without network access, point model.pretrained at a local directory saved with "
            "save_pretrained."
        ) from err


def _loaded_config(name_or_path: str) -> Any:
    """The config of the model just loaded (from the cache or the folder); None if unread."""
    try:
        from transformers import AutoConfig

        return AutoConfig.from_pretrained(name_or_path)
    except Exception:  # the refusal names the key without the config's own keys
        return None


def _local_path(name_or_path: str) -> bool:
    """Whether `name_or_path` can only be a local path (absolute, `./`, `../`, `~`), not a
    Hub id such as `org/name`."""
    return os.path.isabs(name_or_path) or name_or_path.startswith(("./", "../", "~"))


def head_from_config(head: str, config: Any, pretrained: str | None = None, **kwargs: Any) -> Any:
    """Build `head` with random weights from a `PretrainedConfig` (tiny test models).

    With `pretrained` (the model config's `model.pretrained`: a run's export, a saved model)
    the weights and their config are loaded from there instead (`pretrained_head`): a tiny
    model trained by one run starts the next (an SFT export under DPO).
    """
    if pretrained:
        return pretrained_head(head, pretrained, **kwargs)
    if kwargs.pop("quantization_config", None) is not None:
        raise ConfigError(
            "a quantized base (peft=qlora) needs pretrained weights (model.pretrained)"
        )
    for key, value in kwargs.items():
        setattr(config, key, value)
    try:
        return get_class(head).from_config(config)  # type: ignore[attr-defined]
    except ValueError as err:
        refusal = no_such_head(head, err)
        if refusal is None:
            raise
        raise refusal from err


def no_such_head(head: str, error: ValueError) -> ConfigError | None:
    """transformers' "Unrecognized configuration class ... for this kind of AutoModel" (a
    model family without this head: GPT-2 has no multiple-choice head) as one line naming the
    family, the head and the families that have it; None for any other ValueError."""
    found = re.search(
        r"Unrecognized configuration class <class '[\w.]+\.(\w+)Config'>.*?"
        r"Model type should be one of (.*?)\.?$",
        str(error),
        re.S,
    )
    if found is None:
        return None
    families = [name.removesuffix("Config") for name in found[2].replace(" ", "").split(",")]
    shown = ", ".join(families[:12]) + (
        f" and {len(families) - 12} more" if len(families) > 12 else ""
    )
    return ConfigError(
        f"{found[1]} models have no {head.rsplit('.', 1)[-1]} head in transformers; pick a "
        f"model of a family that has one ({shown})"
    )
