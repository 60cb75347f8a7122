"""Terminals: a real pty running the user's shell, through terminado.

terminado (the Tornado terminal backend the Jupyter project maintains) owns
the ptys and their reading; this manager names them as jupyter_server does
("1", "2", ...), starts them in a directory inside the root, keeps each one's
last activity (output or input), culls idle ones and stops them all with the
server. It knows nothing of HTTP.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
from datetime import datetime
from typing import Any

from terminado import NamedTermManager
from terminado.management import PtyWithClients
from traitlets import Float, List, Unicode, default
from traitlets.config import LoggingConfigurable

from ..timeutil import isoformat, utcnow


class UnknownTerminal(KeyError):
    def __str__(self) -> str:
        return f"Terminal not found: {self.args[0]}"


class _Ptys(NamedTermManager):
    """terminado's named terminals, noting the time of each one's latest output."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.activity: dict[str, datetime] = {}

    def on_eof(self, ptywclients: PtyWithClients) -> None:
        super().on_eof(ptywclients)  # the shell exited: terminado forgets the terminal
        self.activity.pop(ptywclients.term_name or "", None)

    def pre_pty_read_hook(self, ptywclients: PtyWithClients) -> None:
        if ptywclients.term_name is not None:
            self.activity[ptywclients.term_name] = utcnow()


def default_shell() -> list[str]:
    """The user's shell: ``$SHELL``, else bash, else sh."""
    for candidate in (os.environ.get("SHELL"), "bash", "sh"):
        if candidate and shutil.which(candidate):
            return [candidate]
    return ["sh"]


class TerminalManager(LoggingConfigurable):
    """Named terminals in the root directory, culled when idle."""

    root_dir = Unicode(help="Where terminals start unless asked for a folder inside it.")
    shell_command = List(Unicode(), help="The shell to run (default: $SHELL, bash, sh).").tag(
        config=True
    )
    cull_inactive_timeout = Float(
        None,
        allow_none=True,
        help="Seconds without input or output after which a terminal is closed; 0 never. "
        "Unset: MappingKernelManager.cull_idle_timeout (--cull-idle-timeout) applies.",
    ).tag(config=True)
    cull_interval = Float(
        None,
        allow_none=True,
        help="Seconds between checks for idle terminals (unset: the kernels' cull_interval).",
    ).tag(config=True)

    @default("shell_command")
    def _default_shell(self) -> list[str]:
        return default_shell()

    def __init__(self, idle_timeout: float = 0.0, idle_interval: float = 300.0, **kw: Any):
        super().__init__(**kw)
        self._ptys = _Ptys(
            shell_command=self.shell_command, term_settings={"type": "xterm-256color"}
        )
        self._ptys.log = self.log
        timeout = self.cull_inactive_timeout
        self.idle_timeout = idle_timeout if timeout is None else timeout
        interval = self.cull_interval
        self.idle_interval = idle_interval if interval is None else interval
        self._culler: asyncio.Task[None] | None = None

    # --- queries ----------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._ptys.terminals)

    def _terminal(self, name: str) -> PtyWithClients:
        try:
            return self._ptys.terminals[name]
        except KeyError:
            raise UnknownTerminal(name) from None

    def exists(self, name: str) -> bool:
        return name in self._ptys.terminals

    def model(self, name: str) -> dict[str, Any]:
        self._terminal(name)
        return {"name": name, "last_activity": isoformat(self.last_activity(name))}

    def models(self) -> list[dict[str, Any]]:
        return [self.model(name) for name in self._ptys.terminals]

    def last_activity(self, name: str) -> datetime:
        return self._ptys.activity.get(name) or utcnow()

    def pid(self, name: str) -> int:
        return int(self._terminal(name).ptyproc.pid)

    # --- life cycle -------------------------------------------------------------

    async def create(self, cwd: str | None = None) -> dict[str, Any]:
        """Start a shell in ``cwd`` (an OS path inside the root; default the root)."""
        loop = asyncio.get_running_loop()
        # Forking the shell and opening its pty block: in a thread. Naming it and reading
        # its output happen here, on the event loop that serves it.
        terminal = await loop.run_in_executor(
            None, lambda: self._ptys.new_terminal(cwd=cwd or self.root_dir)
        )
        name = next(str(n) for n in itertools.count(1) if str(n) not in self._ptys.terminals)
        terminal.term_name = name
        self._ptys.terminals[name] = terminal
        self._ptys.start_reading(terminal)
        self._ptys.activity[name] = utcnow()
        self.log.info("Terminal %s started: %s (pid %d) in %s", name,
                      " ".join(self.shell_command), terminal.ptyproc.pid,
                      cwd or self.root_dir)  # fmt: skip
        self._ensure_culling()
        return self.model(name)

    def touch(self, name: str) -> None:
        """Input arrived for terminal ``name``."""
        if name in self._ptys.terminals:
            self._ptys.activity[name] = utcnow()

    def attach(self, name: str) -> PtyWithClients:
        """The pty a websocket connects to (terminado's ``get_terminal``, never creating)."""
        return self._terminal(name)

    @property
    def ptys(self) -> NamedTermManager:
        return self._ptys

    async def terminate(self, name: str) -> None:
        """Stop terminal ``name``: SIGHUP, then harder signals, until its shell is gone."""
        terminal = self._terminal(name)
        pid = terminal.ptyproc.pid
        await terminal.terminate(force=True)
        self._ptys.terminals.pop(name, None)
        self._ptys.activity.pop(name, None)
        self.log.info("Terminal %s stopped (pid %d)", name, pid)

    async def shutdown_all(self) -> None:
        if self._culler is not None:
            self._culler.cancel()
        names = list(self._ptys.terminals)
        if names:
            self.log.info("Stopping %d terminal(s)", len(names))
        await asyncio.gather(*(self.terminate(n) for n in names), return_exceptions=True)

    # --- culling ----------------------------------------------------------------

    def _ensure_culling(self) -> None:
        if self.idle_timeout > 0 and self._culler is None:
            self._culler = asyncio.ensure_future(self._cull_forever())

    async def _cull_forever(self) -> None:
        while True:
            await asyncio.sleep(self.idle_interval)
            await self.cull_idle()

    async def cull_idle(self) -> list[str]:
        """Stop every terminal idle longer than the timeout; their names."""
        now = utcnow()
        idle = [
            name
            for name in list(self._ptys.terminals)
            if (now - self.last_activity(name)).total_seconds() > self.idle_timeout
        ]
        for name in idle:
            self.log.info("Culling terminal %s: idle for more than %.0f s", name,
                          self.idle_timeout)  # fmt: skip
            await self.terminate(name)
        return idle
