"""jupyter_client's local provisioner, launching by fork where a kernel allows it."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from typing import Any

from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.provisioning import LocalProvisioner

from .client import KernelForker, the_forker

#: Variables read while the interpreter starts, before any kernel code: a kernel whose
#: values differ from the fork server's could not be a fork of it.
STARTUP_PREFIXES = ("PYTHON", "LD_", "LC_")
STARTUP_NAMES = ("LANG", "LANGUAGE")
#: Launch arguments a fork can honour (see KernelForker.spawn); any other means Popen.
FORKABLE_ARGUMENTS = {"env", "cwd", "stdout", "stderr", "independent"}


def same_interpreter(command: str, env: Mapping[str, str], python: str) -> bool:
    """Whether ``command`` (as a kernelspec's argv[0]) runs ``python``: the same file in
    the same directory, so a virtual environment's ``python`` is not taken for its base's."""
    found = command
    if os.sep not in command:  # looked up on the kernel's PATH, as Popen would
        found = shutil.which(command, path=env.get("PATH", os.defpath)) or ""
    if not found:
        return False
    found, python = os.path.abspath(found), os.path.abspath(python)
    same_directory = os.path.dirname(found) == os.path.dirname(python)
    return same_directory and os.path.realpath(found) == os.path.realpath(python)


def forkable(cmd: list[str], kwargs: Mapping[str, Any], forker: KernelForker) -> bool:
    """Whether this launch is ``python -m ipykernel_launcher …`` with the fork server's
    interpreter and start-up environment, tied to the server, with streams a fork can give."""
    env = kwargs.get("env") or {}
    if kwargs.keys() - FORKABLE_ARGUMENTS or kwargs.get("independent"):
        return False
    if kwargs.get("stdout") not in (None, subprocess.DEVNULL):
        return False
    if kwargs.get("stderr") != subprocess.PIPE or not hasattr(os, "pidfd_open"):
        return False
    if len(cmd) < 3 or cmd[1:3] != ["-m", "ipykernel_launcher"]:
        return False
    if not same_interpreter(cmd[0], env, forker.python):
        return False
    start_env = forker.start_env or os.environ
    return all(
        env.get(name) == start_env.get(name)
        for name in {*env, *start_env}
        if name.startswith(STARTUP_PREFIXES) or name in STARTUP_NAMES
    )


class ForkingProvisioner(LocalProvisioner):
    """LocalProvisioner whose kernels are forked when :func:`forkable` says they can be;
    every other step (signals, waits, shutdown, ports) is LocalProvisioner's own."""

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        forker = the_forker()
        launch = LocalProvisioner._scrub_kwargs(kwargs)
        if forkable(cmd, launch, forker) and forker.ready() and forker.pid:
            env = dict(launch["env"])
            env["JPY_PARENT_PID"] = str(forker.pid)  # ends when the fork server does
            cwd = str(launch.get("cwd") or os.getcwd())
            try:
                process = await forker.spawn(cmd, env, cwd, launch.get("stdout"))
            except OSError as exc:
                self.log.warning("Kernel not forked (%s); launching it as a new process", exc)
            else:
                self.process = process  # type: ignore[assignment]  # what it uses of a Popen
                self.pid = self.pgid = process.pid  # its own session, as Popen's would be
                self.cwd = cwd
                return self.connection_info
        return await super().launch_kernel(cmd, **kwargs)


def use_forking_provisioner(manager: Any, enabled: bool) -> None:
    """Give ``manager`` a ForkingProvisioner where jupyter_client would choose its default
    local provisioner (a kernelspec naming its own provisioner keeps it)."""
    spec = manager.kernel_spec
    if not enabled or (spec.metadata or {}).get("kernel_provisioner"):
        return
    manager.provisioner = ForkingProvisioner(
        kernel_id=manager.kernel_id, kernel_spec=spec, parent=manager
    )

