"""`dms-rocketmq send --file` stopped at random points (SIGINT, SIGTERM, SIGKILL) and resumed, and stopped early
on purpose (endpoint down, wrong SK, unknown instance): checked line by line against what the emulator stored."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _shared.cli import command, environment

pytestmark = pytest.mark.integration

LINES = 2000
CONCURRENCY = 16


@pytest.fixture
def emulator(dms_emulator_factory: Any) -> Any:
    """A memory emulator of its own: the counts below are of this test's messages only."""
    return dms_emulator_factory(memory=True)


def write_lines(path: Path, count: int = LINES, tag: str = "bulk") -> list[str]:
    bodies = [f"{tag}-{n}" for n in range(1, count + 1)]
    path.write_text("".join(json.dumps({"body": body}) + "\n" for body in bodies), encoding="utf-8")
    return bodies


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*command(), "send", "--topic", "orders", "--output", "json", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*command(), "send", "--topic", "orders", "--output", "json", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def journal_states(path: Path) -> dict[int, dict[str, Any]]:
    """The last record of every line of a results journal (a torn last line, from a kill, is ignored)."""
    last: dict[int, dict[str, Any]] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(raw)
        except ValueError:
            continue
        if "line" in record:
            last[record["line"]] = record
    return last


def sent_records(path: Path) -> int:
    try:
        return path.read_bytes().count(b'"status":"sent"')
    except FileNotFoundError:
        return 0


def wait_until(process: subprocess.Popen[str], condition: Callable[[], bool], what: str) -> None:
    """Poll `condition` while the CLI runs: fails at once if the CLI ended first, or after a minute."""
    deadline = time.monotonic() + 60
    while not condition():
        assert process.poll() is None, (what, process.communicate())
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.01)


def wait_for_sent(path: Path, process: subprocess.Popen[str], count: int) -> None:
    wait_until(process, lambda: sent_records(path) >= count, f"{count} lines journaled as sent")


def stored_bodies(emulator: Any) -> Counter[str]:
    return Counter(message["body"] for message in emulator.messages("orders"))


def check_journal_matches_store(journal: Path, emulator: Any, bodies: list[str]) -> None:
    """Every line the journal says was sent is stored once, with the journal's msg_id, queue and offset."""
    stored = {m["body"]: m for m in emulator.messages("orders")}
    for number, record in journal_states(journal).items():
        if record["status"] == "sent":
            row = stored[bodies[number - 1]]
            assert (row["msg_id"], row["queue_id"], row["queue_offset"]) == (
                record["msg_id"],
                record["queue_id"],
                record["queue_offset"],
            )


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_at_a_random_point_then_resume_stores_every_line_once(
    emulator: Any, tmp_path: Path, signum: signal.Signals
) -> None:
    """SIGINT/SIGTERM mid-file: exit 130, every line accounted for; --resume then stores each line exactly once."""
    seed = random.randrange(1_000_000)
    point = random.Random(seed).randrange(1, LINES // 2)
    source, journal, failures = tmp_path / "in.jsonl", tmp_path / "results.jsonl", tmp_path / "failed.jsonl"
    bodies = write_lines(source)
    env = environment(emulator)
    args = ["--file", str(source), "--results", str(journal), "--concurrency", str(CONCURRENCY)]
    process = start([*args, "--failures", str(failures)], env)
    wait_for_sent(journal, process, point)
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, (seed, stderr)
    summary = json.loads(stdout)
    assert "Traceback" not in stderr
    assert summary["sent"] >= point, seed
    # Every line is accounted for, in the summary, the journal and the failures file.
    assert summary["sent"] + summary["in_doubt"] + summary["not_sent"] + summary["failed"] == LINES, summary
    states = journal_states(journal)
    assert len(states) == LINES
    assert Counter(r["status"] for r in states.values())["sent"] == summary["sent"]
    listed = [json.loads(line) for line in failures.read_text(encoding="utf-8").splitlines()]
    assert len(listed) == LINES - summary["sent"]
    assert all(entry["_failure"]["status"] in ("not_sent", "in_doubt") for entry in listed)
    assert stored_bodies(emulator).total() == summary["sent"]  # the in-flight sends finished: no doubt left
    check_journal_matches_store(journal, emulator, bodies)

    resumed = run([*args, "--resume"], env)
    assert resumed.returncode == 0, resumed.stderr
    again = json.loads(resumed.stdout)
    assert again["skipped"] == summary["sent"]
    assert again["sent"] == LINES - summary["sent"]
    counts = stored_bodies(emulator)
    assert set(counts) == set(bodies)
    assert set(counts.values()) == {1}, (seed, [b for b, n in counts.items() if n > 1][:5])
    check_journal_matches_store(journal, emulator, bodies)


def test_second_ctrl_c_abandons_in_flight_sends_as_in_doubt(emulator: Any, tmp_path: Path) -> None:
    """A second Ctrl-C abandons slow sends: they are in doubt, kept out of --resume unless --resend-in-doubt."""
    source, journal = tmp_path / "in.jsonl", tmp_path / "results.jsonl"
    bodies = write_lines(source, 200)
    env = environment(emulator)
    args = ["--file", str(source), "--results", str(journal), "--concurrency", "4", "--timeout", "30"]
    process = start([*args, "--rate", "50"], env)  # paced: 4 s in all, so the faults meet sends still to come
    assert process.stderr is not None
    wait_for_sent(journal, process, 20)
    emulator.inject_faults(4, status=200, delay_ms=2000)  # the next four sends hang for 2 s
    wait_until(process, lambda: emulator.armed_faults() == 0, "the four held sends to reach the emulator")
    process.send_signal(signal.SIGINT)
    assert "no new lines are sent" in process.stderr.readline() + process.stderr.readline()
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    summary = json.loads(stdout)
    assert summary["in_doubt"] >= 1, summary
    assert summary["sent"] + summary["in_doubt"] + summary["not_sent"] == 200
    doubtful = {n for n, r in journal_states(journal).items() if r["status"] == "in_doubt"}
    assert len(doubtful) == summary["in_doubt"]
    assert all(r["request_sent"] for r in journal_states(journal).values() if r["status"] == "in_doubt")

    kept = run([*args, "--resume"], env)
    assert kept.returncode == 1, kept.stderr
    assert json.loads(kept.stdout)["in_doubt"] == len(doubtful)
    assert f"{len(doubtful)} lines are in doubt" in kept.stderr
    counts = stored_bodies(emulator)
    assert all(counts[bodies[n - 1]] <= 1 for n in doubtful)
    assert all(counts[body] == 1 for n, body in enumerate(bodies, start=1) if n not in doubtful)

    resent = run([*args, "--resume", "--resend-in-doubt"], env)
    assert resent.returncode == 0, resent.stderr
    assert json.loads(resent.stdout)["sent"] == len(doubtful)
    assert set(stored_bodies(emulator)) == set(bodies)


def test_sigkill_then_resume_never_sends_an_acknowledged_line_twice(emulator: Any, tmp_path: Path) -> None:
    """SIGKILL mid-run: --resume skips every acknowledged line, holds back the lines that were in flight."""
    source, journal = tmp_path / "in.jsonl", tmp_path / "results.jsonl"
    bodies = write_lines(source)
    env = environment(emulator)
    args = ["--file", str(source), "--results", str(journal), "--concurrency", str(CONCURRENCY)]
    process = start(args, env)
    wait_for_sent(journal, process, random.randrange(1, LINES // 2))
    process.kill()
    process.communicate(timeout=30)
    with journal.open("ab") as stream:  # as if killed halfway through writing a record
        stream.write(b'{"line":1,"hash":"00')
    before = journal_states(journal)
    acknowledged = {n for n, r in before.items() if r["status"] == "sent"}
    in_flight = {n for n, r in before.items() if r["status"] == "sending"}
    assert len(in_flight) <= CONCURRENCY  # written ahead: at most a window of lines is in doubt

    resumed = run([*args, "--resume"], env)
    summary = json.loads(resumed.stdout)
    assert summary["skipped"] == len(acknowledged)
    assert summary["in_doubt"] == len(in_flight)
    assert resumed.returncode == (1 if in_flight else 0), resumed.stderr
    counts = stored_bodies(emulator)
    assert all(counts[body] == 1 for n, body in enumerate(bodies, start=1) if n not in in_flight), [
        (n, counts[b]) for n, b in enumerate(bodies, start=1) if counts[b] != 1 and n not in in_flight
    ][:5]
    assert all(counts[bodies[n - 1]] <= 1 for n in in_flight)
    check_journal_matches_store(journal, emulator, bodies)
    again = run([*args, "--resume"], env)  # the journal stays readable after a kill and a resume
    assert json.loads(again.stdout)["skipped"] + len(in_flight) == LINES, again.stderr


def test_resume_refuses_an_edited_file(emulator: Any, tmp_path: Path) -> None:
    """--resume with a file whose journaled lines changed is refused (exit 2) before anything is sent."""
    source, journal = tmp_path / "in.jsonl", tmp_path / "results.jsonl"
    write_lines(source, 50)
    env = environment(emulator)
    args = ["--file", str(source), "--results", str(journal)]
    assert run(args, env).returncode == 0
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    source.write_text("".join([json.dumps({"body": "inserted"}) + "\n", *lines]), encoding="utf-8")
    refused = run([*args, "--resume"], env)
    assert refused.returncode == 2
    assert "has changed since" in refused.stderr
    assert "line 1 " in refused.stderr
    assert stored_bodies(emulator).total() == 50
    fresh = run(args, env)  # and a journal is never overwritten by accident
    assert fresh.returncode == 2
    assert "--resume" in fresh.stderr


@pytest.mark.parametrize("case", ["endpoint down", "wrong SK", "unknown instance"])
def test_fail_fast_stops_early_and_journals_every_line(emulator: Any, tmp_path: Path, case: str) -> None:
    """When no line can succeed, the CLI stops after about a window of sends, says why, and journals every line."""
    source, journal = tmp_path / "in.jsonl", tmp_path / "results.jsonl"
    write_lines(source, 2000)
    broken = {
        "endpoint down": {"DMS_ROCKETMQ_ENDPOINT": "http://127.0.0.1:9"},
        "wrong SK": {"HUAWEICLOUD_SDK_SK": "not-the-secret-key"},
        "unknown instance": {"DMS_ROCKETMQ_INSTANCE_ID": "00000000-0000-4000-8000-000000000000"},
    }[case]
    message = {
        "endpoint down": "connection failures in a row",
        "wrong SK": "refused the credentials",
        "unknown instance": "does not exist",
    }[case]
    done = run(
        ["--file", str(source), "--results", str(journal), "--concurrency", str(CONCURRENCY)],
        environment(emulator, **broken),
    )
    assert done.returncode == 1, done.stderr
    assert "dms-rocketmq: stopped: " in done.stderr
    assert message in done.stderr
    summary = json.loads(done.stdout)
    # Only the first window of sends (and the connection-failure run) was tried: the rest were not sent.
    assert summary["failed"] <= CONCURRENCY + 10, summary
    assert summary["not_sent"] == 2000 - summary["failed"]
    states = journal_states(journal)
    assert len(states) == 2000
    assert {r["status"] for r in states.values()} == {"failed", "not_sent"}
    assert all(r["request_sent"] is False for r in states.values())
    assert emulator.messages("orders") == []
    assert emulator.sk not in done.stderr + done.stdout + journal.read_text(encoding="utf-8")


def test_rate_caps_messages_per_second(emulator: Any, tmp_path: Path) -> None:
    """--rate N never sends faster than N a second (a lower bound on the time: a slow machine cannot break it)."""
    source = tmp_path / "in.jsonl"
    write_lines(source, 150)
    started = time.monotonic()
    done = run(["--file", str(source), "--rate", "100", "--concurrency", "16"], environment(emulator))
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["sent"] == 150
    assert elapsed >= 1.4  # 150 sends at 100 a second: the 150th slot is 1.49 s after the first


def test_ctrl_c_with_stdin_still_open_stops_at_once(emulator: Any, tmp_path: Path) -> None:
    """A pipe that never ends (a producer still running) does not hold Ctrl-C up: exit 130, unread input said."""
    journal = tmp_path / "results.jsonl"
    process = subprocess.Popen(
        [*command(), "send", "--topic", "orders", "--output", "json", "--file", "-", "--results", str(journal)],
        env=environment(emulator),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None
    process.stdin.write("".join(json.dumps({"body": f"piped-{n}"}) + "\n" for n in range(100)))
    process.stdin.flush()  # and the pipe stays open, as a producer that has more to say keeps it
    wait_for_sent(journal, process, 100)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    summary = json.loads(stdout)
    assert (summary["sent"], summary["not_sent"], summary["unread_after_line"]) == (100, 0, 100)
    assert "the input after line 100 was not read" in stderr
    assert stored_bodies(emulator).total() == 100


def test_progress_and_summary_count_every_line(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The progress bar advances once per line of the file (blank and invalid ones too); the summary agrees."""
    from dms_rocketmq.cli import _send_file, main

    advanced = []

    class Counting(_send_file.Progress):
        def advance(self) -> None:
            advanced.append(1)

    monkeypatch.setattr(_send_file, "Progress", Counting)
    for name, value in environment(emulator).items():
        monkeypatch.setenv(name, value)
    source = tmp_path / "in.jsonl"
    good = [json.dumps({"body": f"counted-{n}"}) for n in range(10)]
    source.write_text("\n".join([*good[:5], "", "not json", "[1]", "   ", *good[5:], '{"body": ""}']) + "\n")
    assert main(["send", "--topic", "orders", "--output", "json", "--file", str(source)]) == 1
    summary = json.loads(capsys.readouterr().out)
    assert len(advanced) == 15  # every line of the file
    assert (summary["sent"], summary["failed"], summary["blank"], summary["total"]) == (10, 3, 2, 13)


def test_failures_file_cannot_be_the_file_being_sent(emulator: Any, tmp_path: Path) -> None:
    """--failures (or --results) naming the input file is refused: writing it would empty the input first."""
    source = tmp_path / "failed.jsonl"
    write_lines(source, 10)
    for flag in ("--failures", "--results"):
        done = run(["--file", str(source), flag, str(tmp_path / "." / "failed.jsonl")], environment(emulator))
        assert done.returncode == 2
        assert "name the same file" in done.stderr
    assert len(source.read_text(encoding="utf-8").splitlines()) == 10
    assert emulator.messages("orders") == []


@pytest.mark.parametrize("first_resumes", [False, True], ids=["new run then resume", "two resumes"])
def test_a_second_run_on_a_journal_in_use_is_refused_naming_the_holder(
    emulator: Any, tmp_path: Path, first_resumes: bool
) -> None:
    """Two real CLI processes on one journal: the second is refused (exit 2, the holder's pid, nothing sent),
    the first finishes, and every line is stored exactly once."""
    source, journal = tmp_path / "in.jsonl", tmp_path / "results.jsonl"
    bodies = write_lines(source, 1500)
    env = environment(emulator)
    args = ["--file", str(source), "--results", str(journal), "--concurrency", "4", "--rate", "500"]
    if first_resumes:
        first = start(args, env)
        wait_for_sent(journal, first, 20)
        first.send_signal(signal.SIGINT)
        assert first.communicate(timeout=60)[0]
        assert first.returncode == 130
    holder = start([*args, "--resume"] if first_resumes else args, env)
    before = sent_records(journal)
    wait_for_sent(journal, holder, before + 20)
    second = run([*args, "--resume"], env)
    assert second.returncode == 2, second.stdout + second.stderr
    assert holder.poll() is None, "the first run ended before the second was tried; the test proves nothing"
    assert "Traceback" not in second.stderr
    assert f"in use by another running dms-rocketmq send (pid {holder.pid})" in second.stderr
    holder.communicate(timeout=120)
    assert holder.returncode == 0
    counts = stored_bodies(emulator)
    assert set(counts) == set(bodies)
    assert set(counts.values()) == {1}
    check_journal_matches_store(journal, emulator, bodies)


@pytest.mark.parametrize("via", ["pipe", "fifo"])
def test_resume_from_a_stream_is_refused_rather_than_sending_nothing(emulator: Any, tmp_path: Path, via: str) -> None:
    """--resume reads its input twice: from a pipe or a FIFO it is refused with exit 2, never `total 0` and exit 0."""
    source, journal = tmp_path / "in.jsonl", tmp_path / "results.jsonl"
    write_lines(source, 30)
    env = environment(emulator)
    first = run(["--file", str(source), "--results", str(journal), "--max-connection-failures", "1"], env)
    assert first.returncode == 0, first.stderr
    data = source.read_bytes() + (json.dumps({"body": "new"}) + "\n").encode()
    if via == "pipe":
        resumed = subprocess.run(
            [*command(), "send", "--topic", "orders", "--file", "-", "--results", str(journal), "--resume"],
            env=env,
            input=data,
            capture_output=True,
            timeout=120,
        )
    else:
        fifo = tmp_path / "in.fifo"
        os.mkfifo(fifo)
        process = subprocess.Popen(
            [*command(), "send", "--topic", "orders", "--file", str(fifo), "--results", str(journal), "--resume"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        with contextlib.suppress(BrokenPipeError), open(fifo, "wb") as writer:
            writer.write(data)
        stdout, stderr = process.communicate(timeout=120)
        resumed = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    assert resumed.returncode == 2, resumed
    assert b"--resume needs --file to be a regular file" in resumed.stderr
    assert b"Traceback" not in resumed.stderr
    assert stored_bodies(emulator).total() == 30


def test_resume_sends_lines_appended_after_the_journals_last_line(emulator: Any, tmp_path: Path) -> None:
    """Lines appended to a file after the journal's last line are new lines: --resume sends them (and only them)."""
    source, journal = tmp_path / "in.jsonl", tmp_path / "results.jsonl"
    bodies = write_lines(source, 40)
    env = environment(emulator)
    args = ["--file", str(source), "--results", str(journal)]
    assert run(args, env).returncode == 0
    with source.open("a", encoding="utf-8") as stream:
        stream.write("".join(json.dumps({"body": f"appended-{n}"}) + "\n" for n in range(5)))
    resumed = run([*args, "--resume"], env)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert (summary["skipped"], summary["sent"]) == (40, 5)
    counts = stored_bodies(emulator)
    assert set(counts) == {*bodies, *(f"appended-{n}" for n in range(5))}
    assert set(counts.values()) == {1}


def test_a_line_abandoned_in_a_retry_backoff_is_not_sent_and_resume_sends_it(emulator: Any, tmp_path: Path) -> None:
    """A second Ctrl-C while a line waits out a 429's Retry-After (nothing stored) records it not sent, not
    in doubt: `--resume` sends it without --resend-in-doubt, and it is stored once."""
    source, journal = tmp_path / "in.jsonl", tmp_path / "results.jsonl"
    bodies = write_lines(source, 1, tag="backoff")
    env = environment(emulator)
    args = ["--file", str(source), "--results", str(journal), "--max-retries", "3"]
    emulator.inject_faults(1, status=429, retry_after=30)
    process = start(args, env)
    assert process.stderr is not None
    wait_until(process, lambda: emulator.armed_faults() == 0, "the 429 to be served")
    process.send_signal(signal.SIGINT)
    assert "no new lines are sent" in process.stderr.readline() + process.stderr.readline()
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert journal_states(journal)[1]["status"] == "not_sent"
    assert stored_bodies(emulator).total() == 0
    resumed = run([*args, "--resume"], env)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["sent"] == 1
    assert stored_bodies(emulator) == {bodies[0]: 1}
