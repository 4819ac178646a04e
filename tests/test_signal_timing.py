"""A stop signal that lands inside an import is delivered once the import is done (s25a H1),
and a run stopped before it wrote its record leaves no folder behind (s25a M2).

An exception raised inside Python's import machinery leaves half-initialised modules (torch,
Lightning) behind, and one raised inside importlib's module-lock callback is lost ("Exception
ignored"): a SIGTERM 2-4 s into `lab.train` gave a traceback, or was ignored and the run trained
on. The handlers now send the signal again a moment later, until it lands outside an import.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from lab import tool_interrupts
from lab.run_dir.endings import remove_unstarted_run
from lab.tool_interrupts import deferred_while_importing


def _frame_in(filename: str) -> Any:
    """A frame of code compiled as if it were `filename`."""
    found: dict[str, Any] = {}
    exec(compile("import sys\nframe = sys._getframe()", filename, "exec"), found)
    return found["frame"]


def test_a_signal_inside_an_import_is_sent_again_later(monkeypatch: pytest.MonkeyPatch) -> None:
    timers: list[tuple[float, Any, tuple[Any, ...]]] = []

    class Timer:
        def __init__(self, delay: float, call: Any, args: tuple[Any, ...]) -> None:
            timers.append((delay, call, args))
            self.daemon = False

        def start(self) -> None:
            pass

    monkeypatch.setattr(tool_interrupts.threading, "Timer", Timer)
    import os
    import signal

    assert deferred_while_importing(signal.SIGTERM, _frame_in("<frozen importlib._bootstrap>"))
    assert timers == [(tool_interrupts.IMPORT_RETRY_S, os.kill, (os.getpid(), signal.SIGTERM))]
    assert not deferred_while_importing(signal.SIGTERM, _frame_in(__file__))
    assert not deferred_while_importing(signal.SIGTERM, None)
    assert len(timers) == 1


def test_lab_trains_stop_lands_after_the_import_it_interrupted(tmp_path: Path) -> None:
    """A module whose import takes a second; SIGTERM arrives in the middle of it. The module is
    imported whole, then the run stops with `RunInterrupted` outside the import."""
    (tmp_path / "slow_module.py").write_text("import time\ntime.sleep(1.0)\nDONE = True\n")
    script = textwrap.dedent(
        """
        import os, signal, sys, threading, time
        sys.path.insert(0, sys.argv[1])
        from lab.train import signals_stop_the_run
        from lab.run_dir.endings import RunInterrupted

        threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM)).start()
        try:
            with signals_stop_the_run():
                import slow_module
                print("imported", slow_module.DONE, flush=True)
                time.sleep(10)
                print("not stopped", flush=True)
        except RunInterrupted as err:
            print("stopped", err.code, "module whole:", sys.modules["slow_module"].DONE)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["imported True", "stopped 143 module whole: True"]
    assert "Exception ignored" not in done.stderr


def test_a_run_stopped_before_its_record_leaves_no_folder(tmp_path: Path) -> None:
    unstarted = tmp_path / "runs" / "2026-12-06" / "unstarted"
    (unstarted / ".hydra").mkdir(parents=True)
    (unstarted / ".hydra" / "config.yaml").write_text("seed: 1\n")
    (unstarted / "train.log").write_text("[lab] starting\n")
    (unstarted / "config.yaml").write_text("")  # cut short by the signal
    assert remove_unstarted_run(unstarted)
    assert not unstarted.exists() and not unstarted.parent.exists()  # nor its empty day folder
    assert (tmp_path / "runs").is_dir()
    recorded = tmp_path / "recorded"
    (recorded / ".hydra").mkdir(parents=True)
    (recorded / "record.json").write_text("{}")
    assert not remove_unstarted_run(recorded) and (recorded / "record.json").exists()
    other = tmp_path / "other"
    other.mkdir()
    (other / "train.log").write_text("")
    (other / "notes.txt").write_text("mine")
    assert not remove_unstarted_run(other) and (other / "notes.txt").exists()
    assert not remove_unstarted_run(tmp_path / "nowhere")
