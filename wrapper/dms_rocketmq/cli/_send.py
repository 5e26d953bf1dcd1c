"""`dms-rocketmq send` of one message (`--body` or stdin), and the checks of the flags that only apply to
sending a file (`--file` itself is sent by `_send_file`)."""

from __future__ import annotations

import argparse
import sys

from dms_rocketmq import Client, ConfigurationError, DMSError, SendResult, ValidationError
from dms_rocketmq._bulk_policy import MAX_CONCURRENCY
from dms_rocketmq._rate import RATE_RULE, check_rate

from ._connection import client_options
from ._output import EXIT_FAILED, EXIT_OK, error_fields, print_fields, print_json
from ._query import confirm_sent

__all__ = ["check_file_options", "read_body", "send_one"]


def _result_rows(result: SendResult) -> list[tuple[str, str]]:
    rows = [
        ("msg_id", result.msg_id),
        ("topic", result.topic),
        ("queue_id", str(result.queue_id)),
        ("queue_offset", str(result.queue_offset)),
        ("broker_name", result.broker_name),
    ]
    rows += [(f"property {name}", value) for name, value in result.properties.items()]
    rows += [("request_id", result.request_id or "-"), ("retries_taken", str(result.retries_taken))]
    return rows


def read_body(args: argparse.Namespace) -> str | bytes:
    """The body to send: `--body`, or stdin without its final line break."""
    if args.body is not None:
        return str(args.body)
    if sys.stdin.isatty():
        raise ConfigurationError("no message body: give --body, --file, or pipe the body on stdin.")
    data = sys.stdin.buffer.read()
    # `echo hello | dms-rocketmq send` means "hello", not "hello\n".
    if data.endswith(b"\r\n"):
        return data[:-2]
    return data[:-1] if data.endswith(b"\n") else data


def send_one(args: argparse.Namespace, output: str) -> int:
    """Send one message (and read it back with `--confirm`), print the result; the exit code."""
    body = read_body(args)
    if not args.topic:
        raise ConfigurationError("--topic is required.")
    with Client(**client_options(args)) as client:
        try:
            result = client.send(args.topic, body, keys=args.keys, tags=args.tag)
        except ValidationError:
            raise
        except DMSError as exc:
            print(f"dms-rocketmq: send failed: {exc}", file=sys.stderr)
            if output == "json":
                print_json({"error": error_fields(exc)}, sys.stdout)
            return EXIT_FAILED
        confirmed, code = confirm_sent(client, result, args) if args.confirm else ({}, EXIT_OK)
    if output == "json":
        print_json({**result.to_dict(), **confirmed}, sys.stdout)
    else:
        rows = _result_rows(result) + [(name, str(value)) for name, value in confirmed.items()]
        print_fields(rows, "Message sent")
    return code


def check_file_options(args: argparse.Namespace) -> None:
    """The options of file sending make sense together (and only with --file)."""
    if args.file is None:
        given = [
            flag
            for flag, value in (
                ("--failures", args.failures),
                ("--results", args.results),
                ("--resume", args.resume),
                ("--resend-in-doubt", args.resend_in_doubt),
                ("--rate", args.rate),
            )
            if value
        ]
        if given:
            raise ConfigurationError(f"{', '.join(given)} only apply to sending a file: give --file PATH.")
        return
    if not 1 <= args.concurrency <= MAX_CONCURRENCY:
        raise ConfigurationError(f"--concurrency must be from 1 to {MAX_CONCURRENCY}.")
    if args.max_connection_failures < 1:
        raise ConfigurationError("--max-connection-failures must be at least 1.")
    if args.rate is not None:
        try:
            check_rate(args.rate)
        except ConfigurationError:
            raise ConfigurationError(f"--rate must be {RATE_RULE}.") from None
    if args.resume and not args.results:
        raise ConfigurationError("--resume needs --results PATH, the journal of the send to continue.")
    if args.resend_in_doubt and not args.resume:
        raise ConfigurationError("--resend-in-doubt only applies with --resume.")
