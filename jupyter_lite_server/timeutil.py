"""UTC timestamps in the ISO form jupyter_server writes (``...Z``)."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def isoformat(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def iso_from_timestamp(timestamp: float) -> str:
    """A file's ``st_mtime`` (or any POSIX time) in the same ``...Z`` form."""
    return isoformat(datetime.fromtimestamp(timestamp, UTC))
