"""The `dms-rocketmq` command line: send one message, or a JSONL file of them; read messages back; sign.

One module per idea: `_parser` (the subcommands and their flags), `_connection` (the connection flags and the
`Client` options they become), `_output` (JSON lines, tables, exit codes), `_send` (one message), `_send_file`
(a JSONL file: streaming, journal, resume, stopping), `_query` (`get`, `query`, `send --confirm`) and `_sign`.
They use the library through its public names, and a few internals the command line shares with it
(settings, defaults, the bulk engine, the journal, the signer's steps).

Secrets are read from the environment only (HUAWEICLOUD_SDK_SK, HUAWEICLOUD_SDK_SECURITY_TOKEN,
DMS_ROCKETMQ_TOKEN), never from flags: flags end up in shell history and process listings.
Exit codes: 0 all sent, 1 some not sent, 2 usage or configuration error, 130 interrupted.
"""

from __future__ import annotations

import sys

from dms_rocketmq import ConfigurationError, ValidationError

from ._connection import client_options
from ._output import EXIT_INTERRUPTED, EXIT_USAGE
from ._parser import build_parser
from ._query import COMMANDS as QUERY_COMMANDS
from ._query import run as run_query_command
from ._send import check_file_options, send_one
from ._sign import run_sign

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the `dms-rocketmq` command line; return its exit code."""
    args = build_parser().parse_args(argv)
    output = getattr(args, "output", None) or ("table" if sys.stdout.isatty() else "json")
    try:
        if args.command == "sign":
            return run_sign(args)
        if args.command in QUERY_COMMANDS:
            return run_query_command(args, output, client_options(args))
        if args.file is not None:
            if args.body is not None:
                raise ConfigurationError("give either --body or --file, not both.")
            check_file_options(args)
            if args.confirm:
                raise ConfigurationError("--confirm reads back one message; it does not work with --file.")
            from ._send_file import send_file  # imported here: the journal and the readers only for --file

            return send_file(args, output)
        check_file_options(args)
        return send_one(args, output)
    except (ConfigurationError, ValidationError) as exc:
        print(f"dms-rocketmq: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("dms-rocketmq: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
