"""The servers the contenders send to, each a child process started by the emulator's one launcher.

- the emulator, memory or durable store, AK/SK on (`start_emulator`);
- a minimal Starlette app served by the same uvicorn stack (`start_minimal`): the limit of the framework and
  server, against which the clients are measured. `python bench/_servers.py` serves it.
"""

from __future__ import annotations

import json
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from _measure import AK, INSTANCE_ID, PROJECT_ID, SK, TOPIC, Workload
from dms_rocketmq_api.spec_rules import OPERATIONS
from dms_rocketmq_emulator import EmulatorProcess
from dms_rocketmq_emulator import start_emulator as start_emulator_process
from dms_rocketmq_emulator._process import ENDPOINT_BANNER

__all__ = ["HEALTH_PATH", "commits", "minimal_app", "serve_minimal", "start_emulator", "start_minimal"]

HEALTH_PATH = "/_emulator/health"
#: The send operation as the spec states it: its path template (Starlette reads the same `{name}` syntax).
SEND = OPERATIONS["SendMessage"]


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
            Route(SEND["path"], send_message, methods=[SEND["method"]]),
            Route(HEALTH_PATH, health),
        ]
    )


def serve_minimal() -> None:
    """Child-process entry point: serve minimal_app() on a free loopback port and print its endpoint.

    The socket and the uvicorn options are the emulator's own (`bind_socket`, `uvicorn_options`), so that
    "minimal" measures the same server stack minus the emulator's work.
    """
    import uvicorn
    from dms_rocketmq_emulator._cli import bind_socket, uvicorn_options

    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    print(f"{ENDPOINT_BANNER}http://127.0.0.1:{port}", flush=True)
    config = uvicorn.Config(minimal_app(), host="127.0.0.1", port=port, **uvicorn_options("warning"))
    uvicorn.Server(config).run(sockets=[sock])


def start_minimal() -> EmulatorProcess:
    """The minimal app in a child process, launched, watched and stopped like the emulator."""
    workdir = Path(tempfile.mkdtemp(prefix="dms-bench-minimal-"))
    process = EmulatorProcess(args=[], workdir=workdir, command=[sys.executable, str(Path(__file__).resolve())])
    try:
        return process.start()
    except BaseException:
        process.close()
        raise


def start_emulator(*, memory: bool, data_dir: str | None = None) -> EmulatorProcess:
    """The emulator with its memory or durable store (in `data_dir`), the bench topic and AK/SK on."""
    return start_emulator_process(
        memory=memory,
        data_dir=data_dir,
        auth=True,
        topics=(TOPIC,),
        project_id=PROJECT_ID,
        instance_ids=(INSTANCE_ID,),
        ak=AK,
        sk=SK,
    )


def commits(server: EmulatorProcess) -> int | None:
    """How many commits the emulator's durable store has made so far, or None (no such counter)."""
    try:
        stats = server.info().get("store_stats", {})
    except (OSError, ValueError):
        return None
    value = stats.get("commits")
    return value if isinstance(value, int) else None


if __name__ == "__main__":
    serve_minimal()
