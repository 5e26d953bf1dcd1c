"""Deliberately broken emulators: the real emulator app behind a small ASGI middleware that plants one defect.

Each variant is served by uvicorn on a free loopback port, in a thread of the test process, so the contract
suite (run in a subprocess) talks to it over real HTTP exactly as it talks to a correct server.
"""

from __future__ import annotations

import dataclasses
import json
import urllib.parse
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from _shared.inprocess import serve as serve  # the variants are served with it (re-exported)
from dms_rocketmq_emulator import Credential, InstanceSettings, Settings, TopicSettings, create_app

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
# A broken variant: the emulator app in, the app with one planted defect out.
Variant = Callable[[ASGIApp], ASGIApp]
# (status, headers, body) -> (status, headers, body), for one buffered response.
ResponseEdit = Callable[[int, list[tuple[bytes, bytes]], bytes], tuple[int, list[tuple[bytes, bytes]], bytes]]

PROJECT_ID = "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0"
INSTANCE_ID = "0badc0de-0000-4000-8000-00000000b0b0"
TOPIC = "broken-orders"
AK = "BROKENVARIANTAK00001"
SK = "sk-BROKEN-VARIANT-SECRET-3c8e1f0a9b7d"


def _is_api(scope: Scope) -> bool:
    return scope["type"] == "http" and scope["path"].startswith("/v2/")


def _is_send(scope: Scope) -> bool:
    return _is_api(scope) and scope["method"] == "POST"


def _is_query(scope: Scope) -> bool:
    return _is_api(scope) and scope["method"] == "GET"


def _replace_json(body: bytes, edit: Callable[[Any], Any]) -> bytes:
    return json.dumps(edit(json.loads(body))).encode("utf-8")


def _set_content_length(headers: list[tuple[bytes, bytes]], length: int) -> list[tuple[bytes, bytes]]:
    kept = [(name, value) for name, value in headers if name.lower() != b"content-length"]
    return [*kept, (b"content-length", str(length).encode("ascii"))]


def rewrite_responses(app: ASGIApp, edit: ResponseEdit, select: Callable[[Scope], bool] = _is_send) -> ASGIApp:
    """Middleware: buffer each response to a request `select` picks (sends by default) and pass it through
    `edit` before it leaves."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if not select(scope):
            await app(scope, receive, send)
            return
        start: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    status, headers, body = edit(start["status"], list(start.get("headers", [])), b"".join(chunks))
                    headers = _set_content_length(headers, len(body))
                    await send({"type": "http.response.start", "status": status, "headers": headers})
                    await send({"type": "http.response.body", "body": body})
            else:
                await send(message)

        await app(scope, receive, capture)

    return middleware


def queue_offset_as_string(app: ASGIApp) -> ASGIApp:
    """Defect: a 200 whose `queue_offset` is a JSON string ("41") instead of an integer."""

    def edit(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> tuple[int, list[Any], bytes]:
        if status == 200:

            def stringify(payload: dict[str, Any]) -> dict[str, Any]:
                return {**payload, "queue_offset": str(payload["queue_offset"])}

            body = _replace_json(body, stringify)
        return status, headers, body

    return rewrite_responses(app, edit)


def server_error_for_malformed_body(app: ASGIApp) -> ASGIApp:
    """Defect: a body the emulator refuses as malformed (400 DMS.00400004/5/62) gets a 500 instead."""
    malformed = {"DMS.00400004", "DMS.00400005", "DMS.00400062"}

    def edit(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> tuple[int, list[Any], bytes]:
        if status == 400 and json.loads(body).get("error_code") in malformed:
            error = {"error_code": "DMS.00500000", "error_msg": "Internal service error."}
            return 500, headers, json.dumps(error).encode("utf-8")
        return status, headers, body

    return rewrite_responses(app, edit)


def accepts_body_without_topic(app: ASGIApp) -> ASGIApp:
    """Defect: a JSON object without `topic` is not refused; the server quietly sends it to a default topic."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if not _is_send(scope):
            await app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        raw = b"".join(chunks)
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = None
        if isinstance(payload, dict) and "topic" not in payload:
            raw = json.dumps({**payload, "topic": TOPIC}).encode("utf-8")
            # The AK/SK signature covered the original body, so this variant is run with token auth.
            scope = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]}
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": raw, "more_body": False}

        await app(scope, replay, send)

    return middleware


def drops_request_id(app: ASGIApp) -> ASGIApp:
    """Defect: responses leave out the X-Request-Id header."""

    def edit(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> tuple[int, list[Any], bytes]:
        return status, [(name, value) for name, value in headers if name.lower() != b"x-request-id"], body

    return rewrite_responses(app, edit, _is_api)


def _rewrite_send_bodies(app: ASGIApp, edit: Callable[[dict[str, Any]], dict[str, Any]]) -> ASGIApp:
    """Middleware: each send's JSON object goes to the app as `edit` returns it (run with token auth: an AK/SK
    signature covers the body)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if not _is_send(scope):
            await app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        raw = b"".join(chunks)
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = None
        if isinstance(payload, dict):
            raw = json.dumps(edit(payload)).encode("utf-8")
            scope = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]}
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": raw, "more_body": False}

        await app(scope, replay, send)

    return middleware


def acknowledges_without_storing(app: ASGIApp) -> ASGIApp:
    """Defect: sends are acknowledged (200, msg_id, offset) but nothing is kept: every query finds nothing."""

    def edit(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> tuple[int, list[Any], bytes]:
        if status == 200:
            body = json.dumps({"messages": [], "total": 0}).encode("utf-8")
        return status, headers, body

    return rewrite_responses(app, edit, _is_query)


def stores_a_different_body(app: ASGIApp) -> ASGIApp:
    """Defect: the stored body is not the one sent (its first character is replaced), and the send is still
    acknowledged with 200."""

    def edit(payload: dict[str, Any]) -> dict[str, Any]:
        body = payload.get("body")
        if isinstance(body, str) and body:
            payload = {**payload, "body": ("x" if body[0] != "x" else "y") + body[1:]}
        return payload

    return _rewrite_send_bodies(app, edit)


def query_total_is_page_length(app: ASGIApp) -> ASGIApp:
    """Defect: a query's `total` is the number of messages on the page, not the number of matches."""

    def edit(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> tuple[int, list[Any], bytes]:
        if status == 200:
            body = _replace_json(body, lambda page: {**page, "total": len(page["messages"])})
        return status, headers, body

    return rewrite_responses(app, edit, _is_query)


def query_ignores_key(app: ASGIApp) -> ASGIApp:
    """Defect: a query's `key` is ignored; every message in the time range is listed (run with token auth: an
    AK/SK signature covers the query string)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if _is_query(scope):
            pairs = urllib.parse.parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
            kept = urllib.parse.urlencode([(name, value) for name, value in pairs if name != "key"])
            scope = {**scope, "query_string": kept.encode("latin-1")}
        await app(scope, receive, send)

    return middleware


def settings_for(*, token: str | None = None, auth: bool = True) -> Settings:
    """An in-memory emulator with the broken variants' project, instance and topic, auth on (AK/SK, or the
    token when one is given) unless `auth` is False."""
    if not auth:
        return dataclasses.replace(settings_for(token=token), credentials=(), tokens=())
    return Settings(
        host="127.0.0.1",
        port=0,
        data_dir=None,
        project_id=PROJECT_ID,
        topics=(TopicSettings(TOPIC),),
        instances=(InstanceSettings(INSTANCE_ID),),
        credentials=() if token else (Credential(AK, SK),),
        tokens=(token,) if token else (),
    )


def build(variant: Callable[[ASGIApp], ASGIApp], *, token: str | None = None, auth: bool = True) -> ASGIApp:
    """The real emulator app, wrapped in `variant`."""
    return variant(create_app(settings_for(token=token, auth=auth)))


def unchanged(app: ASGIApp) -> ASGIApp:
    """No middleware: for variants whose defect is in the emulator's settings (see `build`)."""
    return app


# -- variants whose difference is a choice the spec leaves open: the drift report must find each one and name
# the assumption (`x-assumptions` in openapi.yaml) it contradicts. They differ from the emulator, not from
# the spec, so the contract suite may pass against them.
def query_unknown_topic_other_code(app: ASGIApp) -> ASGIApp:
    """Choice: a query of a topic that does not exist gets 404 DMS.00404023 instead of 400 DMS.00400876."""

    def edit(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> tuple[int, list[Any], bytes]:
        if status == 400 and json.loads(body).get("error_code") == "DMS.00400876":
            error = {"error_code": "DMS.00404023", "error_msg": "The topic does not exist."}
            return 404, headers, json.dumps(error).encode("utf-8")
        return status, headers, body

    return rewrite_responses(app, edit, _is_query)


_TIME_BOUNDS = ("start_time", "end_time")
_LARGEST_TIME = 999_999_999_999_999


def query_time_in_seconds(app: ASGIApp) -> ASGIApp:
    """Choice: `start_time` and `end_time` are Unix seconds (run with token auth: the query string is
    rewritten, which an AK/SK signature covers)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if _is_query(scope):
            pairs = urllib.parse.parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
            # Seconds read as milliseconds, capped at the largest value the parameter's pattern allows (the
            # server converts, so its own check still passes).
            seconds = [
                (
                    name,
                    str(min(int(value) * 1000, _LARGEST_TIME)) if name in _TIME_BOUNDS and value.isdigit() else value,
                )
                for name, value in pairs
            ]
            scope = {**scope, "query_string": urllib.parse.urlencode(seconds).encode("latin-1")}
        await app(scope, receive, send)

    return middleware


def query_newest_first(app: ASGIApp) -> ASGIApp:
    """Choice: a page lists its messages newest first."""

    def edit(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> tuple[int, list[Any], bytes]:
        if status == 200:
            body = _replace_json(body, lambda page: {**page, "messages": page["messages"][::-1]})
        return status, headers, body

    return rewrite_responses(app, edit, _is_query)


def query_key_matches_first_key(app: ASGIApp) -> ASGIApp:
    """Choice: `key` matches only the first of a message's keys (the page loses the others, `total` with it)."""

    def first_key_only(scope: Scope) -> Callable[[int, list[tuple[bytes, bytes]], bytes], tuple[int, list[Any], bytes]]:
        key = dict(urllib.parse.parse_qsl(scope["query_string"].decode("latin-1"))).get("key")

        def edit(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> tuple[int, list[Any], bytes]:
            if status != 200 or not key:
                return status, headers, body

            def first(message: dict[str, Any]) -> str:
                keys = [p["value"] for p in message["property_list"] if p["name"] == "KEYS"]
                return keys[0].split(" ")[0] if keys else ""

            def narrow(page: dict[str, Any]) -> dict[str, Any]:
                kept = [m for m in page["messages"] if first(m) == key]
                return {"messages": kept, "total": page["total"] - (len(page["messages"]) - len(kept))}

            return status, headers, _replace_json(body, narrow)

        return edit

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if not _is_query(scope):
            await app(scope, receive, send)
            return
        await rewrite_responses(app, first_key_only(scope), _is_query)(scope, receive, send)

    return middleware
