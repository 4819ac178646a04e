"""`lab.predict`'s options beyond the run and its input reading: `max_new_tokens=` (a
generating head's length, refused for any other head before the model loads), `columns.<field>=`
(a head's field read from another column), non-UTF-8 lines (an error row naming the byte, the
other rows predicted) and blank lines of a `.txt` file (no rows, line numbers kept).

No training: a run directory is written as `lab.train` leaves it, with random tiny weights.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from omegaconf import DictConfig, OmegaConf

from helpers.echo_predictor import Echo
from lab.errors import DataError, LabError
from lab.inference.options import check_columns, map_columns, parse_columns, positive_int
from lab.inference.predictors import open_predictor
from lab.inference.rows import count_rows, open_input, read_rows

from conftest import FIXTURES, SENTIMENT

DPO_RUN = ["model=tiny_llama", "data=preferences", f"data.path={FIXTURES / 'preferences'}"]
CLASSIFIER_RUN = ["model=tiny_bert", "data=csv", f"data.path={SENTIMENT}"]


def write_run(directory: Path, cfg: Any, *, model: bool = True) -> Path:
    """A run directory as `lab.train` leaves it (config.yaml, record.json, model/), without
    training: the model has the config's random initial weights."""
    from hydra.utils import get_class, instantiate

    directory.mkdir(parents=True)
    (directory / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    (directory / "record.json").write_text(json.dumps({"status": "finished"}))
    if model:
        torch.manual_seed(0)
        network = get_class(str(cfg.task.head)).from_config(instantiate(cfg.model.network.config))
        network.save_pretrained(directory / "model")
        instantiate(cfg.model.tokenizer).save_pretrained(directory / "model")
    return directory


def _results(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# ---------------------------------------------------------------------------- max_new_tokens
@pytest.mark.parametrize("text", ["0", "-3", "abc", "1.5", ""])
def test_positive_int_refuses_anything_but_a_positive_integer(text: str) -> None:
    with pytest.raises(LabError, match=r"^max_new_tokens must be a positive integer, got "):
        positive_int({"max_new_tokens": text}, "max_new_tokens")
    assert positive_int({"max_new_tokens": "16"}, "max_new_tokens") == 16
    assert positive_int({}, "max_new_tokens") is None
    assert positive_int({}, "batch_size", 32) == 32


def test_predict_refuses_a_bad_max_new_tokens_or_batch_size_in_one_line(tmp_path: Path) -> None:
    from lab.predict import main

    source = tmp_path / "in.txt"
    source.write_text("hello\n")
    common = ["run=x", f"input={source}", f"output={tmp_path / 'out.jsonl'}"]
    with pytest.raises(LabError, match=r"max_new_tokens must be a positive integer, got "):
        main([*common, "max_new_tokens=0"])
    with pytest.raises(LabError, match=r"batch_size must be a positive integer, got batch_size=x"):
        main([*common, "batch_size=x"])  # was a ValueError traceback


def test_serve_refuses_a_bad_max_new_tokens_before_it_binds_a_port() -> None:
    from lab.serve import main

    with pytest.raises(LabError, match=r"max_new_tokens must be a positive integer, got "):
        main(["run=x", "max_new_tokens=many"])


def test_max_new_tokens_is_refused_for_a_head_that_does_not_generate(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """One line naming the head, before the model loads (this run has no model/ at all)."""
    from lab.predict import main

    run = write_run(tmp_path / "classifier", compose_cfg(*CLASSIFIER_RUN), model=False)
    source = tmp_path / "in.txt"
    source.write_text("hello\n")
    with pytest.raises(LabError) as refused:
        main(
            [f"run={run}", f"input={source}", f"output={tmp_path / 'o.jsonl'}", "max_new_tokens=8"]
        )
    assert str(refused.value) == (
        "max_new_tokens=8: this run's head (AutoModelForSequenceClassification, predictor "
        "SequenceClassificationPredictor) does not generate text; the option is for language "
        "model (causal_lm, sft, dpo) and seq2seq runs"
    )


def test_max_new_tokens_sets_the_length_of_a_dpo_runs_answers(
    compose_cfg: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A DPO run's config has no `task.module.max_new_tokens`: its answers get
    `DEFAULT_MAX_NEW_TOKENS`, or `max_new_tokens=`, as greedy generation of that length."""
    from lab.predict import main
    from lab.tasks.sft.predictor import DEFAULT_MAX_NEW_TOKENS, ChatPredictor, greedy_config

    cfg = compose_cfg(*DPO_RUN)
    assert isinstance(cfg, DictConfig) and cfg.task.module.get("max_new_tokens") is None
    run = write_run(tmp_path / "dpo", cfg)
    _, _, default = open_predictor(str(run), device="cpu")
    assert isinstance(default, ChatPredictor)
    assert default.max_new_tokens == DEFAULT_MAX_NEW_TOKENS == 128
    _, _, short = open_predictor(str(run), device="cpu", max_new_tokens=3)
    assert short.max_new_tokens == 3  # type: ignore[attr-defined]

    model, tokenizer = short.model, short.tokenizer
    chat = [{"role": "user", "content": "thanks dog"}]
    ids = torch.tensor([short.prompt_ids(chat)])  # type: ignore[attr-defined]
    with torch.no_grad():
        output = model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            generation_config=greedy_config(model, tokenizer, 3),
        )
    assert output.shape[1] - ids.shape[1] <= 3
    expected = tokenizer.decode(output[0, ids.shape[1] :], skip_special_tokens=True).strip()

    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text(json.dumps({"messages": chat}) + "\n")
    capsys.readouterr()
    assert main([f"run={run}", f"input={source}", f"output={target}", "max_new_tokens=3"]) == 0
    assert _results(target) == [{"line": 1, "completion": expected}]
    # What generated is said: the length given, and the run's own settings without one (L1).
    printed = capsys.readouterr().out.splitlines()
    assert "Settings: max_new_tokens=3" in printed
    assert "Generation: num_beams=1, max_new_tokens=3" in printed
    assert main([f"run={run}", f"input={source}", f"output={target}"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert "Generation: num_beams=1, max_new_tokens=128" in printed
    assert not any(line.startswith("Settings:") for line in printed)


def test_a_dpo_runs_preference_rows_are_asked_their_prompt_with_chosen_as_reference(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """s23c M2: lab.predict on a DPO run's own preference file refused rows without a
    `prompt` field (chosen/rejected as whole conversations) and rows of a renamed prompt
    column; a pair is read as training reads it, its chosen side the reference."""
    from lab.tasks.sft.answered_rows import answered_pair

    run = write_run(tmp_path / "dpo", compose_cfg(*DPO_RUN))
    _, _, predictor = open_predictor(str(run), device="cpu", max_new_tokens=3)
    predictor.read_data_rows()
    user = {"role": "user", "content": "thanks dog"}
    strings = {"prompt": "thanks dog", "chosen": "THANKS", "rejected": "thanks"}
    whole = {  # UltraFeedback-binarized: the prompt's turn inside both sides, no prompt column
        "chosen": [user, {"role": "assistant", "content": "THANKS"}],
        "rejected": [user, {"role": "assistant", "content": "thanks"}],
    }
    answer_only = {"prompt": [user], "chosen": [{"role": "assistant", "content": "THANKS"}]}
    for row in (strings, whole, answer_only, {**whole, "chosen": json.dumps(whole["chosen"])}):
        assert predictor.check(row) is None, row
        assert predictor.chat(row) == ([user], "THANKS"), row  # type: ignore[attr-defined]
    results = predictor.predict([strings, {"prompt": "thanks dog"}])
    assert results[0] == {**results[1], "reference": "THANKS"}
    # Orca's pairs under data.prompt_column=question; a pair without a prompt to ask.
    orca = {"question": "thanks dog", "chosen": "THANKS", "rejected": "thanks"}
    assert answered_pair(orca, "question", "chosen") == ([user], "THANKS")
    system = {"role": "system", "content": "Be loud."}  # data.system_column=system: trained so
    orca_system = {**orca, "system": "Be loud."}
    assert answered_pair(orca_system, "question", "chosen", "system") == ([system, user], "THANKS")
    assert answered_pair({"chosen": "THANKS", "rejected": "x"}, "prompt", "chosen") == (
        "field 'chosen': expected a list of messages, found str 'THANKS' (the row read as a "
        "preference pair)"
    )
    assert answered_pair({"prompt": "thanks dog"}, "prompt", "chosen") is None  # a request
    # s23d M2: a new question in the run's own schema is asked as a prompt (no reference).
    assert answered_pair({"question": "thanks dog"}, "question", "chosen") == ([user], None)
    assert answered_pair({"prompt": "thanks dog"}, "question", "chosen") is None


# ---------------------------------------------------------------------------------- columns
def test_parse_columns_reads_field_to_column_pairs_and_refuses_other_forms() -> None:
    assert parse_columns(["columns.text=review", "columns.id=key"]) == {
        "text": "review",
        "id": "key",
    }
    for bad in ("columns=review", "columns.=review", "columns.a.b=review"):
        with pytest.raises(LabError, match=r"as columns\.<field>=<column>, e\.g\. columns\.text"):
            parse_columns([bad])
    with pytest.raises(LabError, match=r"'columns\.text=': name the file's column"):
        parse_columns(["columns.text="])


def test_an_unknown_field_is_refused_listing_the_heads_fields() -> None:
    check_columns({"review": "body", "id": "key"}, ("review",), "AutoModelForX")  # accepted
    with pytest.raises(LabError) as refused:
        check_columns({"txt": "body"}, ("text", "tokens"), "AutoModelForTokenClassification")
    assert str(refused.value) == (
        "columns.txt: 'txt' is not an input field of this run (AutoModelForTokenClassification)"
        "; its fields: text, tokens (and id, passed through)"
    )


def test_map_columns_renames_and_names_a_missing_column() -> None:
    row = {"body": "great", "review": "old", "key": 7}
    assert map_columns(row, {"review": "body", "id": "key"}) == {"review": "great", "id": 7}
    assert map_columns({"title": "x"}, {"review": "body"}) == (
        "missing column 'body' (columns.review=body; columns present: title)"
    )


def test_predict_reads_a_field_from_the_mapped_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`columns.review=body`: each row's `body` is the head's `review`; a row without `body`
    is that row's error, the others go on; an unknown field stops before any row is read."""
    import lab.predict

    run = SimpleNamespace(head="AutoModelForSequenceClassification", model_dir=tmp_path / "model")
    monkeypatch.setattr(lab.predict, "open_predictor", lambda *a, **k: (run, None, Echo()))
    source = tmp_path / "in.csv"
    source.write_text("body,id\ngreat film,a\n\ndull,b\n")
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text('{"body": "fine"}\n{"review": "no body"}\n')
    out = tmp_path / "out.jsonl"
    assert (
        lab.predict.main(["run=x", f"input={source}", f"output={out}", "columns.review=body"]) == 0
    )
    assert _results(out) == [
        {"line": 2, "id": "a", "label": "great film"},
        {"line": 4, "id": "b", "label": "dull"},
    ]
    assert (
        lab.predict.main(["run=x", f"input={jsonl}", f"output={out}", "columns.review=body"]) == 0
    )
    assert _results(out) == [
        {"line": 1, "label": "fine"},
        {
            "line": 2,
            "error": f"{jsonl}:2: missing column 'body' (columns.review=body; "
            "columns present: review)",
        },
    ]
    with pytest.raises(LabError, match=r"^columns\.text: 'text' is not an input field .*review"):
        lab.predict.main(["run=x", f"input={source}", f"output={out}", "columns.text=body"])
    text = tmp_path / "in.txt"
    text.write_text("great film\n")
    with pytest.raises(DataError, match=r"in\.txt is plain text .*: drop columns\.review=body$"):
        lab.predict.main(["run=x", f"input={text}", f"output={out}", "columns.review=body"])


def test_an_error_row_of_a_missing_mapped_column_keeps_the_rows_id(tmp_path: Path) -> None:
    """Every output row keeps its input's id (researchers join predictions back by it), a
    row refused for lacking a mapped column too; an id mapped from a missing column is
    unknown, not the file's own `id` column."""
    from lab.predict import predict_file

    assert map_columns({"id": "x", "text": "t"}, {"review": "body"}).kept == {"id": "x"}
    assert map_columns({"key": 3}, {"review": "body", "id": "key"}).kept == {"id": 3}
    assert map_columns({"id": "x", "body": "b"}, {"review": "body", "id": "key"}).kept == {}
    source = tmp_path / "in.jsonl"
    source.write_text(
        '{"id": "w", "body": "fine"}\n{"id": "x", "text": "no body"}\n{"text": "t"}\n'
    )
    out = tmp_path / "out.jsonl"
    predict_file(Echo(), source, out, columns={"review": "body"})
    missing = "missing column 'body' (columns.review=body; columns present: "
    assert _results(out) == [
        {"line": 1, "id": "w", "label": "fine"},
        {"line": 2, "id": "x", "error": f"{source}:2: {missing}id, text)"},
        {"line": 3, "error": f"{source}:3: {missing}text)"},
    ]
    csv_source = tmp_path / "in.csv"
    csv_source.write_text("id,text\n1,a\n2,b\n")
    predict_file(Echo(), csv_source, out, columns={"review": "nosuch"})
    assert [(row["line"], row["id"]) for row in _results(out)] == [(2, "1"), (3, "2")]


# ------------------------------------------------------------------------- UTF-8, blank lines
LATIN1 = "caf\xe9 good".encode("latin-1")  # byte 0xe9 at column 4


@pytest.mark.parametrize(
    ("suffix", "content", "line"),
    [
        (".csv", b"review,id\n" + LATIN1 + b",a\nfine,b\n", 2),
        (".tsv", b"review\tid\n" + LATIN1 + b"\ta\nfine\tb\n", 2),
        (".jsonl", b'{"review": "caf\xe9 good"}\n{"review": "fine", "id": "b"}\n', 1),
        (".txt", LATIN1 + b"\nfine\n", 1),
    ],
)
def test_a_non_utf8_line_is_an_error_row_naming_the_byte_and_the_rest_go_on(
    tmp_path: Path, suffix: str, content: bytes, line: int
) -> None:
    from lab.predict import predict_file

    source = tmp_path / f"in{suffix}"
    source.write_bytes(content)
    out = tmp_path / "out.jsonl"
    tally = predict_file(Echo(), source, out)
    bad, good = _results(out)
    column = 16 if suffix == ".jsonl" else 4  # the byte's column in its line
    assert bad == {
        "line": line,
        **({"id": "a"} if suffix in (".csv", ".tsv") else {}),  # its id kept (s31g-4)
        "error": f"{source}:{line}: not valid UTF-8 (byte 0xe9 at column {column}); "
        "re-encode the file as UTF-8",
    }
    assert good["label"] == "fine"
    assert (tally.rows, tally.errors) == (2, 1)


def test_a_bad_byte_on_a_later_line_of_a_csv_record_names_that_line(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(b'review\n"two\nlin\xe9s"\nfine\n')
    rows = list(read_rows(source))
    assert rows == [
        (2, "not valid UTF-8 (byte 0xe9 at line 3, column 4); re-encode the file as UTF-8"),
        (4, {"review": "fine"}),
    ]


def test_a_csv_header_that_is_not_utf8_refuses_the_file(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(b"r\xe9view\nfine\n")
    with pytest.raises(DataError) as refused:
        list(read_rows(source))
    assert str(refused.value) == (
        f"{source}:1: the header is not valid UTF-8 (byte 0xe9 at column 2); re-encode the "
        "file as UTF-8 from the encoding it was saved in: `iconv -f <encoding> -t utf-8 in.csv "
        '> fixed.csv` (or an editor\'s "save as UTF-8"), where <encoding> is often cp1252 '
        "(Western European Windows), gbk or gb18030 (Simplified Chinese), cp932 or shift_jis "
        "(Japanese), big5 (Traditional Chinese), cp949 or euc-kr (Korean); a wrong one can "
        "convert without error, so check that the converted text reads right"
    )


def test_blank_lines_of_a_txt_file_are_no_rows_and_keep_the_line_numbers(tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_text("first\n\n   \nsecond\r\n\n")
    assert count_rows(source) == 2
    assert list(read_rows(source, "review")) == [
        (1, {"review": "first"}),
        (4, {"review": "second"}),
    ]


def test_a_quoted_csv_cell_of_spaces_is_a_row_and_a_blank_line_is_none(tmp_path: Path) -> None:
    """`"  "` is a record (its empty text gets an error entry); a line of spaces is blank."""
    source = tmp_path / "in.csv"
    source.write_text('review\ngood movie\n"  "\n   \n\nbad movie\n')
    assert count_rows(source) == 3
    assert list(read_rows(source)) == [
        (2, {"review": "good movie"}),
        (3, {"review": "  "}),
        (6, {"review": "bad movie"}),
    ]


def test_a_byte_order_mark_is_not_part_of_the_first_column_name(tmp_path: Path) -> None:
    # Excel's "CSV UTF-8" starts the file with one; training (pandas) reads it the same way.
    source = tmp_path / "in.csv"
    source.write_bytes(b"\xef\xbb\xbfreview,id\nfine,7\n")
    assert list(read_rows(source)) == [(2, {"review": "fine", "id": "7"})]
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_bytes(b'\xef\xbb\xbf{"review": "fine"}\n')
    assert list(read_rows(jsonl)) == [(1, {"review": "fine"})]


def test_a_gzipped_input_is_read_as_its_plain_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`reviews.csv.gz`, `prompts.jsonl.gz`: read as training reads `.gz` data, the same rows
    and line numbers as the unzipped file; a gzipped Parquet file is no kind lab reads."""
    import gzip

    import lab.predict

    run = SimpleNamespace(head="AutoModelForSequenceClassification", model_dir=tmp_path / "model")
    monkeypatch.setattr(lab.predict, "open_predictor", lambda *a, **k: (run, None, Echo()))
    plain = {".csv": "review,id\ngreat film,a\n\ndull,b\n", ".jsonl": '{"review": "fine"}\n'}
    for suffix, text in plain.items():
        (tmp_path / f"in{suffix}").write_text(text)
        with gzip.open(tmp_path / f"in{suffix}.gz", "wt") as handle:
            handle.write(text)
        outputs = []
        for name in (f"in{suffix}", f"in{suffix}.gz"):
            out = tmp_path / f"{name}.out.jsonl"
            assert lab.predict.main(["run=x", f"input={tmp_path / name}", f"output={out}"]) == 0
            outputs.append(_results(out))
        assert outputs[0] == outputs[1] and outputs[0]
    (tmp_path / "in.parquet.gz").write_bytes(b"x")
    with pytest.raises(DataError, match=r"must end in one of \.jsonl, \.csv, \.tsv, \.txt"):
        open_input(tmp_path / "in.parquet.gz")


def test_glues_idx_is_passed_through_as_the_id(tmp_path: Path) -> None:
    """s30b F6: GLUE's rows carry `idx`, not `id` (HellaSwag's `ind`); the output keeps it as
    `id` (what a submission is keyed by), an `id` column wins, and `columns.id=` names another."""
    from lab.predict import predict_file

    source = tmp_path / "in.jsonl"
    source.write_text(
        '{"idx": 0, "review": "a"}\n{"idx": 1, "id": "k", "review": "b"}\n{"review": "c"}\n'
        '{"ind": 24, "review": "d"}\n'
    )
    out = tmp_path / "out.jsonl"
    predict_file(Echo(), source, out)
    assert _results(out) == [
        {"line": 1, "id": 0, "label": "a"},
        {"line": 2, "id": "k", "label": "b"},
        {"line": 3, "label": "c"},
        {"line": 4, "id": 24, "label": "d"},  # HellaSwag's `ind` (s30d F5)
    ]
