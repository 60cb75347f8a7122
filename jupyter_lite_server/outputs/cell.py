"""One cell's outputs, built from the kernel's iopub messages as a notebook stores them.

The rules are nbformat's and JupyterLab's output area's: consecutive stream
messages of one name are one output; ``execute_input`` gives the execution
count; ``update_display_data`` changes every earlier output of that display
id; ``clear_output`` empties the list (with ``wait``, at the next output).
"""

from __future__ import annotations

from typing import Any


class CellOutputs:
    def __init__(self) -> None:
        self.outputs: list[dict[str, Any]] = []
        self.execution_count: int | None = None
        self._clear_on_next = False
        self.changed = False

    def add(self, msg_type: str, content: dict[str, Any]) -> None:
        """Take one iopub message addressed to the cell's request."""
        if msg_type == "execute_input":
            count = content.get("execution_count")
            self.execution_count = count if isinstance(count, int) else None
            self.changed = True
            return
        if msg_type == "clear_output":
            if content.get("wait"):
                self._clear_on_next = True
            else:
                self.outputs = []
                self.changed = True
            return
        if msg_type == "update_display_data":
            display_id = (content.get("transient") or {}).get("display_id")
            for output in self.outputs:
                if display_id and output.get("_display_id") == display_id:
                    output["data"] = content.get("data", {})
                    output["metadata"] = content.get("metadata", {})
                    self.changed = True
            return
        new = _output(msg_type, content)
        if new is None:
            return
        if self._clear_on_next:
            self.outputs, self._clear_on_next = [], False
        last = self.outputs[-1] if self.outputs else None
        if (
            new["output_type"] == "stream"
            and last is not None
            and last["output_type"] == "stream"
            and last["name"] == new["name"]
        ):
            last["text"] += new["text"]
        else:
            self.outputs.append(new)
        self.changed = True

    def for_notebook(self) -> list[dict[str, Any]]:
        """The outputs as nbformat v4 stores them (display ids are transient)."""
        return [{k: v for k, v in o.items() if k != "_display_id"} for o in self.outputs]


def _output(msg_type: str, content: dict[str, Any]) -> dict[str, Any] | None:
    if msg_type == "stream":
        return {"output_type": "stream", "name": content.get("name", "stdout"),
                "text": str(content.get("text", ""))}  # fmt: skip
    if msg_type in ("display_data", "execute_result"):
        output: dict[str, Any] = {
            "output_type": msg_type,
            "data": content.get("data", {}),
            "metadata": content.get("metadata", {}),
        }
        if msg_type == "execute_result":
            output["execution_count"] = content.get("execution_count")
        display_id = (content.get("transient") or {}).get("display_id")
        if display_id:
            output["_display_id"] = display_id
        return output
    if msg_type == "error":
        return {"output_type": "error", "ename": content.get("ename", ""),
                "evalue": content.get("evalue", ""),
                "traceback": list(content.get("traceback", []))}  # fmt: skip
    return None
