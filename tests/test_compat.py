"""Every private attribute lab reaches into (`lab.compat`), checked against the installed
libraries: a library upgrade that moves one fails here, by name, not deep in a training run."""

from __future__ import annotations

import csv
import inspect
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest


def require(owner: Any, attribute: str, library: str, module: str) -> None:
    """Fail with the library, its installed version and what moved, when `owner` lacks it."""
    name = getattr(owner, "__name__", type(owner).__name__)
    assert hasattr(owner, attribute), (
        f"{library} {version(library)} no longer has {name}.{attribute}; "
        f"update src/lab/compat/{module}.py"
    )


# ------------------------------------------------------------------------------- lightning
def test_lightning_builds_hydra_rank_commands_in_a_module_function() -> None:
    from lightning.pytorch.strategies.launchers import subprocess_script

    require(subprocess_script, "_hydra_subprocess_cmd", "lightning", "lightning")
    parameters = list(inspect.signature(subprocess_script._hydra_subprocess_cmd).parameters)
    assert parameters == ["local_rank"], (
        f"lightning {version('lightning')} changed _hydra_subprocess_cmd{parameters}; "
        "update src/lab/compat/lightning.py and lab.training.distributed.rank_command"
    )
    # The launcher looks the function up by its module name when it starts the ranks, so
    # replacing the module attribute is what it calls.
    launcher = inspect.getsource(subprocess_script._SubprocessScriptLauncher)
    assert "_hydra_subprocess_cmd(local_rank)" in launcher, (
        f"lightning {version('lightning')}'s launcher no longer calls _hydra_subprocess_cmd; "
        "update src/lab/compat/lightning.py"
    )


def test_job_scope_installs_the_rank_command_and_restores_lightnings() -> None:
    from lightning.pytorch.strategies.launchers import subprocess_script

    from lab.training.distributed import job_scope, rank_command

    original = subprocess_script._hydra_subprocess_cmd
    assert original is not rank_command
    with job_scope():
        assert subprocess_script._hydra_subprocess_cmd is rank_command
    assert subprocess_script._hydra_subprocess_cmd is original

    with pytest.raises(RuntimeError, match="job failed"), job_scope():
        assert subprocess_script._hydra_subprocess_cmd is rank_command
        raise RuntimeError("job failed")
    assert subprocess_script._hydra_subprocess_cmd is original


def test_lightning_starts_its_child_process_observer_in_a_module_function() -> None:
    from lightning.pytorch.strategies.launchers import subprocess_script

    from lab.training.distributed import job_scope
    from lab.training.rank_failures import watch_ranks

    require(subprocess_script, "_launch_process_observer", "lightning", "lightning")
    launcher = inspect.getsource(subprocess_script._SubprocessScriptLauncher)
    assert "_launch_process_observer(self.procs)" in launcher, (
        f"lightning {version('lightning')}'s launcher no longer hands its ranks' processes to "
        "_launch_process_observer; update src/lab/compat/lightning.py (rank_process_watch)"
    )
    original = subprocess_script._launch_process_observer
    with job_scope():
        assert subprocess_script._launch_process_observer is watch_ranks
    assert subprocess_script._launch_process_observer is original


def test_csv_writer_hook_keeps_or_deletes_an_existing_metrics_file(tmp_path: Path) -> None:
    from lightning.pytorch.loggers.csv_logs import ExperimentWriter

    from lab.compat.lightning import HookedExperimentWriter

    require(ExperimentWriter, "_check_log_dir_exists", "lightning", "lightning")
    metrics = tmp_path / ExperimentWriter.NAME_METRICS_FILE
    metrics.write_text("step,loss\n1,0.5\n")

    class Keeping(HookedExperimentWriter):
        def prepare_log_dir(self) -> None:
            self.metrics_keys = ["step", "loss"]  # keep the file: nothing else to do

    assert Keeping(str(tmp_path)).metrics_keys == ["step", "loss"]
    assert metrics.read_text() == "step,loss\n1,0.5\n"
    with pytest.warns(UserWarning, match="exists and is not empty"):
        HookedExperimentWriter(str(tmp_path))  # the default is Lightning's: delete it
    assert not metrics.exists()


def test_csv_logger_builds_its_writer_with_make_writer(tmp_path: Path) -> None:
    from lightning.pytorch.loggers import CSVLogger

    from lab.compat.lightning import HookedCSVLogger, HookedExperimentWriter

    logger = CSVLogger(str(tmp_path))
    for attribute in ("_experiment", "_fs"):
        require(logger, attribute, "lightning", "lightning")

    class Logging(HookedCSVLogger):
        def make_writer(self, log_dir: str) -> HookedExperimentWriter:
            return HookedExperimentWriter(log_dir)

    hooked = Logging(str(tmp_path), name="csv", version="")
    writer = hooked.experiment
    assert isinstance(writer, HookedExperimentWriter) and hooked.experiment is writer
    hooked.log_metrics({"loss": 0.25}, step=3)
    hooked.save()
    with (tmp_path / "csv" / "metrics.csv").open() as handle:
        assert list(csv.DictReader(handle)) == [{"loss": "0.25", "step": "3"}]


def test_wandb_logger_arguments_and_experiment_can_be_reached(tmp_path: Path) -> None:
    from lightning.pytorch.loggers import WandbLogger

    from lab.compat.lightning import (
        forget_experiment,
        start_wandb_experiment,
        wandb_init_arguments,
    )

    logger = WandbLogger(project="p", save_dir=str(tmp_path), mode="disabled")
    for attribute in ("_wandb_init", "_experiment"):
        require(logger, attribute, "lightning", "lightning")
    require(WandbLogger.experiment.fget, "__wrapped__", "lightning", "lightning")

    arguments = wandb_init_arguments(logger)
    assert arguments["project"] == "p" and arguments["mode"] == "disabled"
    arguments["name"] = "renamed"
    assert wandb_init_arguments(logger)["name"] == "renamed"  # the live dict, not a copy
    run = start_wandb_experiment(logger)
    try:
        assert logger.experiment is run
        forget_experiment(logger)
        assert logger._experiment is None
    finally:
        run.finish()


# ---------------------------------------------------------------------------------- optuna
def test_optuna_storage_and_trial_ids_reach_the_same_trial() -> None:
    import optuna

    from lab.compat.optuna import study_storage, trial_id

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name="compat")
    require(study, "_storage", "optuna", "optuna")
    study.ask()
    trial = study.ask()
    require(trial, "_trial_id", "optuna", "optuna")
    (_, frozen) = study.get_trials(deepcopy=False)
    require(frozen, "_trial_id", "optuna", "optuna")

    storage = study_storage(study)
    study_id = storage.get_study_id_from_name("compat")  # public: what pruning.py uses
    expected = storage.get_trial_id_from_study_id_trial_number(study_id, 1)
    assert trial_id(trial) == trial_id(frozen) == expected
    storage.set_trial_system_attr(trial_id(trial), "lab:pid", 123)
    assert study.get_trials()[1].system_attrs["lab:pid"] == 123
    assert optuna.trial.Trial(study, trial_id(frozen)).number == 1


def test_a_covered_grid_is_told_without_study_stop_s_error() -> None:
    """Optuna's grid sampler stops the study once its grid is covered, which raises outside
    `Study.optimize`: plain `study.tell` fails on the last grid point; lab's `tell` stores it
    and goes on. Another RuntimeError still rises."""
    import optuna
    from optuna.samplers import GridSampler
    from optuna.trial import TrialState

    from lab.compat.optuna import tell

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    grid = {"x": [1, 2]}
    plain = optuna.create_study(sampler=GridSampler(grid, seed=0))
    for _ in range(2):
        trial = plain.ask()
        trial.suggest_categorical("x", [1, 2])
        if len(plain.trials) == 1:
            plain.tell(trial, 1.0)
    with pytest.raises(RuntimeError, match=r"Study\.stop"):
        plain.tell(trial, 2.0)  # the library's behaviour lab works around

    study = optuna.create_study(sampler=GridSampler(grid, seed=0))
    for value in (1.0, 2.0):
        trial = study.ask()
        trial.suggest_categorical("x", [1, 2])
        tell(study, trial, value)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 2
    assert sorted(t.params["x"] for t in study.trials) == [1, 2]

    class Failing:  # any other RuntimeError of a tell still rises
        def tell(self, *args: object, **kwargs: object) -> None:
            raise RuntimeError("database is locked")

    with pytest.raises(RuntimeError, match="database is locked"):
        tell(Failing(), 0, 1.0)


# ------------------------------------------------------------------------------- sacrebleu
def test_sacrebleu_sentence_statistics_sum_to_the_corpus_score() -> None:
    from sacrebleu.metrics import BLEU

    from lab.compat.sacrebleu import sentence_statistics
    from lab.tasks.generation_metrics import BLEU_ORDER, bleu_from_statistics

    require(BLEU, "_extract_corpus_statistics", "sacrebleu", "sacrebleu")
    hypotheses = ["the cat sat on the mat", "a dog barks at night", "hello there"]
    references = ["the cat sat on a mat", "the dog barks at night", "hello world"]
    rows = sentence_statistics(BLEU(), hypotheses, references)
    assert len(rows) == 3 and all(len(row) == 2 + 2 * BLEU_ORDER for row in rows)
    assert rows[2][:2] == [2, 2]  # hypothesis and reference lengths in tokens
    summed = [sum(column) for column in zip(*rows, strict=True)]
    expected = BLEU().corpus_score(hypotheses, [references]).score
    assert bleu_from_statistics(summed) == pytest.approx(expected, abs=1e-9)


# -------------------------------------------------------------------------------- datasets
def test_datasets_fingerprint_follows_the_data() -> None:
    from datasets import Dataset

    from lab.compat.datasets import fingerprint

    data = Dataset.from_dict({"text": ["a", "b"]})
    require(data, "_fingerprint", "datasets", "datasets")
    first = fingerprint(data)
    assert isinstance(first, str) and first
    assert fingerprint(data) == first
    assert fingerprint(Dataset.from_dict({"text": ["a", "c"]})) != first
    assert fingerprint(data.map(lambda row: {"text": row["text"].upper()})) != first


# ----------------------------------------------------------------------------------- hydra
def test_hydra_file_config_source_and_failed_job_error() -> None:
    from hydra.core.utils import JobReturn, JobStatus

    from lab.compat.hydra import FileConfigSource, job_error

    require(FileConfigSource, "_list_add_result", "hydra-core", "hydra")
    failed = JobReturn(status=JobStatus.FAILED)
    error = ValueError("out of memory")
    failed.return_value = error  # what Hydra's run_job does with the job's exception
    require(failed, "_return_value", "hydra-core", "hydra")
    assert job_error(failed) is error
    finished = JobReturn(status=JobStatus.COMPLETED, _return_value={"val/acc": 1.0})
    with pytest.raises(TypeError, match="did not fail"):
        job_error(finished)


# ---------------------------------------------------------------------------- torchmetrics
def _fresh_interpreter(code: str) -> str:
    """Run `code` in a new Python (this process has scipy.signal loaded already)."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=240, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_importing_lightning_in_the_deferred_scope_leaves_scipy_signal_unloaded() -> None:
    """What the deferral is for: Lightning (and torchmetrics under it) import without running
    scipy.signal's code. Fails when torchmetrics starts to use more of it at import: then
    update src/lab/compat/torchmetrics.py (or drop it)."""
    out = _fresh_interpreter(
        "import sys\n"
        "from lab.compat.torchmetrics import is_deferred, scipy_signal_deferred\n"
        "from lab.compat.torchmetrics import _DeferringFinder\n"
        "with scipy_signal_deferred():\n"
        "    import lightning.pytorch, torchmetrics\n"
        "print(is_deferred(sys.modules['scipy.signal']), 'scipy.stats' in sys.modules,\n"
        "      any(isinstance(f, _DeferringFinder) for f in sys.meta_path))\n"
    )
    assert out.split() == ["True", "False", "False"], (
        f"torchmetrics {version('torchmetrics')} loads scipy.signal at import now, or the "
        f"finder stayed on sys.meta_path: {out!r}; update src/lab/compat/torchmetrics.py"
    )


def test_deferred_scipy_signal_works_in_full_when_used() -> None:
    """The deferred module is scipy.signal: the alias torchmetrics adds gives scipy's window
    without loading the rest; the first other use runs its code in the same module object,
    which then holds everything (functions, submodules, its own lazy names)."""
    out = _fresh_interpreter(
        "import sys, types\n"
        "import numpy as np\n"
        "from lab.compat.torchmetrics import is_deferred, scipy_signal_deferred\n"
        "with scipy_signal_deferred():\n"
        "    import scipy.signal\n"
        "module = sys.modules['scipy.signal']\n"
        "window = scipy.signal.hamming(5)\n"
        "print(is_deferred(module), np.round(window, 4).tolist())\n"
        "b, a = scipy.signal.butter(2, 0.3)\n"
        "print(is_deferred(module), type(module) is types.ModuleType, np.round(b, 4).tolist())\n"
        "from scipy.signal import find_peaks\n"
        "import scipy.signal.windows as windows\n"
        "print(find_peaks([0, 2, 0, 3, 0])[0].tolist(), '|', windows.hann(3).tolist())\n"
        "print(sys.modules['scipy.signal'] is module is scipy.signal,\n"
        "      type(module.__loader__).__name__, module.__file__.endswith('__init__.py'))\n"
    )
    lines = [line.split(" ", 1) for line in out.strip().splitlines()]
    # numpy.hamming(5) by hand: 0.54 - 0.46 cos(2 pi n / 4) = 0.08, 0.54, 1, 0.54, 0.08
    assert lines[0] == ["True", "[0.08, 0.54, 1.0, 0.54, 0.08]"]
    # butter(2, 0.3): b = [0.1311, 0.2622, 0.1311] (scipy's documented low-pass design)
    assert lines[1] == ["False", "True [0.1311, 0.2622, 0.1311]"]
    assert lines[2] == ["[1,", "3] | [0.0, 1.0, 0.0]"]  # peaks at 1 and 3; hann(3) by hand
    assert lines[3] == ["True", "SourceFileLoader True"]


def test_a_process_that_imported_scipy_signal_is_left_as_it_is() -> None:
    import sys

    import scipy.signal

    from lab.compat.torchmetrics import _DeferringFinder, is_deferred, scipy_signal_deferred

    scipy.signal.butter  # noqa: B018  (loaded, even if an in-process CLI test deferred it)
    with scipy_signal_deferred():
        assert not any(isinstance(f, _DeferringFinder) for f in sys.meta_path)
    assert sys.modules["scipy.signal"] is scipy.signal and not is_deferred(scipy.signal)


def test_the_fit_loop_says_whether_a_micro_batch_steps_and_how_many_steps_were_taken() -> None:
    import lightning as L

    from lab.compat.lightning import accumulating, steps_taken

    trainer = L.Trainer(accumulate_grad_batches=2, logger=False, enable_checkpointing=False)
    epoch_loop = trainer.fit_loop.epoch_loop
    for attribute in ("_should_accumulate", "_batches_that_stepped"):
        require(epoch_loop, attribute, "lightning", "lightning")
    assert steps_taken(trainer) == 0
    assert isinstance(accumulating(trainer), bool)
