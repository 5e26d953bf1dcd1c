"""Bad input against the emulator over raw HTTP, beyond what the schemathesis contract suite sends.

Every answer must be a 4xx in Huawei's error body (error_code, error_msg) with an X-Request-Id, or a closed
connection: never a 500, never a hang (every socket read has a timeout), and memory stays bounded.
The emulator runs with authentication off so that bad bodies reach the body parser and the schema check.
"""

from __future__ import annotations

import json
import socket
import string
import time
from collections.abc import Callable

import pytest
from dms_rocketmq_api.spec_rules import HEADER_MAX_BYTES, REQUEST_MAX_BYTES
from emulators import EmulatorFactory, EmulatorProcess
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rawhttp import (
    SEND_PATH,
    assert_huawei_error,
    assert_refused,
    connect,
    exchange,
    read_reply,
    request_bytes,
    stream,
)

FUZZ = settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
MAX_REQUEST_BYTES = REQUEST_MAX_BYTES


def valid_body(body: str = "hello") -> bytes:
    return json.dumps({"topic": "orders", "body": body}).encode()


def test_a_valid_raw_request_is_stored(open_emulator: EmulatorProcess) -> None:
    """The raw client's well-formed request gets a 200, so the refusals below are the input's doing."""
    reply = exchange(open_emulator.url, request_bytes(valid_body("raw-ok")))
    assert reply is not None
    assert reply.status == 200, reply.body
    assert reply.json()["topic"] == "orders"


@FUZZ
@given(data=st.binary(min_size=1, max_size=2048))
def test_random_bytes_get_a_huawei_400(open_emulator: EmulatorProcess, data: bytes) -> None:
    """Random bytes as a JSON body get a 400 in the Huawei error body."""
    assert_huawei_error(exchange(open_emulator.url, request_bytes(data)), 400)


@FUZZ
@given(
    prefix=st.sampled_from([b'{"topic":"orders","body":"', b'{"topic":"', b'{"', b""]),
    bad=st.sampled_from([b"\xff", b"\xfe\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80abc"]),
    suffix=st.sampled_from([b'"}', b'","body":"x"}', b"", b'"']),
)
def test_invalid_utf8_gets_dms_00400005(
    open_emulator: EmulatorProcess, prefix: bytes, bad: bytes, suffix: bytes
) -> None:
    """A body that is not valid UTF-8 gets 400 DMS.00400005 (not JSON / invalid characters)."""
    body = assert_huawei_error(exchange(open_emulator.url, request_bytes(prefix + bad + suffix)), 400)
    assert body["error_code"] == "DMS.00400005", body


@pytest.mark.parametrize("depth", [500, 5_000, 200_000])
@pytest.mark.parametrize(
    "shape",
    [
        ("[", "]"),
        ('{"a":', "}"),
    ],
    ids=["arrays", "objects"],
)
def test_deeply_nested_json_gets_a_400(open_emulator: EmulatorProcess, depth: int, shape: tuple[str, str]) -> None:
    """JSON nested thousands of levels deep (where a recursive parser overflows) gets a 400, never a 500."""
    opening, closing = shape
    nested = opening * depth + "1" + closing * depth
    for document in (nested, f'{{"topic":"orders","body":"x","property_list":{nested}}}'):
        assert_huawei_error(exchange(open_emulator.url, request_bytes(document.encode())), 400)


@FUZZ
@given(
    number=st.sampled_from(["1e999999", "-1e999999", "9" * 5000, "-" + "9" * 5000, "1" + "0" * 400, "NaN", "Infinity"])
    | st.integers(min_value=-(10**40), max_value=10**40).map(str),
    field=st.sampled_from(["topic", "body", "property_list", "name", "value"]),
)
def test_huge_numbers_get_a_400(open_emulator: EmulatorProcess, number: str, field: str) -> None:
    """Numbers too big for a float or for Python's int parsing, or NaN, in any field get a 400."""
    if field in ("name", "value"):
        other = "name" if field == "value" else "value"
        document = f'{{"topic":"orders","body":"x","property_list":[{{"{field}":{number},"{other}":"KEYS"}}]}}'
    elif field == "topic":
        document = f'{{"topic":{number},"body":"x"}}'
    elif field == "body":
        document = f'{{"topic":"orders","body":{number}}}'
    else:
        document = f'{{"topic":"orders","body":"x","property_list":{number}}}'
    assert_huawei_error(exchange(open_emulator.url, request_bytes(document.encode())), 400)


def test_duplicate_keys_are_read_last_one_wins(open_emulator: EmulatorProcess) -> None:
    """Duplicate keys are read as the last occurrence (as Jackson and Python read them), never a 500."""
    document = b'{"topic":"no-such-topic","topic":"orders","body":"first","body":"dup-last-wins"}'
    reply = exchange(open_emulator.url, request_bytes(document))
    assert reply is not None
    assert reply.status == 200, reply.body
    assert reply.json()["body"] == "dup-last-wins"
    document = b'{"topic":"orders","topic":"no-such-topic","body":"x"}'
    body = assert_huawei_error(exchange(open_emulator.url, request_bytes(document)), 400)
    assert body["error_code"] == "DMS.00400876", body


@FUZZ
@given(
    keys=st.lists(st.sampled_from(["topic", "body", "property_list", "extra"]), min_size=2, max_size=8),
    values=st.lists(
        st.sampled_from(['"orders"', '"x"', "[]", "null", "1", '{"a":1}', '""', '[{"name":"TAGS","value":"a"}]']),
        min_size=8,
        max_size=8,
    ),
)
def test_duplicate_keys_never_break_the_server(
    open_emulator: EmulatorProcess, keys: list[str], values: list[str]
) -> None:
    """Any mix of repeated keys gets a 200 or a 4xx in the Huawei error body."""
    document = "{" + ",".join(f'"{key}":{value}' for key, value in zip(keys, values, strict=False)) + "}"
    reply = exchange(open_emulator.url, request_bytes(document.encode()))
    assert reply is not None
    if reply.status != 200:
        assert_huawei_error(reply, 400)


@FUZZ
@given(
    content_type=st.sampled_from(
        [
            None,
            "",
            "text/plain",
            "application/xml",
            "multipart/form-data; boundary=x",
            "application/x-www-form-urlencoded",
        ]
    )
    | st.text(alphabet=string.printable.strip() + " ", max_size=80),
    body=st.sampled_from([b"", b"not json", b"<xml/>", b"topic=orders&body=x", b'{"topic":"orders"}', b"[]"]),
)
def test_wrong_or_missing_content_type_with_a_bad_body_gets_a_400(
    open_emulator: EmulatorProcess, content_type: str | None, body: bytes
) -> None:
    """Any content type, or none, with a body that is not a valid message gets a 400 in the Huawei error body."""
    assert_huawei_error(exchange(open_emulator.url, request_bytes(body, content_type=content_type)), 400)


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/xml", "application/octet-stream"])
def test_wrong_or_missing_content_type_with_a_valid_body_is_never_a_5xx(
    open_emulator: EmulatorProcess, content_type: str | None
) -> None:
    """A valid message under another or no Content-Type is read as JSON (200) or refused with a 4xx."""
    marker = f"ctype-{content_type}"
    reply = exchange(open_emulator.url, request_bytes(valid_body(marker), content_type=content_type))
    assert reply is not None
    if reply.status == 200:
        assert reply.json()["body"] == marker
    else:
        assert_huawei_error(reply)


@pytest.mark.parametrize("size", [8 * 1024, 60 * 1024])
@pytest.mark.parametrize("header", ["X-Sdk-Date", "Authorization", "X-Auth-Token", "X-Project-Id", "Content-Type"])
def test_long_header_values_never_break_the_server(open_emulator: EmulatorProcess, header: str, size: int) -> None:
    """8 and 60 KB header values get a 200 or a Huawei 4xx; over the spec's head limit, the gateway's 400."""
    value = "a" * size
    content_type = value if header == "Content-Type" else "application/json"
    headers = [] if header == "Content-Type" else [(header, value)]
    reply = exchange(open_emulator.url, request_bytes(valid_body(), headers=headers, content_type=content_type))
    if reply is not None and reply.status == 200:
        assert size <= HEADER_MAX_BYTES
        return
    body = assert_huawei_error(reply)
    if size > HEADER_MAX_BYTES:
        assert body["error_code"] == "APIGW.0201", body


FRAMING_ERRORS = {
    "negative length": b"Content-Length: -1",
    "non-numeric length": b"Content-Length: abc",
    "two lengths": b"Content-Length: 29\r\nContent-Length: 30",
    "length and chunked": b"Content-Length: 29\r\nTransfer-Encoding: chunked",
    "huge length": b"Content-Length: 99999999999999999999999",
    "unknown transfer coding": b"Transfer-Encoding: gzip",
}


@pytest.mark.parametrize("framing", FRAMING_ERRORS.values(), ids=FRAMING_ERRORS.keys())
def test_request_framing_errors_get_a_400_and_a_close(open_emulator: EmulatorProcess, framing: bytes) -> None:
    """Broken request framing (lengths, transfer codings) gets the gateway's 400 and a close; nothing is stored."""
    marker = f"framing-{len(framing)}-{framing[:8].hex()}"
    head = request_bytes(valid_body(marker), content_length=False).partition(b"\r\n\r\n")[0]
    reply = exchange(open_emulator.url, head + b"\r\n" + framing + b"\r\n\r\n" + valid_body(marker))
    if reply is not None:
        assert assert_huawei_error(reply, 400)["error_code"] == "APIGW.0201"
        assert reply.headers.get("connection") == "close", reply.headers
    bodies = {message["body"] for message in open_emulator.messages("orders")}
    assert marker not in bodies


def test_over_limit_body_declared_with_content_length_gets_413_before_it_is_sent(
    open_emulator: EmulatorProcess,
) -> None:
    """A Content-Length over 12 MB, with the body trickling in, gets 413 APIGW.0201 without waiting for it."""
    declared = MAX_REQUEST_BYTES + 1
    head = request_bytes(b"", headers=[]).replace(b"Content-Length: 0", f"Content-Length: {declared}".encode())
    # 1 KB every 10 ms would take over two hours to send: only an early answer ends this in time.
    reply = stream(open_emulator.url, head, (b"x" * 1024 for _ in range(declared // 1024 + 1)), pause=0.01)
    body = assert_huawei_error(reply, 413)
    assert body["error_code"] == "APIGW.0201", body


def test_expect_100_continue_is_answered_and_refused_early_when_too_large(open_emulator: EmulatorProcess) -> None:
    """Expect: 100-continue gets 100 then 200, and a declared 13 MB body 413 before any 100."""
    body = valid_body("x" * 5000)
    full = request_bytes(body, headers=[("Expect", "100-continue")])
    with connect(open_emulator.url) as sock:
        sock.sendall(full[: len(full) - len(body)])
        interim = read_reply(sock)
        assert interim is not None
        assert interim.status == 100
        sock.sendall(body)
        reply = read_reply(sock)
        assert reply is not None
        assert reply.status == 200, reply.body
    head = request_bytes(b"", headers=[("Expect", "100-continue")])
    head = head.replace(b"Content-Length: 0", f"Content-Length: {MAX_REQUEST_BYTES + 1}".encode())
    with connect(open_emulator.url) as sock:
        sock.sendall(head)
        body_of_error = assert_huawei_error(read_reply(sock), 413)
    assert body_of_error["error_code"] == "APIGW.0201"


def test_over_limit_chunked_body_gets_413_or_a_close(open_emulator: EmulatorProcess) -> None:
    """A chunked body that grows past 12 MB, sent in 256 KB pieces, is cut off with 413 or a closed connection."""
    head = request_bytes(b"", content_length=False, headers=[("Transfer-Encoding", "chunked")])
    piece = b"x" * (256 * 1024)
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    chunks = [chunk] * (MAX_REQUEST_BYTES // len(piece) + 8) + [b"0\r\n\r\n"]
    reply = stream(open_emulator.url, head, chunks, pause=0.002)
    assert_refused(reply, 413)


def test_half_open_connections_do_not_block_other_clients(open_emulator: EmulatorProcess) -> None:
    """200 connections stuck mid-request do not stop a normal request; a never-finished body is not stored."""
    stuck: list[socket.socket] = []
    partials = [
        b"",
        b"POST /v2/rocketmq/",
        request_bytes(b"")[:-10],
        request_bytes(valid_body("never-finished"))[:-5],
    ]
    try:
        for index in range(200):
            sock = connect(open_emulator.url, timeout=20.0)
            stuck.append(sock)
            if partials[index % 4]:
                sock.sendall(partials[index % 4])
        reply = exchange(open_emulator.url, request_bytes(valid_body("beside-200-stuck")))
        assert reply is not None
        assert reply.status == 200, reply.body
    finally:
        for sock in stuck:
            sock.close()
    reply = exchange(open_emulator.url, request_bytes(valid_body("after-stuck")))
    assert reply is not None
    assert reply.status == 200
    bodies = [message["body"] for message in open_emulator.messages("orders")]
    assert "never-finished" not in bodies, "a request whose body never finished was stored"


def test_unknown_paths_and_methods_get_huawei_errors(open_emulator: EmulatorProcess) -> None:
    """Odd paths and methods on the API get a 404/405 Huawei body, never a 500."""
    cases = [
        ("PATCH", SEND_PATH, 405),
        ("DELETE", SEND_PATH, 405),
        ("POST", SEND_PATH + "/extra", 404),
        ("POST", SEND_PATH.replace("rocketmq", "kafka"), 404),
        ("POST", "/v2/rocketmq//instances//messages", 404),
        ("POST", "/v2/" + "%ff" * 100, 404),
        ("POST", "/" + "a/" * 2000, 404),
    ]
    for method, path, status in cases:
        reply = exchange(open_emulator.url, request_bytes(valid_body(), method=method, path=path))
        assert_huawei_error(reply, status)


CONTROL_CASES = [
    ("POST", "/_emulator/faults", b"garbage", 400),
    ("POST", "/_emulator/faults", b"", 400),
    ("POST", "/_emulator/faults", b"[" * 5000 + b"]" * 5000, 400),
    ("POST", "/_emulator/faults", b"\xff\xfe", 400),
    ("POST", "/_emulator/faults", b'{"count": -1}', 400),
    ("POST", "/_emulator/faults", b'{"count": "1"}', 400),
    ("POST", "/_emulator/faults", b'{"count": 1, "status": 200000}', 400),
    ("POST", "/_emulator/faults", b'{"count": 1, "delay_ms": 1e999}', 400),
    ("POST", "/_emulator/faults", b'{"count": 1' + b"0" * 5000 + b"}", 400),
    ("GET", "/_emulator/messages?limit=-1", b"", 400),
    ("GET", "/_emulator/messages?limit=abc", b"", 400),
    ("GET", "/_emulator/messages?offset=" + "9" * 30, b"", 400),
    ("GET", "/_emulator/reset", b"", 405),
    ("GET", "/_emulator/nothing-here", b"", 404),
]


@pytest.mark.parametrize(("method", "path", "body", "status"), CONTROL_CASES)
def test_the_control_api_refuses_bad_input_with_huawei_errors(
    open_emulator: EmulatorProcess, method: str, path: str, body: bytes, status: int
) -> None:
    """The control API (faults, messages, reset) answers bad input with a 4xx Huawei body too, never a 500."""
    reply = exchange(open_emulator.url, request_bytes(body, method=method, path=path))
    assert_huawei_error(reply, status)
    armed = exchange(open_emulator.url, request_bytes(method="GET", path="/_emulator/faults"))
    assert armed is not None
    assert armed.json()["count"] == 0, "a refused fault request armed faults"


def test_memory_stays_bounded_under_heavy_bad_input(
    start_emulator: EmulatorFactory, record_property: Callable[[str, object], None]
) -> None:
    """Emulator RSS grows by less than 200 MiB over a heavy bad-input run (figures printed with -s)."""
    emulator = start_emulator(auth=False)
    for index in range(20):  # warm up: imports, caches, connection objects
        exchange(emulator.url, request_bytes(valid_body(f"warm-{index}")))
    before = emulator.rss_kib()
    started = time.monotonic()
    piece = b"x" * (1024 * 1024)
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    for _ in range(20):  # ~260 MB sent in chunks that the server must refuse past 12 MB
        head = request_bytes(b"", content_length=False, headers=[("Transfer-Encoding", "chunked")])
        assert_refused(stream(emulator.url, head, [chunk] * 13 + [b"0\r\n\r\n"]), 413)
    for _ in range(8):  # just under the limit: read in full, then refused as a too-large message
        document = b'{"topic":"orders","body":"' + b"y" * (MAX_REQUEST_BYTES - 100) + b'"}'
        assert_huawei_error(exchange(emulator.url, request_bytes(document)), 400)
    for depth in (10_000, 100_000, 1_000_000):
        assert_huawei_error(exchange(emulator.url, request_bytes(b"[" * depth + b"]" * depth)), 400)
    for index in range(300):
        assert_huawei_error(exchange(emulator.url, request_bytes(bytes([index % 256]) * 1000)), 400)
    stuck = [connect(emulator.url) for _ in range(100)]
    for sock in stuck:
        sock.sendall(request_bytes(valid_body("stuck"))[:-3])
    peak = emulator.rss_kib()
    for sock in stuck:
        sock.close()
    reply = exchange(emulator.url, request_bytes(valid_body("after-the-storm")))
    assert reply is not None
    assert reply.status == 200
    after = emulator.rss_kib()
    figures = {"rss_before_kib": before, "rss_peak_kib": peak, "rss_after_kib": after}
    figures["seconds"] = round(time.monotonic() - started, 1)
    for name, value in figures.items():
        record_property(name, value)
    print(f"\nemulator RSS under bad input: {figures}")
    assert after - before < 200 * 1024, figures


def test_reading_a_reply_from_a_silent_server_times_out_instead_of_hanging() -> None:
    """The raw client's timeout works: a listener that never answers raises ServerHung (so no test can hang)."""
    from rawhttp import ServerHung

    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        with connect(f"http://127.0.0.1:{port}", timeout=0.5) as sock:
            sock.sendall(request_bytes(valid_body()))
            with pytest.raises(ServerHung):
                read_reply(sock)
