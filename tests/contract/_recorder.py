"""The run's transcript: every exchange of the contract suite, written as HAR 1.2 when the run ends.

Every request schemathesis sends (each phase, its probes, the round trip) is caught at its transport and
`Recorder.after_call` turns each exchange into an entry with `dms_rocketmq_emulator._har.entry`, which keeps only
allow-listed headers; `after_validate` adds each check's outcome. `RECORDER.write()` (conftest's session end)
writes the file `DMS_CONTRACT_RECORD` names, by default `build/contract-transcript.har`, with the target's
project and instance ids replaced by placeholders (their values in a `.ids.json` file beside it) and the
target's AK, SK and tokens masked wherever they would appear. The drift report replays a transcript against the
emulator: `dms-rocketmq-emulator drift FILE` (docs/contract.md).
"""

from __future__ import annotations

import contextlib
import datetime
import os
import pathlib
import re
from collections.abc import Iterator
from typing import Any

import schemathesis
from _contract_target import Target
from dms_rocketmq_emulator._har import INSTANCE_PLACEHOLDER, PROJECT_PLACEHOLDER, Transcript, entry

ROOT = pathlib.Path(__file__).resolve().parents[2]
RECORD = "DMS_CONTRACT_RECORD"
DEFAULT_PATH = ROOT / "build" / "contract-transcript.har"


def record_path() -> pathlib.Path:
    """DMS_CONTRACT_RECORD, else the default path under build/."""
    value = os.environ.get(RECORD, "").strip()
    return pathlib.Path(value) if value else DEFAULT_PATH


def _operation_id(case: schemathesis.Case) -> str:
    raw = getattr(case.operation.definition, "raw", None)
    operation_id = raw.get("operationId") if isinstance(raw, dict) else None
    return str(operation_id or case.operation.label)


def invalid_scheme(headers: Any) -> str | None:
    """The scheme word of an invalid Authorization that is not a signature at all (schemathesis's probe value):
    a replay sends the same word. Only a short token of capitals, digits and dashes is kept, never a value
    that could carry a credential."""
    authorization = str(headers.get("Authorization") or "")
    word = authorization.split(" ", 1)[0]
    if word and word != "SDK-HMAC-SHA256" and re.fullmatch(r"[A-Z0-9-]{1,40}", word):
        return word
    return None


def auth_kind(headers: Any, target: Target) -> str:
    """How a sent request was authenticated: with the target's AK/SK (`aksk`) or token (`token`), not at all
    (`none`), or with credentials that are not the target's (`invalid` for an Authorization header,
    `invalid-token` for a token: schemathesis's ignored_auth probes)."""
    authorization = headers.get("Authorization")
    token = headers.get("X-Auth-Token")
    if authorization:
        return "aksk" if target.ak and f"Access={target.ak}," in authorization else "invalid"
    if token:
        return "token" if token in (target.token, "[secure]") else "invalid-token"
    return "none"


class Recorder:
    """Collects the entries of one run (one pytest process)."""

    def __init__(self) -> None:
        self.target: Target | None = None
        self.seed: int | None = None
        self.entries: list[dict[str, Any]] = []
        self._by_response: dict[int, dict[str, Any]] = {}
        self._phase = "round trip"
        self._note: dict[str, Any] | None = None
        self.written: pathlib.Path | None = None

    def configure(self, target: Target, seed: int) -> None:
        self.target = target
        self.seed = seed

    @contextlib.contextmanager
    def noting(self, phase: str, **note: Any) -> Iterator[None]:
        """Requests sent outside schemathesis's phases (the round trip) are recorded with this phase and note."""
        previous = self._phase, self._note
        self._phase, self._note = phase, dict(note)
        try:
            yield
        finally:
            self._phase, self._note = previous

    def after_call(self, context: schemathesis.HookContext | None, case: schemathesis.Case, response: Any) -> None:
        target = self.target
        if target is None:
            return
        request = response.request
        meta = case.meta
        phase = str(meta.phase.name) if meta is not None and meta.phase is not None else self._phase
        extra: dict[str, Any] = {}
        auth = auth_kind(request.headers, target)
        scheme = invalid_scheme(request.headers) if auth == "invalid" else None
        if scheme is not None:
            extra["_auth_scheme"] = scheme
        if self._note is not None:
            extra["_round_trip"] = dict(self._note)
        recorded = entry(
            method=request.method or "GET",
            url=request.url or "",
            request_headers=request.headers.items(),
            request_body=request.body,
            status=response.status_code,
            reason=response.message or "",
            response_headers=[(name, value) for name, values in response.headers.items() for value in values],
            response_body=response.content,
            elapsed_s=response.elapsed,
            auth=auth,
            operation=_operation_id(case),
            phase=phase,
            extra=extra,
        )
        self.entries.append(recorded)
        self._by_response[id(response)] = recorded

    def after_validate(
        self, context: schemathesis.HookContext, case: schemathesis.Case, response: Any, results: Any
    ) -> None:
        recorded = self._by_response.get(id(response))
        if recorded is None:
            return
        checks = recorded.setdefault("_checks", {})
        for result in results:
            checks[result.name] = "failed" if result.failure is not None else "passed"

    def write(self) -> pathlib.Path | None:
        """Write the transcript (once per run, when anything was recorded); its path, or None."""
        target = self.target
        if target is None or not self.entries:
            return None
        transcript = Transcript(
            target={
                "kind": target.kind,
                "project_id": PROJECT_PLACEHOLDER,
                "instance_id": INSTANCE_PLACEHOLDER,
                "topics": [target.topic],
                "recorded": datetime.datetime.now(datetime.UTC).date().isoformat(),
                "seed": self.seed,
            },
            entries=self.entries,
        )
        ids = {target.project_id: PROJECT_PLACEHOLDER, target.instance_id: INSTANCE_PLACEHOLDER}
        secrets = [value for value in (target.ak, *target.secrets()) if value]
        self.written = transcript.dump(record_path(), ids=ids, secrets=secrets)
        return self.written


#: The recorder of this process's run.
RECORDER = Recorder()


def register(schema: Any, target: Target, seed: int) -> None:
    """Record every exchange of `schema`'s cases against `target`."""
    RECORDER.configure(target, seed)

    def after_validate(context: schemathesis.HookContext, case: schemathesis.Case, response: Any, results: Any) -> None:
        RECORDER.after_validate(context, case, response, results)

    # Every exchange is caught at the transport, not with an `after_call` hook: schemathesis's own probes
    # (ignored_auth's requests without and with invalid credentials) go to the transport directly, past the
    # hooks. The transport is schemathesis's one `requests` transport; it is wrapped once per process.
    transport = schema.transport
    if not getattr(transport, "_dms_contract_recording", False):
        send = transport.send

        def recording_send(case: schemathesis.Case, *args: Any, **kwargs: Any) -> Any:
            response = send(case, *args, **kwargs)
            RECORDER.after_call(None, case, response)
            return response

        transport.send = recording_send
        transport._dms_contract_recording = True
    schema.hook(after_validate)
