"""One line of the file to send, and the fields a failures file adds to a line."""

from __future__ import annotations

from typing import Any

from dms_rocketmq import Message

__all__ = ["FAILURE_FIELD", "RAW_LINE_FIELD", "Line"]

#: Metadata fields of a failures file line; dropped when the file is sent again.
FAILURE_FIELD = "_failure"
RAW_LINE_FIELD = "_line"


class Line:
    """One line to send: its number, hash, JSON object (defaults applied) and message."""

    __slots__ = ("digest", "document", "message", "number")

    def __init__(self, number: int, digest: str, document: dict[str, Any], message: Message) -> None:
        self.number = number
        self.digest = digest
        self.document = document
        self.message = message
