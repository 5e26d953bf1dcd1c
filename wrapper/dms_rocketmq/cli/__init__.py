"""The `dms-rocketmq` command line: send one message, or a JSONL file of them; read messages back (`_cli_query`).

Secrets are read from the environment only (HUAWEICLOUD_SDK_SK, HUAWEICLOUD_SDK_SECURITY_TOKEN,
DMS_ROCKETMQ_TOKEN), never from flags: flags end up in shell history and process listings.
Exit codes: 0 all sent, 1 some not sent, 2 usage or configuration error, 130 interrupted.
File sending (streaming, journal, resume, stopping) is in `_cli_bulk`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import IO, Any

from dms_rocketmq_api.spec_rules import ENGINES

from ._bulk import MAX_CONCURRENCY
from ._cli_query import COMMANDS as QUERY_COMMANDS
from ._cli_query import add_commands as add_query_commands
from ._cli_query import add_confirm_arguments, confirm_sent
from ._cli_query import run as run_query_command
from ._cli_sign import add_sign_command, run_sign
from ._config import CLI_FLAGS, DEFAULT_ENGINE, ENV, cli_path, resolve_settings
from ._constants import DEFAULT_CONCURRENCY, DEFAULT_MAX_CONNECTION_FAILURES, DEFAULT_MAX_RETRIES, VERSION
from ._exceptions import APIError, APIStatusError, ConfigurationError, DMSError, ValidationError
from ._models import SendResult
from ._rate import RATE_RULE, check_rate

__all__ = ["main"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
#: Stopped by Ctrl-C or SIGTERM (128 + SIGINT, as shells report a Ctrl-C).
EXIT_INTERRUPTED = 130

_EPILOG = f"""\
connection settings not given as flags are read from the environment:
  {ENV["endpoint"]}, {ENV["region"]}, {ENV["project_id"]}, {ENV["instance_id"]},
  {ENV["engine"]}, {ENV["ak"]}; secrets only from {ENV["sk"]}, {ENV["security_token"]}
  or {ENV["token"]} (IAM token instead of AK/SK).

file format (--file): one JSON object per line, {{"body": ..., "topic": ..., "keys": ..., "tags": ...}};
  "topic" defaults to --topic, "keys" (a string or a list) and "tags" are optional, and a body that is not
  a string is sent as compact JSON. Lines not sent are written to --failures in the same format, with the
  reason in a "_failure" field (ignored when that file is sent again).

exit codes: 0 all sent, 1 some not sent (failed, in doubt, or stopped), 2 usage or configuration error,
  130 interrupted (Ctrl-C or SIGTERM; the journal, failures file and summary are written first).
"""


def _seconds(text: str) -> float:
    """`--timeout`: a finite number of seconds above 0 (argparse names the flag in its error)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a number of seconds above 0")
    return value


def _retries(text: str) -> int:
    """`--max-retries`: a whole number >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 or more")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dms-rocketmq",
        description="Send messages to Huawei Cloud DMS for RocketMQ over its HTTP API, and read them back.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {VERSION}")
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
    source.add_argument(
        "--file", metavar="PATH", type=cli_path, help="JSONL file of messages, one per line ('-' for stdin)"
    )
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
    batch.add_argument(
        "--failures",
        metavar="PATH",
        type=cli_path,
        help="write every line not sent here, as JSONL, with the reason (_failure)",
    )
    batch.add_argument(
        "--results",
        metavar="PATH",
        type=cli_path,
        help="journal the outcome of every line here as it is known (JSONL: line, hash, msg_id or error)",
    )
    batch.add_argument(
        "--resume",
        action="store_true",
        help="continue the send journaled in --results: skip the lines already sent (the file must be unchanged)",
    )
    batch.add_argument(
        "--resend-in-doubt",
        action="store_true",
        help="with --resume, send again the lines in doubt (sent, no answer): they may be stored twice",
    )
    batch.add_argument("--rate", type=float, metavar="N", help="send at most N messages per second (429s slow it)")
    batch.add_argument(
        "--max-connection-failures",
        type=int,
        default=DEFAULT_MAX_CONNECTION_FAILURES,
        metavar="N",
        help=f"stop after N connection failures in a row (default {DEFAULT_MAX_CONNECTION_FAILURES})",
    )
    add_confirm_arguments(send)
    _add_connection_arguments(send)

    send.add_argument(
        "--output",
        choices=("json", "table"),
        help="result format (default: table on a terminal, json otherwise)",
    )
    add_query_commands(commands, _add_connection_arguments, _EPILOG)
    add_connection_flags(add_sign_command(commands))
    return parser


def add_connection_flags(command: argparse.ArgumentParser) -> Any:
    """Add the flags that say where and as whom to connect (each overrides its environment variable) to a
    subcommand; returns their argument group, for a subcommand's own connection flags."""
    connection = command.add_argument_group("connection (flags override the environment)")
    connection.add_argument("--endpoint", help=f"service URL ({ENV['endpoint']})")
    connection.add_argument("--region", help=f"region ID, instead of --endpoint ({ENV['region']})")
    connection.add_argument("--project-id", help=f"project ID ({ENV['project_id']})")
    connection.add_argument("--instance-id", help=f"instance ID ({ENV['instance_id']})")
    connection.add_argument("--engine", help=f"{' or '.join(ENGINES)} ({ENV['engine']}, default {DEFAULT_ENGINE})")
    connection.add_argument("--ak", help=f"access key ({ENV['ak']}); the secret key only from {ENV['sk']}")
    return connection


def _add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    """The connection flags of the commands that call the API (send, get, query): where, as whom, how long."""
    connection = add_connection_flags(parser)
    connection.add_argument("--timeout", type=_seconds, metavar="SECONDS", help="timeout of each request")
    connection.add_argument(
        "--max-retries",
        type=_retries,
        metavar="N",
        help=(
            "retries of what cannot store a message twice: the gateway's throttling (429) and connections "
            f"that failed before the request left (default {DEFAULT_MAX_RETRIES})"
        ),
    )
    https = parser.add_argument_group("HTTPS and proxy (docs/cli.md, HTTPS)")
    trust = https.add_mutually_exclusive_group()
    trust.add_argument(
        "--ca-bundle",
        metavar="PATH",
        type=cli_path,
        help="trust the CAs of this PEM file or folder instead of the default store (SSL_CERT_FILE / SSL_CERT_DIR)",
    )
    trust.add_argument("--insecure", action="store_true", help="do not check the server's certificate (unsafe)")
    https.add_argument(
        "--proxy",
        metavar="URL",
        help="send through this HTTP proxy, http://[USER:PASSWORD@]HOST:PORT (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY)",
    )


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
    # Resolved here once with the CLI's spelling, so that a missing or invalid setting names its flag and
    # variable (`--endpoint`), not the Python argument (`endpoint=`) the Client would name.
    resolve_settings(**options, spelling=CLI_FLAGS)
    if args.timeout is not None:
        options["timeout"] = args.timeout
    if args.max_retries is not None:
        options["max_retries"] = args.max_retries
    if args.ca_bundle is not None:
        options["verify"] = args.ca_bundle
    elif args.insecure:
        options["verify"] = False
        print(
            "dms-rocketmq: warning: --insecure: the server's certificate is not checked; anyone on the network "
            "path can read and change what is sent, credentials included.",
            file=sys.stderr,
        )
    if args.proxy is not None:
        options["proxy"] = args.proxy
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
        confirmed, code = confirm_sent(client, result, args) if args.confirm else ({}, EXIT_OK)
    if output == "json":
        _print_json({**result.to_dict(), **confirmed}, sys.stdout)
    else:
        rows = _result_rows(result) + [(name, str(value)) for name, value in confirmed.items()]
        _print_table(rows, "Message sent")
    return code


def _check_file_options(args: argparse.Namespace) -> None:
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


def main(argv: list[str] | None = None) -> int:
    """Run the `dms-rocketmq` command line; return its exit code."""
    args = _parser().parse_args(argv)
    output = getattr(args, "output", None) or ("table" if sys.stdout.isatty() else "json")
    try:
        if args.command == "sign":
            return run_sign(args)
        if args.command in QUERY_COMMANDS:
            return run_query_command(args, output, _client_options(args))
        if args.file is not None:
            if args.body is not None:
                raise ConfigurationError("give either --body or --file, not both.")
            _check_file_options(args)
            if args.confirm:
                raise ConfigurationError("--confirm reads back one message; it does not work with --file.")
            from ._cli_bulk import send_file

            return send_file(args, output)
        _check_file_options(args)
        return _send_one(args, output)
    except (ConfigurationError, ValidationError) as exc:
        print(f"dms-rocketmq: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("dms-rocketmq: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
