"""Every place where jls relies on a private part of a dependency, one module each.

tornado's websocket stream, jupyter_client's shutdown poll and relaunch
arguments, jupyterhub's XSRF patching: each is reached only from here, and
``tests/compat`` fails loudly when a new version of the dependency changes
what we rely on (``pyproject.toml`` also caps each at its current major).
"""
