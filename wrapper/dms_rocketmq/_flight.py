"""Whether a send's request has left the client: what tells a send abandoned in flight (in doubt) from one
abandoned while it waited for a connection or in a retry's backoff (not sent, safe to send again).

The bulk engines give each send a `Flight` in a context variable (each worker task or thread has its own
context). A flight starts on the wire (in doubt when abandoned: a send function that says nothing is
assumed to have sent); the clients' send paths call `request_waiting()` as they start, `request_leaving()`
just before a request may be written (past the gate), and `retrying(...)` before a retry's backoff. A send
outside the bulk engines has no flight, and the calls do nothing.
"""

from __future__ import annotations

import contextvars

__all__ = ["Flight", "current_flight", "request_leaving", "request_waiting", "retrying"]


class Flight:
    """One send's progress: `on_wire` while an attempt's request may have left, `doubtful` once an earlier
    attempt may have stored the message (a retried 503 the caller opted in to)."""

    __slots__ = ("doubtful", "on_wire")

    def __init__(self) -> None:
        self.on_wire = True
        self.doubtful = False

    @property
    def may_be_stored(self) -> bool:
        """Whether abandoning the send now leaves its message in doubt."""
        return self.on_wire or self.doubtful


current_flight: contextvars.ContextVar[Flight | None] = contextvars.ContextVar("dms_rocketmq_flight", default=None)


def request_waiting() -> None:
    """The current send has started and its request has not left yet (it may wait for a connection)."""
    flight = current_flight.get()
    if flight is not None:
        flight.on_wire = False


def request_leaving() -> None:
    """The current send's request may be written from now on (called past the gate or pool wait)."""
    flight = current_flight.get()
    if flight is not None:
        flight.on_wire = True


def retrying(may_have_stored: bool) -> None:
    """The current attempt failed and will be retried after a backoff: nothing is on the wire meanwhile."""
    flight = current_flight.get()
    if flight is not None:
        flight.doubtful = flight.doubtful or may_have_stored
        flight.on_wire = False
