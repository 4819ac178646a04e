"""`lab.exiting.exit_now`: a finished command skips the interpreter's teardown, not what the
teardown does that matters (threads joined, atexit callbacks run, output flushed)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SCRIPT = """
import atexit, logging, sys, threading, time
from pathlib import Path
from lab.exiting import exit_now

out = Path(sys.argv[1])
def late_write():
    time.sleep(0.3)
    (out / "thread.txt").write_text("joined")
threading.Thread(target=late_write).start()        # non-daemon: waited for
atexit.register(lambda: (out / "atexit.txt").write_text("ran"))
handler = logging.FileHandler(out / "run.log")
logging.getLogger().addHandler(handler)
logging.getLogger().warning("last line")            # flushed by logging's atexit shutdown
sys.stdout.write("no newline, buffered")
# An idle thread pool left alive (trainer.compile's): its workers stop on threading's exit
# hook, which exit_now must run before waiting for them (s33d F2: it waited forever).
from concurrent.futures import ThreadPoolExecutor
pool = ThreadPoolExecutor(2)
pool.submit(lambda: 1).result()
exit_now(int(sys.argv[2]))
"""


@pytest.mark.parametrize("code", [0, 3])
def test_exit_now_keeps_what_shutdown_does_that_matters(code: int, tmp_path: Path) -> None:
    src = Path(__file__).resolve().parents[1] / "src"
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SCRIPT), str(tmp_path), str(code)],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(src)},
        timeout=60,
    )
    assert done.returncode == code, done.stderr
    assert done.stdout == "no newline, buffered"
    assert (tmp_path / "thread.txt").read_text() == "joined"
    assert (tmp_path / "atexit.txt").read_text() == "ran"
    assert (tmp_path / "run.log").read_text() == "last line\n"
