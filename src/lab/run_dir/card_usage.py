"""The model card's "How to use" section: code that reproduces the run's results outside lab.

An exported model alone does not know the run's input settings: its tokenizer keeps the base
model's own limit (`model_max_length`, 512 for MiniLM), not `data.max_length`, and generation
lengths, task prefixes and decoding settings live in the run's `config.yaml`. A plain
`pipeline(...)` on the export therefore reads long texts otherwise than the run did (and fails
on texts over the model's positions). The section writes the run's values into the call.

The snippet is the head's own (principle 7): its task YAML declares `card_usage`, a partial of
a function `(cfg) -> (code, note)` in the head's code (`lab.tasks.<head>.card.usage`), which
writes the loading code the README gives for that kind of head with the run's settings filled
in (a setting the run's config lacks is left to the library's default, as lab.predict leaves
it). A task YAML without the key (a user's own head, or the recorded config of a run from
before heads declared it, which `lab.export` reads) gets no section: the card then says what
cards said before. `onnx_usage` is the same for an ONNX export: how lab runs it, and the
head's onnxruntime code where its task YAML declares `card_onnx_usage` (same contract).

The rest of this module is the toolkit the heads' snippets share: `HERE` for the folder the
card is in (or its Hub repository id), the card's width, and the run's cut written as
tokenizer arguments. It names no head.
"""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Callable
from typing import Any

from omegaconf import DictConfig

log = logging.getLogger(__name__)

HERE = "<this directory>"  # the folder the card describes (the adapter card says the same)
# The comment on a card's import of lab's own code: lab is installed from its repository, and
# the PyPI package named `lab` is another project (s31c F5: the cards said `pip install lab`).
LAB_IMPORT_NOTE = "# lab's own code: not on PyPI (PyPI's `lab` is another project)"
WIDTH = 95  # the card's Markdown source is read as text too: lines folded near lab's width

# What a head's `card_usage` / `card_onnx_usage` function returns: the Python code, and a note
# (paragraphs split at blank lines, folded to the card's width; "" for none).
Snippet = tuple[str, str]


def usage_section(cfg: DictConfig) -> str:
    """The card's "How to use" section for an exported transformers model (`<run>/model`),
    from the head's `task.card_usage`; "" where the task declares none."""
    snippet = _snippet(cfg, "card_usage")
    if snippet is None:
        return ""
    code, note = snippet
    return f"""
## How to use

```python
{code}
```
{_fold(note)}
With lab, `python -m lab.predict run=<run dir> input=<file> output=<file>` (or `lab.serve`)
reads these settings from the run's `config.yaml` itself.
"""


def onnx_usage(cfg: DictConfig | None, report: dict[str, Any]) -> str:
    """How to run an ONNX export (`model.onnx`, no transformers weights): lab.predict /
    lab.serve, and, where the run config `cfg`'s head declares `task.card_onnx_usage` (a text
    classifier), onnxruntime directly with the run's settings."""
    form = report["form"]
    # The commands stay whole on their lines; the prose after them is folded.
    commands = (
        f"`python -m lab.predict run=<run dir> model={form} input=... output=...` or\n"
        f"`python -m lab.serve run=<run dir> model={form}`"
    )
    outputs = ", ".join(f"`{name}`" for name in report["export"].get("outputs") or ["logits"])
    prose = "Both read the run's settings and decode the outputs as with the PyTorch model."
    snippet = _snippet(cfg, "card_onnx_usage") if cfg is not None else None
    if snippet is None:
        graph = "The graph takes the tokenizer's inputs, as the transformers model does, and "
        return f"{commands}.\n{fill(f'{prose} {graph}returns {outputs}.')}"
    code, note = snippet
    return f"""{commands}.
{fill(f"{prose} With onnxruntime alone (the graph returns {outputs}):")}

```python
{code}
```
{_fold(note).rstrip()}"""


def _snippet(cfg: DictConfig, key: str) -> Snippet | None:
    """The head's `task.<key>` function's snippet for `cfg`; None where the task declares
    none, or names a function lab no longer has (a recorded config of an older lab: its card
    is still written, without the section)."""
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    node = cfg.task.get(key)
    if not node:
        return None
    try:
        write: Callable[[DictConfig], Snippet] = instantiate(node)
    except InstantiationException as err:  # only the lookup: a failing snippet is a bug
        log.info("model card: task.%s skipped: %s", key, err)
        return None
    return write(cfg)


def _fold(note: str) -> str:
    """`note`'s paragraphs (split at blank lines) folded to the card's width, a blank line
    before each ("" for none)."""
    parts = [part.strip() for part in note.split("\n\n") if part.strip()]
    return "".join(f"\n{fill(part)}\n" for part in parts)


def fill(text: str) -> str:
    """`text` folded to the card's width, paths and code spans kept whole."""
    return textwrap.fill(text, WIDTH, break_long_words=False, break_on_hyphens=False)


def call(target: str, function: str, *arguments: str) -> str:
    """`target = function(arguments)`, an argument a line where one line would pass the
    card's width."""
    line = f"{target} = {function}({', '.join(arguments)})"
    if len(line) <= WIDTH:
        return line
    return f"{target} = {function}(\n" + "".join(f"    {a},\n" for a in arguments) + ")"


def head_class(cfg: DictConfig) -> str:
    """The name of the run's transformers Auto class (`task.head`'s last part)."""
    return str(cfg.task.head).rsplit(".", 1)[-1]


def imports(head: str) -> str:
    """The import line of the Auto class `head` and `AutoTokenizer`."""
    return f"from transformers import {', '.join(sorted({'AutoTokenizer', head}))}"


def arguments(values: dict[str, Any]) -> list[str]:
    """`key=value` of each setting the run's config has (the others: the library's default)."""
    return [f"{key}={value!r}" for key, value in values.items() if value is not None]


def max_length(cfg: DictConfig, key: str = "max_length") -> int | None:
    """The run's cut in tokens (`data.<key>`), or None where it set none."""
    value = cfg.data.get(key)
    return int(value) if value else None


def cut(cfg: DictConfig, key: str = "max_length") -> str:
    """The tokenizer arguments that cut an input as the run did (`truncation=True,
    max_length=N`), or at the model's own limit where the run set none (as lab.predict)."""
    length = max_length(cfg, key)
    return f"truncation=True, max_length={length}" if length else "truncation=True"


def cut_note(
    cfg: DictConfig, key: str = "max_length", pair_of: tuple[str, str] | None = None
) -> str:
    """The note on the run's cut (`data.<key>`, from the side `data.truncation_side` says),
    which the exported tokenizer does not keep; "" for a run without one. A text pair
    (`data.text_pair_column`, or the two texts `pair_of` names: multiple choice's context and
    ending) is cut longest first, as the tokenizer's `truncation=True` cuts a pair: the note
    says which text loses tokens."""
    length = max_length(cfg, key)
    if not length:
        return ""
    left = cfg.data.get("truncation_side") == "left"
    side = "last" if left else "first"
    side_cut = "first tokens: data.truncation_side=left" if left else "last tokens"
    pair = cfg.data.get("text_pair_column")
    first, second = pair_of or (f"`{cfg.data.get('text_column')}`", f"`{pair}`")
    read = (
        f"The run read at most {length} tokens of each pair (`data.{key}`: the "
        f"{first} and {second} texts together, with the special "
        f"tokens), cut longest first: tokens come off the longer text (its {side_cut}) until "
        "the two are as long, then off both in turn, so a text under half of that stays whole "
        "and only the other is cut"
        if pair or pair_of
        else f"The run read the {side} {length} tokens of each input (`data.{key}`)"
    )
    return (
        f"\n{read}; the exported tokenizer keeps the model's own limit (`model_max_length`), so "
        "the code passes the run's cut: without it a longer input is read otherwise than in the "
        "run, and one longer than the model's positions fails.\n"
    )


def side_line(cfg: DictConfig, tokenizer: str) -> str:
    """A line keeping a text's last tokens, for a run with `data.truncation_side=left`: the
    export keeps the side only in its tokenizer.json's truncation state, which transformers
    saves after the tokenizer truncated something (not a setting of its config)."""
    if cfg.data.get("truncation_side") != "left":
        return ""
    return f'\n{tokenizer}.truncation_side = "left"  # the run kept each text\'s last tokens'
