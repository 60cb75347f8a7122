"""The errors a client's contents request can cause (handlers map them to statuses)."""

from __future__ import annotations


class ContentsError(Exception):
    """Base of the errors a client's request can cause."""


class NotFound(ContentsError):
    pass


class AlreadyExists(ContentsError):
    pass


class InvalidContent(ContentsError):
    pass


class NotRegularFile(InvalidContent):
    """A FIFO, socket or device: opening one for reading or writing could block a
    worker thread forever, so every operation but delete refuses it at once."""


class ChangedMeanwhile(AlreadyExists):
    """A save made on a condition (the file unchanged since it was read) that no longer
    holds: someone else saved in between."""
