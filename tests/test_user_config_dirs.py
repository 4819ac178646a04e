"""Your own config folders (`--config-dir`), outside lab's clone, through every tool that
composes (`lab.config.user_dirs`): the composed values are yours, your file wins a name
clash with lab's, unknown keys get lab's hint, and a folder that is not there is one line."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from lab.config import compose_train_config
from lab.config.cli import normalize_argv, unknown_key_hints
from lab.config.paths import conf_dir
from lab.config.user_dirs import active_entries, searched_first, take_config_dirs
from lab.errors import LabError

from conftest import lab_cli

FILES = {
    # An experiment of your own, on a model and data of lab's and of yours.
    "experiment/my_exp.yaml": """\
# @package _global_
defaults:
  - override /model: my_tiny
  - override /data: my_demo
  - override /logger: csv
seed: 7
data:
  max_train_samples: 32
  max_eval_samples: 16
  max_test_samples: 16
optimizer:
  lr: 3e-3
trainer:
  max_epochs: 1
expected:
  atol: 1.0
  metrics:
    test/acc: 0.5
""",
    # lab's tiny_bert (its assets), narrower
    "model/my_tiny.yaml": """\
defaults:
  - tiny_bert
  - _self_
network:
  config:
    hidden_size: 48
    num_attention_heads: 3
""",
    # lab's demo rows, read by lab's text-classification base
    "data/my_demo.yaml": """\
defaults:
  - base/text_classification@_here_
  - _self_
path: ${lab.package_path:lab,data/demo}
label_names: [negative, positive]
max_length: 24
batch_size: 8
""",
    # Same names as lab's options: yours win.
    "data/sst2.yaml": """\
defaults:
  - base/text_classification@_here_
  - _self_
path: ${lab.package_path:lab,data/demo}
label_names: [negative, positive]
max_length: 17
""",
    "experiment/tiny_demo_smoke.yaml": """\
# @package _global_
trainer:
  max_epochs: 9
""",
    # a group lab does not have, with a `none` option
    "augment/none.yaml": "{}\n",
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A researcher's project folder: `conf/` holds their own config groups."""
    root = tmp_path_factory.mktemp("project")
    for name, text in FILES.items():
        path = root / "conf" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _entry(project: Path) -> str:
    return f"file://{os.path.abspath(project / 'conf')}"


# ------------------------------------------------------------------- the flag and its refusals
def test_every_spelling_of_the_flag_is_taken_out_in_order(project: Path) -> None:
    conf, other = project / "conf", project / "conf" / "data"
    argv = ["--config-dir", str(conf), "seed=1", f"--config-dir={other}", "-m", "model=x"]
    entries, rest = take_config_dirs(argv)
    assert entries == [f"file://{conf}", f"file://{other}"]
    assert rest == ["seed=1", "-m", "model=x"]
    # -cd (Hydra's short form) and Hydra's own override; the same folder twice is searched once
    entries, rest = take_config_dirs(["-cd", str(conf), f"hydra.searchpath=[file://{conf}]"])
    assert entries == [f"file://{conf}"] and rest == []
    entries, _ = take_config_dirs([f"hydra.searchpath=[file://{conf},pkg://my_configs]"])
    assert entries == [f"file://{conf}", "pkg://my_configs"]


def test_a_folder_that_is_not_there_is_refused_in_one_line(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    with pytest.raises(LabError) as missing:
        take_config_dirs(["--config-dir", "nosuch", "data=sst2"])
    assert str(missing.value) == f"--config-dir nosuch: no such folder ({project / 'nosuch'})"
    with pytest.raises(LabError) as a_file:
        take_config_dirs(["--config-dir=conf/data/sst2.yaml"])
    assert str(a_file.value) == (
        f"--config-dir conf/data/sst2.yaml: not a folder ({project / 'conf/data/sst2.yaml'}); "
        "give the folder that holds your config groups (data/, model/, experiment/, ...)"
    )
    with pytest.raises(LabError) as no_value:
        take_config_dirs(["data=sst2", "--config-dir"])
    assert str(no_value.value) == (
        "--config-dir needs a folder: --config-dir <folder of your config groups>"
    )
    # for an error hint (the command failed already) the missing folder is only left out
    assert take_config_dirs(["--config-dir", "nosuch", "a=1"], strict=False) == ([], ["a=1"])


def test_nested_blocks_search_each_folder_once_and_restore(project: Path) -> None:
    entry = _entry(project)
    with searched_first([entry]):
        with searched_first([entry, "pkg://more"]):
            assert active_entries() == [entry, "pkg://more"]
        assert active_entries() == [entry]
    assert active_entries() == []


# ------------------------------------------------------------------ composing (Python, tools)
def test_your_experiment_composes_your_model_and_data_over_labs_bases(project: Path) -> None:
    from hydra.core.hydra_config import HydraConfig

    from lab.run_dir.records import hydra_overrides

    cfg = compose_train_config(
        ["experiment=my_exp", "optimizer.lr=1e-3"], "unused", config_dirs=[project / "conf"]
    )
    assert cfg.model.network.config.hidden_size == 48  # my_tiny.yaml
    assert cfg.model.network.config.num_hidden_layers == 2  # lab's tiny_bert, its base
    assert cfg.data.max_length == 24 and cfg.data.batch_size == 8  # my_demo.yaml
    assert cfg.data.val_fraction == 0.1  # lab's data/base/source.yaml, through @_here_
    assert cfg.task.head == "transformers.AutoModelForSequenceClassification"
    assert (cfg.optimizer.lr, cfg.trainer.max_epochs, cfg.seed) == (1e-3, 1, 7)
    assert HydraConfig.get().runtime.choices["data"] == "my_demo"
    # what record.json and overrides.yaml note: where the configs came from (Hydra drops
    # a hydra.searchpath override from its own list)
    assert hydra_overrides() == [
        "experiment=my_exp",
        "optimizer.lr=1e-3",
        f"hydra.searchpath=[{_entry(project)}]",
    ]


def test_hydra_searchpath_override_means_the_same(project: Path) -> None:
    cfg = compose_train_config(
        ["experiment=my_exp", f"hydra.searchpath=[file://{project / 'conf'}]"], "unused"
    )
    assert cfg.model.network.config.hidden_size == 48 and cfg.data.max_length == 24


def test_your_file_wins_over_labs_option_of_the_same_name(project: Path) -> None:
    assert compose_train_config(["data=sst2"], "unused").data.max_length == 66  # lab's
    cfg = compose_train_config(["data=sst2"], "unused", config_dirs=[project / "conf"])
    assert cfg.data.max_length == 17 and cfg.data.hub_id is None
    assert cfg.data.path.endswith("data/demo")
    cfg = compose_train_config(
        ["experiment=tiny_demo_smoke"], "unused", config_dirs=[project / "conf"]
    )
    assert cfg.trainer.max_epochs == 9  # lab's experiments/tiny_demo_smoke.yaml says 6
    assert cfg.model.pretrained is not None  # and lab's defaults stay: yours sets no model


def test_unknown_keys_of_your_experiment_name_the_valid_keys(project: Path) -> None:
    argv = ["--config-dir", str(project / "conf"), "experiment=my_exp", "trainer.max_epoch=1"]
    (hint,) = unknown_key_hints(argv, str(conf_dir()), "train")
    assert hint.startswith(
        "'trainer.max_epoch' is not a config key. Did you mean trainer.max_epochs? Valid keys "
        "of trainer: _target_, accelerator,"
    )
    argv = ["-cd", str(project / "conf"), "experiment=my_exp", "data.nosuchkey=1"]
    (hint,) = unknown_key_hints(argv, str(conf_dir()), "train")
    assert hint.startswith("'data.nosuchkey' is not a config key. Valid keys of data: _target_,")
    assert ", max_length, " in hint


def test_null_means_none_for_a_group_of_your_own(project: Path) -> None:
    assert normalize_argv(["augment=null"]) == ["augment=null"]
    argv = ["--config-dir", str(project / "conf"), "augment=null"]
    assert normalize_argv(argv) == [*argv[:2], "augment=none"]


def test_validate_takes_the_flag_and_says_which_options_are_yours(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from lab.validate import main

    monkeypatch.chdir(project)
    assert main(["--config-dir", "conf", "experiment=my_exp", "data=sst2"]) == 0
    lines = dict(line.split(":", 1) for line in capsys.readouterr().out.splitlines())
    assert lines["model"].strip().startswith("my_tiny: from its config")
    assert lines["optimizer"].strip().startswith("adamw (lr=0.003)")
    conf = project / "conf"
    assert lines["yours"].strip() == (
        f"experiment=my_exp ({conf / 'experiment/my_exp.yaml'}); "
        f"data=sst2 ({conf / 'data/sst2.yaml'}, in place of lab's "
        f"{conf_dir() / 'data/sst2.yaml'}); "
        f"model=my_tiny ({conf / 'model/my_tiny.yaml'})"
    )
    assert main(["--config-dir", "nosuch", "experiment=my_exp"]) == 2
    assert (
        capsys.readouterr().err
        == f"error: --config-dir nosuch: no such folder ({project / 'nosuch'})\n"
    )
    assert main(["--config-dir=conf", "experiment=my_exp", "data.nosuchkey=1"]) == 2
    assert capsys.readouterr().err.startswith(
        "error: 'data.nosuchkey' is not a config key. Valid keys of data: _target_,"
    )


def test_inspect_reads_your_data_config(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from lab.inspect import main

    monkeypatch.chdir(project)
    argv = ["--config-dir", "conf", "data=my_demo", "model=tiny_bert", "sample=20", "out=insp"]
    assert main(argv) == 0
    report = json.loads((project / "insp" / "inspect.json").read_text())
    assert (report["data"], report["model"]) == ("my_demo", "tiny_bert")
    assert report["max_length"]["text"]["current"] == 24  # my_demo.yaml's, not demo's 64
    with pytest.raises(LabError, match=re.escape("--config-dir nosuch: no such folder")):
        main(["--config-dir", "nosuch", "data=my_demo"])


def test_eval_refuses_a_missing_folder_before_opening_the_run(project: Path) -> None:
    from lab.eval import main

    with pytest.raises(LabError) as refused:
        main(["run=/nowhere", f"--config-dir={project / 'nosuch'}", "data=my_demo"])
    assert str(refused.value) == (
        f"--config-dir {project / 'nosuch'}: no such folder ({project / 'nosuch'})"
    )


# ----------------------------------------------------------------- lab.train's command line
def test_train_searches_your_folder_first(project: Path) -> None:
    shown = lab_cli("train", "--config-dir", "conf", "data=sst2", "--cfg", "job", cwd=project)
    assert shown.returncode == 0, shown.stderr
    assert OmegaConf.create(shown.stdout).data.max_length == 17
    info = lab_cli("train", "--info", "searchpath", "--config-dir", "conf", cwd=project)
    rows = [row.split("|")[1:3] for row in info.stdout.splitlines() if row.startswith("| ")]
    order = [(provider.strip(), path.strip()) for provider, path in rows[1:]]
    assert order[:3] == [
        ("hydra", "pkg://hydra.conf"),
        ("config-dir", _entry(project)),
        ("main", f"file://{conf_dir()}"),
    ]
    assert [path for _, path in order].count(_entry(project)) == 1  # once (s31f F9)
    missing = lab_cli("train", "-cd", "nosuch", "--cfg", "job", cwd=project)
    assert missing.returncode == 2
    assert missing.stderr == f"error: -cd nosuch: no such folder ({project / 'nosuch'})\n"


def test_train_hints_unknown_keys_and_completes_your_options(project: Path) -> None:
    bad = lab_cli(
        "train", "--config-dir", "conf", "experiment=my_exp", "trainer.max_epoch=1", "--cfg",
        "job", cwd=project,
    )  # fmt: skip
    assert bad.returncode == 2
    assert bad.stderr.startswith(
        "error: 'trainer.max_epoch' is not a config key. Did you mean trainer.max_epochs?"
    )
    # Hydra's completion script hands the line being completed over in COMP_LINE
    completed = lab_cli(
        "train", "-sc", "query=bash", cwd=project,
        env={"COMP_LINE": "lab-train --config-dir conf model=my", "COMP_POINT": "36"},
    )  # fmt: skip
    assert completed.stdout.split() == ["model=my_tiny"]


# ------------------------------------------------- lab.reproduce and lab.eval: one tiny run
@pytest.mark.slow
def test_reproduce_and_eval_your_experiment_and_data(project: Path, tmp_path: Path) -> None:
    from lab.eval import evaluation_config
    from lab.eval import main as evaluate
    from lab.run_dir.runs import open_run

    refused = lab_cli("reproduce", "experiment=my_exp", cwd=project)
    assert refused.returncode == 2 and "Could not find 'experiment/my_exp'" in refused.stderr
    result = lab_cli(
        "reproduce", "--config-dir", "conf", "experiment=my_exp", f"paths.output_root={tmp_path}",
        cwd=project, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Expected vs now (rtol 0, atol 1)" in result.stdout
    assert re.search(r"test/acc .* pass", result.stdout)
    (run_dir,) = (tmp_path / "runs").glob("*/*")
    ran = OmegaConf.load(run_dir / "config.yaml")
    assert (ran.model.network.config.hidden_size, ran.data.max_length) == (48, 24)
    record = json.loads((run_dir / "record.json").read_text())
    assert record["overrides"] == [
        "experiment=my_exp",
        f"paths.output_root={tmp_path}",
        f"hydra.searchpath=[{_entry(project)}]",
    ]
    # lab.eval on data of your own: lab's demo rows read with your max_length 17
    run = open_run(str(run_dir))
    with pytest.raises(Exception, match=re.escape("Could not find 'data/sst2x'")) as missing:
        evaluation_config(run, ["data=sst2x"], None)
    folder = _entry(project).removeprefix("file://")  # s20c L1: the flag the run was trained with
    assert str(missing.value).endswith(
        "; this run was trained with config folders of its own (record.json): "
        f"--config-dir {folder}"
    )
    with searched_first([_entry(project)]), pytest.raises(Exception) as searched:
        evaluation_config(run, ["data=sst2x"], None)
    assert "trained with config folders" not in str(searched.value)  # searched: no hint
    with searched_first([_entry(project)]):
        cfg = evaluation_config(run, ["data=sst2"], None)
    assert (cfg.data.max_length, cfg.data.hub_id) == (17, None)
    argv = [f"run={run_dir}", "--config-dir", str(project / "conf"), "data=sst2"]
    assert evaluate([*argv, f"output={tmp_path / 'eval.json'}"]) == 0
    written = json.loads((tmp_path / "eval.json").read_text())
    assert written["data"]["rows"] == 400  # the demo set's test.jsonl: 400 lines
