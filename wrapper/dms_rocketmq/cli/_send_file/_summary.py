"""The end of a send: the summary (journaled, printed as JSON or a table), the notes on stderr, the exit code."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from dms_rocketmq._bulk_policy import SendControl
from dms_rocketmq._journal import Journal
from dms_rocketmq.cli._output import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, print_fields, print_json

from ._files import shown_path
from ._recorder import SHOWN_FAILURES, Recorder

__all__ = ["finish"]


def finish(
    args: argparse.Namespace,
    output: str,
    recorder: Recorder,
    journal: Journal | None,
    control: SendControl,
    elapsed: float,
    exhausted: bool,
    lines_read: int,
) -> int:
    """Write the summary where it goes, close the journal; the exit code of the send."""
    counts = recorder.counts
    if recorder.shown > SHOWN_FAILURES:
        print(f"dms-rocketmq: ... and {recorder.shown - SHOWN_FAILURES} more failures", file=sys.stderr)
    summary: dict[str, Any] = {
        "sent": counts["sent"],
        "failed": counts["failed"],
        "in_doubt": counts["in_doubt"],
        "skipped": counts["skipped"],
        "not_sent": counts["not_sent"],
        "blank": counts["blank"],
        "total": sum(counts.values()) - counts["blank"],
        "seconds": round(elapsed, 3),
        "messages_per_second": round(counts["sent"] / elapsed if elapsed > 0 else 0.0, 1),
    }
    if control.stop_reason is not None:
        summary["stopped"] = control.stop_reason
    if not exhausted:
        summary["unread_after_line"] = lines_read
    if args.failures:
        summary["failures_file"] = shown_path(args.failures)
    if args.results:
        summary["results_file"] = shown_path(args.results)
    if journal is not None:
        journal.summary(summary)
        journal.close()
    interrupted = control.stop_reason is not None and control.stop_reason.startswith("interrupted")
    if control.stop_reason is not None and not interrupted:
        print(f"dms-rocketmq: stopped: {control.stop_reason}", file=sys.stderr)
    if counts["not_sent"] or not exhausted:
        where = f" (listed in {args.failures})" if args.failures else ""
        unread = f"; the input after line {lines_read} was not read" if not exhausted else ""
        print(f"dms-rocketmq: {counts['not_sent']} lines were not sent{where}{unread}", file=sys.stderr)
    if output == "json":
        print_json(summary, sys.stdout)
    else:
        problems = counts["failed"] + counts["in_doubt"] + counts["not_sent"]
        print_fields(
            [(name, str(value)) for name, value in summary.items()], "Sent" if not problems else "Not all sent"
        )
    if interrupted:
        return EXIT_INTERRUPTED
    ok = not (counts["failed"] or counts["in_doubt"] or counts["not_sent"]) and exhausted
    return EXIT_OK if ok else EXIT_FAILED
