"""Unit tier: imports go the way docs/architecture.md says, never up.

Every import in the package is read (at module level, inside functions and
under TYPE_CHECKING alike) and resolved to a package module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "jupyter_lite_server"

#: kernels/, top to bottom: a module may import its own layer or those below it.
KERNEL_LAYERS = [
    ("edge", ["kernels.handlers", "kernels.websocket", "kernels.backlog"]),
    ("composition", ["kernels.manager", "kernels.options", "kernels.launch"]),
    ("features", ["kernels.pool", "kernels.persistence"]),
    ("life cycle", ["kernels.lifecycle"]),
    ("providers", ["kernels.providers"]),
    ("process launch", ["kernels.forking"]),
    ("protocol", ["kernels.protocol"]),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Package modules ``path`` imports, as dotted names relative to the package."""
    own = module_name(path).split(".") if module_name(path) else []
    package = own if path.name == "__init__.py" else own[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            elif node.module and node.module.startswith("jupyter_lite_server"):
                target = node.module.removeprefix("jupyter_lite_server").lstrip(".")
            else:
                continue
            found.add(target)
            found.update(f"{target}.{alias.name}" if target else alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("jupyter_lite_server."):
                    found.add(alias.name.removeprefix("jupyter_lite_server."))
    return {name for name in found if name}


def layer(name: str) -> int | None:
    for rank, (_, prefixes) in enumerate(KERNEL_LAYERS):
        if any(name == p or name.startswith(p + ".") for p in prefixes):
            return rank
    return None


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p) or "__init__")
def test_kernel_layers_import_only_downwards(path):
    own = layer(module_name(path))
    if own is None:
        return
    upward = [name for name in imports_of(path) if (rank := layer(name)) is not None and rank < own]
    assert not upward, f"{module_name(path)} ({KERNEL_LAYERS[own][0]}) imports upwards: {upward}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p) or "__init__")
def test_foundations_import_nothing_above_them(path):
    name = module_name(path)
    imported = imports_of(path)
    if name.startswith("auth"):
        assert not [i for i in imported if i.startswith("web")], "auth must not import web"
    if name.startswith(("compat", "timeutil")):
        assert not [i for i in imported if not i.startswith(("compat", "timeutil"))]
    if name.startswith("kernels.providers"):
        allowed = ("kernels.providers", "kernels.forking", "kernels.protocol", "compat", "timeutil")
        assert all(i.startswith(allowed) for i in imported), sorted(imported)


def test_the_checker_sees_imports():
    """A guard for the guard: known imports are found."""
    manager = imports_of(PACKAGE / "kernels" / "manager.py")
    assert "kernels.lifecycle.state" in manager and "timeutil" in manager
    assert "kernels.protocol.connection" in imports_of(PACKAGE / "kernels" / "pool.py")
