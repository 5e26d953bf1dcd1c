"""The console's parts without a server: the copied send line, the live-tail feed, its settings and flags."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
from pathlib import Path

import pytest
from dms_rocketmq.cli._parser import build_parser as build_client_parser
from dms_rocketmq.cli._send import read_body
from dms_rocketmq_emulator._cli import build_parser, settings_from_args
from dms_rocketmq_emulator._config import Settings, TopicSettings, load_toml
from dms_rocketmq_emulator._console import TAIL_BUFFER, MessageFeed, console_line, send_command
from dms_rocketmq_emulator._query import shown_properties
from dms_rocketmq_emulator._store import MemoryStore
from dms_rocketmq_emulator.models import PendingMessage, StoredMessage, Topic
from hypothesis import given, settings
from hypothesis import strategies as st

INSTANCE = "11c55a3e-5b4a-4f0c-9d3e-2f7b8e6a1c90"
# Stand-in for the command: prints its arguments, then what it read on stdin, NUL-separated.
_ECHO = 'dms-rocketmq() { printf "%s\\0" "$@"; printf "STDIN\\0"; cat; }\n'


def _stored(body: str, keys: list[str], tag: str | None) -> StoredMessage:
    properties = [("KEYS", " ".join(keys))] if keys else []
    if tag:
        properties.append(("TAGS", tag))
    return StoredMessage(
        seq=1,
        instance_id=INSTANCE,
        topic="orders",
        queue_id=0,
        queue_offset=0,
        msg_id="7F00000100000000000000000000000A",
        body=body,
        properties=tuple(shown_properties(properties, "7F00000100000000000000000000000A")),
        stored_at_ms=1,
    )


def _run(command: str) -> tuple[list[str], str | bytes]:
    """The arguments bash hands `dms-rocketmq` for `command` (pasted: on stdin), and the body the command reads."""
    script = (_ECHO + command + "\n").encode("utf-8")
    out = subprocess.run(["bash", "-s"], input=script, capture_output=True, check=True, timeout=30).stdout
    head, _, stdin = out.partition(b"STDIN\0")
    argv = [part.decode("utf-8") for part in head.split(b"\0")[:-1]]
    args = build_client_parser().parse_args(argv)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
        return argv, read_body(args)


_KEYS = st.lists(st.text(st.characters(blacklist_categories=("Cs", "Zs", "Cc", "Zl", "Zp")), min_size=1, max_size=12))
_TAGS = st.none() | st.text(st.characters(blacklist_categories=("Cs", "Zs", "Cc", "Zl", "Zp")), min_size=1, max_size=12)
_BODIES = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), min_size=1, max_size=200)


@settings(max_examples=60)
@given(body=_BODIES, keys=_KEYS, tag=_TAGS)
def test_the_send_line_carries_the_message_through_a_shell(body: str, keys: list[str], tag: str | None) -> None:
    """Run by bash, the copied line gives `dms-rocketmq send` the message's instance, topic, body, keys and tag."""
    command = send_command(_stored(body, keys, tag))
    assert command is not None
    argv, sent_body = _run(command)
    args = build_client_parser().parse_args(argv)
    assert (args.command, args.instance_id, args.topic) == ("send", INSTANCE, "orders")
    assert sent_body == body
    assert (args.keys or []) == list(dict.fromkeys(keys))
    assert args.tag == tag


@pytest.mark.parametrize(
    "body",
    ["x" * 300_000, "line\n" * 40_000, "DMS_BODY\n" + "é" * 60_000 + "\nDMS_BODY", "ends with newline\n" * 9000],
    ids=["long", "many lines", "holds the delimiter", "final newline"],
)
def test_a_body_too_long_for_one_argument_goes_on_stdin(body: str) -> None:
    """A body over the argument limit is sent through a here-document and arrives byte for byte."""
    command = send_command(_stored(body, ["k"], None))
    assert command is not None
    assert "--body" not in command.split("\n", 1)[0]
    _, sent_body = _run(command)
    assert sent_body == body.encode("utf-8")


def test_no_line_for_a_body_no_shell_can_carry() -> None:
    """A NUL in the body (no argument can hold it), or a long body ending in CR (stdin would lose it): None."""
    assert send_command(_stored("a\0b", [], None)) is None
    assert send_command(_stored("x" * 200_000 + "\r", [], None)) is None


def _pending(topic: str, body: str) -> PendingMessage:
    return PendingMessage(INSTANCE, Topic(topic, 2), body, ())


def test_the_feed_observes_the_store_only_while_someone_watches() -> None:
    """No tail, no observer on the store; the first tail subscribes the feed, the last one gone unsubscribes it."""

    async def scenario() -> None:
        store = MemoryStore()
        await store.start()
        feed = MessageFeed(store)
        assert not feed.watching
        assert store.subscribers == 0
        first, second = feed.subscribe(INSTANCE, "orders"), feed.subscribe(INSTANCE, None)
        assert feed.watching
        stored = await store.append(_pending("orders", "one"))
        other = await store.append(_pending("payments", "two"))
        assert first.queue.get_nowait() == stored
        assert first.queue.empty()  # another topic is not this tail's
        assert [second.queue.get_nowait(), second.queue.get_nowait()] == [stored, other]
        feed.unsubscribe(first)
        assert feed.watching
        feed.unsubscribe(second)
        feed.unsubscribe(second)  # twice is once
        assert not feed.watching
        assert store.subscribers == 0
        await store.append(_pending("orders", "three"))
        assert first.queue.empty()

    asyncio.run(scenario())


def test_a_slow_tail_drops_and_counts_instead_of_growing_and_close_ends_every_tail() -> None:
    """Past its buffer a tail counts what it missed; `close` ends every tail, even a full one, and refuses new ones."""

    async def scenario() -> None:
        store = MemoryStore()
        await store.start()
        feed = MessageFeed(store)
        tail = feed.subscribe(INSTANCE, "orders")
        for n in range(TAIL_BUFFER + 5):
            await store.append(_pending("orders", str(n)))
        assert tail.queue.qsize() == TAIL_BUFFER
        assert tail.dropped == 5
        feed.close()
        assert not feed.watching
        items = [tail.queue.get_nowait() for _ in range(tail.queue.qsize())]
        assert items[-1] is None
        late = feed.subscribe(INSTANCE, "orders")
        assert late.queue.get_nowait() is None
        assert not feed.watching

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("host", "served"),
    [
        ("127.0.0.1", True),
        ("127.9.9.9", True),
        ("localhost", True),
        ("::1", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.5", False),
        ("example.com", False),
    ],
)
def test_the_console_is_served_by_default_on_loopback_only(host: str, served: bool) -> None:
    """Without --console/--no-console, the console is served exactly when the listen address is loopback."""
    assert Settings(host=host).console_enabled is served
    assert Settings(host=host, console=True).console_enabled is True
    assert Settings(host=host, console=False).console_enabled is False


def test_the_console_flags_and_toml_keys(tmp_path: Path) -> None:
    """`--console`, `--no-console` and `--console-actions` set the settings; so do the TOML keys, flags winning."""
    parser = build_parser()
    assert settings_from_args(parser.parse_args([])).console is None
    assert settings_from_args(parser.parse_args(["--console"])).console is True
    assert settings_from_args(parser.parse_args(["--no-console"])).console is False
    assert settings_from_args(parser.parse_args(["--console-actions"])).console_actions is True
    config = tmp_path / "emulator.toml"
    config.write_text("console = false\nconsole_actions = true\n")
    assert load_toml(config)["console"] is False
    from_file = settings_from_args(parser.parse_args(["--config", str(config)]))
    assert (from_file.console, from_file.console_actions) == (False, True)
    assert settings_from_args(parser.parse_args(["--config", str(config), "--console"])).console is True
    config.write_text('console = "yes"\n')
    with pytest.raises(ValueError, match="'console' has the wrong type"):
        load_toml(config)


def test_the_banner_line_says_where_the_console_is_or_why_not() -> None:
    """The banner gives the console's URL and mode, or says it is off and which flag turns it on."""
    topics = (TopicSettings("orders"),)
    assert console_line(Settings(topics=topics), "http://127.0.0.1:8765") == (
        "http://127.0.0.1:8765/_emulator/console (read-only; --console-actions allows reset)"
    )
    assert console_line(Settings(console_actions=True), "http://127.0.0.1:1") == (
        "http://127.0.0.1:1/_emulator/console (reset and faults allowed)"
    )
    assert console_line(Settings(host="0.0.0.0"), "http://127.0.0.1:1") == (
        "off: listening on 0.0.0.0, beyond loopback (give --console to serve it there)"
    )
