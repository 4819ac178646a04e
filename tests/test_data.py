"""Data loading: caching, splitting, subsampling, dynamic padding, and the samplers."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lab.data.samplers import EpochSeededSampler, LengthGroupedBatchSampler, rank_part
from lab.tasks.text_classification.data import TextClassificationDataModule

from conftest import SENTIMENT


@pytest.fixture(scope="module")
def tokenizer():  # type: ignore[no-untyped-def]
    from transformers import AutoTokenizer

    from lab.config.paths import package_path

    return AutoTokenizer.from_pretrained(package_path("lab", "assets/tiny_bert"))


def _module(tokenizer, **kwargs):  # type: ignore[no-untyped-def]
    options = {"path": str(SENTIMENT), "text_column": "review", "label_column": "sentiment"}
    return TextClassificationDataModule(tokenizer, **{**options, **kwargs})


def test_second_identical_setup_is_a_cache_hit(tokenizer) -> None:  # type: ignore[no-untyped-def]
    first = _module(tokenizer, max_length=17)
    first.setup()
    second = _module(tokenizer, max_length=17)
    second.setup()
    assert second.cache_hits == {"train": True, "validation": True, "test": True}
    changed = _module(tokenizer, max_length=18)
    changed.setup()
    assert not any(changed.cache_hits.values())


def test_labels_and_names(tokenizer) -> None:  # type: ignore[no-untyped-def]
    module = _module(tokenizer)
    module.setup()
    assert module.model_kwargs() == {
        "num_labels": 2,
        "id2label": {0: "negative", 1: "positive"},
        "label2id": {"negative": 0, "positive": 1},
        "problem_type": "single_label_classification",
    }
    assert module.datasets["train"][0]["labels"] == 1  # row 0 of train.csv is positive
    swapped = _module(tokenizer, label_names=["positive", "negative"])
    swapped.setup()
    assert swapped.datasets["train"][0]["labels"] == 0


def test_carving_and_subsampling_are_seeded(tokenizer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rows = ["text,label"] + [
        f"row {i} {'good' if i < 50 else 'bad'},{int(i < 50)}" for i in range(100)
    ]
    (tmp_path / "all.csv").write_text("\n".join(rows) + "\n")
    module = TextClassificationDataModule(tokenizer, path=str(tmp_path / "all.csv"), seed=1)
    module.setup()
    assert module.raw_sizes == {"train": 81, "validation": 9, "test": 10}
    again = TextClassificationDataModule(tokenizer, path=str(tmp_path / "all.csv"), seed=1)
    again.setup()
    other = TextClassificationDataModule(tokenizer, path=str(tmp_path / "all.csv"), seed=2)
    other.setup()
    assert again.split_fingerprints == module.split_fingerprints
    assert other.split_fingerprints["test"] != module.split_fingerprints["test"]
    sub = TextClassificationDataModule(
        tokenizer, path=str(tmp_path / "all.csv"), seed=1, max_train_samples=10
    )
    sub.setup()
    labels = sub.datasets["train"]["labels"]
    assert len(labels) == 10 and set(labels) == {0, 1}  # shuffled first: both classes


def test_a_split_named_in_data_splits_but_absent_is_an_error_or_a_warned_carve(caplog) -> None:  # type: ignore[no-untyped-def]
    """Hub data: a split renamed on purpose (`test: test_sft`) that the dataset lacks is an
    error naming the splits present. A local split named otherwise is carved with a warning;
    the default mapping (`test: test`) carves it with a log line; null carves it silently."""
    import logging

    from datasets import Dataset, DatasetDict

    from lab.data.splits import carve_splits
    from lab.errors import DataError

    source = DatasetDict({"train": Dataset.from_dict({"text": [str(i) for i in range(20)]})})
    options = {"seed": 0, "fractions": {"test": 0.1, "validation": 0.1}, "limits": {}}
    renamed = {"train": "train", "validation": None, "test": "test_sft"}
    with pytest.raises(DataError, match=r"data.splits.test=test_sft: .* splits present: train"):
        carve_splits(source, renamed, local=False, **options)  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING):
        # A folder of splits lacking the one named: a typo? Warned of.
        folder = DatasetDict({"train": source["train"], "dev": source["train"]})
        splits, carved = carve_splits(folder, renamed, local=True, **options)  # type: ignore[arg-type]
        assert carved == ["test", "validation"] and len(splits["test"]) == 2
        assert "data.splits.test=test_sft but the dataset has no such split" in caplog.text
        assert "data.splits.validation" not in caplog.text  # null: carving was asked for
        caplog.clear()
        # One local file (train only): carving is what it is for (README's one-file
        # HellaSwag, `test: validation`): the log's, not a warning.
        carve_splits(source, renamed, local=True, **options)  # type: ignore[arg-type]
        assert "no such split" not in caplog.text
        caplog.clear()
        # The default mapping names lab's own split: a single file is the common case, so the
        # carving is said in the log (INFO), not warned about on every run.
        default = {"train": "train", "validation": None, "test": "test"}
        carve_splits(source, default, local=False, **options)  # type: ignore[arg-type]
        assert "no such split" not in caplog.text
    with caplog.at_level(logging.INFO):
        carve_splits(source, default, local=True, **options)  # type: ignore[arg-type]
    (record,) = [r for r in caplog.records if "no such split" in r.getMessage()]
    assert record.levelno == logging.INFO
    assert record.getMessage().startswith("data.splits.test=test but the dataset has no such")


def test_batches_are_padded_to_their_longest_row(tokenizer) -> None:  # type: ignore[no-untyped-def]
    module = _module(tokenizer, batch_size=4, max_length=64)
    module.setup()
    loader = module.train_dataloader()
    sampler = module.train_sampler
    assert isinstance(sampler, EpochSeededSampler)
    first_rows = list(iter(sampler))[:4]
    longest = max(len(module.datasets["train"][i]["input_ids"]) for i in first_rows)
    batch = next(iter(loader))
    assert batch["input_ids"].shape == (4, longest)
    assert batch["labels"].dtype.is_floating_point is False


def test_length_grouped_batches_cover_each_row_once_and_group_lengths() -> None:
    lengths = [(i * 37) % 101 + 1 for i in range(1000)]
    sampler = LengthGroupedBatchSampler(lengths, batch_size=8, seed=3, group_size=10)
    batches = sampler.batches(epoch=0)
    flat = [i for batch in batches for i in batch]
    assert sorted(flat) == list(range(1000))  # the same set of examples as plain shuffling
    assert len(batches) == len(sampler) == 125
    # Within a batch, lengths come from one sorted mega-batch: their spread is far below the
    # spread of random batches.
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches) / 125
    random_order = list(iter(EpochSeededSampler(1000, 8, seed=3)))
    random_batches = [random_order[i : i + 8] for i in range(0, 1000, 8)]
    random_spread = (
        sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in random_batches) / 125
    )
    assert spread < random_spread / 5
    # Deterministic under the seed, different across epochs and seeds.
    assert LengthGroupedBatchSampler(lengths, 8, seed=3, group_size=10).batches(0) == batches
    assert sampler.batches(1) != batches
    assert LengthGroupedBatchSampler(lengths, 8, seed=4, group_size=10).batches(0) != batches


def test_length_grouped_ranks_split_the_global_batches_of_one_process() -> None:
    lengths = [(i * 37) % 101 + 1 for i in range(1003)]
    single = LengthGroupedBatchSampler(lengths, batch_size=16, seed=3, group_size=10)
    ranks = [
        LengthGroupedBatchSampler(lengths, 8, seed=3, group_size=10, num_replicas=2, rank=r)
        for r in (0, 1)
    ]
    assert len(ranks[0]) == len(ranks[1]) == len(single) == 63
    for epoch in (0, 1):
        for whole, first, second in zip(
            single.batches(epoch), ranks[0].batches(epoch), ranks[1].batches(epoch), strict=True
        ):
            # Each global batch is split between the ranks, longest rows first, none left
            # out; the partial one (1003 = 62 x 16 + 11 rows) 6 + 5.
            assert first + second == whole
            assert len(first) - len(second) == (len(whole) % 2)
        # `uneven_batch` names that partial batch's place in the epoch, on either rank.
        uneven = [i for i, whole in enumerate(single.batches(epoch)) if len(whole) == 11]
        assert [r.uneven_batch(epoch) for r in ranks] == uneven * 2
    assert single.uneven_batch(0) is None  # one process: nothing to weigh


def test_epoch_seeded_ranks_split_a_partial_global_batch_as_evenly_as_they_can() -> None:
    """7 rows, 2 ranks of batch 2: global batches of 4 and 3 rows; the 3 go 2 + 1 (none left
    out, as one process with batch 4 trains on them). A last global batch of fewer rows than
    ranks (5 rows: 1) is left out: a rank without a batch would hang DDP."""
    single = list(iter(EpochSeededSampler(7, 4, seed=0)))
    ranks = [EpochSeededSampler(7, 2, seed=0, num_replicas=2, rank=r) for r in (0, 1)]
    first, second = (list(iter(r)) for r in ranks)
    assert first[:2] + second[:2] == single[:4] and first[2:] + second[2:] == single[4:]
    assert (len(first), len(second)) == (4, 3)
    assert [r.uneven_batch(0) for r in ranks] == [1, 1]
    assert EpochSeededSampler(8, 2, seed=0, num_replicas=2).uneven_batch(0) is None  # 4 + 4
    assert EpochSeededSampler(6, 2, seed=0, num_replicas=2).uneven_batch(0) is None  # 1 + 1
    five = [list(iter(EpochSeededSampler(5, 2, seed=0, num_replicas=2, rank=r))) for r in (0, 1)]
    assert [len(rows) for rows in five] == [2, 2]
    assert EpochSeededSampler(5, 2, seed=0, num_replicas=2).uneven_batch(0) is None
    assert [rank_part(5, 2, r) for r in (0, 1)] == [slice(0, 3), slice(3, 5)]
    assert [rank_part(7, 3, r) for r in (0, 1, 2)] == [slice(0, 3), slice(3, 5), slice(5, 7)]
    assert rank_part(1, 2, 0) == rank_part(1, 2, 1) == slice(0, 0)


def test_samplers_resume_mid_epoch() -> None:
    sampler = EpochSeededSampler(40, batch_size=4, seed=0)
    sampler.set_epoch(2)
    full = list(iter(sampler))
    sampler.resume_at(epoch=2, batches_done=3)
    assert list(iter(sampler)) == full[12:]
    assert list(iter(sampler)) == full  # the skip applies once
    grouped = LengthGroupedBatchSampler(list(range(40)), 4, seed=0)
    grouped.set_epoch(1)
    grouped.resume_at(1, 2)
    assert list(iter(grouped)) == grouped.batches(1)[2:]


def test_length_grouping_keeps_four_mega_batches_on_a_small_split() -> None:
    # 1,600 rows of batch 32: 50 batches, so the default 50-batch group would be the whole
    # split sorted (every batch one band of 32 consecutive lengths, the same bands each epoch).
    lengths = list(range(1600))
    sampler = LengthGroupedBatchSampler(lengths, batch_size=32, seed=0, group_size=50)
    assert sampler.batches_per_group == 12  # 1600 // (4 * 32), as HF Trainer's grouping
    batches = sampler.batches(0)
    assert sorted(i for b in batches for i in b) == lengths
    spreads = [max(b) - min(b) for b in batches if len(b) == 32]
    # Rows of a batch come from a random 384-row mega-batch: ~1600/384 times the band width.
    assert sum(spreads) / len(spreads) > 3 * 31
    assert LengthGroupedBatchSampler(lengths, 32, seed=0, group_size=5).batches_per_group == 5
    assert LengthGroupedBatchSampler(lengths[:40], 32, seed=0).batches_per_group == 1


def test_eval_batch_size_null_is_the_training_batch_on_cpu_and_4x_on_a_gpu(tokenizer) -> None:  # type: ignore[no-untyped-def]
    from types import SimpleNamespace

    module = _module(tokenizer, batch_size=8, eval_batch_size=None)
    assert module.eval_batch_size == (32 if torch.cuda.is_available() else 8)  # no Trainer yet
    for device, expected in (("cpu", 8), ("cuda", 32)):
        module.trainer = SimpleNamespace(  # type: ignore[assignment]
            strategy=SimpleNamespace(root_device=torch.device(device))
        )
        assert module.eval_batch_size == expected
    assert _module(tokenizer, batch_size=8, eval_batch_size=5).eval_batch_size == 5
