"""Data files that are not UTF-8 and non-ASCII values on the command line.

A file saved as GBK, Shift-JIS or Windows-1252 is refused naming its first bad byte, with
advice that guesses no encoding: `iconv -f <encoding>`, the common encodings, and a warning
that a wrong one converts without error (`iconv -f latin1`, the old advice, turns any GBK
file into mojibake that trains). Only UTF-16, told by its byte-order mark, is named.
A non-ASCII value on the command line (`data.text_column=评论`), which Hydra's lexer refuses,
gets one line naming the override and the quoted form that Hydra reads.
"""

from __future__ import annotations

import codecs
import gzip
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from lab.config.cli import run_tool
from lab.config.override_quoting import non_ascii_override_line, quoted

ADVICE = (
    "re-encode it as UTF-8 from the encoding it was saved in: "
    '`iconv -f <encoding> -t utf-8 {name} > fixed.csv` (or an editor\'s "save as UTF-8"), '
    "where <encoding> is often cp1252 (Western European Windows), gbk or gb18030 (Simplified "
    "Chinese), cp932 or shift_jis (Japanese), big5 (Traditional Chinese), cp949 or euc-kr "
    "(Korean); a wrong one can convert without error, so check that the converted text reads "
    "right"
)
UTF16_ADVICE = "re-encode it as UTF-8, e.g. `iconv -f utf-16 -t utf-8 {name} > fixed.csv`"


def _last_error(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    return lines[-1]


# --------------------------------------------------------------- H1: files that are not UTF-8
# A header of non-ASCII column names, each in its encoding: training's rule reads the header
# before anything loads. The bytes by hand: 评 is C6 C0 in GBK, 本 96 7B in Shift-JIS, é E9 in
# CP1252 (after `r`: offset 1); UTF-16 starts with its byte-order mark FF FE.
HEADERS = [
    pytest.param("评论,标签\n好,1\n", "gbk", "byte 0xc6 at offset 0", ADVICE, id="gbk"),
    pytest.param("本文,ラベル\nよい,1\n", "shift_jis", "byte 0x96 at offset 0", ADVICE, id="sjis"),
    pytest.param("résumé,label\nbon,1\n", "cp1252", "byte 0xe9 at offset 1", ADVICE, id="cp1252"),
    pytest.param(
        "text,label\ngood,1\n",
        "utf-16",
        "byte 0xff at offset 0; it looks like UTF-16",
        UTF16_ADVICE,
        id="utf-16",
    ),
]


@pytest.mark.parametrize(("text", "encoding", "problem", "advice"), HEADERS)
def test_training_rule_refuses_a_header_that_is_not_utf8_with_advice_naming_no_guess(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    text: str,
    encoding: str,
    problem: str,
    advice: str,
) -> None:
    from lab.validate import main

    train = tmp_path / "train.csv"
    train.write_bytes(codecs.encode(text, encoding))
    code = main(["model=tiny_bert", "data=csv", f"data.path={train}"])
    assert code == 2
    expected = f"error: {train} is not valid UTF-8 ({problem}); {advice.format(name='train.csv')}"
    assert _last_error(capsys) == expected


def test_a_gzipped_file_gets_the_command_that_decompresses_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lab.validate import main

    train = tmp_path / "train.csv.gz"
    train.write_bytes(gzip.compress("评论,标签\n好,1\n".encode("gbk")))
    assert main(["model=tiny_bert", "data=csv", f"data.path={train}"]) == 2
    # iconv on the file itself would read the compressed bytes
    advice = ADVICE.format(name="train.csv").replace(
        "`iconv -f <encoding> -t utf-8 train.csv > fixed.csv`",
        "`gzip -dc train.csv.gz | iconv -f <encoding> -t utf-8 > fixed.csv`",
    )
    assert (
        _last_error(capsys)
        == f"error: {train} is not valid UTF-8 (byte 0xc6 at offset 0); {advice}"
    )


# An ASCII header and rows in each encoding: the loader meets the bytes (lab.inspect, training,
# lab.eval). Line 1 `text,label\n` is 11 bytes: the first bad byte is at offset 11. 房 is B7 BF
# in GBK, こ 82 B1 in Shift-JIS, “ 93 in CP1252.
ROWS = [
    pytest.param("房间很脏，很失望", "gbk", "0xb7", id="gbk"),
    pytest.param("この映画はとても面白かった", "shift_jis", "0x82", id="sjis"),
    pytest.param("“great” café €5", "cp1252", "0x93", id="cp1252"),
]


@pytest.mark.parametrize(("text", "encoding", "byte"), ROWS)
def test_lab_inspect_refuses_rows_that_are_not_utf8_with_the_same_advice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, encoding: str, byte: str
) -> None:
    import lab.inspect

    data = tmp_path / "data"
    data.mkdir()
    rows = "".join(f"{text} {i},{i % 2}\n" for i in range(8))
    (data / "train.csv").write_bytes(codecs.encode("text,label\n" + rows, encoding))
    with pytest.raises(SystemExit) as exited:
        run_tool(
            lab.inspect.main,
            ["model=tiny_bert", "data=csv", f"data.path={data}", f"out={tmp_path / 'out'}"],
        )
    assert exited.value.code == 2
    train = data / "train.csv"
    assert _last_error(capsys) == (
        f"error: {train} is not valid UTF-8 (byte {byte} at offset 11); "
        + ADVICE.format(name="train.csv")
    )


def test_json_lines_with_a_byte_that_is_not_utf8_are_refused_as_a_csv_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """pyarrow's JSON reader loads a Latin-1 byte inside a string without a word: the split
    failed where its text was first read, a 97-line UnicodeDecodeError, exit 1 (s33d F1).
    Refused when loaded, naming the file, the byte and its offset, as a CSV is; lab.inspect
    and training read it through the same loader."""
    import json

    import lab.inspect
    from lab.data.sources import load_local
    from lab.errors import DataError

    data = tmp_path / "data"
    data.mkdir()
    lines = [json.dumps({"text": f"fine row {i}", "label": i % 2}) for i in range(40)]
    good = "\n".join(lines[:30]).encode() + b"\n"
    bad = b'{"text": "caf\xe9 row", "label": 1}\n'
    (data / "train.jsonl").write_bytes(good + bad + "\n".join(lines[30:]).encode() + b"\n")
    offset = len(good) + len(b'{"text": "caf')  # the 0xe9 of café in Latin-1
    problem = f"byte 0xe9 at offset {offset}"
    expected = f"{data / 'train.jsonl'} is not valid UTF-8 ({problem}); " + ADVICE.format(
        name="train.jsonl"
    ).replace("fixed.csv", "fixed.jsonl")
    with pytest.raises(SystemExit) as exited:
        run_tool(
            lab.inspect.main,
            ["model=tiny_bert", "data=json", f"data.path={data}", f"out={tmp_path / 'out'}"],
        )
    assert exited.value.code == 2
    assert _last_error(capsys) == f"error: {expected}"
    with pytest.raises(DataError) as caught:
        load_local(data)
    assert str(caught.value) == expected


@pytest.mark.parametrize(("text", "encoding", "byte"), ROWS)
def test_lab_predict_refuses_a_file_of_which_no_row_is_utf8_with_the_same_advice(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    text: str,
    encoding: str,
    byte: str,
) -> None:
    """Each row gets its short error in the output; the refusal (no row predicted) says how
    to re-encode the file, once."""
    from types import SimpleNamespace

    import lab.predict
    from helpers.echo_predictor import Echo

    run = SimpleNamespace(head="AutoModelForSequenceClassification", model_dir=tmp_path / "model")
    monkeypatch.setattr(lab.predict, "open_predictor", lambda *args, **_: (run, None, Echo()))
    source = tmp_path / "in.csv"
    source.write_bytes(codecs.encode(f"review\n{text}\n{text}\n", encoding))
    out = tmp_path / "out.jsonl"
    with pytest.raises(SystemExit) as exited:
        run_tool(lab.predict.main, ["run=x", f"input={source}", f"output={out}"])
    assert exited.value.code == 2
    advice = ADVICE.format(name="in.csv").replace("re-encode it", "re-encode the file")
    assert _last_error(capsys) == (
        f"error: no row of {source} could be predicted: 2 of 2 rows failed; first: "
        f"{source}:2: not valid UTF-8 (byte {byte} at column 1); {advice} "
        f"(every row's error is in {out})"
    )
    assert out.read_text(encoding="utf-8").splitlines()[1] == (
        f'{{"line": 3, "error": "{source}:3: not valid UTF-8 (byte {byte} at column 1); '
        're-encode the file as UTF-8"}'
    )


def test_the_advice_converts_each_common_encoding_back_and_latin1_would_not() -> None:
    """Each named encoding is one Python (and iconv) knows, and decodes its own bytes back;
    Latin-1, the old advice, decodes a GBK file without error into other characters."""
    from lab.data.text_encoding import COMMON_ENCODINGS

    samples = {"cp1252": "“great” café €5", "gbk": "房间很脏", "gb18030": "房间很脏"}
    samples |= {"cp932": "面白い", "shift_jis": "面白い", "big5": "房間很髒"}
    samples |= {"cp949": "재미있는 영화", "euc-kr": "재미있는 영화"}
    names = [name for pair, _ in COMMON_ENCODINGS for name in pair.split(" or ")]
    assert names == list(samples)
    for name, text in samples.items():
        assert text.encode(name).decode(name) == text
    assert "房间很脏".encode("gbk").decode("latin1") == "·¿¼äºÜÔà"


# ------------------------------------------------------- M4: non-ASCII values on the command line
RULE = "Hydra's command-line grammar takes non-ASCII characters only inside quotes"


@pytest.fixture
def chinese_csv(tmp_path: Path) -> Path:
    """A UTF-8 CSV whose columns and labels are Chinese."""
    data = tmp_path / "评论.csv"
    rows = "".join(f"很好 {i},正面\n很差 {i},负面\n" for i in range(4))
    data.write_text("评论,标签\n" + rows, encoding="utf-8")
    return data


@pytest.mark.parametrize(
    ("override", "suggested"),
    [
        ("data.text_column=评论", """'data.text_column="评论"'"""),
        ("data.label_names=[正面,负面]", """'data.label_names=["正面","负面"]'"""),
        ('data.label_names=[ 正面 , "负面" ]', """'data.label_names=["正面","负面"]'"""),
        ("data.text_column=النص", """'data.text_column="النص"'"""),
    ],
)
def test_a_non_ascii_value_is_one_line_with_the_quoted_form(
    chinese_csv: Path, capsys: pytest.CaptureFixture[str], override: str, suggested: str
) -> None:
    from lab.validate import main

    # data.path holds Chinese too: quoted as the line would say, so only `override` fails
    args = ["model=tiny_bert", "data=csv", f'data.path="{chinese_csv}"']
    assert main([*args, override]) == 2
    err = capsys.readouterr().err
    each = "the" if "[" not in override else "each"
    assert err == f"error: {override}: {RULE}; quote {each} value: {suggested}\n"


def test_the_suggested_quoted_forms_compose_the_values(
    chinese_csv: Path, capsys: pytest.CaptureFixture[str], compose_cfg: Any
) -> None:
    """The forms the lines give, split as bash splits them, make a valid run."""
    from lab.validate import main

    given = ["data.text_column=评论", "data.label_column=标签", "data.label_names=[正面,负面]"]
    given.append(f"data.path={chinese_csv}")
    suggested = []
    for override in given:
        assert main(["model=tiny_bert", "data=csv", override]) == 2
        line = capsys.readouterr().err.strip()
        suggested += shlex.split(re.sub(r"^.* value: ", "", line))
    assert suggested == [
        'data.text_column="评论"',
        'data.label_column="标签"',
        'data.label_names=["正面","负面"]',
        f'data.path="{chinese_csv}"',
    ]
    assert main(["model=tiny_bert", "data=csv", *suggested]) == 0
    printed = capsys.readouterr().out
    assert "columns text_column=评论, label_column=标签" in printed
    cfg = compose_cfg("model=tiny_bert", "data=csv", *suggested)
    assert (cfg.data.text_column, cfg.data.label_column) == ("评论", "标签")
    assert list(cfg.data.label_names) == ["正面", "负面"]
    assert cfg.data.path == str(chinese_csv)


def _lexer(override: str) -> str:
    return (
        f"LexerNoViableAltException: {override}\n        ^\n"
        "See https://hydra.cc/docs/1.2/advanced/override_grammar/basic for details"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("评论", '"评论"'),
        ("数据/评论.csv", '"数据/评论.csv"'),
        ("正面,负面", '"正面","负面"'),  # a sweep (-m): each value quoted
        ("a,é", 'a,"é"'),
        ("{a:正面,b:1}", '{a:"正面",b:1}'),
        ("choice(正面,负面)", 'choice("正面","负面")'),
        ("[a,[正面]]", '[a,["正面"]]'),
        ('é "a"', """'é "a"'"""),  # holds double quotes: single quotes
        ('"评论"', '"评论"'),
        ("plain", "plain"),
        ("a评论(1)", '"a评论(1)"'),  # no function of Hydra's: one value
    ],
)
def test_quoted_quotes_each_unquoted_non_ascii_value(value: str, expected: str) -> None:
    assert quoted(value) == expected


def test_lines_for_a_key_a_sweep_and_messages_that_are_not_about_non_ascii() -> None:
    assert non_ascii_override_line(_lexer("+data.正面=1")) == (
        "+data.正面=1: Hydra's command-line grammar takes ASCII keys only (quotes are for values)"
    )
    assert non_ascii_override_line(_lexer("data.text_column=النص,x")) == (
        f"data.text_column=النص,x: {RULE}; quote each value: 'data.text_column=\"النص\",x'"
    )
    # a dictionary key cannot be quoted: no form is offered, the rule is
    assert non_ascii_override_line(_lexer("x={正面:1}")) == (
        f'x={{正面:1}}: {RULE}; quote each non-ASCII value ("...") and the whole override '
        "('...') for the shell"
    )
    # ASCII the lexer stops at (s22b M7: a home path's `~`, which zsh leaves to lab): the
    # value quoted, where that parses; Hydra's words where nothing quoted would.
    quote_it = "Hydra's command-line grammar reads this value only inside quotes; quote it"
    assert non_ascii_override_line(_lexer("data.path=~/d/x.csv")) == (
        f"data.path=~/d/x.csv: {quote_it}: 'data.path=\"~/d/x.csv\"'"
    )
    assert non_ascii_override_line(_lexer("x=a b")) == f"x=a b: {quote_it}: 'x=\"a b\"'"
    assert non_ascii_override_line(_lexer('x=a"b')) is None  # a quote inside: Hydra's words
    assert non_ascii_override_line(_lexer('x="评论" b c')) is None  # quoted already
    assert non_ascii_override_line("Could not find 'model/评论'") is None
