"""Shared test setup: offline, hermetic caches, lab's real config, lab's command line.

Markers (declared in pyproject.toml): `slow` marks a test that trains a model (in process,
through a module fixture, or in a `python -m lab.*` subprocess); `make test-fast` leaves those
out except the one marked `smoke`. `gpu` marks a test that needs CUDA; it is skipped where
there is none.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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
    # Tests run on 2 pytest-xdist workers (pyproject addopts), one per core, so each worker
    # and every `python -m lab.train` it starts uses one intra-op thread: the tiny models
    # gain nothing from more, and two workers' threads spin-waiting on each other's core
    # multiply wall time. Golden values are the same at 1 and 2 threads (rtol 1e-5).
    OMP_NUM_THREADS="1",
)

# Compiled bytecode is kept (`__pycache__/`, ignored by git) even where the environment says
# not to (PYTHONDONTWRITEBYTECODE=1 on our machines): without it every `python -m lab.*` a
# test starts (hundreds in a run) compiled lab's modules again (a `lab.validate` 0.91 -> 0.72
# s of CPU with them compiled), and each worker rewrote every test file's asserts again
# (pytest caches them as bytecode), for nothing a test checks.
sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


@pytest.fixture(scope="session", autouse=True)
def _one_intra_op_thread() -> None:
    """The in-process half of the OMP_NUM_THREADS above (torch may already be imported)."""
    import torch

    torch.set_num_threads(1)


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


def lab_command(tool: str, *args: str) -> list[str]:
    """The command line `python -m lab.<tool> <args>`, with this test session's Python."""
    return [sys.executable, "-m", f"lab.{tool}", *args]


def lab_cli(
    tool: str,
    *args: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run `python -m lab.<tool> <args>` in a subprocess; stdout and stderr captured as text.

    `env` adds to (or overrides) this process's environment. The exit code is the caller's
    to check: many tests expect a failure.
    """
    return subprocess.run(
        lab_command(tool, *args),
        cwd=cwd,
        env=None if env is None else {**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def train_and_signal(
    cwd: Path,
    args: Sequence[str],
    when: Callable[[str], bool],
    signum: int,
    env: Mapping[str, str] | None = None,
) -> tuple[int, str]:
    """Start `python -m lab.train <args>`, send `signum` once an output line passes `when`;
    its exit code and whole output."""
    process = subprocess.Popen(
        lab_command("train", *args),
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if when(line):
            process.send_signal(signum)
            break
    output, _ = process.communicate(timeout=300)
    return process.returncode, "".join(lines) + output


def http_json(url: str, body: Any = None) -> tuple[int, Any]:
    """GET (no body) or POST a JSON body to `url`; the status and the decoded JSON answer."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@contextmanager
def serving(run_dir: Path, *options: str) -> Iterator[tuple[str, list[str]]]:
    """`python -m lab.serve run=<run_dir> <options>` on a free loopback port, until the block
    ends; yields the base URL and, after the block, holds the server's output in the list."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    process = subprocess.Popen(
        lab_command("serve", f"run={run_dir}", f"port={port}", *options),
        cwd=Path(__file__).resolve().parent.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if http_json(f"{url}/health")[0] == 200:
                break
        except OSError:
            time.sleep(0.5)
        assert process.poll() is None, process.communicate()[0]
    output: list[str] = []
    try:
        yield url, output
    finally:
        process.terminate()
        output.append(process.communicate(timeout=30)[0])
    # uvicorn shuts down cleanly on SIGTERM, then re-raises the signal (exit status -15).
    assert process.returncode in (0, -signal.SIGTERM)


def train_on_two_cpu_ranks(
    *overrides: str, cwd: Path, multirun: bool = False, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m lab.train [-m] <overrides>` as DDP over 2 CPU processes (gloo), outputs
    under `<cwd>/out` (`env`: added to the environment, as `lab_cli`'s); fails the test with
    the end of stderr if the command fails."""
    result = lab_cli(
        "train",
        *(["-m"] if multirun else []),
        *overrides,
        "trainer.accelerator=cpu",
        "trainer.devices=2",
        "strategy=ddp",
        "paths.output_root=out",
        cwd=cwd,
        env=env,
        timeout=600,
    )
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
    # No figures (~0.4-0.7 s of matplotlib a run): the tests of plots ask for them.
    "plots=false",
]
#: TINY_FIXTURE_RUN on 2 CPU ranks with tests/helpers' fault injection (`KillAtStep`: put
#: tests/helpers on PYTHONPATH), checkpointing every 2 steps: a signal reaches rank 0 alone
DDP_FAULTABLE_RUN = [
    *TINY_FIXTURE_RUN,
    "trainer.max_epochs=3",  # 2 steps an epoch: 56 rows, 2 ranks x 16
    "callbacks.last_checkpoint.every_n_train_steps=2",
    "+callbacks.fault={_target_: fault_injection.KillAtStep}",
    "trainer.accelerator=cpu",
    "trainer.devices=2",
    "strategy=ddp",
    "paths.output_root=out",
]


def spy_on(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[Any]:
    """Wrap `owner.name` for the test: the function still runs, and each call's answer is
    appended to the returned list."""
    real = getattr(owner, name)
    answers: list[Any] = []

    def spy(*args: Any, **kwargs: Any) -> Any:
        answers.append(real(*args, **kwargs))
        return answers[-1]

    monkeypatch.setattr(owner, name, spy)
    return answers


def run_outputs(run_dir: Path) -> dict[str, str]:
    """What a finished run leaves that its evaluation could change, as text: metrics.json,
    test_report.json and the CSV log."""
    names = ("metrics.json", "test_report.json", "csv/metrics.csv")
    return {name: (run_dir / name).read_text() for name in names if (run_dir / name).is_file()}


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


# The longest test files, longest first (`pytest --durations`, every run prints the slowest
# 30; re-measured 2026-12-06): pytest-xdist hands out whole files in collection order, so
# starting these first keeps both workers busy to the end instead of leaving one alone with
# a file of minute-long tests.
LONGEST_FILES_FIRST = (  # by their summed test times (junit XML of a whole run, 2026-12-06)
    "test_quickstart.py",
    "test_end_to_end_speed.py",
    "test_sweeps.py",
    "test_resume.py",
    "test_reproducibility.py",
    "test_reproduce_places.py",
    "test_exit_codes.py",
    "test_scale.py",
    "test_question_answering.py",
    "test_sft.py",
    "test_interruptions.py",
    "test_resume_mid_group.py",
    "test_multiple_choice.py",
    "test_sigusr1.py",
    "test_dpo_runs.py",
    "test_demo.py",
    "test_wandb_resilience.py",
    "test_streaming.py",
    "test_seq2seq.py",
    "test_sweep_runs.py",
)


# A test that starts a process (`python -m lab.*` and the like) pays seconds of imports for
# each: `slow` by the marker's own definition (pyproject.toml), so `make test-fast` leaves it
# out even where its author did not mark it.
PROCESS_CALLS = (
    "lab_cli(", "subprocess.run(", "subprocess.Popen(", "train_and_signal(", "serving(",
)  # fmt: skip


def _starts_a_process(item: pytest.Item) -> bool:
    import inspect

    try:
        source = inspect.getsource(getattr(item, "function", None))  # type: ignore[arg-type]
    except (OSError, TypeError):
        return False
    return any(call in source for call in PROCESS_CALLS)


@pytest.hookimpl(tryfirst=True)  # before the `-m` selection reads the markers
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Order test files longest first (stable: tests within a file keep their order), mark a
    test that starts a process `slow`, and skip `gpu` tests where CUDA is missing."""
    for item in items:
        if not item.get_closest_marker("slow") and _starts_a_process(item):
            item.add_marker(pytest.mark.slow)

    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return (
            LONGEST_FILES_FIRST.index(name)
            if name in LONGEST_FILES_FIRST
            else len(LONGEST_FILES_FIRST)
        )

    items.sort(key=rank)

    gpu_tests = [item for item in items if item.get_closest_marker("gpu")]
    if gpu_tests:
        import torch

        if not torch.cuda.is_available():
            for item in gpu_tests:
                item.add_marker(pytest.mark.skip(reason="needs a CUDA GPU"))


@pytest.fixture
def compose_cfg(tmp_path: Path) -> Callable[..., object]:
    """Compose `conf/train.yaml` like the CLI does, with the run directory under tmp_path."""
    from lab.config import compose_train_config

    def _compose(*overrides: str, output_dir: Path | None = None) -> object:
        return compose_train_config(overrides, output_dir=output_dir or tmp_path / "run")

    return _compose


@pytest.fixture(scope="session")
def composed_option(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Any]:
    """`conf/train.yaml` composed with one group option (`model=tiny_bert`; `<defaults>`:
    none), once per option and process: the tests that read every option's config
    (tests/test_configs.py, tests/test_config_ranges.py) share it. Read it, never change it."""
    from lab.config import compose_train_config

    root = tmp_path_factory.mktemp("options")
    composed: dict[str, Any] = {}

    def _compose(option: str) -> Any:
        if option not in composed:
            overrides = [] if option == "<defaults>" else [option]
            if option in ("data=csv", "data=json"):
                overrides.append(f"data.path={root}")  # these require a path
            composed[option] = compose_train_config(overrides, output_dir=root / "run")
        return composed[option]

    return _compose


def assert_same_run(resumed: Path, uninterrupted: Path) -> None:
    """Bit-identical runs: metrics, every logged row, the exported weights (exact resume)."""
    import torch
    from safetensors.torch import load_file

    for name in ("metrics.json", "csv/metrics.csv"):
        assert (resumed / name).read_text() == (uninterrupted / name).read_text(), name
    (weights,) = (uninterrupted / "model").glob("*.safetensors")
    now, then = load_file(resumed / "model" / weights.name), load_file(weights)
    assert now.keys() == then.keys()
    for key in then:
        assert torch.equal(now[key], then[key]), key
