"""`dms-rocketmq sign`: sign a request with AK/SK and show each step, to compare with what the gateway or
another SDK computed. The SK is read from the environment only and never printed.

Without `--url` it signs a send to the configured instance, with the headers `Client.send` signs. It prints
what to send: the method and the URL exactly as signed (a query in the signed encoding: `a+b` is sent as
`a%20b`), then every header the signature covers, with its value, and `Authorization`: a request made from
that output alone (curl, any HTTP client) is accepted. With `--explain` it also prints the canonical request
(credential headers masked), the string to sign and SignedHeaders, all computed by the signer's own steps
(`_auth.signing_steps`).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from dms_rocketmq import ConfigurationError
from dms_rocketmq._auth import SECRET_HEADERS, authorization_header, canonical_url, signature, signing_steps
from dms_rocketmq._config import CLI_FLAGS, ENV, _refuse_what_is_not_text, cli_path, resolve_settings
from dms_rocketmq._constants import USER_AGENT

__all__ = ["add_sign_command", "run_sign"]


def add_sign_command(commands: Any) -> argparse.ArgumentParser:
    """Add the `sign` subcommand to the CLI's subparsers; the caller adds the connection flags (the default
    --url is the send-message URL of the instance they name)."""
    sign: argparse.ArgumentParser = commands.add_parser(
        "sign",
        help="sign a request with AK/SK and print the headers (--explain: every step)",
        description=(
            "Sign a request the way Client does and print what to send: the URL as signed and every signed "
            "header with Authorization; with --explain also the "
            "canonical request, the string to sign and SignedHeaders, to compare with what the gateway or "
            f"another SDK computed. The SK comes from {ENV['sk']} only and is never printed."
        ),
    )
    sign.add_argument("--explain", action="store_true", help="print every signing step")
    sign.add_argument("--method", default="POST", help="HTTP method (default POST)")
    sign.add_argument("--url", help="URL to sign (default: the send-message URL of the configured instance)")
    sign.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="a header to sign (repeatable; default without --url: the headers Client.send signs)",
    )
    body = sign.add_mutually_exclusive_group()
    body.add_argument("--body", help="the request body")
    body.add_argument("--body-file", metavar="PATH", type=cli_path, help="read the body from a file ('-' for stdin)")
    sign.add_argument("--date", metavar="YYYYMMDDTHHMMSSZ", help="the X-Sdk-Date to sign with (default: now)")
    return sign


def _headers(values: list[str]) -> list[tuple[str, str]]:
    headers = []
    for value in values:
        name, sep, text = value.partition(":")
        if not sep or not name.strip():
            raise ConfigurationError(f"--header {value!r} is not written 'Name: value'.")
        headers.append((name.strip(), text.strip()))
    return headers


def _body(args: argparse.Namespace) -> bytes:
    if args.body is not None:
        return str(args.body).encode("utf-8")
    if args.body_file is None:
        return b""
    try:
        if args.body_file == "-":
            return sys.stdin.buffer.read()
        with open(args.body_file, "rb") as file:
            return file.read()
    except OSError as exc:
        raise ConfigurationError(f"cannot read --body-file {args.body_file}: {exc.strerror}") from exc


def _default_request(args: argparse.Namespace, ak: str | None, sk: str) -> tuple[str, list[tuple[str, str]]]:
    """The send-message URL and the headers Client.send signs, from the flags and the environment."""
    from dms_rocketmq_api.api.messages import send_message
    from dms_rocketmq_api.models.engine import Engine
    from dms_rocketmq_api.models.send_message_request_body import SendMessageRequestBody

    settings = resolve_settings(
        endpoint=args.endpoint,
        region=args.region,
        project_id=args.project_id,
        instance_id=args.instance_id,
        engine=args.engine,
        ak=ak,
        sk=sk,
        spelling=CLI_FLAGS,
    )
    operation = send_message._get_kwargs(
        Engine(settings.engine),
        settings.project_id,
        settings.instance_id,
        body=SendMessageRequestBody(topic="", body=""),
    )
    headers = [("Content-Type", "application/json"), ("User-Agent", USER_AGENT), ("X-Project-Id", settings.project_id)]
    return f"{settings.endpoint}{operation['url']}", headers


def run_sign(args: argparse.Namespace) -> int:
    """Sign the request the flags describe and print the result; raises ConfigurationError on bad input."""
    ak = args.ak or os.environ.get(ENV["ak"]) or None
    sk = os.environ.get(ENV["sk"]) or ""
    if not ak:
        raise ConfigurationError(f"Missing access key: pass --ak or set {ENV['ak']}.")
    if not sk:
        raise ConfigurationError(f"Missing secret key: set {ENV['sk']} (it is never printed).")
    headers = _headers(args.header)
    if args.url is None:
        url, default_headers = _default_request(args, ak, sk)
        headers = headers or default_headers
    else:
        url = args.url
    _refuse_what_is_not_text(CLI_FLAGS, ak=ak, sk=sk)
    try:
        steps = signing_steps(args.method, url, headers, _body(args), args.date)
    except ValueError as exc:
        raise ConfigurationError(f"{exc} (--date or an X-Sdk-Date --header).") from exc
    authorization = authorization_header(ak, steps.signed_headers, signature(sk, steps.string_to_sign))
    out = sys.stdout
    # The URL as it must be sent: the query in the encoding that was signed, not as typed.
    out.write(f"{args.method.upper()} {canonical_url(url)}\n\n")
    if args.explain:
        out.write(f"canonical request:\n{steps.masked_canonical_request()}\n\n")
        out.write(f"string to sign:\n{steps.string_to_sign}\n\n")
        out.write(f"SignedHeaders: {';'.join(steps.signed_headers)}\n\n")
    # Every header the signature covers must be sent with the value signed: the given ones, then those
    # signing added (a repeated name counts with its last value, as the signer reads it).
    signed = set(steps.signed_headers)
    to_send: dict[str, tuple[str, str]] = {}
    for name, value in [*headers, *steps.added.items()]:
        if name.lower() in signed or name.lower() == "x-sdk-content-sha256":
            to_send[name.lower()] = (name, value.strip())
    out.write("headers to send:\n")
    for name, value in [*to_send.values(), ("Authorization", authorization)]:
        # A credential given as a --header is never printed back: send the value you gave in place of ***.
        out.write(f"{name}: {'***' if name.lower() in SECRET_HEADERS else value}\n")
    return 0
