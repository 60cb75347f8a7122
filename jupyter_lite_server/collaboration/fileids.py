"""File ids: a name for a file that stays the same when the file is renamed or moved.

A collaboration room is named after its file's id, so a notebook renamed
while people edit it keeps its room. Ids live in the sessions database (on
file with ``--sessions-db``, so they survive restarts) and follow renames
made through the contents API; a deleted file's id is forgotten.
"""

from __future__ import annotations

import uuid

from ..sessions.database import Database


class FileIds:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def id_for(self, path: str) -> str:
        """The file's id, given one on first use."""
        rows = await self.database.run("SELECT file_id FROM file_id WHERE path = ?", (path,))
        if rows:
            return str(rows[0][0])
        file_id = str(uuid.uuid4())
        await self.database.run(
            "INSERT OR IGNORE INTO file_id (file_id, path) VALUES (?, ?)", (file_id, path)
        )  # a concurrent first use may have won: read back whichever id was kept
        rows = await self.database.run("SELECT file_id FROM file_id WHERE path = ?", (path,))
        return str(rows[0][0])

    async def path_of(self, file_id: str) -> str | None:
        rows = await self.database.run("SELECT path FROM file_id WHERE file_id = ?", (file_id,))
        return str(rows[0][0]) if rows else None

    async def moved(self, old: str, new: str) -> None:
        """``old`` (a file, or a folder and all inside it) is now ``new``."""
        await self.deleted(new)  # a stale id of a file that was there once
        prefix = old + "/"
        await self.database.run(
            "UPDATE file_id SET path = ? || substr(path, ?) "
            "WHERE path = ? OR substr(path, 1, ?) = ?",
            (new, len(old) + 1, old, len(prefix), prefix),
        )

    async def deleted(self, path: str) -> None:
        prefix = path + "/"
        await self.database.run(
            "DELETE FROM file_id WHERE path = ? OR substr(path, 1, ?) = ?",
            (path, len(prefix), prefix),
        )
