"""Speed work that must not change a number (issue 20): the best checkpoint's validation
metrics kept from the fit instead of a second validation, length-sorted evaluation batches,
and the benchmark scripts' smoke modes."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from lab.train import run

from conftest import FIXTURES, TINY_FIXTURE_RUN, lab_cli, run_outputs, spy_on

HELPERS = Path(__file__).resolve().parent / "helpers"
QA_RUN = [
    "model=tiny_bert",
    "data=squad",
    f"data.path={FIXTURES / 'squad'}",
    "data.splits.validation=validation",
    "data.splits.test=test",
    "data.max_length=64",
    "data.doc_stride=16",
    "data.batch_size=16",
    "logger=csv",
    "trainer.log_every_n_steps=1",
]
# The tiny model's val/loss rises a little every epoch at the default learning rate: at its
# lowest, the first epoch's checkpoint is the best, not the last one.
BEST_IS_FIRST_EPOCH = ["optimized_metric=val/loss", "optimized_mode=min"]


def _both_paths(
    compose_cfg: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *overrides: str
) -> tuple[dict[str, float], dict[str, float], Path, Path]:
    """The same run twice: metrics kept from the fit, and the best checkpoint validated again."""
    import lab.training.validation_metrics as validation_metrics

    returned = spy_on(monkeypatch, validation_metrics, "known_metrics")
    kept = run(compose_cfg(*overrides, output_dir=tmp_path / "kept"))
    assert returned and returned[-1] is not None, "the fit's validation metrics were used"
    monkeypatch.setattr(validation_metrics, "known_metrics", lambda *args, **kwargs: None)
    again = run(compose_cfg(*overrides, output_dir=tmp_path / "again"))
    return kept, again, tmp_path / "kept", tmp_path / "again"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("overrides", "best_epoch"),
    [
        pytest.param([*TINY_FIXTURE_RUN, "trainer.max_epochs=3"], None, id="classification"),
        pytest.param(
            [*TINY_FIXTURE_RUN, "trainer.max_epochs=3", *BEST_IS_FIRST_EPOCH],
            0,
            id="classification-best-at-first-epoch",
        ),
        # val/f1 ties over the 2 epochs: the first checkpoint stays the best
        pytest.param([*QA_RUN, "trainer.max_epochs=2"], 0, id="question-answering"),
    ],
)
def test_kept_validation_metrics_equal_a_second_validation(
    overrides: list[str],
    best_epoch: int | None,
    compose_cfg: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kept, again, kept_dir, again_dir = _both_paths(compose_cfg, tmp_path, monkeypatch, *overrides)
    assert kept == again  # exactly: the same floats
    assert any(name.startswith("val/") for name in kept)
    assert run_outputs(kept_dir) == run_outputs(again_dir)  # metrics, test report, CSV rows
    if best_epoch is not None:  # an earlier epoch's weights than the last
        (best,) = (kept_dir / "checkpoints").glob("best-*.ckpt")
        assert best.name.startswith(f"best-epoch{best_epoch:02d}-"), best.name


@pytest.mark.slow
def test_no_checkpoint_callback_validates_again(
    compose_cfg: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without a monitored checkpoint the tested weights' validation is not known: validate."""
    import lightning as L

    calls: list[str] = []
    validate = L.Trainer.validate

    def counting(self: L.Trainer, *args: Any, **kwargs: Any) -> Any:
        calls.append("validate")
        return validate(self, *args, **kwargs)

    monkeypatch.setattr(L.Trainer, "validate", counting)
    metrics = run(compose_cfg(*TINY_FIXTURE_RUN, "trainer.max_epochs=1", "callbacks=none"))
    assert calls == ["validate"]
    assert "val/acc" in metrics


@pytest.mark.slow
@pytest.mark.parametrize(
    ("mode", "validated_again"),
    [("min", True), ("max", False)],  # best before the interruption / after the resume
)
def test_resumed_run_gives_the_uninterrupted_metrics(
    mode: str,
    validated_again: bool,
    compose_cfg: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Killed at step 7 of 12 (SIGTERM), resumed: the same metrics.json as a run never
    interrupted, whether the best checkpoint was validated before the interruption (the
    resumed process validates it again) or after the resume (its metrics are kept)."""
    run_args = [
        *TINY_FIXTURE_RUN,
        "trainer.max_epochs=3",
        "callbacks.last_checkpoint.every_n_train_steps=2",
        "+callbacks.fault={_target_: fault_injection.KillAtStep}",
        "optimized_metric=val/loss",
        f"optimized_mode={mode}",
    ]
    env = {"PYTHONPATH": str(HELPERS)}
    # The run never interrupted is only the reference: in this process (no start-up to pay);
    # the interrupted and the resumed runs are real processes (a real SIGTERM).
    monkeypatch.syspath_prepend(str(HELPERS))
    whole_dir = tmp_path / "whole"
    run(compose_cfg(*run_args, output_dir=whole_dir))
    (tmp_path / "cut").mkdir()
    kill = {**env, "LAB_TEST_KILL_AT_STEP": "7", "LAB_TEST_KILL_SIGNAL": "SIGTERM"}
    cut_args = [*run_args, "paths.output_root=out"]
    first = lab_cli("train", *cut_args, cwd=tmp_path / "cut", env=kill)
    assert first.returncode != 0
    resumed = lab_cli("train", *cut_args, "resume=auto", cwd=tmp_path / "cut", env=env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    (cut_dir,) = (tmp_path / "cut" / "out").glob("runs/*/*")
    assert (cut_dir / "metrics.json").read_text() == (whole_dir / "metrics.json").read_text()
    # After the resumed fit: the best weights loaded twice (validate, test), or not at all.
    log = (cut_dir / "train.log").read_text()
    after_fit = log[log.rindex("`Trainer.fit` stopped") :]
    loads = after_fit.count("Loaded model weights from the checkpoint at")
    # The best checkpoint written after the resume is the last step's: tested in memory.
    assert loads == (2 if validated_again else 0), after_fit[-2000:]


# --------------------------------------------------------------------------- evaluation order
def test_eval_batches_sorted_longest_first_every_row_once() -> None:
    from lab.data.samplers import LengthSortedBatchSampler

    lengths = [5, 9, 2, 9, 7, 1, 5]
    batches = list(LengthSortedBatchSampler(lengths, batch_size=3))
    assert batches == [[1, 3, 4], [0, 6, 2], [5]]  # ties keep split order (stable)
    assert len(LengthSortedBatchSampler(lengths, batch_size=3)) == 3
    # DDP: rank r takes rows r, r + 2, ...; together every row exactly once, each rank sorted
    ranks = [list(LengthSortedBatchSampler(lengths, 2, num_replicas=2, rank=r)) for r in (0, 1)]
    assert ranks == [[[4, 0], [6, 2]], [[1, 3], [5]]]
    assert sorted(i for rank in ranks for batch in rank for i in batch) == list(range(7))


def test_lengths_of_rows_with_several_sequences_are_their_longest() -> None:
    from datasets import Dataset

    from lab.data.encoding import row_lengths

    flat = Dataset.from_dict({"input_ids": [[1, 2, 3], [1], [4, 5]]})
    assert row_lengths(flat) == [3, 1, 2]
    choices = Dataset.from_dict(
        {"input_ids": [[[1, 2], [1, 2, 3, 4]], [[1], [2]], [[7, 7, 7], []]]}
    )
    assert row_lengths(choices) == [4, 1, 3]


SORTED_EVAL_RUNS = {
    "classification": [*TINY_FIXTURE_RUN, "trainer.max_epochs=1"],
    "token_classification": [
        "model=tiny_bert",
        "data=conll2003",
        f"data.path={FIXTURES / 'ner'}",
        "logger=csv",
        "trainer.max_epochs=1",
    ],
    "question_answering": [*QA_RUN, "trainer.max_epochs=1"],
    "seq2seq": [
        "model=tiny_bart",
        "data=xsum",
        f"data.path={FIXTURES / 'summaries'}",
        "data.max_target_length=16",
        "logger=csv",
        "trainer.max_epochs=1",
    ],
}


# Heads whose evaluation loss is the model's per-batch token mean (QA: a softmax that spans the
# padded positions too), weighted by rows: it moves with how rows are batched, as it does with
# any change of data.eval_batch_size. Their other metrics are per row or per token.
BATCH_DEPENDENT_LOSS = {"token_classification", "question_answering", "seq2seq"}


@pytest.mark.slow
@pytest.mark.parametrize("head", sorted(SORTED_EVAL_RUNS))
def test_sorted_eval_batches_give_the_metrics_of_split_order(
    head: str, compose_cfg: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Evaluation in length order (lab's) and in split order (equal lengths for every row,
    which the stable sort keeps in place): the same metrics, up to float summation order."""
    import lab.data.loaders as loaders
    from lab.data.samplers import LengthSortedBatchSampler

    overrides = [*SORTED_EVAL_RUNS[head], "data.eval_batch_size=4"]  # several eval batches
    length_order = run(compose_cfg(*overrides, output_dir=tmp_path / "sorted"))

    class SplitOrder(LengthSortedBatchSampler):
        def __init__(self, lengths: Any, batch_size: int, *args: Any) -> None:
            super().__init__([0] * len(lengths), batch_size, *args)

    monkeypatch.setattr(loaders, "LengthSortedBatchSampler", SplitOrder)
    split_order = run(compose_cfg(*overrides, output_dir=tmp_path / "in_order"))
    assert split_order.keys() == length_order.keys()
    for name, value in split_order.items():
        if name.endswith("/loss") and head in BATCH_DEPENDENT_LOSS:
            continue
        assert length_order[name] == pytest.approx(value, rel=1e-6, abs=1e-6), name


# --------------------------------------------------------------------------- benchmark scripts
BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def test_end_to_end_phases_add_up_to_the_wall_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """lab's phases from train.log lines and the phase clock; HF's from its own marks."""
    from datetime import datetime

    monkeypatch.syspath_prepend(str(BENCHMARKS))

    from end_to_end import hf_phases, lab_phases

    def stamp(seconds: float) -> str:
        text = datetime.fromtimestamp(1_800_000_000 + seconds).strftime("%Y-%m-%d %H:%M:%S,%f")
        return text[:-3]  # milliseconds, as logging writes them

    log = tmp_path / "train.log"
    log.write_text(
        f"[{stamp(5)}][lab.run_dir.records][INFO] - Run directory: /x\n"
        f"[{stamp(6)}][__main__][INFO] - data: 10 train rows\n"
        f"[{stamp(7)}][__main__][INFO] - model: MiniLM\n"
    )
    events = [
        ("fit_start", 8), ("first_step", 8.5), ("validation_start", 20), ("validation_end", 22),
        ("fit_end", 23), ("validation_start", 23.5), ("validation_end", 24.5),
        ("test_start", 25), ("test_end", 27),
    ]  # fmt: skip
    clock = tmp_path / "clock.jsonl"
    memory = {
        "fit_start": {"rss_mb": 600.0, "peak_rss_mb": 610.0},
        "fit_end": {"peak_rss_mb": 1300.0},
    }
    clock.write_text(
        "".join(
            json.dumps({"event": e, "time": 1_800_000_000 + t, **memory.get(e, {})}) + "\n"
            for e, t in events
        )
    )
    process = {"launch": 1_800_000_000.0, "exit": 1_800_000_030.0}
    phases = lab_phases(process, log, clock)
    # Resident memory when the fit began, and the peak by its end.
    assert phases.pop("rss_fit_start_mb") == 600.0 and phases.pop("peak_rss_fit_mb") == 1300.0
    assert phases == pytest.approx(
        {
            "startup": 5,
            "data": 1,
            "model": 2,
            "train": 13,
            "evaluation": 3,
            "test": 3,
            "export": 3,
            "time_to_first_step": 8.5,
        }
    )
    assert sum(v for k, v in phases.items() if k != "time_to_first_step") == pytest.approx(30)

    marks = {
        "imports_done": 4, "data_done": 5, "model_done": 6, "fit_start": 6.5, "first_step": 7,
        "fit_end": 20, "test_end": 22,
    }  # fmt: skip
    result = {"marks": {k: 1_800_000_000 + v for k, v in marks.items()}}
    result["evaluation_seconds"] = [1.5, 0.5]
    hf = hf_phases(process, result)
    assert math.isnan(hf.pop("rss_fit_start_mb")) and math.isnan(hf.pop("peak_rss_fit_mb"))
    assert hf["train"] == pytest.approx(11.5) and hf["evaluation"] == pytest.approx(2)
    assert sum(v for k, v in hf.items() if k != "time_to_first_step") == pytest.approx(30)


@pytest.mark.slow
def test_gpu_check_cpu_smoke_runs_its_cpu_parts(tmp_path: Path) -> None:
    """`gpu_check.sh --cpu-smoke --parts 1,2,3,4`: lab and HF Trainer with length grouping
    for 2 steps of a tiny model (without it: part 4's runs), one lab step; FSDP, DeepSpeed
    and QLoRA skipped with lab's own reason; the LLM part (packed SFT, DPO with LoRA) on a
    tiny random Llama saved as a Hub-style folder, with its meter's record; part 4's step
    profiles of lab and HF Trainer (one run of the script for all four parts: its set-up is
    paid once)."""
    import os
    import subprocess
    import sys

    # Always the synthetic reviews: no test may depend on ../shared/data being there.
    done = subprocess.run(
        [
            *("bash", str(BENCHMARKS / "gpu_check.sh"), "--cpu-smoke", "--parts", "1,2,3,4"),
            *("--out", str(tmp_path)),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "IMDB_DIR": str(tmp_path / "no-imdb-here"), "PYTHON": sys.executable},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = (tmp_path / "summary.txt").read_text()
    assert "2. single_device: one step OK" in summary
    for part in ("fsdp", "deepspeed_zero2", "deepspeed_zero3", "qlora"):
        assert f"2. {part}: skipped (needs CUDA); lab.validate says: error:" in summary, part
    rows = [line for line in summary.splitlines() if line.startswith("| imdb/")]
    assert [r.split("|")[1].strip() for r in rows] == [
        "imdb/lab+group_by_length", "imdb/hf+group_by_length",
    ]  # fmt: skip
    assert all(float(r.split("|")[2]) > 0 for r in rows)  # samples/s
    (raw,) = tmp_path.glob("throughput-*.json")
    assert set(json.loads(raw.read_text())["runs"]) == {
        f"imdb/{r.split('|')[1].strip()[5:]}" for r in rows
    }

    # Part 3. The tiny shape by hand: vocabulary 965 -> 1024 rows of 64 (tied with the output
    # layer); per block q, o 64x64, k, v 64x32 (2 of 4 heads), gate, up, down 64x128, 2 norms;
    # a final norm. LoRA r=8 on all 7 projections: r x (in + out) each.
    block = 2 * 64 * 64 + 2 * 64 * 32 + 3 * 64 * 128 + 2 * 64
    params = 1024 * 64 + 2 * block + 64
    lora = 2 * 8 * (2 * (64 + 64) + 2 * (64 + 32) + 3 * (64 + 128))
    assert "3. sft: 2 step(s) OK" in summary and "3. dpo_lora: 1 step(s) OK" in summary
    assert "3. sft_qlora: skipped (needs CUDA); lab.validate says: error:" in summary
    assert "3. sft_ddp: skipped (0 CUDA GPU(s) visible" in summary
    sft = json.loads((tmp_path / "llm-sft.json").read_text())
    assert (sft["steps"], sft["timed_steps"]) == (2, 1)  # the first step is warm-up
    assert (sft["total_params"], sft["trainable_params"]) == (params, params)
    assert sft["param_dtypes"] == {"float32": params} and sft["precision"] == "32-true"
    # Packed rows carry no attention mask: every token of the 2 rows of <= 256 counts.
    assert 0 < sft["tokens"] == sft["padded_tokens"] <= 2 * 256
    assert sft["attn_implementation"] == "sdpa" and sft["peak_rss_gib"] > 0
    dpo = json.loads((tmp_path / "llm-dpo_lora.json").read_text())
    assert (dpo["total_params"], dpo["trainable_params"]) == (params + lora, lora)
    assert 0 < dpo["tokens"] <= dpo["padded_tokens"]  # chosen + rejected, padded per batch
    table = (tmp_path / "llm.md").read_text().splitlines()[2:]
    assert [r.split("|")[1].strip() for r in table] == ["sft", "dpo_lora"]
    assert all(float(r.split("|")[6]) > 0 for r in table)  # tokens/s

    # Part 4: the step profiles, side by side (benchmarks/step_profile.py).
    assert "4. lab: profiled" in summary and "4. hf: profiled" in summary
    for impl in ("lab", "hf"):
        record = json.loads((tmp_path / f"profile-{impl}" / "summary.json").read_text())
        assert record["profiled_steps"] == 2 and record["wall_ms_per_step"] > 0
        assert record["top_level_cpu_ms_per_step"] > 0
        assert (tmp_path / f"profile-{impl}" / "trace.json.gz").stat().st_size > 0
    rows = (tmp_path / "profile.md").read_text().splitlines()
    assert rows[0] == "| per profiled step | profile-lab | profile-hf |"
    assert rows[2].startswith("| wall ms / step |")
