"""Carved and subsampled splits follow `data.split_seed`, not the run seed: every seed of a
seed study is validated and tested on the same rows (they were resampled with `seed`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from conftest import FIXTURES

SENTIMENT = [
    "model=tiny_bert", "data=csv", f"data.path={FIXTURES / 'sentiment'}",
    "data.text_column=review", "data.label_column=sentiment",
]  # fmt: skip


def _splits(compose_cfg: Any, *overrides: str) -> dict[str, list[str]]:
    from hydra.utils import instantiate

    from lab.data.splits import read_splits

    cfg = compose_cfg(*SENTIMENT, *overrides)
    datamodule = instantiate(cfg.data, tokenizer=instantiate(cfg.model.tokenizer), _convert_="all")
    return {name: list(split["review"]) for name, split in read_splits(datamodule).items()}


def test_seeds_share_the_carved_rows_and_split_seed_changes_them(compose_cfg: Any) -> None:
    subsets = ["data.max_train_samples=40", "data.max_eval_samples=6", "data.max_test_samples=6"]
    first = _splits(compose_cfg, "seed=1", *subsets)
    assert _splits(compose_cfg, "seed=2", *subsets) == first  # the same rows for every seed
    other = _splits(compose_cfg, "seed=1", "data.split_seed=7", *subsets)
    for name in ("train", "validation", "test"):
        assert other[name] != first[name], name
        assert len(other[name]) == len(first[name])
    # A config recorded before data.split_seed (no key, or null) carves with data.seed.
    assert _splits(compose_cfg, "seed=7", "data.split_seed=null", *subsets) == other


def test_a_run_recorded_before_split_seed_resumes_with_its_own_carving(
    compose_cfg: Any, tmp_path: Path
) -> None:
    from lab.run_dir.resume import adopt_added_settings, config_differences

    cfg = compose_cfg(*SENTIMENT, "seed=3")
    recorded: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    del recorded["data"]["split_seed"]  # as config.yaml of a run before the setting
    assert config_differences(recorded, OmegaConf.to_container(cfg, resolve=True)) == [
        "  data.split_seed: '<absent>' -> 42"
    ]
    adopt_added_settings(cfg, recorded)
    assert cfg.data.split_seed is None  # carved with data.seed=3, as the run was
    current = OmegaConf.to_container(cfg, resolve=True)
    assert config_differences(recorded, current) == []  # type: ignore[arg-type]
    recorded["data"]["split_seed"] = None  # its config.yaml rewritten by that resume
    assert config_differences(recorded, current) == []  # type: ignore[arg-type]

    newer = compose_cfg(*SENTIMENT, "seed=3")  # a run recorded with the setting keeps it
    recorded["data"]["split_seed"] = 42
    adopt_added_settings(newer, recorded)
    assert newer.data.split_seed == 42
