"""The reading-back side of the `dms-rocketmq` command line: `get`, `query`, and `send --confirm`.

`_parser` builds the parser and `main` dispatches; the subcommands, their arguments and their output live here.
Output: a table on a terminal, JSON (one object per line, each a `StoredMessage.to_dict()`) when piped.
Exit codes as for `send`: 0 done, 1 the request failed (or `get` found nothing, or `--confirm` failed),
2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import datetime
import re
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

from dms_rocketmq import (
    APIError,
    Client,
    ConfigurationError,
    ConfirmationError,
    DMSError,
    MessageMismatchError,
    SendResult,
    StoredMessage,
    ValidationError,
)
from dms_rocketmq._constants import DEFAULT_CONFIRM_TIMEOUT, DEFAULT_PAGE_SIZE

from ._output import EXIT_FAILED, EXIT_OK, print_json, print_rows

__all__ = [
    "COMMANDS",
    "add_commands",
    "add_confirm_arguments",
    "confirm_sent",
    "point_in_time",
    "run",
    "since_start",
]

#: The subcommands this module serves.
COMMANDS = ("get", "query")

_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# The table shows this much of each body; JSON output always has the whole body.
_BODY_PREVIEW = 60

AddArguments = Callable[[argparse.ArgumentParser], None]


def since_start(value: str, *, now: float | None = None) -> int:
    """The start, in epoch milliseconds, of `--since` VALUE: a duration such as 90s, 15m, 1h, 2d or 1.5h ago."""
    match = _DURATION.fullmatch(value.strip())
    if match is None:
        raise ConfigurationError(f"--since {value!r}: give a duration such as 30s, 15m, 1h or 2d.")
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    current = time.time() if now is None else now
    return max(0, int((current - seconds) * 1000))


def point_in_time(flag: str, value: str) -> int | datetime.datetime:
    """`--start`/`--end` VALUE: epoch milliseconds (digits) or an ISO 8601 date-time (naive means local time)."""
    text = value.strip()
    if text.isdigit():
        return int(text)
    try:
        return datetime.datetime.fromisoformat(text)
    except ValueError:
        raise ConfigurationError(
            f"{flag} {value!r}: give an ISO 8601 date-time (2026-12-01T10:00:00Z) or epoch milliseconds."
        ) from None


def add_commands(commands: Any, add_connection: AddArguments, epilog: str) -> None:
    """Add `get` and `query` to the subcommands of the `dms-rocketmq` parser."""
    get = commands.add_parser(
        "get",
        help="read one stored message back by its message ID",
        description="Read one stored message back by its message ID (exit 1 when the query does not find it).",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    get.add_argument("--topic", required=True, help="the message's topic")
    get.add_argument("--msg-id", required=True, help="the message ID a send returned")
    add_connection(get)
    _add_output(get)

    query = commands.add_parser(
        "query",
        help="list stored messages by key and/or time range",
        description=(
            "List the stored messages of a topic, optionally with one key, in one queue, stored within a time "
            "range (--since, or --start and --end; by default all time)."
        ),
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    query.add_argument("--topic", required=True, help="topic to search")
    query.add_argument("--key", help="one message key")
    query.add_argument("--queue", type=int, metavar="ID", help="one queue ID")
    when = query.add_mutually_exclusive_group()
    when.add_argument("--since", metavar="DURATION", help="stored within this long before now: 30s, 15m, 1h, 2d")
    when.add_argument("--start", metavar="TIME", help="stored at or after: ISO 8601 date-time or epoch ms")
    query.add_argument("--end", metavar="TIME", help="stored at or before: ISO 8601 date-time or epoch ms")
    query.add_argument("--limit", type=int, metavar="N", help="stop after N messages (default: all matches)")
    query.add_argument(
        "--page-size",
        type=int,
        default=DEFAULT_PAGE_SIZE,
        metavar="N",
        help=f"messages per query request (default {DEFAULT_PAGE_SIZE})",
    )
    add_connection(query)
    _add_output(query)


def _add_output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--output",
        choices=("json", "table"),
        help="result format (default: table on a terminal, JSON lines otherwise)",
    )


def add_confirm_arguments(send: argparse.ArgumentParser) -> None:
    """Add `--confirm` and `--confirm-timeout` to `send`."""
    group = send.add_argument_group("confirmation (one message)")
    group.add_argument(
        "--confirm",
        action="store_true",
        help="read the message back and check it is stored as sent (exit 1 if not)",
    )
    group.add_argument(
        "--confirm-timeout",
        type=float,
        default=DEFAULT_CONFIRM_TIMEOUT,
        metavar="SECONDS",
        help=f"how long --confirm waits for the message to be visible (default {DEFAULT_CONFIRM_TIMEOUT:g})",
    )


def _timestamp(milliseconds: int | None) -> str:
    if milliseconds is None:
        return "-"
    moment = datetime.datetime.fromtimestamp(milliseconds / 1000, tz=datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _preview(body: str) -> str:
    flat = body.replace("\n", "\\n")
    return flat if len(flat) <= _BODY_PREVIEW else flat[: _BODY_PREVIEW - 3] + "..."


def _field_rows(message: StoredMessage) -> list[tuple[str, str]]:
    rows = [
        ("msg_id", message.msg_id),
        ("topic", message.topic),
        ("body", message.body),
        ("keys", " ".join(message.keys) or "-"),
        ("tags", message.tags or "-"),
        ("queue_id", str(message.queue_id) if message.queue_id is not None else "-"),
        ("queue_offset", str(message.queue_offset) if message.queue_offset is not None else "-"),
        ("stored_at", _timestamp(message.store_timestamp)),
        ("born_at", _timestamp(message.born_timestamp)),
    ]
    for name in ("reconsume_times", "body_crc", "store_size", "born_host", "store_host", "instance_id"):
        value = getattr(message, name)
        rows.append((name, "-" if value is None else str(value)))
    rows += [(f"property {name}", value) for name, value in message.properties.items()]
    return rows


def _get(client: Client, args: argparse.Namespace, output: str) -> int:
    stored = client.get_message(args.topic, args.msg_id)
    if stored is None:
        print(f"dms-rocketmq: no message {args.msg_id} in topic {args.topic!r} (yet).", file=sys.stderr)
        return EXIT_FAILED
    if output == "json":
        print_json(stored.to_dict(), sys.stdout)
    else:
        print_rows("Stored message", None, _field_rows(stored))
    return EXIT_OK


def _limited(messages: Iterable[StoredMessage], limit: int | None) -> Iterable[StoredMessage]:
    for count, message in enumerate(messages):
        if limit is not None and count >= limit:
            return
        yield message


def _query(client: Client, args: argparse.Namespace, output: str) -> int:
    if args.limit is not None and args.limit < 0:
        raise ConfigurationError("--limit must be at least 0.")
    start: int | datetime.datetime | None = None
    end: int | datetime.datetime | None = None
    if args.since is not None:
        if args.end is not None:
            raise ConfigurationError("give --since, or --start and --end, not --since with --end.")
        start = since_start(args.since)
    else:
        start = None if args.start is None else point_in_time("--start", args.start)
        end = None if args.end is None else point_in_time("--end", args.end)
    messages = client.query_messages(
        args.topic, key=args.key, start=start, end=end, queue=args.queue, page_size=args.page_size
    )
    if output == "json":
        # Streamed: each message is written as soon as its page arrives.
        for message in _limited(messages, args.limit):
            print_json(message.to_dict(), sys.stdout)
        return EXIT_OK
    rows = [
        (
            m.msg_id,
            _timestamp(m.store_timestamp),
            "-" if m.queue_id is None else str(m.queue_id),
            "-" if m.queue_offset is None else str(m.queue_offset),
            " ".join(m.keys),
            m.tags or "",
            _preview(m.body),
        )
        for m in _limited(messages, args.limit)
    ]
    header = ("msg_id", "stored_at", "queue", "offset", "keys", "tags", "body")
    print_rows(f"{len(rows)} message(s) in {args.topic}", header, rows)
    return EXIT_OK


def run(args: argparse.Namespace, output: str, client_options: dict[str, Any]) -> int:
    """Run `get` or `query`; return the exit code (configuration errors propagate to `main`)."""
    with Client(**client_options) as client:
        try:
            if args.command == "get":
                return _get(client, args, output)
            return _query(client, args, output)
        except (ConfigurationError, ValidationError):
            raise
        except DMSError as exc:
            print(f"dms-rocketmq: {args.command} failed: {exc}", file=sys.stderr)
            return EXIT_FAILED


def confirm_sent(client: Client, result: SendResult, args: argparse.Namespace) -> tuple[dict[str, Any], int]:
    """For `send --confirm`: read the message back; the fields to add to the output, and the exit code."""
    try:
        stored = client.confirm(result, timeout=args.confirm_timeout)
    except (ConfirmationError, APIError) as exc:  # the send succeeded; reading it back did not
        print(f"dms-rocketmq: not confirmed: {exc}", file=sys.stderr)
        fields: dict[str, Any] = {"confirmed": False, "confirm_error": type(exc).__name__}
        if isinstance(exc, MessageMismatchError):
            fields["differences"] = sorted(exc.differences)
        return fields, EXIT_FAILED
    return {"confirmed": True, "stored_at": _timestamp(stored.store_timestamp)}, EXIT_OK
