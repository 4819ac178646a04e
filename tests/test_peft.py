"""PEFT: LoRA and IA3 train only adapters (and the head); exports merge exactly; QLoRA fails
early without CUDA."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from lab.config import compose_train_config
from lab.errors import ConfigError
from lab.train import run

from conftest import TINY_FIXTURE_RUN

LORA_RUN = [*TINY_FIXTURE_RUN, "peft=lora", "optimizer.lr=1e-2", "trainer.max_epochs=2"]


class _Capture:
    """A callback that keeps the trained module (to compare with the exports)."""

    def __init__(self) -> None:
        import lightning as L

        outer = self

        class Keep(L.Callback):
            def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
                outer.module = pl_module
                outer.initial = {
                    k: v.detach().clone() for k, v in pl_module.model.state_dict().items()
                }

        self.callback = Keep()
        self.module: Any = None
        self.initial: dict[str, torch.Tensor] = {}


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[_Capture, Path]:
    capture = _Capture()
    run_dir = tmp_path_factory.mktemp("lora")
    run(compose_train_config(LORA_RUN, output_dir=run_dir), callbacks=[capture.callback])
    return capture, run_dir


@pytest.mark.slow
def test_only_adapters_and_head_change(lora_run: tuple[_Capture, Path]) -> None:
    capture, _ = lora_run
    final = capture.module.model.state_dict()
    changed = {k for k, v in capture.initial.items() if not torch.equal(v, final[k])}
    assert changed, "training changed something"
    assert all("lora_" in k or "classifier" in k for k in changed), sorted(changed)[:5]
    assert any("lora_B" in k for k in changed)  # lora_B starts at zero: it must have moved
    frozen = [k for k in capture.initial if "base_layer" in k or "embeddings" in k]
    assert frozen and all(torch.equal(capture.initial[k], final[k]) for k in frozen)


@pytest.mark.slow
def test_trainable_share_is_recorded(lora_run: tuple[_Capture, Path]) -> None:
    _, run_dir = lora_run
    counts = json.loads((run_dir / "record.json").read_text())["parameters"]
    assert 0 < counts["trainable"] < counts["total"]
    assert counts["trainable_percent"] == pytest.approx(100 * counts["trainable"] / counts["total"])


@pytest.mark.slow
def test_merged_export_gives_the_adapted_logits(lora_run: tuple[_Capture, Path]) -> None:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

    capture, run_dir = lora_run
    tokenizer = AutoTokenizer.from_pretrained(run_dir / "model")
    inputs = tokenizer(["the soup was delicious", "a dull film"], return_tensors="pt", padding=True)
    adapted = capture.module.model.eval()
    merged = AutoModelForSequenceClassification.from_pretrained(run_dir / "model").eval()
    with torch.no_grad():
        expected = adapted(**inputs).logits
        actual = merged(**inputs).logits
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5)
    assert (run_dir / "adapter" / "adapter_config.json").is_file()
    assert pipeline("text-classification", model=str(run_dir / "model"))("fine")[0]["label"] in {
        "negative",
        "positive",
    }


@pytest.mark.slow
def test_ia3_trains_fewer_parameters_than_lora(compose_cfg: Any, tmp_path: Path) -> None:
    run(
        compose_cfg(
            *TINY_FIXTURE_RUN, "peft=ia3", "trainer.max_epochs=1", output_dir=tmp_path / "i"
        )
    )
    run(
        compose_cfg(
            *TINY_FIXTURE_RUN, "peft=lora", "trainer.max_epochs=1", output_dir=tmp_path / "l"
        )
    )
    ia3, lora = (
        json.loads((tmp_path / name / "record.json").read_text())["parameters"]["trainable"]
        for name in ("i", "l")
    )
    assert ia3 < lora


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only refusal")
def test_qlora_without_cuda_stops_before_loading(compose_cfg: Any) -> None:
    cfg = compose_cfg(*TINY_FIXTURE_RUN, "peft=qlora")
    with pytest.raises(ConfigError, match=r"peft=qlora .* needs a CUDA GPU"):
        run(cfg)


@pytest.mark.slow
def test_export_adapter_form_and_from_a_checkpoint(
    lora_run: tuple[_Capture, Path], tmp_path: Path
) -> None:
    """`lab.export form=adapter` copies the adapter alone; rebuilt from the best checkpoint it
    holds the same adapter tensors as the export written at the end of training."""
    from safetensors.torch import load_file

    from lab.export import main

    _, run_dir = lora_run
    copied = tmp_path / "adapter-copy"
    assert main([f"run={run_dir}", "form=adapter", f"output={copied}"]) == 0
    assert {"adapter_config.json", "adapter_model.safetensors", "README.md"} <= {
        p.name for p in copied.iterdir()
    }
    assert main([f"run={run_dir}", "form=adapter", "checkpoint=best"]) == 0
    rebuilt = run_dir / "exports" / Path(next((run_dir / "checkpoints").glob("best-*"))).stem
    original = load_file(run_dir / "adapter" / "adapter_model.safetensors")
    again = load_file(rebuilt / "adapter" / "adapter_model.safetensors")
    assert original.keys() == again.keys()
    assert all(torch.equal(original[k], again[k]) for k in original)
    assert "test/acc" in (rebuilt / "adapter" / "README.md").read_text()  # best: its metrics


@pytest.mark.slow
def test_adapter_export_loads_in_a_pipeline_on_its_pretrained_base(tmp_path: Path) -> None:
    """`<run>/adapter` alone, on the base model its config names (the packaged MiniLM), gives
    the merged export's scores in a `pipeline`; the label names come from `<run>/model`."""
    from transformers import AutoConfig, pipeline

    overrides = [o for o in TINY_FIXTURE_RUN if not o.startswith("model=")]
    cfg = compose_train_config(
        [*overrides, "model=minilm", "peft=lora", "trainer.max_epochs=1", "callbacks=none"],
        output_dir=tmp_path,
    )
    run(cfg)
    adapter_config = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    assert Path(adapter_config["base_model_name_or_path"]).is_dir()  # the packaged weights
    texts = ["the soup was delicious", "a dull film", "fine"]
    labels = AutoConfig.from_pretrained(tmp_path / "model").id2label
    adapted = pipeline(
        "text-classification",
        model=str(tmp_path / "adapter"),
        model_kwargs={"id2label": labels},
        top_k=None,
    )(texts)
    merged = pipeline("text-classification", model=str(tmp_path / "model"), top_k=None)(texts)
    for from_adapter, from_merged in zip(adapted, merged, strict=True):
        assert [r["label"] for r in from_adapter] == [r["label"] for r in from_merged]
        for a, m in zip(from_adapter, from_merged, strict=True):
            assert a["score"] == pytest.approx(m["score"], abs=1e-5)
    assert {r["label"] for r in merged[0]} == {"negative", "positive"}


def _tiny_bert() -> Any:
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(
        vocab_size=64, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=20,
    )  # fmt: skip
    return BertForSequenceClassification(config)


def test_a_target_module_that_matches_nothing_is_refused_naming_the_layers() -> None:
    """peft drops a misspelled target beside a valid one without a word (LoRA on `query`
    alone), and fails with a long traceback when none matches (s34c F1, F2)."""
    from peft import LoraConfig

    from lab.training.adapters import apply_peft

    layers = (
        "its layers: word_embeddings, position_embeddings, token_type_embeddings, query, key, "
        "value, dense, classifier, or all-linear"
    )
    for targets, named in (
        (["query", "vlaue"], "'vlaue' matches"),
        (["qkv", "kv"], "'kv', 'qkv' match"),
    ):
        config = LoraConfig(task_type="SEQ_CLS", target_modules=targets)
        with pytest.raises(ConfigError) as caught:
            apply_peft(_tiny_bert(), config)
        assert str(caught.value) == (
            f"peft target_modules {named} no module of BertForSequenceClassification (set by "
            f"model.lora_target_modules or peft.config.target_modules); {layers}"
        )
    # A dotted suffix and peft's own forms are taken as peft takes them.
    for targets in (["attention.self.query", "value"], "all-linear", r".*\.query"):
        config = LoraConfig(task_type="SEQ_CLS", target_modules=targets)
        wrapped = apply_peft(_tiny_bert(), config)
        assert any("lora_A" in name for name, _ in wrapped.named_parameters())


def test_a_misspelled_target_stops_the_run_before_training(
    compose_cfg: Any, tmp_path: Path
) -> None:
    cfg = compose_cfg(
        *TINY_FIXTURE_RUN, "peft=lora", "model.lora_target_modules=[query,vlaue]",
        output_dir=tmp_path,
    )  # fmt: skip
    with pytest.raises(ConfigError, match=r"^peft target_modules 'vlaue' matches no module"):
        run(cfg)
    assert not list(tmp_path.rglob("*.ckpt"))
