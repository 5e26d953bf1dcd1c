"""AsyncClient's hand-written fast path (`_fast_path`) is the generated path, only faster.

The generated path is the wrapper's `Client`: the generated `send_message.sync_detailed` on httpx, here behind
an `httpx.MockTransport`. The fast path is what `AsyncClient` sends by default: `DirectSender.prepare` for the
request, `result_from_content` for the answer. For any valid send and any settings both put the same method,
URL and body bytes on the wire; for any answer both return the same SendResult or raise the same class.
"""

from __future__ import annotations

import json
import string
from typing import Any

import dms_rocketmq as dms
import httpx
from _shared.fake_dms import REQUEST_ID, stored
from dms_rocketmq._base import request_body
from dms_rocketmq._fast_path import encode_request, fast_send_result, result_from_content, stored_result
from dms_rocketmq_api.models.message_property_name import MessagePropertyName
from dms_rocketmq_api.models.send_message_properties_req_entity import SendMessagePropertiesReqEntity
from dms_rocketmq_api.models.send_message_request_body import SendMessageRequestBody
from dms_rocketmq_api.types import UNSET
from hypothesis import HealthCheck, example, given, reject, settings
from hypothesis import strategies as st

ENDPOINTS = st.sampled_from(
    [
        "http://127.0.0.1:8080",
        "http://dms.test",
        "https://dms.cn-north-4.myhuaweicloud.com",
        "https://gateway.example:8443/prefix",
        "http://[::1]:9876",
    ]
)
AUTH = st.one_of(
    st.fixed_dictionaries(
        {
            "ak": st.text(string.ascii_letters + string.digits, min_size=1, max_size=20),
            "sk": st.text(string.ascii_letters, min_size=1, max_size=20),
        }
    ),
    st.fixed_dictionaries({"token": st.text(string.ascii_letters + string.digits + "-_.", min_size=1, max_size=40)}),
)
TOPICS = st.text(string.ascii_letters + string.digits + "%|-_", min_size=3, max_size=64)
BODIES = st.one_of(st.text(min_size=1, max_size=200), st.text(min_size=1, max_size=5).map(lambda s: s * 50))
KEYS = st.one_of(
    st.none(), st.text(min_size=1, max_size=20), st.lists(st.text(string.printable, min_size=1, max_size=8), max_size=3)
)
TAGS = st.one_of(st.none(), st.text(min_size=1, max_size=20))


def _settings(endpoint: str, project_id: str, instance_id: str, engine: str, auth: dict[str, str]) -> dict[str, Any]:
    return {
        "endpoint": endpoint,
        "project_id": project_id,
        "instance_id": instance_id,
        "engine": engine,
        **auth,
        "environ": {},
    }


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(
    endpoint=ENDPOINTS,
    project_id=st.from_regex(r"[0-9a-f]{32}", fullmatch=True),
    instance_id=st.uuids().map(str),
    engine=st.sampled_from(["rocketmq", "reliability"]),
    auth=AUTH,
    topic=TOPICS,
    body=BODIES,
    keys=KEYS,
    tags=TAGS,
)
def test_the_direct_request_is_the_generated_request(
    endpoint: str,
    project_id: str,
    instance_id: str,
    engine: str,
    auth: dict[str, str],
    topic: str,
    body: str,
    keys: Any,
    tags: str | None,
) -> None:
    """For any valid send and settings, the direct sender's method, URL and body bytes are the generated path's."""
    options = _settings(endpoint, project_id, instance_id, engine, auth)
    try:
        generated_body = request_body(topic, body, keys, tags)
    except dms.ValidationError:
        reject()
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        # A copy of what is sent: once answered, the request's credential headers are masked.
        sent.append(httpx.Request(request.method, request.url, headers=request.headers.raw, content=request.read()))
        return stored(request)

    with dms.Client(**options, transport=httpx.MockTransport(handler), max_retries=0) as client:
        client.send(topic, body, keys=keys, tags=tags)
    (generated,) = sent
    # The sender is built the same with or without a transport; with one, no SSL context is loaded (fast).
    sender = dms.AsyncClient(**options, transport=httpx.MockTransport(handler))._sender
    payload, headers = sender.prepare(generated_body)

    assert (sender.method, sender.url, payload) == (generated.method, str(generated.url), generated.content)
    for name in ("Content-Type", "X-Project-Id", "Host", "User-Agent", "X-Auth-Token", "X-Security-Token"):
        assert headers.get(name) == generated.headers.get(name), name
    if "ak" in auth:
        assert _authorization(headers["Authorization"]) == _authorization(generated.headers["Authorization"])


_ENTRY = st.builds(
    SendMessagePropertiesReqEntity,
    name=st.one_of(st.just(UNSET), st.sampled_from(list(MessagePropertyName))),
    value=st.one_of(st.just(UNSET), st.text(max_size=8)),
)
_EXTRA = st.dictionaries(st.text(max_size=4), st.one_of(st.text(max_size=4), st.integers()), max_size=2)


@settings(max_examples=300)
@given(
    topic=st.text(max_size=8),
    body=st.text(max_size=20),
    entries=st.one_of(st.just(UNSET), st.lists(st.tuples(_ENTRY, _EXTRA), max_size=3)),
    extra=_EXTRA,
)
def test_the_direct_body_encoding_is_to_dicts(topic: str, body: str, entries: Any, extra: dict[str, Any]) -> None:
    """Any request model, the common shape or not (extra properties, entries without a name or a value, no
    property list, any text): `encode_request` writes the bytes `to_dict()` sent as httpx sends `json=`."""
    if entries is not UNSET:
        for entry, entry_extra in entries:
            entry.additional_properties.update(entry_extra)
        entries = [entry for entry, _ in entries]
    model = SendMessageRequestBody(topic=topic, body=body, property_list=entries)
    model.additional_properties.update(extra)
    try:
        expected = httpx.Request("POST", "http://h/", json=model.to_dict()).content
    except UnicodeEncodeError:  # a lone surrogate: validation refuses it before any encoding
        reject()
    assert encode_request(model) == expected


def _authorization(value: str) -> tuple[str, dict[str, str]]:
    """The scheme and the fields of an SDK-HMAC-SHA256 Authorization header, without the signature."""
    scheme, _, rest = value.partition(" ")
    fields = dict(field.strip().partition("=")[::2] for field in rest.split(","))
    fields.pop("Signature", None)  # depends on X-Sdk-Date; the signer's own tests check it
    return scheme, fields


# A document that is a valid SendMessageResponse most of the time, and each of its fields sometimes not.
_PROPERTY = st.one_of(
    st.fixed_dictionaries(
        {"name": st.one_of(st.sampled_from(["KEYS", "TAGS", "UNIQ_KEY", "OTHER"]), st.integers(), st.none())},
        optional={"value": st.one_of(st.text(max_size=5), st.none(), st.integers())},
    ),
    st.text(max_size=3),
    st.none(),
)
_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "topic": st.one_of(st.text(max_size=5), st.integers(), st.none()),
    "body": st.one_of(st.text(max_size=5), st.integers(), st.none()),
    "msg_id": st.one_of(st.text(max_size=8), st.integers(), st.none()),
    "queue_id": st.one_of(st.integers(-2, 50), st.floats(0, 3), st.booleans(), st.text(max_size=2), st.none()),
    "queue_offset": st.one_of(st.integers(-2, 10**15), st.floats(0, 3, allow_nan=False), st.booleans()),
    "broker_name": st.one_of(st.text(max_size=5), st.integers(), st.none()),
    "property_list": st.one_of(st.lists(_PROPERTY, max_size=4), st.none(), st.text(max_size=2)),
}
_VALID = {
    "topic": st.just("orders"),
    "body": st.text(min_size=1, max_size=5),
    "msg_id": st.just("7F00000100C8A1B2C3D4000A51E00001"),
    "queue_id": st.integers(0, 15),
    "queue_offset": st.integers(0, 10**12),
    "broker_name": st.just("broker-0"),
    "property_list": st.lists(
        st.fixed_dictionaries({"name": st.sampled_from(["KEYS", "TAGS", "UNIQ_KEY"]), "value": st.text(max_size=5)}),
        max_size=3,
    ),
}
_DOCUMENTS = st.one_of(
    # Valid, or with some fields wrong, missing, or extra.
    st.fixed_dictionaries(
        {name: st.one_of(valid, valid, _FIELDS[name]) for name, valid in _VALID.items()},
        optional={"extra": st.integers(), "error_code": st.text(max_size=4)},
    ).flatmap(
        lambda doc: st.sets(st.sampled_from(sorted(doc)), max_size=2).map(
            lambda drop: {k: v for k, v in doc.items() if k not in drop}
        )
    ),
    # Huawei error bodies, well-formed or not.
    st.fixed_dictionaries(
        {},
        optional={
            "error_code": st.one_of(st.text(max_size=12), st.integers()),
            "error_msg": st.one_of(st.text(max_size=12), st.none()),
        },
    ),
    # Any JSON at all.
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
        lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
        max_leaves=8,
    ),
)
_CONTENT = st.one_of(
    _DOCUMENTS.map(lambda document: json.dumps(document).encode()),
    _DOCUMENTS.map(lambda document: json.dumps(document).encode()),
    st.binary(max_size=40),
    st.sampled_from([b"", b"{", b"null", b"NaN", b'{"msg_id": 1e999}', b"\xff\xfe", b"<html>502 Bad Gateway</html>"]),
)
_STATUSES = st.sampled_from([200, 200, 200, 200, 201, 204, 302, 400, 401, 403, 404, 409, 413, 429, 500, 502, 503, 599])


def _unusual(content: bytes) -> bool:
    """Whether a 200 body that gives a SendResult is one the fast reader leaves to the generated model."""
    return fast_send_result(json.loads(content), REQUEST_ID, 0) is None


def _outcome(call: Any) -> Any:
    """A SendResult, or what the raised DMSError says: its class, status, error code, request id and message."""
    try:
        return call()
    except dms.DMSError as exc:
        return (
            type(exc),
            getattr(exc, "status_code", None),
            getattr(exc, "error_code", None),
            getattr(exc, "request_id", None),
        )


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
# Numbers the generated model reads in another JSON type (7.0; true is not an int) must agree too.
@example(
    status=200,
    content=b'{"topic":"orders","body":"x","property_list":[{"name":"UNIQ_KEY","value":"U"}],"msg_id":"A",'
    b'"queue_id":2,"queue_offset":7.0,"broker_name":"b"}',
    retry_after=None,
)
@example(
    status=200,
    content=b'{"topic":"orders","body":"x","property_list":[],"msg_id":"A","queue_id":true,"queue_offset":7,'
    b'"broker_name":"b"}',
    retry_after=None,
)
@example(
    status=200,
    content=b'{"topic":"orders","body":"x","property_list":[{"name":"UNIQ_KEY","value":""}],"msg_id":"A",'
    b'"queue_id":1,"queue_offset":7,"broker_name":"b"}',
    retry_after=None,
)
@given(status=_STATUSES, content=_CONTENT, retry_after=st.sampled_from([None, "0", "7", "soon"]))
def test_the_fast_parser_answers_as_the_generated_path(status: int, content: bytes, retry_after: str | None) -> None:
    """For any status and body, the fast parser gives the generated path's SendResult or raises its error."""
    headers = {"X-Request-Id": REQUEST_ID, "Content-Type": "application/json"}
    if retry_after is not None:
        headers["Retry-After"] = retry_after

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=content, headers=headers)

    with dms.Client(
        endpoint="http://dms.test",
        project_id="0a1b2c3d4e5f60718293a4b5c6d7e8f9",
        instance_id="11c55a3e-5b4a-4f0c-9d3e-2f7b8e6a1c90",
        token="t",
        environ={},
        max_retries=0,
        transport=httpx.MockTransport(answer),
    ) as client:
        generated = _outcome(lambda: client.send("orders", "hello"))

    def lazy() -> httpx.Response:
        return httpx.Response(status, content=content, headers=headers)

    fast = _outcome(lambda: result_from_content(status, REQUEST_ID, content, lazy, 0))
    assert fast == generated
    # The direct sender's first look, which needs no response: the same result, or None to take the path above.
    stored = stored_result(status, REQUEST_ID, content, 0)
    assert stored is None or stored == generated
    assert (stored is None) == (status != 200 or not isinstance(fast, dms.SendResult) or _unusual(content))
