"""`--help` of lab's `key=value` tools (`lab.eval`, `lab.predict`, `lab.export`, `lab.serve`,
`lab.demo`, `lab.inspect`) and of `lab.validate`: the usage line and one entry per option,
folded to fit 80 columns.

    python -m lab.predict run=<run dir> input=<file> output=<file> [batch_size=32]
        [columns.<field>=<column>]
      run                run directory written by python -m lab.train (required)
      model              pytorch (the run's model/, default), onnx or onnx-int8 (the
                         run's ONNX export, run by onnxruntime on CPU), or a folder ...

A help text is read in a terminal or pasted into an issue: a 200-character line wraps at
an arbitrary column there, in the middle of a word. Folding here keeps each line whole and
each option's text in its own column. Words are never split: an option value such as
`task.module.null_score_diff_threshold=-2` is copied from the help.
"""

from __future__ import annotations

import textwrap

WIDTH = 80
KEY_COLUMN = 20  # an option name longer than this gets a line of its own, its text below


def wants_help(argv: list[str]) -> bool:
    """Whether the command line asks for the help (`-h` or `--help` anywhere in it)."""
    return any(arg in ("-h", "--help") for arg in argv)


def help_text(usage: str, options: dict[str, str], width: int = WIDTH) -> str:
    """`usage` and each of `options` (name -> what it does) as lines of at most `width`
    columns: the usage folded with an indent, the texts in a column of their own."""
    lines = _fold(usage, width, "", "    ")
    key_width = min(max((len(key) for key in options), default=0), KEY_COLUMN)
    indent = " " * (2 + key_width + 2)
    for key, text in options.items():
        if len(key) > key_width:
            lines.append(f"  {key}")
            lines += _fold(text, width, indent, indent)
        else:
            lines += _fold(text, width, f"  {key:<{key_width}}  ", indent)
    return "\n".join(lines)


def _fold(text: str, width: int, first: str, then: str) -> list[str]:
    return textwrap.wrap(
        text,
        width,
        initial_indent=first,
        subsequent_indent=then,
        break_long_words=False,  # a path or an override stays whole, even over the width
        break_on_hyphens=False,  # onnx-int8, cuda:1... are values, not hyphenated words
    )
