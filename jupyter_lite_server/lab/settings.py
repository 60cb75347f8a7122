"""JupyterLab settings: plugin schemas, the user's settings (raw JSON5 text), overrides.

Schemas come from the app's ``schemas`` directory and from each prebuilt
extension's ``schemas``; a user's settings for plugin ``@pkg/name:plugin`` live
in ``<jupyter config dir>/lab/user-settings/@pkg/name/plugin.jupyterlab-settings``
as the raw text the settings editor shows (comments allowed).
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from ..contents.fileio import atomic_write
from ..timeutil import iso_from_timestamp
from . import LabFiles, federated_extensions

_COMMENTS = re.compile(r'("(?:\\.|[^"\\])*")|//[^\n]*|/\*.*?\*/', re.S)
_TRAILING_COMMAS = re.compile(r'("(?:\\.|[^"\\])*")|,(\s*[}\]])')


class InvalidSettings(ValueError):
    """Settings text that is not a JSON object (comments and trailing commas allowed)."""


def parse_raw(raw: str) -> dict[str, Any]:
    text = _COMMENTS.sub(lambda m: m.group(1) or "", raw)
    text = _TRAILING_COMMAS.sub(lambda m: m.group(1) or m.group(2), text)
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise InvalidSettings(f"settings are not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidSettings("settings must be a JSON object")
    return value


class LabSettings:
    def __init__(self, lab: LabFiles, user_dir: str) -> None:
        self.lab = lab
        self.user_dir = user_dir
        self._schema_files: dict[str, str] | None = None

    def schema_files(self) -> dict[str, str]:
        """plugin id -> schema file, for the app's plugins and every prebuilt extension."""
        if self._schema_files is None:
            roots = [self.lab.schemas_dir] + [
                os.path.join(ext["dir"], "schemas")
                for ext in federated_extensions(self.lab).values()
            ]
            found: dict[str, str] = {}
            for root in roots:
                for base, _, files in os.walk(root):
                    package = os.path.relpath(base, root).replace(os.sep, "/")
                    for name in files:
                        if name.endswith(".json") and name != "package.json":
                            found.setdefault(f"{package}:{name[:-5]}", os.path.join(base, name))
            self._schema_files = found
        return self._schema_files

    def _user_file(self, plugin_id: str) -> str:
        package, _, plugin = plugin_id.partition(":")
        path = os.path.normpath(
            os.path.join(self.user_dir, package, f"{plugin}.jupyterlab-settings")
        )
        if not path.startswith(os.path.normpath(self.user_dir) + os.sep):
            raise KeyError(plugin_id)
        return path

    def _overrides(self) -> dict[str, Any]:
        path = os.path.join(self.lab.app_dir, "settings", "overrides.json")
        try:
            with open(path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def get(self, plugin_id: str, ids_only: bool = False) -> dict[str, Any]:
        schema_file = self.schema_files().get(plugin_id)
        if schema_file is None:
            raise KeyError(plugin_id)
        if ids_only:
            return {"id": plugin_id}
        with open(schema_file) as f:
            schema = json.load(f)
        override = self._overrides().get(plugin_id)
        if override:
            for key, value in override.items():
                if key in schema.get("properties", {}):
                    schema["properties"][key]["default"] = value
        path = self._user_file(plugin_id)
        raw, created, modified = "{}", None, None
        if os.path.isfile(path):
            with open(path) as f:
                raw = f.read()
            stat = os.stat(path)
            created = modified = iso_from_timestamp(stat.st_mtime)
        try:
            settings = parse_raw(raw)
        except InvalidSettings:
            settings = {}
        return {
            "id": plugin_id,
            "raw": raw,
            "schema": schema,
            "settings": settings,
            "version": self.lab.version,
            "last_modified": modified,
            "created": created,
        }

    def list(self, ids_only: bool = False) -> list[dict[str, Any]]:
        return [self.get(plugin_id, ids_only) for plugin_id in sorted(self.schema_files())]

    def save(self, plugin_id: str, raw: str) -> None:
        if plugin_id not in self.schema_files():
            raise KeyError(plugin_id)
        parse_raw(raw)
        path = self._user_file(plugin_id)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        atomic_write(path, raw.encode("utf-8"))
