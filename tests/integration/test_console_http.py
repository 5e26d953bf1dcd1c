"""The console's HTTP side on a real server: who may see it, what it may do, and that its query is ListMessages.

Safety is checked at the server, not in the page: a console off beyond loopback, Host names checked against
DNS rebinding, actions refused without --console-actions or without the header a cross-site request
cannot send, and a Content-Security-Policy on every answer that forbids inline script.
"""

from __future__ import annotations

import html.parser
import json
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _shared.inprocess import serve
from dms_rocketmq import Client
from dms_rocketmq_api.spec_rules import ENGINES, operation_path
from dms_rocketmq_emulator import Settings, create_app, start_emulator
from dms_rocketmq_emulator._config import DEFAULT_INSTANCE_ID, DEFAULT_PROJECT_ID, TopicSettings
from dms_rocketmq_emulator._console import CONSOLE_PATH, CONTENT_SECURITY_POLICY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.integration

API = CONSOLE_PATH + "/api"
READ_PATHS = [
    CONSOLE_PATH,
    CONSOLE_PATH + "/console.js",
    CONSOLE_PATH + "/console.css",
    API + "/overview",
    API + "/messages?topic=orders&start_time=0&end_time=1",
]
ACTION = {"X-DMS-Console": "1", "Content-Type": "application/json"}


def _settings(**overrides: Any) -> Settings:
    return Settings(data_dir=None, topics=(TopicSettings("orders", 4),), **overrides)


@pytest.fixture(scope="module")
def loopback() -> Iterator[str]:
    """An in-memory emulator listening on loopback, console read-only (the defaults)."""
    with serve(create_app(_settings())) as url:
        yield url


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10"])  # the server still listens on 127.0.0.1
def test_the_console_is_off_beyond_loopback_unless_asked(host: str) -> None:
    """Listening beyond loopback, every console URL answers 403 DMS.00403001; with --console it serves."""
    with serve(create_app(_settings(host=host))) as url:
        for path in READ_PATHS:
            answer = httpx.get(url + path)
            assert answer.status_code == 403, path
            assert answer.json()["error_code"] == "DMS.00403001"
            assert answer.headers["X-Request-Id"]
    with serve(create_app(_settings(host=host, console=True))) as url:
        for path in READ_PATHS:
            assert httpx.get(url + path).status_code == 200, path


def test_no_console_turns_it_off_on_loopback_too() -> None:
    """`--no-console` (console=False) refuses the console even on loopback."""
    with serve(create_app(_settings(console=False))) as url:
        assert httpx.get(url + CONSOLE_PATH).json()["error_code"] == "DMS.00403001"


def test_every_console_answer_carries_the_content_security_policy(loopback: str) -> None:
    """Pages, assets, JSON and errors all carry the CSP (scripts from this origin only) and nosniff."""
    for path in [*READ_PATHS, API + "/messages?topic=nope", API + "/message?topic=orders"]:
        answer = httpx.get(loopback + path)
        assert answer.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY, path
        assert answer.headers["X-Content-Type-Options"] == "nosniff", path
    assert "script-src 'self';" in CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert "unsafe-eval" not in CONTENT_SECURITY_POLICY


class _PageMarkup(html.parser.HTMLParser):
    """Collects what would need 'unsafe-inline': script text, event-handler attributes, style attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        self.inline += [f"{tag} {name}" for name in names if name.startswith("on") or name == "style"]
        if tag == "script":
            self.scripts.append(dict(attrs).get("src") or "")
            self._in_script = True
        if tag == "style":
            self.inline.append("style element")

    def handle_endtag(self, tag: str) -> None:
        self._in_script = self._in_script and tag != "script"

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append("inline script")


def test_the_page_has_no_inline_script_or_style(loopback: str) -> None:
    """The HTML loads its one script from a file and has no inline script, handler or style to allow."""
    markup = _PageMarkup()
    markup.feed(httpx.get(loopback + CONSOLE_PATH).text)
    assert markup.inline == []
    assert markup.scripts == [CONSOLE_PATH + "/console.js"]
    script = httpx.get(loopback + CONSOLE_PATH + "/console.js").text
    assert "innerHTML" not in script
    assert "insertAdjacentHTML" not in script
    assert "eval(" not in script


@pytest.mark.parametrize(
    ("host", "status"),
    [("localhost", 200), ("127.0.0.1", 200), ("127.1.2.3", 200), ("[::1]", 200), ("evil.example", 403), ("", 403)],
)
def test_the_console_answers_only_loopback_host_names(loopback: str, host: str, status: int) -> None:
    """A request whose Host is not a loopback name (DNS rebinding) is refused with 403 DMS.00403002."""
    port = loopback.rsplit(":", 1)[1]
    for path in (CONSOLE_PATH, API + "/overview"):
        answer = httpx.get(loopback + path, headers={"Host": f"{host}:{port}" if host else ""})
        assert answer.status_code == status, path
        if status == 403:
            assert answer.json()["error_code"] == "DMS.00403002"


def test_actions_are_refused_without_console_actions(loopback: str) -> None:
    """Read-only: reset and faults are refused by the server (403 DMS.00403003) and change nothing."""
    for path in ("/reset", "/faults"):
        answer = httpx.post(loopback + API + path, headers=ACTION, json={"count": 5})
        assert answer.status_code == 403
        assert answer.json()["error_code"] == "DMS.00403003"
    assert httpx.get(loopback + "/_emulator/faults").json()["count"] == 0


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "application/json"},
        {**ACTION, "X-DMS-Console": "yes"},
        {**ACTION, "Origin": "http://evil.example"},
        {**ACTION, "Sec-Fetch-Site": "cross-site"},
    ],
    ids=["no header", "wrong header", "foreign origin", "cross-site fetch"],
)
def test_actions_need_the_console_header_from_the_same_origin(headers: dict[str, str]) -> None:
    """With --console-actions, an action without the console's header or from another site is refused."""
    with serve(create_app(_settings(console_actions=True))) as url:
        answer = httpx.post(url + API + "/faults", headers=headers, json={"count": 5})
        assert answer.status_code == 403
        assert answer.json()["error_code"] == "DMS.00403004"
        assert httpx.get(url + "/_emulator/faults").json()["count"] == 0
        origin = {"Origin": url, "Sec-Fetch-Site": "same-origin"}
        armed = httpx.post(url + API + "/faults", headers={**ACTION, **origin}, json={"count": 5})
        assert armed.status_code == 200
        assert armed.json()["count"] == 5


# -- the console's query is ListMessages ----------------------------------------------------------------
_VALUES = st.one_of(
    st.sampled_from(["", "0", "1", "-1", "2", "10", "abc", "1e3", "99999999999999999999", " 1"]),
    st.text(max_size=6),
)
_PARAMETERS = st.sampled_from(["topic", "msg_id", "key", "start_time", "end_time", "queue", "limit", "offset"])
_RANDOM_QUERIES = st.lists(
    st.tuples(_PARAMETERS, st.one_of(_VALUES, st.sampled_from(["orders", "nope", "k-1"]))), max_size=7
)
# Well-formed queries, so that matches (not only refusals) are compared: a time range, maybe a key, a queue, a page.
_GOOD_QUERIES = st.builds(
    lambda extra: [("topic", "orders"), ("start_time", "0"), ("end_time", "99999999999999"), *extra],
    st.lists(
        st.one_of(
            st.tuples(st.just("key"), st.sampled_from(["k-0", "k-3", "k-9"])),
            st.tuples(st.just("queue"), st.integers(0, 4).map(str)),
            st.tuples(st.just("limit"), st.integers(1, 40).map(str)),
            st.tuples(st.just("offset"), st.integers(0, 35).map(str)),
        ),
        max_size=3,
        unique_by=lambda pair: pair[0],
    ),
)
_QUERIES = st.one_of(_RANDOM_QUERIES, _GOOD_QUERIES)


@pytest.fixture(scope="module")
def filled() -> Iterator[str]:
    """A memory emulator with 30 messages in `orders`, keys k-0..k-4."""
    with serve(create_app(_settings())) as url:
        path = operation_path(
            "ListMessages", engine=ENGINES[0], project_id=DEFAULT_PROJECT_ID, instance_id=DEFAULT_INSTANCE_ID
        )
        with Client(endpoint=url, project_id=DEFAULT_PROJECT_ID, instance_id=DEFAULT_INSTANCE_ID, ak="a", sk="s") as c:
            for n in range(30):
                c.send("orders", f"m{n}", keys=f"k-{n % 5}")
        yield url + "|" + path


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pairs=_QUERIES)
def test_the_console_query_answers_as_list_messages(filled: str, pairs: list[tuple[str, str]]) -> None:
    """For any query string, the console's query and the public ListMessages answer the same status and body."""
    url, path = filled.split("|")
    public = httpx.get(url + path, params=pairs)
    console = httpx.get(url + API + "/messages", params=[("instance_id", DEFAULT_INSTANCE_ID), *pairs])
    assert (console.status_code, console.json()) == (public.status_code, public.json())


def test_the_overview_counts_survive_a_restart(tmp_path: Path) -> None:
    """A durable emulator's overview shows the same queue offsets after a restart as before."""
    with start_emulator(memory=False, data_dir=tmp_path, auth=False, topics=("orders:3",)) as emulator:
        with Client(
            endpoint=emulator.url, project_id=emulator.project_id, instance_id=emulator.instance_id, ak="a", sk="s"
        ) as client:
            for n in range(7):
                client.send("orders", f"m{n}")

        def offsets() -> list[tuple[int, int, int]]:
            topic = httpx.get(emulator.url + API + "/overview").json()["instances"][0]["topics"][0]
            return [(q["min_offset"], q["max_offset"], q["messages"]) for q in topic["queue_offsets"]]

        before = offsets()
        assert before == [(0, 3, 3), (0, 2, 2), (0, 2, 2)]
        emulator.restart()
        assert offsets() == before


def test_an_open_live_tail_does_not_hold_up_a_graceful_stop() -> None:
    """SIGTERM with a live tail open: the tail gets `closed`, the emulator exits 0 (not after a timeout)."""
    with start_emulator(memory=True, auth=False, topics=("orders",)) as emulator:
        # The banner names the console, as `dms-rocketmq-emulator` prints it.
        assert f"#   console     {emulator.url}{CONSOLE_PATH} (read-only" in emulator.output
        events: list[str] = []
        with httpx.stream("GET", emulator.url + API + "/tail?topic=orders", timeout=30) as stream:
            lines = stream.iter_lines()
            for line in lines:
                if line.startswith("event: "):
                    events.append(line)
                    break
            os.kill(emulator.pid, signal.SIGTERM)
            events += [line for line in lines if line.startswith("event: ")]
        assert events == ["event: ready", "event: closed"]
        assert emulator.stop(timeout=30) == 0


def test_the_copied_send_command_sends_the_message_again(tmp_path: Path) -> None:
    """The detail's `dms-rocketmq send` line, run in a shell with the banner's variables, stores the same message."""
    body = 'it\'s "quoted" $HOME `date` \\ and\nsecond line'
    with start_emulator(memory=True, auth=True, topics=("orders",)) as emulator:
        with Client(
            endpoint=emulator.url,
            project_id=emulator.project_id,
            instance_id=emulator.instance_id,
            ak=emulator.ak,
            sk=emulator.sk,
        ) as client:
            first = client.send("orders", body, keys=("k-1", "k-2"), tags="created")
        detail = httpx.get(emulator.url + API + "/message", params={"topic": "orders", "msg_id": first.msg_id}).json()
        command = detail["send_command"]
        env = {**emulator.client_env(), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
        subprocess.run(["bash", "-c", command], env=env, check=True, capture_output=True, timeout=60, cwd=tmp_path)
        again, original = emulator.messages("orders")[1], emulator.messages("orders")[0]
    assert shlex.split(command)[:2] == ["dms-rocketmq", "send"]
    assert again["body"] == original["body"] == body
    assert again["property_list"][:2] == original["property_list"][:2]  # KEYS and TAGS as sent
    assert again["msg_id"] != original["msg_id"]


_HOSTILE = st.text(max_size=40) | st.sampled_from(["%00", "../../etc/passwd", "a" * 5000, "11c55a3e", "\udcff"])


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.sampled_from(["/overview", "/messages", "/message", "/tail"]),
    pairs=st.lists(
        st.tuples(st.sampled_from(["instance_id", "topic", "msg_id", "key", "limit"]), _HOSTILE), max_size=4
    ),
)
def test_hostile_parameters_get_a_clear_error_never_a_crash(
    loopback: str, path: str, pairs: list[tuple[str, str]]
) -> None:
    """Whatever the parameters, the console answers 200 or a Huawei-shaped 4xx with X-Request-Id, never a 500."""
    safe = [(name, value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")) for name, value in pairs]
    with httpx.stream("GET", loopback + API + path, params=safe, timeout=30) as answer:
        assert answer.headers["X-Request-Id"]
        if answer.status_code == 200:
            return  # a tail that started: closing the stream ends it
        body = answer.read()
    assert 400 <= answer.status_code < 500, body
    document = httpx.Response(answer.status_code, content=body).json()
    assert set(document) >= {"error_code", "error_msg"}


def test_a_head_request_for_the_tail_does_not_hang(loopback: str) -> None:
    """HEAD on the tail answers at once (no body), as every other console URL does."""
    for path in (CONSOLE_PATH, API + "/overview", API + "/tail"):
        assert httpx.head(loopback + path, timeout=10).status_code == 200, path


def test_the_console_never_shows_a_secret() -> None:
    """With authentication on, nothing the console serves holds an SK or a token."""
    from dms_rocketmq_emulator import Credential

    sk, token = "console-secret-sk-0123456789", "console-secret-token-0123456789"
    app = create_app(_settings(credentials=(Credential("CONSOLEAK", sk),), tokens=(token,)))
    with serve(app) as url:
        for path in READ_PATHS:
            text = httpx.get(url + path).text
            assert sk not in text
            assert token not in text
        assert httpx.get(url + API + "/overview").json()["auth"] is True


def test_a_closed_tail_leaves_the_store_unobserved() -> None:
    """A browser that leaves a tail ends its subscription: the store has no observer again."""
    import time

    app = create_app(_settings())
    with serve(app) as url:
        with httpx.stream("GET", url + API + "/tail", timeout=30) as stream:
            lines = stream.iter_lines()  # kept: closing this iterator would close the connection
            assert next(line for line in lines if line.startswith("event: ")) == "event: ready"
            assert app.console.feed.watching
        deadline = time.monotonic() + 20
        while app.console.feed.watching and time.monotonic() < deadline:
            time.sleep(0.01)  # waiting for the server to see the disconnect, with a bound
        assert not app.console.feed.watching
        assert app.store.subscribers == 0


def test_a_durable_emulators_tail_shows_each_send_once_committed(tmp_path: Path) -> None:
    """With `--data-dir`, the live tail (the store's observer) gets every message sent, in order, each with
    the id the send answered, and the messages are then found by ListMessages."""
    with start_emulator(memory=False, data_dir=tmp_path, auth=False, topics=("orders:3",)) as emulator:
        with httpx.stream("GET", emulator.url + API + "/tail?topic=orders", timeout=30) as stream:
            lines = stream.iter_lines()
            assert next(line for line in lines if line.startswith("event: ")) == "event: ready"
            with Client(
                endpoint=emulator.url, project_id=emulator.project_id, instance_id=emulator.instance_id, ak="a", sk="s"
            ) as client:
                sent = [client.send("orders", f"m{n}").msg_id for n in range(5)]
            seen: list[str] = []
            for line in lines:
                if line.startswith("data: ") and '"msg_id"' in line:
                    seen.append(json.loads(line[len("data: ") :])["msg_id"])
                    if len(seen) == len(sent):
                        break
        assert seen == sent
        found = httpx.get(emulator.url + API + "/messages", params={"topic": "orders", "msg_id": sent[-1]}).json()
        assert found["total"] == 1
