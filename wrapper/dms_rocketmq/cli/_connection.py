"""The flags that say where, as whom and how to connect, and the `Client` options they become.

Secrets are read from the environment only (HUAWEICLOUD_SDK_SK, HUAWEICLOUD_SDK_SECURITY_TOKEN,
DMS_ROCKETMQ_TOKEN), never from flags: flags end up in shell history and process listings.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from dms_rocketmq_api.spec_rules import ENGINES

from dms_rocketmq import ConfigurationError
from dms_rocketmq._config import CLI_FLAGS, DEFAULT_ENGINE, ENV, cli_path, resolve_settings
from dms_rocketmq._constants import DEFAULT_MAX_RETRIES

__all__ = ["add_connection_arguments", "add_connection_flags", "client_options"]


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


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
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


def client_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of `Client`/`AsyncClient` the connection flags give, checked with the CLI's
    spelling (a missing or invalid setting names its flag and variable)."""
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
