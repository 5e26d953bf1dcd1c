"""Network peers for the HTTPS and proxy tests: a real HTTP CONNECT proxy (proxy.py) on a loopback port, and a
TLS port that hangs up on plain text the way the operating system decides (a FIN or a reset), chosen here."""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def running_proxy(basic_auth: str | None = None) -> Iterator[str]:
    """A proxy.py process on a free loopback port (with `USER:PASSWORD` basic auth when given); yields its URL."""
    with tempfile.TemporaryDirectory(prefix="dms-proxy-") as folder:
        port_file = Path(folder) / "port"
        log = Path(folder) / "proxy.log"
        command = [
            sys.executable,
            "-m",
            "proxy",
            "--hostname",
            "127.0.0.1",
            "--port",
            "0",
            "--port-file",
            str(port_file),
            "--num-acceptors",
            "1",
            "--num-workers",
            "1",
        ]
        if basic_auth is not None:
            command += ["--basic-auth", basic_auth]
        with log.open("wb") as output:
            process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while not (port_file.is_file() and port_file.read_text().strip()):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"proxy.py did not start:\n{log.read_text(errors='replace')}")
                time.sleep(0.02)
            yield f"http://127.0.0.1:{port_file.read_text().strip()}"
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


#: How a TLS server hangs up on a request in plain text. Which one a real server sends depends on timing: a
#: close with the request read is a FIN, a close with bytes of it still unread is a reset (RST).
HANG_UPS = ("fin", "reset")


@contextlib.contextmanager
def tls_port_hanging_up(certificate: Path, key: Path, how: str) -> Iterator[int]:
    """A loopback port that completes TLS handshakes and hangs up on plain text by `how` (one of `HANG_UPS`),
    every time; yields the port."""
    if how not in HANG_UPS:
        raise ValueError(f"how must be one of {HANG_UPS}, not {how!r}")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate, key)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def answer(connection: socket.socket) -> None:
        with connection:
            connection.settimeout(5)
            try:
                first = connection.recv(1, socket.MSG_PEEK)
                if first == b"\x16":  # a TLS handshake record
                    with context.wrap_socket(connection, server_side=True) as secure:
                        secure.settimeout(5)
                        with contextlib.suppress(OSError):
                            secure.recv(1)  # until the client closes
                    return
                if how == "reset":
                    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    return  # closed with the request unread, linger 0: a reset
                connection.shutdown(socket.SHUT_WR)  # a FIN first, then read until the client closes
                while connection.recv(65536):
                    pass
            except OSError:
                return

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=answer, args=(connection,), daemon=True).start()

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        server.join(5)
        listener.close()
