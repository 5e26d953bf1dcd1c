"""What one measurement is: the workload, the credentials the servers accept, one timed sample, one row.

Shared by the servers, the contenders, the report and `run.py`.
"""

from __future__ import annotations

import gc
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from dms_rocketmq_api.spec_rules import ENGINES, operation_path
from dms_rocketmq_emulator._config import DEFAULT_INSTANCE_ID as INSTANCE_ID
from dms_rocketmq_emulator._config import DEFAULT_PROJECT_ID as PROJECT_ID

__all__ = [
    "AK",
    "BODY_LENGTH",
    "ENGINE",
    "INSTANCE_ID",
    "IN_FLIGHT",
    "PROJECT_ID",
    "SEND_PATH",
    "SK",
    "TOPIC",
    "WARM_UP",
    "Contender",
    "Row",
    "Sample",
    "SendFailed",
    "Timer",
    "Workload",
    "check_status",
    "timed_one_by_one",
    "warm_up_of",
]

TOPIC = "bench"
# Benchmark-only credentials, known to the emulator the bench starts and to nothing else.
AK = "BENCHAK0000000000000"
SK = "bench-sk-used-only-on-loopback"
#: The engine every contender sends to: the spec's first (the others are its aliases).
ENGINE = ENGINES[0]
# The spec's path of the operation, for the contenders that build their requests by hand.
SEND_PATH = operation_path("SendMessage", engine=ENGINE, project_id=PROJECT_ID, instance_id=INSTANCE_ID)
IN_FLIGHT = 64
BODY_LENGTH = 100


@dataclass(frozen=True)
class Workload:
    """N messages of about 100 characters, each with one key, in the forms the contenders take them."""

    bodies: list[str]
    keys: list[str]
    payloads: list[bytes]

    @classmethod
    def make(cls, count: int) -> Workload:
        bodies = [f"order {i:08d} placed; ".ljust(BODY_LENGTH, "x") for i in range(count)]
        keys = [f"order-{i:08d}" for i in range(count)]
        payloads = [
            json.dumps(
                {"topic": TOPIC, "body": body, "property_list": [{"name": "KEYS", "value": key}]},
                separators=(",", ":"),
            ).encode()
            for body, key in zip(bodies, keys, strict=True)
        ]
        return cls(bodies, keys, payloads)

    def __len__(self) -> int:
        return len(self.bodies)


@dataclass(frozen=True)
class Sample:
    """One timed run of one contender."""

    sends: int
    seconds: float
    client_cpu: float
    server_cpu: float | None = None
    commits: int | None = None  # durable store commits during the run (warm-up included)

    @property
    def rate(self) -> float:
        return self.sends / self.seconds


class Timer:
    """Wall clock and this process's CPU time (all threads) around the timed region only."""

    def __enter__(self) -> Timer:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu

    def sample(self, sends: int) -> Sample:
        return Sample(sends, self.seconds, self.cpu)


class CollectorWatch:
    """The garbage collector's passes while the watch is on: how many of each generation, and the CPU time
    (this process's) each generation took, through `gc.callbacks`."""

    def __init__(self) -> None:
        self.passes = [0, 0, 0]
        self.cpu = [0.0, 0.0, 0.0]
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.process_time()
            return
        generation = info["generation"]
        self.passes[generation] += 1
        self.cpu[generation] += time.process_time() - self._started

    def __enter__(self) -> CollectorWatch:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)


class SendFailed(RuntimeError):
    """A contender got something other than a 200: its numbers would be meaningless."""


def check_status(status: int, contender: str) -> None:
    if status != 200:
        raise SendFailed(f"{contender}: HTTP {status}")


WARM_UP = 50


def timed_one_by_one(send: Callable[[int], object], count: int) -> Sample:
    """`send(i)` for the first WARM_UP inputs untimed, then for every input of the `count` one after the other,
    timed: the sequential rows' loop."""
    for i in range(min(WARM_UP, count)):
        send(i)
    with Timer() as timer:
        for i in range(count):
            send(i)
    return timer.sample(count)


def warm_up_of(count: int) -> int:
    """How many messages a bulk or server run sends before its clock starts."""
    return min(IN_FLIGHT * 4, count)


Contender = Callable[[str, Workload], Sample]


@dataclass
class Row:
    """One contender of one section: how to run it, against which server, and its samples."""

    key: str
    label: str
    run: Contender
    server: str
    workload: int
    reset_before: bool = False
    samples: list[Sample] = field(default_factory=list)
    unavailable: str | None = None

    @property
    def rate(self) -> float | None:
        return statistics.median(s.rate for s in self.samples) if self.samples else None

    @property
    def client_cpu_us(self) -> float | None:
        if not self.samples:
            return None
        return statistics.median(s.client_cpu / s.sends * 1e6 for s in self.samples)

    @property
    def server_cpu_us(self) -> float | None:
        values = [s.server_cpu / s.sends * 1e6 for s in self.samples if s.server_cpu is not None]
        return statistics.median(values) if values else None

    @property
    def messages_per_commit(self) -> float | None:
        """For the durable store: how many messages one commit (one fsync) carried, median of the rounds."""
        values = [(s.sends + warm_up_of(s.sends)) / s.commits for s in self.samples if s.commits]
        return statistics.median(values) if values else None
