"""Signer against verifier over real HTTP: every way the wrapper signs is accepted by the emulator.

Requests signed by `sign_request` (sent to `canonical_url`), by `AKSKAuth` (httpx) and by
`auth_requests.AKSKAuth` (requests), with random path encodings, queries (spaces, `+`, `%`, unicode,
repeated keys, empty values), headers (case, white space, repeats) and bodies, all get a 200 from a real
emulator with authentication on. The signers and the verifier share no code.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest
import requests
from dms_rocketmq import AKSKAuth, auth_requests, canonical_url, sign_request
from dms_rocketmq_api.spec_rules import operation_path
from dms_rocketmq_emulator.pytest_plugin import EmulatorProcess, start_emulator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorProcess]:
    process = start_emulator(memory=True, auth=True)
    try:
        yield process
    finally:
        process.close()


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as client:
        yield client


def _encode_some(text: str, choices: list[int]) -> str:
    """`text` with the characters picked by `choices` percent-encoded (upper or lower hex); `/` kept."""
    out = []
    for index, char in enumerate(text):
        pick = choices[index % len(choices)] if choices else 0
        if char != "/" and pick:
            out.append(f"%{ord(char):02X}" if pick == 1 else f"%{ord(char):02x}")
        else:
            out.append(char)
    return "".join(out)


query_text = st.text(st.sampled_from([*"ab zZ09+%&=~*!'()/?:;,-._", "ü", "€", "😀", "\u00a0"]), max_size=8)
queries = st.lists(st.tuples(query_text.filter(bool), query_text), max_size=5).map(
    lambda pairs: pairs + pairs[:1]  # a repeated key
)
header_names = st.from_regex(r"X-[A-Za-z0-9-]{1,12}", fullmatch=True)
header_values = (
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=16)
    .map(lambda v: v.strip())
    .filter(bool)
)
header_lists = st.lists(st.tuples(header_names, header_values, st.booleans(), st.booleans()), max_size=4)
content_types = st.sampled_from(["application/json", "application/json;charset=UTF-8", "text/plain"])
bodies = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=40)


def _raw(text: str) -> str:
    return text.replace("&", "%26")


def _headers(spec: list[tuple[str, str, bool, bool]]) -> list[tuple[str, str]]:
    """Headers in random case, some with white space inside the value, some sent twice.

    (White space around a value cannot be sent: h11 refuses it; the verifier's unit tests cover it.)
    """
    out: list[tuple[str, str]] = []
    for name, value, padded, repeated in spec:
        if name.lower() in {n.lower() for n, _ in out}:
            continue
        shown = name.upper() if padded else name.lower()
        out.append((shown, f"{value} \t {value}" if padded else value))
        if repeated:
            out.append((name, value + "-again"))
    return out


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    engine=st.sampled_from(["rocketmq", "reliability"]),
    path_choices=st.lists(st.integers(0, 2), min_size=1, max_size=7),
    query=queries,
    plus_form=st.booleans(),
    header_spec=header_lists,
    content_type=content_types,
    text=bodies,
)
def test_every_signer_is_accepted_by_the_emulator(
    emulator: EmulatorProcess,
    http: httpx.Client,
    session: requests.Session,
    engine: str,
    path_choices: list[int],
    query: list[tuple[str, str]],
    plus_form: bool,
    header_spec: list[tuple[str, str, bool, bool]],
    content_type: str,
    text: str,
) -> None:
    """sign_request, httpx AKSKAuth and requests AKSKAuth each get 200 for the same random request."""
    ak, sk = emulator.ak or "", emulator.sk or ""
    send_path = operation_path(
        "SendMessage", engine=engine, project_id=emulator.project_id, instance_id=emulator.instance_id
    )
    path = _encode_some(send_path, path_choices)
    if plus_form:
        query_string = urlencode(query)  # space as +, as params= writes it
    else:
        # written raw: spaces, `+`, `%` and unicode as they are, for the HTTP library to encode or not
        query_string = "&".join(f"{_raw(k).replace('=', '%3D')}={_raw(v)}" for k, v in query)
    url = emulator.url + path + (f"?{query_string}" if query_string else "")
    body = json.dumps({"topic": "orders", "body": text}).encode()
    headers = [("Content-Type", content_type), *_headers(header_spec)]

    signed = sign_request("POST", url, headers, body, ak, sk)
    response = http.post(canonical_url(url), content=body, headers=[*headers, *signed.items()])
    assert response.status_code == 200, ("sign_request", url, response.text)

    response = http.post(url, content=body, headers=headers, auth=AKSKAuth(ak, sk))
    assert response.status_code == 200, ("AKSKAuth", url, response.text)

    unique = dict(headers)  # requests keeps one value per header name
    response = session.post(url, data=body, headers=unique, auth=auth_requests.AKSKAuth(ak, sk))
    assert response.status_code == 200, ("auth_requests.AKSKAuth", url, response.text)


def test_params_with_space_and_plus_are_accepted(
    emulator: EmulatorProcess, http: httpx.Client, session: requests.Session
) -> None:
    """`params={"a": "b c", "p": "x+y"}`, which httpx and requests write as `a=b+c`, gets 200 from both adapters."""
    ak, sk = emulator.ak or "", emulator.sk or ""
    url = emulator.messages_url
    params = {"a": "b c", "p": "x+y"}
    document = {"topic": "orders", "body": "plus"}
    assert http.post(url, params=params, json=document, auth=AKSKAuth(ak, sk)).status_code == 200
    assert session.post(url, params=params, json=document, auth=auth_requests.AKSKAuth(ak, sk)).status_code == 200
    assert http.post(url + "?a=b+c", json=document, auth=AKSKAuth(ak, sk)).status_code == 200
