"""Notebook JSON as clients expect it, without nbformat's per-node objects.

nbformat stores multi-line strings as lists of lines on disk; jupyter_server
hands them to clients joined. This does the same joining on plain dicts
(what ``json.loads`` returns), which is several times faster on a large
notebook than building NotebookNode trees.
"""

from __future__ import annotations

from typing import Any


def _is_json_mime(mime: str) -> bool:
    return mime == "application/json" or (
        mime.startswith("application/") and mime.endswith("+json")
    )


def _join_bundle(bundle: Any) -> None:
    if not isinstance(bundle, dict):
        return
    for key, value in bundle.items():
        if (
            not _is_json_mime(key)
            and isinstance(value, list)
            and all(isinstance(line, str) for line in value)
        ):
            bundle[key] = "".join(value)


def rejoin_lines(nb: dict[str, Any]) -> dict[str, Any]:
    """Join split multi-line strings in place (sources, attachments, outputs)."""
    for cell in nb.get("cells", ()):
        if not isinstance(cell, dict):
            continue
        if isinstance(cell.get("source"), list):
            cell["source"] = "".join(cell["source"])
        attachments = cell.get("attachments")
        if isinstance(attachments, dict):
            for attachment in attachments.values():
                _join_bundle(attachment)
        if cell.get("cell_type") != "code":
            continue
        for output in cell.get("outputs", ()):
            if not isinstance(output, dict):
                continue
            if output.get("output_type") in ("execute_result", "display_data"):
                _join_bundle(output.get("data"))
            elif isinstance(output.get("text"), list):
                output["text"] = "".join(output["text"])
    return nb
