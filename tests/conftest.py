"""Shared test setup: offline, hermetic caches, and a helper to compose lab's real config."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SENTIMENT = FIXTURES / "sentiment"

# No test touches the network or a real W&B account.
os.environ.update(
    HF_HUB_OFFLINE="1",
    HF_DATASETS_OFFLINE="1",
    TRANSFORMERS_OFFLINE="1",
    WANDB_MODE="disabled",
    WANDB_SILENT="true",
    TOKENIZERS_PARALLELISM="false",
)


@pytest.fixture(scope="session", autouse=True)
def _datasets_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One datasets cache per test session, so runs never depend on a developer's cache."""
    import datasets.config

    cache = tmp_path_factory.mktemp("hf_datasets_cache")
    previous = datasets.config.HF_DATASETS_CACHE
    datasets.config.HF_DATASETS_CACHE = cache
    os.environ["HF_DATASETS_CACHE"] = str(cache)
    yield
    datasets.config.HF_DATASETS_CACHE = previous


# Overrides that make a tiny, fast run on the fixture sentiment data.
TINY_FIXTURE_RUN = [
    "model=tiny_bert",
    "data=csv",
    f"data.path={SENTIMENT}",
    "data.text_column=review",
    "data.label_column=sentiment",
    "data.batch_size=16",
    "logger=csv",
    "trainer.max_epochs=2",
    "trainer.log_every_n_steps=1",
]


@pytest.fixture
def compose_cfg(tmp_path: Path) -> Callable[..., object]:
    """Compose `conf/train.yaml` like the CLI does, with the run directory under tmp_path."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    from lab.paths import conf_dir
    from lab.resolvers import register_resolvers

    register_resolvers()

    def _compose(*overrides: str, output_dir: Path | None = None) -> object:
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            cfg = compose("train", overrides=list(overrides), return_hydra_config=True)
        HydraConfig.instance().set_config(cfg)
        with open_dict(cfg):
            cfg.paths.output_dir = str(output_dir or tmp_path / "run")
            del cfg["hydra"]
        return cfg

    return _compose
