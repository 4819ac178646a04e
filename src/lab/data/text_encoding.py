"""Text files that are not UTF-8: where, and what they most likely are.

lab reads text data as UTF-8 (as `datasets` does). A file that is not names its first bad byte
and the `iconv` command that converts it, for the encoding it most likely has: UTF-16 (Excel's
"Unicode text", PowerShell's default) by its byte-order mark or its NUL bytes, else Latin-1.
"""

from __future__ import annotations

import codecs
import gzip
from pathlib import Path

from lab.data.local_files import file_suffix


def first_invalid_utf8(file: str) -> str | None:
    """Describe the first non-UTF-8 byte of a (possibly gzipped) file, or None if it is valid."""
    opener = gzip.open if file.endswith(".gz") else open
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with opener(file, "rb") as handle:
        while chunk := handle.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as err:
                return f"byte 0x{chunk[err.start]:02x} at offset {offset + err.start}"
            offset += len(chunk)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return f"a truncated character at the end (offset {offset})"
    return None


def not_utf8_message(file: str, problem: str) -> str:
    """`<file> is not valid UTF-8 (<problem>); re-encode it ...`, with the `iconv` command for
    the encoding it most likely has."""
    source = _likely_encoding(file)
    looks = f"; it looks like {source.upper()}" if source != "latin1" else ""
    return (
        f"{file} is not valid UTF-8 ({problem}{looks}); re-encode it as UTF-8, e.g. "
        f"`iconv -f {source} -t utf-8 {Path(file).name} > fixed{file_suffix(Path(file))}`"
    )


def first_invalid_utf8_byte(data: bytes) -> str | None:
    """Describe the first non-UTF-8 byte of `data` (a file's first line), or None."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        return f"byte 0x{data[err.start]:02x} at offset {err.start}"
    return None


def _likely_encoding(file: str) -> str:
    """The encoding a non-UTF-8 text file most likely has, for `iconv -f`: `utf-16` for a
    UTF-16 byte-order mark (Excel's "Unicode text", PowerShell's default) or for text whose
    every other byte is NUL, else `latin1` (the usual Western export)."""
    opener = gzip.open if file.endswith(".gz") else open
    with opener(file, "rb") as handle:
        head = handle.read(4096)
    if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return "utf-16"
    if len(head) >= 2 and head.count(0) * 3 >= len(head):  # ASCII text as UTF-16: half NULs
        return "utf-16"
    return "latin1"
