"""The durable store over real HTTP: restarts, crashes, graceful shutdown and concurrent group commit."""

from __future__ import annotations

import concurrent.futures
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from dms_rocketmq_emulator import decode_msg_id
from dms_rocketmq_emulator.pytest_plugin import EmulatorProcess, start_emulator

pytestmark = pytest.mark.integration


def _send(emulator: EmulatorProcess, topic: str = "orders", body: str = "x", client: Any = httpx) -> dict[str, Any]:
    response = client.post(emulator.messages_url, json={"topic": topic, "body": body}, timeout=30)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def _assert_contiguous(messages: list[dict[str, Any]]) -> None:
    per_queue: dict[tuple[str, str, int], list[int]] = {}
    for m in messages:
        per_queue.setdefault((m["instance_id"], m["topic"], m["queue_id"]), []).append(m["queue_offset"])
    for key, offsets in per_queue.items():
        assert sorted(offsets) == list(range(len(offsets))), key


def test_restart_keeps_messages_and_continues_offsets_and_round_robin(tmp_path: Path) -> None:
    """After a graceful stop and a restart on the same data dir, every message is there and placement goes on."""
    emulator = start_emulator(memory=False, data_dir=tmp_path, auth=False, topics=("orders:3", "payments:2"))
    try:
        before = [_send(emulator, "orders", f"o{n}") for n in range(4)] + [_send(emulator, "payments", "p0")]
        assert emulator.stop() == 0
        emulator.restart()
        stored = emulator.messages()
        assert [m["msg_id"] for m in stored] == [m["msg_id"] for m in before]
        after = [_send(emulator, "orders", f"o{n}") for n in range(4, 7)]
        # orders had queues 0,1,2,0 -> next is queue 1 offset 1, then 2/1, 0/2.
        assert [(m["queue_id"], m["queue_offset"]) for m in after] == [(1, 1), (2, 1), (0, 2)]
        assert _send(emulator, "payments")["queue_id"] == 1
        every = emulator.messages()
        _assert_contiguous(every)
        ids = [m["msg_id"] for m in every]
        assert len(set(ids)) == len(ids)
        generations = {decode_msg_id(m["msg_id"])["class_loader_hash"] for m in every}
        assert len(generations) == 2  # one per run: ids cannot repeat across restarts
    finally:
        emulator.close()


def test_acknowledged_sends_survive_a_kill(tmp_path: Path) -> None:
    """Every send answered 200 is on disk: after SIGKILL and a restart all of them are listed."""
    emulator = start_emulator(memory=False, data_dir=tmp_path, auth=False)
    try:
        with httpx.Client(timeout=30) as client:
            acknowledged = [_send(emulator, body=f"m{n}", client=client)["msg_id"] for n in range(30)]
        emulator.kill()
        emulator.start()
        assert [m["msg_id"] for m in emulator.messages()] == acknowledged
        assert _send(emulator)["queue_offset"] == 30 // 8 + (1 if 30 % 8 > 6 else 0)
        _assert_contiguous(emulator.messages())
    finally:
        emulator.close()


@pytest.mark.parametrize("memory", [True, False], ids=["memory", "durable"])
def test_concurrent_sends_get_unique_contiguous_offsets(tmp_path: Path, memory: bool) -> None:
    """200 sends from 32 threads at once all succeed, with unique ids and no gap or repeat in any queue."""
    emulator = start_emulator(memory=memory, data_dir=None if memory else tmp_path, auth=False, topics=("orders:4",))
    try:
        with (
            httpx.Client(timeout=30, limits=httpx.Limits(max_connections=32)) as client,
            concurrent.futures.ThreadPoolExecutor(32) as pool,
        ):
            results = list(pool.map(lambda n: _send(emulator, body=f"m{n}", client=client), range(200)))
        assert len({r["msg_id"] for r in results}) == 200
        assert len({(r["queue_id"], r["queue_offset"]) for r in results}) == 200
        stored = emulator.messages()
        assert len(stored) == 200
        _assert_contiguous(stored)
        assert {m["queue_id"] for m in stored} == {0, 1, 2, 3}
        assert sorted(m["body"] for m in stored) == sorted(f"m{n}" for n in range(200))
    finally:
        emulator.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_lets_an_in_flight_send_finish_and_commit(tmp_path: Path, sig: int) -> None:
    """A send in flight when SIGTERM/SIGINT arrives gets its 200, the exit code is 0, the message is kept."""
    emulator = start_emulator(memory=False, data_dir=tmp_path, auth=False)
    try:
        emulator.inject_faults(1, status=200, delay_ms=1500)
        outcome: dict[str, Any] = {}

        def send() -> None:
            outcome["response"] = httpx.post(
                emulator.messages_url, json={"topic": "orders", "body": "in-flight"}, timeout=30
            )

        sender = threading.Thread(target=send)
        sender.start()
        deadline = time.monotonic() + 30
        while httpx.get(emulator.url + "/_emulator/faults", timeout=5).json()["count"] != 0:
            assert time.monotonic() < deadline, "the send never reached the emulator"
            time.sleep(0.01)  # the send has been read and is waiting out its delay
        assert emulator.stop(sig=sig) == 0
        sender.join()
        assert outcome["response"].status_code == 200
        emulator.start()
        assert [m["body"] for m in emulator.messages()] == ["in-flight"]
        assert emulator.messages()[0]["msg_id"] == outcome["response"].json()["msg_id"]
    finally:
        emulator.close()


def test_auto_created_topic_survives_restart(tmp_path: Path) -> None:
    """With --auto-create-topics a new topic gets 8 queues on its first send and is still there after a restart."""
    emulator = start_emulator(memory=False, data_dir=tmp_path, auth=False, topics=(), auto_create_topics=True)
    try:
        assert _send(emulator, "fresh-topic")["queue_id"] == 0
        emulator.restart()
        info = httpx.get(emulator.url + "/_emulator/info", timeout=5).json()
        assert {"name": "fresh-topic", "queues": 8} in info["instances"][0]["topics"]
        assert _send(emulator, "fresh-topic")["queue_id"] == 1
        bad = httpx.post(emulator.messages_url, json={"topic": "rmq_sys_x", "body": "x"}, timeout=5)
        assert bad.json()["error_code"] == "DMS.00400062"
    finally:
        emulator.close()


def test_reset_is_durable(tmp_path: Path) -> None:
    """A reset survives a restart: no old message comes back and offsets start again at 0."""
    emulator = start_emulator(memory=False, data_dir=tmp_path, auth=False)
    try:
        for _ in range(3):
            _send(emulator)
        emulator.reset()
        emulator.restart()
        assert emulator.messages() == []
        first, second = _send(emulator), _send(emulator)
        assert [(m["queue_id"], m["queue_offset"]) for m in (first, second)] == [(0, 0), (1, 0)]
    finally:
        emulator.close()


def test_second_emulator_on_same_data_dir_is_refused(tmp_path: Path) -> None:
    """A data directory already used by a running emulator is refused with a clear message and exit code 1."""
    emulator = start_emulator(memory=False, data_dir=tmp_path, auth=False)
    try:
        second = subprocess.run(
            [sys.executable, "-m", "dms_rocketmq_emulator", "--port", "0", "--data-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert second.returncode == 1
        assert "used by another running emulator" in second.stderr
    finally:
        emulator.close()
