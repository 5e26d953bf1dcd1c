"""Proof by change: edit only the spec of a copy of the project, regenerate, and both halves follow it.

The copy's openapi.yaml gets a shorter topic limit, a third engine, a smaller body limit and another path
prefix; `scripts/generate.sh` runs in the copy with this environment's tools; then the copy's wrapper (in a
child interpreter) and the copy's emulator (a real subprocess on a loopback port) must refuse and serve
exactly what the edited spec says. Any rule, path or limit copied by hand anywhere makes this fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from dms_rocketmq_emulator.pytest_plugin import EmulatorProcess, start_emulator

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
NEW_ENGINE = "streaming"
NEW_TOPIC_MAX = 40
NEW_BODY_MAX = 1000

#: (what the spec says now, what the copy's spec says instead); each must occur exactly once.
SPEC_EDITS = (
    ("      minLength: 3\n      maxLength: 64\n", f"      minLength: 3\n      maxLength: {NEW_TOPIC_MAX}\n"),
    (
        "      enum:\n        - rocketmq\n        - reliability\n",
        f"      enum:\n        - rocketmq\n        - reliability\n        - {NEW_ENGINE}\n",
    ),
    ("          maxLength: 4194304\n", f"          maxLength: {NEW_BODY_MAX}\n"),
    (
        "  /v2/{engine}/{project_id}/instances/{instance_id}/messages:",
        "  /v3/{engine}/{project_id}/instances/{instance_id}/messages:",
    ),
)

# Run with the copy on PYTHONPATH: the copy's wrapper against the copy's emulator. "sent" means the emulator
# answered 200 (any other answer raises and fails the script).
WRAPPER_CHECK = r"""
import asyncio, json, sys
import dms_rocketmq, dms_rocketmq_api, dms_rocketmq_emulator
from dms_rocketmq import AsyncClient, Client, ConfigurationError, ValidationError

root, endpoint, project_id, instance_id, ak, sk, engine = sys.argv[1:8]
imported = [m.__file__ for m in (dms_rocketmq, dms_rocketmq_api, dms_rocketmq_emulator)]
assert all(path.startswith(root) for path in imported), imported
options = dict(endpoint=endpoint, project_id=project_id, instance_id=instance_id, ak=ak, sk=sk, max_retries=0)


def outcome(action):
    try:
        action()
    except ValidationError:
        return "refused locally"
    except ConfigurationError:
        return "refused configuration"
    return "sent"


def send(topic, body, engine=engine):
    with Client(engine=engine, **options) as client:
        client.send(topic, body)


async def send_async(topic, body):
    async with AsyncClient(engine=engine, **options) as client:
        await client.send(topic, body)


out = {}
for name in ("rocketmq", engine, "kafka"):
    out["engine " + name] = outcome(lambda: send("orders", "x", name))
for length in (39, 40, 41, 64):
    out[f"topic {length}"] = outcome(lambda: send("t" * length, "x"))
for size in (1000, 1001):
    out[f"body {size}"] = outcome(lambda: send("orders", "x" * size))
out["async topic 40"] = outcome(lambda: asyncio.run(send_async("t" * 40, "x")))
out["async topic 41"] = outcome(lambda: asyncio.run(send_async("t" * 41, "x")))
out["async body 1001"] = outcome(lambda: asyncio.run(send_async("orders", "x" * 1001)))
print(json.dumps(out))
"""


def _copy_project(dest: Path) -> None:
    """The files git tracks or would track (so no .venv, node_modules, caches), links kept as links."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode("utf-8")
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        target = dest / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the working tree
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, target)


@pytest.fixture(scope="module")
def changed_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("changed-project")
    _copy_project(copy)
    spec = copy / "openapi.yaml"
    text = spec.read_text("utf-8")
    for old, new in SPEC_EDITS:
        assert text.count(old) == 1, f"the spec no longer reads {old!r}: update this test's edits"
        text = text.replace(old, new)
    spec.write_text(text, "utf-8")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    subprocess.run(["bash", str(copy / "scripts" / "generate.sh")], cwd=copy, env=env, check=True)
    return copy


def _pythonpath(copy: Path) -> str:
    return os.pathsep.join(str(copy / part) for part in ("generated", "wrapper", "emulator"))


@pytest.fixture(scope="module")
def changed_emulator(changed_copy: Path) -> Iterator[EmulatorProcess]:
    # The launcher starts `python -m dms_rocketmq_emulator`; PYTHONPATH makes that the copy's emulator.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", _pythonpath(changed_copy))
        process = start_emulator(auth=True, auto_create_topics=True, topics=("orders",))
    try:
        yield process
    finally:
        process.close()


def test_generation_reads_the_edited_spec(changed_copy: Path) -> None:
    """The copy's generated rules and client carry the edited values, and nothing else was edited."""
    rules = (changed_copy / "generated" / "dms_rocketmq_api" / "spec_rules.py").read_text("utf-8")
    assert f"TOPIC_MAX_LENGTH: int = {NEW_TOPIC_MAX}\n" in rules
    assert f"BODY_MAX_LENGTH: int = {NEW_BODY_MAX}\n" in rules
    assert f'"{NEW_ENGINE}"' in rules
    assert '"/v3/{engine}/{project_id}/instances/{instance_id}/messages"' in rules
    for part in ("wrapper", "emulator"):
        assert not subprocess.run(
            ["diff", "-r", "--no-dereference", "-x", "__pycache__", str(ROOT / part), str(changed_copy / part)],
            capture_output=True,
        ).returncode, f"{part}/ differs in the copy"


def test_wrapper_refuses_locally_what_the_edited_spec_refuses(
    changed_copy: Path, changed_emulator: EmulatorProcess
) -> None:
    """The copy's clients: the new engine is accepted, a 41-character topic and a 1001-character body are not."""
    assert changed_emulator.ak is not None
    assert changed_emulator.sk is not None
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            WRAPPER_CHECK,
            str(changed_copy),
            changed_emulator.url,
            changed_emulator.project_id,
            changed_emulator.instance_id,
            changed_emulator.ak,
            changed_emulator.sk,
            NEW_ENGINE,
        ],
        env={**os.environ, "PYTHONPATH": _pythonpath(changed_copy)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "engine rocketmq": "sent",
        f"engine {NEW_ENGINE}": "sent",
        "engine kafka": "refused configuration",
        "topic 39": "sent",
        "topic 40": "sent",
        "topic 41": "refused locally",
        "topic 64": "refused locally",
        "body 1000": "sent",
        "body 1001": "refused locally",
        "async topic 40": "sent",
        "async topic 41": "refused locally",
        "async body 1001": "refused locally",
    }


def _post(emulator: EmulatorProcess, engine: str, document: object, prefix: str = "/v3/") -> httpx.Response:
    assert emulator.token is not None
    path = f"{prefix}{engine}/{emulator.project_id}/instances/{emulator.instance_id}/messages"
    return httpx.post(emulator.url + path, json=document, headers={"X-Auth-Token": emulator.token}, timeout=10)


@pytest.mark.parametrize(
    ("engine", "document", "status", "error_code"),
    [
        (NEW_ENGINE, {"topic": "t" * NEW_TOPIC_MAX, "body": "x"}, 200, None),
        (NEW_ENGINE, {"topic": "t" * (NEW_TOPIC_MAX + 1), "body": "x"}, 400, "DMS.00400062"),
        ("rocketmq", {"topic": "orders", "body": "x" * NEW_BODY_MAX}, 200, None),
        ("rocketmq", {"topic": "orders", "body": "x" * (NEW_BODY_MAX + 1)}, 400, "DMS.10540011"),
        ("reliability", {"topic": "orders", "body": "é" * (NEW_BODY_MAX // 2 + 1)}, 400, "DMS.10540011"),
        ("kafka", {"topic": "orders", "body": "x"}, 404, "DMS.00404001"),
    ],
)
def test_emulator_refuses_on_the_wire_what_the_edited_spec_refuses(
    changed_emulator: EmulatorProcess, engine: str, document: object, status: int, error_code: str | None
) -> None:
    """The copy's emulator serves the new path and applies the edited limits and engines."""
    response = _post(changed_emulator, engine, document)
    assert response.status_code == status, response.text
    if error_code is not None:
        assert response.json()["error_code"] == error_code


def test_emulator_no_longer_serves_the_old_path(changed_emulator: EmulatorProcess) -> None:
    """The path the spec no longer names is not an API: 404 DMS.00404001."""
    response = _post(changed_emulator, "rocketmq", {"topic": "orders", "body": "x"}, prefix="/v2/")
    assert response.status_code == 404
    assert response.json()["error_code"] == "DMS.00404001"
