"""The `dms-rocketmq` argument parser: every subcommand and its flags, and the help they print."""

from __future__ import annotations

import argparse

from dms_rocketmq._config import ENV, cli_path
from dms_rocketmq._constants import DEFAULT_CONCURRENCY, DEFAULT_MAX_CONNECTION_FAILURES, VERSION

from ._connection import add_connection_arguments, add_connection_flags
from ._query import add_commands as add_query_commands
from ._query import add_confirm_arguments
from ._sign import add_sign_command

__all__ = ["build_parser"]

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


def build_parser() -> argparse.ArgumentParser:
    """The parser of the whole command line: `send`, `get`, `query` and `sign`."""
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
    add_connection_arguments(send)

    send.add_argument(
        "--output",
        choices=("json", "table"),
        help="result format (default: table on a terminal, json otherwise)",
    )
    add_query_commands(commands, add_connection_arguments, _EPILOG)
    add_connection_flags(add_sign_command(commands))
    return parser
