"""SKs and tokens appear in no log line, repr or exception message of the wrapper, the CLI or the emulator.

Every secret below is a distinctive string; each test drives its component through success and failure
(with logging at DEBUG where there is logging) and searches everything it printed, logged or raised.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import pathlib
import subprocess
import sys
import traceback
import types
from collections.abc import Iterable

import httpx
import pytest
from emulators import AK, INSTANCE_ID, PROJECT_ID, SK, TOKEN, EmulatorFactory, EmulatorProcess
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

SECURITY_TOKEN = "sectok-SECRET-7d1e0c4b9a8f7e6d5c4b3a29181706f5"
WRONG_SK = "sk-SECRET-WRONG-aa11bb22cc33dd44ee55ff66"
WRONG_TOKEN = "tok-SECRET-WRONG-99887766554433221100ffee"
SECRETS = (SK, TOKEN, SECURITY_TOKEN, WRONG_SK, WRONG_TOKEN)
BIN = pathlib.Path(sys.executable).parent


def leaks(texts: Iterable[str]) -> list[str]:
    """The secrets (by their first characters) found in any of the texts, and where."""
    found = []
    for text in texts:
        for secret in SECRETS:
            # A secret cut short or split is still a leak: look for a 16-character prefix too.
            if secret in text or secret[:16] in text:
                index = text.find(secret[:16])
                found.append(f"{secret[:12]}... in: ...{text[max(0, index - 120) : index + 40]!r}")
    return found


def client_kwargs(emulator: EmulatorProcess, **auth: str) -> dict[str, object]:
    return {
        "endpoint": emulator.url,
        "project_id": PROJECT_ID,
        "instance_id": INSTANCE_ID,
        "max_retries": 0,
        "environ": {},
        **auth,
    }


def sdk_signed_with(emulator: EmulatorProcess, sk: str, extra: dict[str, str]) -> tuple[str, dict[str, str]]:
    request = SdkRequest(
        method="POST",
        schema="http",
        host=emulator.url.removeprefix("http://"),
        resource_path=f"/v2/rocketmq/{PROJECT_ID}/instances/{INSTANCE_ID}/messages",
        query_params=[],
        header_params={"Content-Type": "application/json", **extra},
        body=b'{"topic":"orders","body":"x"}',
    )
    Signer(types.SimpleNamespace(ak=AK, sk=sk)).sign(request)
    return request.uri, dict(request.header_params)


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every logger of the process at DEBUG (httpx, httpcore, dms_rocketmq...)."""
    caplog.set_level(logging.DEBUG)
    return caplog


def logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    texts = []
    for record in caplog.records:
        texts.append(record.getMessage())
        if record.exc_info:
            texts.append("".join(traceback.format_exception(*record.exc_info)))
    return texts


def exception_texts(exc: BaseException) -> list[str]:
    return [str(exc), repr(exc), "".join(traceback.format_exception(exc))]


def test_the_wrapper_never_shows_a_secret(auth_emulator: EmulatorProcess, debug_logs: pytest.LogCaptureFixture) -> None:
    """The wrapper's reprs, DEBUG logs and refused-send exceptions show no SK, token or security token."""
    import dms_rocketmq
    from dms_rocketmq import auth_requests

    texts: list[str] = []
    with dms_rocketmq.Client(**client_kwargs(auth_emulator, ak=AK, sk=SK, security_token=SECURITY_TOKEN)) as client:
        assert client.send("orders", "signed with a security token").queue_offset >= 0
        texts += [repr(client), repr(client.settings), str(client.settings)]
    with dms_rocketmq.Client(**client_kwargs(auth_emulator, token=TOKEN)) as client:
        assert client.send("orders", "token").queue_offset >= 0
        texts += [repr(client), repr(client.settings)]
    for auth in ({"ak": AK, "sk": WRONG_SK, "security_token": SECURITY_TOKEN}, {"token": WRONG_TOKEN}):
        with (
            dms_rocketmq.Client(**client_kwargs(auth_emulator, **auth)) as client,
            pytest.raises(dms_rocketmq.AuthenticationError) as refused,
        ):
            client.send("orders", "refused")
        texts += exception_texts(refused.value)
    texts += [
        repr(dms_rocketmq.AKSKAuth(AK, SK, SECURITY_TOKEN)),
        repr(dms_rocketmq.TokenAuth(TOKEN)),
        repr(auth_requests.AKSKAuth(AK, SK, SECURITY_TOKEN)),
        repr(auth_requests.TokenAuth(TOKEN)),
        repr(dms_rocketmq.AsyncClient(**client_kwargs(auth_emulator, ak=AK, sk=SK))),
    ]
    texts += logged(debug_logs)
    assert any("canonical request" in text for text in texts), "the signer's DEBUG log was not captured"
    assert leaks(texts) == []


@pytest.mark.parametrize(
    "settings",
    [
        {"endpoint": "ftp://nowhere", "ak": AK, "sk": SK},
        {"endpoint": "http://127.0.0.1:1", "project_id": "", "ak": AK, "sk": SK},
        {"endpoint": "http://127.0.0.1:1", "instance_id": "", "token": TOKEN},
        {"endpoint": "http://127.0.0.1:1", "ak": AK, "sk": SK, "token": TOKEN},
        {"endpoint": "http://127.0.0.1:1", "ak": "", "sk": SK},
        {"endpoint": "http://127.0.0.1:1", "ak": AK, "sk": ""},
        {"endpoint": "http://127.0.0.1:1", "token": "", "security_token": SECURITY_TOKEN},
        {"endpoint": "http://127.0.0.1:1", "ak": SK, "sk": SK},
    ],
)
def test_configuration_errors_never_quote_a_secret(settings: dict[str, str]) -> None:
    """Configuration (and connection) errors raised while secrets are set name settings, never secrets."""
    import dms_rocketmq

    options: dict[str, object] = {"project_id": PROJECT_ID, "instance_id": INSTANCE_ID, "environ": {}, **settings}
    try:
        client = dms_rocketmq.Client(**options)  # type: ignore[arg-type]
    except dms_rocketmq.DMSError as exc:
        texts = exception_texts(exc)
    else:
        # Accepted settings: then the connection fails, and that error must not quote them either.
        with client, pytest.raises(dms_rocketmq.APIConnectionError) as failed:
            client.send("orders", "x")
        texts = [*exception_texts(failed.value), repr(client)]
    if settings.get("ak") == SK:
        # An SK passed as the AK is sent as the AK, which is public: only its use as the key must not show.
        texts = [text.replace(f"ak={SK!r}", "ak=<the AK>") for text in texts]
    assert leaks(texts) == []


def run_cli(emulator: EmulatorProcess, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {key: value for key, value in os.environ.items() if not key.startswith(("HUAWEICLOUD_", "DMS_"))}
    environ |= {
        "DMS_ROCKETMQ_ENDPOINT": emulator.url,
        "HUAWEICLOUD_SDK_PROJECT_ID": PROJECT_ID,
        "DMS_ROCKETMQ_INSTANCE_ID": INSTANCE_ID,
        **env,
    }
    return subprocess.run(
        [str(BIN / "dms-rocketmq"), "send", "--topic", "orders", *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=60,
        check=False,
    )


def test_the_cli_never_prints_a_secret(auth_emulator: EmulatorProcess, tmp_path: pathlib.Path) -> None:
    """dms-rocketmq send prints no SK or token on stdout, stderr or its failures file, in success or failure."""
    aksk = {"HUAWEICLOUD_SDK_AK": AK, "HUAWEICLOUD_SDK_SK": SK, "HUAWEICLOUD_SDK_SECURITY_TOKEN": SECURITY_TOKEN}
    lines = tmp_path / "messages.jsonl"
    lines.write_text("".join(json.dumps({"body": f"line {n}"}) + "\n" for n in range(3)))
    runs = [
        (run_cli(auth_emulator, "--body", "ok", **aksk), 0),
        (run_cli(auth_emulator, "--body", "ok", DMS_ROCKETMQ_TOKEN=TOKEN), 0),
        (run_cli(auth_emulator, "--body", "x", **{**aksk, "HUAWEICLOUD_SDK_SK": WRONG_SK}), 1),
        (run_cli(auth_emulator, "--body", "x", DMS_ROCKETMQ_TOKEN=WRONG_TOKEN), 1),
        (
            run_cli(
                auth_emulator,
                "--file",
                str(lines),
                "--failures",
                str(tmp_path / "failed.jsonl"),
                **{**aksk, "HUAWEICLOUD_SDK_SK": WRONG_SK},
            ),
            1,
        ),
        (run_cli(auth_emulator, "--body", "x", "--endpoint", "http://127.0.0.1:1", "--max-retries", "0", **aksk), 1),
        (run_cli(auth_emulator, "--body", "x", "--endpoint", "ftp://bad", **aksk), 2),
        (run_cli(auth_emulator, "--body", "x", "--ak", AK, DMS_ROCKETMQ_TOKEN=TOKEN, HUAWEICLOUD_SDK_SK=SK), None),
    ]
    texts = []
    for completed, expected in runs:
        if expected is not None:
            assert completed.returncode == expected, (completed.args, completed.stdout, completed.stderr)
        texts += [completed.stdout, completed.stderr]
    texts.append((tmp_path / "failed.jsonl").read_text())
    assert leaks(texts) == []


def test_the_emulator_never_logs_or_answers_a_secret(start_emulator: EmulatorFactory) -> None:
    """At debug log level the emulator's output, answers and control API show no SK or token."""
    import dms_rocketmq

    emulator = start_emulator(log_level="debug")
    answers: list[str] = []
    good = client_kwargs(emulator, ak=AK, sk=SK, security_token=SECURITY_TOKEN)
    with dms_rocketmq.Client(**good) as client:
        client.send("orders", "fine")
    for auth in ({"ak": AK, "sk": WRONG_SK, "security_token": SECURITY_TOKEN}, {"token": WRONG_TOKEN}):
        with dms_rocketmq.Client(**client_kwargs(emulator, **auth)) as client:
            try:
                client.send("orders", "refused")
            except dms_rocketmq.APIStatusError as exc:
                answers.append(exc.response.text)
    # Signed by the official SDK with the secrets as signed headers and the wrong SK, so the emulator's
    # mismatch log has them in its canonical request.
    uri, headers = sdk_signed_with(emulator, WRONG_SK, {"X-Auth-Token": TOKEN, "X-Security-Token": SECURITY_TOKEN})
    with httpx.Client(base_url=emulator.url) as http:
        reply = http.post(uri, content=b'{"topic":"orders","body":"x"}', headers=headers)
        assert reply.status_code == 401
        answers.append(reply.text)
    with httpx.Client(base_url=emulator.url) as http:
        for path in ("/_emulator/health", "/_emulator/info", "/_emulator/messages", "/_emulator/faults"):
            control = http.get(path)
            assert control.status_code == 200, (path, control.text)
            answers.append(control.text)
    emulator.stop()  # flushes and closes its output
    assert "DMS_ROCKETMQ_ENDPOINT=" in emulator.output
    assert "signature mismatch" in emulator.output, "the debug log of a mismatch was not produced"
    assert leaks([emulator.output, *answers]) == []


def test_the_emulator_configuration_never_shows_a_secret(tmp_path: pathlib.Path) -> None:
    """The emulator's settings reprs and its CLI's flag and TOML errors show no SK or token."""
    from dms_rocketmq_emulator._auth import Authenticator
    from dms_rocketmq_emulator._config import Credential, Settings

    texts = [
        repr(Settings(credentials=(Credential(AK, SK),), tokens=(TOKEN,))),
        repr(Credential(AK, SK)),
        repr(Authenticator([Credential(AK, SK)], [TOKEN])),
    ]
    bad_toml = tmp_path / "bad.toml"
    bad_toml.write_text(f'port = "not a number"\ntokens = ["{TOKEN}"]\n[[credentials]]\nak = "{AK}"\nsk = "{SK}"\n')
    odd_toml = tmp_path / "odd.toml"
    odd_toml.write_text(f'[[credentials]]\nak = "{AK}"\nsk = ["{SK}"]\n')
    runs = [
        ["--credential", f"{AK}{SK}"],  # no colon
        ["--credential", f":{SK}"],
        ["--credential", f"BAD AK:{SK}"],
        ["--credential", f"{AK}:{SK}", "--credential", f"{AK}:{SK}x"],
        ["--token", "", "--credential", f"{AK}:{SK}"],
        ["--config", str(bad_toml)],
        ["--config", str(odd_toml)],
        ["--port", "99999", "--credential", f"{AK}:{SK}", "--token", TOKEN],
    ]
    for args in runs:
        completed = subprocess.run(
            [str(BIN / "dms-rocketmq-emulator"), "--memory", *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert completed.returncode != 0, (args, completed.stdout)
        texts += [completed.stdout, completed.stderr]
    assert leaks(texts) == []


_LEAVES = (str, bytes, bytearray, int, float, bool, type(None), type, types.ModuleType, types.FunctionType)
_PLAIN_CONTAINERS = (dict, list, tuple, set, frozenset)


def _children(obj: object) -> Iterable[tuple[str, object]]:
    """Everything one step from `obj` that a user can get at: attributes (private ones too), items, causes."""
    if isinstance(obj, BaseException):
        yield from (("__cause__", obj.__cause__), ("__context__", obj.__context__), ("args", obj.args))
    if isinstance(obj, httpx.Response):
        yield from (("history", obj.history), ("headers", obj.headers))
        if obj._request is not None:
            yield "request", obj.request
    if isinstance(obj, httpx.Request):
        yield from (("headers", obj.headers), ("url", obj.url))
    if isinstance(obj, httpx.Headers):
        yield "multi_items", obj.multi_items()
    if type(obj).__module__.startswith("requests") and hasattr(obj, "request") and hasattr(obj, "status_code"):
        yield ".request", obj.request
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield (f"[{key!r}]" if isinstance(key, str) else f"[<{type(key).__name__} key>]"), value
    elif isinstance(obj, list | tuple | set | frozenset):
        for index, value in enumerate(obj):
            yield f"[{index}]", value
    for cls in type(obj).__mro__:  # attrs and other slotted classes keep their fields in each class's slots
        slots = getattr(cls, "__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if name != "__weakref__" and hasattr(obj, name):
                yield f".{name}", getattr(obj, name)
    attributes = getattr(obj, "__dict__", None)
    if isinstance(attributes, dict):
        for name, value in attributes.items():
            yield f".{name}", value
    for name, prop in vars(type(obj)).items():
        if isinstance(prop, property) and not name.startswith("_") and not isinstance(obj, httpx.URL):
            try:
                yield f".{name}", getattr(obj, name)
            except Exception:  # a property that cannot be read here shows nothing
                continue


def printable_texts(*roots: object, depth: int = 12) -> list[str]:
    """repr() and str() of every object reachable from the roots, with the path that reached it.

    Plain containers are walked but not printed whole (an object's `vars()` holds its secret key, necessarily);
    every other object is printed as a user would print it. Header values are also listed one by one, since
    `dict(request.headers)` prints them unmasked.
    """
    seen: set[int] = set()
    texts: list[str] = []
    stack: list[tuple[str, object, int]] = [(f"root{i}", root, 0) for i, root in enumerate(roots)]
    while stack:
        path, obj, level = stack.pop()
        if id(obj) in seen or isinstance(obj, _LEAVES) or level > depth:
            continue
        seen.add(id(obj))
        if not isinstance(obj, _PLAIN_CONTAINERS):
            texts += [f"{path}: {obj!r}", f"{path}: {obj!s}"]
        if isinstance(obj, httpx.Headers):
            texts += [f"{path}[{name!r}]: {value}" for name, value in obj.multi_items()]
        if type(obj).__name__ == "CaseInsensitiveDict":  # requests' headers
            texts += [f"{path}[{name!r}]: {value}" for name, value in obj.items()]
        stack += [(path + step, child, level + 1) for step, child in _children(obj)]
    return texts


async def _async_roots(emulator: EmulatorProcess) -> list[object]:
    """AsyncClients (its direct aiohttp path builds the response it attaches to errors) and what they raise."""
    import dms_rocketmq

    roots: list[object] = []
    for auth in ({"ak": AK, "sk": WRONG_SK, "security_token": SECURITY_TOKEN}, {"token": WRONG_TOKEN}):
        async with dms_rocketmq.AsyncClient(**client_kwargs(emulator, **auth)) as client:
            with pytest.raises(dms_rocketmq.AuthenticationError) as refused:
                await client.send("orders", "walked")
            roots += [refused.value, client, client.api_client]
    return roots


def test_nothing_reachable_from_a_client_or_its_errors_prints_a_secret(auth_emulator: EmulatorProcess) -> None:
    """Walking every object reachable from clients and their exceptions, no repr, str or header value shows a secret."""
    import dms_rocketmq
    import requests
    from dms_rocketmq import auth_requests

    roots: list[object] = []
    for auth in (
        {"ak": AK, "sk": SK, "security_token": SECURITY_TOKEN},
        {"token": TOKEN},
        {"ak": AK, "sk": WRONG_SK, "security_token": SECURITY_TOKEN},
        {"token": WRONG_TOKEN},
    ):
        client = dms_rocketmq.Client(**client_kwargs(auth_emulator, **auth))
        with client:
            try:
                roots.append(client.send("orders", "walked"))
            except dms_rocketmq.DMSError as exc:
                roots.append(exc)
            closed = client_kwargs(auth_emulator, **auth) | {"endpoint": "http://127.0.0.1:1"}
            with dms_rocketmq.Client(**closed) as other, pytest.raises(dms_rocketmq.APIConnectionError) as unreachable:
                other.send("orders", "x")
            roots += [unreachable.value, client, client.api_client, client.settings]
    roots += asyncio.run(_async_roots(auth_emulator))
    for requests_auth in (
        auth_requests.AKSKAuth(AK, SK, SECURITY_TOKEN),
        auth_requests.TokenAuth(TOKEN),
        auth_requests.TokenAuth(WRONG_TOKEN),
    ):
        url = auth_emulator.messages_url
        roots.append(requests.post(url, json={"topic": "orders", "body": "x"}, auth=requests_auth, timeout=10))
    texts = printable_texts(*roots)
    print("\n".join(text[:160] for text in texts if leaks([text])))  # where, when it fails
    assert any("X-Sdk-Date" in text or "x-sdk-date" in text for text in texts), "no request headers were reached"
    for reached in ("AKSKAuth(", "TokenAuth(", "AuthenticatedClient(", "PrecomputedSigner(", "Settings("):
        assert any(reached in text for text in texts), f"the walk never reached a {reached}...)"
    assert leaks(texts) == []
