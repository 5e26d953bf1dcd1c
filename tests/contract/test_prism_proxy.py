"""A second, independent judge of the emulator's responses: Prism, as a validating proxy in front of it.

`prism proxy openapi.yaml <server>` forwards each request to the emulator and reports, in an `sl-violations`
header, whatever in the response breaks openapi.yaml as Prism reads it (with its own JSON Schema validator,
ajv). Every kind of response the emulator gives to a send, success and each error, is sent through it here.
(The full schemathesis suite cannot run through the proxy: Prism answers some requests itself, such as a GET
with a body (stoplightio/prism#2259) or malformed JSON, instead of forwarding them.)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import _broken_emulators as broken
import httpx
import pytest
from _shared.prism import ROOT, prism

TOKEN = "tok-PRISM-PROXY-SECRET-91b0e2d4"
SPEC = str(ROOT / "openapi.yaml")
GOOD_PATH = f"/v2/rocketmq/{broken.PROJECT_ID}/instances/{broken.INSTANCE_ID}/messages"
UNKNOWN_INSTANCE = "00000000-0000-4000-8000-000000000000"
AUTH = {"X-Auth-Token": TOKEN}


def _response_violations(response: httpx.Response) -> list[dict[str, Any]]:
    raw = response.headers.get("sl-violations")
    found: list[dict[str, Any]] = json.loads(raw) if raw else []
    return [item for item in found if item.get("location", [None])[0] == "response"]


@pytest.fixture(scope="module")
def proxied() -> Iterator[tuple[str, str]]:
    """(proxy URL, emulator URL): the real emulator app (token auth) behind `prism proxy`."""
    with broken.serve(broken.build(broken.unchanged, token=TOKEN)) as server, prism("proxy", SPEC, server) as proxy:
        yield proxy, server


SENDS = [
    pytest.param(GOOD_PATH, {"topic": broken.TOPIC, "body": "hello"}, AUTH, 200, id="200"),
    pytest.param(
        GOOD_PATH.replace("/rocketmq/", "/reliability/"),
        {
            "topic": broken.TOPIC,
            "body": '{"order_id": 1042}',
            "property_list": [{"name": "KEYS", "value": "order-1042 customer-77"}, {"name": "TAGS", "value": "x"}],
        },
        AUTH,
        200,
        id="200-keys-tags",
    ),
    pytest.param(GOOD_PATH, {"topic": "no-such-topic", "body": "x"}, AUTH, 400, id="400-topic-missing"),
    pytest.param(GOOD_PATH, {"topic": "ab", "body": "x"}, AUTH, 400, id="400-invalid-topic"),
    pytest.param(GOOD_PATH, {"topic": broken.TOPIC}, AUTH, 400, id="400-no-body"),
    pytest.param(
        GOOD_PATH.replace(broken.INSTANCE_ID, "not-a-uuid"),
        {"topic": broken.TOPIC, "body": "x"},
        AUTH,
        400,
        id="400-instance-id-format",
    ),
    pytest.param(GOOD_PATH, {"topic": broken.TOPIC, "body": "x"}, {}, 401, id="401-no-token"),
    pytest.param(GOOD_PATH, {"topic": broken.TOPIC, "body": "x"}, {"X-Auth-Token": "wrong"}, 401, id="401-bad-token"),
    pytest.param(
        GOOD_PATH.replace(broken.INSTANCE_ID, UNKNOWN_INSTANCE),
        {"topic": broken.TOPIC, "body": "x"},
        AUTH,
        404,
        id="404-unknown-instance",
    ),
    pytest.param(
        GOOD_PATH.replace("/rocketmq/", "/kafka/"),
        {"topic": broken.TOPIC, "body": "x"},
        AUTH,
        404,
        id="404-unknown-engine",
    ),
]


@pytest.mark.parametrize(("path", "body", "headers", "status"), SENDS)
def test_prism_finds_the_emulators_response_valid(
    proxied: tuple[str, str], path: str, body: dict[str, Any], headers: dict[str, str], status: int
) -> None:
    """Through the proxy, each kind of emulator response (200, 400, 401, 404) has the expected status and
    Prism reports no violation in it."""
    proxy, _ = proxied
    response = httpx.post(proxy + path, json=body, headers=headers, timeout=30)
    assert response.status_code == status, response.text
    assert _response_violations(response) == []


@pytest.mark.parametrize("status", [429, 500, 503])
def test_prism_finds_injected_errors_valid(proxied: tuple[str, str], status: int) -> None:
    """Faults injected into the emulator (429, 500, 503, with Retry-After) reach the client through the proxy
    as documented responses: Prism reports no violation."""
    proxy, server = proxied
    fault = {"count": 1, "status": status, "retry_after": 1}
    httpx.post(f"{server}/_emulator/faults", json=fault, timeout=10).raise_for_status()
    response = httpx.post(proxy + GOOD_PATH, json={"topic": broken.TOPIC, "body": "x"}, headers=AUTH, timeout=30)
    assert response.status_code == status, response.text
    assert _response_violations(response) == []


def test_prism_reports_an_invalid_response() -> None:
    """Prism's verdict counts: in front of the variant whose 200 has a string queue_offset, it reports that
    very violation."""
    app = broken.build(broken.queue_offset_as_string, token=TOKEN)
    with broken.serve(app) as server, prism("proxy", SPEC, server) as proxy:
        response = httpx.post(proxy + GOOD_PATH, json={"topic": broken.TOPIC, "body": "x"}, headers=AUTH, timeout=30)
    assert response.status_code == 200
    violations = _response_violations(response)
    assert [item["location"] for item in violations] == [["response", "body", "queue_offset"]]
