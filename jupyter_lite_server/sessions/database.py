"""The sessions database: SQLite on one thread, checked before it is trusted.

Every query runs on one dedicated thread (SQLite connections are not shared
across threads), so the event loop never waits on SQLite. A database file is
checked at start-up (a corrupt or foreign file is refused, never altered
beyond adding our missing tables) and locked against a second server.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite3

#: The session table's columns, in order: declared once, selected by name.
SESSION_COLUMNS = ("session_id", "path", "name", "type", "kernel_id")

TABLES = {
    "session": (
        "CREATE TABLE IF NOT EXISTS session (session_id TEXT PRIMARY KEY, path TEXT NOT NULL, "
        "name TEXT, type TEXT, kernel_id TEXT)",
        SESSION_COLUMNS,
    ),
    "kernel": (
        "CREATE TABLE IF NOT EXISTS kernel (kernel_id TEXT PRIMARY KEY, name TEXT NOT NULL, "
        "provider_id TEXT NOT NULL, type_name TEXT NOT NULL, connection_info TEXT NOT NULL, "
        "info TEXT NOT NULL, pooled INTEGER NOT NULL DEFAULT 0, keeper TEXT NOT NULL DEFAULT '{}')",
        (
            "kernel_id",
            "name",
            "provider_id",
            "type_name",
            "connection_info",
            "info",
            "pooled",
            "keeper",
        ),
    ),
    "adopted_cell": (
        "CREATE TABLE IF NOT EXISTS adopted_cell (msg_id TEXT PRIMARY KEY, kernel_id TEXT NOT "
        "NULL, cell_id TEXT NOT NULL, path TEXT NOT NULL, session_id TEXT NOT NULL)",
        ("msg_id", "kernel_id", "cell_id", "path", "session_id"),
    ),
    "file_id": (
        "CREATE TABLE IF NOT EXISTS file_id (file_id TEXT PRIMARY KEY, path TEXT NOT NULL UNIQUE)",
        ("file_id", "path"),
    ),
}


class DatabaseError(Exception):
    """The database cannot be used; the message names the file and why."""


class DatabaseUnavailable(DatabaseError):
    """A query failed while the server ran (file deleted, disk full, I/O error)."""

    def __init__(self, message: str, disk_full: bool) -> None:
        super().__init__(message)
        #: 507 for a full disk, 503 for anything else: the client may retry later.
        self.http_status = 507 if disk_full else 503


class Database:
    def __init__(self, path: str) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jls-sqlite")
        self._connection: sqlite3.Connection | None = None
        self._lock_fd: int | None = None

    @property
    def on_file(self) -> bool:
        return self.path != ":memory:"

    @property
    def is_open(self) -> bool:
        return self._connection is not None

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            import sqlite3  # loaded with the first session, or at start for a database file

            if self.on_file:
                self._lock()
            try:
                connection = sqlite3.connect(self.path, check_same_thread=False)
                for table, (create, expected) in TABLES.items():
                    connection.execute(create)
                    columns = [row[1] for row in connection.execute(f"PRAGMA table_info({table})")]
                    if tuple(columns[: len(expected)]) != expected:
                        raise sqlite3.DatabaseError(f"unexpected {table} table columns {columns}")
                connection.commit()
            except sqlite3.DatabaseError as exc:
                self._unlock()
                message = f"Sessions database {self.path!r} is not usable: {exc}"
                raise DatabaseError(message) from exc
            self._connection = connection
        return self._connection

    def _lock(self) -> None:
        """One server per database file: two would both drive the same kernels."""
        import fcntl

        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise DatabaseError(f"Sessions database {self.path!r} cannot be opened: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise DatabaseError(
                f"Sessions database {self.path!r} is in use by another jls server; "
                "stop that server or give this one another --sessions-db"
            ) from None
        self._lock_fd = fd

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)
            self._lock_fd = None

    def _execute(self, sql: str, params: tuple) -> list[tuple]:
        import sqlite3

        connection = self._connect()
        try:
            rows = connection.execute(sql, params).fetchall()
            connection.commit()
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                connection.rollback()
            raise self._unavailable(exc) from exc
        return rows

    def _unavailable(self, exc: Exception) -> DatabaseUnavailable:
        code = getattr(exc, "sqlite_errorname", "")
        if code == "SQLITE_FULL":
            return DatabaseUnavailable(
                f"The disk holding the sessions database {self.path!r} is full: {exc}", True
            )
        if code == "SQLITE_READONLY_DBMOVED" or (self.on_file and not os.path.exists(self.path)):
            return DatabaseUnavailable(
                f"The sessions database {self.path!r} was deleted or moved while the server "
                "ran; restart the server to create it again", False
            )  # fmt: skip
        return DatabaseUnavailable(f"The sessions database {self.path!r} failed: {exc}", False)

    async def run(self, sql: str, params: tuple = ()) -> list[tuple]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._execute, sql, params)

    async def open(self) -> None:
        """Open (and check) a database file now; an in-memory one opens with first use."""
        if self.on_file:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._connect)

    def close(self) -> None:
        if self._connection is not None:
            self._executor.submit(self._connection.close).result()
            self._connection = None
        self._unlock()
        self._executor.shutdown(wait=True)
