"""Kernel records in the sessions database, for kernels that outlive the server."""

from __future__ import annotations

import json
import logging
import os

from ..kernels.persistence.store import KernelRecord
from .database import Database

log = logging.getLogger("jls.sessions")


class SqliteKernelStore:
    """The kernel manager's KernelStore on the sessions database."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self.owner = os.path.realpath(database.path)

    async def save(self, record: KernelRecord) -> None:
        await self._db.run(
            "INSERT OR REPLACE INTO kernel VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.kernel_id,
                record.name,
                record.provider_id,
                record.type_name,
                json.dumps(KernelRecord.json_safe_connection(record.connection_info)),
                json.dumps(record.info),
                int(record.pooled),
                json.dumps(record.keeper),
            ),
        )

    async def remove(self, kernel_id: str) -> None:
        await self._db.run("DELETE FROM kernel WHERE kernel_id = ?", (kernel_id,))

    async def load_all(self) -> list[KernelRecord]:
        rows = await self._db.run(
            "SELECT kernel_id, name, provider_id, type_name, connection_info, info, pooled, "
            "keeper FROM kernel"
        )
        records = []
        for kernel_id, name, provider_id, type_name, connection, info, pooled, keeper in rows:
            try:
                record = KernelRecord(
                    kernel_id=kernel_id,
                    name=name,
                    provider_id=provider_id,
                    type_name=type_name,
                    connection_info=json.loads(connection),
                    info=json.loads(info),
                    pooled=bool(pooled),
                    keeper=json.loads(keeper),
                )
            except (TypeError, ValueError) as exc:
                log.error("Kernel record %s in %s is unreadable (%s); skipping it",
                          kernel_id, self._db.path, exc)  # fmt: skip
                continue
            records.append(record)
        return records
