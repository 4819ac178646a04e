"""`lab.export form=onnx` reads only the run's test split: it says the test rows that
`data.max_length` cuts, whose metrics it reports, not training's line on every split (s31g-6:
`cuts 131 of 720 train rows, 9 of 80 validation rows and 41 of 200 test rows` in an export log
read as if the export were at fault). No training: the run has random tiny weights."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from test_predict_options import write_run

from conftest import TINY_FIXTURE_RUN


class _Stop(Exception):
    """Raised where the ONNX graph would be written: the data is read by then."""


@pytest.mark.parametrize(("max_length", "said"), [(8, True), (512, False)])
def test_the_onnx_export_says_only_the_test_rows_cut(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    max_length: int,
    said: bool,
) -> None:
    from lab.config import compose_train_config
    from lab.inference.onnx_runtime import report
    from lab.run_dir.runs import open_run

    folder = tmp_path / "run"
    overrides = [*TINY_FIXTURE_RUN, f"data.max_length={max_length}"]
    write_run(folder, compose_train_config(overrides, output_dir=folder))

    def stop(*args: object, **kwargs: object) -> None:
        raise _Stop

    monkeypatch.setattr(report, "write_onnx", stop)
    with caplog.at_level(logging.WARNING), pytest.raises(_Stop):
        report.export_with_report(open_run(folder), "onnx", tmp_path / "onnx")
    cuts = [r.getMessage() for r in caplog.records if "data.max_length=" in r.getMessage()]
    if not said:
        assert cuts == []
        return
    assert cuts == [
        f"data.max_length={max_length} cuts 8 of 12 test rows (their tokens past the cut are "
        "not read); a longer data.max_length keeps them, up to the model's positions"
    ]
