"""Request bodies as JSON objects: one parser for handlers and worker processes."""

from __future__ import annotations

import json
import re
from typing import Any

#: A \\uD800-\\uDFFF escape: only then can a parsed body hold a lone surrogate (raw bytes of
#: one are not UTF-8 and fail parsing), so only then is the body checked in full.
_LONE_SURROGATE_HINT = re.compile(rb"\\u[dD][89a-fA-F]")


class BodyError(ValueError):
    """The body is not a JSON object a handler can use (a 400)."""


def parse_object(raw: bytes, required: bool = False) -> dict[str, Any]:
    """The body as a JSON object; BodyError with the message a client should read."""
    if not raw or not raw.strip():
        if required:
            raise BodyError("A JSON body is required")
        return {}
    try:
        body = json.loads(raw)
    except RecursionError:
        raise BodyError("The JSON body is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BodyError(f"Invalid JSON in body of request: {exc}") from None
    if not isinstance(body, dict):
        raise BodyError("The request body must be a JSON object")
    if _LONE_SURROGATE_HINT.search(raw) and not _encodable(body):
        raise BodyError(
            "The JSON body contains a lone surrogate (a \\ud800-\\udfff escape without its "
            "pair): that is not text and cannot be stored"
        )
    return body


def _encodable(value: Any) -> bool:
    """Whether every string in ``value`` can be written as UTF-8 (no lone surrogate)."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
