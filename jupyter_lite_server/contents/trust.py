"""Notebook trust, exactly as jupyter_server keeps it: nbformat's NotebookNotary.

A notebook is signed when it is saved with every code cell trusted (or with
no output that could run code), and its code cells are marked trusted when it
is opened with a known signature. The secret and the signature database are
the notary's defaults (``notebook_secret`` and ``nbsignatures.db`` in the
Jupyter data directory), the files jupyter_server uses: a notebook trusted
there is trusted here, and back.

The signature store is an SQLite connection, which must stay on the thread
that opened it: every notary call runs on one dedicated thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nbformat.sign import NotebookNotary

log = logging.getLogger("jls.contents")


def _node(content: dict[str, Any]) -> Any:
    """The notary reads ``nb.nbformat``: a shallow NotebookNode over the same cells."""
    from nbformat import NotebookNode

    return NotebookNode(content)


class NotebookTrust:
    def __init__(self, **notary_options: Any) -> None:
        self._options = notary_options
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jls-notary")
        self._notary: NotebookNotary | None = None

    def _get_notary(self) -> NotebookNotary:
        if self._notary is None:
            from nbformat.sign import NotebookNotary

            self._notary = NotebookNotary(**self._options)
        return self._notary

    async def _run(self, func: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, func, *args)

    def _mark(self, content: dict[str, Any], path: str) -> None:
        notary = self._get_notary()
        nb = _node(content)
        trusted = notary.check_signature(nb)
        if not trusted:
            log.info("Notebook %s is not trusted", path)
        notary.mark_cells(nb, trusted)

    async def mark(self, content: dict[str, Any], path: str) -> None:
        """Set ``metadata.trusted`` on every code cell of an opened notebook."""
        await self._run(self._mark, content, path)

    def _sign_if_trusted(self, content: dict[str, Any], path: str, retry: bool = True) -> None:
        notary = self._get_notary()
        nb = _node(content)
        try:
            if notary.check_cells(nb):  # (also takes the cells' "trusted" marks out)
                notary.sign(nb)
            else:
                log.info("Notebook %s is saved untrusted: it has output the user has not "
                         "trusted", path)  # fmt: skip
        except sqlite3.Error:
            if not retry:
                raise
            log.warning("The notebook signature store is unusable; recreating it",
                        exc_info=True)  # fmt: skip
            notary.store = notary.store_factory()
            self._sign_if_trusted(content, path, retry=False)

    def sign_for_save(self, model: dict[str, Any], path: str) -> None:
        """Sign a save model's notebook if all its code cells are trusted (synchronous:
        on the notary's thread or in a worker process)."""
        content = model.get("content")
        if model.get("type") == "notebook" and isinstance(content, dict):
            # Not a notebook the notary can read: the save itself refuses it with a 400.
            with contextlib.suppress(KeyError, TypeError, AttributeError, ValueError):
                self._sign_if_trusted(content, path)

    async def sign_if_trusted(self, model: dict[str, Any], path: str) -> None:
        """Before a save: sign the notebook if all its code cells are trusted."""
        await self._run(self.sign_for_save, model, path)

    async def worker_options(self) -> dict[str, Any] | None:
        """What a worker process needs to build the same notary; None if it cannot (the
        signature store lives in this process's memory)."""

        def options() -> dict[str, Any] | None:
            notary = self._get_notary()
            if notary.db_file == ":memory:":
                return None
            return {"db_file": notary.db_file, "secret": notary.secret,
                    "algorithm": notary.algorithm}  # fmt: skip

        return await self._run(options)

    def _trust(self, content: dict[str, Any], path: str) -> None:
        log.warning("Trusting notebook %s", path)
        self._get_notary().mark_cells(_node(content), True)
        self._sign_if_trusted(content, path)

    async def trust(self, content: dict[str, Any], path: str) -> None:
        """The user trusts this notebook as it is on disk (JupyterLab's Trust Notebook)."""
        await self._run(self._trust, content, path)

    def close(self) -> None:
        if self._notary is not None:
            self._executor.submit(self._notary.store.close).result()
        self._executor.shutdown(wait=True)
