"""`make demo`: start the emulator, send a real message through the wrapper and through the CLI, then stop.

Everything goes over HTTP on a loopback port, signed with AK/SK, exactly as against the real service.
"""

from __future__ import annotations

import json
import os
import pathlib
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request

BIN = pathlib.Path(sys.executable).parent
TOPIC = "orders"


def start_emulator(data_dir: pathlib.Path, ak: str, sk: str) -> tuple[subprocess.Popen[str], str]:
    """Start the emulator on a free port with AK/SK on; return the process and its endpoint."""
    process = subprocess.Popen(
        [
            str(BIN / "dms-rocketmq-emulator"),
            "--port",
            "0",
            "--data-dir",
            str(data_dir),
            "--topic",
            f"{TOPIC}:4",
            "--credential",
            f"{ak}:{sk}",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    endpoint = ""
    deadline = time.monotonic() + 30
    for line in process.stdout:
        print(f"  emulator | {line.rstrip()}")
        if line.startswith("DMS_ROCKETMQ_ENDPOINT="):
            endpoint = line.strip().split("=", 1)[1]
            break
        if time.monotonic() > deadline:
            break
    if not endpoint:
        process.kill()
        raise SystemExit("the emulator did not start")
    for _ in range(100):
        try:
            with urllib.request.urlopen(f"{endpoint}/_emulator/health", timeout=1) as reply:
                if reply.status == 200:
                    break
        except OSError:
            time.sleep(0.05)
    return process, endpoint


def main() -> int:
    """Run the demo."""
    from dms_rocketmq import Client

    ak = "DEMOAK" + secrets.token_hex(4).upper()
    sk = secrets.token_hex(20)
    with tempfile.TemporaryDirectory(prefix="dms-demo-") as tmp:
        print("1. Starting the emulator (durable SQLite store, AK/SK signing required)")
        process, endpoint = start_emulator(pathlib.Path(tmp) / "data", ak, sk)
        try:
            env = {
                **os.environ,
                "DMS_ROCKETMQ_ENDPOINT": endpoint,
                "HUAWEICLOUD_SDK_PROJECT_ID": "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
                "DMS_ROCKETMQ_INSTANCE_ID": "11c55a3e-5b4a-4f0c-9d3e-2f7b8e6a1c90",
                "HUAWEICLOUD_SDK_AK": ak,
                "HUAWEICLOUD_SDK_SK": sk,
            }
            print(f"\n2. Sending through the Python wrapper to {endpoint}")
            with Client(
                endpoint=endpoint,
                project_id=env["HUAWEICLOUD_SDK_PROJECT_ID"],
                instance_id=env["DMS_ROCKETMQ_INSTANCE_ID"],
                ak=ak,
                sk=sk,
            ) as client:
                result = client.send(TOPIC, '{"order_id": 1042, "amount": "19.90"}', keys="order-1042", tags="created")
            print(f"   {result!r}")

            print("\n3. Sending through the CLI: dms-rocketmq send --topic orders --body ... --key order-1043")
            cli = subprocess.run(
                [
                    *(str(BIN / "dms-rocketmq"), "send", "--topic", TOPIC, "--body", '{"order_id": 1043}'),
                    *("--key", "order-1043", "--tag", "created", "--output", "json"),
                ],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            print("   " + (cli.stdout.strip() or cli.stderr.strip()).replace("\n", "\n   "))
            if cli.returncode != 0:
                return cli.returncode

            print("\n4. What the emulator stored (its control API, GET /_emulator/messages)")
            with urllib.request.urlopen(f"{endpoint}/_emulator/messages?topic={TOPIC}", timeout=5) as reply:
                stored = json.load(reply)
            for message in stored["messages"]:
                print(
                    f"   queue {message['queue_id']} offset {message['queue_offset']} "
                    f"msg_id {message['msg_id']} body {message['body']}"
                )
            if stored["total"] != 2:
                print(f"   expected 2 stored messages, found {stored['total']}")
                return 1
        finally:
            print("\n5. Stopping the emulator")
            process.terminate()
            process.wait(timeout=15)
    print("Demo finished: two messages sent, signed, stored and read back.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
