"""Bad input gets one clear message, a non-zero exit, and loses nothing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import torch

from lab.errors import ConfigError, DataError
from lab.train import run

from conftest import FIXTURES, SENTIMENT, TINY_FIXTURE_RUN, lab_cli, lab_command


def _write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def _parquet_bytes(rows: list[dict[str, Any]]) -> bytes:
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buffer)
    return buffer.getvalue()


_PARQUET = _parquet_bytes([{"review": "fine", "sentiment": "positive"}] * 4)


def _fixture_run_on(path: Path, *extra: str) -> list[str]:
    return [o for o in TINY_FIXTURE_RUN if not o.startswith("data.path=")] + [
        f"data.path={path}",
        *extra,
    ]


# ---------------------------------------------------------------- CLI: Hydra-level errors
def test_unknown_model_option_lists_valid_ones(tmp_path: Path) -> None:
    result = lab_cli("train", "model=robertaa", cwd=tmp_path)
    assert result.returncode != 0
    assert "Could not find 'model/robertaa'. Did you mean model=roberta?" in result.stderr
    listed = result.stderr.split("Options in 'model': ")[1].strip().split(", ")
    for option in ("roberta", "bert", "minilm", "tiny_bert", "deberta_v3", "distilbert"):
        assert option in listed
    assert "Traceback" not in result.stderr


def test_unknown_data_option_lists_valid_ones(tmp_path: Path) -> None:
    result = lab_cli("train", "data=imbd", cwd=tmp_path)
    assert result.returncode != 0
    assert "Did you mean data=imdb?" in result.stderr
    listed = result.stderr.split("Options in 'data': ")[1].strip().split(", ")
    for option in ("imdb", "sst2", "yelp_review_full", "csv", "json", "demo"):
        assert option in listed


def test_unknown_key_names_close_match_and_valid_keys(tmp_path: Path) -> None:
    result = lab_cli("train", "data.batchsize=8", cwd=tmp_path)
    assert result.returncode != 0
    assert "Did you mean data.batch_size?" in result.stderr
    assert "Valid keys of data:" in result.stderr and "max_length" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_lightning_trainer_argument_lab_does_not_set_is_shown_with_its_plus(
    tmp_path: Path,
) -> None:
    """`trainer.overfit_batches=10` is an argument of Lightning's Trainer that lab's YAML does
    not set: the line says to add it with `+`, not that no such option exists; a typo beside it
    still lists the valid keys. (The limits, `trainer.limit_val_batches`, are lab's keys now.)"""
    result = lab_cli("train", "trainer.overfit_batches=10", "trainer.max_epoch=2", cwd=tmp_path)
    assert result.returncode == 2
    added, typo = result.stderr.strip().splitlines()
    assert added == (
        "error: 'trainer.overfit_batches' is not in lab's trainer config, but "
        "lightning.pytorch.Trainer takes `overfit_batches`: add it with Hydra's `+`: "
        "+trainer.overfit_batches=10"
    )
    assert typo.startswith("error: 'trainer.max_epoch' is not a config key. Did you mean")


def test_a_groups_option_set_where_the_group_is_not_says_where_it_lives() -> None:
    """`strategy.stage=3`: the strategy YAMLs fill `trainer.strategy`; Hydra advised
    `+strategy.stage=3`, a key nothing reads."""
    from lab.config.cli import unknown_key_hints
    from lab.config.paths import conf_dir

    def hints(*overrides: str) -> list[str]:
        return unknown_key_hints(list(overrides), str(conf_dir()), "train")

    assert hints("strategy=deepspeed_stage_2", "strategy.stage=3") == [
        "'strategy.stage' is not a config key: the strategy group's options live under "
        "trainer.strategy: trainer.strategy.stage=3"
    ]
    assert hints("strategy.stage=3") == [  # the default strategy, `auto`, has no options
        "'strategy.stage' is not a config key: the strategy group's options live under "
        "trainer.strategy, which is 'auto' here (no options): choose a strategy that has them "
        "first, e.g. strategy=<name> trainer.strategy.stage=3"
    ]
    assert hints("strategy=ddp", "strategy.typo=1") == [
        "'strategy.typo' is not a config key: the strategy group's options live under "
        "trainer.strategy: trainer.strategy.typo=1 (typo is not among them: _target_, "
        "find_unused_parameters, gradient_as_bucket_view)"
    ]


def test_a_top_level_key_that_lives_in_a_group_names_it() -> None:
    """s22b L1: `output_root=/x` for `paths.output_root=/x` got no "Did you mean"."""
    from lab.config.cli import unknown_key_hints
    from lab.config.paths import conf_dir

    (line,) = unknown_key_hints(["output_root=/x"], str(conf_dir()), "train")
    assert line.startswith(
        "'output_root' is not a config key. Did you mean paths.output_root? Valid top-level "
    )


def test_a_key_of_another_section_is_the_guess_where_none_is_close() -> None:
    """s30b F4: `data.threshold=0.3` (the multi-label threshold is `task.module.threshold`)
    got the data keys alone; a close key of the section still comes first."""
    from lab.config.cli import unknown_key_hints
    from lab.config.paths import conf_dir

    given = ["data=go_emotions", "data.threshold=0.3", "data.max_lenght=8"]
    threshold, length = unknown_key_hints(given, str(conf_dir()), "train")
    assert threshold.startswith(
        "'data.threshold' is not a config key. Did you mean task.module.threshold? Valid keys "
        "of data: _target_, "
    )
    assert length.startswith("'data.max_lenght' is not a config key. Did you mean data.max_length?")
    # s30c N2: an exact name elsewhere beats a look-alike of the section's own.
    epochs, precision = unknown_key_hints(
        ["data.max_epochs=2", "data.precision=16"], str(conf_dir()), "train"
    )
    assert epochs.startswith(
        "'data.max_epochs' is not a config key. Did you mean trainer.max_epochs?"
    )
    assert precision.startswith(
        "'data.precision' is not a config key. Did you mean trainer.precision?"
    )


def test_a_sweep_setting_typo_gets_its_close_match() -> None:
    """`hydra.sweeper.n_trails=3`: Hydra's three lines advised `+`, which then failed in the
    sweeper's constructor; a bad sampler option is a group's option, not "not a config key"."""
    from lab.config.cli import unknown_key_hints
    from lab.config.paths import conf_dir

    (line,) = unknown_key_hints(
        ["sweep=demo_lr", "hydra.sweeper.n_trails=3"], str(conf_dir()), "train"
    )
    assert line.startswith(
        "'hydra.sweeper.n_trails' is not a config key. Did you mean hydra.sweeper.n_trials? "
    )
    assert (
        unknown_key_hints(["sweep=demo_lr", "hydra/sweeper/sampler=gird"], str(conf_dir()), "train")
        == []
    )  # Hydra's message, which lists the sampler options, is said instead
    # A misspelt first name (a sweep file's `optimiser.lr`): Hydra advised `+optimiser.lr`.
    (typo,) = unknown_key_hints(["optimiser.lr=1e-3"], str(conf_dir()), "train")
    assert typo.startswith("'optimiser' is not a config key. Did you mean optimizer? ")
    assert ", strategy, " in typo  # the groups are named too


def test_an_unknown_top_level_key_is_one_line_naming_the_valid_ones(tmp_path: Path) -> None:
    """`sed=3` for `seed=3`: Hydra said three lines and advised `+sed=3`, a key nothing reads."""
    result = lab_cli("train", "sed=3", cwd=tmp_path)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(
        "error: 'sed' is not a config key. Did you mean seed? Valid top-level keys and groups: "
    )
    for valid in ("data", "experiment", "model", "precision", "seed", "sweep", "trainer"):
        assert f" {valid}," in line or line.endswith(f" {valid}"), valid
    assert "hydra" not in line


def test_missing_data_path_exits_2_with_one_message(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    result = lab_cli(
        "train",
        "model=tiny_bert",
        "data=csv",
        f"data.path={missing}",
        "logger=none",
        "paths.output_root=out",
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == f"error: data.path does not exist: {missing}"
    assert "Traceback" not in result.stderr
    # The run directory is kept, and says what happened.
    (record_path,) = (tmp_path / "out").rglob("record.json")
    record = json.loads(record_path.read_text())
    assert record["status"].startswith("failed: data.path does not exist")


# ---------------------------------------------------------------- run(): data errors
@pytest.mark.parametrize(
    ("files", "extra", "error", "message"),
    [
        pytest.param({"train.csv": ""}, [], DataError, "is empty", id="empty-file"),
        pytest.param(
            {"train.csv": "review,sentiment\n"},
            [],
            DataError,
            "train.csv has no rows",
            id="header-only",
        ),
        pytest.param(
            {
                "train.csv": "review,sentiment\n" + "a,positive\nb,negative\n" * 3,
                "validation.csv": "review,sentiment\nc,positive\n",
                "test.csv": "review,sentiment\n",
            },
            [],
            DataError,
            "test.csv has no rows",  # among other splits: datasets failed on a null column
            id="header-only-split",
        ),
        pytest.param(
            {"train.csv": "text,sentiment\n" + "a,positive\nb,negative\n" * 3},
            [],
            DataError,
            "column 'review' (data.text_column) is not in the train split; "
            "columns present: text, sentiment",
            id="missing-text-column",
        ),
        pytest.param(
            {"train.csv": "review,stars\n" + "a,1\nb,0\n" * 3},
            [],
            DataError,
            "column 'sentiment' (data.label_column) is not in the train split; "
            "columns present: review, stars",
            id="missing-label-column",
        ),
        pytest.param(
            {
                "train.csv": "review,sentiment\n" + "a,1\nb,0\n" * 3,
                "test.csv": "id,review\n1,x\n2,y\n",  # a Kaggle test.csv: labels unpublished
            },
            [],
            DataError,
            "column 'sentiment' (data.label_column) is not in the test split; columns present: "
            "id, review; set data.splits.test=null to carve a labeled test split from train",
            id="unlabeled-test-split",
        ),
        pytest.param(
            {"train.csv": "review,sentiment\na,0\nb,1\nc,\nd,1\ne,0\nf,1\ng,0\n"},
            [],
            DataError,
            "train.csv:4 column 'sentiment': the cell is empty",
            id="empty-label-cell",
        ),
        pytest.param(
            {"train.csv": "review,sentiment\na,0\nb,1\nc,2\nd,1\ne,0\nf,1\ng,0\n"},
            ["data.num_labels=2"],
            DataError,
            # data row 3 of the file, line 4 whichever split it is carved into
            "train.csv:4 column 'sentiment': label 2 is outside num_labels=2 (valid: 0..1)",
            id="label-out-of-range",
        ),
        pytest.param(
            {
                "train.csv": "review,sentiment\n" + "a,1\nb,0\n" * 3,
                "test.csv": "review,sentiment\nx,-1\ny,-1\n",
            },
            ["data.num_labels=2"],
            DataError,
            "test.csv:2 column 'sentiment': label -1 marks a hidden label (unlabeled rows, as "
            "in GLUE's test splits) that cannot be trained on or scored; map lab's test split",
            id="hidden-test-labels",
        ),
        pytest.param(
            {
                "train.csv": "review,sentiment\n" + "fine,positive\nbad,negative\n" * 3,
                "test.csv": "review,sentiment\nodd,neutral\n",
            },
            [],
            DataError,
            "test.csv:2 column 'sentiment': label 'neutral' never occurs in train: the classes "
            "are the labels of train (2 of them: 'negative', 'positive'); to train with other "
            "classes too, list every class: data.label_names=[...]",
            id="unknown-label",
        ),
        pytest.param(
            {"train.csv": "review,sentiment\ncaf\xe9 ok,positive\n".encode("latin-1")},
            [],
            DataError,
            "is not valid UTF-8 (byte 0xe9",
            id="not-utf8",
        ),
        pytest.param(
            # Excel's "Unicode text" and PowerShell write UTF-16: the advice names it.
            {"train.csv": "review,sentiment\nfine,positive\nbad,negative\n".encode("utf-16")},
            [],
            DataError,
            "is not valid UTF-8 (byte 0xff at offset 0; it looks like UTF-16); re-encode it as "
            "UTF-8, e.g. `iconv -f utf-16 -t utf-8 train.csv > fixed.csv`",
            id="utf-16",
        ),
        pytest.param(
            # A download cut short: Parquet is binary, so no "not valid UTF-8" about it.
            {"train.parquet": _PARQUET[: len(_PARQUET) // 2]},
            [],
            DataError,
            "train.parquet is not a readable Parquet file (",
            id="truncated-parquet",
        ),
    ],
)
def test_data_errors(
    files: dict[str, Any],
    extra: list[str],
    error: type[Exception],
    message: str,
    compose_cfg: Any,
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    for name, content in files.items():
        _write(data / name, content)
    cfg = compose_cfg(*_fixture_run_on(data, *extra))
    with pytest.raises(error) as caught:
        run(cfg)
    assert message in str(caught.value)
    assert not (Path(cfg.paths.output_dir) / "model").exists()


@pytest.mark.slow
def test_error_leaves_earlier_checkpoints_intact(compose_cfg: Any, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run(compose_cfg(*TINY_FIXTURE_RUN, "trainer.max_epochs=1", output_dir=run_dir))
    before = {p.name: p.read_bytes() for p in (run_dir / "checkpoints").iterdir()}
    cfg = compose_cfg(*_fixture_run_on(tmp_path / "missing"), output_dir=run_dir)
    with pytest.raises(DataError):
        run(cfg)
    after = {p.name: p.read_bytes() for p in (run_dir / "checkpoints").iterdir()}
    assert after == before


def test_validation_interval_longer_than_an_epoch_is_a_config_error(compose_cfg: Any) -> None:
    """56 rows in batches of 16 are 4 batches an epoch: validating every 6 is Lightning's
    ValueError (a traceback, exit 1), said in lab's words with the ways out (exit 2)."""
    cfg = compose_cfg(*TINY_FIXTURE_RUN, "trainer.val_check_interval=6")
    with pytest.raises(ConfigError) as caught:
        run(cfg)
    assert str(caught.value) == (
        "trainer.val_check_interval=6 batches is more than the 4 training batches of an epoch: "
        "give at most 4, a share of an epoch (e.g. 0.5), or add "
        "+trainer.check_val_every_n_epoch=null to count the batches across epochs"
    )


def test_a_missing_local_model_directory_is_named_not_taken_for_a_hub_id(tmp_path: Path) -> None:
    """A DPO run's starting model moved away: lab.eval rebuilds the reference from it, and
    transformers worded a repo-id error about the path."""
    from lab.training.models import pretrained_head

    gone = tmp_path / "sft_copy"
    with pytest.raises(ConfigError) as caught:
        pretrained_head("transformers.AutoModelForCausalLM", str(gone))
    assert str(caught.value) == (
        f"could not load model weights from '{gone}': no such directory (moved or deleted?)"
    )


def test_fp16_on_cpu_fails_before_loading(compose_cfg: Any) -> None:
    cfg = compose_cfg(*TINY_FIXTURE_RUN, "precision=16-mixed")
    with pytest.raises(ConfigError, match=r"fp16.*needs a CUDA GPU"):
        run(cfg)


def test_vocabulary_larger_than_embeddings(compose_cfg: Any) -> None:
    cfg = compose_cfg(*TINY_FIXTURE_RUN, "model.network.config.vocab_size=10")
    with pytest.raises(ConfigError, match="embedding table has 10 rows but the tokenizer has"):
        run(cfg)


@pytest.mark.slow
def test_fixture_is_fine(compose_cfg: Any) -> None:
    """Control: the same overrides on the real fixture raise nothing up to training."""
    cfg = compose_cfg(*_fixture_run_on(SENTIMENT, "trainer.max_epochs=1", "callbacks=none"))
    assert "val/acc" in run(cfg)


@pytest.mark.slow
def test_no_logger_with_default_callbacks_runs(compose_cfg: Any) -> None:
    """`logger=none` keeps the default callbacks working (the LR monitor needs a logger)."""
    overrides = [o for o in TINY_FIXTURE_RUN if not o.startswith("logger=")]
    cfg = compose_cfg(*overrides, "logger=none", "trainer.max_epochs=1")
    assert "test/acc" in run(cfg)


def test_fused_adamw_with_clipping_under_16_mixed_fails_early(
    compose_cfg: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = compose_cfg(*TINY_FIXTURE_RUN, "optimizer.fused=true", "precision=16-mixed")
    with pytest.raises(ConfigError, match=r"precision=16-mixed \(fp16\) needs a CUDA GPU"):
        run(cfg)  # on a CPU machine the missing GPU is said first
    monkeypatch.setattr("lab.config.hardware_rules.cuda_available", lambda: True)
    with pytest.raises(ConfigError) as refused:
        run(cfg)
    assert str(refused.value) == (
        "optimizer.fused=true with precision=16-mixed cannot clip gradients (a fused optimizer "
        "unscales them inside its step, after clipping would run; trainer.gradient_clip_val=1.0);"
        " set trainer.gradient_clip_val=null, optimizer.fused=false or precision=bf16-mixed"
    )


@pytest.mark.parametrize(
    ("extra", "fused"),
    [
        ([], True),
        # bf16-mixed has no loss scaler: lab clips a fused optimizer's gradients itself there
        (["precision=bf16-mixed"], True),
        (["precision=16-mixed"], False),  # gradients still scaled when clipping would run
        (["precision=16-mixed", "trainer.gradient_clip_val=null"], True),
        (["strategy=ddp"], True),
        (["strategy=fsdp"], False),
        (["strategy=deepspeed_stage_2"], False),
        (["optimizer.fused=false"], False),
    ],
)
def test_fused_adamw_is_chosen_where_it_works(
    compose_cfg: Any, extra: list[str], fused: bool
) -> None:
    """`optimizer.fused=null` picks the fused kernel (HF Trainer's default) where it can run."""
    from lab.build import optimizer_factory

    model = torch.nn.Sequential(torch.nn.Linear(4, 2), torch.nn.LayerNorm(2))
    optimizer = optimizer_factory(compose_cfg(*TINY_FIXTURE_RUN, *extra))(model)
    assert bool(optimizer.defaults["fused"]) is fused


def test_a_hub_model_that_cannot_be_fetched_is_a_user_error(
    compose_cfg: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Offline and not in the cache: one line naming the model and the way out (exit 2), not
    Hydra's wrapped OSError (exit 1, "a bug")."""
    from lab.training.tokenizers import build_tokenizer

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cfg = compose_cfg("model=roberta", "model.pretrained=lab-tests/not-a-cached-model")
    with pytest.raises(ConfigError) as caught:
        build_tokenizer(cfg)
    message = str(caught.value)
    assert message.startswith(
        "the tokenizer of model.pretrained=lab-tests/not-a-cached-model cannot be loaded: "
    )
    assert message.endswith(
        ". Without network access, point model.pretrained at a local directory saved with "
        "save_pretrained"
    )
    assert "\n" not in message


def test_a_sequence_longer_than_the_models_positions_is_refused_before_training(
    compose_cfg: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GPT-2's learned positions end at n_positions: a longer block would fail with an index
    error in the first long batch; refused from the model's config, before the data is read
    (it was said after every split was tokenized)."""
    from hydra.utils import instantiate

    from lab.build import build_parts

    cfg = compose_cfg("model=tiny_gpt2", "data=text", f"data.path={FIXTURES / 'lm'}")
    network = instantiate(cfg.model.network)(head=cfg.task.head)
    positions = network.config.max_position_embeddings
    cfg = compose_cfg(
        "model=tiny_gpt2",
        "data=text",
        f"data.path={FIXTURES / 'lm'}",
        f"data.block_size={positions + 1}",
    )
    tokenized: list[str] = []
    monkeypatch.setattr(
        "lab.build.build_datamodule", lambda *args, **kwargs: tokenized.append("data")
    )
    with pytest.raises(ConfigError) as caught:
        build_parts(cfg)
    assert str(caught.value) == (
        f"data.block_size={positions + 1} is over the model's {positions} positions "
        f"(max_position_embeddings); set data.block_size={positions} or less"
    )
    assert tokenized == [], "said before the splits are read and tokenized"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks CPU-only refusals")
@pytest.mark.parametrize(
    ("device", "message"),
    [
        ("cuda", "device=cuda needs a CUDA GPU and none is visible; use device=cpu"),
        ("cuda:1", "device=cuda:1 needs a CUDA GPU and none is visible; use device=cpu"),
        ("gpu0", "device=gpu0 is not a device torch knows: "),
    ],
)
def test_lab_predict_and_serve_refuse_a_device_this_machine_lacks(
    device: str, message: str
) -> None:
    """Before any weights load, one line instead of torch's
    "Torch not compiled with CUDA enabled" traceback."""
    from lab.errors import LabError
    from lab.inference.predictors import check_device

    with pytest.raises(LabError) as caught:
        check_device(device)
    assert str(caught.value).startswith(message)
    check_device("cpu")
    check_device(None)


def test_a_data_file_the_user_cannot_read_is_one_line(tmp_path: Path) -> None:
    """Mode 000 (or another owner's file): `error: cannot read <file>: Permission denied`,
    exit 2, from lab.validate (the rule lab.train applies before anything loads) and from
    lab.inspect (which loads without the rules); a folder that cannot be listed too."""
    data = _write(tmp_path / "locked.csv", "review,sentiment\nfine,positive\n")
    folder = tmp_path / "locked"
    _write(folder / "train.csv", "review,sentiment\nfine,positive\n")
    for path in (data, folder):
        path.chmod(0)
    drop: list[str] = []
    if os.geteuid() == 0:  # root reads any file: drop that power, as a normal user has it
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv to drop CAP_DAC_OVERRIDE")
        drop = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"]
    inspect_options = [
        "model=tiny_bert",
        "data=csv",
        f"data.path={data}",
        "data.text_column=review",
    ]
    for tool, path in (("validate", data), ("inspect", data), ("validate", folder)):
        options = _fixture_run_on(path) if tool == "validate" else inspect_options
        command = [*drop, *lab_command(tool, *options)]
        result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert result.returncode == 2, (tool, result.stderr[-2000:])
        wanted = f"error: cannot read {path}: Permission denied"
        assert result.stderr.strip().splitlines() == [wanted], tool
    folder.chmod(0o755)  # pytest removes tmp_path later


@pytest.mark.slow
def test_an_optimized_metric_the_head_does_not_log_is_named_with_the_ones_it_does(
    tmp_path: Path,
) -> None:
    """`optimized_metric=val/acuracy`: Lightning's MisconfigurationException at the first
    validation (a traceback, exit 1) is one line with the logged metrics and the closest; with
    early stopping on, whose RuntimeError comes first (s32a F-M1), the same line."""
    from lab.config import compose_train_config

    cfg = compose_train_config(
        [
            *TINY_FIXTURE_RUN,
            *("trainer.max_epochs=1", "optimized_metric=val/acuracy", "callbacks=early_stopping"),
        ],
        output_dir=tmp_path / "run",
    )
    with pytest.raises(ConfigError) as caught:
        run(cfg)
    assert str(caught.value) == (
        "optimized_metric=val/acuracy is no metric this run's validation logs; it logged: "
        "val/acc, val/f1, val/f1_positive, val/loss, val/mcc, val/precision, val/recall. Did "
        "you mean optimized_metric=val/acc? Start the run again with one of them (no best "
        "checkpoint could be chosen)"
    )
    record = json.loads((tmp_path / "run" / "record.json").read_text())
    assert record["status"].startswith("failed: optimized_metric=val/acuracy is no metric")


def test_a_hub_dataset_offline_and_not_cached_is_named_without_the_none_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """datasets says "is not cached in None" (its default folder): lab's line says where."""
    from lab.data.sources import load_hub
    from lab.errors import DataError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    with pytest.raises(DataError) as caught:
        load_hub("lab-tests/not-a-cached-dataset")
    message = str(caught.value)
    assert message.startswith("could not load 'lab-tests/not-a-cached-dataset' from the Hugging")
    assert "in None" not in message
    assert "point data.path at the files" in message


def test_same_leaf_key_names_the_keys_of_that_name() -> None:
    from omegaconf import OmegaConf

    from lab.config.key_hints import same_leaf_key

    cfg = OmegaConf.create(
        {"data": {"a": 1}, "task": {"module": {"threshold": 0.5}}, "hydra": {"threshold": 1},
         "x": {"seed": 1}, "y": {"seed": 2}}
    )  # fmt: skip
    assert same_leaf_key(cfg, "data", "threshold") == "task.module.threshold"  # not hydra's
    assert same_leaf_key(cfg, "data", "seed") == "x.seed or y.seed"  # two: both
    assert same_leaf_key(cfg, "task.module", "threshold") is None  # its own section's
    assert same_leaf_key(cfg, "data", "nothing") is None


def test_same_leaf_key_names_an_interpolated_key_by_its_source() -> None:
    """s30c N2: `trainer.mode=max` guessed `trainer.num_nodes` (a look-alike); the checkpoint's
    `mode` is `${optimized_mode}`, so the key to set is `optimized_mode`."""
    from omegaconf import OmegaConf

    from lab.config.key_hints import same_leaf_key

    cfg = OmegaConf.create(
        {"optimized_mode": "max", "trainer": {"num_nodes": 1},
         "callbacks": {"ckpt": {"mode": "${optimized_mode}"},
                       "stop": {"mode": "${optimized_mode}"}},
         "logger": {"wandb": {"mode": "offline"}}, "other": {"mode": "${a}-${b}"}}
    )  # fmt: skip
    guess = same_leaf_key(cfg, "trainer", "mode")
    assert guess == "optimized_mode or logger.wandb.mode or other.mode"
    # A top-level key set by interpolation is the key a user sets (s31e N6).
    aliased = OmegaConf.create({"mode": "${task.mode}", "task": {"mode": "max"}, "trainer": {}})
    assert same_leaf_key(aliased, "trainer", "mode") == "mode or task.mode"
