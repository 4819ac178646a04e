"""Text files that are not UTF-8: where, and what to do about it.

lab reads text data as UTF-8 (as `datasets` does). A file that is not names its first bad byte
and how to re-encode it. Only UTF-16 (Excel's "Unicode text", PowerShell's default) is named
as the file's encoding: its byte-order mark or its NUL bytes tell it reliably. Any other
encoding is not guessed: Latin-1 and CP1252 decode any bytes, so an `iconv -f latin1` of a GBK
or Shift-JIS file succeeds and gives mojibake that trains; strict trial decodes cannot tell
GBK, CP1252, Shift-JIS and Big5 apart (a GBK file decodes as CP1252, Big5 and CP949 too; a
CP1251 Russian one as CP1252 alone), and `file -i` names ISO-8859-1 for a GBK file. So the
advice names the command with a placeholder, the encodings files most often have, and that
the result must be read.
"""

from __future__ import annotations

import codecs
import gzip
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lab.data.local_files import file_suffix
from lab.errors import DataError


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
    """`<file> is not valid UTF-8 (<problem>); re-encode it as UTF-8 ...` (`reencode_advice`),
    with "it looks like UTF-16" for a file that is."""
    looks = "; it looks like UTF-16" if _is_utf16(file) else ""
    return f"{file} is not valid UTF-8 ({problem}{looks}); {reencode_advice(file)}"


#: Encodings a text file that is not UTF-8 most often has (saved on Windows, or by software of
#: its language), as `iconv -f` and Python's codecs both name them, with what they are for.
COMMON_ENCODINGS = (
    ("cp1252", "Western European Windows"),
    ("gbk or gb18030", "Simplified Chinese"),
    ("cp932 or shift_jis", "Japanese"),
    ("big5", "Traditional Chinese"),
    ("cp949 or euc-kr", "Korean"),
)


def reencode_advice(file: str, what: str = "it") -> str:
    """How to re-encode `file`, which is not UTF-8, as UTF-8 (`what`: how the sentence names
    it): the `iconv -f utf-16` command for UTF-16, the one encoding told reliably; else the
    command with `<encoding>`, the common encodings (`COMMON_ENCODINGS`), and a warning that a
    wrong one can convert without error (any byte string is Latin-1, nearly any is CP1252,
    many are GBK)."""
    if _is_utf16(file):
        return f"re-encode {what} as UTF-8, e.g. {_iconv_command(file, 'utf-16')}"
    common = ", ".join(f"{name} ({used})" for name, used in COMMON_ENCODINGS)
    return (
        f"re-encode {what} as UTF-8 from the encoding it was saved in: "
        f'{_iconv_command(file, "<encoding>")} (or an editor\'s "save as UTF-8"), where '
        f"<encoding> is often {common}; a wrong one can convert without error, so check that "
        "the converted text reads right"
    )


def _iconv_command(file: str, source: str) -> str:
    """The shell command that writes `file` (gzipped or not) as UTF-8 to `fixed<suffix>`."""
    name, suffix = Path(file).name, file_suffix(Path(file))
    if name.lower().endswith(".gz"):  # iconv would read the compressed bytes
        return f"`gzip -dc {name} | iconv -f {source} -t utf-8 > fixed{suffix}`"
    return f"`iconv -f {source} -t utf-8 {name} > fixed{suffix}`"


def first_invalid_utf8_byte(data: bytes) -> str | None:
    """Describe the first non-UTF-8 byte of `data` (a file's first line), or None."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        return f"byte 0x{data[err.start]:02x} at offset {err.start}"
    return None


def _is_utf16(file: str) -> bool:
    """Whether a non-UTF-8 text file is UTF-16: a UTF-16 byte-order mark, or text whose every
    other byte is NUL (ASCII as UTF-16 without a mark). Both are reliable: no other common
    text encoding has NUL bytes."""
    opener = gzip.open if file.endswith(".gz") else open
    with opener(file, "rb") as handle:
        head = handle.read(4096)
    if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return True
    return len(head) >= 2 and head.count(0) * 3 >= len(head)  # ASCII text as UTF-16: half NULs


def refuse_invalid_json_text(loaded: Any, data_files: Mapping[str, Sequence[str]]) -> None:
    """Refuse JSON Lines whose strings are not valid UTF-8, as a CSV's are refused: pyarrow's
    JSON reader loads such bytes without a word, and the split then failed where its text
    was first read (tokenization, `lab.inspect`), as a 97-line `UnicodeDecodeError` with no
    file named, exit 1 (s33d F1). Arrow's full validation checks every string's UTF-8 in
    one pass over the loaded tables; only a split that fails it has its files scanned for the
    byte to name (`first_invalid_utf8`)."""
    import pyarrow as pa

    for split, files in data_files.items():
        if split not in loaded:
            continue
        try:
            loaded[split].data.table.validate(full=True)
        except pa.ArrowInvalid as err:
            for file in files:
                problem = first_invalid_utf8(file)
                if problem:
                    raise DataError(not_utf8_message(file, problem)) from err
            raise DataError(f"the {split} split's text is not valid UTF-8: {err}") from err
