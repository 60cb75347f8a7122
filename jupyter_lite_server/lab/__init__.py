"""JupyterLab's built front end, served natively (see docs/jupyterlab.md).

Only the files of the installed ``jupyterlab`` package are used (its
``share/jupyter/lab`` directory: static assets, schemas, themes); none of
jupyter_server's or jupyterlab_server's code runs.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from ..web.wiring import Wiring

#: The front end of real-time collaboration (the rtc extra): loaded only when it is on.
COLLABORATION_EXTENSIONS = frozenset({"@jupyter/docprovider-extension",
                                      "@jupyter/collaboration-extension"})  # fmt: skip


#: Collaboration plugins whose server side jls does not serve: the document timeline
#: (jupyter-collaboration's update history, /api/collaboration/timeline). Left out so that
#: no button leads to an error.
UNSERVED_COLLABORATION_PLUGINS = frozenset({"@jupyter/docprovider-extension:statusBarTimeline"})


@dataclass
class LabFiles:
    """Where the installed JupyterLab and its prebuilt extensions live."""

    app_dir: str
    version: str
    extension_dirs: list[str] = field(default_factory=list)
    extensions: dict[str, dict] | None = None  # found by federated_extensions()

    @property
    def static_dir(self) -> str:
        return os.path.join(self.app_dir, "static")

    @property
    def schemas_dir(self) -> str:
        return os.path.join(self.app_dir, "schemas")

    @property
    def themes_dir(self) -> str:
        return os.path.join(self.app_dir, "themes")


def find_lab() -> LabFiles | None:
    """The JupyterLab application directory on the Jupyter data path, if installed."""
    from jupyter_core.paths import jupyter_path

    for app_dir in jupyter_path("lab"):
        package = os.path.join(app_dir, "static", "package.json")
        if os.path.isfile(os.path.join(app_dir, "static", "index.html")) and os.path.isfile(
            package
        ):
            with open(package) as f:
                version = json.load(f).get("version", "")
            return LabFiles(app_dir, version, list(jupyter_path("labextensions")))
    return None


def federated_extensions(lab: LabFiles) -> dict[str, dict]:
    """Prebuilt (pip-installed) extensions: name -> {name, load, extension, style, dir}.

    Found once per server: their routes are made at start-up, so an extension
    installed later is served after a restart (as with jupyter_server).
    """
    if lab.extensions is None:
        lab.extensions = _scan_extensions(lab)
    return lab.extensions


def _scan_extensions(lab: LabFiles) -> dict[str, dict]:
    found: dict[str, dict] = {}
    for base in lab.extension_dirs:
        if not os.path.isdir(base):
            continue
        for entry in sorted(os.listdir(base)):
            candidates = (
                [os.path.join(entry, sub) for sub in sorted(os.listdir(os.path.join(base, entry)))]
                if entry.startswith("@") and os.path.isdir(os.path.join(base, entry))
                else [entry]
            )
            for name in candidates:
                package = os.path.join(base, name, "package.json")
                if name in found or not os.path.isfile(package):
                    continue
                with open(package) as f:
                    data = json.load(f)
                build = data.get("jupyterlab", {}).get("_build")
                if not build:
                    continue
                found[name] = {
                    "name": data.get("name", name),
                    "disables": list(data.get("jupyterlab", {}).get("disabledExtensions", [])),
                    "load": build["load"],
                    **{k: build[k] for k in ("extension", "mimeExtension", "style") if k in build},
                    "dir": os.path.join(base, name),
                }
    return found


def lab_wiring() -> Wiring | None:
    """Routes and tornado settings serving JupyterLab, or None when it is not installed."""
    lab = find_lab()
    if lab is None:
        return None
    from jupyter_core.paths import jupyter_config_dir

    from .handlers import routes
    from .settings import LabSettings
    from .stores import JsonFileStore

    config_dir = jupyter_config_dir()
    settings = {
        "lab": lab,
        "lab_settings": LabSettings(lab, os.path.join(config_dir, "lab", "user-settings")),
        "lab_workspaces": JsonFileStore(
            os.path.join(config_dir, "lab", "workspaces"), ".jupyterlab-workspace"
        ),
        "lab_config": JsonFileStore(os.path.join(config_dir, "nbconfig"), ".json"),
    }
    table = routes(lab)
    from .notebook7 import find_notebook

    notebook = find_notebook()
    if notebook is not None:  # Jupyter Notebook 7's pages too, from its own files
        from .notebook7 import routes as notebook_routes

        settings["notebook7"] = notebook
        table = [*notebook_routes(notebook), *table]
    return Wiring(routes=table, settings=settings)
