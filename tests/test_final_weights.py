"""`final_weights=last` (HF's `load_best_model_at_end=False`, s26a M6): the run tests, exports
and records its metrics for the weights training ended with instead of its best checkpoint;
the best checkpoint stays on disk, the record, the summary and the card say which weights the
numbers are of, and the last validation's metrics are kept instead of validating again."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from lab.config.rules import validate_config
from lab.errors import ConfigError
from lab.train import run

from conftest import TINY_FIXTURE_RUN, run_outputs, spy_on

# val/loss rises every epoch on the tiny model: the first epoch's checkpoint is the best one
LAST = [*TINY_FIXTURE_RUN, "trainer.max_epochs=3", "optimized_metric=val/loss"]
LAST += ["optimized_mode=min", "final_weights=last"]


def _validations(run_dir: Path) -> list[dict[str, float]]:
    """The `val/*` values of the CSV log's validation rows, in order."""
    with (run_dir / "csv" / "metrics.csv").open() as f:
        rows = [row for row in csv.DictReader(f) if row.get("val/loss")]
    return [{k: float(v) for k, v in row.items() if k.startswith("val/") and v} for row in rows]


def _weights(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k.removeprefix("model."): v for k, v in state.items() if k.startswith("model.")}


@pytest.mark.slow
def test_the_last_weights_are_tested_exported_and_recorded(
    compose_cfg: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lab.training.validation_metrics as validation_metrics

    returned = spy_on(monkeypatch, validation_metrics, "known_metrics")
    metrics = run(compose_cfg(*LAST, output_dir=tmp_path / "kept"))
    run_dir = tmp_path / "kept"
    assert returned[-1] is not None  # the last validation's metrics kept: no second pass
    record = json.loads((run_dir / "record.json").read_text())
    assert record["tested"] == "last weights"
    (best,) = (run_dir / "checkpoints").glob("best-*.ckpt")
    assert best.name.startswith("best-epoch00-")  # kept, and not the weights tested
    first_val, *_, last_val = _validations(run_dir)
    assert {k: v for k, v in metrics.items() if k.startswith("val/")} == pytest.approx(
        last_val, rel=1e-6
    )
    assert metrics["val/loss"] > first_val["val/loss"]  # not the best checkpoint's numbers
    exported = load_file(run_dir / "model" / "model.safetensors")
    last = _weights(torch.load(run_dir / "checkpoints" / "last.ckpt")["state_dict"])
    first = _weights(torch.load(best)["state_dict"])
    name = "classifier.weight"
    assert torch.equal(exported[name], last[name])
    assert not torch.equal(exported[name], first[name])
    card = (run_dir / "model" / "README.md").read_text()
    assert "## Results (last weights)" in card
    assert "| `final_weights` | last |" in card

    # lab.export of the best checkpoint gives its card none of the last weights' numbers
    # (s27c H1); of last.ckpt, the recorded ones
    from lab.export import export_run
    from lab.run_dir.runs import open_run

    trained = open_run(run_dir)
    best_card = (export_run(trained, "merged", "best", tmp_path / "best") / "README.md").read_text()
    assert "## Results (last weights)" not in best_card
    assert (
        f"No metrics were recorded for these weights (checkpoint `{best.name}`): the run "
        "recorded its metrics for its last weights."
    ) in best_card
    last_card = (export_run(trained, "merged", "last", tmp_path / "last") / "README.md").read_text()
    assert "## Results (last weights)" in last_card

    # the same run validating its last weights again records the very same numbers
    monkeypatch.setattr(validation_metrics, "known_metrics", lambda *args, **kwargs: None)
    again = run(compose_cfg(*LAST, output_dir=tmp_path / "again"))
    assert again == metrics
    assert run_outputs(tmp_path / "again") == run_outputs(run_dir)


def test_final_weights_takes_best_or_last(compose_cfg: Any) -> None:
    with pytest.raises(ConfigError) as refused:
        validate_config(compose_cfg("final_weights=final"))
    assert str(refused.value).startswith(
        "final_weights=final is not valid; valid: best, last (the weights the run tests, "
        "exports and reports)"
    )
