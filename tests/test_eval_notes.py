"""`lab.eval` says why its numbers may differ from the run's, and what to do with data it
cannot evaluate: a train-time test or validation pass cut short by the run's trainer
(`trainer.limit_test_batches`), a split without labels (IMDB's `unsupervised`), and new data
of another chat format than the run's (`data.format`)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from lab.config import compose_train_config
from lab.errors import ConfigError, DataError, LabError
from lab.eval_table import limited_pass_note
from lab.run_dir.runs import TrainedRun

from conftest import FIXTURES, SENTIMENT, TINY_FIXTURE_RUN

LABELS = {"negative": "0", "positive": "1"}


def _int_labels(source: Path, target: Path) -> None:
    """The sentiment fixture's rows with integer labels, as IMDB stores them."""
    with source.open() as handle:
        rows = [(r["review"], LABELS[r["sentiment"]]) for r in csv.DictReader(handle)]
    _write(target, rows)


def _write(target: Path, rows: list[tuple[str, str]]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["review", "sentiment"])
        writer.writerows(rows)


@pytest.fixture(scope="module")
def limited_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny classifier on an IMDB-like Hub folder (train, validation, test and an unlabeled
    `unsupervised` split, labels -1), whose test and validation passes saw one batch of 4."""
    from lab.train import run

    root = tmp_path_factory.mktemp("limited")
    data = root / "imdb_like" / "data"
    for split in ("train", "validation", "test"):
        _int_labels(SENTIMENT / f"{split}.csv", data / f"{split}-00000-of-00001.csv")
    unlabeled = [("an unlabeled review of a film", "-1"), ("another one", "-1")]
    _write(data / "unsupervised-00000-of-00001.csv", unlabeled)
    overrides = [
        *TINY_FIXTURE_RUN,
        f"data.path={data.parent}",
        "trainer.max_epochs=1",
        "data.eval_batch_size=4",
        "+trainer.limit_test_batches=1",
        "+trainer.limit_val_batches=1",
    ]
    run(compose_train_config(overrides, output_dir=root / "run"))
    return root / "run"


@pytest.mark.slow
def test_eval_notes_that_the_runs_test_and_validation_passes_were_limited(
    limited_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The whole split is evaluated (12 rows, not the 4 the run's one batch saw), and the
    table says why its numbers differ from those recorded at train time."""
    from lab.eval import main

    for split, key in (("test", "limit_test_batches"), ("validation", "limit_val_batches")):
        output = limited_run / "eval-notes" / f"{split}.json"
        assert main([f"run={limited_run}", f"split={split}", f"output={output}"]) == 0
        assert json.loads(output.read_text())["data"]["rows"] == 12
        printed = " ".join(capsys.readouterr().out.split())  # rich wraps at the console width
        assert "at train time*" in printed
        assert f"Evaluation of the {split} split" in printed  # the table names the split
        pass_name = "test" if split == "test" else "validation"
        assert (
            f"* at train time trainer.{key}=1 limited the {pass_name} pass to at most 1 batch; "
            "this evaluation saw the whole split (12 rows), so the two can differ"
        ) in printed


def test_the_note_reads_the_limit_as_lightning_does(tmp_path: Path) -> None:
    """An int is a number of batches, a float a share of them; 1.0 or none limits nothing,
    and other splits (train) have no recorded metrics to compare with."""

    def note(limits: dict[str, object], split: str = "test") -> str:
        config = OmegaConf.create({"trainer": limits})
        return limited_pass_note(TrainedRun(tmp_path, config, {}), split, 30)

    assert note({}) == ""
    assert note({"limit_test_batches": 1.0}) == ""
    assert note({"limit_test_batches": None}) == ""
    assert note({"limit_test_batches": 2}, "train") == ""
    assert note({"limit_val_batches": 2}) == ""  # limits validation, not the test pass
    assert "to at most 2 batches;" in note({"limit_test_batches": 2})
    assert "limit_val_batches=0.25 limited the validation pass to at most 25% of its batches" in (
        note({"limit_val_batches": 0.25}, "validation")
    )
    assert note({"limit_test_batches": 1}).endswith(
        "the whole split (30 rows), so the two can differ"
    )


@pytest.mark.slow
def test_eval_of_an_unlabeled_split_advises_evaluating_another(limited_run: Path) -> None:
    """IMDB's `unsupervised` split (every label -1): lab.eval's advice is another split, named
    among those present, not training's data.splits mapping; `unsupervised` itself is not
    offered (it holds no labels)."""
    from lab.eval import main

    data = limited_run.parent / "imdb_like" / "data"
    with pytest.raises(LabError) as refused:
        main([f"run={limited_run}", "split=unsupervised"])
    message = str(refused.value)
    assert message == (
        f"{data / 'unsupervised-00000-of-00001.csv'}:2 column 'sentiment': label -1 marks a "
        "hidden label (unlabeled rows, as in GLUE's test splits) that cannot be trained on or "
        "scored; the unsupervised split cannot be evaluated as it is: choose another with "
        "split=<name>; splits present: train, validation, test (the run's, as training read "
        "them)"
    )
    assert "data.splits" not in message


def test_eval_on_other_chat_data_names_the_split_read_and_the_format_that_fits(
    tmp_path: Path,
) -> None:
    """A run configured for `messages` rows, evaluated on a folder of prompt/completion files:
    the refusal names the split evaluated (test, not the data module's train) and the
    data.format its columns fit. Refused while the data is read, before any model is built."""
    from lab.eval import _build_parts, evaluation_config

    folder = tmp_path / "new"
    folder.mkdir()
    test = folder / "test.jsonl"
    test.write_text((FIXTURES / "sft" / "prompt_completion.jsonl").read_text())
    (folder / "train.jsonl").write_text(test.read_text())
    overrides = ["model=tiny_llama", "data=chat", f"data.path={FIXTURES / 'sft_task'}"]
    config = compose_train_config([*overrides, "data.format=messages"], output_dir=tmp_path / "r")
    trained = TrainedRun(tmp_path / "r", config, {})  # no export: the config's tokenizer
    cfg = evaluation_config(trained, [f"data.path={folder}"], None)
    with pytest.raises(DataError) as refused:
        _build_parts(trained, cfg)
    assert str(refused.value) == (
        f"{test}: column 'messages' (data.format=messages) is not in the test split; columns "
        "present: prompt, completion; these columns fit data.format=prompt_completion "
        "(data.format=auto detects it)"
    )


@pytest.mark.slow
def test_a_batching_override_still_evaluates_the_runs_own_split(limited_run: Path) -> None:
    """`data.pad_to_multiple_of` / `eval_batch_size` / `num_workers` change how rows are
    batched, not which: lab.eval still tests the run's own split (its recorded metrics beside);
    a key that changes the rows (`data.max_length`) makes it other data."""
    from lab.eval import evaluation_config
    from lab.eval_splits import RUN_SPLIT
    from lab.run_dir.runs import open_run

    run = open_run(limited_run)
    batching = ["data.pad_to_multiple_of=8", "data.eval_batch_size=2", "data.num_workers=0"]
    cfg = evaluation_config(run, batching, None)
    assert cfg.get(RUN_SPLIT) == "test"
    assert (cfg.data.pad_to_multiple_of, cfg.data.eval_batch_size) == (8, 2)
    other = evaluation_config(run, ["data.max_length=16"], None)
    assert not other.get(RUN_SPLIT) and other.data.max_length == 16
    pinned = evaluation_config(run, ["data.pin_memory=false"], None)
    assert pinned.get(RUN_SPLIT) == "test" and pinned.data.pin_memory is False


@pytest.mark.slow
@pytest.mark.parametrize(
    ("override", "refusal"),
    [
        # read as lab.train reads it (Hydra's grammar: the text 'yes'), not YAML 1.1's true
        (
            "data.pin_memory=yes",
            "data.pin_memory='yes': use true, false or auto (true when batches go to a CUDA GPU)",
        ),
        (
            "data.eval_batch_size=abc",
            "data.eval_batch_size='abc' is not a number; valid: null or an integer >= 1 (null: "
            "batch_size (CPU), 4x (GPU))",
        ),
        ("data.num_workers=x", "data.num_workers='x' is not a number; valid: an integer >= 0"),
        ("data.max_length=0", "data.max_length=0 is out of range; valid: an integer >= 1"),
    ],
)
def test_eval_overrides_meet_trainings_config_checks(
    limited_run: Path, override: str, refusal: str
) -> None:
    """A bad value given to lab.eval is refused in lab.train's words, before any loader is
    built (it was a traceback from the loader, or for `yes`, pinned memory on a CPU)."""
    from lab.eval import evaluation_config
    from lab.run_dir.runs import open_run

    with pytest.raises(ConfigError) as refused:
        evaluation_config(open_run(limited_run), [override], None)
    assert str(refused.value) == refusal


def test_the_changed_data_note_names_the_split_and_both_digests(tmp_path: Path) -> None:
    """The run's own split read again under another digest than record.json's: a note naming
    the split and both short digests; none when they match, for other data, or where
    record.json has no digest for the split."""
    from lab.eval_table import changed_data_note

    record = {"data": {"test": {"rows": 3, "sha256": "7f40cf53" + "0" * 56}}}
    run = TrainedRun(tmp_path, OmegaConf.create({}), record)
    assert changed_data_note(run, "test", "a77279c5" + "1" * 56) == (
        "the test split's data differs from the one the run tested on (sha256 a77279c5 now, "
        "7f40cf53 in record.json): its files changed since training, so metrics recorded at "
        "train time are of other rows"
    )
    assert changed_data_note(run, "test", "7f40cf53" + "0" * 56) == ""
    assert changed_data_note(run, None, "a77279c5") == ""  # other data: nothing to compare
    assert changed_data_note(run, "validation", "a77279c5") == ""  # no digest recorded


@pytest.mark.slow
def test_eval_warns_before_the_table_when_the_runs_split_changed_since_training(
    limited_run: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A copy of the run whose test file is rewritten after training: lab.eval warns, before
    printing the table beside the train-time metrics, naming the split and both digests; the
    unchanged copy gets no warning."""
    import logging
    import shutil

    import lab.eval

    data = shutil.copytree(limited_run.parent / "imdb_like", tmp_path / "imdb_like")
    run = shutil.copytree(limited_run, tmp_path / "run", ignore=shutil.ignore_patterns("eval*"))
    config = OmegaConf.load(run / "config.yaml")
    config.data.path = str(data)
    OmegaConf.save(config, run / "config.yaml")
    recorded = json.loads((run / "record.json").read_text())["data"]["test"]["sha256"]
    shown: list[str] = []  # what lab.eval said, in order: its warnings and the table
    real_print = lab.eval.print_metrics
    monkeypatch.setattr(
        lab.eval,
        "print_metrics",
        lambda *args, **kwargs: (shown.append("table"), real_print(*args, **kwargs)),
    )

    class Said(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            shown.append(record.getMessage())

    said = Said(logging.WARNING)
    logging.getLogger("lab.eval").addHandler(said)

    def evaluate() -> str:
        shown.clear()
        output = tmp_path / "metrics.json"
        assert lab.eval.main([f"run={run}", f"output={output}"]) == 0
        return str(json.loads(output.read_text())["data"]["sha256"])

    try:
        assert evaluate() == recorded
        assert shown == ["table"]  # the split as trained: no warning
        test_file = data / "data" / "test-00000-of-00001.csv"
        lines = test_file.read_text().splitlines()
        test_file.write_text("\n".join(lines[:-1]) + "\n")  # one row fewer
        now = evaluate()
    finally:
        logging.getLogger("lab.eval").removeHandler(said)
    assert now != recorded
    assert shown == [
        f"the test split's data differs from the one the run tested on (sha256 {now[:8]} now, "
        f"{recorded[:8]} in record.json): its files changed since training, so metrics "
        "recorded at train time are of other rows",
        "table",
    ]
