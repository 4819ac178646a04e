"""A key lab reads only under another setting is no difference where neither config has that
setting (`lab.run_dir.config_upgrade.unread_key`): a classification run recorded before lab
added DistilBERT's `pre_classifier` to `task.peft_modules_to_save` (peft 0.22) resumes, and
its sweep continues, where no quantized base reads the list."""

from __future__ import annotations

from lab.run_dir.config_upgrade import unread_key
from lab.run_dir.resume import config_differences
from lab.sweeps.study_setup import _setup_differences

BEFORE = ["classifier", "score"]
NOW = ["pre_classifier", "classifier", "score"]
QLORA = {"_target_": "transformers.BitsAndBytesConfig", "load_in_4bit": True}


def _run(modules: list[str], peft: dict[str, object]) -> dict[str, object]:
    return {"task": {"head": "h", "peft_modules_to_save": modules}, "peft": peft}


def test_the_list_differs_in_nothing_without_a_quantized_base() -> None:
    for peft in ({}, {"config": {"r": 8}}, {"config": {"r": 8}, "quantization": None}):
        assert config_differences(_run(BEFORE, peft), _run(NOW, peft)) == [], peft
    # Any other change still counts, the list's key is left out only.
    changed = _run(NOW, {})
    changed["task"]["head"] = "g"  # type: ignore[index]
    assert config_differences(_run(BEFORE, {}), changed) == ["  task.head: 'h' -> 'g'"]


def test_under_a_quantized_base_the_list_is_a_difference() -> None:
    """What stays in float under QLoRA changes what trains: recorded or now, it counts."""
    line = f"  task.peft_modules_to_save: {BEFORE!r} -> {NOW!r}"
    qlora = {"config": {"r": 8}, "quantization": QLORA}
    assert config_differences(_run(BEFORE, qlora), _run(NOW, qlora)) == [line]
    assert line in config_differences(_run(BEFORE, qlora), _run(NOW, {}))
    assert line in config_differences(_run(BEFORE, {}), _run(NOW, qlora))


def test_a_sweeps_trial_setup_reads_it_the_same_way() -> None:
    """A study's recorded trial setup (flat keys, lists as JSON text, interpolations kept)."""
    key = "task.peft_modules_to_save"
    recorded = {key: '["classifier", "score"]', "optimizer.lr": 1e-4}
    now = {key: '["pre_classifier", "classifier", "score"]', "optimizer.lr": 1e-4}
    assert _setup_differences(recorded, now) == ("", [])
    quantized = {"peft.quantization._target_": "transformers.BitsAndBytesConfig"}
    text, keys = _setup_differences({**recorded, **quantized}, {**now, **quantized})
    assert keys == [key] and text.startswith(f"{key} was ")


def test_only_the_listed_keys_are_conditional() -> None:
    assert unread_key("task.peft_modules_to_save", {"optimizer.lr": 1.0})
    assert not unread_key("task.peft_modules_to_save", {"peft.quantization.load_in_4bit": True})
    assert not unread_key("task.head", {})
