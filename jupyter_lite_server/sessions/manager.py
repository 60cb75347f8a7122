"""SessionManager: which kernel belongs to which document, kept in SQLite.

The database is in memory unless ``database_filepath`` names a file (see
``database.py``: one thread, checked and locked). Queries are parameterised.

Workflows, as jupyter_server's reference architecture describes them:
create = kernel directory from the contents manager → kernel started by the
kernel manager → row stored; delete = kernel shut down (interrupt, shutdown
request, SIGTERM, SIGKILL) → row deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

from traitlets import Bool, Unicode
from traitlets.config import LoggingConfigurable

from ..contents.errors import NotFound
from ..contents.manager import ContentsManager
from ..kernels.manager import MappingKernelManager, UnknownKernel
from .database import SESSION_COLUMNS, Database, DatabaseError, DatabaseUnavailable
from .environments import EnvironmentPins
from .kernel_store import SqliteKernelStore

SELECT_SESSIONS = f"SELECT {', '.join(SESSION_COLUMNS)} FROM session"


class SessionError(Exception):
    """A request the session manager cannot honour."""


class SessionsUnavailable(SessionError):
    """The sessions database failed; ``http_status`` is 503, or 507 for a full disk."""

    def __init__(self, message: str, http_status: int) -> None:
        super().__init__(message)
        self.http_status = http_status


class UnknownSession(SessionError, KeyError):
    def __str__(self) -> str:
        return f"Session not found: {self.args[0]}"


class SessionManager(LoggingConfigurable):
    database_filepath = Unicode(
        ":memory:", help="SQLite file for sessions; ':memory:' keeps them in memory."
    ).tag(config=True)

    pin_kernel_environments = Bool(
        True,
        help="Record a kernel's exact environment (a container image digest) in its "
        "notebook on save, and start that environment again for the notebook.",
    ).tag(config=True)

    def __init__(
        self,
        kernel_manager: MappingKernelManager,
        contents_manager: ContentsManager,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.kernel_manager = kernel_manager
        self.contents_manager = contents_manager
        self._database: Database | None = None
        self._path_locks: dict[str, asyncio.Lock] = {}  # one create per path: no twin kernels
        self._cleanups: set[asyncio.Future] = set()
        kernel_manager.removal_listeners.append(self._on_kernel_removed)
        self._pins: EnvironmentPins | None = None
        if self.pin_kernel_environments:
            self._pins = EnvironmentPins(kernel_manager, contents_manager, self._kernel_id_for)
            contents_manager.pre_save_hooks.append(self._pins.before_save)

    def _on_kernel_removed(self, kernel_id: str) -> None:
        """A kernel left (shut down, died, culled): its sessions go with it."""
        if not self.database.is_open:
            return  # no session was ever stored
        task = asyncio.ensure_future(
            self._db("DELETE FROM session WHERE kernel_id = ?", (kernel_id,))
        )
        self._cleanups.add(task)
        task.add_done_callback(self._cleanups.discard)

    # --- database ---------------------------------------------------------------

    @property
    def database(self) -> Database:
        if self._database is None:
            self._database = Database(self.database_filepath)
        return self._database

    async def _db(self, sql: str, params: tuple = ()) -> list[Any]:
        try:
            return await self.database.run(sql, params)
        except DatabaseUnavailable as exc:
            self.log.error("%s", exc)
            raise SessionsUnavailable(str(exc), exc.http_status) from exc
        except DatabaseError as exc:
            raise SessionError(str(exc)) from exc

    async def _sessions(self, where: str = "", params: tuple = ()) -> list[dict[str, Any]]:
        """Session rows as dicts of SESSION_COLUMNS (``where``: an SQL condition, or "")."""
        sql = f"{SELECT_SESSIONS} WHERE {where}" if where else SELECT_SESSIONS
        rows = await self._db(sql, params)
        return [dict(zip(SESSION_COLUMNS, row, strict=True)) for row in rows]

    async def open(self) -> None:
        """Open (and check) a database file now, so a bad file fails at start-up."""
        try:
            await self.database.open()
        except DatabaseError as exc:
            raise SessionError(str(exc)) from exc

    def kernel_store(self) -> SqliteKernelStore | None:
        """Where kernels are remembered across server restarts: only with a database file."""
        return SqliteKernelStore(self.database) if self.database.on_file else None

    async def prune(self) -> int:
        """Drop sessions whose kernel is not running (after re-attaching at start-up)."""
        if not self.database.is_open:
            return 0  # sessions in memory: none from an earlier server
        stale = [
            row["session_id"]
            for row in await self._sessions()
            if row["kernel_id"] not in self.kernel_manager
        ]
        for session_id in stale:
            await self._db("DELETE FROM session WHERE session_id = ?", (session_id,))
        return len(stale)

    # --- requests whose client left (outputs/keeper.py), across server restarts ---------

    async def remember_adopted(
        self, msg_id: str, kernel_id: str, cell_id: str, path: str, session_id: str
    ) -> None:
        if self.database.on_file:
            await self._db("INSERT OR REPLACE INTO adopted_cell VALUES (?, ?, ?, ?, ?)",
                           (msg_id, kernel_id, cell_id, path, session_id))  # fmt: skip

    async def forget_adopted(self, msg_id: str) -> None:
        if self.database.on_file:
            await self._db("DELETE FROM adopted_cell WHERE msg_id = ?", (msg_id,))

    async def adopted(self) -> list[tuple[str, str, str, str, str]]:
        """(msg_id, kernel_id, cell_id, path, session_id) of an earlier server's requests."""
        if not self.database.is_open:
            return []
        return [tuple(row) for row in await self._db(
            "SELECT msg_id, kernel_id, cell_id, path, session_id FROM adopted_cell")]

    def close(self) -> None:
        if self._database is not None:
            self._database.close()

    # --- models -----------------------------------------------------------------

    async def _to_model(self, row: dict[str, Any]) -> dict[str, Any] | None:
        """The session model; None (and the row removed) if its kernel is gone."""
        try:
            kernel = self.kernel_manager.get(row["kernel_id"])
        except UnknownKernel:
            self.log.info("Session %s lost its kernel %s; removing it", row["session_id"],
                          row["kernel_id"])  # fmt: skip
            await self._db("DELETE FROM session WHERE session_id = ?", (row["session_id"],))
            return None
        model = {
            "id": row["session_id"],
            "path": row["path"],
            "name": row["name"],
            "type": row["type"],
            "kernel": kernel.model(),
        }
        if row["type"] == "notebook":
            model["notebook"] = {"path": row["path"], "name": row["name"]}
        return model

    async def list_sessions(self) -> list[dict[str, Any]]:
        models = [await self._to_model(row) for row in await self._sessions()]
        return [m for m in models if m is not None]

    async def get_session(self, session_id: str) -> dict[str, Any]:
        rows = await self._sessions("session_id = ?", (session_id,))
        model = await self._to_model(rows[0]) if rows else None
        if model is None:
            raise UnknownSession(session_id)
        return model

    async def find_by_path(self, path: str) -> dict[str, Any] | None:
        for row in await self._sessions("path = ?", (path,)):
            model = await self._to_model(row)
            if model is not None:
                return model
        return None

    # --- workflows --------------------------------------------------------------

    def _kernel_dir(self, path: str) -> str:
        try:
            return self.contents_manager.dir_for_kernel(path)
        except NotFound:
            raise SessionError(f"Path {path!r} is outside the root directory") from None

    async def _start_kernel(self, path: str, kernel_name: str | None) -> str:
        cwd = self._kernel_dir(path)
        env = {"JPY_SESSION_NAME": self.contents_manager.os_path(path, must_exist=False)}
        pinned = await self._pins.recorded(path, kernel_name) if self._pins else None
        return await self.kernel_manager.start_kernel(
            name=kernel_name, cwd=cwd, env=env, environment=pinned
        )

    async def _kernel_id_for(self, path: str) -> str | None:
        rows = await self._sessions("path = ? LIMIT 1", (path,))
        return rows[0]["kernel_id"] if rows else None

    async def create_session(
        self,
        path: str,
        name: str | None,
        type: str,
        kernel_name: str | None = None,
        kernel_id: str | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Return (session model, created). An existing session for ``path`` is reused."""
        self._kernel_dir(path)  # refuse paths outside the root before anything starts
        lock = self._path_locks.setdefault(path, asyncio.Lock())
        async with lock:
            existing = await self.find_by_path(path)
            if existing is not None:
                return existing, False
            started = kernel_id is None
            if kernel_id is not None:
                if kernel_id not in self.kernel_manager:
                    raise SessionError(f"Kernel {kernel_id} does not exist")
            else:
                kernel_id = await self._start_kernel(path, kernel_name)
            session_id = str(uuid.uuid4())
            try:
                await self._db(
                    "INSERT INTO session VALUES (?, ?, ?, ?, ?)",
                    (session_id, path, name, type, kernel_id),
                )
            except BaseException:
                if started:  # nobody could ever reach it: it must not outlive the request
                    await self._shutdown_quietly(kernel_id)
                raise
        if not lock.locked():
            self._path_locks.pop(path, None)
        return await self.get_session(session_id), True

    async def update_session(self, session_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Rename path/name/type; switch to another kernel or start a new one."""
        current = await self.get_session(session_id)
        updates: dict[str, Any] = {
            k: v for k, v in changes.items() if k in ("path", "name", "type")
        }
        if "path" in updates:
            self._kernel_dir(updates["path"])
        old_kernel = current["kernel"]["id"]
        kernel = changes.get("kernel")
        if kernel:
            if kernel.get("id"):
                if kernel["id"] not in self.kernel_manager:
                    raise SessionError(f"Kernel {kernel['id']} does not exist")
                updates["kernel_id"] = kernel["id"]
            elif kernel.get("name"):
                path = updates.get("path", current["path"])
                updates["kernel_id"] = await self._start_kernel(path, kernel["name"])
        if updates:
            assignments = ", ".join(f"{column} = ?" for column in updates)  # fixed column names
            try:
                await self._db(
                    f"UPDATE session SET {assignments} WHERE session_id = ?",
                    (*updates.values(), session_id),
                )
            except BaseException:
                started = updates.get("kernel_id")
                if started and kernel and not kernel.get("id"):
                    await self._shutdown_quietly(started)
                raise
        new_kernel = updates.get("kernel_id", old_kernel)
        if new_kernel != old_kernel and not await self._kernel_in_use(old_kernel):
            await self._shutdown_quietly(old_kernel)
        return await self.get_session(session_id)

    async def _kernel_in_use(self, kernel_id: str) -> bool:
        return bool(await self._sessions("kernel_id = ?", (kernel_id,)))

    async def _shutdown_quietly(self, kernel_id: str) -> None:
        with contextlib.suppress(UnknownKernel):
            await self.kernel_manager.shutdown_kernel(kernel_id, wait=False)

    async def delete_session(self, session_id: str) -> None:
        rows = await self._sessions("session_id = ?", (session_id,))
        if not rows:
            raise UnknownSession(session_id)
        kernel_id = rows[0]["kernel_id"]
        sharing = await self._sessions("kernel_id = ?", (kernel_id,))
        if all(row["session_id"] == session_id for row in sharing):
            await self._shutdown_quietly(kernel_id)
        await self._db("DELETE FROM session WHERE session_id = ?", (session_id,))
