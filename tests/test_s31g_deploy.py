"""s31g's deployment findings: an ONNX card says its results are the PyTorch weights' and
gives the graph's own main metric where it differs (int8: s31g-1); the card's softmax does not
overflow on a confident model's logits (s31g-7)."""

from __future__ import annotations

from typing import Any

import numpy as np

from lab.run_dir.model_card import onnx_results_note
from lab.tasks.text_classification.card import SOFTMAX


def _report(form: str, pytorch: float, graph: float) -> dict[str, Any]:
    return {
        "main_metric": "test/acc",
        "form": form,
        "models": {
            "pytorch": {"metrics": {"test/acc": pytorch}},
            form: {"metrics": {"test/acc": graph}},
        },
    }


def test_an_int8_card_gives_the_graphs_own_score_beside_the_pytorch_results() -> None:
    assert onnx_results_note(_report("onnx-int8", 0.595, 0.545)) == (
        "\n\nThese are the metrics of the PyTorch weights this graph (`onnx-int8`) was exported "
        "from. **This graph scores `test/acc` 0.5450** on the same test rows (the PyTorch "
        "weights: 0.5950; CPU deployment, below)."
    )
    assert onnx_results_note(_report("onnx", 0.595, 0.595)) == (
        "\n\nThese are the metrics of the PyTorch weights this graph (`onnx`) was exported "
        "from; the graph scores the same (CPU deployment, below)."
    )


def test_the_cards_softmax_holds_for_logits_past_floats_exp_range() -> None:
    logits = np.array([[100.0, 0.0], [1.0, 2.0]], dtype=np.float32)
    namespace: dict[str, Any] = {"np": np, "logits": logits}
    exec(f"scores = {SOFTMAX}", namespace)  # the card's two lines, as a reader runs them
    expected = np.exp(logits - logits.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    assert np.isfinite(namespace["scores"]).all()
    np.testing.assert_allclose(namespace["scores"], expected)
    assert namespace["scores"][0, 0] == 1.0
