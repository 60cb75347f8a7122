"""The ``jls`` command: ``jls serve`` and friends."""

from __future__ import annotations

import getpass
import json
import os
import sys

from . import __version__

USAGE = f"""jls {__version__}: a lean server for the Jupyter Server REST and kernel websocket API

Usage:
  jls serve [options]     start the server (jls serve --help for its options)
  jls password            store a hashed password for the login page in the jls config
  jls list                the running servers of this user (jls and jupyter_server alike)
  jls stop [PORT]         stop the running server on PORT (or the only one)
  jls --version           print the version
  jls --help              this text
"""


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE)
        return
    if args[0] in ("--version", "-V", "version"):
        print(__version__)
        return
    commands = {"serve": serve, "password": password, "list": list_servers, "stop": stop}
    if args[0] not in commands:
        print(f"jls: unknown command {args[0]!r}\n\n{USAGE}", file=sys.stderr)
        sys.exit(2)
    commands[args[0]](args[1:])


def serve(args: list[str]) -> None:
    from .app import ServerApp

    app = ServerApp()
    try:
        app.initialize(args)
    except (ValueError, OSError) as exc:  # a start-up mistake: one clear line, exit 1
        print(f"jls serve: {exc}", file=sys.stderr)
        sys.exit(1)
    app.start()


def password(args: list[str]) -> None:
    """Ask for a password twice (or read one line from a pipe) and store its hash."""
    from jupyter_core.paths import jupyter_config_dir

    from .auth.password import hash_password

    if sys.stdin.isatty():
        first, second = getpass.getpass("Password: "), getpass.getpass("Again: ")
        if first != second:
            sys.exit("jls password: the two passwords differ; nothing was stored")
    else:
        first = sys.stdin.readline().rstrip("\n")
    if not first:
        sys.exit("jls password: an empty password is not stored")
    path = args[0] if args else os.path.join(jupyter_config_dir(), "jls_config.json")
    try:
        with open(path) as f:
            config = json.load(f)
    except FileNotFoundError:
        config = {}
    except (OSError, ValueError) as exc:
        sys.exit(f"jls password: cannot read {path} ({exc}); nothing was stored")
    config.setdefault("ServerApp", {})["password"] = hash_password(first)
    os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(config, f, indent=2)
    print(f"Wrote the hashed password to {path}")


def list_servers(args: list[str]) -> None:
    from .service.discovery import display, running_servers

    servers = list(running_servers())
    if "--json" in args:
        for info in servers:
            print(json.dumps(info))
        return
    print("Currently running servers:")
    for info in servers:
        print(display(info))


def stop(args: list[str]) -> None:
    from .service.discovery import running_servers, stop_server

    servers = list(running_servers())
    if args:
        try:
            port = int(args[0])
        except ValueError:
            sys.exit(f"jls stop: {args[0]!r} is not a port number")
        servers = [s for s in servers if s.get("port") == port]
        if not servers:
            sys.exit(f"jls stop: no server is running on port {port}")
    elif len(servers) != 1:
        found = "no server is running" if not servers else f"{len(servers)} servers are running"
        sys.exit(f"jls stop: {found}; name the port (jls list shows them)")
    info = servers[0]
    if not stop_server(info):
        sys.exit(f"jls stop: the server on port {info.get('port')} (pid {info['pid']}) "
                 "did not stop within 30 s")  # fmt: skip
    print(f"Stopped the server on port {info.get('port')} (pid {info['pid']})")
