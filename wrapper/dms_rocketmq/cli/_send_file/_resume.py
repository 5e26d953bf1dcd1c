"""The journal of a send (`--results`) and the pass that checks, before `--resume`, that the file is the one
the journal recorded."""

from __future__ import annotations

import argparse
import sys
from typing import IO

from dms_rocketmq import ConfigurationError
from dms_rocketmq._journal import IN_DOUBT, SENDING, SENT, Journal, JournalState, line_hash, open_journal

__all__ = ["prepare_journal", "report_resume"]


def _check_resumable(stream: IO[bytes], path: str, journal_path: str, resumed: JournalState) -> None:
    """Refuse a file whose recorded lines changed since the journal recorded them: resuming would send the
    wrong ones. Lines after the last one the journal records are new lines, sent like any other; the stream
    is read to its end and put back at its start."""
    last = 0
    for number, raw in enumerate(stream, start=1):
        last = number
        if resumed.state(number):
            digest = line_hash(raw.rstrip(b"\n").removesuffix(b"\r"))
            if digest != resumed.digest(number):
                raise ConfigurationError(
                    f"{path} has changed since {journal_path} recorded it: line {number} is not the line that "
                    "was sent. Resuming would skip or send the wrong lines; send the edited file with a new "
                    "--results journal instead."
                )
    if resumed.max_line > last:
        raise ConfigurationError(
            f"{path} has changed since {journal_path} recorded it: it has {last} lines, the journal records line "
            f"{resumed.max_line}. Send the edited file with a new --results journal instead."
        )
    stream.seek(0)


def prepare_journal(
    args: argparse.Namespace, stream: IO[bytes], regular: bool
) -> tuple[Journal | None, JournalState | None]:
    """The journal to write (None without --results) and, with --resume, what it recorded before."""
    if args.results is None:
        return None, None
    if args.resume and not regular:
        # The input is read twice (checked against the journal, then sent): a pipe would be empty the second time.
        raise ConfigurationError(
            f"--resume needs --file to be a regular file, and {args.file} is a pipe or a terminal: it is read "
            "twice (checked against the journal, then sent). Save the input to a file and resume from that."
        )
    journal, resumed = open_journal(args.results, resume=args.resume)
    if resumed is not None:
        try:
            _check_resumable(stream, args.file, args.results, resumed)
        except BaseException:
            journal.close()
            raise
    return journal, resumed


def report_resume(resumed: JournalState, args: argparse.Namespace) -> None:
    """Say on stderr what resuming skips and what it does with the lines in doubt."""
    acked = resumed.states.count(SENT)
    doubt = resumed.states.count(IN_DOUBT) + resumed.states.count(SENDING)
    print(f"dms-rocketmq: resuming: {acked} lines already sent are skipped", file=sys.stderr)
    if doubt:
        if args.resend_in_doubt:
            print(f"dms-rocketmq: {doubt} lines in doubt are sent again (--resend-in-doubt)", file=sys.stderr)
        else:
            print(
                f"dms-rocketmq: {doubt} lines are in doubt (sent, no answer: they may have been stored) and are not "
                "sent again; check them (their keys), or give --resend-in-doubt to send them again",
                file=sys.stderr,
            )
