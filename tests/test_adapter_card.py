"""A PEFT run's `adapter/` carries lab's model card (not peft's empty template): the base it
applies on and how to load it, or, for a base built from a config, that only the merged
`model/` is usable; `lab.export form=adapter` writes the same card. GPT-2's Conv1D layers get
`fan_in_fan_out` from lab, so peft raises no warning about it."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
from omegaconf import OmegaConf

from conftest import FIXTURES, TINY_FIXTURE_RUN

TEMPLATE = "[More Information Needed]"  # peft's empty card, 39 times
RECORD = {"command": "python -m lab.train peft=lora", "tested": "best"}
METRICS = {"test/acc": 0.75, "test/loss": 0.5}


def _peft_run(compose_cfg: Any, run_dir: Path, *overrides: str) -> Any:
    """A tiny PEFT run's exports (`model/` merged, `adapter/`), config.yaml and record.json,
    without training (the card does not depend on the weights); returns (cfg, parts)."""
    from lab.build import build_parts

    cfg = compose_cfg(*TINY_FIXTURE_RUN, "peft=lora", *overrides, output_dir=run_dir)
    torch.manual_seed(0)
    parts = build_parts(cfg)
    with torch.no_grad():  # lora_B starts at zero: move it, so the adapter changes the logits
        for name, weight in parts.model.named_parameters():
            if "lora_B" in name:
                weight.normal_(std=0.5)
    parts.module.export(run_dir / "model", parts.tokenizer)
    OmegaConf.save(cfg, run_dir / "config.yaml", resolve=True)
    (run_dir / "record.json").write_text(json.dumps({**RECORD, "metrics": METRICS}))
    return cfg, parts


def test_a_from_config_base_adapter_card_is_labs_and_points_at_model(
    compose_cfg: Any, tmp_path: Path
) -> None:
    from lab.export import main
    from lab.run_dir.model_card import write_run_cards

    run_dir = tmp_path / "run"
    cfg, _ = _peft_run(compose_cfg, run_dir)  # tiny_bert: built from its config
    adapter = run_dir / "adapter"
    assert TEMPLATE in (adapter / "README.md").read_text()  # what peft writes
    adapter_config = (adapter / "adapter_config.json").read_text()

    write_run_cards(run_dir, cfg, RECORD, METRICS)  # what lab.train's finalize calls

    card = (adapter / "README.md").read_text()
    assert TEMPLATE not in card
    assert "library_name: peft" in card and "base_model:" not in card
    assert "# LoRA adapter: Bert from config on sentiment" in card
    assert "this adapter cannot\nbe loaded on its own" in card
    assert "`<run>/model`" in card
    assert RECORD["command"] in card and "| `test/acc` | 0.7500 |" in card
    assert (adapter / "adapter_config.json").read_text() == adapter_config  # peft's, untouched
    model_card = (run_dir / "model" / "README.md").read_text()
    assert "library_name: transformers" in model_card and "adapter" not in model_card.lower()

    copied = tmp_path / "adapter-copy"
    assert main([f"run={run_dir}", "form=adapter", f"output={copied}"]) == 0
    assert (copied / "README.md").read_text() == card


@pytest.mark.parametrize("added", [[], ["model.add_tokens=[zorblax]"]], ids=["plain", "new-token"])
def test_the_adapter_card_names_its_base_and_its_loading_code_works(
    compose_cfg: Any, tmp_path: Path, added: list[str]
) -> None:
    """On a saved base (`model.pretrained=<dir>`), the card's code loads the adapter on it and
    gives the merged export's logits; with a token the run added, the card grows the base's
    embeddings first (peft indexed past the table's end)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from lab.build import build_parts
    from lab.run_dir.model_card import write_run_cards

    # With a new token, a base whose table is the tokenizer's size: the card's code must grow
    # it (tiny_bert's 2048 rows have room, and peft indexed past a full table's end).
    exact = ["model.network.config.vocab_size=775"] if added else []
    base_cfg = compose_cfg(*TINY_FIXTURE_RUN, *exact, output_dir=tmp_path / "base-run")
    base = build_parts(base_cfg)
    base_dir = base.module.export(tmp_path / "base", base.tokenizer)
    run_dir = tmp_path / "run"
    cfg, parts = _peft_run(compose_cfg, run_dir, f"model.pretrained={base_dir}", *added)
    write_run_cards(run_dir, cfg, RECORD, METRICS)

    card = (run_dir / "adapter" / "README.md").read_text()
    assert TEMPLATE not in card and "cannot" not in card
    # A local base: no path in the Hub's base_model field; the card says where the base was.
    assert "base_model:" not in card.split("---")[1]
    assert f"loaded from the local folder `{base_dir}`" in " ".join(card.split())
    labels = parts.model.config.id2label
    assert (
        f'AutoModelForSequenceClassification.from_pretrained("{base_dir}", '
        f"id2label={ {int(k): v for k, v in labels.items()}!r})"
    ) in card
    code = re.search(r"```python\n(.*?)```", card, re.S)
    assert code and "PeftModel.from_pretrained(base, " in code[1]
    scope: dict[str, Any] = {}
    exec(code[1].replace("<this directory>", str(run_dir / "adapter")), scope)

    tokenizer = AutoTokenizer.from_pretrained(run_dir / "model")
    texts = ["the soup was delicious zorblax", "a dull film"]
    inputs = tokenizer(texts, return_tensors="pt", padding=True)
    assert ("zorblax" in tokenizer.get_vocab()) == bool(added)
    assert ("resize_token_embeddings" in code[1]) == bool(added)
    merged = AutoModelForSequenceClassification.from_pretrained(run_dir / "model").eval()
    with torch.no_grad():
        expected = merged(**inputs).logits
        actual = scope["model"].eval()(**inputs).logits
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5)


def test_a_relative_base_is_named_by_its_absolute_path(
    compose_cfg: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """s30a F4: `model.pretrained=base` (relative, as `outputs/<sft run>/model` is typed) left
    `base_model_name_or_path: base` in adapter_config.json, which peft could load only from
    the folder the run was started in; the adapter and its card name the absolute path."""
    from peft import AutoPeftModelForSequenceClassification

    from lab.build import build_parts
    from lab.run_dir.model_card import write_run_cards

    base = build_parts(compose_cfg(*TINY_FIXTURE_RUN, output_dir=tmp_path / "base-run"))
    base_dir = base.module.export(tmp_path / "base", base.tokenizer)
    monkeypatch.chdir(tmp_path)
    run_dir = tmp_path / "run"
    cfg, _ = _peft_run(compose_cfg, run_dir, "model.pretrained=base")
    write_run_cards(run_dir, cfg, RECORD, METRICS)
    adapter = run_dir / "adapter"
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == str(base_dir) == str(tmp_path / "base")
    card = " ".join((adapter / "README.md").read_text().split())
    assert f"loaded from the local folder `{base_dir}`" in card
    assert f'.from_pretrained("{base_dir}"' in card
    assert f"**Base model**: base (local: `{base_dir}`)" in card  # s30c N5
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    loaded = AutoPeftModelForSequenceClassification.from_pretrained(adapter)
    assert loaded.peft_config["default"].base_model_name_or_path == str(base_dir)
    # s30c N1: lab.export from another folder rewrote the card with the relative path; the
    # run's model paths are read from its working directory (record.json's cwd) first.
    from lab.export import main

    record = json.loads((run_dir / "record.json").read_text())
    (run_dir / "record.json").write_text(json.dumps({**record, "cwd": str(tmp_path)}))
    assert main([f"run={run_dir}", "form=adapter"]) == 0
    assert f'.from_pretrained("{base_dir}"' in (adapter / "README.md").read_text()


@pytest.mark.parametrize("peft", ["ia3", "lora"])
def test_gpt2_adapters_raise_no_fan_in_fan_out_warning(compose_cfg: Any, peft: str) -> None:
    """peft warns 'fan_in_fan_out is set to False but the target module is `Conv1D`' unless
    the config says True; lab sets it for GPT-2's Conv1D layers."""
    from lab.build import build_parts

    cfg = compose_cfg(
        "model=tiny_gpt2", "data=text", f"data.path={FIXTURES / 'lm'}", f"peft={peft}"
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        parts = build_parts(cfg)
    assert not [w for w in caught if "fan_in_fan_out" in str(w.message)]
    assert parts.model.peft_config["default"].fan_in_fan_out is True
