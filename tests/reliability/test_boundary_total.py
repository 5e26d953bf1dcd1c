"""The public boundary is total: every argument of Client/AsyncClient (constructor and methods) and every
flag of the `dms-rocketmq` command, given hostile values (wrong types, huge lengths, surrogates, bytes that
are not UTF-8, extremes), ends in a `DMSError` subclass with a sentence, or exit code 2 with one, never in
another exception or a traceback. Calls go to a real emulator on 127.0.0.1, on the default code paths."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import inspect
import io
import os
import tempfile
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import dms_rocketmq as dms
import httpx
import pytest
from _shared.bounded import bounded
from dms_rocketmq.cli import main
from dms_rocketmq.cli._parser import build_parser
from emulators import AK, INSTANCE_ID, PROJECT_ID, SK, EmulatorProcess
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

TOPIC = "orders"

#: Values no strategy of plain types would think of: the ones the issue's probes found, and their kin.
EXTREMES: list[Any] = [
    "\ud800",
    "\udcff",  # what Python makes of the byte 0xff in argv or the environment
    "caf\udce9",
    "x" * 70_000,
    "p" * 100_000,
    "",
    " ",
    "\n",
    "\x00",
    "-1",
    "0",
    "1099511627776",
    "1e309",
    "nan",
    "inf",
    "-inf",
    "0001-01-01",
    "9999-12-31T23:59:59",
    "0001-01-01T00:00:00+14:00",
    "http://\udcff.example",
    "http://exa mple",
    datetime.datetime.min,
    datetime.datetime.max,
    datetime.datetime.min.replace(tzinfo=datetime.timezone(datetime.timedelta(hours=23))),
    datetime.datetime.max.replace(tzinfo=datetime.timezone(datetime.timedelta(hours=-23))),
    2**40,
    2**64,
    -(2**63),
    10**30,
    1100,
    -1,
    0,
    float("nan"),
    float("inf"),
    -0.0,
    1e-300,
    True,
    b"x",
    b"\xff",
    bytearray(b"x"),
    [],
    ["a", 5],
    {},
    {"topic": 5},
    object(),
    httpx.Timeout(2**40),
    httpx.Timeout(5.0, pool=-1),
    None,
]

hostile = st.one_of(
    st.sampled_from(EXTREMES),
    st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=40),
    st.integers(),
    st.floats(),
    st.binary(max_size=20),
    st.lists(st.integers(), max_size=3),
)


def _options(emulator: EmulatorProcess) -> dict[str, Any]:
    return {
        "endpoint": emulator.url,
        "project_id": PROJECT_ID,
        "instance_id": INSTANCE_ID,
        "ak": AK,
        "sk": SK,
        "environ": {},
        "timeout": 10.0,
        "max_retries": 0,
    }


#: Every keyword argument of the constructors, read from their signatures: a new one is covered at once.
CONSTRUCTOR_ARGUMENTS = sorted(
    {name for kind in (dms.Client, dms.AsyncClient) for name in inspect.signature(kind.__init__).parameters} - {"self"}
)


def _check(error: BaseException | None) -> None:
    """Nothing, or a DMSError with a sentence that is not a local failure in disguise."""
    if error is None:
        return
    if not isinstance(error, dms.DMSError):
        raise AssertionError(f"escaped the error tree: {type(error).__name__}: {error!s:.300}") from error
    assert str(error).strip(), f"{type(error).__name__} without a message"
    assert "could not be built" not in str(error), error


def _calls(client: Any, result: dms.SendResult) -> dict[str, Callable[[Any], Any]]:
    """Each public method with one argument replaced by a hostile value (the others valid)."""
    return {
        "send.topic": lambda v: client.send(v, "b"),
        "send.body": lambda v: client.send(TOPIC, v),
        "send.keys": lambda v: client.send(TOPIC, "b", keys=v),
        "send.tags": lambda v: client.send(TOPIC, "b", tags=v),
        "send.timeout": lambda v: client.send(TOPIC, "b", timeout=v),
        "send.max_retries": lambda v: client.send(TOPIC, "b", max_retries=v),
        "send_json.obj": lambda v: client.send_json(TOPIC, v),
        "send_many.messages": lambda v: client.send_many(v),
        "send_many.message": lambda v: client.send_many([v]),
        "send_many.concurrency": lambda v: client.send_many([{"topic": TOPIC, "body": "b"}], concurrency=v),
        "send_many.on_outcome": lambda v: client.send_many([{"topic": TOPIC, "body": "b"}], on_outcome=v),
        "send_many.rate": lambda v: client.send_many([], rate=v),
        "send_many.fail_fast": lambda v: client.send_many([], fail_fast=v),
        "send_many.max_connection_failures": lambda v: client.send_many([], max_connection_failures=v),
        "iter_send.messages": lambda v: client.iter_send(v),
        "iter_send.concurrency": lambda v: client.iter_send([{"topic": TOPIC, "body": "b"}], concurrency=v),
        "iter_send.rate": lambda v: client.iter_send([], rate=v),
        "get_message.topic": lambda v: client.get_message(v, result.msg_id),
        "get_message.msg_id": lambda v: client.get_message(TOPIC, v),
        "get_message.timeout": lambda v: client.get_message(TOPIC, result.msg_id, timeout=v),
        "get_message.max_retries": lambda v: client.get_message(TOPIC, result.msg_id, max_retries=v),
        "query_messages.topic": lambda v: client.query_messages(v, page_size=1),
        "query_messages.key": lambda v: client.query_messages(TOPIC, key=v, page_size=1),
        "query_messages.start": lambda v: client.query_messages(TOPIC, start=v, page_size=1),
        "query_messages.end": lambda v: client.query_messages(TOPIC, end=v, page_size=1),
        "query_messages.queue": lambda v: client.query_messages(TOPIC, queue=v, page_size=1),
        "query_messages.page_size": lambda v: client.query_messages(TOPIC, page_size=v),
        "confirm.result": lambda v: client.confirm(v, timeout=1),
        "confirm.timeout": lambda v: client.confirm(result, timeout=v),
    }


def _first(value: Any) -> Any:
    """Run a call's first step: one page of a query, the call itself otherwise."""
    if isinstance(value, Iterator):
        return next(value, None)
    return value


async def _first_async(value: Any) -> Any:
    if hasattr(value, "__anext__"):
        return await anext(value, None)
    if asyncio.iscoroutine(value):
        return await value
    return value


@pytest.fixture(scope="module")
def sent(auth_emulator: EmulatorProcess) -> dms.SendResult:
    with dms.Client(**_options(auth_emulator)) as client:
        return client.send(TOPIC, "the boundary's reference message")


METHOD_NAMES = sorted(_calls(None, None).keys())  # type: ignore[arg-type]


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(CONSTRUCTOR_ARGUMENTS), value=hostile, use_async=st.booleans())
def test_every_constructor_argument_refuses_hostile_values_with_a_dms_error(
    auth_emulator: EmulatorProcess, name: str, value: Any, use_async: bool
) -> None:
    """Client(...) and AsyncClient(...) with one hostile argument build a client or raise a DMSError."""
    kind = dms.AsyncClient if use_async else dms.Client
    error: BaseException | None = None
    try:
        client = kind(**{**_options(auth_emulator), name: value})
    except BaseException as exc:
        error = exc
    else:
        if use_async:
            asyncio.run(client.aclose())
        else:
            client.close()
    _check(error)


@settings(max_examples=600, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(METHOD_NAMES), value=hostile, use_async=st.booleans())
def test_every_method_argument_refuses_hostile_values_with_a_dms_error(
    auth_emulator: EmulatorProcess, sent: dms.SendResult, name: str, value: Any, use_async: bool
) -> None:
    """Each public method with one hostile argument returns or raises a DMSError, on both clients."""
    error: BaseException | None = None
    if use_async:

        async def run() -> None:
            async with dms.AsyncClient(**_options(auth_emulator)) as client:
                await _first_async(_calls(client, sent)[name](value))

        try:
            asyncio.run(run())
        except BaseException as exc:
            error = exc
    else:
        with dms.Client(**_options(auth_emulator)) as client:
            try:
                _first(_calls(client, sent)[name](value))
            except BaseException as exc:
                error = exc
    _check(error)


# -- the command line -------------------------------------------------------------------------------------


def _flags() -> dict[str, list[tuple[str, bool]]]:
    """Every subcommand's flags, each with whether it takes a value (from the parser itself)."""
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    found: dict[str, list[tuple[str, bool]]] = {}
    for command, sub in subparsers.choices.items():  # type: ignore[attr-defined]
        found[command] = [
            (action.option_strings[-1], action.nargs != 0)
            for action in sub._actions
            if action.option_strings and action.option_strings[-1] != "--help"
        ]
    return found


FLAGS = _flags()
#: `send-file` is `send --file`: the send flags again, on the bulk path (journal, failures file, rate...).
FLAGS["send-file"] = FLAGS["send"]
CLI_CASES = [(command, flag, takes_value) for command, flags in FLAGS.items() for flag, takes_value in flags]
cli_text = st.one_of(
    st.sampled_from([v for v in EXTREMES if isinstance(v, str)]),
    st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=40),
    st.integers().map(str),
    st.floats().map(str),
)


def _base(command: str, emulator: EmulatorProcess, msg_id: str) -> list[str]:
    connection = ["--endpoint", emulator.url, "--project-id", PROJECT_ID, "--instance-id", INSTANCE_ID]
    lines = os.path.abspath("boundary-lines.jsonl")
    if command == "send-file" and not os.path.exists(lines):
        with open(lines, "w", encoding="utf-8") as file:
            file.write('{"body": "line 1"}\n')  # one line: a slow but valid --rate paces no second send
    journal = os.path.abspath(f"journal-{os.urandom(6).hex()}.jsonl")
    return {
        "send": ["send", "--topic", TOPIC, "--body", "cli boundary", "--output", "json", *connection],
        "send-file": ["send", "--topic", TOPIC, "--file", lines, "--results", journal, "--output", "json", *connection],
        "get": ["get", "--topic", TOPIC, "--msg-id", msg_id, "--output", "json", *connection],
        "query": ["query", "--topic", TOPIC, "--limit", "1", "--output", "json", *connection],
        "sign": ["sign", *connection],
    }[command]


#: A run of the CLI against the emulator takes well under a second; past this it hangs (as a --rate of 1e-215
#: once did), and fails as one example instead of leaving Hypothesis to shrink with no alarm left.
CLI_RUN_BOUND = 30.0


def _run_cli(argv: list[str], environ: dict[str, str]) -> tuple[int, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    stdin = io.TextIOWrapper(io.BytesIO(b""), encoding="utf-8")
    with (
        bounded(CLI_RUN_BOUND, f"dms-rocketmq {' '.join(argv)}"),
        mock.patch.dict(os.environ, environ),
        mock.patch("sys.stdin", stdin),
        contextlib.redirect_stdout(stdout),
        contextlib.redirect_stderr(stderr),
    ):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code if isinstance(exc.code, int) else 2
    return code, stderr.getvalue()


@pytest.fixture(scope="module")
def workdir() -> Iterator[str]:
    """Where files named by hostile --results/--failures values land."""
    with tempfile.TemporaryDirectory() as directory:
        yield directory


@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=st.sampled_from(CLI_CASES), value=cli_text)
@example(case=("send-file", "--rate", True), value="2.4891740739635397e-215")  # was a wait without end
def test_every_cli_flag_refuses_hostile_values_with_exit_2_and_a_sentence(
    auth_emulator: EmulatorProcess,
    sent: dms.SendResult,
    workdir: str,
    monkeypatch: pytest.MonkeyPatch,
    case: tuple[str, str, bool],
    value: str,
) -> None:
    """Any subcommand with one flag given a hostile value runs (exit 0 or 1: the service answered) or exits
    2 with a one-line reason; never a traceback, never a local failure reported as the service's."""
    command, flag, takes_value = case
    monkeypatch.chdir(workdir)
    if command == "send-file" and flag == "--body":
        return  # the base names --file, and argparse refuses the two together before any code of ours runs
    argv = [*_base(command, auth_emulator, sent.msg_id), flag, *([value] if takes_value else [])]
    code, stderr = _run_cli(argv, {"HUAWEICLOUD_SDK_AK": AK, "HUAWEICLOUD_SDK_SK": SK})
    assert "Traceback" not in stderr, stderr[-2000:]
    assert code in (0, 1, 2), (code, stderr[-500:])
    assert "could not be built" not in stderr, stderr[-500:]
    if code == 2:
        assert stderr.strip(), "exit 2 without a reason"


@pytest.mark.parametrize("case", [case for case in CLI_CASES if case[2]], ids=lambda case: f"{case[0]} {case[1]}")
def test_every_cli_flag_refuses_a_nul_byte_with_exit_2_and_a_sentence(
    auth_emulator: EmulatorProcess, sent: dms.SendResult, workdir: str, monkeypatch: pytest.MonkeyPatch, case: Any
) -> None:
    """A NUL byte (which no path, header or URL can carry) in any flag's value is exit 2 with a reason or a
    clean answer, never a traceback: the values the property test above reaches only by chance."""
    command, flag, _ = case
    monkeypatch.chdir(workdir)
    if command == "send-file" and flag == "--body":
        return
    argv = [*_base(command, auth_emulator, sent.msg_id), flag, "bad\0value"]
    code, stderr = _run_cli(argv, {"HUAWEICLOUD_SDK_AK": AK, "HUAWEICLOUD_SDK_SK": SK})
    assert "Traceback" not in stderr, stderr[-2000:]
    assert code in (0, 1, 2), (code, stderr[-500:])
    if code == 2:
        assert stderr.strip(), "exit 2 without a reason"


@pytest.mark.parametrize("command", ["send", "get", "query", "sign"])
@pytest.mark.parametrize("secret", ["\udcff", "sk\udce9"])
def test_a_secret_key_that_is_not_text_is_a_configuration_error(
    auth_emulator: EmulatorProcess, sent: dms.SendResult, command: str, secret: str
) -> None:
    """HUAWEICLOUD_SDK_SK holding bytes that are not UTF-8 is exit 2 naming the variable (never the value)."""
    code, stderr = _run_cli(
        _base(command, auth_emulator, sent.msg_id), {"HUAWEICLOUD_SDK_AK": AK, "HUAWEICLOUD_SDK_SK": secret}
    )
    assert code == 2, stderr
    assert "HUAWEICLOUD_SDK_SK" in stderr
    assert secret not in stderr


@pytest.mark.parametrize(
    ("command", "extra"),
    [
        ("query", ["--start", "0001-01-01"]),
        ("query", ["--end", "0001-01-01T00:00:00+14:00"]),
        ("query", ["--start", "9999-12-31T23:59:59"]),
        ("get", ["--msg-id", "\udcff"]),
        ("get", ["--msg-id", "A" * 70_000]),
        ("send", ["--endpoint", "http://\udcff.example"]),
        ("send", ["--project-id", "p" * 100_000]),
        ("send", ["--timeout", str(2**40)]),
        ("send", ["--max-retries", "1100"]),
        ("send-file", ["--concurrency", str(10**20)]),
    ],
    ids=lambda value: value if isinstance(value, str) else " ".join(v[:20] for v in value),
)
def test_the_reported_cli_probes_exit_2_with_a_sentence(
    auth_emulator: EmulatorProcess,
    sent: dms.SendResult,
    workdir: str,
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    extra: list[str],
) -> None:
    """Each probe the issue reported: exit 2 and a one-line reason (or a normal run), never a traceback."""
    monkeypatch.chdir(workdir)
    code, stderr = _run_cli(
        [*_base(command, auth_emulator, sent.msg_id), *extra], {"HUAWEICLOUD_SDK_AK": AK, "HUAWEICLOUD_SDK_SK": SK}
    )
    assert "Traceback" not in stderr
    assert code == (0 if "--max-retries" in extra else 2), stderr[-500:]
    if code == 2:
        assert stderr.startswith("dms-rocketmq: error: "), stderr[-500:]


def test_paths_that_are_not_utf8_are_used_and_shown(
    auth_emulator: EmulatorProcess, workdir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A --results or --failures name holding a byte that is not UTF-8 (as argv gives it) is a valid path:
    the file is written, and the summary shows the name with U+FFFD instead of failing to print it."""
    monkeypatch.chdir(workdir)
    argv = [*_base("send-file", auth_emulator, "unused"), "--failures", os.path.join(workdir, "failed-\udcff.jsonl")]
    code, stderr = _run_cli(argv, {"HUAWEICLOUD_SDK_AK": AK, "HUAWEICLOUD_SDK_SK": SK})
    assert code == 0, stderr
    assert os.path.exists(os.path.join(os.fsencode(workdir), b"failed-\xff.jsonl"))
