"""What in a `lab.inspect` report needs action, in words: imbalanced labels (with the class
weights to use), hidden (-1) and empty labels that training refuses, classes train holds that
a validation or test split lacks (`lab.data.inspection_classes`), a tokenizer that turns
much of the text into its unknown token, empty and duplicate rows, rows training would leave
out, leakage between splits, a maximum length that truncates many rows, prompts that fill the
maximum length."""

from __future__ import annotations

from typing import Any

from lab.data.inspection_classes import split_lacks_classes_warning
from lab.data.inspection_refusals import rows_have

IMBALANCE_RATIO = 3.0  # largest / smallest class count from which a warning is printed
UNKNOWN_SHARE = 0.05  # share of unknown tokens from which a warning is printed


def warnings_of(report: dict[str, Any], carved: list[str]) -> list[str]:
    """The warnings of an inspection `report` (`lab.data.inspection.inspect_data`); `carved`
    names the splits carved from train (their leakage is the source's duplicates)."""
    found = []
    if report.get("positions"):
        found.append(f"lab.train refuses this: {report['positions']}")
    labels = report["labels"]
    if labels.get("imbalance_ratio", 1.0) >= IMBALANCE_RATIO:
        # The advice only where the head has the option (text and token classification; not
        # multiple choice, whose "classes" are ending positions, nor multi-label).
        empty = [name for name, count in (labels.get("counts") or {}).items() if not count]
        advice = (
            "; consider task.module.class_weights=balanced (weights above)"
            if report.get("class_weights_option") and not empty
            else (
                f"; task.module.class_weights=balanced needs train rows of every class ("
                f"{', '.join(empty[:5])} {'has' if len(empty) == 1 else 'have'} none): give "
                "one weight per class instead, or add rows"
            )
            if report.get("class_weights_option")
            else ""
        )
        found.append(
            f"imbalanced labels: the largest class has {labels['imbalance_ratio']:.1f}x the "
            f"{report.get('label_unit', 'row')}s of the smallest{advice}"
        )
    numeric = "numeric" in labels  # regression: -1 can be a value; only all -1 is hidden
    for name, entry in report["splits"].items():
        found.extend(_label_gap_warnings(name, entry, numeric))
        # classes train holds and this split lacks, where it holds some (a split of hidden or
        # refused labels only is the gap's and the head's warning, not this one)
        if entry.get("classes_missing") and any(entry["label_counts"].values()):
            found.append(
                split_lacks_classes_warning(
                    name,
                    entry["classes_missing"],
                    unit=report.get("label_unit", "row"),
                    carved=name in carved,
                )
            )
        share = entry.get("unknown_tokens", 0.0)
        if share > UNKNOWN_SHARE:
            limit = report.get("word_chars_limit")
            words = (
                f"; WordPiece also makes one unknown token of any run of more than {limit} "
                "characters without a space (Thai, Japanese kana, a URL), so the token lengths "
                "and the suggested maximum can undercount such text"
                if limit
                else ""
            )
            found.append(
                f"{name}: {share:.0%} of tokens are the unknown token {report['unknown_token']}: "
                f"this tokenizer does not cover the text (language, script, emoji?){words}"
            )
        if entry["empty"]:
            found.append(f"{name}: {entry['empty']} empty row(s)")
        if entry["duplicates"]:
            found.append(f"{name}: {entry['duplicates']} duplicate row(s)")
        for reason, left in entry.get("left_out", {}).items():
            found.append(
                f"{name}: {left['rows']} row(s) not tokenized: {reason} ({left['training']}); "
                f"the first: {left['first']}"
            )
    for name, shared in report["leakage"].items():
        if shared["normalized"] and name not in carved:
            found.append(
                f"leakage: {shared['exact']} {name} row(s) also in train "
                f"({shared['normalized']} after normalising Unicode form, case and whitespace)"
            )
        elif shared["normalized"]:
            found.append(
                f"leakage: {shared['normalized']} row(s) of the carved {name} split "
                "repeat a train row (duplicates in the source)"
            )
    for name, entry in report["max_length"].items():
        stats = report["splits"]["train"]["lengths"][name]
        share = stats.get("truncated", 0.0)
        if share > 0.05 and entry.get("windowed"):
            found.append(
                f"{entry['key']}={entry['current']}: {share:.0%} of train rows are longer "
                f"({name}) and split into overlapping windows, none cut; suggested "
                f"{entry['key']}={entry['suggested']} (fewer windows per row)"
            )
        elif share > 0.05:
            found.append(
                f"{entry['key']}={entry['current']} truncates {share:.0%} of train rows "
                f"({name}); suggested {entry['key']}={entry['suggested']}{_still(entry)}"
            )
        for split, split_entry in report["splits"].items():
            dropped = split_entry["lengths"][name].get("dropped", 0.0)
            message = (
                f"{entry['key']}={entry['current']}: {dropped:.1%} of {split} rows have a "
                "prompt of as many tokens or more, which leaves no answer token "
                "(data.on_overlong drops such rows or stops)"
            )
            if dropped and message not in found:  # one for all sequences after one prompt
                found.append(message)
    return found


def _still(entry: dict[str, Any]) -> str:
    """What a suggestion capped at the model's limit still cuts (`still_truncated`: the share
    of train rows longer than it), or "" for a suggestion below the limit."""
    share = entry.get("still_truncated")
    if not share:
        return ""
    left = (
        f"data.truncation_side=left reads their last {entry['suggested']} tokens instead, or "
        if entry.get("left_cut")
        else ""
    )
    return (
        f", the model's limit, which still truncates {share:.0%} of train rows: the model "
        f"cannot read them whole ({left}a model with more positions reads more of them)"
    )


def _label_gap_warnings(split: str, entry: dict[str, Any], numeric: bool) -> list[str]:
    """What a split's `label_gaps` (`inspection_stats.label_gaps`) needs: training refuses a
    row without a label and, for classes, the hidden label -1; a split of numbers that are
    all -1 is hidden too (STS-B's test split), which would be scored against -1. The way out
    is training's: a split of hidden labels only is replaced by a labeled one; a split with
    some (SNLI's) keeps its other rows with `data.drop_labels=[-1]`."""
    gaps = entry.get("label_gaps") or {}
    found = []
    hidden, rows = gaps.get("hidden", 0), entry["rows"]
    if hidden and hidden == rows:
        consequence = (
            "its scores would be against -1" if numeric else "lab.train refuses this split"
        )
        found.append(
            f"{split}: every label is -1 (hidden labels, as in GLUE's test splits): "
            f"{consequence}; map data.splits.{split} to a labeled split (or null to carve it "
            "from train)"
        )
    elif hidden and not numeric:
        # as training advises: a partly hidden split (SNLI's) keeps its labeled rows
        fix = "data.drop_labels=[-1] leaves them out of every split"
        found.append(
            f"{split}: {rows_have(hidden)} label -1 (a hidden label, as SNLI's rows without a gold "
            f"label): lab.train refuses them; {fix}"
        )
    empty = gaps.get("empty", 0)
    if empty:
        first = gaps.get("first_empty")
        where = (f" ({first})" if empty == 1 else f" (the first: {first})") if first else ""
        found.append(
            f"{split}: {rows_have(empty)} no label (an empty cell){where}: lab.train refuses "
            f"{'it' if empty == 1 else 'them'}"
        )
    return found
