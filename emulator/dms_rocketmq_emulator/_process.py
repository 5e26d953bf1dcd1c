"""The one emulator launcher: `dms-rocketmq-emulator` as a child process on a free loopback port.

Used by the pytest plugin's fixtures, `make demo`, the bench, the crash test, the soak and the test tiers, so
that all of them start the emulator the way a user does (the console program, `--port 0`, the banner line)
and see the same things: `url`, `pid`, `output`, `rss_kib()`, `cpu_seconds()`, restart on the same data
directory, SIGTERM, SIGINT or SIGKILL.

Only the standard library is imported here: the pytest plugin loads this module in every pytest run where the
package is installed, with or without the `emulator` extra.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dms_rocketmq_api.spec_rules import ENGINES, ERRORS, OPERATIONS, operation_path

from ._config import DEFAULT_INSTANCE_ID, DEFAULT_PROJECT_ID
from ._extras import missing_extra

__all__ = ["DEFAULT_TOPICS", "ENDPOINT_BANNER", "EmulatorProcess", "start_emulator"]

#: The line the emulator prints once it listens; what follows `=` is its base URL.
ENDPOINT_BANNER = "DMS_ROCKETMQ_ENDPOINT="
DEFAULT_TOPICS = ("orders", "payments")
_QUERY_PAGE = 1000
#: The code of an unknown topic in a query (the spec's example): that topic simply has no messages yet.
_TOPIC_MISSING = ERRORS["QueryBadRequest.topicMissing"][0]


def _widest_time_range() -> tuple[str, str]:
    """The widest time range ListMessages takes (Unix milliseconds, as many digits as its pattern allows):
    every message."""
    pattern = OPERATIONS["ListMessages"]["parameters"]["end_time"]["schema"]["pattern"]
    match = re.fullmatch(r"\^\[0-9\]\{\d+,(\d+)\}\$", pattern)
    if match is None:
        raise RuntimeError(f"openapi.yaml's ListMessages end_time pattern {pattern!r} is not ^[0-9]{{MIN,MAX}}$")
    return "0", "9" * int(match.group(1))


_ALL_TIME = _widest_time_range()


def _toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


class EmulatorProcess:
    """A running `dms-rocketmq-emulator` subprocess and what a caller needs to talk to it.

    Its output (stdout and stderr) goes to `log_path`, a file, so no pipe can fill and block the server; a
    restart appends to it. `command` replaces `python -m dms_rocketmq_emulator` for another server that
    prints the same banner and answers `/_emulator/health` (the bench's minimal app).
    """

    def __init__(
        self,
        *,
        args: Sequence[str],
        workdir: Path,
        data_dir: Path | None = None,
        project_id: str = DEFAULT_PROJECT_ID,
        instance_id: str = DEFAULT_INSTANCE_ID,
        instance_ids: tuple[str, ...] = (DEFAULT_INSTANCE_ID,),
        topics: tuple[str, ...] = (),
        ak: str | None = None,
        sk: str | None = None,
        token: str | None = None,
        start_timeout: float = 30.0,
        command: Sequence[str] | None = None,
        env: dict[str, str] | None = None,
        ca_file: Path | None = None,
    ) -> None:
        self.url = ""
        #: The CA a client trusts to reach an HTTPS emulator (`tls=True`), or None.
        self.ca_file = ca_file
        self.project_id = project_id
        self.instance_id = instance_id
        self.instance_ids = instance_ids
        self.topics = topics
        self.ak = ak
        self.sk = sk
        self.token = token
        self.data_dir = data_dir
        self.auth = ak is not None or token is not None
        self._args = list(args)
        self._command = list(command) if command is not None else [sys.executable, "-m", "dms_rocketmq_emulator"]
        self._env = env
        self._workdir = workdir
        self._start_timeout = start_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._starts = 0
        self.log_path = workdir / "emulator.log"

    def __repr__(self) -> str:  # never the SK or the token
        return f"EmulatorProcess(url={self.url!r}, instance_id={self.instance_id!r}, auth={self.auth})"

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def client_env(self, **extra: str) -> dict[str, str]:
        """This process's environment for the `dms-rocketmq` command or a `Client` configured from the
        environment: the client's settings dropped, then this emulator's endpoint, IDs and credentials (AK/SK,
        when set), the CA of an HTTPS emulator (`SSL_CERT_FILE`), then `extra` (variable name to value).

        The variable names are the client's own (`dms_rocketmq._config.ENV`), imported here rather than at
        module import, so that the emulator works without the client installed.
        """
        try:
            from dms_rocketmq._config import ENV
        except ImportError as exc:
            raise RuntimeError("client_env needs the dms_rocketmq client package installed") from exc
        names = set(ENV.values())
        env = {name: value for name, value in os.environ.items() if name not in names}
        env[ENV["endpoint"]] = self.url
        env[ENV["project_id"]] = self.project_id
        env[ENV["instance_id"]] = self.instance_id
        if self.ak is not None and self.sk is not None:
            env[ENV["ak"]], env[ENV["sk"]] = self.ak, self.sk
        if self.ca_file is not None:
            env["SSL_CERT_FILE"] = str(self.ca_file)
            env.pop("SSL_CERT_DIR", None)  # the two together would trust the system's CAs as well
        env.update(extra)
        return env

    @property
    def messages_url(self) -> str:
        """The send-message URL of the default instance, with the spec's first engine."""
        return self.url + operation_path(
            "SendMessage", engine=ENGINES[0], project_id=self.project_id, instance_id=self.instance_id
        )

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int:
        """The process id of the latest start."""
        if self._process is None:
            raise RuntimeError("the emulator has not been started")
        return self._process.pid

    @property
    def output(self) -> str:
        """Everything the process wrote to stdout and stderr, over all its starts."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    # -- life cycle -------------------------------------------------------------------------------------
    def start(self) -> EmulatorProcess:
        """Start the process and wait until it answers its health check."""
        if self.running:
            return self
        self._mark_start()
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **(self._env or {})}
        log = self.log_path.open("ab")
        try:
            self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [*self._command, *self._args],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self._workdir,
                env=env,
            )
        finally:
            log.close()
        self.url = self._wait_for_endpoint()
        self._wait_for_health()
        return self

    def _log_tail(self, size: int = 8192) -> str:
        """The end of the log (a long session's log may be large: only its tail is read)."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(max(0, log.seek(0, os.SEEK_END) - size))
                return log.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def _wait_for_endpoint(self) -> str:
        deadline = time.monotonic() + self._start_timeout
        assert self._process is not None
        while time.monotonic() < deadline:
            text = self._log_tail()
            # The last banner wins (a restarted process appends to the same log).
            for line in reversed(text.splitlines()):
                if line.startswith(ENDPOINT_BANNER) and self._banner_is_current(text, line):
                    return line[len(ENDPOINT_BANNER) :].strip().rstrip("/")
            if self._process.poll() is not None:
                raise RuntimeError(f"the emulator exited with {self._process.returncode}:\n{self._log_tail()}")
            time.sleep(0.02)
        self.kill()
        raise RuntimeError(f"the emulator did not start in {self._start_timeout} s:\n{self._log_tail()}")

    def _banner_is_current(self, text: str, line: str) -> bool:
        # After a restart, the old endpoint line is still in the log: only a line printed after the
        # latest start marker counts.
        marker = f"--- start {self._starts} ---"
        return marker in text and text.rfind(line) > text.rfind(marker)

    def _mark_start(self) -> None:
        self._starts += 1
        with self.log_path.open("a", encoding="utf-8") as log:
            log.write(f"--- start {self._starts} ---\n")

    def _wait_for_health(self) -> None:
        deadline = time.monotonic() + self._start_timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, ValueError):
                if self._request("GET", "/_emulator/health") == {"status": "ok"}:
                    return
            time.sleep(0.02)
        self.kill()
        raise RuntimeError(f"the emulator did not answer its health check:\n{self._log_tail()}")

    def stop(self, timeout: float = 15.0, *, sig: int | None = None) -> int | None:
        """Stop gracefully (SIGTERM, or `sig` such as SIGINT: in-flight sends finish and are committed).

        Killed if it has not exited after `timeout` seconds. Returns the exit code (0 after a graceful stop).
        """
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            if sig is None:
                process.terminate()  # SIGTERM on POSIX
            else:
                process.send_signal(sig)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return process.returncode

    def kill(self) -> None:
        """Kill at once (SIGKILL), as a crash would: the process gets no chance to flush or close anything."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def restart(self) -> EmulatorProcess:
        """Stop, then start again with the same options (and data directory); `url` may change."""
        self.stop()
        return self.start()

    def close(self) -> None:
        """Stop and remove the temporary files (not a data directory the caller gave)."""
        self.stop()
        shutil.rmtree(self._workdir, ignore_errors=True)

    # -- resources (Linux /proc) ------------------------------------------------------------------------
    def rss_kib(self) -> int:
        """Resident memory of the process in KiB (`VmRSS` of /proc/<pid>/status)."""
        status = Path(f"/proc/{self.pid}/status").read_text()
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS line in /proc/<pid>/status")

    def cpu_seconds(self) -> float | None:
        """User plus system CPU time the process has used so far, or None where /proc cannot tell."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, RuntimeError):
            return None
        # After the ")" closing the command name, utime and stime are the 12th and 13th fields.
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    # -- control API ------------------------------------------------------------------------------------
    def _request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(  # noqa: S310 - always our own http://127.0.0.1 URL
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})}
        )
        context = None
        if self.ca_file is not None:
            context = ssl.create_default_context(cafile=str(self.ca_file))
        elif self.url.startswith("https://"):
            # A certificate given with --tls-cert (maybe a wrong one, on purpose): the launcher talks only to the
            # child it started, on a loopback port, so it does not check it.
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        with urllib.request.urlopen(request, timeout=30, context=context) as response:  # noqa: S310
            return json.loads(response.read())

    def info(self) -> dict[str, Any]:
        """The emulator's `/_emulator/info`: project, instances, topics, auth, store and its counters."""
        result: dict[str, Any] = self._request("GET", "/_emulator/info")
        return result

    # -- reading messages back through the public query API ---------------------------------------------
    def query_messages(
        self,
        topic: str,
        *,
        msg_id: str | None = None,
        key: str | None = None,
        start_time: int | None = None,
        end_time: int | None = None,
        queue: int | None = None,
        instance_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """Every message the public query (ListMessages) finds, all pages, as it shows them.

        Without `msg_id` or a time range (Unix milliseconds), the range is all time.

        Not the wrapper's `query_messages`: tests read the emulator back through this launcher to check what
        the wrapper sent, so it must not share the wrapper's parsing or paging (a bug there would hide itself),
        and it returns the JSON as the service shows it, which is what those tests compare.
        """
        query: dict[str, str] = {"topic": topic, "limit": str(_QUERY_PAGE)}
        if msg_id is not None:
            query["msg_id"] = msg_id
        if key is not None:
            query["key"] = key
        if queue is not None:
            query["queue"] = str(queue)
        if start_time is not None or end_time is not None or msg_id is None:
            query["start_time"] = _ALL_TIME[0] if start_time is None else str(start_time)
            query["end_time"] = _ALL_TIME[1] if end_time is None else str(end_time)
        path = operation_path(
            "ListMessages", engine=ENGINES[0], project_id=self.project_id, instance_id=instance_id or self.instance_id
        )
        headers = {"X-Auth-Token": self.token} if self.token else {}
        out: list[dict[str, Any]] = []
        while True:
            query["offset"] = str(len(out))
            page = self._request("GET", f"{path}?{urllib.parse.urlencode(query)}", headers=headers)
            out += page["messages"]
            if not page["messages"] or len(out) >= page["total"]:
                return out

    def get_message(self, topic: str, msg_id: str, *, instance_id: str | None = None) -> dict[str, Any] | None:
        """The message `msg_id` of `topic` as the public query shows it, or None."""
        found = self.query_messages(topic, msg_id=msg_id, instance_id=instance_id)
        return found[0] if found else None

    def messages(self, topic: str | None = None, *, instance_id: str | None = None) -> list[dict[str, Any]]:
        """Every stored message (of `topic`, of `instance_id`), in store order, as the public query shows it.

        With a topic this is the public query over all time; without one, the control API (the real service
        cannot list every topic at once), whose entries have the same fields and more.
        """
        if topic is not None:
            try:
                return self.query_messages(topic, instance_id=instance_id)
            except urllib.error.HTTPError as exc:
                if exc.code == 400 and json.loads(exc.read()).get("error_code") == _TOPIC_MISSING:
                    return []  # no such topic (yet): it has no messages
                raise
        out: list[dict[str, Any]] = []
        while True:
            query = {"limit": "10000", "offset": str(len(out))}
            if topic is not None:
                query["topic"] = topic
            if instance_id is not None:
                query["instance_id"] = instance_id
            page = self._request("GET", "/_emulator/messages?" + urllib.parse.urlencode(query))
            out += page["messages"]
            if not page["messages"] or len(out) >= page["total"]:
                return out

    def reset(self) -> None:
        """Forget every message, offset and round-robin position, and disarm injected faults."""
        self._request("POST", "/_emulator/reset")

    def inject_faults(
        self,
        count: int,
        status: int = 503,
        retry_after: int | None = None,
        delay_ms: int = 0,
        drop_connection: bool = False,
    ) -> dict[str, Any]:
        """Make the next `count` sends fail: `status` (200: only delayed), after `delay_ms`, or dropped."""
        result: dict[str, Any] = self._request(
            "POST",
            "/_emulator/faults",
            {
                "count": count,
                "status": status,
                "retry_after": retry_after,
                "delay_ms": delay_ms,
                "drop_connection": drop_connection,
            },
        )
        return result

    def armed_faults(self) -> int:
        """How many of the injected faults are still to be served: a test waits for 0 to know that the sends it
        meant to fail (or hold) have reached the server, instead of sleeping and hoping."""
        count: int = self._request("GET", "/_emulator/faults")["count"]
        return count


def start_emulator(
    *,
    memory: bool = True,
    data_dir: str | os.PathLike[str] | None = None,
    auth: bool = True,
    topics: Sequence[str] = DEFAULT_TOPICS,
    project_id: str = DEFAULT_PROJECT_ID,
    instance_ids: Sequence[str] = (DEFAULT_INSTANCE_ID,),
    auto_create_topics: bool = False,
    ak: str | None = None,
    sk: str | None = None,
    token: str | None = None,
    extra_args: Sequence[str] = (),
    start_timeout: float = 30.0,
    env: dict[str, str] | None = None,
    tls: bool = False,
) -> EmulatorProcess:
    """Start `dms-rocketmq-emulator` on a free loopback port and wait until it is healthy.

    `memory=False` keeps messages in SQLite in `data_dir` (a new temporary folder when None). With
    `auth=True` an AK/SK pair and a token are made up (or taken from `ak`/`sk`/`token`) and passed in a
    TOML file, so they never appear on a command line. `topics` are `NAME` or `NAME:QUEUES`. `extra_args`
    go to the command line as they are (`--log-level debug`, more `--topic`s). Without the `emulator`
    extra it raises RuntimeError saying what to install.
    """
    missing = missing_extra()
    if missing is not None:
        raise RuntimeError(missing)
    workdir = Path(tempfile.mkdtemp(prefix="dms-emulator-"))
    args = ["--host", "127.0.0.1", "--port", "0", "--project-id", project_id]
    for instance_id in instance_ids:
        args += ["--instance-id", instance_id]
    for topic in topics:
        args += ["--topic", topic]
    if auto_create_topics:
        args.append("--auto-create-topics")
    store_dir: Path | None = None
    if memory and data_dir is None:
        args.append("--memory")
    else:
        store_dir = Path(data_dir) if data_dir is not None else workdir / "data"
        args += ["--data-dir", str(store_dir)]
    if auth:
        ak = ak or "EMU" + secrets.token_hex(9).upper()
        sk = sk or secrets.token_urlsafe(30)
        token = token or "emulator-token-" + secrets.token_urlsafe(24)
        config = workdir / "auth.toml"
        config.write_text(
            "tokens = [" + _toml_string(token) + "]\n\n[[credentials]]\n"
            f"ak = {_toml_string(ak)}\nsk = {_toml_string(sk)}\n",
            encoding="utf-8",
        )
        config.chmod(0o600)
        args += ["--config", str(config)]
    else:
        ak = sk = token = None
    ca_file = None
    if tls:
        args += ["--tls-dir", str(workdir / "tls")]
        ca_file = workdir / "tls" / "ca.pem"
    args += list(extra_args)
    process = EmulatorProcess(
        args=args,
        workdir=workdir,
        data_dir=store_dir,
        project_id=project_id,
        instance_id=instance_ids[0],
        instance_ids=tuple(instance_ids),
        topics=tuple(t.partition(":")[0] for t in topics),
        ak=ak,
        sk=sk,
        token=token,
        start_timeout=start_timeout,
        env=env,
        ca_file=ca_file,
    )
    try:
        return process.start()
    except BaseException:
        process.close()
        raise
