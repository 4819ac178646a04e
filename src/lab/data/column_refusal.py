"""The one wording of a split refused for lacking columns the config names.

    data/train.csv: column 'text' (data.text_column) is not in the train split; columns
    present: review, sentiment

Said alike by the config rules before anything loads (`lab.config.data_rules`, from a file's
header), by the data modules when they read a split (`DataModule.require_columns`), by a chat
head's format check and by `lab.inspect`, so a user meets one sentence whichever step finds
it first. Its advice names a ';'-separated CSV header, pandas' JSON layouts
(`lab.data.pandas_json`) and a CSV file without a header line, whose first row was read as
names (`lab.data.csv_header`). Standard library only: the config rules import it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def named_column(column: str, key: str | None = None) -> str:
    """A column as the refusal names it: `'text' (data.text_column)`, or `'text'` alone."""
    return f"'{column}' ({key})" if key else f"'{column}'"


def missing_columns_message(
    missing: Sequence[str],
    split: str,
    present: Sequence[str],
    *,
    where: str = "",
    hint: str = "",
) -> str:
    """The refusal of `split` (lacking `missing`, each a `named_column`), with the columns
    `present`; `where` (its file) leads, `hint` (which setting fits) ends it."""
    subject = (
        f"column {missing[0]} is" if len(missing) == 1 else f"columns {', '.join(missing)} are"
    )
    from lab.data.csv_header import headerless_hint
    from lab.data.origins import other_delimiter
    from lab.data.pandas_json import layout_hint

    names = [str(c) for c in present]
    # A pandas JSON layout's keys are told apart from a CSV header (of years: 2019, 2020) by
    # the file, where it is named.
    json_file = not where or where.lower().removesuffix(".gz").endswith(".json")
    csv_file = where.lower().removesuffix(".gz").endswith((".csv", ".tsv"))
    hint = (
        other_delimiter(names)
        or (layout_hint(names) if json_file else None)
        or (headerless_hint(names) if csv_file else None)  # a data row read as the header
        or hint
    )
    return (
        f"{f'{where}: ' if where else ''}{subject} not in the {split} split; columns present: "
        f"{', '.join(map(str, present)) or 'none'}{f'; {hint}' if hint else ''}"
    )


def unlabeled_split_fix(split: str, labeled_validation: str = "", where: str = "") -> str:
    """The advice for lab's `split` (validation or test) read from a file without the label
    column (GLUE's original `test.tsv` of `index, sentence`, a Kaggle `test.csv`).

    Where lab's validation split is read from a labeled source split (`labeled_validation`,
    its name in `data.splits`; `where`, its file: GLUE's `dev.tsv`), a test split's fix is
    GLUE's practice, to test on that split and carve validation from train; carving the test
    split from train comes second, as its score would be of rows of the train file."""
    carve = f"data.splits.{split}=null to carve a labeled {split} split from train"
    if split != "test" or not labeled_validation:
        return f"set {carve}"
    named = f" ({where})" if where else ""
    return (
        f"set data.splits.test={labeled_validation} data.splits.validation=null to test on the "
        f"labeled validation split{named} and carve validation from train, as GLUE's results "
        f"are reported (its test labels are hidden); or {carve}"
    )


def column_keys(data: Mapping[str, object]) -> dict[str, str]:
    """`{column: "data.<key>"}` for each `*_column` key a data config sets."""
    return {
        str(value): f"data.{key}"
        for key, value in data.items()
        if str(key).endswith("_column") and isinstance(value, str) and value
    }
