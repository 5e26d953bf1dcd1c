"""KEYS on the wire, one rule for the spec, the emulator and the client's parser.

openapi.yaml allows one `KEYS` entry in a send's `property_list` (several keys in it, separated by spaces); what
the real service makes of two is not published. The emulator refuses two; what it accepts comes back, read by
the client's parser (`StoredMessage.keys`), with exactly the keys sent, each found by a key query.
"""

from __future__ import annotations

import json

import httpx
import rawhttp
from dms_rocketmq import Client
from dms_rocketmq._query import stored_message
from dms_rocketmq_api.models.message import Message as GeneratedMessage
from dms_rocketmq_api.spec_rules import KEY_MAX_LENGTH
from emulators import EmulatorProcess
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

KEY = st.text(st.characters(codec="utf-8", exclude_categories=["Z", "C"]), min_size=1, max_size=KEY_MAX_LENGTH)
ENTRY_KEYS = st.lists(KEY, min_size=1, max_size=3)


def client_for(emulator: EmulatorProcess) -> Client:
    return Client(
        endpoint=emulator.url,
        project_id=emulator.project_id,
        instance_id=emulator.instance_id,
        ak="any",
        sk="auth-is-off",
        max_retries=0,
    )


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(entries=st.lists(ENTRY_KEYS, max_size=3), tag_first=st.booleans())
def test_keys_entries_on_the_wire_and_back(
    open_emulator: EmulatorProcess, entries: list[list[str]], tag_first: bool
) -> None:
    """Two or more KEYS entries get 400 DMS.00400062 naming property_list and store nothing; none or one is
    stored, read back by the client with exactly the keys sent, in order, and each key finds the message."""
    property_list = [{"name": "KEYS", "value": " ".join(keys)} for keys in entries]
    tag = {"name": "TAGS", "value": "t"}
    property_list = [tag, *property_list] if tag_first else [*property_list, tag]
    document = {"topic": "orders", "body": f"keys-{len(entries)}", "property_list": property_list}
    reply = rawhttp.exchange(open_emulator.url, rawhttp.request_bytes(json.dumps(document).encode()))
    if len(entries) > 1:
        body = rawhttp.assert_huawei_error(reply, 400)
        assert body == {"error_code": "DMS.00400062", "error_msg": "Invalid property_list parameter in the request."}
        return
    assert reply is not None
    assert reply.status == 200, reply.body
    msg_id = reply.json()["msg_id"]
    sent = [key for keys in entries for key in keys]
    with client_for(open_emulator) as client:
        stored = client.get_message("orders", msg_id)
        assert stored is not None
        assert list(stored.keys) == sent
        for key in set(sent):
            found = {message.msg_id for message in client.query_messages("orders", key=key, start=0)}
            assert msg_id in found, key


def test_the_parser_takes_the_keys_of_every_keys_entry_listed() -> None:
    """A listing with two KEYS entries (either reading of the real service's would list one; an older store may
    hold two) gives the keys of both, in order: right under every reading."""
    listed = {
        "msg_id": "7F00000100C8A1B2C3D4000A51E00001",
        "topic": "orders",
        "body": "x",
        "property_list": [
            {"name": "KEYS", "value": "a b"},
            {"name": "TAGS", "value": "t"},
            {"name": "KEYS", "value": "c"},
            {"name": "UNIQ_KEY", "value": "7F00000100C8A1B2C3D4000A51E00001"},
        ],
    }
    response = httpx.Response(200, json={"messages": [listed], "total": 1})
    message = stored_message(GeneratedMessage.from_dict(listed), response)
    assert message.keys == ("a", "b", "c")
    assert message.tags == "t"
