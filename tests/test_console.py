"""A quiet console: lab's lines and warnings on screen, library chatter in train.log only."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from unittest import mock

import pytest

from lab.training.console import (
    ConsoleFormatter,
    QuietConsole,
    quiet_console,
    weight_loading_report,
)

from conftest import TINY_FIXTURE_RUN, lab_cli

# Library INFO lines and the transformers load report: in train.log, never on screen.
CHATTER = (
    "GPU available: False",
    "Trainer already configured with model summary callbacks",
    "Loading `train_dataloader` to estimate",
    "LOAD REPORT",
)


@pytest.fixture(scope="module")
def pretrained_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny BERT encoder saved with save_pretrained: loading it under a classification
    head initialises the classifier anew, which transformers reports."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    from lab.config.paths import package_path

    directory = tmp_path_factory.mktemp("tiny_encoder")
    config = BertConfig(
        vocab_size=2048,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
    )
    BertModel(config).save_pretrained(directory)
    AutoTokenizer.from_pretrained(package_path("lab", "assets/tiny_bert")).save_pretrained(
        directory
    )
    return directory


@pytest.mark.slow
def test_default_run_shows_data_and_model_lines_and_files_the_chatter(
    pretrained_dir: Path, tmp_path: Path
) -> None:
    overrides = [o for o in TINY_FIXTURE_RUN if not o.startswith("model=")]
    result = lab_cli(
        "train", "model=minilm", f"model.pretrained={pretrained_dir}", *overrides,
        "trainer.max_epochs=1", "paths.output_root=out", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    screen = result.stdout + result.stderr
    (run_dir,) = (tmp_path / "out" / "runs").glob("*/*")
    log_file = (run_dir / "train.log").read_text()
    for chatter in CHATTER:
        assert chatter not in screen, chatter
        assert chatter in log_file, chatter
    lines = screen.splitlines()
    assert "data: 56 train, 12 validation, 12 test rows from " in screen
    (model_line,) = [line for line in lines if line.startswith("model: ")]
    assert model_line.startswith(f"model: {pretrained_dir.parent.name}/{pretrained_dir.name} ")
    assert model_line.endswith("; newly initialised: classifier.bias, classifier.weight")
    assert "Final metrics" in screen and f"Run directory: {run_dir.resolve()}" in screen
    assert "Loading weights" not in screen, "no library progress bars"


def test_transformers_load_report_yields_the_newly_initialised_weights(
    pretrained_dir: Path,
) -> None:
    """lab's model line reads the keys out of transformers' LOAD REPORT; if a transformers
    release changes the report's shape, this fails here."""
    from transformers import AutoModelForSequenceClassification

    with weight_loading_report() as report:
        AutoModelForSequenceClassification.from_pretrained(pretrained_dir, num_labels=3)
    assert report.reported
    assert sorted(report.newly_initialised) == ["classifier.bias", "classifier.weight"]


def _record(name: str, level: int, message: str) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, message, None, None)


def test_console_filter_passes_lab_lines_and_warnings_only() -> None:
    quiet, verbose = QuietConsole(False), QuietConsole(True)
    lightning_info = _record("lightning.pytorch.utilities.rank_zero", logging.INFO, "GPU available")
    report = _record("transformers.modeling_utils", logging.WARNING, "X LOAD REPORT from: y")
    assert quiet.filter(_record("lab.train", logging.INFO, "data: ..."))
    assert quiet.filter(_record("__main__", logging.INFO, "model: ..."))
    assert quiet.filter(_record("lightning.pytorch", logging.WARNING, "needs action"))
    assert not quiet.filter(lightning_info)
    assert not quiet.filter(report)
    assert verbose.filter(lightning_info) and verbose.filter(report)
    # hydra.verbose=<logger>: that logger's lines come back, the rest stay quiet.
    assert QuietConsole("lightning").filter(lightning_info)
    assert not QuietConsole(["transformers"]).filter(lightning_info)


def test_console_format_is_bare_for_lab_and_labelled_for_warnings() -> None:
    quiet = ConsoleFormatter(False)
    assert quiet.format(_record("lab.train", logging.INFO, "data: 3 rows")) == "data: 3 rows"
    assert quiet.format(_record("lab.x", logging.WARNING, "disk full")) == "warning: disk full"
    assert quiet.format(_record("torch", logging.WARNING, "slow")) == "warning (torch): slow"
    assert "[torch][WARNING] - slow" in ConsoleFormatter(True).format(
        _record("torch", logging.WARNING, "slow")
    )


def test_quiet_console_routes_library_logs_and_restores_them() -> None:
    import datasets.utils
    import transformers.utils.logging as transformers_logging

    library = logging.getLogger("transformers")
    transformers_logging.get_verbosity()
    before = (list(library.handlers), library.propagate)
    bars = (
        transformers_logging.is_progress_bar_enabled(),
        datasets.utils.are_progress_bars_disabled(),
    )
    with quiet_console(verbose=False):
        assert library.handlers == [] and library.propagate
        assert not transformers_logging.is_progress_bar_enabled()
        # stderr is captured (no terminal): datasets' bars would print a line per redraw.
        assert datasets.utils.are_progress_bars_disabled()
    with mock.patch.object(sys.stderr, "isatty", return_value=True), quiet_console():
        # Tokenizing a large split is long work: on a terminal its progress bar stays.
        assert datasets.utils.are_progress_bars_disabled() == bars[1]
    assert (list(library.handlers), library.propagate) == before
    assert (
        transformers_logging.is_progress_bar_enabled(),
        datasets.utils.are_progress_bars_disabled(),
    ) == bars
    with quiet_console(verbose=True):
        assert transformers_logging.is_progress_bar_enabled() == bars[0]
