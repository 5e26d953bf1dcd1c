"""Where every line's fate goes: counts, the journal, the failures file, stderr and the progress bar."""

from __future__ import annotations

import json
import sys
from typing import IO, Any

from dms_rocketmq import SendCancelledError, SendFailure, SendOutcome, SendResult
from dms_rocketmq._bulk_policy import outcome_state
from dms_rocketmq._journal import Journal
from dms_rocketmq.cli._output import error_fields

from ._line import FAILURE_FIELD, RAW_LINE_FIELD, Line
from ._progress import Progress

__all__ = ["SHOWN_FAILURES", "Recorder"]

#: Failures printed on stderr one by one; the rest are counted (all are in --failures and --results).
SHOWN_FAILURES = 20


class Recorder:
    """Records each line's outcome once: counted, journaled, listed in the failures file, shown, advanced."""

    def __init__(self, journal: Journal | None, failures: IO[str] | None, progress: Progress) -> None:
        self.journal = journal
        self.failures = failures
        self.progress = progress
        self.counts = dict.fromkeys(("sent", "skipped", "failed", "in_doubt", "not_sent", "blank"), 0)
        self.shown = 0

    # -- lines that are not sent by this run ----------------------------------------------------------------
    def blank(self) -> None:
        """A blank line: counted apart, never sent."""
        self.counts["blank"] += 1
        self.progress.advance()

    def skipped(self) -> None:
        """A line an earlier run sent (--resume)."""
        self.counts["skipped"] += 1
        self.progress.advance()

    def kept_in_doubt(self, number: int, document: Any) -> None:
        """A line an earlier run left in doubt, not re-sent (no --resend-in-doubt): counted and listed."""
        error = {"type": "InDoubt", "message": "in doubt since an earlier run (sent, no answer); not re-sent"}
        self._failure(number, document, "in_doubt", True, error, show=False)

    def invalid(self, number: int, digest: str, document: Any, reason: str) -> None:
        """A line that cannot be a message (not JSON, breaks a rule): failed, nothing sent."""
        error = {"type": "InvalidLine", "message": reason}
        if self.journal is not None:
            self.journal.not_stored(number, digest, "failed", False, error)
        self._failure(number, document, "failed", False, error)

    def not_sent(self, line: Line, reason: str) -> None:
        """A line left when sending stopped."""
        self.deliver(0, line, SendFailure(line.message, SendCancelledError(reason, request_sent=False)))

    # -- the bulk engine's callbacks ------------------------------------------------------------------------
    def before_send(self, index: int, line: Line) -> None:
        """Journaled before the request leaves, so that a crash leaves the line in doubt, not forgotten."""
        if self.journal is not None:
            self.journal.sending(line.number, line.digest)

    def deliver(self, index: int, line: Line, outcome: SendOutcome) -> None:
        """The outcome of a line the engine sent (or did not send)."""
        if type(outcome) is SendResult:
            self.counts["sent"] += 1
            if self.journal is not None:
                self.journal.sent(line.number, line.digest, outcome.msg_id, outcome.queue_id, outcome.queue_offset)
            self.progress.advance()
            return
        assert isinstance(outcome, SendFailure)
        state = outcome_state(outcome)
        exc = outcome.exception
        request_sent = state == "in_doubt"
        error = error_fields(exc)
        if self.journal is not None:
            self.journal.not_stored(line.number, line.digest, state, request_sent, error)
        self._failure(line.number, line.document, state, request_sent, error, show=state != "not_sent")

    def _failure(
        self,
        number: int,
        document: Any,
        state: str,
        request_sent: bool,
        error: dict[str, Any],
        *,
        show: bool = True,
    ) -> None:
        self.counts[state] += 1
        self.progress.advance()
        if show:
            self.shown += 1
            if self.shown <= SHOWN_FAILURES:
                kind = "is in doubt (may have been stored)" if state == "in_doubt" else "failed"
                print(f"dms-rocketmq: line {number} {kind}: {error['message']}", file=sys.stderr)
        if self.failures is not None:
            entry = dict(document) if isinstance(document, dict) else {RAW_LINE_FIELD: document}
            entry[FAILURE_FIELD] = {"line": number, "status": state, "request_sent": request_sent, "error": error}
            self.failures.write(json.dumps(entry, ensure_ascii=False) + "\n")
