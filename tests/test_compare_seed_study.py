"""s27a: `lab.compare` over a paper's seed study. A diverged seed (NaN losses) neither crashes
the table (H1) nor passes for a result or a best (M1); a model or dataset switch is one
`model` / `data` row, not a dozen expanded keys (M2); the best is chosen per validation set
(M3); a run that did not finish is named with its seed and configuration (L3).
Hand-written run folders (config.yaml, record.json, metrics.json, .hydra/hydra.yaml,
overrides.yaml), as lab.train writes them."""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from lab.compare import compare_runs, find_runs, main, print_table, run_labels
from lab.compare_best import best_lines
from lab.compare_stats import diverged

NAN = float("nan")
DIVERGED_NOTE = (
    "left out of every mean and ± (the metrics of diverged weights), counted in `seeds`; a "
    "configuration with a diverged run is never named best"
)


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for key, value in flat.items():
        node = config
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return config


def _run(
    folder: Path,
    seed: int,
    config: dict[str, Any],
    metrics: dict[str, float] | None,
    *,
    choices: dict[str, str] | None = None,
    overrides: tuple[str, ...] | list[str] = (),
    record: dict[str, Any] | None = None,
) -> Path:
    """A run folder: `config` as dotted keys, `metrics` (None: the run did not finish),
    Hydra's record of its `choices` (in Hydra's order: `data` before `model`)."""
    folder.mkdir(parents=True)
    nested = _nest({"seed": seed, "optimized_metric": "val/acc", "optimized_mode": "max", **config})
    (folder / "config.yaml").write_text(json.dumps(nested))  # JSON is YAML
    (folder / "record.json").write_text(json.dumps({"seed": seed, **(record or {})}))
    if metrics is not None:
        (folder / "metrics.json").write_text(json.dumps(metrics))  # NaN as json writes it
    if choices is not None:
        (folder / ".hydra").mkdir()
        hydra = {"hydra": {"runtime": {"choices": {**choices, "hydra/env": "default"}}}}
        (folder / ".hydra" / "hydra.yaml").write_text(json.dumps(hydra))
        (folder / "overrides.yaml").write_text(json.dumps([*overrides, f"seed={seed}"]))
    return folder


def _scores(acc: float, loss: float = 0.4) -> dict[str, float]:
    return {"val/acc": acc, "val/loss": loss, "model/params_total": 100.0}


DIVERGED = {"val/acc": 0.5, "val/loss": NAN, "model/params_total": 100.0}


@pytest.fixture
def study(tmp_path: Path) -> Path:
    """lr 0.005: seeds 1-3, seed 3 diverged; lr 1e8: seeds 1-2, both diverged; lr 0.01: one
    healthy seed."""
    for name, seed, lr, metrics in [
        ("a_s1", 1, 0.005, _scores(0.80)),
        ("a_s2", 2, 0.005, _scores(0.82)),
        ("a_s3", 3, 0.005, DIVERGED),
        ("b_s1", 1, 1e8, DIVERGED),
        ("b_s2", 2, 1e8, DIVERGED),
        ("c_s1", 1, 0.01, _scores(0.70, 0.5)),
    ]:
        failed = {"diverged": {"val/loss": NAN}} if metrics is DIVERGED else {}
        _run(tmp_path / name, seed, {"optimizer.lr": lr}, metrics, record=failed)
    return tmp_path


def test_a_diverged_seed_is_counted_and_left_out_of_the_means(study: Path) -> None:
    """H1: a NaN among the seeds crashed statistics.stdev, and no table was printed."""
    differing, rows = compare_runs(find_runs([str(study)]))
    assert differing == ["optimizer.lr"]
    a, b, c = rows
    assert (a["n_seeds"], a["diverged"]) == (3, [str(study / "a_s3")])
    assert a["metrics"]["val/acc"] == {
        "mean": pytest.approx(0.81),
        "std": pytest.approx(statistics.stdev([0.80, 0.82])),
        "n": 2,
    }
    # every run diverged: its scores are nan, its parameter count is kept
    assert math.isnan(b["metrics"]["val/acc"]["mean"]) and b["metrics"]["val/acc"]["n"] == 0
    assert b["metrics"]["model/params_total"]["mean"] == 100.0
    assert c["diverged"] == [] and c["metrics"]["val/loss"]["mean"] == 0.5


def test_the_table_the_csv_and_the_best_line_say_which_runs_diverged(
    study: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # one row per configuration
    output = tmp_path / "out" / "compare.csv"
    assert main([str(study), "--output", str(output)]) == 0
    lines = capsys.readouterr().out.splitlines()
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in lines if line.startswith("│")]
    assert cells == [
        ["0.005", "3 (1 diverged)", "0.8100 ± 0.0141", "0.4000 ± 0.0000"],
        ["100000000.0", "2 (2 diverged)", "nan", "nan"],
        ["0.01", "1", "0.7000", "0.5000"],
    ]
    assert lines[-3:-1] == [
        "3 runs diverged (non-finite loss: record.json diverged): a_s3 (seed 3), b_s1 (seed 1), "
        f"b_s2 (seed 2); {DIVERGED_NOTE}",
        # lr 0.005's mean over its healthy seeds is the highest: not named best, said why
        "best by val/acc (max): c_s1 (optimizer.lr=0.01) 0.7000; not considered: "
        "a_s1,a_s2,a_s3 (optimizer.lr=0.005): 1 of 3 runs diverged (0.8100 ± 0.0141 over the "
        "others); b_s1,b_s2 (optimizer.lr=100000000.0): both runs diverged",
    ]
    with output.open() as handle:
        rows = {row["optimizer.lr"]: row for row in csv.DictReader(handle)}
    assert [(r["n_seeds"], r["n_diverged"], r["val/acc_mean"]) for r in rows.values()] == [
        ("3", "1", "0.81"),
        ("2", "2", "nan"),
        ("1", "0", "0.7"),
    ]
    assert rows["100000000.0"]["val/acc_std"] == "" and rows["0.01"]["val/acc_std"] == ""


def test_no_best_where_every_configuration_has_a_diverged_run(
    study: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(study / "a_s3"), str(study / "b_s1"), str(study / "b_s2")]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "no best configuration: none is a candidate: a_s3 (optimizer.lr=0.005): its run "
        "diverged; b_s1,b_s2 (optimizer.lr=100000000.0): both runs diverged"
    )


def test_a_run_recorded_before_the_diverged_entry_diverged_by_its_nan_loss() -> None:
    assert diverged({"seed": 1}, {"val/acc": 0.5, "test/loss": NAN})
    assert diverged({"diverged": {"train/loss": NAN}}, {"val/acc": 0.5, "val/loss": 0.7})
    assert not diverged({"seed": 1}, {"val/acc": 0.5, "val/loss": 0.7, "val/mcc": NAN})


MINILM: dict[str, Any] = {
    "model.network._target_": "lab.training.models.pretrained_head",
    "model.network.name_or_path": "/models/minilm",
    "model.tokenizer.path": "/models/minilm",
}
TINY: dict[str, Any] = {
    "model.network._target_": "lab.training.models.head_from_config",
    "model.network.config.hidden_size": 32,
    "model.tokenizer.path": "/assets/tiny_bert",
}
MODEL_KEYS = [
    "model.network._target_",
    "model.network.config.hidden_size",
    "model.network.name_or_path",
    "model.tokenizer.path",
]


@pytest.fixture
def two_models(tmp_path: Path) -> Path:
    """model=minilm (lr 1e-4) against model=tiny_bert (lr 5e-3), two seeds each, on demo."""
    for name, model, keys, lr, accs in [
        ("m", "minilm", MINILM, 1e-4, (0.70, 0.74)),
        ("t", "tiny_bert", TINY, 5e-3, (0.50, 0.52)),
    ]:
        for seed, acc in enumerate(accs, 1):
            _run(
                tmp_path / f"{name}_s{seed}",
                seed,
                {**keys, "optimizer.lr": lr, "data.path": "/data/demo"},
                _scores(acc),
                choices={"data": "demo", "model": model, "logger": "csv"},
                overrides=[f"model={model}", f"optimizer.lr={lr}", "logger=csv"],
            )
    return tmp_path


def test_a_model_switch_is_one_row_and_its_keys_are_counted(
    two_models: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """M2: `model` (its choice) is a row, `optimizer.lr` (set on the command line) another;
    the keys the choice alone sets are left out of the table and the best line, counted in a
    line, printed with --all-keys and kept in the CSV."""
    explained: set[str] = set()
    differing, rows = compare_runs(find_runs([str(two_models)]), explained=explained)
    assert differing == ["model", *MODEL_KEYS, "optimizer.lr"]
    assert explained == set(MODEL_KEYS)
    assert [(row["model"], row["choices"]) for row in rows] == [
        ("minilm", {"model": "minilm"}),
        ("tiny_bert", {"model": "tiny_bert"}),
    ]
    assert run_labels(rows)[1] == ["minilm", "tiny_bert"]
    output = tmp_path / "compare.csv"
    assert main([str(two_models), "--output", str(output)]) == 0
    out = capsys.readouterr().out
    assert "model.network" not in out and "model.tokenizer" not in out
    table = [[c.strip() for c in line.split("│")[1:-1]] for line in out.splitlines() if "│" in line]
    assert [row[:2] for row in table] == [["minilm", "0.0001"], ["tiny_bert", "0.005"]]
    assert out.splitlines()[-3:-1] == [
        "4 more keys differ as the model choice sets them (not the command line): --all-keys "
        "prints them, --output x.csv writes them",
        f"best by val/acc (max): minilm (model=minilm optimizer.lr=0.0001) 0.7200 ± "
        f"{statistics.stdev([0.70, 0.74]):.4f}",
    ]
    with output.open() as handle:
        fields = list(csv.DictReader(handle).fieldnames or [])
    assert fields[:6] == ["model", *MODEL_KEYS, "optimizer.lr"]
    assert main([str(two_models), "--all-keys"]) == 0
    out = capsys.readouterr().out
    assert all(key in out for key in MODEL_KEYS) and "more keys" not in out


def test_a_transposed_table_names_its_columns_by_the_choices(two_models: Path) -> None:
    explained: set[str] = set()
    differing, rows = compare_runs(find_runs([str(two_models)]), explained=explained)
    buffer = io.StringIO()
    shown = [key for key in differing if key not in explained]
    print_table(shown, rows, Console(file=buffer, width=44), explained)
    lines = buffer.getvalue().splitlines()
    header = next(line for line in lines if "key / metric" in line)
    assert [cell.strip() for cell in header.split("┃")[2:-1]] == ["minilm", "tiny_bert"]
    assert lines[-4:-1] == [
        f"Columns: configurations by their model; run folders under {two_models}",
        "  minilm: m_s1, m_s2",
        "  tiny_bert: t_s1, t_s2",
    ]


def test_the_same_choice_with_two_paths_keeps_the_path(tmp_path: Path) -> None:
    """`data=json data.path=a.json` against `data.path=b.json`: one choice, two datasets."""
    for name, path in (("a", "/data/a.json"), ("b", "/data/b.json")):
        _run(
            tmp_path / name,
            1,
            {"data.path": path},
            _scores(0.6),
            choices={"data": "json", "model": "minilm"},
            overrides=["data=json", f"data.path={path}"],
        )
    explained: set[str] = set()
    differing, _ = compare_runs(find_runs([str(tmp_path)]), explained=explained)
    assert (differing, explained) == (["data.path"], set())


def test_a_packaged_path_from_two_installs_is_one_configuration(tmp_path: Path) -> None:
    """s34g M1: the same run from a clone and from an installed lab (or two machines) holds
    lab's tiny model at two absolute paths; record.json's package_paths says they are one."""
    places = {"package": "lab", "relative": "assets/tiny_bert"}
    keys = ("model.pretrained", "model.tokenizer.pretrained_model_name_or_path")
    rows = []
    for name, root in (("clone", "/home/a/lab/src/lab"), ("venv", "/venv/site-packages/lab")):
        config = dict.fromkeys(keys, f"{root}/assets/tiny_bert")
        record = {"package_paths": {key: places for key in keys}}
        _run(tmp_path / name, 1, config, _scores(0.6), record=record)
    differing, rows = compare_runs(find_runs([str(tmp_path)]))
    assert differing == [] and len(rows) == 1 and len(rows[0]["runs"]) == 2
    # Another file of the package is another configuration, named by its place in it.
    config = dict.fromkeys(keys, "/venv/site-packages/lab/assets/tiny_gpt2")
    other = {"package_paths": {key: {**places, "relative": "assets/tiny_gpt2"} for key in keys}}
    _run(tmp_path / "gpt2", 1, config, _scores(0.5), record=other)
    differing, rows = compare_runs(find_runs([str(tmp_path)]))
    assert differing == list(keys) and len(rows) == 2
    assert {row["model.pretrained"] for row in rows} == {
        "lab:assets/tiny_bert",
        "lab:assets/tiny_gpt2",
    }


DEMO = {"data.path": "/data/demo", "data.hub_id": None, "data.max_length": 64}
IMDB = {"data.path": "/data/imdb_small", "data.hub_id": "stanfordnlp/imdb", "data.max_length": 96}
VALIDATION = {"demo": (200, "7a379c08" + "0" * 56), "imdb": (40, "1006b04d" + "1" * 56)}


def _grid(root: Path, digests: bool) -> Path:
    """2 models x 2 datasets x 2 seeds; IMDB's path and max_length set on the command line."""
    accs = {
        ("minilm", "demo"): (0.70, 0.74),
        ("tiny_bert", "demo"): (0.50, 0.52),
        ("minilm", "imdb"): (0.60, 0.56),
        ("tiny_bert", "imdb"): (0.50, 0.50),
    }
    for (model, data), values in accs.items():
        keys = {**(MINILM if model == "minilm" else TINY), **(DEMO if data == "demo" else IMDB)}
        given = [f"model={model}", f"data={data}"]
        if data == "imdb":
            given += ["data.path=/data/imdb_small", "data.max_length=96"]
        rows, sha = VALIDATION[data]
        record = {"data": {"validation": {"rows": rows, "sha256": sha}}} if digests else {}
        for seed, acc in enumerate(values, 1):
            _run(
                root / f"{data}_{model}_s{seed}",
                seed,
                {**keys, "optimizer.lr": 1e-4},
                _scores(acc),
                choices={"data": data, "model": model},
                overrides=given,
                record=record,
            )
    return root


@pytest.mark.parametrize("digests", [True, False])
def test_the_best_is_chosen_per_validation_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], digests: bool
) -> None:
    """M3: demo's val/acc and IMDB's are of other rows: one best line per data. Without the
    records' digests (a run recorded before them) the data's source keys group them."""
    root = _grid(tmp_path, digests)
    explained: set[str] = set()
    differing, rows = compare_runs(find_runs([str(root)]), explained=explained)
    shown = [key for key in differing if key not in explained]
    assert shown == ["model", "data", "data.max_length", "data.path"]
    labels = run_labels(rows)[1]
    assert labels == ["minilm demo", "tiny_bert demo", "minilm imdb", "tiny_bert imdb"]
    spread = f"{statistics.stdev([0.70, 0.74]):.4f}"
    demo, imdb = (
        ("(200 rows, sha256 7a379c08) ", "(40 rows, sha256 1006b04d) ") if digests else ("", "")
    )
    lines = best_lines(rows, labels, shown, {("val/acc", "max")})
    assert lines == [
        "val/acc is of 2 different validation sets (their rows differ: record.json "
        "data.validation.sha256): no best across them; the best on each:",
        f"best on data=demo data.path=/data/demo {demo}by val/acc (max): minilm demo "
        f"(model=minilm) 0.7200 ± {spread}",
        f"best on data=imdb data.path=/data/imdb_small {imdb}by val/acc (max): minilm imdb "
        f"(model=minilm) 0.5800 ± {spread}",
    ]
    # one configuration on a data: named, and said to be alone there
    alone = best_lines(rows[:3], labels[:3], shown, {("val/acc", "max")})
    assert alone[-1] == (
        f"best on data=imdb data.path=/data/imdb_small {imdb}by val/acc (max): minilm imdb "
        f"0.5800 ± {spread}, the only configuration scored on it"
    )
    assert main([str(root)]) == 0
    assert capsys.readouterr().out.splitlines()[-3:] == lines


def test_a_run_that_did_not_finish_names_its_seed_and_configuration(
    two_models: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """L3: which cell lost a seed, without opening each record."""
    interrupted = "interrupted (SIGTERM); continue with resume=m_s3"
    for name, seed, lr, status in (
        ("m_s3", 3, 1e-4, interrupted),
        ("x_s1", 1, 0.02, "failed: ValueError: boom"),
    ):
        _run(
            two_models / name,
            seed,
            {**MINILM, "optimizer.lr": lr, "data.path": "/data/demo"},
            None,
            choices={"data": "demo", "model": "minilm"},
            overrides=["model=minilm", f"optimizer.lr={lr}"],
            record={"status": status},
        )
    assert main([str(two_models)]) == 0
    assert capsys.readouterr().err.splitlines() == [
        "left out 2 runs that did not finish (no metrics.json: 1 failed, 1 interrupted): "
        f"{two_models / 'm_s3'} (interrupted (SIGTERM), seed 3, configuration minilm), "
        f"{two_models / 'x_s1'} (failed, seed 1, a configuration no finished run has: "
        "model=minilm optimizer.lr=0.02)"
    ]


def test_an_unfinished_runs_line_names_at_most_a_few_keys() -> None:
    """s27e M1: a failed run of a configuration no finished run has named every key that set it
    apart: one line of 18,000 characters."""
    from lab.compare_unfinished import SHOWN_KEYS, _apart

    config = {f"model.network.config.k{i:02d}": i for i in range(40)}
    said = _apart(config, {}, [({}, {})], [])
    assert said.count("=") == SHOWN_KEYS
    assert said.startswith("model.network.config.k00=0 model.network.config.k01=1 ")
    assert said.endswith(f" (and {40 - SHOWN_KEYS} more keys: its config.yaml)")


def test_two_sets_of_one_data_are_named_by_it_and_their_digests(tmp_path: Path) -> None:
    """s30e F4: a random carve and a stream's head of one IMDB read `best on (100 rows, ...)`,
    no data named; the data they share is named, their rows and digests tell them apart."""
    import json

    from lab.compare_data import group_name

    runs = []
    for name, digest in (("a", "2436bf4a00"), ("b", "a2ee34df00")):
        run = tmp_path / name
        run.mkdir()
        record = {"data": {"validation": {"rows": 100, "sha256": digest}}}
        (run / "record.json").write_text(json.dumps(record))
        runs.append({"runs": [str(run)]})
    cells = {"data": ["imdb", "imdb"], "data.path": ["/d/imdb", "/d/imdb"]}
    names = [group_name(runs, [[0], [1]], g, cells, "val/acc") for g in (0, 1)]
    assert names == [
        "data=imdb data.path=/d/imdb (100 rows, sha256 2436bf4a)",
        "data=imdb data.path=/d/imdb (100 rows, sha256 a2ee34df)",
    ]
