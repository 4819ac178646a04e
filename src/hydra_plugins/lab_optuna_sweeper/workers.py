"""The worker processes of a sweep with `hydra.sweeper.n_jobs > 1`.

The sweep's first process starts `n_jobs - 1` more running the very command that started it
(`WORKER_ENV` tells them apart), each writing to `<sweep dir>/worker-<i>.log`, with a share of
the CPU threads and, where there are as many GPUs as workers, one GPU each. At the end the
first process waits for them (or stops them, when it failed itself) and reports each one that
exited with an error or was killed: the sweep then exits 1 after its results
(`LabOptunaSweeper.sweep`), saying whether the study is complete all the same (a trial a dead
worker left is run again by the others: `lab.sweeps.liveness`).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

from lab.errors import ConfigError

log = logging.getLogger(__name__)

WORKER_ENV = "LAB_SWEEP_WORKER"  # set in the worker processes that n_jobs > 1 starts

Workers = list[tuple[subprocess.Popen[bytes], Path]]


def start_workers(sweep_dir: Path, n_jobs: int) -> Workers:
    """Start workers 1..n_jobs-1 (this process is worker 0); return them with their logs."""
    command = own_command()
    threads = max(1, (os.cpu_count() or 1) // n_jobs)
    gpus = gpu_ids()
    workers = []
    for index in range(1, n_jobs):
        env = dict(os.environ, **{WORKER_ENV: str(index)})
        env.setdefault("OMP_NUM_THREADS", str(threads))
        if len(gpus) >= n_jobs:
            env["CUDA_VISIBLE_DEVICES"] = gpus[index]
        log_path = sweep_dir / f"worker-{index}.log"
        with open(log_path, "ab") as log_file:
            process = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT)
        workers.append((process, log_path))
        log.info("Started sweep worker %d (pid %d, log %s)", index, process.pid, log_path)
    if len(gpus) >= n_jobs:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpus[0]
    if "OMP_NUM_THREADS" not in os.environ:
        import torch

        torch.set_num_threads(threads)
    return workers


def own_command() -> list[str]:
    """The command that started this sweep, to start identical worker processes."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name and spec.name != "__main__":
        return [sys.executable, "-m", spec.name.removesuffix(".__main__"), *sys.argv[1:]]
    if sys.argv and os.access(sys.argv[0], os.X_OK):
        return [sys.argv[0], *sys.argv[1:]]
    raise ConfigError(
        "hydra.sweeper.n_jobs > 1 starts worker processes with the command that started the "
        "sweep; run it from the command line (python -m lab.train -m sweep=...)"
    )


def gpu_ids() -> list[str]:
    """The GPUs this process may use (`CUDA_VISIBLE_DEVICES`, else every one torch sees)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [g for g in visible.split(",") if g.strip()]
    try:
        import torch

        return [str(i) for i in range(torch.cuda.device_count())]
    except Exception:
        return []


def stop_or_wait(workers: Workers, graceful: bool) -> list[str]:
    """Wait for the worker processes (stop them first unless `graceful`); return one line per
    worker that exited with an error (none when they were stopped on purpose)."""
    failures = []
    for process, log_path in workers:
        if not graceful:
            process.terminate()  # SIGTERM: the worker's trial saves a checkpoint and stops
        code = process.wait()
        if code != 0 and graceful:
            failures.append(f"sweep worker pid {process.pid} {ending(code)}; see {log_path}")
    return failures


def ending(code: int) -> str:
    """How a worker process ended, in words: `Popen`'s negative code is the signal that
    killed it (`-9` said nothing to a user whose worker the OOM killer took)."""
    if code >= 0:
        return f"exited with {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        return f"was killed by signal {-code}"
    cause = " (the OOM killer, or kill -9)" if -code == signal.SIGKILL else ""
    return f"was killed by {name}{cause}"


def study_state(states: list[str], n_trials: int) -> str:
    """What a worker's failure left of the study whose trials end in `states` (Optuna's
    state names, one per trial): complete, or how many trials are left to finish."""
    running = states.count("RUNNING")
    ended = len(states) - running - states.count("WAITING")
    if not running and ended >= n_trials:
        return (
            f"the study is complete all the same ({ended} of {n_trials} trials ended; a trial "
            "a dead worker left is run again by the others): its results above stand"
        )
    return (
        f"{ended} of {n_trials} trials ended, {running} left running by a dead worker: "
        "run the same command again to finish the study"
    )
