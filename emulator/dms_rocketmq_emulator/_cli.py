"""The `dms-rocketmq-emulator` command line."""

from __future__ import annotations

import argparse
import logging
import shlex
import signal
import socket
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._config import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_DATA_DIR,
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_HOST,
    DEFAULT_INSTANCE_ID,
    DEFAULT_PORT,
    DEFAULT_PROJECT_ID,
    DEFAULT_QUEUES,
    DEFAULT_SHUTDOWN_TIMEOUT,
    MAX_QUEUES,
    MIN_QUEUES,
    ConfigError,
    InstanceSettings,
    Settings,
    load_toml,
    merge_lists,
    parse_credential,
    parse_topic,
)
from ._extras import missing_extra
from ._process import ENDPOINT_BANNER
from ._version import __version__

if TYPE_CHECKING:
    from ._app import EmulatorApp

__all__ = ["bind_socket", "build_parser", "main", "settings_from_args", "uvicorn_options"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (flags are an interface other tools rely on: keep them)."""
    parser = argparse.ArgumentParser(
        prog="dms-rocketmq-emulator",
        description=(
            "A local server that behaves like the 'Send a message' and 'Querying messages' APIs of Huawei Cloud "
            "DMS for RocketMQ: "
            "topics, queues, offsets, message ids, durable storage and AK/SK or token authentication. "
            "`dms-rocketmq-emulator drift TRANSCRIPT` replays a contract run against it (see --help there)."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--host", help=f"address to listen on (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, help=f"port to listen on, 0 for any free one (default {DEFAULT_PORT})")
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--data-dir", type=Path, help=f"keep messages in SQLite in this folder (default ./{DEFAULT_DATA_DIR}/)"
    )
    where.add_argument("--memory", action="store_true", default=None, help="keep messages in memory only")
    parser.add_argument("--project-id", help=f"the project id (default {DEFAULT_PROJECT_ID})")
    parser.add_argument(
        "--instance-id",
        action="append",
        default=[],
        metavar="UUID",
        help=f"an instance id; repeat for several (default {DEFAULT_INSTANCE_ID})",
    )
    parser.add_argument(
        "--topic",
        action="append",
        default=[],
        metavar="NAME[:QUEUES]",
        help=(
            f"a topic in every instance, with {MIN_QUEUES}-{MAX_QUEUES} queues (default {DEFAULT_QUEUES}); "
            "repeat for several"
        ),
    )
    parser.add_argument(
        "--auto-create-topics",
        action="store_true",
        default=None,
        help="create a topic on its first send (DMS never does: off by default)",
    )
    parser.add_argument(
        "--credential",
        action="append",
        default=[],
        metavar="AK:SK",
        help="accept AK/SK signatures with this pair; repeat for several (turns authentication on)",
    )
    parser.add_argument(
        "--token",
        action="append",
        default=[],
        metavar="TOKEN",
        help="accept this X-Auth-Token; repeat for several (turns authentication on)",
    )
    parser.add_argument(
        "--console",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="serve the web console at /_emulator/console (default: only when listening on loopback)",
    )
    parser.add_argument(
        "--console-actions",
        action="store_true",
        default=None,
        help="let the console reset the emulator and arm faults (read-only without it)",
    )
    for flag, default, what in (
        ("--header-timeout", DEFAULT_HEADER_TIMEOUT, "the request line and headers may take from their first byte"),
        ("--body-timeout", DEFAULT_BODY_TIMEOUT, "may pass between two pieces of a request body"),
        ("--shutdown-timeout", DEFAULT_SHUTDOWN_TIMEOUT, "a stop waits for requests already received"),
    ):
        parser.add_argument(flag, type=float, metavar="SECONDS", help=f"seconds {what} (default {default:g})")
    parser.add_argument("--config", type=Path, metavar="FILE.toml", help="read settings from a TOML file")
    tls = parser.add_argument_group("HTTPS (docs/emulator.md, HTTPS)")
    tls.add_argument(
        "--tls",
        action="store_true",
        help="serve https:// with a certificate for localhost and 127.0.0.1 from a local CA made at start",
    )
    tls.add_argument(
        "--tls-dir",
        type=Path,
        metavar="DIR",
        help="keep the local CA here and reuse it on the next start (default: a temporary folder)",
    )
    tls.add_argument("--tls-cert", type=Path, metavar="FILE.pem", help="serve https:// with this certificate")
    tls.add_argument("--tls-key", type=Path, metavar="FILE.pem", help="the private key of --tls-cert")
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=["critical", "error", "warning", "info", "debug"],
        help="log level (default warning; info logs each request)",
    )
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Settings from parsed flags: flags over the TOML file over the defaults."""
    file: dict[str, Any] = load_toml(args.config) if args.config is not None else {}
    values: dict[str, Any] = {}
    for key in (
        "host",
        "port",
        "project_id",
        "auto_create_topics",
        "console",
        "console_actions",
        "header_timeout",
        "body_timeout",
        "shutdown_timeout",
    ):
        given = getattr(args, key)
        if given is not None:
            values[key] = given
        elif key in file:
            values[key] = file[key]
    if args.memory:
        values["data_dir"] = None
    elif args.data_dir is not None:
        values["data_dir"] = args.data_dir
    elif "data_dir" in file:
        values["data_dir"] = file["data_dir"]
    instances = list(file.get("instances", ()))
    known = {instance.instance_id for instance in instances}
    instances += [InstanceSettings(i) for i in dict.fromkeys(args.instance_id) if i not in known]
    if instances:
        values["instances"] = tuple(instances)
    values["topics"] = merge_lists(file.get("topics", ()), (parse_topic(t) for t in args.topic))
    values["credentials"] = merge_lists(file.get("credentials", ()), (parse_credential(c) for c in args.credential))
    values["tokens"] = merge_lists(file.get("tokens", ()), args.token)
    return Settings(**values)


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", ""):  # noqa: S104 - only for the printed URL
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on `host:port` (0: any free port), handed to uvicorn."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio sets TCP_NODELAY only on accepted sockets whose proto is IPPROTO_TCP, and
    # without it Nagle's algorithm holds each response body back behind its headers until the client's
    # delayed ACK (docs/performance.md, item 1).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


#: The environment variables the banner assigns, as `dms_rocketmq` reads them (its `_config.ENV`; not
#: imported, so that the emulator does not depend on the client package).
_ENV_ENDPOINT = ENDPOINT_BANNER.removesuffix("=")
_ENV_PROJECT_ID = "HUAWEICLOUD_SDK_PROJECT_ID"
_ENV_INSTANCE_ID = "DMS_ROCKETMQ_INSTANCE_ID"
_ENV_AK = "HUAWEICLOUD_SDK_AK"
_ENV_SK = "HUAWEICLOUD_SDK_SK"
_ENV_TOKEN = "DMS_ROCKETMQ_TOKEN"  # noqa: S105 - a variable name, not a token
#: The CA bundle every path of the client trusts instead of the default store (`dms_rocketmq._network`).
_ENV_CA_FILE = "SSL_CERT_FILE"
#: With authentication off any AK/SK pair is accepted; the client still needs one to sign with.
_ANY_AK, _ANY_SK = "EMULATOR", "auth-is-off"


def banner(app: EmulatorApp, endpoint: str, ca_file: Path | None = None) -> str:
    """What the emulator prints when it is ready: every line works when pasted into a POSIX shell.

    Descriptions are shell comments; the variable lines (a parent process reads `DMS_ROCKETMQ_ENDPOINT=`
    from stdout to learn the port) and the `export` line point `dms-rocketmq` and the Python client at this
    emulator; the last line sends a message. Secrets are never printed: with authentication on, the SK (or
    the token) is the user's to set.
    """
    from ._console import console_line

    settings = app.settings
    lines = [
        f"# dms-rocketmq-emulator {__version__}: DMS for RocketMQ 'Send a message' and 'Querying messages' API",
        f"#   endpoint    {endpoint}",
        f"#   project id  {settings.project_id}",
    ]
    for instance in app.registry.instances.values():
        topics = ", ".join(f"{t.name} ({_queues(t.queues)})" for t in instance.topics.values()) or "none"
        lines.append(f"#   instance    {instance.instance_id}  broker {instance.broker_name}  topics: {topics}")
    if settings.auto_create_topics:
        lines.append("#   topics      created on their first send (--auto-create-topics)")
    if app.auth.enabled:
        aks = ", ".join(c.ak for c in settings.credentials) or "none"
        lines.append(f"#   auth        ON: AK/SK signatures from AKs {aks}; {len(settings.tokens)} X-Auth-Token(s)")
    else:
        lines.append("#   auth        OFF: every request is accepted (give --credential or --token to turn it on)")
    lines.append(f"#   store       {app.store.description}")
    lines.append(
        f"#   control     {endpoint}/_emulator/health, /_emulator/messages, /_emulator/reset, /_emulator/faults"
    )
    lines.append(f"#   console     {console_line(settings, endpoint)}")
    first = next(iter(app.registry.instances.values()))
    lines.append("# Paste the lines below into a shell to point dms-rocketmq and the Python client here:")
    lines.append(f"{ENDPOINT_BANNER}{endpoint}")
    lines.append(f"{_ENV_PROJECT_ID}={settings.project_id}")
    lines.append(f"{_ENV_INSTANCE_ID}={first.instance_id}")
    exported = [_ENV_ENDPOINT, _ENV_PROJECT_ID, _ENV_INSTANCE_ID]
    if ca_file is not None:
        lines.append(f"# HTTPS: the client trusts the emulator's local CA through {_ENV_CA_FILE}")
        lines.append(f"{_ENV_CA_FILE}={shlex.quote(str(ca_file))}")
        exported.append(_ENV_CA_FILE)
    elif endpoint.startswith("https://"):
        lines.append(f"# HTTPS with your certificate: trust its CA with {_ENV_CA_FILE}=CA.pem (or --ca-bundle)")
    if not app.auth.enabled:
        lines.append(f"{_ENV_AK}={_ANY_AK}")
        lines.append(f"{_ENV_SK}={_ANY_SK}")
        exported += [_ENV_AK, _ENV_SK]
    elif settings.credentials:
        ak = settings.credentials[0].ak
        lines.append(f"{_ENV_AK}={shlex.quote(ak)}")
        lines.append(f"# and {_ENV_SK}: the SK configured for {ak} (never printed); for example: read -rs {_ENV_SK}")
        exported += [_ENV_AK, _ENV_SK]
    else:
        lines.append(f"# and {_ENV_TOKEN}: one of the configured tokens (never printed)")
        exported.append(_ENV_TOKEN)
    lines.append("export " + " ".join(exported))
    topic = next(iter(first.topics), None)
    if topic is None and settings.auto_create_topics:
        topic = "orders"
    if topic is not None:
        lines.append(f"dms-rocketmq send --topic {shlex.quote(topic)} --body hello")
    else:
        lines.append("# no topic yet: restart with --topic NAME (or --auto-create-topics) to send messages")
    return "\n".join(lines)


def _queues(count: int) -> str:
    return "1 queue" if count == 1 else f"{count} queues"


def uvicorn_options(log_level: str) -> dict[str, Any]:
    """How uvicorn serves the emulator (the bench serves its minimal app alike: the same stack, minus our work)."""
    return {
        "lifespan": "on",
        "log_level": log_level,
        "access_log": log_level in ("info", "debug"),
        "server_header": False,
        "date_header": False,
    }


def _check_certificate(parser: argparse.ArgumentParser, cert: Path, key: Path) -> None:
    """Refuse a certificate and key that do not load, with their names, before the port is taken."""
    import ssl

    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        parser.error(f"--tls-cert {cert} / --tls-key {key}: cannot load them: {exc.strerror or exc}")


def _server(config: Any, app: EmulatorApp) -> Any:
    """A uvicorn server that ends the console's live tails as it starts to stop."""
    import uvicorn

    class Server(uvicorn.Server):
        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            # A live tail never ends by itself, and uvicorn's graceful stop waits for every open response:
            # without this, one console tab left open would keep Ctrl-C and SIGTERM from ever finishing.
            app.console.close_streams()
            await super().shutdown(sockets)

    return Server(config)


def _stopped_gracefully(signum: int, frame: object) -> None:
    """The signal was handled by uvicorn's graceful shutdown; nothing is left to do."""


def main(argv: list[str] | None = None) -> int:
    """Run the `dms-rocketmq-emulator` command line.

    Every setting is checked before the port is taken, so that a bad flag or TOML file is reported with
    its own message (exit 2) even when the port is busy; then the socket is bound (exit 1 naming the
    address when it cannot be), then the store is opened.
    """
    arguments = sys.argv[1:] if argv is None else list(argv)
    if arguments[:1] == ["drift"]:  # the one subcommand: replay a contract transcript (_drift.py)
        from ._drift import main as drift_main

        return drift_main(arguments[1:])
    parser = build_parser()
    args = parser.parse_args(arguments)
    missing = missing_extra()
    if missing is not None:
        print(missing, file=sys.stderr)
        return 1
    import uvicorn

    from ._app import EmulatorApp
    from ._http import gateway_protocol
    from ._store import StoreError

    endpoint = ""
    ca_file: Path | None = None

    def ready(app: EmulatorApp) -> None:
        print(banner(app, endpoint, ca_file), flush=True)

    try:
        settings = settings_from_args(args)
        app = EmulatorApp(settings, on_ready=ready)  # validates every setting against the spec's rules
    except ConfigError as exc:
        parser.error(str(exc))
    if (args.tls_cert is None) != (args.tls_key is None):
        parser.error("--tls-cert and --tls-key go together")
    if args.tls_cert is not None and args.tls:
        parser.error("--tls makes its own certificate; give either --tls or --tls-cert/--tls-key")
    tls_dir: tempfile.TemporaryDirectory[str] | None = None
    ssl_options: dict[str, Any] = {}
    if args.tls_cert is not None:
        _check_certificate(parser, args.tls_cert, args.tls_key)
        ssl_options = {"ssl_certfile": str(args.tls_cert), "ssl_keyfile": str(args.tls_key)}
    elif args.tls or args.tls_dir is not None:
        from ._tls import server_files

        if args.tls_dir is not None:
            folder = args.tls_dir
        else:
            tls_dir = tempfile.TemporaryDirectory(prefix="dms-emulator-tls-")
            folder = Path(tls_dir.name)
        try:
            files = server_files(folder)
        except (OSError, ValueError) as exc:
            parser.error(f"--tls-dir {folder}: cannot make or read the local CA there: {exc}")
        ca_file = files.ca
        ssl_options = {"ssl_certfile": str(files.cert), "ssl_keyfile": str(files.key)}
    try:
        sock = bind_socket(settings.host, settings.port)
    except OSError as exc:
        address = f"[{settings.host}]:{settings.port}" if ":" in settings.host else f"{settings.host}:{settings.port}"
        print(f"dms-rocketmq-emulator: cannot listen on {address}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    scheme = "https" if ssl_options else "http"
    endpoint = f"{scheme}://{_url_host(settings.host)}:{sock.getsockname()[1]}"
    try:
        app.store.open()
    except (StoreError, OSError) as exc:
        sock.close()
        print(f"dms-rocketmq-emulator: cannot open the store: {exc}", file=sys.stderr)
        return 1
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = uvicorn.Config(
        app,
        # The gateway's side of each connection: its errors, head limit and read deadlines (_http.py).
        http=gateway_protocol(header_timeout=settings.header_timeout, body_timeout=settings.body_timeout),
        timeout_graceful_shutdown=settings.shutdown_timeout,  # type: ignore[arg-type] # any number of seconds
        **uvicorn_options(args.log_level),
        **ssl_options,
    )
    server = _server(config, app)
    # uvicorn handles SIGINT/SIGTERM: it stops accepting, refuses requests still arriving (503, _http.py), lets
    # in-flight sends finish (their commits included) for up to --shutdown-timeout seconds, then the lifespan
    # closes the store after its last batch. Afterwards it raises the signal
    # again for the handler that was there before; these no-op handlers make that graceful stop exit 0.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _stopped_gracefully)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        if tls_dir is not None:
            tls_dir.cleanup()
    return 0 if server.started else 1
