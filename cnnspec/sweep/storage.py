"""Where a sweep's study lives, and the sweep directory that points at it.

By default an SQLite database in the sweep directory (``DIR/study.db``): one
machine, any number of ``--jobs``, nothing to set up. ``--storage`` shares a
study between machines, each running the same ``cnnspec sweep`` command:

* an SQLAlchemy URL Optuna's ``RDBStorage`` accepts: ``postgresql://user@host/db``,
  ``mysql+pymysql://...``, ``sqlite:////shared/sweeps.db``;
* ``journal:PATH`` (or a path ending in ``.log``/``.journal``): Optuna's
  journal file, an append-only log that works on NFS where SQLite's locks do
  not.

``DIR/sweep.json`` records which storage and study the directory belongs to,
so ``cnnspec sweep --status DIR`` needs nothing else. A storage that cannot be
opened is a :class:`~cnnspec.exceptions.SweepError` naming it (password
hidden) before anything runs.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnnspec.atomic import atomic_write_text
from cnnspec.exceptions import SweepError

__all__ = ["DEFAULT_DB", "SWEEP_FILE", "StorageRef", "default_dir", "open_storage", "read_sweep_file",
           "write_sweep_file"]

#: the default study database, inside the sweep directory
DEFAULT_DB = "study.db"
#: the sweep directory's record of its storage and study
SWEEP_FILE = "sweep.json"
_JOURNAL_SUFFIXES = (".log", ".journal", ".jsonl")
_SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
_FORMS = ("an SQLAlchemy URL (postgresql://user@host/db, sqlite:////path/study.db) or journal:PATH "
          "(Optuna's journal file, for a shared file system)")


@dataclass(frozen=True)
class StorageRef:
    """A storage as the user named it, and how to open it."""

    given: str | None  # None: DIR/study.db
    kind: str  # "rdb" or "journal"
    target: str  # the URL (rdb) or the file path (journal)

    @property
    def shown(self) -> str:
        """For messages: the URL without its password."""
        if self.kind == "journal":
            return f"journal:{self.target}"
        try:
            from sqlalchemy.engine import make_url

            return make_url(self.target).render_as_string(hide_password=True)
        except Exception:  # not even a URL: show it as given
            return self.target

    @property
    def exact(self) -> str:
        """The storage as another process opens it (``--storage`` of a torchrun trial or a worker)."""
        return f"journal:{self.target}" if self.kind == "journal" else self.target

    @classmethod
    def parse(cls, given: str | None, directory: Path) -> StorageRef:
        if given is None:
            return cls(None, "rdb", f"sqlite:///{(directory / DEFAULT_DB).resolve()}")
        text = given.strip()
        if text.startswith("journal:"):
            return cls(given, "journal", str(Path(text[len("journal:"):]).expanduser().resolve()))
        if "://" in text:
            return cls(given, "rdb", text)
        path = Path(text).expanduser()
        if path.suffix in _JOURNAL_SUFFIXES:
            return cls(given, "journal", str(path.resolve()))
        if path.suffix in _SQLITE_SUFFIXES:
            return cls(given, "rdb", f"sqlite:///{path.resolve()}")
        raise SweepError(f"--storage {given}: not a storage this can open", hint=f"use {_FORMS}")


def open_storage(ref: StorageRef) -> Any:
    """The Optuna storage for ``ref``, opened and reachable, or a :class:`SweepError` saying why not."""
    import optuna

    try:
        if ref.kind == "journal":
            parent = Path(ref.target).parent
            if not parent.is_dir():
                raise FileNotFoundError(f"no such directory: {parent}")
            from optuna.storages.journal import JournalFileBackend

            return optuna.storages.JournalStorage(JournalFileBackend(ref.target))
        engine: dict[str, Any] = {"pool_pre_ping": True}
        if ref.target.startswith("sqlite"):
            engine["connect_args"] = {"timeout": 120}  # jobs writing at once wait, they do not fail
            _check_sqlite_directory(ref.target)
        elif ref.target.startswith(("postgresql", "mysql")):
            engine["connect_args"] = {"connect_timeout": 20}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            storage = optuna.storages.RDBStorage(ref.target, engine_kwargs=engine)
        if ref.target.startswith("sqlite:///"):
            _tune_sqlite(storage.engine, ref.target.split(":///", 1)[1])
        storage.get_all_studies()  # reachable, and a study database
        return storage
    except SweepError:
        raise
    except ImportError as exc:  # Optuna re-raises the driver's ModuleNotFoundError as an ImportError
        missing = getattr(exc, "name", None) or getattr(exc.__cause__, "name", None) or "its driver"
        raise SweepError(f"--storage {ref.shown}: cannot open the study storage: the database driver ({missing}) "
                         "is not installed", hint="pip install it (psycopg[binary] or psycopg2-binary for postgresql, "
                                                  f"pymysql for mysql+pymysql), or use {_FORMS}") from None
    except Exception as exc:  # sqlalchemy and the drivers raise many kinds; each is the same mistake here
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SweepError(f"--storage {ref.shown}: cannot open the study storage: {type(exc).__name__}: {reason}",
                         hint=f"check that the server is reachable and the URL right; the forms are {_FORMS}") \
            from None


#: file systems where SQLite's write-ahead log must not be used (it needs shared memory on one host)
_NETWORK_FS = ("nfs", "nfs4", "cifs", "smbfs", "smb3", "fuse.sshfs", "9p", "lustre", "gpfs", "ceph", "glusterfs")


def _file_system(path: str) -> str:
    """The type of the file system ``path`` is on (Linux's /proc/mounts; ``""`` elsewhere)."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return ""
    best, kind = "", ""
    target = str(Path(path).resolve().parent)
    for line in mounts:
        parts = line.split()
        if len(parts) >= 3 and (target == parts[1] or target.startswith(parts[1].rstrip("/") + "/")) \
                and len(parts[1]) >= len(best):
            best, kind = parts[1], parts[2]
    return kind


def _tune_sqlite(engine: Any, path: str) -> None:
    """Commits without an fsync each: the write-ahead log with ``synchronous=NORMAL``.

    Measured: a commit of the default mode costs ~10 ms here (an fsync), and a
    trial makes about twenty. WAL keeps the database intact when a process is
    killed (``kill -9``) and, unlike ``synchronous=OFF``, through a power loss
    too (the last commits may be lost, not the file). It needs every process
    on one host, so a database on a network file system keeps SQLite's default.
    """
    from sqlalchemy import event

    wal = _file_system(path) not in _NETWORK_FS

    def on_connect(connection: Any, record: Any) -> None:
        cursor = connection.cursor()
        if wal:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    event.listen(engine, "connect", on_connect)
    engine.dispose()  # connections opened before the listener reconnect with it


def _check_sqlite_directory(url: str) -> None:
    path = url.split(":///", 1)[1] if ":///" in url else ""
    if path and path != ":memory:" and not Path(path).parent.is_dir():
        raise SweepError(f"--storage {url}: cannot open the study storage: no such directory: {Path(path).parent}",
                         hint="create the directory first, or leave --storage out to keep the study in the "
                              "sweep directory")


def write_sweep_file(directory: Path, ref: StorageRef, study: str, spec_file: str) -> None:
    """Record which storage and study ``directory`` belongs to."""
    directory.mkdir(parents=True, exist_ok=True)
    record = {"storage": ref.given, "study": study, "spec": spec_file}
    atomic_write_text(directory / SWEEP_FILE, json.dumps(record, indent=2) + "\n")


def read_sweep_file(directory: Path) -> dict[str, Any]:
    """What ``DIR/sweep.json`` says, or a :class:`SweepError` when ``DIR`` is no sweep directory."""
    path = directory / SWEEP_FILE
    if not path.is_file():
        what = "does not exist" if not directory.exists() else f"has no {SWEEP_FILE}"
        raise SweepError(f"{directory}: {what}; it is not a sweep directory",
                         hint="cnnspec sweep SPEC --dir DIR creates one")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SweepError(f"{path}: cannot read it: {exc}") from None
    if not isinstance(record, dict) or not isinstance(record.get("study"), str):
        raise SweepError(f"{path}: not a sweep record (no study name)")
    return record


def default_dir(name: str) -> Path:
    """``sweeps/<spec name>``: the same command finds the same sweep again."""
    return Path("sweeps") / name
