"""Crash safety of the durable emulator: nothing acknowledged is lost, nothing is stored twice.

Each cycle starts the emulator (durable store) on a free port over the same data directory, checks what the
previous cycles left behind, drives it with many concurrent sends from the wrapper's `AsyncClient`, and kills
it with SIGKILL while the sends are in flight. After the last cycle a final start checks everything again.

What is checked, through `GET /_emulator/messages`, after every restart:

- every send that got a 200 is stored exactly once, with the `msg_id`, queue and offset it was acknowledged with;
- every send that got an HTTP error, or that failed before the request left the client, is not stored;
- a send whose request got no answer (in flight at the kill) is stored at most once ("in doubt": both are fine);
- nothing is stored that no one sent; the offsets of each queue run 0, 1, 2, ... without a gap or a repeat;
- every stored message keeps the KEYS and TAGS it was sent with, and no two share a `msg_id`;
- the first sends after a restart continue each queue's sequence where the stored messages end.

The client runs with `max_retries=0`, so each send is exactly one HTTP request and the accounting is exact.
Every message carries a unique body, which is how an acknowledgement is matched to a stored row.

The emulator is started with the project's one launcher (`start_emulator`), killed and restarted over the
same data directory. The test suite runs the short form and loads this file for its checker
(test_crash_safety.py, in the reliability tier); `scripts/soak.py` takes `run_facts` from it.

Short form (run by the test suite): `python scripts/crash_test.py --cycles 3 --seconds 2`.
Long form (`make soak`): `python scripts/crash_test.py --cycles 10 --seconds 5`.
Exit status 0 when every check passed, 1 otherwise; `--json FILE` writes the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import datetime
import json
import os
import pathlib
import platform
import sys
import tempfile
from typing import Any

from dms_rocketmq_api.spec_rules import KEYS_PROPERTY, TAGS_PROPERTY
from dms_rocketmq_emulator import EmulatorProcess, start_emulator

__all__ = [
    "QUEUES",
    "TOPIC",
    "Ack",
    "Figures",
    "Ledger",
    "check_store",
    "drive",
    "main",
    "markdown",
    "properties_of",
    "run",
    "run_facts",
]

TOPIC = "crash"
QUEUES = 4


@dataclasses.dataclass
class Ack:
    """What a 200 said about where the message went."""

    msg_id: str
    queue_id: int
    queue_offset: int


@dataclasses.dataclass
class Ledger:
    """Every message ever sent, by body, and what the client learnt about it."""

    acked: dict[str, Ack] = dataclasses.field(default_factory=dict)
    #: No answer arrived (connection reset or refused mid-request): stored or not, both are allowed.
    in_doubt: set[str] = dataclasses.field(default_factory=set)
    #: An HTTP error arrived, or the request certainly never left: must not be stored.
    rejected: dict[str, str] = dataclasses.field(default_factory=dict)

    def known(self, body: str) -> bool:
        return body in self.acked or body in self.in_doubt or body in self.rejected


@dataclasses.dataclass
class Figures:
    """What one run measured."""

    cycles: int = 0
    acked: int = 0
    in_doubt: int = 0
    in_doubt_stored: int = 0
    rejected: int = 0
    stored: int = 0
    acked_per_cycle: list[int] = dataclasses.field(default_factory=list)
    in_doubt_per_cycle: list[int] = dataclasses.field(default_factory=list)
    failures: list[str] = dataclasses.field(default_factory=list)


def properties_of(body: str) -> dict[str, str]:
    """The KEYS and TAGS each message is sent with, derived from its body so the check needs no record."""
    return {KEYS_PROPERTY: f"key-{body} order-{len(body)}", TAGS_PROPERTY: f"tag{len(body) % 3}"}


def check_store(emulator: EmulatorProcess, ledger: Ledger, figures: Figures) -> dict[int, int]:
    """Check the stored messages against the ledger; return the number stored in each queue."""
    messages = emulator.messages(TOPIC, instance_id=emulator.instance_id)
    failures = figures.failures
    by_body: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    per_queue: dict[int, list[int]] = collections.defaultdict(list)
    for row in messages:
        by_body[row["body"]].append(row)
        per_queue[int(row["queue_id"])].append(int(row["queue_offset"]))
    msg_ids = collections.Counter(row["msg_id"] for row in messages)
    for msg_id, count in msg_ids.items():
        if count > 1:
            failures.append(f"msg_id {msg_id} is used by {count} stored messages")
    for body, rows in by_body.items():
        properties = {entry["name"]: entry["value"] for entry in rows[0]["property_list"]}
        expected = properties_of(body)
        if {name: properties.get(name) for name in expected} != expected:
            failures.append(f"{body!r} is stored with properties {properties}, sent with {expected}")
        if len(rows) > 1:
            failures.append(f"{body!r} is stored {len(rows)} times")
        if not ledger.known(body):
            failures.append(f"{body!r} is stored but was never sent")
        if body in ledger.rejected:
            failures.append(f"{body!r} is stored although its send failed with: {ledger.rejected[body]}")
    for body, ack in ledger.acked.items():
        found = by_body.get(body)
        if not found:
            failures.append(f"{body!r} was acknowledged ({ack}) but is not stored")
            continue
        row = found[0]
        stored = Ack(row["msg_id"], int(row["queue_id"]), int(row["queue_offset"]))
        if stored != ack:
            failures.append(f"{body!r} was acknowledged as {ack} but is stored as {stored}")
    for queue_id, offsets in per_queue.items():
        if sorted(offsets) != list(range(len(offsets))):
            failures.append(f"queue {queue_id}: offsets are not 0..{len(offsets) - 1}: {sorted(offsets)[:20]}...")
    figures.stored = len(messages)
    figures.in_doubt_stored = sum(1 for body in ledger.in_doubt if body in by_body)
    return {queue_id: len(offsets) for queue_id, offsets in per_queue.items()}


async def drive(
    emulator: EmulatorProcess, ledger: Ledger, *, cycle: int, seconds: float, concurrency: int
) -> list[Ack]:
    """Send from `concurrency` tasks and SIGKILL the emulator after `seconds`; return this cycle's acks."""
    from dms_rocketmq import APIStatusError, AsyncClient, DMSError

    acks: list[Ack] = []
    killing = asyncio.Event()  # from here on, a failed send is expected
    killed = asyncio.Event()  # the process is gone: the senders stop

    async def sender(client: AsyncClient, worker: int) -> None:
        sequence = 0
        while not killed.is_set():
            body = f"crash-c{cycle}-w{worker}-n{sequence}"
            sequence += 1
            try:
                properties = properties_of(body)
                result = await client.send(
                    TOPIC, body, keys=properties[KEYS_PROPERTY].split(" "), tags=properties[TAGS_PROPERTY]
                )
            except APIStatusError as exc:
                # An HTTP answer that is not a 200: the emulator refused the message, so it must not be stored.
                ledger.rejected[body] = repr(exc)
                raise
            except DMSError as exc:
                # No (complete) answer. `request_sent=False` means the request never left: certainly not stored.
                if getattr(exc, "request_sent", True):
                    ledger.in_doubt.add(body)
                else:
                    ledger.rejected[body] = repr(exc)
                if not killing.is_set():
                    raise
                continue
            ack = Ack(result.msg_id, int(result.queue_id), int(result.queue_offset))
            ledger.acked[body] = ack
            acks.append(ack)

    async def killer() -> None:
        await asyncio.sleep(seconds)
        killing.set()
        # SIGKILL from a thread so that the event loop keeps the sends in flight while the process dies.
        await asyncio.to_thread(emulator.kill)
        killed.set()

    client = AsyncClient(
        endpoint=emulator.url,
        project_id=emulator.project_id,
        instance_id=emulator.instance_id,
        token=emulator.token,
        max_retries=0,
        timeout=30.0,
    )
    async with client:
        results = await asyncio.gather(
            killer(), *(sender(client, worker) for worker in range(concurrency)), return_exceptions=True
        )
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        raise RuntimeError(f"{len(errors)} senders failed before the kill; the first: {errors[0]!r}") from errors[0]
    return acks


def check_restart_offsets(cycle: int, acks: list[Ack], counts: dict[int, int], figures: Figures) -> None:
    """Each queue's first offset after a restart is the number of messages it held before (`counts`)."""
    first_per_queue: dict[int, int] = {}
    for ack in acks:
        first_per_queue[ack.queue_id] = min(first_per_queue.get(ack.queue_id, ack.queue_offset), ack.queue_offset)
    for queue_id, offset in first_per_queue.items():
        # Concurrent answers arrive in any order, but the lowest offset a queue hands out after a restart
        # must be the number of messages it already held (its first send is acknowledged long before the kill).
        if offset != counts.get(queue_id, 0):
            figures.failures.append(
                f"cycle {cycle}: queue {queue_id} restarted at offset {offset}, expected {counts.get(queue_id, 0)}"
            )


def run(*, cycles: int, seconds: float, concurrency: int, data_dir: pathlib.Path) -> Figures:
    """Run the kill/restart cycles and the final check; return the figures (failures included)."""
    ledger = Ledger()
    figures = Figures()
    # The senders use the IAM token: token auth costs the 2-core test machine less than signing.
    emulator = start_emulator(memory=False, data_dir=data_dir, auth=True, topics=(f"{TOPIC}:{QUEUES}",))
    try:
        for cycle in range(cycles + 1):
            emulator.start()  # after a kill: a new process over the same data directory
            counts = check_store(emulator, ledger, figures)
            if cycle == cycles:
                break
            before = len(ledger.acked), len(ledger.in_doubt)
            acks = asyncio.run(drive(emulator, ledger, cycle=cycle, seconds=seconds, concurrency=concurrency))
            acked, in_doubt = len(ledger.acked) - before[0], len(ledger.in_doubt) - before[1]
            emulator.kill()
            figures.cycles += 1
            figures.acked_per_cycle.append(acked)
            figures.in_doubt_per_cycle.append(in_doubt)
            check_restart_offsets(cycle, acks, counts, figures)
            print(
                f"cycle {cycle + 1}/{cycles}: {acked} acknowledged, {in_doubt} in doubt at the kill, "
                f"{figures.stored} stored before this cycle",
                flush=True,
            )
            if acked == 0:
                figures.failures.append(f"cycle {cycle}: no send was acknowledged before the kill")
    finally:
        emulator.close()
    figures.acked = len(ledger.acked)
    figures.in_doubt = len(ledger.in_doubt)
    figures.rejected = len(ledger.rejected)
    return figures


def run_facts(script: str, argv: list[str] | None, started: datetime.datetime) -> dict[str, Any]:
    """How a measuring run was made, for its results file: the command line, when, how long, how busy."""
    return {
        "command": " ".join(["python", script, *(sys.argv[1:] if argv is None else argv)]),
        "started": started.isoformat(timespec="seconds"),
        "seconds": round((datetime.datetime.now(datetime.UTC) - started).total_seconds(), 1),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_at_end": [round(value, 2) for value in os.getloadavg()],
    }


def markdown(document: dict[str, Any]) -> str:
    """A results file of the crash test as the Markdown docs/reliability.md shows."""
    run = document["run"]
    acked, in_flight = document["acked_per_cycle"], document["in_doubt_per_cycle"]
    return "\n".join(
        [
            f"`{run['command']}` at {run['started']} ({run['seconds']:.0f} s; {run['cores']} cores, Python "
            f"{run['python']}, load average {run['load_average_at_end'][0]:.1f} at the end):",
            "",
            "| cycles | acknowledged | failed checks | in doubt at the kills | of which stored | refused (never sent) "
            "| stored in total |",
            "|---:|---:|---:|---:|---:|---:|---:|",
            f"| {document['cycles']} | {document['acked']:,} | {len(document['failures'])} | {document['in_doubt']:,} "
            f"| {document['in_doubt_stored']:,} | {document['rejected']:,} | {document['stored']:,} |",
            "",
            f"Per cycle, {min(acked, default=0):,} to {max(acked, default=0):,} sends were acknowledged before the "
            f"kill, and {min(in_flight, default=0)} to {max(in_flight, default=0)} were in flight.",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Run the crash test; exit status 0 when every check passed."""
    started = datetime.datetime.now(datetime.UTC)
    parser = argparse.ArgumentParser(prog="crash_test.py", description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--cycles", type=int, default=3, help="kill/restart cycles (default 3)")
    parser.add_argument("--seconds", type=float, default=2.0, help="seconds of load before each kill (default 2)")
    parser.add_argument("--concurrency", type=int, default=48, help="sends in flight at once (default 48)")
    parser.add_argument("--data-dir", type=pathlib.Path, help="data directory to use (default: a new temporary one)")
    parser.add_argument("--json", type=pathlib.Path, help="also write the figures to this file as JSON")
    parser.add_argument(
        "--markdown", type=pathlib.Path, metavar="RESULTS.json", help="print a results file as Markdown; run nothing"
    )
    options = parser.parse_args(argv)
    if options.markdown:
        print(markdown(json.loads(options.markdown.read_text())))
        return 0
    with tempfile.TemporaryDirectory(prefix="dms-crash-") as tmp:
        data_dir = options.data_dir or pathlib.Path(tmp) / "data"
        figures = run(
            cycles=options.cycles, seconds=options.seconds, concurrency=options.concurrency, data_dir=data_dir
        )
    print(
        f"crash test: {figures.cycles} SIGKILL cycles, {figures.acked} acknowledged (all stored once, at the "
        f"acknowledged queue/offset: {'no' if figures.failures else 'yes'}), {figures.in_doubt} in doubt of which "
        f"{figures.in_doubt_stored} stored, {figures.rejected} refused, {figures.stored} stored in total"
    )
    if options.json:
        document = {"run": run_facts("scripts/crash_test.py", argv, started), **dataclasses.asdict(figures)}
        options.json.write_text(json.dumps(document, indent=2) + "\n")
    for failure in figures.failures[:50]:
        print(f"FAIL: {failure}", file=sys.stderr)
    return 1 if figures.failures else 0


if __name__ == "__main__":
    sys.exit(main())
