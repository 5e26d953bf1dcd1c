"""`make demo`: start the emulator, send a real message through the wrapper and through the CLI, then stop.

Everything goes over HTTP on a loopback port, signed with AK/SK, exactly as against the real service.
"""

from __future__ import annotations

import pathlib
import secrets
import subprocess
import sys
import tempfile

from dms_rocketmq_emulator import EmulatorProcess, start_emulator

BIN = pathlib.Path(sys.executable).parent
TOPIC = "orders"


def start(data_dir: pathlib.Path, ak: str, sk: str) -> EmulatorProcess:
    """Start the emulator on a free port with AK/SK on, and show what it printed."""
    emulator = start_emulator(memory=False, data_dir=data_dir, auth=True, topics=(f"{TOPIC}:4",), ak=ak, sk=sk)
    for line in emulator.output.splitlines():
        if not line.startswith("--- start"):
            print(f"  emulator | {line}")
    return emulator


def main() -> int:
    """Run the demo."""
    from dms_rocketmq import Client

    ak = "DEMOAK" + secrets.token_hex(4).upper()
    sk = secrets.token_hex(20)
    with tempfile.TemporaryDirectory(prefix="dms-demo-") as tmp:
        print("1. Starting the emulator (durable SQLite store, AK/SK signing required)")
        emulator = start(pathlib.Path(tmp) / "data", ak, sk)
        endpoint = emulator.url
        try:
            env = emulator.client_env()
            print(f"\n2. Sending through the Python wrapper to {endpoint}")
            with Client(
                endpoint=endpoint,
                project_id=emulator.project_id,
                instance_id=emulator.instance_id,
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

            print("\n4. What the emulator stored, read back with the public query (ListMessages)")
            stored = emulator.messages(TOPIC)
            for message in stored:
                print(
                    f"   queue {message['queue_id']} offset {message['queue_offset']} "
                    f"msg_id {message['msg_id']} body {message['body']}"
                )
            if len(stored) != 2:
                print(f"   expected 2 stored messages, found {len(stored)}")
                return 1
        finally:
            print("\n5. Stopping the emulator")
            emulator.close()
    print("Demo finished: two messages sent, signed, stored and read back.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
