"""QLoRA on every head: the modules peft trains whole (`modules_to_save`: a classifier, a QA
span head) load unquantized, since a 4-bit weight cannot require gradients.

The 4-bit base needs CUDA for users (`lab.training.adapters.check_quantization` refuses it
elsewhere); these tests bypass that rule: the first ones only read the `BitsAndBytesConfig` lab
hands to `from_pretrained`, the last trains for real where bitsandbytes runs 4-bit on the CPU.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig

import lab.training.adapters as adapters
from lab.build import build_parts
from lab.config.paths import conf_dir

from conftest import TINY_FIXTURE_RUN

TASKS = sorted(p.stem for p in (conf_dir() / "task").glob("*.yaml"))
# A tiny model config each head class can be built from (BERT has no seq2seq head).
TINY_MODEL_FOR_HEAD = {"AutoModelForSeq2SeqLM": "tiny_bart", "AutoModelForCausalLM": "tiny_llama"}


class _Loaded(Exception):
    """Raised by the fake loader once it has the loading options."""


@pytest.fixture
def no_cuda_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    """QLoRA stays CUDA-only for users; these tests look past that rule."""
    monkeypatch.setattr(adapters, "check_quantization", lambda *args, **kwargs: None)


def _loading_options(
    cfg: DictConfig, tokenizer: Any, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """The keyword arguments `lab.build` gives `from_pretrained` for `cfg` (nothing loads)."""
    import lab.training.models as models

    seen: dict[str, Any] = {}

    def fake_pretrained_head(head: str, name_or_path: str, **kwargs: Any) -> Any:
        seen.update(kwargs, head=head)
        raise _Loaded

    monkeypatch.setattr(models, "pretrained_head", fake_pretrained_head)
    with pytest.raises(_Loaded):
        build_parts(cfg, tokenizer=tokenizer)
    return seen


@pytest.mark.parametrize(
    ("extra", "skipped"),
    [
        ([], ["classifier", "pre_classifier", "score"]),
        # The user's own list comes first and stays; a user `modules_to_save` joins it.
        (
            [
                "peft.quantization.llm_int8_skip_modules=[pooler,score]",
                "+peft.config.modules_to_save=[bert.pooler.dense]",
            ],
            ["pooler", "score", "classifier", "pre_classifier", "bert.pooler.dense"],
        ),
    ],
)
def test_the_classification_head_is_not_quantized(
    extra: list[str],
    skipped: list[str],
    compose_cfg: Any,
    no_cuda_rule: None,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from lab.training.tokenizers import build_tokenizer

    tokenizer = build_tokenizer(compose_cfg(*TINY_FIXTURE_RUN))  # the repo's tiny one
    cfg = compose_cfg(*TINY_FIXTURE_RUN, "peft=qlora", f"model.pretrained={tmp_path}", *extra)
    options = _loading_options(cfg, tokenizer, monkeypatch)
    quantization = options["quantization_config"]
    assert options["head"] == "transformers.AutoModelForSequenceClassification"
    assert quantization.load_in_4bit and quantization.bnb_4bit_quant_type == "nf4"
    assert quantization.llm_int8_skip_modules == skipped


def test_a_causal_lm_keeps_transformers_choice(compose_cfg: Any) -> None:
    """No module trained whole: the list stays None, so transformers keeps lm_head in float."""
    from transformers import BitsAndBytesConfig

    cfg = compose_cfg("task=causal_lm", "model=tiny_llama", "peft=qlora")
    assert adapters.unquantized_modules(cfg) == []
    kept = adapters.keep_unquantized(BitsAndBytesConfig(load_in_4bit=True), [])
    assert kept.llm_int8_skip_modules is None


@pytest.mark.parametrize("name", TASKS)
def test_each_task_names_what_peft_trains_whole(name: str, compose_cfg: Any) -> None:
    """`task.peft_modules_to_save` is peft's own choice for the task's `peft_task_type` (peft
    sets it inside its model classes; this fails when peft changes it)."""
    from peft import LoraConfig, get_peft_model

    task = compose_cfg(f"task={name}").task
    head = str(task.head)
    model_cfg = compose_cfg(
        f"task={name}", f"model={TINY_MODEL_FOR_HEAD.get(head.rsplit('.', 1)[-1], 'tiny_bert')}"
    ).model
    model = get_class(head).from_config(instantiate(model_cfg.network.config))  # type: ignore[attr-defined]
    lora = LoraConfig(
        task_type=task.peft_task_type, target_modules=list(model_cfg.lora_target_modules)
    )
    wrapped = get_peft_model(model, lora)
    peft_choice = wrapped.peft_config["default"].modules_to_save or []
    assert sorted(set(peft_choice)) == sorted(task.get("peft_modules_to_save") or [])


def test_reloading_a_run_quantized_keeps_its_head(
    compose_cfg: Any, no_cuda_rule: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`lab.eval` / `lab.predict load_in=4bit` keep the run's head in float, as it trained."""
    from transformers import AutoModelForSequenceClassification

    from lab.run_dir.runs import TrainedRun, load_exported

    cfg = compose_cfg(
        *TINY_FIXTURE_RUN, "peft=qlora", "peft.quantization.llm_int8_skip_modules=[pooler]"
    )
    seen: dict[str, Any] = {}

    def fake_from_pretrained(directory: Any, **kwargs: Any) -> Any:
        seen.update(kwargs)
        return torch.nn.Linear(1, 1)

    monkeypatch.setattr(AutoModelForSequenceClassification, "from_pretrained", fake_from_pretrained)
    run = TrainedRun(tmp_path, cfg, {})
    tokenizer_dir = Path(str(cfg.model.tokenizer.pretrained_model_name_or_path))
    load_exported(run, model_dir=tokenizer_dir, load_in="4bit")
    assert seen["quantization_config"].load_in_4bit
    assert seen["quantization_config"].llm_int8_skip_modules == [
        "pooler", "classifier", "pre_classifier", "score",
    ]  # fmt: skip


def test_a_checkpoint_loads_without_the_4bit_quantization_state() -> None:
    """bitsandbytes writes a 4-bit weight's quantization state beside it and reads none of it
    back; those entries go, every other weight (packed 4-bit ones too) loads strictly."""
    from lab.training.quantized_state import without_quantization_state

    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2))
    model[0].weight.quant_state = object()  # what a bitsandbytes Params4bit carries
    saved = dict(model.state_dict())
    saved["0.weight.absmax"] = torch.ones(1)
    saved["0.weight.quant_state.bitsandbytes__nf4"] = torch.ones(1)
    kept = without_quantization_state(model, saved)
    assert sorted(kept) == ["0.bias", "0.weight", "1.bias", "1.weight"]
    model.load_state_dict(kept)  # strict
    plain = torch.nn.Linear(2, 2)
    unchanged = {"weight.absmax": torch.ones(1), **plain.state_dict()}
    assert without_quantization_state(plain, unchanged) is unchanged


def _bitsandbytes_runs_on_cpu() -> bool:
    try:
        import bitsandbytes  # noqa: F401
    except Exception:
        return False
    return True


@pytest.mark.slow
@pytest.mark.skipif(not _bitsandbytes_runs_on_cpu(), reason="needs bitsandbytes (not a dependency)")
def test_qlora_trains_a_classifier_end_to_end(
    compose_cfg: Any, no_cuda_rule: None, tmp_path: Path
) -> None:
    """A 4-bit BERT classifier trains (LoRA + the float head), exports and evaluates again.

    bitsandbytes runs 4-bit on the CPU too (one block is 64 weights: the tiny model is 64
    wide). It stopped in `get_peft_model` before ("only Tensors of floating point dtype can
    require gradients": the classifier was 4-bit).
    """
    import bitsandbytes as bnb
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, BertConfig

    from lab.eval import main as evaluate
    from lab.train import run

    base = tmp_path / "base"
    tokenizer_dir = compose_cfg("model=tiny_bert").model.tokenizer.pretrained_model_name_or_path
    AutoTokenizer.from_pretrained(tokenizer_dir).save_pretrained(base)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=2048,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=128,
    )
    AutoModelForSequenceClassification.from_config(config).save_pretrained(base)

    import lightning as L

    kept: dict[str, Any] = {}

    class KeepModel(L.Callback):
        """Keeps a LoRA layer and the head of the wrapped model, and the head's first weights."""

        def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
            model = pl_module.model
            kept["query"] = model.base_model.model.bert.encoder.layer[0].attention.self.query
            kept["head"] = model.base_model.model.classifier.modules_to_save["default"]
            kept["initial"] = kept["head"].weight.detach().clone()

    out = tmp_path / "run"
    cfg = compose_cfg(
        *TINY_FIXTURE_RUN,
        "peft=qlora",
        f"model.pretrained={base}",
        "optimizer.lr=1e-2",
        "trainer.max_epochs=1",
        output_dir=out,
    )
    metrics = run(cfg, callbacks=[KeepModel()])

    assert isinstance(kept["query"].base_layer, bnb.nn.Linear4bit)  # the base is 4-bit
    assert type(kept["head"]) is torch.nn.Linear  # the head is not
    assert kept["head"].weight.dtype == torch.float32
    assert not torch.equal(kept["head"].weight.detach(), kept["initial"])  # and it trained
    export = json.loads((out / "model" / "config.json").read_text())
    assert export["quantization_config"]["llm_int8_skip_modules"] == [
        "classifier", "pre_classifier", "score",
    ]  # fmt: skip
    assert json.loads((out / "adapter" / "adapter_config.json").read_text())["modules_to_save"] == [
        "classifier",
        "pre_classifier",
        "score",
    ]

    # The test ran on the restored best checkpoint (its 4-bit base state dropped on loading);
    # lab.eval measures the same on the (4-bit) export and on that checkpoint rebuilt.
    assert list((out / "checkpoints").glob("best-*.ckpt"))
    for which in ("model", "best"):
        target = tmp_path / f"eval-{which}.json"
        assert evaluate([f"run={out}", f"checkpoint={which}", f"output={target}"]) == 0
        again = json.loads(target.read_text())["metrics"]
        assert again["test/acc"] == pytest.approx(metrics["test/acc"]), which
        assert again["test/loss"] == pytest.approx(metrics["test/loss"], abs=1e-4), which
