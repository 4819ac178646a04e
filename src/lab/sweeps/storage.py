"""Where a study lives, and the lock that lets several sweep processes share it.

The default storage is `sqlite:///<sweep dir>/study.db`: one file beside the trials, which
survives the process, can be copied, and opens in optuna-dashboard
(`optuna-dashboard sqlite:///outputs/sweeps/<study>/study.db`). For several machines, any
SQLAlchemy URL Optuna supports: `hydra.sweeper.storage=postgresql://user:pw@host/db`
(needs a driver: `pip install "lab[postgres]"`).

Why a lock: Optuna numbers trials atomically, but "are fewer than n_trials started? then start
one" is two steps; two workers doing them at once would start n_trials + 1. Holding the lock
around the pair makes the budget exact. SQLite (one machine) uses a lock file beside the
database; PostgreSQL uses a session advisory lock, which works across machines; for other
URLs there is no lock and the count can overshoot by the number of workers minus one.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lab.errors import ConfigError

log = logging.getLogger(__name__)

# Several workers write to one SQLite file: wait for its write lock instead of failing.
SQLITE_TIMEOUT_S = 120
# The lock name under which Optuna's tables are created (see open_storage).
SCHEMA_LOCK = "lab:schema"


def storage_url(storage: str | None, sweep_dir: Path) -> str:
    """The configured URL, or a SQLite file in the sweep directory (only named here: the
    sweeper makes the directory once the command has passed its checks)."""
    if storage:
        return str(storage)
    return f"sqlite:///{(sweep_dir / 'study.db').resolve()}"


def missing_study_error(study_name: str, url: str, sweep_dir: Path) -> ConfigError:
    """The refusal of `resume=true` for a study that `url` does not hold."""
    where = str(sweep_dir) if url == storage_url(None, sweep_dir) else f"storage {redact(url)}"
    return ConfigError(
        f"resume=true but there is no study {study_name!r} in {where}; drop resume=true to start it"
    )


def require_study(url: str, study_name: str, sweep_dir: Path) -> None:
    """Refuse `resume=true` when `url` holds no study `study_name`, leaving nothing behind.

    Opening a SQLite storage creates the database file (and lab's lock file beside it), so a
    refused resume would leave an empty study behind: a missing SQLite file already means no
    study, and is answered without opening it. Other storages (or an existing file) are asked,
    and a lock file this check made is removed again when it refuses."""
    database = _sqlite_path(url)
    if database is not None and not database.exists():
        raise missing_study_error(study_name, url, sweep_dir)
    # The lock open_storage takes (named as study_lock names it, from the URL as written).
    lock = (
        None if database is None else _lock_path(Path(url.removeprefix("sqlite:///")), SCHEMA_LOCK)
    )
    lock_existed = lock is not None and lock.exists()
    storage = open_storage(url)
    try:
        storage.get_study_id_from_name(study_name)
    except KeyError:
        if lock is not None and not lock_existed:
            lock.unlink(missing_ok=True)
        raise missing_study_error(study_name, url, sweep_dir) from None
    finally:
        storage.engine.dispose()


def _sqlite_path(url: str) -> Path | None:
    """The database file of a `sqlite:///<path>` URL; None for other URLs and in-memory."""
    if not url.startswith("sqlite:///"):
        return None
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    return Path(database) if database and database != ":memory:" else None


def open_storage(url: str) -> Any:
    """An Optuna RDB storage for `url`, with a clear error when it cannot be opened."""
    engine_kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        engine_kwargs["connect_args"] = {"timeout": SQLITE_TIMEOUT_S}
    else:
        engine_kwargs["pool_pre_ping"] = True
    try:
        # Two workers starting on a new database would both create Optuna's tables (and
        # PostgreSQL refuses the second CREATE TYPE): create them under the lock.
        with study_lock(url, SCHEMA_LOCK):
            return _create_storage(url, engine_kwargs)
    except ConfigError:
        raise
    except ModuleNotFoundError as err:
        raise ConfigError(
            f"storage {redact(url)} needs the database driver {err.name!r}: "
            'pip install "lab[postgres]" (psycopg) or the driver of your database'
        ) from err
    except Exception as err:  # SQLAlchemy raises many types for a bad URL or a down server
        # One line: the driver's first (psycopg adds a hint line, SQLAlchemy a link).
        why = next(iter(str(err).strip().splitlines()), type(err).__name__)
        if url.startswith("postgres://"):  # SQLAlchemy knows the dialect as postgresql only
            why = "the scheme is postgresql://, not postgres://"
        raise ConfigError(f"cannot open the study storage {redact(url)}: {why}") from err


def _create_storage(url: str, engine_kwargs: dict[str, Any], attempts: int = 3) -> Any:
    """`RDBStorage(url)`, retried when a process outside lab's lock created the schema at
    the same moment (optuna-dashboard, a notebook's `load_study`): the loser of that race
    gets a duplicate-key error on Optuna's version row, or SQLite's "table ... already exists"
    for a table made between its check and its CREATE (seen in CI: `trial_heartbeats`), and
    on retry the tables exist."""
    import time

    import optuna
    from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

    for attempt in range(1, attempts):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)
        except (IntegrityError, ProgrammingError, OperationalError) as err:
            if isinstance(err, OperationalError) and "already exists" not in str(err):
                raise  # a locked or unreadable database is no race: said as it is
            log.info("storage schema created concurrently (%s); retrying", type(err).__name__)
            time.sleep(0.5 * attempt)
    return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)  # last try: errors rise


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


@contextlib.contextmanager
def study_lock(url: str, study_name: str) -> Iterator[None]:
    """Hold an exclusive lock on `study_name` in `url` (see the module docs for why)."""
    if url.startswith("sqlite:///"):
        from filelock import FileLock

        path = _lock_path(Path(url.removeprefix("sqlite:///")), study_name)
        _check_writable(path)
        with FileLock(str(path)):
            yield
    elif url.startswith("postgresql"):
        with _postgres_advisory_lock(url, study_name):
            yield
    else:
        yield


@contextlib.contextmanager
def _postgres_advisory_lock(url: str, study_name: str) -> Iterator[None]:
    import sqlalchemy

    engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
    key = int(_key(study_name), 16) & 0x7FFFFFFFFFFFFFFF  # a signed 64-bit lock id
    try:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": key})
            try:
                yield
            finally:
                connection.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
    finally:
        engine.dispose()


def remove_lock_files(url: str, study_name: str) -> None:
    """Remove lab's lock files beside a SQLite study (the study's and the schema's), once its
    n_trials are finished (s31f F9: two `study.db.<hash>.lock` files stayed after a sweep).
    Each is removed while held, and left where another process holds it. A worker that
    still counts the finished study under a lock of its own file finds no trial to start, so
    no budget rests on the removed file; a later run of the command makes it again."""
    from filelock import FileLock, Timeout

    if not url.startswith("sqlite:///"):
        return
    database = Path(url.removeprefix("sqlite:///"))
    for name in (study_name, SCHEMA_LOCK):
        path = _lock_path(database, name)
        if not path.exists():
            continue
        try:
            with FileLock(str(path), timeout=0):
                path.unlink(missing_ok=True)
        except Timeout:  # another process holds it: its lock to keep
            continue


def _check_writable(lock: Path) -> None:
    """Refuse, in words, a lock file that cannot be written: `filelock` takes a refused open
    for a lock another process holds and waits for it for ever (a database under /proc, a
    read-only folder). Creates the lock file (and its folder) otherwise."""
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        with lock.open("a"):
            pass
    except OSError as err:
        blocked = next((p for p in lock.parents if p.exists() and not p.is_dir()), None)
        why = f"{blocked} is a file, not a folder" if blocked else (err.strerror or str(err))
        raise ConfigError(
            f"cannot write the study's lock file {lock} beside the SQLite database: {why}; "
            "give hydra.sweeper.storage a sqlite:/// path in a folder you can write"
        ) from err


def _lock_path(database: Path, study_name: str) -> Path:
    """The lock file beside a SQLite database for `study_name`."""
    return Path(str(database) + f".{_key(study_name)}.lock")


def _key(study_name: str) -> str:
    return hashlib.sha256(study_name.encode()).hexdigest()[:16]
