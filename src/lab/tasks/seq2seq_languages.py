"""The languages of a translation column, before any row is read.

A Parquet or Arrow file keeps its column types in its schema (read from the footer or the
stream header, as cheaply as the column names `lab.config.data_rules.check_local_data` reads):
WMT's `translation` column, a `datasets` `Translation(languages=["de", "en"])` feature, is
`struct<de: string, en: string>`. `schema_problem` (the `schema:` of the head's inspect
declaration) refuses a `data.source_lang` / `data.target_lang` the struct lacks before
training, with the fix (`language_fix`), which training's own refusal of such a cell gives
too (`lab.tasks.seq2seq_rows`). A JSON-lines or CSV file has no schema: its cells are
checked when read.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


def language_fix(role: str, present: Sequence[str], other_lang: str | None) -> str:
    """The setting that reads a language the cell has (`set data.target_lang=de`), leaving out
    the other side's language; "" when no language is left."""
    choices = [lang for lang in present if lang != other_lang]
    if not choices:
        return ""
    if len(choices) == 1:
        return f"set data.{role}_lang={choices[0]}"
    return f"set data.{role}_lang to one of {', '.join(choices)}"


def schema_languages(file: Path, column: str) -> list[str] | None:
    """The languages the schema of a Parquet or Arrow `file` gives `column` (the fields of a
    struct of texts), or None where it does not say (another format or type, no such column,
    an unreadable file: the loader's to word)."""
    import pyarrow as pa

    suffix = file.suffix.lower()
    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            schema = pq.read_schema(file)
        elif suffix == ".arrow":
            import pyarrow.ipc

            with pyarrow.ipc.open_stream(file) as reader:
                schema = reader.schema
        else:
            return None
    except (pa.ArrowException, OSError):
        return None
    if column not in schema.names:
        return None
    kind = schema.field(column).type
    if not pa.types.is_struct(kind):
        return None
    subfields = [kind.field(i) for i in range(kind.num_fields)]
    if not subfields or not all(
        pa.types.is_string(f.type) or pa.types.is_large_string(f.type) for f in subfields
    ):
        return None  # not {language: text} (datasets' TranslationVariableLanguages: lists)
    return [f.name for f in subfields]


def schema_problem(data: Any, file: Path) -> str | None:
    """Why training would refuse every row of `file` for a language its schema lacks, with
    the fix, or None (`lab.validate` and training's pre-flight check say it, file first)."""
    from lab.tasks.seq2seq_rows import fields

    for field in fields(data):
        if field.lang is None:
            continue
        present = schema_languages(file, field.column)
        if present is None or field.lang in present:
            continue
        fix = language_fix(field.role, present, field.other_lang)
        return (
            f"column '{field.column}' has no '{field.lang}' text in its schema (data.source_lang "
            f"/ data.target_lang); languages present: {', '.join(present) or 'none'}"
            + (f"; {fix}" if fix else "")
        )
    return None
