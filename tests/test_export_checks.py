"""`lab.export` refuses before it writes (README "After training", lab.export; "Errors"):

* a re-export of a `model/` whose weights cannot be loaded (a truncated `model.safetensors`
  was copied, given a new card and said `Exported to ...`, exit 0);
* `push_to_hub=` without a token, in offline mode or with the Hub unreachable (the model card
  was rewritten first);
* an interrupted export of a PEFT checkpoint leaves neither `model/` nor `adapter/` (the
  adapter was written beside the staging folder, in place);

and its ONNX comparison table fits 80 columns without cutting the metric's name.

No training: the runs are written with random tiny weights.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from omegaconf import OmegaConf

from lab.config.cli import run_tool
from lab.errors import LabError
from lab.export_checks import check_loadable
from test_predict_options import CLASSIFIER_RUN, write_run


@pytest.fixture(scope="module")
def written_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lab.config import compose_train_config

    folder = tmp_path_factory.mktemp("written") / "run"
    write_run(folder, compose_train_config(CLASSIFIER_RUN, output_dir=folder))
    (folder / "model" / "README.md").write_text("the card as training wrote it\n")
    return folder


@pytest.fixture
def run_dir(written_run: Path, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(written_run, tmp_path / "run"))


def _snapshot(folder: Path) -> dict[str, tuple[int, bytes]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _tool_exit(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    from lab.export import main

    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        run_tool(main, argv)
    return int(exited.value.code or 0), capsys.readouterr().err


# ------------------------------------------------------------------ weights that do not load
def test_a_truncated_export_is_refused_and_nothing_is_written(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weights = run_dir / "model" / "model.safetensors"
    os.truncate(weights, 500)
    before = _snapshot(run_dir)
    for argv in ([f"run={run_dir}"], [f"run={run_dir}", f"output={tmp_path / 'copy'}"]):
        code, err = _tool_exit(argv, capsys)
        assert code == 2
        assert err == (
            f"error: the exported model in {run_dir / 'model'} cannot be loaded "
            "(SafetensorError: Error while deserializing header: invalid header length)\n"
        )
    assert _snapshot(run_dir) == before
    assert not (tmp_path / "copy").exists()


def test_check_loadable_reads_headers_sizes_shards_and_json(run_dir: Path) -> None:
    model = run_dir / "model"
    check_loadable(model)  # a good export passes
    weights = model / "model.safetensors"
    whole, size = weights.read_bytes(), weights.stat().st_size
    os.truncate(weights, size - 100)  # the tail cut: the header is whole, the data short
    with pytest.raises(LabError, match=r"SafetensorError: .*incomplete metadata"):
        check_loadable(model)
    weights.unlink()
    with pytest.raises(LabError, match=r"FileNotFoundError: no weights file"):
        check_loadable(model)
    (model / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {"a": "model-00001-of-00002.safetensors"}})
    )
    with pytest.raises(LabError, match=r"names missing shards: model-00001-of-00002"):
        check_loadable(model)
    (model / "model.safetensors.index.json").unlink()
    (model / "model.bin").write_bytes(b"PK\x03\x04 not a checkpoint")
    with pytest.raises(LabError, match=r"^the adapter in .* cannot be loaded \("):
        check_loadable(model, "adapter")
    (model / "model.bin").unlink()
    weights.write_bytes(whole)
    (model / "config.json").write_text('{"model_type": "be')
    with pytest.raises(LabError, match=r"JSONDecodeError"):
        check_loadable(model)


# ----------------------------------------------------------------------------- push_to_hub
def test_push_to_hub_without_a_token_writes_nothing(
    run_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub.utils

    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(huggingface_hub.utils, "get_token", lambda: None)
    before = _snapshot(run_dir)
    code, err = _tool_exit([f"run={run_dir}", "push_to_hub=me/x"], capsys)
    assert (code, err) == (
        2,
        "error: push_to_hub needs a Hub token: set HF_TOKEN in the environment (or run "
        "`hf auth login`); lab never stores it\n",
    )
    assert _snapshot(run_dir) == before  # the model card is as it was


def test_push_to_hub_offline_unreachable_or_misnamed_writes_nothing(
    run_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from huggingface_hub import constants

    token = "hf_" + "exportCheckToken" * 2  # not test_after_training's: it greps run files
    monkeypatch.setenv("HF_TOKEN", token)
    before = _snapshot(run_dir)
    share = tmp_path / "share"
    argv = [f"run={run_dir}", f"output={share}", "push_to_hub=me/x"]
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    code, err = _tool_exit(argv, capsys)
    assert (code, err) == (
        2,
        "error: push_to_hub needs the Hub, and HF_HUB_OFFLINE=1 is set: unset it\n",
    )
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{probe.getsockname()[1]}"
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    code, err = _tool_exit(argv, capsys)
    assert code == 2
    assert err.startswith(f"error: the Hub at {endpoint} cannot be reached (")
    assert err.endswith("); nothing was written\n") and token not in err
    code, err = _tool_exit([*argv[:-1], "push_to_hub=me x"], capsys)
    assert code == 2 and err.startswith("error: push_to_hub=me x is not a Hub repository id")
    assert _snapshot(run_dir) == before
    assert not share.exists()


# ----------------------------------------------------------- PEFT checkpoint, interrupted
def test_an_interrupted_peft_checkpoint_export_leaves_no_adapter(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The adapter is saved, then the merged model is being saved when Ctrl-C comes: neither
    folder (nor a staging folder) is left."""
    import lab.build
    import lab.run_dir.runs
    import lab.training.adapters
    import lab.training.checkpointing
    from lab.export import main
    from lab.tasks.base import TaskModule
    from lab.tool_interrupts import ToolInterrupted

    config = OmegaConf.load(run_dir / "config.yaml")
    config.peft = {"config": {"r": 4}}
    (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(config))
    (run_dir / "checkpoints").mkdir()
    (run_dir / "checkpoints" / "last.ckpt").write_bytes(b"weights")
    saved: list[Path] = []

    def export_peft(model: Any, directory: Path, adapter: Path) -> None:
        adapter.mkdir(parents=True)
        (adapter / "adapter_config.json").write_text("{}")
        saved.append(adapter)
        raise KeyboardInterrupt  # while the merged copy is being saved

    tokenizer = SimpleNamespace(save_pretrained=lambda folder: None)
    peft_model = SimpleNamespace(peft_config={}, merge_and_unload=None)
    module = SimpleNamespace(model=peft_model, before_export=lambda tokenizer: None)
    module.export = lambda *args: TaskModule.export(module, *args)  # type: ignore[arg-type]
    monkeypatch.setattr(lab.training.adapters, "export_peft", export_peft)
    monkeypatch.setattr(lab.training.checkpointing, "read_checkpoint", lambda path: {})
    monkeypatch.setattr(lab.run_dir.runs, "load_checkpoint_weights", lambda *args: None)
    monkeypatch.setattr(
        lab.build, "build_parts", lambda cfg: SimpleNamespace(module=module, tokenizer=tokenizer)
    )
    before = _snapshot(run_dir)
    with pytest.raises(ToolInterrupted):
        main([f"run={run_dir}", "checkpoint=last"])
    assert saved and saved[0].parent == run_dir / "exports" / "last"  # it was staged there
    assert saved[0].name.startswith(".adapter.partial-")
    assert _snapshot(run_dir) == before
    assert not (run_dir / "exports").exists()


# ------------------------------------------------------------------------------ ONNX table
def test_the_onnx_table_fits_80_columns_with_whole_names(tmp_path: Path) -> None:
    import io

    from lab.export import _print_onnx_report
    from lab.inference.onnx_runtime.report import REPORT_FILE
    from lab.training.console import message_console

    def result(metric: float) -> dict[str, Any]:
        return {
            "metrics": {"test/perplexity": metric},
            "latency_ms": {"p50": 96.06, "p95": 106.48},
            "throughput": {"rows_per_s": 12345.6},
        }

    report = {
        "main_metric": "test/perplexity",
        "form": "onnx-int8",
        "cpu": {"threads": 2},
        "models": {"pytorch": result(2094.3757), "onnx-int8": result(2094.5)},
    }
    (tmp_path / REPORT_FILE).write_text(json.dumps(report))
    printed = io.StringIO()
    _print_onnx_report(message_console(file=printed, width=80), tmp_path)
    table = printed.getvalue().splitlines()[:-1]  # the last line is the report's path
    assert max(len(line) for line in table) <= 80
    text = printed.getvalue()
    for whole in ("test/perplexity", "latency p50", "throughput", "(rows/s)", "onnx-int8"):
        assert whole in text
    assert "…" not in text
