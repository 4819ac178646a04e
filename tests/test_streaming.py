"""Streaming data (`data.streaming=true`, `lab.data.streaming`).

* The shuffle buffer is seeded (same seed, same order; another seed or pass, another order).
* `data.interleave` mixes sources in the given proportions.
* DDP ranks and dataloader workers get disjoint parts of the stream that together cover it.
* Row errors in the stream name the file and line; only text files are read to find a bad
  line (a Parquet file is never called "not valid UTF-8").
* The config rules refuse what cannot work with a stream (exit 2, in words).
* Causal LM and text classification train by `trainer.max_steps` across passes of a streamed
  file; a run killed mid-stream and resumed equals the run never interrupted.
"""

from __future__ import annotations

import collections
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
import torch

from lab.config.rules import validate_config
from lab.data.origins import ROW_COLUMN, Origin
from lab.data.sources import Source
from lab.data.streaming import (
    SOURCE_COLUMN,
    TrainStream,
    TrainStreamPlan,
    numbered,
    open_splits,
    read_problem,
    shard,
    usable_workers,
)
from lab.errors import ConfigError, DataError

from conftest import FIXTURES, SENTIMENT, lab_cli

HELPERS = Path(__file__).resolve().parent / "helpers"
LM = FIXTURES / "lm"
# A causal LM streamed from tests/fixtures/lm: 72 blocks of 64 tokens a pass, 16 a batch, so
# 8 steps cross a pass boundary (a batch spans it; each pass is reshuffled).
STREAMED_LM = [
    "model=tiny_gpt2",
    "data=text",
    f"data.path={LM}",
    "data.block_size=64",
    "data.batch_size=16",
    "data.streaming=true",
    "data.shuffle_buffer=64",
    "trainer.max_steps=8",
    "trainer.val_check_interval=4",
    "logger=csv",
    "trainer.log_every_n_steps=1",
]


SENTIMENT_CSV = [
    "model=tiny_bert",
    "data=csv",
    f"data.path={SENTIMENT}",
    "data.text_column=review",
    "data.label_column=sentiment",
]


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def _plan(files: list[Path], **options: Any) -> TrainStreamPlan:
    """The train stream of local files, as `lab.data.streaming.prepare` plans it."""
    sources = [Source(path=str(f), probability=1 / len(files)) for f in files]
    streams, origins = [], []
    for index, source in enumerate(sources):
        splits, found = open_splits(source)
        streams.append(numbered(splits["train"], index))
        origins.append(found["train"])
    return TrainStreamPlan(
        sources,
        streams,
        origins,
        ["text"],
        probabilities=[s.probability or 1.0 for s in sources],
        **options,
    )


def _rows(stream: Any, count: int | None = None) -> list[tuple[int, int]]:
    """(source, row) of the first `count` rows of a stream (all of them for None)."""
    return [(r[SOURCE_COLUMN], r[ROW_COLUMN]) for r in itertools.islice(stream, count)]


def _numbers(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """A stand-in for the head's check + tokenize: keep the row's identity."""
    return {"source": batch[SOURCE_COLUMN], "row": batch[ROW_COLUMN]}


def _passes(plan: TrainStreamPlan, count: int) -> list[list[tuple[int, int]]]:
    stream = TrainStream(plan.mixture(), _numbers, plan.columns, plan.origins)
    rows = [(r["source"], r["row"]) for r in itertools.islice(stream, count)]
    return [rows[i : i + 100] for i in range(0, count, 100)]


# ----------------------------------------------------------------------------- order
def test_the_shuffle_buffer_is_seeded_and_reseeded_each_pass(tmp_path: Path) -> None:
    train = _jsonl(tmp_path / "train.jsonl", [{"text": f"row {i}"} for i in range(100)])
    first, second = _passes(_plan([train], seed=1, shuffle_buffer=30), 200)
    again = _passes(_plan([train], seed=1, shuffle_buffer=30), 200)
    other = _passes(_plan([train], seed=2, shuffle_buffer=30), 100)
    assert [first, second] == again, "the same seed gives the same order"
    assert first != other[0], "another seed gives another order"
    assert first != second, "each pass is reshuffled (set_epoch)"
    assert sorted(first) == sorted(second) == [(0, i) for i in range(100)], "every row once a pass"
    # A buffer of 30 rows: the first row out is one of the first 30 read.
    assert first[0][1] < 30
    unshuffled = _passes(_plan([train], shuffle_buffer=0), 100)[0]
    assert unshuffled == [(0, i) for i in range(100)]


def test_interleave_follows_the_probabilities(tmp_path: Path) -> None:
    a = _jsonl(tmp_path / "a" / "train.jsonl", [{"text": f"a {i}"} for i in range(3000)])
    b = _jsonl(tmp_path / "b" / "train.jsonl", [{"text": f"b {i}"} for i in range(3000)])
    plan = _plan([a, b], seed=3, shuffle_buffer=0)
    plan.probabilities = [0.7, 0.3]
    rows = _rows(plan.mixture(), 2000)
    share = collections.Counter(source for source, _ in rows)[0] / len(rows)
    # Binomial standard deviation sqrt(0.7 * 0.3 / 2000) = 0.010: four of them.
    assert abs(share - 0.7) < 0.04, share
    # Rows of each source keep their order (only the sources are mixed) and repeat nothing.
    for source in (0, 1):
        taken = [row for s, row in rows if s == source]
        assert taken == list(range(len(taken)))
    assert rows == _rows(plan.mixture(), 2000), "seeded: the same mixture again"


def test_ranks_get_disjoint_rows_that_cover_a_one_file_stream(tmp_path: Path) -> None:
    train = _jsonl(tmp_path / "train.jsonl", [{"text": f"row {i}"} for i in range(101)])
    plan = _plan([train], seed=5, shuffle_buffer=20)
    parts = [set(_rows(shard(plan.mixture(), 2, rank))) for rank in (0, 1)]
    assert not parts[0] & parts[1]
    assert parts[0] | parts[1] == {(0, i) for i in range(101)}
    assert {len(p) for p in parts} == {50, 51}  # every other row of the shuffled stream
    # One file is one shard: a second dataloader worker would get nothing.
    assert usable_workers(shard(plan.mixture(), 2, 0), 4) == 1


def _many_shard_plan(folder: Path, shards: int, rows: int) -> Any:
    """A plan over `shards` files of `rows` rows each (as a Hub dataset's parquet parts), one
    stream of them all; row `i` of file `k` has the text `k-i`."""
    import datasets

    files = [
        _jsonl(folder / f"part{k}.jsonl", [{"text": f"{k}-{i}"} for i in range(rows)])
        for k in range(shards)
    ]
    stream = datasets.load_dataset(
        "json", data_files={"train": [str(f) for f in files]}, streaming=True
    )["train"]
    assert stream.num_shards == shards
    plan = _plan([files[0]], seed=7, shuffle_buffer=10)
    plan.streams = [numbered(stream, 0)]  # the row index counts within each worker's shard
    return plan


def test_ranks_and_workers_split_a_many_shard_stream(tmp_path: Path) -> None:
    """Four files (as a Hub dataset's parquet parts): 2 ranks x 2 workers, a shard each."""
    from torch.utils.data import DataLoader

    plan = _many_shard_plan(tmp_path, 4, 25)
    seen: list[set[str]] = []
    for rank in (0, 1):
        sharded = shard(plan.mixture(), 2, rank)
        assert usable_workers(sharded, 2) == 2
        loader = DataLoader(
            TrainStream(sharded, _texts, ["text"], plan.origins),
            batch_size=None,
            num_workers=2,
        )
        # The first 50 items: one pass over this rank's 2 shards (a worker each, alternating).
        seen.append({row["item"] for row in itertools.islice(loader, 50)})
    assert not seen[0] & seen[1]
    assert seen[0] | seen[1] == {f"{k}-{i}" for k in range(4) for i in range(25)}


def _texts(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
    return {"item": batch["text"]}


# ----------------------------------------------------------------------------- errors
def _streamed_classifier(compose_cfg: Any, path: Path, *extra: str) -> Any:
    from hydra.utils import instantiate

    from lab.build import build_datamodule

    cfg = compose_cfg(
        "model=tiny_bert",
        "data=json",
        f"data.path={path}",
        "data.label_names=[negative,positive]",
        "data.streaming=true",
        "data.stream_sample_rows=10",
        "data.batch_size=8",
        *extra,
    )
    return build_datamodule(cfg, instantiate(cfg.model.tokenizer))


def test_a_bad_row_in_the_stream_is_named_by_file_and_line(
    compose_cfg: Any, tmp_path: Path
) -> None:
    rows = [{"text": f"review {i}", "label": ["negative", "positive"][i % 2]} for i in range(60)]
    rows[44]["label"] = "neutral"
    train = _jsonl(tmp_path / "data" / "train.jsonl", rows)
    datamodule = _streamed_classifier(compose_cfg, tmp_path / "data")
    # The first 20 rows became validation and test; the head sample (10 rows) is clean.
    assert datamodule.raw_sizes == {"validation": 10, "test": 10}
    with pytest.raises(DataError) as caught:
        list(itertools.islice(datamodule.train_dataloader(), 20))
    assert str(caught.value) == (
        f"{train}:45 column 'label': label 'neutral' is not one of the label names "
        "['negative', 'positive']; fix the data, or set data.label_names to its names (null: "
        "those in train)"
    )


def test_a_stream_left_empty_by_the_evaluation_rows_says_how_to_cut_fewer(
    compose_cfg: Any, tmp_path: Path
) -> None:
    rows = [{"text": f"review {i}", "label": ["negative", "positive"][i % 2]} for i in range(20)]
    _jsonl(tmp_path / "data" / "train.jsonl", rows)
    with pytest.raises(DataError) as caught:
        _streamed_classifier(compose_cfg, tmp_path / "data")
    assert str(caught.value).endswith(
        "has no rows after the 20 cut from its head as validation/test: cut fewer with "
        "data.max_eval_samples=<rows> and data.max_test_samples=<rows> (without them each "
        "takes up to data.stream_sample_rows=10), or name the source's own splits "
        "(data.splits.validation=...)"
    )
    # s23b M2: validation took every row, so the test split cut after it has none.
    with pytest.raises(DataError) as caught:
        _streamed_classifier(compose_cfg, tmp_path / "data", "data.max_eval_samples=30")
    assert str(caught.value) == (
        f"the test split ({tmp_path / 'data' / 'train.jsonl'}) has no rows after the 20 cut "
        "from the head of the train stream as validation: cut fewer with "
        "data.max_eval_samples=<rows> and data.max_test_samples=<rows> (without them each "
        "takes up to data.stream_sample_rows=10), or name the source's own splits "
        "(data.splits.validation=...)"
    )
    fewer = ("data.max_eval_samples=4", "data.max_test_samples=4")
    assert _streamed_classifier(compose_cfg, tmp_path / "data", *fewer).raw_sizes == {
        "validation": 4,
        "test": 4,
    }


def test_a_line_that_is_not_json_is_named(
    compose_cfg: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    lines = [json.dumps({"text": f"review {i}", "label": "positive"}) for i in range(3000)]
    lines[2500] = '{"text": "cut off'
    train = tmp_path / "data" / "train.jsonl"
    train.parent.mkdir()
    train.write_text("\n".join(lines) + "\n")
    # Read in chunks of megabytes: this file fails as its first rows are read, at start-up.
    with pytest.raises(DataError, match=rf"^{train}:2501: not valid JSON \(Unterminated string"):
        _streamed_classifier(compose_cfg, tmp_path / "data")
    # datasets' own line ("... in row 2500", 0-based, another reason) is not said as well
    assert not [r for r in caplog.records if "Failed to load JSON" in r.getMessage()]


def test_only_text_files_are_diagnosed_as_not_utf8(tmp_path: Path) -> None:
    """A failure in a stream is diagnosed by reading the file line by line; only text formats
    get the UTF-8 check. A Parquet file is binary: a head's error while streaming it is named
    as it is, not as "not valid UTF-8" (a DPO stream once said so of a KeyError)."""
    from datasets import Dataset

    text = tmp_path / "text" / "train.jsonl"
    text.parent.mkdir()
    text.write_bytes(b'{"text": "fine"}\n{"text": "caf\xe9"}\n')
    assert read_problem(Origin(str(text), "jsonl")) == (
        f"{text}:2: not valid UTF-8; re-encode the file as UTF-8"
    )
    parquet = tmp_path / "binary" / "train.parquet"
    parquet.parent.mkdir()
    Dataset.from_dict({"text": [f"row {i}" for i in range(50)]}).to_parquet(str(parquet))
    assert "\ufffd" in parquet.read_text(encoding="utf-8", errors="replace")  # bytes, not text
    assert read_problem(Origin(str(parquet), "rows")) is None

    def missing_column(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        return {"ids": batch["pair_index"]}

    plan = _plan([parquet])
    stream = TrainStream(plan.mixture(), missing_column, plan.columns, plan.origins)
    with pytest.raises(DataError) as caught:
        next(iter(stream))
    assert str(caught.value) == f"could not read {parquet}: KeyError: 'pair_index'"


def test_interleave_through_the_data_module_skips_the_rows_cut_for_evaluation(
    compose_cfg: Any, tmp_path: Path
) -> None:
    labels = ["negative", "positive"]
    a = _jsonl(
        tmp_path / "a" / "train.jsonl",
        [{"text": f"a{i}", "label": labels[i % 2]} for i in range(300)],
    )
    b = _jsonl(
        tmp_path / "b" / "train.jsonl",
        [{"text": f"b{i}", "label": labels[i % 2]} for i in range(300)],
    )
    mixture = f"[{{path: {a.parent}, probability: 0.5}}, {{path: {b.parent}, probability: 0.5}}]"
    datamodule = _streamed_classifier(
        compose_cfg, a.parent, f"data.interleave={mixture}", "data.shuffle_buffer=0"
    )
    # a has no validation/test files: its first 10 + 10 rows are them, and train skips them.
    assert datamodule.row_indices == {"validation": list(range(10)), "test": list(range(10, 20))}
    assert datamodule.datasets["validation"].num_rows == 10
    rows = _rows(datamodule.train_plan.mixture(), 400)
    from_a = [row for source, row in rows if source == 0]
    assert from_a == list(range(20, 20 + len(from_a)))
    assert {source for source, _ in rows} == {0, 1}
    batch = next(iter(datamodule.train_dataloader()))
    assert batch["labels"].shape == (8,) and set(batch["labels"].tolist()) <= {0, 1}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["trainer.val_check_interval=5"], r"trainer.max_steps \(now -1\)"),
        (
            ["trainer.max_steps=20", "trainer.val_check_interval=0.5"],
            r"trainer.val_check_interval=0.5 \(a share of an epoch\)",
        ),
        (["trainer.max_steps=20", "trainer.val_check_interval=50"], "would never validate"),
        (
            ["trainer.max_steps=20", "trainer.val_check_interval=5", "data.group_by_length=true"],
            "data.group_by_length=true needs every row's length",
        ),
        (
            ["trainer.max_steps=20", "task.module.class_weights=balanced"],
            r"class_weights=balanced counts the train split's labels .* a stream",
        ),
        (
            [
                "trainer.max_steps=20",
                "trainer.val_check_interval=5",
                "+trainer.limit_train_batches=3",
            ],
            "would restart the stream",
        ),
        (
            [
                "trainer.max_steps=20",
                "trainer.val_check_interval=5",
                f"data.interleave=[{{path: {SENTIMENT}, probability: 0.5}}]",
            ],
            "data.interleave probabilities must sum to 1, got 0.5",
        ),
    ],
)
def test_rules_refuse_what_a_stream_cannot_do(
    compose_cfg: Any, overrides: list[str], message: str
) -> None:
    cfg = compose_cfg(*SENTIMENT_CSV, "data.streaming=true", *overrides)
    with pytest.raises(ConfigError, match=message):
        validate_config(cfg)


def test_the_default_validation_interval_means_once_at_the_end(compose_cfg: Any) -> None:
    from lab.training.fit import streaming_validation

    cfg = compose_cfg(
        *SENTIMENT_CSV,
        "data.streaming=true",
        "trainer.max_steps=20",
        "trainer.accumulate_grad_batches=2",
    )
    validate_config(cfg)  # the default 1.0 is accepted
    assert streaming_validation(cfg) == {"val_check_interval": 40}  # batches: 20 steps x 2
    given = compose_cfg(
        *SENTIMENT_CSV,
        "data.streaming=true",
        "trainer.max_steps=20",
        "trainer.val_check_interval=5",
    )
    assert streaming_validation(given) == {}
    assert streaming_validation(compose_cfg(*SENTIMENT_CSV)) == {}


def test_interleave_needs_streaming(compose_cfg: Any) -> None:
    cfg = compose_cfg(f"data.interleave=[{{path: {SENTIMENT}, probability: 1.0}}]")
    with pytest.raises(ConfigError, match=r"needs data\.streaming=true"):
        validate_config(cfg)


def test_a_mixture_is_named_where_a_run_names_its_data(compose_cfg: Any, tmp_path: Path) -> None:
    """s30e: a missing source was said as `data.path does not exist` (F3); the data line and
    lab.inspect named only data.path, which under a mixture gives the evaluation splits (F2,
    F1)."""
    from types import SimpleNamespace

    from lab.data.mixture import mixture_inspect_note
    from lab.training.run_lines import data_line

    gone = tmp_path / "nope.jsonl"
    sources = f"{{path: {SENTIMENT}, probability: 0.7}}, {{path: {gone}, probability: 0.3}}"
    cfg = compose_cfg("data.streaming=true", "trainer.max_steps=5", f"data.interleave=[{sources}]")
    with pytest.raises(DataError, match=rf"^data\.interleave\[1\]\.path does not exist: {gone}$"):
        validate_config(cfg)
    assert mixture_inspect_note(cfg.data) == (
        f"data.interleave: the run trains on a mixture of {SENTIMENT.name} 0.7, nope.jsonl 0.3; "
        f"lab.inspect reads data.path's splits ({cfg.data.path}), so its train figures "
        "(classes, balance, lengths) are not the mixture's: inspect each source with "
        "data.path=<it>"
    )
    assert mixture_inspect_note(compose_cfg("data.streaming=true").data) is None
    datamodule = SimpleNamespace(
        path="eval/", hub_id=None, hub_config=None, streaming=True, shuffle_buffer=100,
        interleave=[
            {"path": "/d/a.jsonl", "probability": 0.7},
            {"hub_id": "org/b", "hub_config": "x", "probability": 0.3},
        ],
        raw_sizes={"validation": 10, "test": 10}, datasets={}, cache_hits={}, carved=[],
    )  # fmt: skip
    assert data_line(datamodule).startswith(  # type: ignore[arg-type]
        "data: train streamed from a mixture of a.jsonl 0.7, org/b (x) 0.3 (shuffle buffer 100), "
        "10 validation, 10 test rows from eval/"
    )


# ----------------------------------------------------------------------------- training
def _steps_and_losses(run_dir: Path) -> list[tuple[int, float]]:
    import csv

    with (run_dir / "csv" / "metrics.csv").open() as handle:
        return [
            (int(r["step"]), float(r["train/loss"]))
            for r in csv.DictReader(handle)
            if r.get("train/loss")
        ]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("head", "overrides", "metric"),
    [
        ("text_classification", SENTIMENT_CSV, "test/acc"),
        (
            "sft",
            ["model=tiny_llama", "data=chat", f"data.path={FIXTURES / 'sft_task'}"],
            "test/loss",
        ),
        (
            "token_classification",
            ["model=tiny_bert", "data=conll2003", f"data.path={FIXTURES / 'ner'}"],
            "test/f1",
        ),
        ("masked_lm", ["task=masked_lm", *SENTIMENT_CSV, "data.max_length=16"], "test/perplexity"),
    ],
)
def test_a_head_trains_by_max_steps_across_passes(
    head: str, overrides: list[str], metric: str, compose_cfg: Any, tmp_path: Path
) -> None:
    """The first 16 rows of train, 8 a batch: 5 steps are two and a half passes."""
    from lab.train import run

    cfg = compose_cfg(
        *overrides,
        "data.batch_size=8",
        "data.max_train_samples=16",
        "data.streaming=true",
        "data.shuffle_buffer=16",
        "trainer.max_steps=5",
        "trainer.val_check_interval=5",
        "logger=csv",
        "trainer.log_every_n_steps=1",
        output_dir=tmp_path / "run",
    )
    suffix = {
        "sft": "ForCausalLM",
        "token_classification": "ForTokenClassification",
        "masked_lm": "ForMaskedLM",
    }.get(head, "ForSequenceClassification")
    assert cfg.task.head.endswith(suffix)
    metrics = run(cfg)
    assert metric in metrics and metrics[metric] == metrics[metric]  # a number, not NaN
    assert [step for step, _ in _steps_and_losses(tmp_path / "run")] == list(range(5))
    checkpoint = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=False)
    assert checkpoint["global_step"] == 5
    assert checkpoint["lab_data_position"]["batches_done"] == 5  # one endless epoch


@pytest.mark.slow
def test_a_stream_killed_mid_pass_resumes_to_the_uninterrupted_run(
    compose_cfg: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed (SIGKILL) at step 5 of 8, resumed from the step-4 checkpoint: the loss curve,
    the metrics and the final weights of a run never interrupted."""
    from lab.train import run

    monkeypatch.syspath_prepend(str(HELPERS))
    args = [
        *STREAMED_LM,
        "callbacks.last_checkpoint.every_n_train_steps=2",
        "+callbacks.fault={_target_: fault_injection.KillAtStep}",
    ]
    run(compose_cfg(*args, output_dir=tmp_path / "whole"))
    env = {"PYTHONPATH": str(HELPERS)}
    kill = {**env, "LAB_TEST_KILL_AT_STEP": "5"}
    first = lab_cli("train", *args, "paths.output_root=out", cwd=tmp_path, env=kill)
    assert first.returncode == -9, first.stderr[-2000:]
    resumed = lab_cli("train", *args, "paths.output_root=out", "resume=auto", cwd=tmp_path, env=env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    (cut,) = (tmp_path / "out").glob("runs/*/*")
    whole = tmp_path / "whole"
    record = json.loads((cut / "record.json").read_text())
    assert [r["from_step"] for r in record["resumes"]] == [4]
    assert _steps_and_losses(cut) == _steps_and_losses(whole)
    assert len(_steps_and_losses(cut)) == 8
    assert json.loads((cut / "metrics.json").read_text()) == json.loads(
        (whole / "metrics.json").read_text()
    )
    weights = [
        torch.load(d / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
        for d in (cut, whole)
    ]
    assert weights[0].keys() == weights[1].keys()
    for name, tensor in weights[0].items():
        assert torch.equal(tensor, weights[1][name]), name


def test_sft_packs_a_streamed_train_split_as_it_is_read(compose_cfg: Any) -> None:
    """data.packing=true with streaming: rows of several examples, positions restarting."""
    from lab.build import build_datamodule
    from lab.training.tokenizers import build_tokenizer

    cfg = compose_cfg(
        "model=tiny_llama",
        "data=chat",
        f"data.path={FIXTURES / 'sft_task'}",
        "data.streaming=true",
        "data.packing=true",
        "data.max_length=256",
        "data.batch_size=2",
        "trainer.max_steps=5",
    )
    datamodule = build_datamodule(cfg, build_tokenizer(cfg))
    batch = next(iter(datamodule.train_dataloader()))
    assert "attention_mask" not in batch and batch["use_cache"] is False
    positions = batch["position_ids"]
    assert positions.shape == batch["input_ids"].shape == batch["labels"].shape
    bos = datamodule.tokenizer.bos_token_id
    starts = ((positions == 0) & (batch["input_ids"] == bos)).sum(dim=1)
    assert (starts >= 2).all(), starts  # each row holds several examples (not one + padding)
    assert positions.shape[1] <= 256


@pytest.mark.parametrize(
    ("shards", "wanted", "used", "said"),
    [
        (4, 2, 2, ""),
        (3, 2, 1, "data.num_workers=2 but the train stream's 3 shards do not divide among 2"),
        (6, 4, 3, "data.num_workers=4 but the train stream's 6 shards do not divide among 4"),
        (2, 5, 2, "data.num_workers=5 but the train stream has 2 shard(s)"),
        (5, 0, 0, ""),
    ],
)
def test_workers_share_the_shards_evenly_or_fewer_are_used(
    caplog: pytest.LogCaptureFixture, shards: int, wanted: int, used: int, said: str
) -> None:
    """A worker with fewer shards loops sooner and its rows come more often (s33b F1: 3 shards
    on 2 workers): the most workers up to `data.num_workers` that divide the shards, said."""
    from types import SimpleNamespace

    with caplog.at_level("WARNING", logger="lab.data.streaming"):
        assert usable_workers(SimpleNamespace(num_shards=shards), wanted) == used  # type: ignore[arg-type]
    assert (said in caplog.text) if said else not caplog.text
    if said:
        assert f"using {used} worker(s)" in caplog.text


def test_three_shards_asked_of_two_workers_read_every_row_once_a_pass(tmp_path: Path) -> None:
    """Through the loader lab builds: 3 files of 20 rows, data.num_workers=2 -> 1 worker, so
    the first 60 rows trained are the 60 rows, each once (2 workers gave one file's rows
    twice and another's half as often)."""
    from torch.utils.data import DataLoader

    plan = _many_shard_plan(tmp_path, 3, 20)
    sharded = shard(plan.mixture(), 1, 0)
    workers = usable_workers(sharded, 2)
    loader = DataLoader(
        TrainStream(sharded, _texts, ["text"], plan.origins), batch_size=None, num_workers=workers
    )
    first_pass = [row["item"] for row in itertools.islice(loader, 60)]
    assert sorted(first_pass) == sorted(f"{k}-{i}" for k in range(3) for i in range(20))


def test_mixture_sources_of_one_file_name_are_told_apart_by_their_folders() -> None:
    """Hub-shaped sources all hold `train.jsonl`: the data line named two as
    `train.jsonl 0.7, train.jsonl 0.3` (s33b F3); each now by its shortest telling tail."""
    from lab.data.mixture import mixture_words

    entries = [
        {"path": "/d/mixA/train.jsonl", "probability": 0.5},
        {"path": "/d/mixB/train.jsonl", "probability": 0.2},
        {"path": "/e/mixB/train.jsonl", "probability": 0.1},
        {"hub_id": "org/c", "probability": 0.1},
        {"path": "solo.parquet", "probability": 0.1},
    ]
    assert mixture_words(entries) == (
        "mixA/train.jsonl 0.5, d/mixB/train.jsonl 0.2, e/mixB/train.jsonl 0.1, org/c 0.1, "
        "solo.parquet 0.1"
    )
