"""`make bench`: throughput of the wrapper and the emulator against Huawei's SDK and the raw limits.

One self-contained script, not a test: it starts its own servers on loopback ports (uvicorn in subprocesses),
measures every contender several rounds, interleaving them (the order rotates each round) so that noise on a
shared machine hits all of them alike, and reports the median of the rounds. It prints a table with the ratios
against the targets of issue 6 and writes `bench/results.json`. It asserts nothing about speed.

Sections (see docs/performance.md for what each contender is and why):
1. sequential: one connection, N sends one after the other, AK/SK signing on; sends/s and client CPU µs/send.
2. bulk: N messages with 64 in flight; sends/s.
3. server: the raw aiohttp loop at 64 in flight against the emulator (memory, durable) and a minimal
   Starlette app; sends/s and server CPU µs/request.
Sections 1 and 2 run against the minimal app, so that the client is what is measured.

Run: `make bench` (full, about 3 minutes on an idle 2-core machine) or `.venv/bin/python bench/run.py --quick`
(smoke run; writes bench/results.quick.json so the committed results are not overwritten).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import hashlib
import hmac
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import httpx

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent

PROJECT_ID = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
INSTANCE_ID = "11c55a3e-5b4a-4f0c-9d3e-2f7b8e6a1c90"
TOPIC = "bench"
# Benchmark-only credentials, known to the emulator started below and to nothing else.
AK = "BENCHAK0000000000000"
SK = "bench-sk-used-only-on-loopback"
SEND_PATH = f"/v2/rocketmq/{PROJECT_ID}/instances/{INSTANCE_ID}/messages"
IN_FLIGHT = 64
BODY_LENGTH = 100
HEALTH_PATH = "/_emulator/health"
ENDPOINT_PREFIX = "DMS_ROCKETMQ_ENDPOINT="

# The uvicorn options both the emulator and the minimal app are served with, so that "minimal" measures the
# same server stack minus the emulator's own work. Keep in step with dms_rocketmq_emulator/_cli.py.
UVICORN_OPTIONS: dict[str, Any] = {
    "lifespan": "on",
    "log_level": "warning",
    "access_log": False,
    "server_header": False,
    "date_header": False,
}


# ---------------------------------------------------------------------------------------------------------
# Workload


@dataclass(frozen=True)
class Workload:
    """N messages of about 100 characters, each with one key, in the forms the contenders take them."""

    bodies: list[str]
    keys: list[str]
    payloads: list[bytes]

    @classmethod
    def make(cls, count: int) -> Workload:
        bodies = [f"order {i:08d} placed; ".ljust(BODY_LENGTH, "x") for i in range(count)]
        keys = [f"order-{i:08d}" for i in range(count)]
        payloads = [
            json.dumps(
                {"topic": TOPIC, "body": body, "property_list": [{"name": "KEYS", "value": key}]},
                separators=(",", ":"),
            ).encode()
            for body, key in zip(bodies, keys, strict=True)
        ]
        return cls(bodies, keys, payloads)

    def __len__(self) -> int:
        return len(self.bodies)


class RawSigner:
    """The least work an AK/SK client can do per request: SDK-HMAC-SHA256 over a precomputed canonical prefix.

    Signs content-type, host and x-sdk-date (the gateway requires only x-sdk-date to be signed); the date string
    is formatted once per second.
    """

    SIGNED_HEADERS = "content-type;host;x-sdk-date"

    def __init__(self, base_url: str, ak: str, sk: str) -> None:
        host = httpx.URL(base_url).netloc.decode()
        self._key = sk.encode()
        # Canonical request: method, URI with a trailing slash, empty query, then the canonical headers.
        self._prefix = f"POST\n{SEND_PATH}/\n\ncontent-type:application/json\nhost:{host}\n"
        self._authorization = f"SDK-HMAC-SHA256 Access={ak}, SignedHeaders={self.SIGNED_HEADERS}, Signature="
        self._second = -1
        self._date = ""

    def headers(self, payload: bytes) -> dict[str, str]:
        """Return the headers that sign a POST of `payload` to the send path now."""
        now = int(time.time())
        if now != self._second:
            self._second, self._date = now, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
        date = self._date
        payload_hash = hashlib.sha256(payload).hexdigest()
        canonical = f"{self._prefix}x-sdk-date:{date}\n\n{self.SIGNED_HEADERS}\n{payload_hash}"
        to_sign = f"SDK-HMAC-SHA256\n{date}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        signature = hmac.new(self._key, to_sign.encode(), hashlib.sha256).hexdigest()
        return {
            "Content-Type": "application/json",
            "X-Sdk-Date": date,
            "Authorization": self._authorization + signature,
        }


# ---------------------------------------------------------------------------------------------------------
# Servers


def minimal_app() -> Any:
    """A Starlette app that answers every send with one fixed, valid SendMessageResponse and an X-Request-Id.

    It reads the request body and verifies nothing: the limit of the framework and server stack.
    """
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    fixed = json.dumps(
        {
            "topic": TOPIC,
            "body": Workload.make(1).bodies[0],
            "property_list": [
                {"name": "KEYS", "value": "order-00000000"},
                {"name": "UNIQ_KEY", "value": "7F00000100002A9F0000000000000000"},
            ],
            "msg_id": "7F00000100002A9F0000000000000000",
            "queue_id": 0,
            "queue_offset": 0,
            "broker_name": "broker-0",
        }
    ).encode()

    async def send_message(request: Request) -> Response:
        await request.body()
        return Response(fixed, media_type="application/json", headers={"X-Request-Id": uuid.uuid4().hex})

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/v2/{engine}/{project_id}/instances/{instance_id}/messages", send_message, methods=["POST"]),
            Route(HEALTH_PATH, health),
        ]
    )


def serve_minimal() -> None:
    """Child-process entry point: serve minimal_app() on a free loopback port and print its endpoint."""
    import uvicorn

    # proto must be IPPROTO_TCP, not the default 0: asyncio sets TCP_NODELAY only on accepted sockets whose
    # proto says TCP, and without it Nagle's algorithm delays every response body by ~40 ms (delayed ACK).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    print(f"{ENDPOINT_PREFIX}http://127.0.0.1:{port}", flush=True)
    config = uvicorn.Config(minimal_app(), host="127.0.0.1", port=port, **UVICORN_OPTIONS)
    uvicorn.Server(config).run(sockets=[sock])


class ServerProcess:
    """A server in a subprocess that prints `DMS_ROCKETMQ_ENDPOINT=...` on stdout once it is listening."""

    def __init__(self, name: str, argv: Sequence[str], *, start_timeout: float = 30.0) -> None:
        self.name = name
        self._output: collections.deque[str] = collections.deque(maxlen=50)
        self._endpoint_seen = threading.Event()
        self.url = ""
        self._process = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            cwd=ROOT,
        )
        # Drain the output for the server's whole life: a full pipe would block the server mid-benchmark.
        threading.Thread(target=self._drain, daemon=True).start()
        if not self._endpoint_seen.wait(start_timeout):
            self.stop()
            raise RuntimeError(f"{name} did not print its endpoint:\n" + "\n".join(self._output))
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                if httpx.get(self.url + HEALTH_PATH, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or self._process.poll() is not None:
                self.stop()
                raise RuntimeError(f"{name} did not become healthy:\n" + "\n".join(self._output))
            time.sleep(0.05)

    def _drain(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self._output.append(line.rstrip())
            if not self._endpoint_seen.is_set() and line.startswith(ENDPOINT_PREFIX):
                self.url = line.strip()[len(ENDPOINT_PREFIX) :].rstrip("/")
                self._endpoint_seen.set()

    def cpu_seconds(self) -> float | None:
        """User plus system CPU time the server process has used so far (Linux /proc), or None."""
        try:
            fields = Path(f"/proc/{self._process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        # After the ")" closing the command name, utime and stime are the 12th and 13th fields.
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def reset(self) -> None:
        """Empty the emulator's store between rounds, so every round starts from the same state."""
        httpx.post(self.url + "/_emulator/reset", timeout=60).raise_for_status()

    def commits(self) -> int | None:
        """How many commits the emulator's durable store has made so far, or None (no such counter)."""
        try:
            response = httpx.get(self.url + "/_emulator/info", timeout=10)
        except httpx.TransportError:
            return None
        if response.status_code != 200:
            return None
        commits = response.json().get("store_stats", {}).get("commits")
        return commits if isinstance(commits, int) else None

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


def start_minimal() -> ServerProcess:
    return ServerProcess("minimal", [sys.executable, str(Path(__file__).resolve()), "--serve-minimal"])


def start_emulator(name: str, store_args: Sequence[str]) -> ServerProcess:
    command = Path(sys.executable).with_name("dms-rocketmq-emulator")
    return ServerProcess(
        name,
        [
            str(command),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            *store_args,
            "--project-id",
            PROJECT_ID,
            "--instance-id",
            INSTANCE_ID,
            "--topic",
            TOPIC,
            "--credential",
            f"{AK}:{SK}",
        ],
    )


# ---------------------------------------------------------------------------------------------------------
# Measurements


@dataclass(frozen=True)
class Sample:
    """One timed run of one contender."""

    sends: int
    seconds: float
    client_cpu: float
    server_cpu: float | None = None
    commits: int | None = None  # durable store commits during the run (warm-up included)

    @property
    def rate(self) -> float:
        return self.sends / self.seconds


class Timer:
    """Wall clock and this process's CPU time (all threads) around the timed region only."""

    def __enter__(self) -> Timer:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu

    def sample(self, sends: int) -> Sample:
        return Sample(sends, self.seconds, self.cpu)


class SendFailed(RuntimeError):
    """A contender got something other than a 200: its numbers would be meaningless."""


def check_status(status: int, contender: str) -> None:
    if status != 200:
        raise SendFailed(f"{contender}: HTTP {status}")


WARM_UP = 50


def warm_up_of(count: int) -> int:
    """How many messages a bulk or server run sends before its clock starts."""
    return min(IN_FLIGHT * 4, count)


# Sequential contenders: each takes (server url, workload), sets up, warms up, and returns one Sample.


def sequential_raw_httpx(url: str, work: Workload) -> Sample:
    signer = RawSigner(url, AK, SK)
    target = url + SEND_PATH
    with httpx.Client() as client:

        def send(i: int) -> None:
            payload = work.payloads[i]
            response = client.post(target, content=payload, headers=signer.headers(payload))
            check_status(response.status_code, "raw httpx")
            json.loads(response.content)["msg_id"]

        for i in range(min(WARM_UP, len(work))):
            send(i)
        with Timer() as timer:
            for i in range(len(work)):
                send(i)
    return timer.sample(len(work))


def sequential_huawei_sdk(url: str, work: Workload) -> Sample:
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkcore.http.http_config import HttpConfig
    from huaweicloudsdkrocketmq.v2 import (
        RocketMQClient,
        SendMessageProperties,
        SendMessageReq,
        SendMessageRequest,
    )

    config = HttpConfig.get_default_config()
    config.ignore_ssl_verification = True  # plain http on loopback; no TLS involved either way
    config.retry_times = 0  # the default; stated so that no retry can hide in the numbers
    client = (
        RocketMQClient.new_builder()
        .with_http_config(config)
        .with_credentials(BasicCredentials(AK, SK, PROJECT_ID))
        .with_endpoint(url)
        .build()
    )

    def send(i: int) -> None:
        request = SendMessageRequest(
            engine="rocketmq",
            instance_id=INSTANCE_ID,
            body=SendMessageReq(
                topic=TOPIC,
                body=work.bodies[i],
                property_list=[SendMessageProperties(name="KEYS", value=work.keys[i])],
            ),
        )
        response = client.send_message(request)
        check_status(response.status_code, "huawei sdk")
        response.msg_id  # noqa: B018 - the value a caller reads

    try:
        for i in range(min(WARM_UP, len(work))):
            send(i)
        with Timer() as timer:
            for i in range(len(work)):
                send(i)
    finally:
        client.close()
    return timer.sample(len(work))


def sequential_wrapper(url: str, work: Workload) -> Sample:
    from dms_rocketmq import Client

    client = Client(endpoint=url, project_id=PROJECT_ID, instance_id=INSTANCE_ID, ak=AK, sk=SK)
    try:
        bodies, keys = work.bodies, work.keys
        for i in range(min(WARM_UP, len(work))):
            client.send(TOPIC, bodies[i], keys=keys[i]).msg_id  # noqa: B018
        with Timer() as timer:
            for i in range(len(work)):
                client.send(TOPIC, bodies[i], keys=keys[i]).msg_id  # noqa: B018
    finally:
        client.close()
    return timer.sample(len(work))


# Bulk contenders: N messages, 64 in flight.


async def _signed_worker_loop(
    post: Callable[[bytes, dict[str, str]], Awaitable[tuple[int, bytes]]],
    signer: RawSigner,
    payloads: Sequence[bytes],
    contender: str,
) -> None:
    """64 coroutines take the next payload from one shared iterator until it is exhausted."""
    pending = iter(payloads)

    async def worker() -> None:
        for payload in pending:
            status, content = await post(payload, signer.headers(payload))
            check_status(status, contender)
            json.loads(content)["msg_id"]

    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))


async def _bulk_raw_aiohttp(url: str, work: Workload) -> Sample:
    signer = RawSigner(url, AK, SK)
    target = url + SEND_PATH
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=IN_FLIGHT)) as session:

        async def post(payload: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
            async with session.post(target, data=payload, headers=headers) as response:
                return response.status, await response.read()

        await _signed_worker_loop(post, signer, work.payloads[: warm_up_of(len(work))], "raw aiohttp")
        with Timer() as timer:
            await _signed_worker_loop(post, signer, work.payloads, "raw aiohttp")
    return timer.sample(len(work))


def bulk_raw_aiohttp(url: str, work: Workload) -> Sample:
    return asyncio.run(_bulk_raw_aiohttp(url, work))


async def _bulk_httpx_default(url: str, work: Workload) -> Sample:
    signer = RawSigner(url, AK, SK)
    target = url + SEND_PATH
    async with httpx.AsyncClient() as client:

        async def post(payload: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
            response = await client.post(target, content=payload, headers=headers)
            return response.status_code, response.content

        await _signed_worker_loop(post, signer, work.payloads[: warm_up_of(len(work))], "httpx default pool")
        with Timer() as timer:
            await _signed_worker_loop(post, signer, work.payloads, "httpx default pool")
    return timer.sample(len(work))


def bulk_httpx_default(url: str, work: Workload) -> Sample:
    return asyncio.run(_bulk_httpx_default(url, work))


def bulk_huawei_sdk_async(url: str, work: Workload) -> Sample:
    """RocketMQAsyncClient.send_message_async returns a future; keep 64 of them outstanding.

    The SDK runs each call on a ThreadPoolExecutor of 8 workers inside its HttpClient (signing, the requests
    call and the response parsing all go through it), so at most 8 requests are really on the wire.
    """
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkcore.http.http_config import HttpConfig
    from huaweicloudsdkrocketmq.v2 import (
        RocketMQAsyncClient,
        SendMessageProperties,
        SendMessageReq,
        SendMessageRequest,
    )

    config = HttpConfig.get_default_config()
    config.ignore_ssl_verification = True
    config.retry_times = 0
    client = (
        RocketMQAsyncClient.new_builder()
        .with_http_config(config)
        .with_credentials(BasicCredentials(AK, SK, PROJECT_ID))
        .with_endpoint(url)
        .build()
    )

    def run(count: int) -> None:
        window: collections.deque[Any] = collections.deque()
        for i in range(count):
            if len(window) >= IN_FLIGHT:
                check_status(window.popleft().result().status_code, "huawei sdk async")
            request = SendMessageRequest(
                engine="rocketmq",
                instance_id=INSTANCE_ID,
                body=SendMessageReq(
                    topic=TOPIC,
                    body=work.bodies[i],
                    property_list=[SendMessageProperties(name="KEYS", value=work.keys[i])],
                ),
            )
            window.append(client.send_message_async(request))
        while window:
            check_status(window.popleft().result().status_code, "huawei sdk async")

    try:
        run(warm_up_of(len(work)))
        with Timer() as timer:
            run(len(work))
    finally:
        client.close()
    return timer.sample(len(work))


async def _bulk_wrapper(url: str, work: Workload) -> Sample:
    from dms_rocketmq import AsyncClient, Message, SendResult

    async def run(client: AsyncClient, count: int) -> None:
        messages = [Message(TOPIC, work.bodies[i], keys=work.keys[i]) for i in range(count)]
        results = await client.send_many(messages, concurrency=IN_FLIGHT)
        failures = [r for r in results if not isinstance(r, SendResult)]
        if failures:
            raise SendFailed(f"wrapper send_many: {len(failures)} failures, first: {failures[0]!r}")

    client = AsyncClient(endpoint=url, project_id=PROJECT_ID, instance_id=INSTANCE_ID, ak=AK, sk=SK)
    try:
        await run(client, warm_up_of(len(work)))
        with Timer() as timer:
            await run(client, len(work))
    finally:
        await client.aclose()
    return timer.sample(len(work))


def bulk_wrapper(url: str, work: Workload) -> Sample:
    return asyncio.run(_bulk_wrapper(url, work))


# ---------------------------------------------------------------------------------------------------------
# Harness


Contender = Callable[[str, Workload], Sample]


@dataclass
class Row:
    """One contender of one section: how to run it, against which server, and its samples."""

    key: str
    label: str
    run: Contender
    server: str
    workload: int
    reset_before: bool = False
    samples: list[Sample] = field(default_factory=list)
    unavailable: str | None = None

    @property
    def rate(self) -> float | None:
        return statistics.median(s.rate for s in self.samples) if self.samples else None

    @property
    def client_cpu_us(self) -> float | None:
        if not self.samples:
            return None
        return statistics.median(s.client_cpu / s.sends * 1e6 for s in self.samples)

    @property
    def server_cpu_us(self) -> float | None:
        values = [s.server_cpu / s.sends * 1e6 for s in self.samples if s.server_cpu is not None]
        return statistics.median(values) if values else None

    @property
    def messages_per_commit(self) -> float | None:
        """For the durable store: how many messages one commit (one fsync) carried, median of the rounds."""
        values = [(s.sends + warm_up_of(s.sends)) / s.commits for s in self.samples if s.commits]
        return statistics.median(values) if values else None


def wrapper_missing() -> str | None:
    """Why the wrapper cannot be benchmarked (not installed, or an incomplete checkout), or None when it can."""
    try:
        import dms_rocketmq
    except ImportError as exc:
        return f"dms_rocketmq does not import: {exc}"
    missing = [n for n in ("Client", "AsyncClient", "Message", "SendResult") if not hasattr(dms_rocketmq, n)]
    return f"dms_rocketmq has no {', '.join(missing)} yet" if missing else None


def emulator_missing() -> str | None:
    """Why the emulator cannot be started yet, or None when it can."""
    try:
        from dms_rocketmq_emulator import _cli
    except ImportError as exc:
        return f"dms_rocketmq_emulator does not import: {exc}"
    if "not implemented" in Path(_cli.__file__).read_text():
        return "the emulator's command line is not implemented yet"
    return None


def run_section(title: str, rows: list[Row], servers: dict[str, ServerProcess], rounds: int) -> None:
    """Run every available row `rounds` times, rotating the order each round so no row always goes first."""
    live = [row for row in rows if row.unavailable is None]
    for round_index in range(rounds):
        shift = round_index % len(live) if live else 0
        for row in live[shift:] + live[:shift]:
            server = servers[row.server]
            if row.reset_before:
                server.reset()
            work = WORKLOADS[row.workload]
            commits_before = server.commits() if row.reset_before else None
            cpu_before = server.cpu_seconds()
            sample = row.run(server.url, work)
            cpu_after = server.cpu_seconds()
            if cpu_before is not None and cpu_after is not None:
                sample = dataclasses.replace(sample, server_cpu=cpu_after - cpu_before)
            commits_after = server.commits() if commits_before is not None else None
            if commits_before is not None and commits_after is not None:
                sample = dataclasses.replace(sample, commits=commits_after - commits_before)
            row.samples.append(sample)
            print(
                f"  {title} round {round_index + 1}/{rounds}: {row.label:<34} {sample.rate:>8,.0f} sends/s",
                flush=True,
            )


WORKLOADS: dict[int, Workload] = {}


@dataclass(frozen=True)
class Target:
    section: str
    numerator: str
    denominator: str
    minimum: float

    @property
    def name(self) -> str:
        return f"{self.section}.{self.numerator}/{self.denominator}"


TARGETS = [
    Target("sequential", "wrapper", "huawei_sdk", 1.4),
    Target("sequential", "wrapper", "raw_httpx", 0.85),
    Target("bulk", "wrapper", "huawei_sdk_async", 4.0),
    Target("bulk", "wrapper", "raw_aiohttp", 0.75),
    Target("server", "emulator_memory", "minimal", 0.6),
    Target("server", "emulator_durable", "emulator_memory", 0.6),
]


def machine() -> dict[str, Any]:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu_model": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": package_versions(),
    }


def package_versions() -> dict[str, str | None]:
    """Versions of the libraries the numbers depend on (uvicorn picks httptools and uvloop when present)."""
    from importlib.metadata import PackageNotFoundError, version

    names = ["httpx", "aiohttp", "httpx-aiohttp", "requests", "huaweicloudsdkcore", "starlette", "uvicorn"]
    names += ["httptools", "uvloop"]
    found: dict[str, str | None] = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


MACHINE = machine()


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: how busy the machine was (other work skews the numbers)."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip()


def fmt_rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def fmt_us(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f}"


def report(sections: dict[str, list[Row]], extra: dict[str, list[Row]], args: argparse.Namespace) -> str:
    lines: list[str] = []
    titles = {
        "sequential": f"Sequential, one connection, {args.sequential:,} sends, AK/SK signing",
        "bulk": f"Bulk, {args.bulk:,} messages, {IN_FLIGHT} in flight, AK/SK signing",
        "server": f"Server, raw aiohttp loop, {args.server:,} messages, {IN_FLIGHT} in flight",
    }
    for section, rows in sections.items():
        lines.append(f"{titles[section]} (median of {args.section_rounds[section]} rounds)")
        lines.append(
            f"  {'contender':<34} {'sends/s':>9} {'client CPU µs/send':>19} {'server CPU µs/req':>18}  each round"
        )
        for row in rows + extra.get(section, []):
            if row.unavailable:
                lines.append(f"  {row.label:<34} {'n/a':>9}   ({row.unavailable})")
                continue
            each = " / ".join(fmt_rate(s.rate) for s in row.samples)
            lines.append(
                f"  {row.label:<34} {fmt_rate(row.rate):>9} {fmt_us(row.client_cpu_us):>19}"
                f" {fmt_us(row.server_cpu_us):>18}  {each}"
            )
        for row in rows:
            if row.messages_per_commit is not None:
                lines.append(f"  {row.label}: {row.messages_per_commit:,.1f} messages per commit (one fsync each)")
        lines.append("")
    lines.append(f"Machine: {MACHINE['cpu_model']}, {MACHINE['cores']} cores; load average {load_average()}")
    lines.append("Targets (ratios of the medians above)")
    for target, ratio in ratios(sections).items():
        spec = next(t for t in TARGETS if t.name == target)
        if spec.section not in sections:
            continue
        verdict = "n/a" if ratio is None else ("met" if ratio >= spec.minimum else "MISSED")
        shown = "n/a" if ratio is None else f"{ratio:.2f}x"
        lines.append(f"  {target:<45} {shown:>7}  (target >= {spec.minimum:.2f}x)  {verdict}")
    return "\n".join(lines)


def ratios(sections: dict[str, list[Row]]) -> dict[str, float | None]:
    result: dict[str, float | None] = {}
    for target in TARGETS:
        rows = {row.key: row.rate for row in sections.get(target.section, [])}
        top, bottom = rows.get(target.numerator), rows.get(target.denominator)
        result[target.name] = None if top is None or not bottom else round(top / bottom, 3)
    return result


def results_json(
    sections: dict[str, list[Row]], extra: dict[str, list[Row]], args: argparse.Namespace, started: datetime
) -> dict[str, Any]:
    def rates(rows: list[Row]) -> dict[str, float | None]:
        return {row.key: None if row.rate is None else round(row.rate, 1) for row in rows}

    def detail(row: Row) -> dict[str, Any]:
        return {
            "label": row.label,
            "unavailable": row.unavailable,
            "messages": len(WORKLOADS[row.workload]),
            "rounds_sends_per_s": [round(s.rate, 1) for s in row.samples],
            "client_cpu_us_per_send": None if row.client_cpu_us is None else round(row.client_cpu_us, 1),
            "server_cpu_us_per_request": None if row.server_cpu_us is None else round(row.server_cpu_us, 1),
            "messages_per_commit": None if row.messages_per_commit is None else round(row.messages_per_commit, 1),
        }

    result: dict[str, Any] = {section: rates(rows) for section, rows in sections.items()}
    result["extra"] = {section: rates(rows) for section, rows in extra.items()}
    result["ratios"] = ratios(sections)
    result["targets"] = {t.name: t.minimum for t in TARGETS}
    result["machine"] = MACHINE
    result["run"] = {
        "command": "make bench" if not args.quick else "python bench/run.py --quick",
        "started": started.isoformat(timespec="seconds"),
        "seconds": round((datetime.now(UTC) - started).total_seconds(), 1),
        "git_commit": git_commit(),
        "rounds": args.section_rounds,
        "in_flight": IN_FLIGHT,
        "load_average_at_start": args.load_at_start,
        "load_average_at_end": [round(value, 2) for value in os.getloadavg()],
    }
    result["details"] = {
        section: {row.key: detail(row) for row in rows + extra.get(section, [])} for section, rows in sections.items()
    }
    return result


def markdown(document: dict[str, Any]) -> str:
    """The tables of a results file in Markdown, for docs/performance.md and the README."""
    titles = {"sequential": "Sequential, one connection", "bulk": "Bulk, 64 in flight", "server": "Server"}
    run, box = document["run"], document["machine"]
    lines = [
        f"`{run['command']}` at {run['started']} (commit {run['git_commit']}, {run['seconds']:.0f} s), "
        f"{box['cpu_model']}, {box['cores']} cores, Python {box['python']}; load average "
        f"{run['load_average_at_start'][0]:.1f} at the start, {run['load_average_at_end'][0]:.1f} at the end.",
        "",
    ]
    for section, title in titles.items():
        rows = document["details"][section]
        messages = max(row["messages"] for row in rows.values())
        lines += [
            f"**{title}** ({messages:,} messages, median of {run['rounds'][section]} rounds)",
            "",
            "| contender | sends/s | client CPU µs/send | server CPU µs/request | each round |",
            "|---|---:|---:|---:|---|",
        ]
        for key, row in rows.items():
            rounds = row["rounds_sends_per_s"]
            median = f"{statistics.median(rounds):,.0f}" if rounds else "n/a"
            each = " / ".join(f"{rate:,.0f}" for rate in rounds) or (row["unavailable"] or "")
            lines.append(
                f"| `{key}`: {row['label']} | {median} | {fmt_us(row['client_cpu_us_per_send'])} "
                f"| {fmt_us(row['server_cpu_us_per_request'])} | {each} |"
            )
        for row in rows.values():
            if row.get("messages_per_commit"):
                lines += [
                    "",
                    f"{row['label']}: {row['messages_per_commit']:,.1f} messages per commit (one fsync each).",
                ]
        lines.append("")
    lines += ["| ratio | measured | target | |", "|---|---:|---:|---|"]
    for name, ratio in document["ratios"].items():
        target = document["targets"][name]
        verdict = "n/a" if ratio is None else ("met" if ratio >= target else "**missed**")
        shown = "n/a" if ratio is None else f"{ratio:.2f}x"
        lines.append(f"| {name} | {shown} | ≥ {target:.2f}x | {verdict} |")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round, small counts")
    parser.add_argument(
        "--rounds",
        type=int,
        help="rounds per contender, median reported (default: 5 sequential, 3 bulk, 5 server)",
    )
    parser.add_argument("--sequential", type=int, default=2_000, help="sends per sequential run")
    parser.add_argument("--bulk", type=int, default=20_000, help="messages per bulk run")
    parser.add_argument("--server", type=int, default=10_000, help="messages per server run")
    parser.add_argument(
        "--httpx-default", type=int, default=2_000, help="messages per run of the httpx default-pool row (slow)"
    )
    parser.add_argument("--output", type=Path, help="where to write the JSON (default bench/results.json)")
    parser.add_argument(
        "--only", choices=["sequential", "bulk", "server"], action="append", help="run only these sections"
    )
    parser.add_argument(
        "--markdown",
        type=Path,
        metavar="RESULTS.json",
        help="print the tables of an earlier run's results file as Markdown, and run nothing",
    )
    parser.add_argument("--serve-minimal", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.sequential, args.bulk, args.server, args.httpx_default = 1, 300, 2_000, 2_000, 1_000
    # The short sections get more rounds: a median of 5 resists a noisy neighbour better, and they are cheap.
    defaults = {"sequential": 5, "bulk": 3, "server": 5}
    args.section_rounds = {section: args.rounds or count for section, count in defaults.items()}
    if args.output is None:
        args.output = BENCH_DIR / ("results.quick.json" if args.quick else "results.json")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_minimal:
        serve_minimal()
        return 0
    if args.markdown:
        print(markdown(json.loads(args.markdown.read_text())))
        return 0
    started = datetime.now(UTC)
    args.load_at_start = [round(value, 2) for value in os.getloadavg()]
    for count in {args.sequential, args.bulk, args.server, args.httpx_default}:
        WORKLOADS[count] = Workload.make(count)

    no_wrapper, no_emulator = wrapper_missing(), emulator_missing()
    sections: dict[str, list[Row]] = {
        "sequential": [
            Row("wrapper", "wrapper Client.send", sequential_wrapper, "minimal", args.sequential),
            Row("huawei_sdk", "Huawei SDK send_message", sequential_huawei_sdk, "minimal", args.sequential),
            Row("raw_httpx", "raw httpx, prebuilt JSON", sequential_raw_httpx, "minimal", args.sequential),
        ],
        "bulk": [
            Row("wrapper", "wrapper AsyncClient.send_many", bulk_wrapper, "minimal", args.bulk),
            Row(
                "huawei_sdk_async",
                "Huawei SDK async send_message_async",
                bulk_huawei_sdk_async,
                "minimal",
                args.bulk,
            ),
            Row("raw_aiohttp", "raw aiohttp, prebuilt JSON", bulk_raw_aiohttp, "minimal", args.bulk),
        ],
        "server": [
            Row("minimal", "minimal Starlette app", bulk_raw_aiohttp, "minimal", args.server),
            Row("emulator_memory", "emulator --memory", bulk_raw_aiohttp, "memory", args.server, True),
            Row("emulator_durable", "emulator --data-dir", bulk_raw_aiohttp, "durable", args.server, True),
        ],
    }
    extra = {
        "bulk": [
            Row(
                "httpx_default_pool",
                "httpx AsyncClient default pool",
                bulk_httpx_default,
                "minimal",
                args.httpx_default,
            )
        ]
    }
    for section in ("sequential", "bulk"):
        sections[section][0].unavailable = no_wrapper
    for row in sections["server"][1:]:
        row.unavailable = no_emulator
    chosen = args.only or list(sections)

    servers: dict[str, ServerProcess] = {}
    with tempfile.TemporaryDirectory(prefix="dms-bench-") as data_dir:
        try:
            servers["minimal"] = start_minimal()
            if "server" in chosen and no_emulator is None:
                servers["memory"] = start_emulator("memory", ["--memory"])
                servers["durable"] = start_emulator("durable", ["--data-dir", data_dir])
            for section in chosen:
                rows = sections[section] + extra.get(section, [])
                print(f"{section}:", flush=True)
                run_section(section, rows, servers, args.section_rounds[section])
        finally:
            for server in servers.values():
                server.stop()

    print()
    print(report({s: sections[s] for s in chosen}, extra, args) if args.only else report(sections, extra, args))
    if not args.only:
        document = results_json(sections, extra, args, started)
        args.output.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        print(f"\nwrote {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
