"""Strategies and precision on a CPU-only machine: DDP with 2 processes (gloo) works and
writes one run directory; GPU-only choices stop before any model is loaded."""

from __future__ import annotations

import csv
import json
import os
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch

from lab.errors import ConfigError
from lab.train import run
from lab.training.rank_threads import usable_cores

from conftest import FIXTURES, SENTIMENT, TINY_FIXTURE_RUN, lab_cli, train_on_two_cpu_ranks

CPU_ONLY = pytest.mark.skipif(torch.cuda.is_available(), reason="checks CPU-only refusals")


@CPU_ONLY
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["strategy=deepspeed_stage_2"], "strategy DeepSpeed needs CUDA GPUs"),
        (["strategy=deepspeed_stage_3_offload"], "strategy DeepSpeed needs CUDA GPUs"),
        (["strategy=fsdp"], "strategy FSDP needs CUDA GPUs"),
        (["precision=16-mixed"], "needs a CUDA GPU"),
        (["trainer.accelerator=gpu"], "no CUDA GPU is visible"),
        (["trainer.devices=-1"], "trainer.devices=-1 means every GPU, and no CUDA GPU"),
        (["trainer.devices=-1", "strategy=ddp"], "on CPU give the number of processes"),
        (["peft=qlora"], "needs a CUDA GPU"),
        (
            ["+model.network.attn_implementation=flash_attention_2"],
            "model.network.attn_implementation=flash_attention_2 needs a CUDA GPU; on this "
            "machine use sdpa",
        ),
    ],
)
def test_gpu_only_choices_fail_before_loading(
    overrides: list[str], message: str, compose_cfg: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lab.training.models

    def must_not_load(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a model was built before the configuration was rejected")

    monkeypatch.setattr(lab.training.models, "head_from_config", must_not_load)
    with pytest.raises(ConfigError, match=message):
        run(compose_cfg(*TINY_FIXTURE_RUN, *overrides))


@pytest.mark.slow
def test_bf16_mixed_on_cpu_trains_and_exports(compose_cfg: Any, tmp_path: Path) -> None:
    metrics = run(compose_cfg(*TINY_FIXTURE_RUN, "precision=bf16-mixed", output_dir=tmp_path / "r"))
    assert 0.0 <= metrics["test/acc"] <= 1.0
    assert (tmp_path / "r" / "model" / "model.safetensors").is_file()


# Dropout off: each DDP rank has its own RNG stream, so masks could not match one process.
NO_DROPOUT = [
    "+model.network.config.hidden_dropout_prob=0",
    "+model.network.config.attention_probs_dropout_prob=0",
    "optimizer.lr=1e-3",
    "trainer.max_epochs=2",
]


def _odd_sized_fixture(target: Path) -> list[str]:
    """TINY_FIXTURE_RUN on a copy whose validation and test splits have 11 rows: two ranks
    cannot split them evenly, so a sampler that repeats a row would change the metrics."""
    target.mkdir()
    for split in ("train", "validation", "test"):
        lines = (SENTIMENT / f"{split}.csv").read_text().splitlines(keepends=True)
        keep = len(lines) if split == "train" else 12  # header + 11 rows
        (target / f"{split}.csv").write_text("".join(lines[:keep]))
    assert len((target / "test.csv").read_text().splitlines()) == 12
    return [o for o in TINY_FIXTURE_RUN if not o.startswith("data.path=")] + [f"data.path={target}"]


def _train_losses(run_dir: Path) -> list[tuple[str, float]]:
    with (run_dir / "csv" / "metrics.csv").open() as handle:
        rows = csv.DictReader(handle)
        return [(r["step"], float(r["train/loss"])) for r in rows if r.get("train/loss")]


@pytest.mark.slow
def test_ddp_two_cpu_processes_one_run_directory_same_metrics_as_one_process(
    tmp_path: Path, compose_cfg: Any
) -> None:
    """One run directory, the metrics and every step's train/loss of one process with the
    same global batch: 55 train rows, so each epoch's last global batch of 7 rows goes 4 + 3
    (it went 3 + 3, one row left out, and that step's train/loss was 1e-3 off one process's:
    s32b F2), and 11 validation and test rows, which a sampler that repeats a row would
    count twice."""
    fixture_run = [*_odd_sized_fixture(tmp_path / "data"), "data.max_train_samples=55"]
    # lab's default loggers (CSV and W&B, offline here): rank 1's W&B logger is Lightning's
    # stand-in, which once ended the run at start-up (s28b H1).
    result = train_on_two_cpu_ranks(
        *fixture_run, *NO_DROPOUT, "data.batch_size=8", "logger=default", cwd=tmp_path,
        env={"WANDB_MODE": "offline"},
    )  # fmt: skip
    runs = list((tmp_path / "out").glob("runs/*/*"))
    assert len(runs) == 1, runs  # rank 1 reused rank 0's directory
    record = json.loads((runs[0] / "record.json").read_text())
    assert record["status"] == "finished"
    assert record["wandb"]["mode"] == "offline"  # rank 0's W&B run, the only one
    assert len(list((runs[0] / "wandb").glob("offline-run-*"))) == 1
    assert (runs[0] / "model" / "config.json").is_file()
    assert result.stdout.count("Final metrics") == 1  # only rank 0 prints the summary
    # Rank 1's lines stay in its own log file: each line once on the screen, and not
    # Lightning's advice to sync metrics lab already sums over the ranks (torchmetrics).
    screen = (result.stdout + result.stderr).splitlines()
    said = [line for line in screen if line.startswith(("warning:", "data:", "model:"))]
    assert said and len(said) == len(set(said)), said
    assert "sync_dist=True" not in result.stdout + result.stderr
    # One process with the same global batch (2 x 8 = 16) and seed: the same model and metrics.
    single_dir = tmp_path / "single"
    single = run(
        compose_cfg(*fixture_run, *NO_DROPOUT, "data.batch_size=16", output_dir=single_dir)
    )
    distributed = json.loads((runs[0] / "metrics.json").read_text())
    assert distributed.keys() == single.keys()
    for name, value in single.items():
        assert distributed[name] == pytest.approx(value, rel=1e-4, abs=1e-5), name
    # The same steps on the same rows (1e-6: float sums in another order); rank 0's half
    # batch was 1e-3 to 8% away.
    ranks, alone = _train_losses(runs[0]), _train_losses(single_dir)
    assert len(alone) == 8  # 55 rows / 16: 4 steps an epoch, each logged
    assert [step for step, _ in ranks] == [step for step, _ in alone]
    for (step, got), (_, want) in zip(ranks, alone, strict=True):
        assert got == pytest.approx(want, rel=1e-5, abs=1e-6), step
    # The record has the threads each rank trained with (Lightning's launcher: cores // 2,
    # unless OMP_NUM_THREADS is set), besides those of the process that started (s32b F3).
    given = os.environ.get("OMP_NUM_THREADS")
    threads = int(given) if given else max(1, usable_cores() // 2)
    assert record["hardware"]["rank_threads"] == threads

    # lab.reproduce of the DDP run: both ranks again, one reproduction folder, the
    # comparison said once (by rank 0), every metric the same.
    again = lab_cli("reproduce", str(runs[0]), cwd=tmp_path, env={"WANDB_MODE": "offline"})
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert again.stdout.count("pass") == 16 and "FAIL" not in again.stdout
    assert "Traceback" not in again.stderr and "[rank1]" not in again.stderr
    (folder,) = (runs[0] / "reproductions").iterdir()
    assert (folder / "train.log").is_file() and (folder / "train_ddp_process_1.log").is_file()
    assert (folder / "metrics.json").read_text() == (runs[0] / "metrics.json").read_text()
    assert again.stdout.count("Recorded vs now") == 1


@pytest.mark.slow
def test_ddp_multirun_gives_one_directory_per_job_each_with_its_own_ranks(
    tmp_path: Path, compose_cfg: Any
) -> None:
    """Hydra #2070 / Lightning #11300: the extra rank of each job runs that job, not the sweep.
    With length-grouped batches, whose batch sampler Lightning could not shard."""
    train_on_two_cpu_ranks(
        *TINY_FIXTURE_RUN,
        *NO_DROPOUT,
        "trainer.max_epochs=1",
        "data.batch_size=8",
        "callbacks=none",
        "data.group_by_length=true",  # lab's own batch sampler, split across the ranks
        "seed=1,2",
        cwd=tmp_path,
        multirun=True,
    )
    sweeps = list((tmp_path / "out" / "multiruns").glob("*/*"))
    assert len(sweeps) == 1, sweeps  # no rank started a multirun of its own
    jobs = sorted(p for p in sweeps[0].iterdir() if p.is_dir())
    assert [p.name for p in jobs] == ["0", "1"]
    assert [json.loads((p / "record.json").read_text())["seed"] for p in jobs] == [1, 2]
    # Each job's second rank is a fresh process of that job (the process group of the first
    # job is gone): rank 1 joined once in each job (Lightning's line is in the log files only).
    for job in jobs:
        rank_logs = list(job.glob("train_ddp_process_1.log"))
        assert len(rank_logs) == 1, sorted(p.name for p in job.iterdir())
        assert rank_logs[0].read_text().count("GLOBAL_RANK: 1, MEMBER: 2/2") == 1
    # The second job trained seed 2 on both ranks: the same metrics as one process with seed 2.
    single = run(
        compose_cfg(
            *TINY_FIXTURE_RUN,
            *NO_DROPOUT,
            "trainer.max_epochs=1",
            "callbacks=none",
            "data.group_by_length=true",
            "seed=2",
        )
    )
    distributed = json.loads((jobs[1] / "metrics.json").read_text())
    for name, value in single.items():
        assert distributed[name] == pytest.approx(value, rel=1e-4, abs=1e-5), name


def test_extra_ranks_keep_hydra_flags_but_not_the_multirun_or_its_overrides() -> None:
    from lab.training.distributed import hydra_flags

    argv = ["-m", "--config-dir", "/my/conf", "seed=1,2", "-cn=mine", "model=tiny_bert"]
    assert hydra_flags(argv) == ["--config-dir", "/my/conf", "-cn=mine"]
    assert hydra_flags(["--multirun", "x=1"]) == []


@pytest.mark.slow
def test_submitit_local_launcher_runs_a_multirun(tmp_path: Path) -> None:
    """The submitit code path that `hydra/launcher=slurm` uses, run locally."""
    result = lab_cli(
        "train",
        "-m",
        "hydra/launcher=local",
        *TINY_FIXTURE_RUN,
        "callbacks=none",
        "trainer.max_epochs=1",
        "seed=1,2",
        "paths.output_root=out",
        cwd=tmp_path,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    records = sorted((tmp_path / "out").glob("multiruns/*/*/*/record.json"))
    assert [json.loads(p.read_text())["seed"] for p in records] == [1, 2]
    assert all(json.loads(p.read_text())["status"] == "finished" for p in records)


def test_slurm_launcher_config_composes() -> None:
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from lab.config.paths import conf_dir
    from lab.config.resolvers import register_resolvers

    register_resolvers()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(
            "train",
            overrides=["hydra/launcher=slurm", "trainer.num_nodes=2"],
            return_hydra_config=True,
        )
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert launcher.nodes == 2 and launcher.tasks_per_node == 1 and launcher.signal_delay_s == 90
    GlobalHydra.instance().clear()


@pytest.mark.slow
def test_gradient_checkpointing_gives_the_same_losses(compose_cfg: Any, tmp_path: Path) -> None:
    """Recomputing activations (with the RNG state preserved) changes memory, not numbers."""
    import csv

    losses = []
    for name, switch in (("plain", "false"), ("checkpointed", "true")):
        cfg = compose_cfg(
            *TINY_FIXTURE_RUN, f"model.gradient_checkpointing={switch}", output_dir=tmp_path / name
        )
        with warnings.catch_warnings(record=True) as raised:
            warnings.simplefilter("always")
            run(cfg)
        # Enabled by transformers 5's name: not the deprecated one, which warns.
        assert not [w for w in raised if "gradient_checkpointing_enable" in str(w.message)]
        with (tmp_path / name / "csv" / "metrics.csv").open() as handle:
            losses.append([r["train/loss"] for r in csv.DictReader(handle) if r.get("train/loss")])
    assert losses[0] == losses[1] and len(losses[0]) == 8


@pytest.mark.slow
def test_ddp_class_weights_log_the_train_loss_of_one_process(
    tmp_path: Path, compose_cfg: Any
) -> None:
    """A class-weighted, label-smoothed loss on 2 ranks: each rank weighed by its class-weight
    sum (`lab.training.rank_weights.weight_share`), every step's train/loss is one process's
    with the same global batch (the ranks' plain average was up to 5.8e-4 off: s32d G2)."""
    weighted = [
        *TINY_FIXTURE_RUN, *NO_DROPOUT, "trainer.max_epochs=1", "data.max_train_samples=32",
        "task.module.class_weights=balanced", "task.module.label_smoothing=0.1",
    ]  # fmt: skip
    train_on_two_cpu_ranks(*weighted, "data.batch_size=8", cwd=tmp_path)
    [ranks_dir] = list((tmp_path / "out").glob("runs/*/*"))
    single_dir = tmp_path / "single"
    run(compose_cfg(*weighted, "data.batch_size=16", output_dir=single_dir))
    ranks, alone = _train_losses(ranks_dir), _train_losses(single_dir)
    assert len(alone) == 2  # 32 rows / 16
    assert [step for step, _ in ranks] == [step for step, _ in alone]
    for (step, got), (_, want) in zip(ranks, alone, strict=True):
        assert got == pytest.approx(want, rel=1e-5, abs=1e-6), step


@pytest.mark.slow
def test_ddp_token_classification_trains_on_one_process_token_mean(
    tmp_path: Path, compose_cfg: Any
) -> None:
    """NER without class weights on 2 ranks: its loss is a mean over each rank's scored
    tokens, and the ranks' sentences hold unequal token counts, so each rank is weighed by
    its tokens (`ClassLossTraining`): every step's train/loss and the trained model's metrics
    are one process's with the same global batch (the ranks' plain average of token means
    was not: a follow-up of s32d G2)."""
    ner = [
        "model=tiny_bert", "data=conll2003", f"data.path={FIXTURES / 'ner'}", "logger=csv",
        "plots=false", "trainer.log_every_n_steps=1", *NO_DROPOUT, "trainer.max_epochs=1",
        "data.max_train_samples=32", "data.eval_batch_size=16",
    ]  # fmt: skip
    train_on_two_cpu_ranks(*ner, "data.batch_size=8", cwd=tmp_path)
    [ranks_dir] = list((tmp_path / "out").glob("runs/*/*"))
    single_dir = tmp_path / "single"
    alone_metrics = run(compose_cfg(*ner, "data.batch_size=16", output_dir=single_dir))
    ranks, alone = _train_losses(ranks_dir), _train_losses(single_dir)
    assert len(alone) == 2  # 32 rows / 16
    assert [step for step, _ in ranks] == [step for step, _ in alone]
    for (step, got), (_, want) in zip(ranks, alone, strict=True):
        assert got == pytest.approx(want, rel=1e-5, abs=1e-6), step
    ranks_metrics = json.loads((ranks_dir / "metrics.json").read_text())
    for name in ("val/loss", "test/loss", "test/accuracy"):
        assert ranks_metrics[name] == pytest.approx(alone_metrics[name], rel=1e-4), name
