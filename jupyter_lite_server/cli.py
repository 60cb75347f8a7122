"""The ``jls`` command: ``jls serve`` and friends."""

from __future__ import annotations

import sys

from . import __version__

USAGE = f"""jls {__version__}: a lean server for the Jupyter Server REST and kernel websocket API

Usage:
  jls serve [options]     start the server (jls serve --help for its options)
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
    if args[0] != "serve":
        print(f"jls: unknown command {args[0]!r}\n\n{USAGE}", file=sys.stderr)
        sys.exit(2)
    from .app import ServerApp

    app = ServerApp()
    app.initialize(args[1:])
    app.start()
