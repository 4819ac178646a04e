"""SFT data: row formats, the assistant-only label mask, overlong rows, packing, bad rows.

The label mask is checked token by token against oracles computed another way: Hugging Face's
own `return_assistant_tokens_mask` (templates with `{% generation %}` markers; lab's mask does
not read them) and the token counts of rendered conversation prefixes. Packing is checked
against the tiny Llama itself: each packed example's per-token loss equals its loss alone.
No training here; the whole file takes about 20 s on one core.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
import torch
from omegaconf import OmegaConf

from lab.errors import ConfigError, DataError
from lab.tasks.sft.chat import (
    ChatError,
    detect_format,
    prompt_ids,
    render_chat,
    split_final_answer,
    to_messages,
)
from lab.training.tokenizers import build_tokenizer, read_chat_template

from conftest import FIXTURES

ROOT = Path(__file__).resolve().parent.parent
SFT = FIXTURES / "sft"
TINY_LLAMA = ROOT / "conf/model/tiny_llama.yaml"

CHAT = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "Paris."},
    {"role": "user", "content": "And of Italy?"},
    {"role": "assistant", "content": "Rome, since 1871."},
    {"role": "user", "content": "Which is larger?"},
    {"role": "assistant", "content": "Paris has more people."},
]
ANSWERS = [m["content"] for m in CHAT if m["role"] == "assistant"]

# Two other template shapes, with `{% generation %}` around exactly what the model writes (the
# oracle); lab's mask must come out the same with the markers removed.
ZEPHYR = (
    "{% for message in messages %}<|{{ message['role'] }}|>\n"
    "{% if message['role'] == 'assistant' %}{% generation %}{{ message['content'] + eos_token }}"
    "\n{% endgeneration %}{% else %}{{ message['content'] + eos_token }}\n{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
LLAMA2 = (  # the system prompt folds into the first user turn; [INST] ... [/INST] answer </s>
    "{% if messages[0]['role'] == 'system' %}{% set system = messages[0]['content'] %}"
    "{% set messages = messages[1:] %}{% else %}{% set system = '' %}{% endif %}"
    "{% for message in messages %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' }}"
    "{% if loop.first and system %}{{ '<<SYS>>\\n' + system + '\\n<</SYS>>\\n\\n' }}{% endif %}"
    "{{ message['content'] + ' [/INST]' }}{% else %}{% generation %}"
    "{{ ' ' + message['content'] + ' ' + eos_token }}{% endgeneration %}{% endif %}{% endfor %}"
)


def _tokenizer(template: str | None = None) -> Any:
    cfg = OmegaConf.create({"model": OmegaConf.load(TINY_LLAMA)})
    cfg.model.tokenizer.pretrained_model_name_or_path = str(ROOT / "src/lab/assets/tiny_llama")
    cfg.model.chat_template = template
    return build_tokenizer(cfg)


def _datamodule(tokenizer: Any, path: Path, **options: Any) -> Any:
    from lab.tasks.sft.data import SFTDataModule

    options = {"val_fraction": 0.2, "test_fraction": 0.2, "batch_size": 4, **options}
    datamodule = SFTDataModule(tokenizer, path=str(path), **options)
    datamodule.setup("fit")
    return datamodule


def _write(folder: Path, splits: dict[str, list[dict[str, Any]]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in splits.items():
        (folder / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def _rows(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (SFT / f"{name}.jsonl").read_text().splitlines()]


# ------------------------------------------------------------------------------ formats
def test_the_format_is_found_from_the_columns() -> None:
    assert detect_format(["messages", "prompt", "source"]) == "messages"  # UltraChat's columns
    assert detect_format(["prompt", "completion"]) == "prompt_completion"
    assert detect_format(["instruction", "input", "output", "text"]) == "alpaca"
    assert detect_format(["id", "conversations"]) == "sharegpt"  # SlimOrca, OpenHermes
    with pytest.raises(ChatError, match=r"data\.format") as caught:
        detect_format(["question", "answer"])
    assert str(caught.value).endswith("(or set data.format)")  # nothing more to say
    # s23c L4-L5: what such columns are, where a column says it
    with pytest.raises(ChatError) as caught:
        detect_format(["system", "question", "chosen", "rejected"])  # Orca's pairs
    assert str(caught.value).endswith(
        "; chosen and rejected are preference pairs: train them with DPO (data=preferences "
        "data.path=..., or data=ultrafeedback)"
    )
    with pytest.raises(ChatError) as caught:
        detect_format(["prompt", "prompt_id"])  # trl-lib/ultrafeedback-prompt
    assert str(caught.value).endswith(
        "; a prompt column alone holds no answers to train on (prompt-only sets are for "
        "online RL, which lab does not do)"
    )


@pytest.mark.parametrize("name", ["messages", "prompt_completion", "alpaca", "sharegpt"])
def test_each_fixture_format_loads_as_chats(name: str) -> None:
    datamodule = _datamodule(_tokenizer(), SFT / f"{name}.jsonl")
    assert datamodule.format == name
    sizes = {split: len(ds) for split, ds in datamodule.datasets.items()}
    assert sum(sizes.values()) == len(_rows(name))  # nothing dropped at the default length


def test_rows_of_every_shape_become_the_same_messages() -> None:
    user, answer = "Translate: cat", "chat"
    expected = [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]
    assert to_messages({"prompt": user, "completion": answer}, "prompt_completion") == expected
    listed = {"prompt": expected[:1], "completion": expected[1:]}
    assert to_messages(listed, "prompt_completion") == expected
    alpaca = {"instruction": "Translate:", "input": "cat", "output": answer}
    assert to_messages(alpaca, "alpaca")[0]["content"] == "Translate:\n\ncat"
    no_input = {"instruction": user, "input": "", "output": answer}
    assert to_messages(no_input, "alpaca") == expected
    extra = {"messages": [{"role": "user", "content": user, "name": "x"}, expected[1]]}
    assert to_messages(extra, "messages") == expected  # keys other than role/content dropped
    sharegpt = {
        "conversations": [{"from": "human", "value": user}, {"from": "gpt", "value": answer}]
    }
    assert to_messages(sharegpt, "sharegpt") == expected
    system = [{"from": "system", "value": "Be brief."}, *sharegpt["conversations"]]
    assert to_messages({"conversations": system}, "sharegpt")[0] == {
        "role": "system", "content": "Be brief.",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("row", "fmt", "column", "words"),
    [
        ({"messages": [{"role": "bot", "content": "hi"}]}, "messages", "messages", "unknown role"),
        ({"messages": [{"role": "user", "content": "hi"}]}, "messages", "messages", "no assistant"),
        ({"messages": []}, "messages", "messages", r"^the conversation is empty \(no messages\)$"),
        (
            {"conversations": [{"from": "human", "value": "hi"}, {"from": "bot", "value": "yo"}]},
            "sharegpt",
            "conversations",
            r"^turn 1 is from 'bot'; ShareGPT speakers read: system, human, user, gpt, ",
        ),
        (  # s23c L7: glaive / OpenHermes-FC function-calling turns
            {
                "conversations": [
                    {"from": "human", "value": "hi"},
                    {"from": "function_call", "value": "{}"},
                ]
            },
            "sharegpt",
            "conversations",
            r"^turn 1 is from 'function_call', a function-calling turn; lab trains on the text "
            r"of system, user and assistant turns: leave function-calling conversations out$",
        ),
        (
            {"conversations": [{"role": "user", "content": "hi"}]},
            "sharegpt",
            "conversations",
            r"^turn 0 is not a ShareGPT \{from, value\} mapping",
        ),
        (
            {"conversations": [{"from": "human", "value": "hi"}]},
            "sharegpt",
            "conversations",
            "no assistant turn",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": " "},
                ]
            },
            "messages",
            "messages",
            "empty assistant turn",
        ),
        ({"prompt": "hi", "completion": ""}, "prompt_completion", "completion", "empty assistant"),
        ({"instruction": "hi", "input": "", "output": ""}, "alpaca", "output", "is empty"),
        (  # an empty answer before an unknown role: refused for the role, not dropped as empty
            {
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": ""},
                    {"role": "tool", "content": "sunny"},
                    {"role": "assistant", "content": "It is sunny."},
                ]
            },
            "messages",
            "messages",
            "message 2 has unknown role 'tool'",
        ),
        (  # a CSV cell holds the list as text: the way out is said
            {"messages": '[{"role": "user", "content": "hi"}, ' * 3},
            "messages",
            "messages",
            r"expected a list of messages, found str '\[\{\"role\": \"user\", .*\.\.\. "
            r"\(a CSV file stores a list as text: write chat data as JSON lines or Parquet\)$",
        ),
        (  # OpenAI's tool-call turn (empty content, tool_calls): refused as a tool call
            {
                "messages": [
                    {"role": "user", "content": "weather?"},
                    {"role": "assistant", "content": "", "tool_calls": [{"id": "1"}]},
                    {"role": "assistant", "content": "It is sunny."},
                ]
            },
            "messages",
            "messages",
            r"message 1 \(assistant\) is a tool call \(tool_calls\)",
        ),
    ],
)
def test_bad_rows_name_the_column(row: dict[str, Any], fmt: str, column: str, words: str) -> None:
    with pytest.raises(ChatError, match=words) as caught:
        to_messages(row, fmt)
    assert caught.value.column == column


# ------------------------------------------------------------------------- label mask
def _prefix_oracle(tokenizer: Any, messages: list[dict[str, str]]) -> list[int]:
    """1 on tokens [len(prefix + generation prompt), len(prefix + answer)) of every assistant
    turn, counting the tokens of `apply_chat_template` over conversation prefixes."""
    ids = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"]
    mask = [0] * len(ids)
    for i, message in enumerate(messages):
        if message["role"] == "assistant":
            start = len(
                tokenizer.apply_chat_template(
                    messages[:i], add_generation_prompt=True, return_dict=True
                )["input_ids"]
            )
            stop = len(
                tokenizer.apply_chat_template(messages[: i + 1], return_dict=True)["input_ids"]
            )
            mask[start:stop] = [1] * (stop - start)
    return mask


def _marker_oracle(tokenizer: Any, messages: list[dict[str, str]]) -> tuple[list[int], list[int]]:
    out = tokenizer.apply_chat_template(
        messages, return_dict=True, return_assistant_tokens_mask=True
    )
    return list(out["input_ids"]), list(out["assistant_masks"])


def _masked_runs(tokenizer: Any, ids: list[int], mask: list[int]) -> list[str]:
    """The text of each run of masked tokens, in order."""
    runs: list[list[int]] = []
    for at, (token, keep) in enumerate(zip(ids, mask, strict=True)):
        if keep and (at == 0 or not mask[at - 1]):
            runs.append([])
        if keep:
            runs[-1].append(token)
    return [tokenizer.decode(run) for run in runs]


def test_the_mask_covers_exactly_the_assistant_turns_of_tiny_llamas_template() -> None:
    tokenizer = _tokenizer()
    ids, mask = render_chat(tokenizer, CHAT)
    assert (ids, mask) == _marker_oracle(tokenizer, CHAT)
    assert mask == _prefix_oracle(tokenizer, CHAT)
    # Token by token: the masked runs are the three answers, each with its end-of-turn token.
    runs = _masked_runs(tokenizer, ids, mask)
    assert runs == [answer + "<|eot_id|>" for answer in ANSWERS]


@pytest.mark.parametrize("template", [ZEPHYR, LLAMA2], ids=["zephyr", "llama2"])
def test_the_mask_matches_another_template_shape_given_by_model_chat_template(
    template: str, tmp_path: Path
) -> None:
    marked = _tokenizer(template)
    expected_ids, expected = _marker_oracle(marked, CHAT)
    assert sum(expected) > 0
    plain = tmp_path / "template.jinja"  # the same template without the markers, as a file
    plain.write_text(template.replace("{% generation %}", "").replace("{% endgeneration %}", ""))
    tokenizer = _tokenizer(str(plain))
    assert tokenizer.chat_template == plain.read_text()
    ids, mask = render_chat(tokenizer, CHAT)
    assert ids == expected_ids
    assert mask == expected
    masked = tokenizer.decode([t for t, keep in zip(ids, mask, strict=True) if keep])
    assert all(answer in masked for answer in ANSWERS)
    assert "capital" not in masked and "Italy" not in masked and "helpful" not in masked


# An assistant greeting as the first turn (as in some OpenAssistant / ShareGPT dumps).
OPENED = [
    {"role": "assistant", "content": "Hello! Ask me anything."},
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "Paris."},
]


@pytest.mark.parametrize(
    ("template", "runs"),
    [
        (None, ["Hello! Ask me anything.<|eot_id|>", "Paris.<|eot_id|>"]),
        (ZEPHYR, ["Hello! Ask me anything.<|eot_id|>\n", "Paris.<|eot_id|>\n"]),
        (LLAMA2, [" Hello! Ask me anything. <|eot_id|>", " Paris. <|eot_id|>"]),
    ],
    ids=["tiny_llama", "zephyr", "llama2"],
)
def test_a_conversation_the_assistant_opens_trains_its_first_turn(
    template: str | None, runs: list[str], tmp_path: Path
) -> None:
    """Hugging Face's `{% generation %}` mask (TRL's assistant_only_loss) covers the opening
    turn's text and end of turn, not the template's header before it; lab's mask is the same."""
    marked = _tokenizer(template)
    expected_ids, expected = _marker_oracle(marked, OPENED)
    plain = None
    if template is not None:
        plain = tmp_path / "template.jinja"
        plain.write_text(
            template.replace("{% generation %}", "").replace("{% endgeneration %}", "")
        )
    tokenizer = _tokenizer(None if plain is None else str(plain))
    ids, mask = render_chat(tokenizer, OPENED)
    assert (ids, mask) == (expected_ids, expected)
    assert _masked_runs(tokenizer, ids, mask) == runs


def test_a_row_the_assistant_opens_is_a_training_and_an_evaluation_row(tmp_path: Path) -> None:
    """The finding: such a row crashed the data module with transformers' 'Cannot apply chat
    template to an empty conversation'. Asked with nothing before it, the model starts from the
    template's opening (here BOS and the assistant header)."""
    tokenizer = _tokenizer()
    rows = _rows("messages")
    opened = {"messages": OPENED}
    greeting = {"messages": OPENED[:1]}  # only the greeting: asked from the opening alone
    folder = _write(
        tmp_path / "d",
        {"train": [*rows[:2], opened, *rows[2:]], "validation": [greeting], "test": rows[:1]},
    )
    datamodule = _datamodule(tokenizer, folder)
    assert datamodule.dropped == {"train": 0, "validation": 0, "test": 0}
    labels = datamodule.datasets["train"][2]["labels"]
    kept = [t for t in labels if t != -100]
    assert tokenizer.decode(kept) == "Hello! Ask me anything.<|eot_id|>Paris.<|eot_id|>"
    assert labels[: labels.index(kept[0])] == [-100] * 6  # BOS and the assistant header
    row = datamodule.datasets["validation"][0]
    assert tokenizer.decode(row["prompt_input_ids"]) == (
        "<|begin_of_text|><|start_header_id|>assistant<|end_header_id|>\n\n"
    )
    assert row["reference"] == "Hello! Ask me anything."
    assert row["input_ids"][: len(row["prompt_input_ids"])] == row["prompt_input_ids"]


def test_a_row_the_template_fails_on_is_named_not_a_traceback(tmp_path: Path) -> None:
    """Any exception of the template on one row (not only jinja's TemplateError) names it."""
    failing = tmp_path / "failing.jinja"  # tiny Llama's template, dividing by zero on one text
    failing.write_text(
        (ROOT / "src/lab/assets/tiny_llama/chat_template.jinja")
        .read_text()
        .replace(
            "{%- for message in messages %}",
            "{%- for message in messages %}{% if message['content'] == 'boom' %}{{ 1 // 0 }}"
            "{% endif %}",
        )
    )
    tokenizer = _tokenizer(str(failing))
    bad = {"messages": [{"role": "user", "content": "boom"}, {"role": "assistant", "content": "x"}]}
    words = "the chat template could not render the conversation: ZeroDivisionError: "
    words += "integer division or modulo by zero"
    with pytest.raises(ChatError) as refused:
        render_chat(tokenizer, bad["messages"])
    assert str(refused.value) == words
    rows = _rows("messages")
    train = [*rows[:2], bad, *rows[2:]]
    folder = _write(tmp_path / "d", {"train": train, "validation": rows[:2], "test": rows[:2]})
    with pytest.raises(DataError) as caught:
        _datamodule(tokenizer, folder)
    assert str(caught.value) == f"{folder / 'train.jsonl'}:3: {words}"


def test_prompt_ids_end_with_the_generation_prompt() -> None:
    tokenizer = _tokenizer()
    asked, reference = split_final_answer(CHAT)
    assert reference == ANSWERS[-1] and asked == CHAT[:-1]
    ids = prompt_ids(tokenizer, asked)
    assert tokenizer.decode(ids).endswith(
        "Which is larger?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
    )
    full, mask = render_chat(tokenizer, CHAT)
    assert full[: len(ids)] == ids and mask[len(ids)] == 1  # the last answer starts right there


def test_labels_and_evaluation_batches(tmp_path: Path) -> None:
    tokenizer = _tokenizer()
    rows = _rows("messages")
    folder = _write(tmp_path / "d", {"train": rows, "validation": rows[:3], "test": rows[:2]})
    datamodule = _datamodule(tokenizer, folder)
    train = datamodule.datasets["train"][0]
    ids, mask = render_chat(tokenizer, to_messages(rows[0], "messages"))
    assert train["input_ids"] == ids
    assert train["labels"] == [t if keep else -100 for t, keep in zip(ids, mask, strict=True)]
    batch = next(iter(datamodule.val_dataloader()))
    assert set(batch) == {
        "input_ids", "attention_mask", "labels", "prompt_input_ids", "prompt_attention_mask",
        "references", "row_id",
    }  # fmt: skip
    assert sorted(batch["references"]) == sorted(
        split_final_answer(to_messages(r, "messages"))[1] for r in rows[:3]
    )
    for row in range(len(batch["references"])):  # prompts left-padded, inputs right-padded
        asked = split_final_answer(to_messages(rows[int(batch["row_id"][row])], "messages"))[0]
        prompt = prompt_ids(tokenizer, asked)
        assert batch["prompt_input_ids"][row, -len(prompt) :].tolist() == prompt
        assert batch["prompt_attention_mask"][row].sum() == len(prompt)
        assert batch["prompt_attention_mask"][row, -1] == 1 and batch["attention_mask"][row, 0] == 1
    everything = _datamodule(tokenizer, folder, train_on_prompt=True).datasets["train"][0]
    assert everything["labels"] == [-100, *ids[1:]]


# ------------------------------------------------------------------------ overlong rows
def test_overlong_prompts_are_dropped_and_counted_or_named(tmp_path: Path) -> None:
    tokenizer = _tokenizer()
    rows = _rows("messages")
    folder = _write(tmp_path / "d", {"train": rows, "validation": rows[:2], "test": rows[:2]})
    max_length = 24

    def first_prompt(row: dict[str, Any]) -> int:  # the tokens before the first answer
        messages = row["messages"]
        first = next(i for i, m in enumerate(messages) if m["role"] == "assistant")
        return len(prompt_ids(tokenizer, messages[:first]))

    overlong = [i for i, row in enumerate(rows) if first_prompt(row) >= max_length]
    assert 0 < len(overlong) < len(rows)  # the fixture has both kinds at this length
    kept = [
        len(tokenizer.apply_chat_template(r["messages"], return_dict=True)["input_ids"])
        for i, r in enumerate(rows)
        if i not in overlong
    ]
    datamodule = _datamodule(tokenizer, folder, max_length=max_length)
    assert datamodule.dropped["train"] == len(overlong)
    assert len(datamodule.datasets["train"]) == len(rows) - len(overlong)
    truncated = sum(n > max_length for n in kept) / len(kept)
    assert datamodule.truncated_share["train"] == pytest.approx(truncated)
    assert max(len(r) for r in datamodule.datasets["train"]["input_ids"]) == max_length
    with pytest.raises(DataError, match=rf"train\.jsonl:{overlong[0] + 1}: the prompt is"):
        _datamodule(tokenizer, folder, max_length=max_length, on_overlong="error")


# ------------------------------------------------------------------------------ bad rows
EMPTY_ANSWER = {
    "messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": ""}]
}


@pytest.mark.parametrize(
    ("bad", "words", "options"),
    [
        (
            {"messages": [{"role": "robot", "content": "x"}]},
            "message 0 has unknown role 'robot'",
            {},
        ),
        (EMPTY_ANSWER, "message 1 is an empty assistant turn", {"on_empty": "error"}),
    ],
)
def test_bad_rows_are_named_by_file_line_and_column(
    bad: dict[str, Any], words: str, options: dict[str, Any], tmp_path: Path
) -> None:
    rows = _rows("messages")
    train = [*rows[:2], bad, *rows[2:]]
    folder = _write(tmp_path / "d", {"train": train, "validation": rows[:2], "test": rows[:2]})
    with pytest.raises(DataError, match=rf"train\.jsonl:3 column 'messages': {words}"):
        _datamodule(_tokenizer(), folder, **options)


def test_rows_with_an_empty_answer_are_dropped_and_counted_by_default(tmp_path: Path) -> None:
    """Real data has them (28 of Alpaca's outputs are empty): the default drops them."""
    rows = _rows("messages")
    train = [*rows[:2], EMPTY_ANSWER, *rows[2:], EMPTY_ANSWER]
    folder = _write(tmp_path / "d", {"train": train, "validation": rows[:2], "test": rows[:2]})
    datamodule = _datamodule(_tokenizer(), folder)
    assert datamodule.dropped["train"] == 2
    assert len(datamodule.datasets["train"]) == len(rows)


def test_a_missing_chat_template_names_model_chat_template() -> None:
    tokenizer = _tokenizer()
    tokenizer.chat_template = None
    with pytest.raises(ConfigError, match=r"model\.chat_template"):
        _datamodule(tokenizer, SFT / "messages.jsonl")
    with pytest.raises(ConfigError, match=r"model\.chat_template='nowhere\.jinja'"):
        read_chat_template("nowhere.jinja")


# ------------------------------------------------------------------------------- packing
def _tiny_llama() -> Any:
    from hydra.utils import instantiate
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    config = instantiate(OmegaConf.load(TINY_LLAMA).network.config)
    return AutoModelForCausalLM.from_config(config).float().eval()


def _token_losses(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-token cross entropy of next-token prediction (0 where the label is -100)."""
    return torch.nn.functional.cross_entropy(
        logits[:, :-1].transpose(1, 2), labels[:, 1:], ignore_index=-100, reduction="none"
    )


def test_a_packed_batch_has_the_per_token_loss_of_its_examples_alone() -> None:
    tokenizer = _tokenizer()
    datamodule = _datamodule(tokenizer, SFT / "messages.jsonl", packing=True, max_length=128)
    packed = datamodule.datasets["train"]
    examples = sum(p.count(0) for p in packed["position_ids"])  # each example starts at 0
    assert len(packed) < examples  # rows really hold several examples
    batch = next(iter(datamodule.train_dataloader()))
    assert set(batch) == {"input_ids", "labels", "position_ids", "use_cache"}
    model = _tiny_llama()
    with torch.no_grad():
        losses = _token_losses(model(**batch).logits, batch["labels"])
        alone_count = 0
        for row in range(batch["input_ids"].shape[0]):
            positions = batch["position_ids"][row].tolist()
            starts = [i for i, p in enumerate(positions) if p == 0] + [len(positions)]
            for start, stop in itertools.pairwise(starts):
                labels = batch["labels"][row, start:stop]
                assert labels[0] == -100  # nothing predicts an example's first token
                if (labels == -100).all():
                    continue  # the padding at the row's end
                ids = batch["input_ids"][row, start:stop][None]
                alone = _token_losses(model(input_ids=ids).logits, labels[None])[0]
                # the packed row's loss at the example's own tokens (its last one predicts the
                # next example's first token, whose label is -100: loss 0 in both)
                torch.testing.assert_close(losses[row, start : stop - 1], alone, rtol=0, atol=1e-5)
                alone_count += 1
        assert alone_count >= 2
        # Without the restarting positions, later examples would attend to earlier ones.
        crossing = _token_losses(model(input_ids=batch["input_ids"]).logits, batch["labels"])
        assert not torch.allclose(crossing, losses, atol=1e-3)


def test_another_chat_template_is_not_served_from_the_tokenization_cache(tmp_path: Path) -> None:
    rows = _rows("messages")
    folder = _write(tmp_path / "d", {"train": rows, "validation": rows[:2], "test": rows[:2]})
    first = to_messages(rows[0], "messages")
    for template in (None, ZEPHYR):  # the same data and vocabulary, two templates
        tokenizer = _tokenizer(template)
        datamodule = _datamodule(tokenizer, folder)
        assert datamodule.datasets["train"][0]["input_ids"] == render_chat(tokenizer, first)[0]
