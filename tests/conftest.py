"""Shared test setup: offline, hermetic caches, and a helper to compose lab's real config."""

from __future__ import annotations

import os
import subprocess
import sys
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


def train_on_two_cpu_ranks(
    *overrides: str, cwd: Path, multirun: bool = False
) -> subprocess.CompletedProcess[str]:
    """`python -m lab.train [-m] <overrides>` as DDP over 2 CPU processes (gloo), outputs
    under `<cwd>/out`; fails the test with the end of stderr if the command fails."""
    command = [sys.executable, "-m", "lab.train", *(["-m"] if multirun else []), *overrides]
    command += ["trainer.accelerator=cpu", "trainer.devices=2", "strategy=ddp"]
    command += ["paths.output_root=out"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # two processes on a small machine
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


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


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--record-golden",
        action="store_true",
        help="re-record golden values (tests/golden/*.json) instead of comparing with them",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--record-golden"):
        from lab.testing import RECORD_ENV

        os.environ[RECORD_ENV] = "1"


@pytest.fixture
def compose_cfg(tmp_path: Path) -> Callable[..., object]:
    """Compose `conf/train.yaml` like the CLI does, with the run directory under tmp_path."""
    from lab.config import compose_train_config

    def _compose(*overrides: str, output_dir: Path | None = None) -> object:
        return compose_train_config(overrides, output_dir=output_dir or tmp_path / "run")

    return _compose
