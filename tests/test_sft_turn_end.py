"""A chat template whose end-of-turn text is not one special token of the tokenizer (a ChatML
template given to a base model) is said at data set-up, with the override that fixes it: without
it generation cannot stop at the end of the turn and answers carry the marker's text."""

from __future__ import annotations

import subprocess
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

from lab.tasks.sft.turn_end import turn_end_problem

from conftest import FIXTURES, lab_command

CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
FIX = '\'+model.add_special_tokens={additional_special_tokens: ["<|im_start|>", "<|im_end|>"]}\''


def _gpt2_tokenizer() -> Any:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(files("lab") / "assets" / "tiny_gpt2"))
    tokenizer.chat_template = CHATML
    return tokenizer


def test_a_chatml_template_on_a_base_tokenizer_is_said_with_its_fix() -> None:
    tokenizer = _gpt2_tokenizer()
    pieces = len(tokenizer("<|im_end|>", add_special_tokens=False)["input_ids"])
    assert turn_end_problem(tokenizer) == (
        f"the chat template ends an assistant turn with '<|im_end|>', which this tokenizer reads "
        f"as {pieces} ordinary tokens, not one special token: generation cannot stop there, so "
        "answers (exact_match, lab.predict, lab.serve) run on and carry that text; add the "
        f"template's markers as special tokens: {FIX}"
    )
    tokenizer.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    assert turn_end_problem(tokenizer) is None  # the fix


def test_templates_that_end_turns_with_a_special_token_are_fine() -> None:
    from transformers import AutoTokenizer

    llama = AutoTokenizer.from_pretrained(str(files("lab") / "assets" / "tiny_llama"))
    assert turn_end_problem(llama) is None  # <|eot_id|>
    plain = _gpt2_tokenizer()
    plain.chat_template = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    assert turn_end_problem(plain) is None  # nothing after the turn: EOS ends it


@pytest.mark.slow
def test_the_warning_and_its_fix_on_a_run(tmp_path: Path) -> None:
    """On a run: the warning is said; the printed override, added to the command as printed,
    runs and the warning is gone."""
    template = tmp_path / "chatml.jinja"
    template.write_text(CHATML)
    base = [
        "data=chat",
        f"data.path={FIXTURES / 'sft_task'}",
        "model=tiny_gpt2",
        f"model.chat_template={template}",
        "logger=none",
        "callbacks=none",
        "trainer.max_steps=1",
        "data.max_eval_samples=2",
        "data.max_test_samples=2",
        "task.module.max_new_tokens=2",
        "data.max_length=256",
        f"paths.output_root={tmp_path / 'out'}",
    ]
    warned = subprocess.run(lab_command("train", *base), capture_output=True, text=True)
    assert warned.returncode == 0, warned.stderr[-2000:]
    assert "ends an assistant turn with '<|im_end|>'" in warned.stderr + warned.stdout
    fixed = subprocess.run(
        lab_command("train", *base, FIX.strip("'")), capture_output=True, text=True
    )
    assert fixed.returncode == 0, fixed.stderr[-2000:]
    assert "ends an assistant turn" not in fixed.stderr + fixed.stdout
