"""lab installed from a wheel (`pip install .`), not editable: its config tree travels inside it.

The wheel is built from this checkout (hatchling in process when installed, else `pip wheel`
with build isolation, which needs hatchling from the configured index: the test is skipped
where none can be had), installed with `pip install --no-deps --target <site>`, and run with
`PYTHONPATH=<site>` from a folder that is neither the clone nor the site. Before the fix the
wheel held no YAML and every command died at import with a traceback. The tests that build
the wheel are `slow` (about 20 s together: the build, the install and a Python per command).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

import lab.config.paths as paths
from lab.config.paths import ConfigTreeMissing, checkout_root, config_root

REPO = Path(__file__).resolve().parent.parent
TREE = ("conf", "experiments", "sweeps")


def _build_wheel(out: Path) -> Path:
    if importlib.util.find_spec("hatchling") is not None:
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    else:
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps"]
    done = subprocess.run(
        [*command, "-w", str(out), str(REPO)], capture_output=True, text=True, timeout=300
    )
    if done.returncode != 0:
        said = done.stdout + done.stderr
        if "hatchling" in said and ("No matching distribution" in said or "find a version" in said):
            pytest.skip("hatchling (lab's build backend) cannot be installed here")
        raise AssertionError(said)
    (wheel,) = out.glob("lab-*.whl")
    return wheel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def site(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    install = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target"]
    subprocess.run(
        [*install, str(target), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return target


def _from(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python <args>` with only the installed wheel's lab importable ahead of the clone."""
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
def test_the_wheel_carries_every_config_file(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    packaged = {n.removeprefix("lab/_configs/") for n in names if n.startswith("lab/_configs/")}
    shipped = {
        str(path.relative_to(REPO)) for folder in TREE for path in (REPO / folder).rglob("*.yaml")
    }
    assert {n for n in packaged if n.endswith(".yaml")} == shipped
    assert "conf/train.yaml" in shipped and "experiments/tiny_demo_smoke.yaml" in shipped
    # lab's own packaged files still travel (the demo data, a tiny model's tokenizer).
    assert {"lab/data/demo/train.jsonl", "lab/assets/tiny_bert/tokenizer.json"} <= names


@pytest.mark.slow
def test_lab_reads_the_packaged_tree(site: Path, tmp_path: Path) -> None:
    code = (
        "import lab, hydra_plugins.lab_plugins.search_path as p\n"
        "from lab.config.paths import checkout_root, config_root\n"
        "print(lab.__file__); print(p.__file__); print(checkout_root()); print(config_root())"
    )
    done = _from(site, tmp_path, "-c", code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        str(site / "lab" / "__init__.py"),
        str(site / "hydra_plugins" / "lab_plugins" / "search_path.py"),
        "None",
        str(site / "lab" / "_configs"),
    ]


@pytest.mark.slow
def test_validate_composes_from_the_wheel(site: Path, tmp_path: Path) -> None:
    done = _from(site, tmp_path, "-m", "lab.validate")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    demo = site / "lab" / "data" / "demo"
    assert f"data:      demo: local files {demo}; columns text_column=text, label_column=label" in (
        lines
    )
    assert lines[-1] == "config ok: no rule broken (no data or weights were loaded)"


@pytest.mark.slow
def test_an_experiment_composes_from_the_wheel(site: Path, tmp_path: Path) -> None:
    args = ["-m", "lab.train", "--cfg", "job", "experiment=tiny_demo_smoke"]
    done = _from(site, tmp_path, *args)
    assert done.returncode == 0, done.stderr
    cfg = yaml.safe_load(done.stdout)
    # experiments/tiny_demo_smoke.yaml's values over conf/'s defaults
    assert cfg["seed"] == 42
    assert cfg["trainer"]["max_epochs"] == 6
    assert cfg["optimizer"]["lr"] == 5e-3
    assert cfg["data"]["batch_size"] == 32
    assert cfg["expected"] == {"atol": 0.03, "metrics": {"test/acc": 0.57}}
    done = _from(site, tmp_path, *args, "--resolve")
    assert done.returncode == 0, done.stderr
    resolved = yaml.safe_load(done.stdout)
    assert resolved["data"]["path"] == str(site / "lab" / "data" / "demo")
    tokenizer = resolved["model"]["tokenizer"]["pretrained_model_name_or_path"]
    assert tokenizer == str(site / "lab" / "assets" / "tiny_bert")


@pytest.mark.slow
def test_every_experiment_and_sweep_is_an_option(site: Path, tmp_path: Path) -> None:
    done = _from(site, tmp_path, "-m", "lab.train", "--help")
    assert done.returncode == 0, done.stderr
    listed = dict(
        line.split(": ", 1) for line in done.stdout.splitlines() if line.startswith(("exp", "sw"))
    )
    for group, folder in (("experiment", "experiments"), ("sweep", "sweeps")):
        names = sorted(p.stem for p in (REPO / folder).glob("*.yaml"))
        assert listed[group] == ", ".join(names)


@pytest.mark.slow
def test_a_wheel_without_its_tree_says_so_in_one_line(site: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    for package in ("lab", "hydra_plugins"):
        shutil.copytree(site / package, broken / package)
    shutil.rmtree(broken / "lab" / "_configs")
    here = tmp_path / "here"
    here.mkdir()
    done = _from(broken, here, "-m", "lab.reproduce", "experiment=tiny_demo_smoke")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"error: the lab installed at {broken / 'lab'} has no config tree "
        f"({broken / 'lab' / '_configs' / 'conf' / 'train.yaml'} is missing): reinstall it from "
        "a wheel built from a clone (pip install <clone>), or editable from a clone "
        "(pip install -e <clone>)"
    ]


# The layouts config_root tells apart, without building anything.


def _layout(monkeypatch: pytest.MonkeyPatch, lab_dir: Path) -> None:
    lab_dir.mkdir(parents=True)
    monkeypatch.setattr(paths, "_LAB_DIR", lab_dir)


def _tree(root: Path) -> Path:
    (root / "conf").mkdir(parents=True)
    (root / "conf" / "train.yaml").write_text("seed: 1\n")
    return root


def test_this_checkout_is_the_clone_lab_runs_from() -> None:
    assert checkout_root() == REPO
    assert config_root() == REPO


def test_a_clone_reads_its_own_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _layout(monkeypatch, tmp_path / "clone" / "src" / "lab")
    _tree(tmp_path / "clone")
    assert checkout_root() == tmp_path / "clone"
    assert paths.conf_dir() == tmp_path / "clone" / "conf"


def test_a_target_install_ignores_a_conf_folder_two_levels_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pip install --target /x/site: /x/conf is someone else's folder, not lab's tree.
    _layout(monkeypatch, tmp_path / "x" / "site" / "lab")
    _tree(tmp_path / "x")
    packaged = _tree(tmp_path / "x" / "site" / "lab" / "_configs")
    assert checkout_root() is None
    assert config_root() == packaged


def test_no_tree_anywhere_is_a_lab_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _layout(monkeypatch, tmp_path / "site" / "lab")
    with pytest.raises(ConfigTreeMissing, match="has no config tree"):
        config_root()


def test_a_clone_without_its_conf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _layout(monkeypatch, tmp_path / "clone" / "src" / "lab")
    (tmp_path / "clone" / "pyproject.toml").write_text("")
    with pytest.raises(ConfigTreeMissing) as raised:
        config_root()
    assert str(raised.value) == (
        f"lab runs from the clone {tmp_path / 'clone'}, but its conf/train.yaml is missing: "
        "restore the config tree (git checkout -- conf experiments sweeps)"
    )


def test_a_wheel_records_no_git_state(monkeypatch: pytest.MonkeyPatch) -> None:
    # A venv inside the user's own git project: that project's commit and uncommitted work
    # are not lab's code version.
    import lab
    from lab.run_dir import records

    monkeypatch.setattr(paths, "checkout_root", lambda: None)
    code, patch = records.lab_code_version()
    where = Path(lab.__file__).resolve().parent
    assert code == {"git": None, "note": f"lab {lab.__version__} installed at {where}"}
    assert patch == ""
