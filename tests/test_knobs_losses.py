"""`task.module.class_weights` and `task.module.label_smoothing` (lab.tasks.losses): the
loss equals a cross entropy weighted by hand on a fixed batch for each head, `balanced`
equals scikit-learn's weights, a wrong-length list is one line and exit 2, and on an
imbalanced fixture (90/10) balanced weights raise the minority class's recall."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import transformers as T

from lab.errors import ConfigError
from lab.log_records import is_file_only
from lab.tasks.losses import (
    ClassLoss,
    balanced_weights,
    counted_class_weights,
    label_counts,
    setup_class_loss,
)
from lab.tasks.multiple_choice.module import MultipleChoiceModule
from lab.tasks.text_classification.module import TextClassificationModule
from lab.tasks.token_classification import TokenClassificationModule

from conftest import FIXTURES, lab_cli

IMBALANCED = FIXTURES / "imbalanced"
CONFIG = {
    "vocab_size": 50,
    "hidden_size": 16,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 32,
    "initializer_range": 1.0,  # logits far from uniform: weighted and plain losses differ
}


def _optimizer(model: torch.nn.Module) -> Any:
    return torch.optim.SGD(model.parameters(), lr=0.1)


def _eval(module: Any) -> Any:
    """The module with its model in eval mode (TaskModule turns dropout on)."""
    module.model.eval()
    return module


def _model(head: Any, num_labels: int) -> Any:
    torch.manual_seed(0)
    labels = {i: f"c{i}" for i in range(num_labels)}
    config = T.BertConfig(**CONFIG, num_labels=num_labels, id2label=labels)
    return head.from_config(config).eval()


def _by_hand(logits: torch.Tensor, labels: torch.Tensor, weight: list[float]) -> torch.Tensor:
    """-sum_i w_{y_i} log p_i(y_i) / sum_i w_{y_i}, over rows whose label is not -100."""
    logits, labels = logits.reshape(-1, logits.shape[-1]), labels.reshape(-1)
    keep = labels != -100
    log_p = torch.log_softmax(logits[keep].double(), dim=-1)
    w = torch.tensor(weight, dtype=torch.float64)[labels[keep]]
    picked = log_p.gather(1, labels[keep, None])[:, 0]
    return -(w * picked).sum() / w.sum()


def test_text_classification_loss_is_the_hand_weighted_cross_entropy() -> None:
    model = _model(T.AutoModelForSequenceClassification, 3)
    module = _eval(TextClassificationModule(model, _optimizer, class_weights=[1.0, 2.0, 0.5]))
    torch.manual_seed(1)
    batch = {"input_ids": torch.randint(1, 50, (6, 5)), "labels": torch.tensor([0, 1, 2, 2, 1, 0])}
    with torch.no_grad():
        output = module.class_loss.model_output(model, batch)
        assert output.loss.item() == pytest.approx(
            _by_hand(output.logits, batch["labels"], [1.0, 2.0, 0.5]).item(), rel=1e-6
        )
        # ... and not the head's own (unweighted) loss
        assert output.loss.item() != pytest.approx(model(**batch).loss.item(), rel=1e-3)


def test_label_smoothing_with_weights_equals_torch_cross_entropy() -> None:
    model = _model(T.AutoModelForSequenceClassification, 3)
    module = _eval(
        TextClassificationModule(
            model, _optimizer, class_weights=[1.0, 2.0, 0.5], label_smoothing=0.2
        )
    )
    batch = {"input_ids": torch.randint(1, 50, (4, 5)), "labels": torch.tensor([0, 1, 2, 1])}
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"]).logits
        expected = F.cross_entropy(
            logits, batch["labels"], weight=torch.tensor([1.0, 2.0, 0.5]), label_smoothing=0.2
        )
        assert module.class_loss.model_output(model, batch).loss.item() == pytest.approx(
            expected.item(), rel=1e-6
        )
        # Smoothing by hand, without weights: (1 - e) * NLL + e * mean over classes of -log p.
        plain = _eval(TextClassificationModule(model, _optimizer, label_smoothing=0.2))
        log_p = torch.log_softmax(logits, dim=-1)
        nll = -log_p.gather(1, batch["labels"][:, None])[:, 0]
        by_hand = (0.8 * nll + 0.2 * -log_p.mean(dim=-1)).mean()
        assert plain.class_loss.model_output(model, batch).loss.item() == pytest.approx(
            by_hand.item(), rel=1e-6
        )


def test_without_options_the_loss_is_the_heads_own() -> None:
    model = _model(T.AutoModelForSequenceClassification, 2)
    module = _eval(TextClassificationModule(model, _optimizer))
    batch = {"input_ids": torch.randint(1, 50, (4, 5)), "labels": torch.tensor([0, 1, 1, 0])}
    assert not module.class_loss.active
    with torch.no_grad():
        assert torch.equal(module.class_loss.model_output(model, batch).loss, model(**batch).loss)


def test_token_classification_weights_skip_ignored_tokens() -> None:
    model = _model(T.AutoModelForTokenClassification, 3)
    module = _eval(
        TokenClassificationModule(
            model, _optimizer, class_weights=[0.5, 3.0, 1.5], label_smoothing=0.1
        )
    )
    labels = torch.tensor([[-100, 0, 1, -100, 2], [-100, 2, 2, 0, -100]])
    batch = {"input_ids": torch.randint(1, 50, (2, 5)), "labels": labels}
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"]).logits
        expected = F.cross_entropy(
            logits.reshape(-1, 3),
            labels.reshape(-1),
            weight=torch.tensor([0.5, 3.0, 1.5]),
            label_smoothing=0.1,
        )
        assert module.class_loss.model_output(model, batch).loss.item() == pytest.approx(
            expected.item(), rel=1e-6
        )
        weights_only = _eval(
            TokenClassificationModule(model, _optimizer, class_weights=[0.5, 3.0, 1.5])
        )
        assert weights_only.class_loss.model_output(model, batch).loss.item() == pytest.approx(
            _by_hand(logits, labels, [0.5, 3.0, 1.5]).item(), rel=1e-6
        )


def test_multiple_choice_label_smoothing() -> None:
    model = _model(T.AutoModelForMultipleChoice, 1)
    module = _eval(MultipleChoiceModule(model, _optimizer, num_choices=3, label_smoothing=0.1))
    batch = {"input_ids": torch.randint(1, 50, (4, 3, 5)), "labels": torch.tensor([0, 2, 1, 2])}
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"]).logits
        assert logits.shape == (4, 3)
        expected = F.cross_entropy(logits, batch["labels"], label_smoothing=0.1)
        assert module.class_loss.model_output(model, batch).loss.item() == pytest.approx(
            expected.item(), rel=1e-6
        )


def test_balanced_weights_are_scikit_learns() -> None:
    from datasets import Dataset
    from sklearn.utils.class_weight import compute_class_weight

    rows = [0] * 9 + [1] * 3 + [2] * 1
    counts = label_counts(Dataset.from_dict({"labels": rows}), 3)
    assert counts == [9, 3, 1]
    expected = compute_class_weight("balanced", classes=np.arange(3), y=np.array(rows))
    assert balanced_weights(counts) == pytest.approx(expected.tolist())
    assert balanced_weights(counts) == pytest.approx([13 / 27, 13 / 9, 13 / 3])
    # Token labels: lists per row, -100 not counted.
    tokens = Dataset.from_dict({"labels": [[-100, 0, 0, 1, -100], [-100, 1, 0]]})
    assert label_counts(tokens, 2) == [3, 2]
    loss = ClassLoss(2, "balanced")
    loss.count_from(tokens)
    assert loss.weight is not None
    assert loss.weight.tolist() == pytest.approx([5 / 6, 5 / 4])


def test_balanced_with_an_empty_class_says_which() -> None:
    with pytest.raises(ConfigError, match="class\\(es\\) neutral have no labels"):
        balanced_weights([4, 0, 2], ["good", "neutral", "bad"])


def test_wrong_length_class_weights_is_one_line() -> None:
    model = _model(T.AutoModelForSequenceClassification, 3)
    with pytest.raises(ConfigError) as caught:
        TextClassificationModule(model, _optimizer, class_weights=[1.0, 2.0])
    message = str(caught.value)
    assert message == (
        "task.module.class_weights has 2 weights but the model has 3 classes (c0, c1, c2): "
        "give one weight per class, in label order"
    )
    with pytest.raises(ConfigError, match="class_weights=inverse: use balanced"):
        TextClassificationModule(model, _optimizer, class_weights="inverse")


def test_class_weights_form_is_refused_before_data(compose_cfg: Any) -> None:
    """The config rules (lab.train's first step, lab.validate's only one, each swept value)
    refuse a word other than balanced and a list item that is not a number, in the words
    training uses; the list's length waits for the data."""
    from lab.config.rules import validate_config
    from lab.validate import check_swept_values

    forms = "use balanced, a list of numbers (one per class), or null"
    refused = {
        "balancedd": f"task.module.class_weights=balancedd: {forms}",
        "[a,1]": f"task.module.class_weights=[a, 1]: a is not a number; {forms}",
        "3": f"task.module.class_weights=3: {forms}",
        "[1,-2]": "task.module.class_weights=[1, -2]: every weight must be > 0",
    }
    for value, message in refused.items():
        cfg = compose_cfg("model=tiny_bert", f"task.module.class_weights={value}")
        with pytest.raises(ConfigError) as caught:
            validate_config(cfg)
        assert str(caught.value) == message
    for value in ("balanced", "null", "[1,2.5]", "[1,2,3,4,5]"):
        validate_config(compose_cfg("model=tiny_bert", f"task.module.class_weights={value}"))
    cfg = compose_cfg("model=tiny_bert", "task.module.class_weights=balanced")
    with pytest.raises(ConfigError, match="class_weights=balancedd: use balanced"):
        check_swept_values(cfg, {"task.module.class_weights": ["balanced", "balancedd"]})
    # With the class count (the data), the same words name it.
    model = _model(T.AutoModelForSequenceClassification, 2)
    with pytest.raises(ConfigError) as caught:
        TextClassificationModule(model, _optimizer, class_weights="balancedd")
    assert str(caught.value) == (
        "task.module.class_weights=balancedd: use balanced, a list of 2 numbers, or null"
    )


def test_validate_refuses_a_misspelt_balanced(tmp_path: Path) -> None:
    result = lab_cli(
        "validate", "model=tiny_bert", "task.module.class_weights=balancedd", cwd=tmp_path
    )
    assert result.returncode == 2, result.stdout
    assert result.stderr.strip().splitlines() == [
        "error: task.module.class_weights=balancedd: use balanced, a list of numbers "
        "(one per class), or null"
    ]


def _with_train_split(loss: ClassLoss, train: Any, rank_zero: bool = True) -> Any:
    """A stand-in for a task module whose Trainer's data module holds `train`."""
    from types import SimpleNamespace

    datamodule = SimpleNamespace(datasets={"train": train})
    trainer = SimpleNamespace(datamodule=datamodule, is_global_zero=rank_zero)
    return SimpleNamespace(_trainer=trainer, class_loss=loss)


def test_balanced_weights_are_logged_to_train_log_and_kept_for_the_record(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from datasets import Dataset

    rows = Dataset.from_dict({"labels": [0] * 9 + [1] * 3})  # 12 rows: 12/18, 12/6
    loss = ClassLoss(2, "balanced", names=["negative", "positive"])
    module = _with_train_split(loss, rows)
    with caplog.at_level("INFO", logger="lab.tasks.losses"):
        setup_class_loss(module, loss)
    (record,) = [r for r in caplog.records if r.name == "lab.tasks.losses"]
    assert record.getMessage() == (
        "class weights (balanced, from 12 train rows): negative 0.6667, positive 2; "
        "as a list: task.module.class_weights=[0.6667,2]"
    )
    assert is_file_only(record)  # a report: train.log, not the console
    assert counted_class_weights(module) == {
        "from": "12 train rows",
        "labels": ["negative", "positive"],
        "weights": [0.666667, 2.0],
    }
    assert loss.weight is not None and loss.weight.tolist() == pytest.approx([2 / 3, 2.0])
    # Counted once: the test stage's setup neither counts nor logs again.
    caplog.clear()
    with caplog.at_level("INFO", logger="lab.tasks.losses"):
        setup_class_loss(module, loss)
    assert not caplog.records


def test_balanced_token_weights_name_tokens_and_only_rank_zero_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from datasets import Dataset

    tokens = Dataset.from_dict({"labels": [[-100, 0, 0, 1, -100], [-100, 1, 0]]})
    loss = ClassLoss(2, "balanced")
    with caplog.at_level("INFO", logger="lab.tasks.losses"):
        setup_class_loss(_with_train_split(loss, tokens, rank_zero=False), loss)
    assert not caplog.records
    assert loss.counted == {"from": "5 scored train tokens", "weights": [0.833333, 1.25]}
    loss = ClassLoss(2, "balanced")
    with caplog.at_level("INFO", logger="lab.tasks.losses"):
        setup_class_loss(_with_train_split(loss, tokens), loss)
    assert caplog.records[0].getMessage() == (
        "class weights (balanced, from 5 scored train tokens): class 0 0.8333, class 1 1.25; "
        "as a list: task.module.class_weights=[0.8333,1.25]"
    )
    # Weights given as a list (or none) count nothing: nothing to log or record.
    assert counted_class_weights(SimpleModule(ClassLoss(2, [1.0, 2.0]))) is None
    assert counted_class_weights(object()) is None


@pytest.mark.slow
def test_wrong_length_class_weights_exits_2_before_weights_load(tmp_path: Path) -> None:
    result = lab_cli(
        "train",
        "model=tiny_bert",
        "data=csv",
        f"data.path={IMBALANCED}",
        "task.module.class_weights=[1.0,2.0,3.0]",
        "logger=none",
        "paths.output_root=out",
        cwd=tmp_path,
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if "class_weights" in line]
    assert lines == [
        "error: task.module.class_weights has 3 weights but the model has 2 classes "
        "(alert, ok): give one weight per class, in label order"
    ], result.stderr[-2000:]


class SimpleModule:
    """A module holding only a class loss."""

    def __init__(self, loss: ClassLoss) -> None:
        self.class_loss = loss


def _minority_recall(compose_cfg: Any, tmp_path: Path, *overrides: str) -> float:
    from lab.train import run

    cfg = compose_cfg(
        "model=tiny_bert",
        "data=csv",
        f"data.path={IMBALANCED}",
        "data.batch_size=16",
        "optimizer.lr=2e-3",
        "trainer.max_epochs=6",
        "logger=none",
        *overrides,
        output_dir=tmp_path,
    )
    run(cfg)
    recorded = json.loads((tmp_path / "record.json").read_text()).get("class_weights")
    if "task.module.class_weights=balanced" in overrides:
        # The counted weights, kept for a later run to give as a list.
        assert recorded == {
            "from": "400 train rows",  # 40 alert, 360 ok: n / (2 n_c)
            "labels": ["alert", "ok"],
            "weights": [5.0, 0.555556],
        }
    else:
        assert recorded is None
    report = json.loads((tmp_path / "test_report.json").read_text())
    alert = report["labels"].index("alert")
    row = report["confusion_matrix"][alert]
    return float(row[alert] / sum(row))


@pytest.mark.slow
def test_balanced_weights_raise_minority_recall(compose_cfg: Any, tmp_path: Path) -> None:
    unweighted = _minority_recall(compose_cfg, tmp_path / "none")
    balanced = _minority_recall(
        compose_cfg, tmp_path / "balanced", "task.module.class_weights=balanced"
    )
    # The fixture's signal word is more often in majority rows than in minority ones: without
    # weights the right call is never the minority (recall 0), with them 70% of it is.
    assert unweighted <= 0.1
    assert balanced >= 0.5
    assert not math.isnan(balanced)
