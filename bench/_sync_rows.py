"""Sequential rows for the sync client: the standard library doing a send's work by hand, and `Client` on the
generated path (what `transport=` selects), beside `Client.send` on its default, direct path.

`sequential_stdlib` is the floor a synchronous Python client can reach: it builds each message's JSON body,
signs it with SDK-HMAC-SHA256 (`RawSigner`, the same least work the raw rows do), POSTs it with `http.client`
on one keep-alive connection and parses the JSON answer. `Client.send` does that and more (validation, the
typed result, retries, timeouts), so its CPU per send against this row is what the wrapper's layers cost.
"""

from __future__ import annotations

import http.client
import json

import httpx
from _contenders import RawSigner
from _measure import (
    AK,
    INSTANCE_ID,
    PROJECT_ID,
    SEND_PATH,
    SK,
    TOPIC,
    WARM_UP,
    Sample,
    Timer,
    Workload,
    check_status,
    timed_one_by_one,
)

__all__ = ["sequential_stdlib", "sequential_wrapper_generated_path"]


def sequential_stdlib(url: str, work: Workload) -> Sample:
    signer = RawSigner(url, AK, SK)
    parts = httpx.URL(url)
    host = parts.netloc.decode()
    connection = http.client.HTTPConnection(parts.host, parts.port or 80, timeout=30)
    try:

        def send(i: int) -> None:
            entries = [{"name": "KEYS", "value": work.keys[i]}]
            document = {"topic": TOPIC, "body": work.bodies[i], "property_list": entries}
            payload = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
            headers = signer.headers(payload)
            headers["Host"] = host
            connection.request("POST", SEND_PATH, body=payload, headers=headers)
            answer = connection.getresponse()
            content = answer.read()
            check_status(answer.status, "standard library")
            json.loads(content)["msg_id"]

        return timed_one_by_one(send, len(work))
    finally:
        connection.close()


def sequential_wrapper_generated_path(url: str, work: Workload) -> Sample:
    from dms_rocketmq import Client

    # A transport given: the generated client on httpx, the path the direct one is held equal to.
    transport = httpx.HTTPTransport()
    client = Client(endpoint=url, project_id=PROJECT_ID, instance_id=INSTANCE_ID, ak=AK, sk=SK, transport=transport)
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
