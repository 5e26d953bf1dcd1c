"""The `dms-rocketmq` command line: send one message, or a JSONL file of them.

Secrets are read from the environment only (HUAWEICLOUD_SDK_SK, HUAWEICLOUD_SDK_SECURITY_TOKEN,
DMS_ROCKETMQ_TOKEN), never from flags: flags end up in shell history and process listings.
Exit codes: 0 all sent, 1 some failed, 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import IO, Any

from dms_rocketmq_api.spec_rules import ENGINES

from ._config import DEFAULT_ENGINE, ENV
from ._constants import DEFAULT_CONCURRENCY
from ._exceptions import APIError, APIStatusError, ConfigurationError, DMSError, ValidationError
from ._models import SendFailure, SendOutcome, SendResult

__all__ = ["main"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

_EPILOG = f"""\
connection settings not given as flags are read from the environment:
  {ENV["endpoint"]}, {ENV["region"]}, {ENV["project_id"]}, {ENV["instance_id"]},
  {ENV["engine"]}, {ENV["ak"]}; secrets only from {ENV["sk"]}, {ENV["security_token"]}
  or {ENV["token"]} (IAM token instead of AK/SK).

file format (--file): one JSON object per line, {{"body": ..., "topic": ..., "keys": ..., "tags": ...}};
  "topic" defaults to --topic, "keys" (a string or a list) and "tags" are optional, and a body that is not
  a string is sent as compact JSON. Failed lines are written to --failures in the same format.

exit codes: 0 all sent, 1 some failed, 2 usage or configuration error.
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dms-rocketmq",
        description="Send messages to Huawei Cloud DMS for RocketMQ over its HTTP API.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version="%(prog)s 0.1.0")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    send = commands.add_parser(
        "send",
        help="send one message (--body or stdin) or many (--file)",
        description="Send one message (from --body, or stdin) or every line of a JSONL file (--file).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    message = send.add_argument_group("message")
    message.add_argument("--topic", help="topic to send to (the default topic of --file lines)")
    source = message.add_mutually_exclusive_group()
    source.add_argument("--body", help="message body; read from stdin when neither --body nor --file is given")
    source.add_argument("--file", metavar="PATH", help="JSONL file of messages, one per line ('-' for stdin)")
    message.add_argument("--key", action="append", dest="keys", metavar="KEY", help="message key (repeatable)")
    message.add_argument("--tag", help="message tag")

    batch = send.add_argument_group("file sending")
    batch.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"sends in flight at once (default {DEFAULT_CONCURRENCY})",
    )
    batch.add_argument("--failures", metavar="PATH", help="write the lines that failed here, as JSONL")

    connection = send.add_argument_group("connection (flags override the environment)")
    connection.add_argument("--endpoint", help=f"service URL ({ENV['endpoint']})")
    connection.add_argument("--region", help=f"region ID, instead of --endpoint ({ENV['region']})")
    connection.add_argument("--project-id", help=f"project ID ({ENV['project_id']})")
    connection.add_argument("--instance-id", help=f"instance ID ({ENV['instance_id']})")
    connection.add_argument("--engine", help=f"{' or '.join(ENGINES)} ({ENV['engine']}, default {DEFAULT_ENGINE})")
    connection.add_argument("--ak", help=f"access key ({ENV['ak']}); the secret key only from {ENV['sk']}")
    connection.add_argument("--timeout", type=float, metavar="SECONDS", help="timeout of each request")
    connection.add_argument("--max-retries", type=int, metavar="N", help="retries of 429/503 (default 2)")

    send.add_argument(
        "--output",
        choices=("json", "table"),
        help="result format (default: table on a terminal, json otherwise)",
    )
    return parser


def _client_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {
        "endpoint": args.endpoint,
        "region": args.region,
        "project_id": args.project_id,
        "instance_id": args.instance_id,
        "engine": args.engine,
        "ak": args.ak,
    }
    if args.ak is not None:
        # --ak given: take the matching secret from the environment (explicit arguments disable the
        # environment lookup of the other credentials).
        options["sk"] = os.environ.get(ENV["sk"]) or None
        options["security_token"] = os.environ.get(ENV["security_token"]) or None
        if options["sk"] is None:
            raise ConfigurationError(f"--ak was given but {ENV['sk']} is not set; set it to the secret key.")
    if args.timeout is not None:
        options["timeout"] = args.timeout
    if args.max_retries is not None:
        options["max_retries"] = args.max_retries
    return options


def _error_fields(exc: BaseException) -> dict[str, Any]:
    fields: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)}
    if isinstance(exc, APIStatusError):
        fields.update(status_code=exc.status_code, error_code=exc.error_code, error_msg=exc.error_msg)
    if isinstance(exc, APIError):
        fields["request_id"] = exc.request_id
    return fields


def _print_json(data: Any, stream: IO[str]) -> None:
    stream.write(json.dumps(data, ensure_ascii=False) + "\n")
    stream.flush()


def _print_table(rows: Sequence[tuple[str, str]], title: str) -> None:
    try:
        from rich.console import Console  # the `cli` extra; plain text without it
        from rich.table import Table
    except ImportError:
        width = max(len(name) for name, _ in rows)
        print(title)
        for name, value in rows:
            print(f"  {name:<{width}}  {value}")
        return
    table = Table(title=title, show_header=False)
    table.add_column(style="bold")
    table.add_column()
    for name, value in rows:
        table.add_row(name, value)
    Console().print(table)


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


def _read_body(args: argparse.Namespace) -> str | bytes:
    if args.body is not None:
        return str(args.body)
    if sys.stdin.isatty():
        raise ConfigurationError("no message body: give --body, --file, or pipe the body on stdin.")
    data = sys.stdin.buffer.read()
    # `echo hello | dms-rocketmq send` means "hello", not "hello\n".
    if data.endswith(b"\r\n"):
        return data[:-2]
    return data[:-1] if data.endswith(b"\n") else data


def _send_one(args: argparse.Namespace, output: str) -> int:
    from ._client import Client  # imported here so that `--help` stays fast

    body = _read_body(args)
    if not args.topic:
        raise ConfigurationError("--topic is required.")
    with Client(**_client_options(args)) as client:
        try:
            result = client.send(args.topic, body, keys=args.keys, tags=args.tag)
        except ValidationError:
            raise
        except DMSError as exc:
            print(f"dms-rocketmq: send failed: {exc}", file=sys.stderr)
            if output == "json":
                _print_json({"error": _error_fields(exc)}, sys.stdout)
            return EXIT_FAILED
    if output == "json":
        _print_json(result.to_dict(), sys.stdout)
    else:
        _print_table(_result_rows(result), "Message sent")
    return EXIT_OK


class _Line:
    """One line of the input file: its JSON object (or None when it is not one) and the reason."""

    def __init__(self, number: int, raw: str, message: dict[str, Any] | None, problem: str | None) -> None:
        self.number = number
        self.raw = raw
        self.message = message
        self.problem = problem


def _parse_lines(stream: IO[str], args: argparse.Namespace) -> list[_Line]:
    lines = []
    for number, raw in enumerate(stream, start=1):
        text = raw.strip()
        if not text:
            continue
        try:
            document = json.loads(text)
        except ValueError as exc:
            lines.append(_Line(number, text, None, f"not JSON ({exc})"))
            continue
        except RecursionError:
            lines.append(_Line(number, text, None, "not JSON (nested too deeply)"))
            continue
        if not isinstance(document, dict):
            lines.append(_Line(number, text, None, "not a JSON object"))
            continue
        if "topic" not in document and args.topic:
            document["topic"] = args.topic
        if "keys" not in document and args.keys:
            document["keys"] = args.keys
        if "tags" not in document and args.tag:
            document["tags"] = args.tag
        lines.append(_Line(number, text, document, None))
    return lines


def _as_message(line: _Line) -> dict[str, Any]:
    assert line.message is not None
    message = dict(line.message)
    body = message.get("body")
    if body is not None and not isinstance(body, str):
        message["body"] = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    if "topic" not in message:
        raise ValidationError('no topic: give --topic or a "topic" field.')
    return message


def _progress(total: int) -> tuple[Callable[[SendOutcome], object], Callable[[], None]]:
    """A progress bar on stderr when rich is installed and stderr is a terminal; else nothing."""
    if not sys.stderr.isatty():
        return (lambda _outcome: None), (lambda: None)
    try:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    except ImportError:
        return (lambda _outcome: None), (lambda: None)
    progress = Progress(
        TextColumn("sending"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = progress.add_task("send", total=total)
    progress.start()
    return (lambda _outcome: progress.advance(task)), progress.stop


def _send_file(args: argparse.Namespace, output: str) -> int:
    from ._client import AsyncClient

    if args.concurrency < 1:
        raise ConfigurationError("--concurrency must be at least 1.")
    try:
        if args.file == "-":
            lines = _parse_lines(sys.stdin, args)
        else:
            with open(args.file, encoding="utf-8") as stream:
                lines = _parse_lines(stream, args)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read {args.file}: {exc}") from exc
    options = _client_options(args)

    outcomes: dict[int, SendOutcome | str] = {}
    sendable = [line for line in lines if line.message is not None]
    for line in lines:
        if line.problem is not None:
            outcomes[line.number] = line.problem

    messages: list[dict[str, Any]] = []
    for line in sendable:
        try:
            messages.append(_as_message(line))
        except ValidationError as exc:
            outcomes[line.number] = str(exc)
            messages.append({})  # keeps positions aligned; replaced below
    advance, stop = _progress(len(sendable))
    started = time.perf_counter()

    async def run() -> list[SendOutcome]:
        async with AsyncClient(**options) as client:
            todo = [(line, m) for line, m in zip(sendable, messages, strict=True) if line.number not in outcomes]
            results = await client.send_many([m for _, m in todo], concurrency=args.concurrency, on_outcome=advance)
            for (line, _), outcome in zip(todo, results, strict=True):
                outcomes[line.number] = outcome
            return results

    try:
        asyncio.run(run())
    finally:
        stop()
    elapsed = time.perf_counter() - started

    failed_lines = [line for line in lines if not isinstance(outcomes.get(line.number), SendResult)]
    sent = len(lines) - len(failed_lines)
    for line in failed_lines[:20]:
        outcome = outcomes.get(line.number)
        reason = outcome.exception if isinstance(outcome, SendFailure) else outcome
        print(f"dms-rocketmq: line {line.number} failed: {reason}", file=sys.stderr)
    if len(failed_lines) > 20:
        print(f"dms-rocketmq: ... and {len(failed_lines) - 20} more failures", file=sys.stderr)
    if args.failures:
        with open(args.failures, "w", encoding="utf-8") as failures:
            for line in failed_lines:
                failures.write((json.dumps(line.message, ensure_ascii=False) if line.message else line.raw) + "\n")

    rate = sent / elapsed if elapsed > 0 else 0.0
    summary = {
        "sent": sent,
        "failed": len(failed_lines),
        "total": len(lines),
        "seconds": round(elapsed, 3),
        "messages_per_second": round(rate, 1),
    }
    if args.failures:
        summary["failures_file"] = args.failures
    if output == "json":
        _print_json(summary, sys.stdout)
    else:
        rows = [(name, str(value)) for name, value in summary.items()]
        _print_table(rows, "Sent" if not failed_lines else "Sent with failures")
    return EXIT_OK if not failed_lines else EXIT_FAILED


def main(argv: list[str] | None = None) -> int:
    """Run the `dms-rocketmq` command line; return its exit code."""
    args = _parser().parse_args(argv)
    output = args.output or ("table" if sys.stdout.isatty() else "json")
    try:
        if args.file is not None:
            if args.body is not None:
                raise ConfigurationError("give either --body or --file, not both.")
            return _send_file(args, output)
        return _send_one(args, output)
    except (ConfigurationError, ValidationError) as exc:
        print(f"dms-rocketmq: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("dms-rocketmq: interrupted", file=sys.stderr)
        return 130
