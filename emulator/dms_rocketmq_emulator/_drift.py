"""`dms-rocketmq-emulator drift TRANSCRIPT`: replay a recorded run against a fresh emulator and report every
way the emulator answers differently, each tied to the named assumption (`x-assumptions` in openapi.yaml) it
contradicts.

The emulator is started with `start_emulator` (the one launcher), configured from the transcript's `_target`
(its topics; the recorded project and instance ids are placeholders, replaced by the emulator's own). Every
request is replayed in order, authenticated as it was recorded (`_auth`) but with the emulator's own
credentials; ids the recording learnt (`msg_id` number n) are replaced by the replay's, and a time range made
of recorded timestamps by the same range of the replay's. Answers are compared by `_drift_compare.compare`.

`--noise OTHER`: a second recording of the same run; whatever differs between the two recordings is volatile
and never reported. `--known FILE`: accepted differences (TOML, `[[difference]]` with operation, field,
reason, seen, expires); the report marks each divergence known or new, and an expired entry fails like a new
one. Exit status: 0 when nothing new (or expired) diverges, 2 otherwise, 1 when the transcript or a file given
cannot be used.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import re
import sys
import tomllib
import urllib.parse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dms_rocketmq_api.spec_rules import ASSUMPTIONS

from ._drift_compare import (
    Divergence,
    Exchange,
    Identities,
    attribute,
    compare,
    exercised,
    field_matches,
    normalize_field,
)
from ._har import INSTANCE_PLACEHOLDER, PROJECT_PLACEHOLDER, Transcript, TranscriptError, load

__all__ = [
    "DriftReport",
    "KnownDifference",
    "build_report",
    "load_known",
    "main",
    "mark_known",
    "replay",
    "volatile_fields",
]

EXIT_CLEAN = 0
EXIT_ERROR = 1
EXIT_DIVERGED = 2
_TIME_BOUND = re.compile(r"(?P<lead>(?:^|&)(?P<name>start_time|end_time)=)(?P<value>[0-9]{1,18})(?=&|$)")
# What `invalid` exchanges (schemathesis's ignored_auth probes, a documented bad signature) are signed with.
_WRONG_SK = "not-the-emulator-sk"
_WRONG_TOKEN = "not-the-emulator-token"  # noqa: S105 - deliberately wrong


@dataclasses.dataclass(frozen=True)
class KnownDifference:
    """An accepted divergence: where, why, when it was seen and until when it is accepted."""

    operation: str
    field: str
    reason: str
    seen: datetime.date
    expires: datetime.date

    def matches(self, divergence: Divergence) -> bool:
        return self.operation in ("*", divergence.operation) and field_matches(self.field, divergence.field)


def load_known(path: Path) -> list[KnownDifference]:
    """The known differences in a TOML file; ValueError naming the entry and what it lacks."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{path}: cannot read it: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not TOML ({exc})") from exc
    out = []
    for number, raw in enumerate(document.get("difference", []), start=1):
        missing = [k for k in ("operation", "field", "reason", "seen", "expires") if k not in raw]
        if missing:
            raise ValueError(f"{path}: difference {number} lacks {', '.join(missing)}")
        if not isinstance(raw["seen"], datetime.date) or not isinstance(raw["expires"], datetime.date):
            raise ValueError(f"{path}: difference {number}: seen and expires must be TOML dates (2026-12-07)")
        out.append(
            KnownDifference(str(raw["operation"]), str(raw["field"]), str(raw["reason"]), raw["seen"], raw["expires"])
        )
    return out


@dataclasses.dataclass
class DriftReport:
    """The outcome of one replay."""

    transcript: str
    target: dict[str, Any]
    exchanges: int
    divergences: list[Divergence]
    contradicted: dict[str, int]
    confirmed: list[str]
    volatile: list[str]
    unused_known: list[KnownDifference]

    @property
    def failing(self) -> list[Divergence]:
        return [d for d in self.divergences if d.status != "known"]

    @property
    def exit_code(self) -> int:
        return EXIT_DIVERGED if self.failing else EXIT_CLEAN

    def as_dict(self) -> dict[str, Any]:
        return {
            "transcript": self.transcript,
            "target": self.target,
            "exchanges": self.exchanges,
            "divergences": [d.as_dict() for d in self.divergences],
            "new": len(self.failing),
            "assumptions": {
                "contradicted": self.contradicted,
                "confirmed": self.confirmed,
                "confirmed_by": self.confirmed_by,
            },
            "volatile": self.volatile,
            "unused_known": [
                {**dataclasses.asdict(k), "seen": k.seen.isoformat(), "expires": k.expires.isoformat()}
                for k in self.unused_known
            ],
        }

    @property
    def confirmed_by(self) -> str:
        kind = self.target.get("kind", "unknown target")
        when = self.target.get("recorded", "an unknown date")
        if kind == "real instance":
            return f"confirmed by a real run on {when}"
        return f"consistent with a recording of {kind} on {when}"

    # -- output -----------------------------------------------------------------------------------------
    def _rows(self) -> list[list[str]]:
        return [
            [
                str(d.index + 1),
                f"{d.method} {d.operation}",
                d.field,
                d.kind,
                _short(d.recorded),
                _short(d.replayed),
                ", ".join(d.assumptions) or "(none named)",
                d.status,
            ]
            for d in self.divergences
        ]

    def table(self) -> str:
        head = ["#", "operation", "field", "kind", "recorded", "emulator", "assumption", "status"]
        rows = self._rows()
        widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
        lines = [f"drift: {self.transcript}: {self.exchanges} exchanges replayed, {self.summary()}"]
        if rows:
            lines.append("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
            lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
        lines += self._assumption_lines()
        return "\n".join(line.rstrip() for line in lines)

    def markdown(self) -> str:
        head = ["#", "operation", "field", "kind", "recorded", "emulator", "assumption", "status"]
        lines = [f"## Drift: `{self.transcript}`", "", f"{self.exchanges} exchanges replayed, {self.summary()}.", ""]
        if self.divergences:
            lines.append("| " + " | ".join(head) + " |")
            lines.append("|" + "---|" * len(head))
            for row in self._rows():
                lines.append("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |")
            lines.append("")
        lines += [f"- {line}" for line in self._assumption_lines()]
        return "\n".join(lines)

    def summary(self) -> str:
        known = sum(d.status == "known" for d in self.divergences)
        expired = sum(d.status == "expired" for d in self.divergences)
        new = sum(d.status == "new" for d in self.divergences)
        if not self.divergences:
            return "no divergence"
        return f"{len(self.divergences)} divergences ({new} new, {known} known, {expired} known but expired)"

    def _assumption_lines(self) -> list[str]:
        lines = []
        for name, count in sorted(self.contradicted.items()):
            lines.append(f"contradicted: {name} ({count} divergences): {ASSUMPTIONS[name]['summary']}")
        if self.confirmed:
            lines.append(f"{self.confirmed_by}: " + ", ".join(self.confirmed))
        if self.volatile:
            lines.append("volatile (differs between two recordings, not reported): " + ", ".join(self.volatile))
        for known in self.unused_known:
            lines.append(f"known difference not seen: {known.operation} {known.field} ({known.reason})")
        return lines


def _short(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- replay ---------------------------------------------------------------------------------------------
def _exchange_of(entry: Mapping[str, Any]) -> Exchange:
    response = entry["response"]
    headers = {str(h["name"]).lower(): str(h["value"]) for h in response.get("headers", [])}
    text = response.get("content", {}).get("text", "") or ""
    return Exchange(int(response["status"]), headers, text)


def _query_of(url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query, keep_blank_values=True))


def _error_codes(*bodies: str) -> set[str]:
    codes = set()
    for body in bodies:
        try:
            document = json.loads(body)
        except ValueError:
            continue
        if isinstance(document, dict) and isinstance(document.get("error_code"), str):
            codes.add(document["error_code"])
    return codes


class _Substitutions:
    """Recorded values -> the replay's: placeholders, learnt message ids, time bounds."""

    def __init__(self, project_id: str, instance_id: str, ids: Identities) -> None:
        self.fixed = {PROJECT_PLACEHOLDER: project_id, INSTANCE_PLACEHOLDER: instance_id}
        self.ids = ids

    def placeholders(self, value: str) -> str:
        """`value` with the placeholders replaced (a recorded answer: its ids are compared as identities)."""
        for recorded, replayed in self.fixed.items():
            value = value.replace(recorded, replayed)
        return value

    def text(self, value: str) -> str:
        """`value` with the placeholders and every learnt message id replaced (a request to replay)."""
        for recorded, replayed in self.ids.msg_ids.items():
            value = value.replace(recorded, replayed)
        return self.placeholders(value)

    def url(self, url: str, base: str) -> tuple[str, bool]:
        """The replay's URL for a recorded one, and whether its time range was made of recorded timestamps."""
        parts = urllib.parse.urlsplit(self.text(url))
        translated = []

        def bound(match: re.Match[str]) -> str:
            image = self.ids.translate_time(int(match["value"]), end=match["name"] == "end_time")
            translated.append(image is not None)
            return match["lead"] + (str(image) if image is not None else match["value"])

        query = _TIME_BOUND.sub(bound, parts.query)
        target = urllib.parse.urlsplit(base)
        rebuilt = urllib.parse.urlunsplit((target.scheme, target.netloc, parts.path, query, ""))
        return rebuilt, len(translated) == 2 and all(translated)


def _send(
    client: Any, emulator: Any, entry: Mapping[str, Any], subs: _Substitutions
) -> tuple[Exchange | None, bool, str | None]:
    from dms_rocketmq._auth import canonical_url, sign_request

    request = entry["request"]
    url, recorded_range = subs.url(request["url"], emulator.url)
    body_text = request.get("postData", {}).get("text")
    body = subs.text(body_text).encode("utf-8") if isinstance(body_text, str) else None
    headers = {str(h["name"]): subs.text(str(h["value"])) for h in request.get("headers", [])}
    auth = entry.get("_auth", "aksk")
    if auth == "aksk":
        url = canonical_url(url)
        pairs = [(name, value) for name, value in headers.items()]
        headers.update(sign_request(request["method"], url, pairs, body, emulator.ak, emulator.sk))
    elif auth == "token":
        headers["X-Auth-Token"] = emulator.token
    elif auth == "invalid-token":
        headers["X-Auth-Token"] = _WRONG_TOKEN
    elif auth == "invalid" and isinstance(entry.get("_auth_scheme"), str):  # not a signature: the same scheme
        headers["Authorization"] = f"{entry['_auth_scheme']} invalid"
    elif auth == "invalid":  # the emulator's AK, a signature made with another SK: a signature that fails
        url = canonical_url(url)
        pairs = [(name, value) for name, value in headers.items()]
        headers.update(sign_request(request["method"], url, pairs, body, emulator.ak, _WRONG_SK))
    try:
        response = client.request(request["method"], url, content=body, headers=headers)
    except Exception as exc:  # any transport failure: the emulator gave no answer
        return None, recorded_range, f"{type(exc).__name__}: {exc}"
    answer = Exchange(response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.text)
    return answer, recorded_range, None


def replay(
    transcript: Transcript,
    *,
    name: str = "transcript",
    durable: bool = False,
    restart_after: int | None = None,
) -> tuple[list[Divergence], list[dict[str, Any]]]:
    """Replay every exchange of `transcript` against a fresh emulator; the divergences and, per exchange, the
    context attribution needs (its query, the error codes seen, whether its time range was translated)."""
    import httpx

    from ._process import start_emulator

    topics = [str(t) for t in transcript.target.get("topics", [])] or ["orders"]
    emulator = start_emulator(memory=not durable, auth=True, topics=topics)
    ids = Identities()
    subs = _Substitutions(emulator.project_id, emulator.instance_id, ids)
    divergences: list[Divergence] = []
    contexts: list[dict[str, Any]] = []
    try:
        with httpx.Client(timeout=30.0, follow_redirects=False) as client:
            for index, entry in enumerate(transcript.entries):
                if restart_after is not None and index == restart_after:
                    emulator.restart()
                recorded = _exchange_of(entry)
                operation = str(entry.get("_operation", ""))
                method = str(entry["request"]["method"])
                replayed, recorded_range, failure = _send(client, emulator, entry, subs)
                context = {
                    "query": _query_of(entry["request"]["url"]),
                    "recorded_time_range": recorded_range,
                    "error_codes": _error_codes(recorded.body, replayed.body if replayed else ""),
                }
                contexts.append(context)
                if replayed is None:
                    found = [Divergence(index, operation, method, "status", "no answer", recorded.status, failure)]
                else:
                    recorded = dataclasses.replace(recorded, body=subs.placeholders(recorded.body))
                    unrecorded = entry.get("_unrecorded", [])
                    found = compare(
                        index, operation, method, recorded, replayed, ids, headers="headers" not in unrecorded
                    )
                attribute(found, context)
                divergences += found
    finally:
        emulator.close()
    return divergences, contexts


def volatile_fields(first: Transcript, second: Transcript) -> set[tuple[str, str]]:
    """(operation, field) pairs whose answers differ between two recordings of the same run."""
    ids = Identities()
    volatile: set[tuple[str, str]] = set()
    for index, (a, b) in enumerate(zip(first.entries, second.entries, strict=False)):
        operation = str(a.get("_operation", ""))
        headers = "headers" not in a.get("_unrecorded", []) and "headers" not in b.get("_unrecorded", [])
        for divergence in compare(
            index, operation, str(a["request"]["method"]), _exchange_of(a), _exchange_of(b), ids, headers=headers
        ):
            volatile.add((operation, normalize_field(divergence.field)))
    return volatile


def mark_known(divergences: Sequence[Divergence], known: Sequence[KnownDifference], today: datetime.date) -> set[int]:
    """Mark each divergence a known difference matches `known` (or `expired`, past its expiry); the positions
    of the known differences that matched any."""
    used: set[int] = set()
    for divergence in divergences:
        for number, difference in enumerate(known):
            if difference.matches(divergence):
                used.add(number)
                expired = difference.expires < today
                divergence.status = "expired" if expired else "known"
                divergence.reason = difference.reason + (f" (expired {difference.expires})" if expired else "")
                break
    return used


def build_report(
    transcript: Transcript,
    *,
    name: str,
    noise: Transcript | None = None,
    known: Sequence[KnownDifference] = (),
    today: datetime.date | None = None,
    durable: bool = False,
    restart_after: int | None = None,
) -> DriftReport:
    """Replay and judge: volatile fields dropped, known differences marked, assumptions counted."""
    today = today or datetime.date.today()
    divergences, contexts = replay(transcript, name=name, durable=durable, restart_after=restart_after)
    volatile = volatile_fields(transcript, noise) if noise is not None else set()
    kept = [d for d in divergences if (d.operation, normalize_field(d.field)) not in volatile]
    used = mark_known(kept, known, today)
    contradicted: dict[str, int] = {}
    for divergence in kept:
        for assumption in divergence.assumptions:
            contradicted[assumption] = contradicted.get(assumption, 0) + 1
    put_to_test: set[str] = set()
    for entry, context in zip(transcript.entries, contexts, strict=True):
        put_to_test.update(exercised(str(entry.get("_operation", "")), context))
    return DriftReport(
        transcript=name,
        target=dict(transcript.target),
        exchanges=len(transcript.entries),
        divergences=kept,
        contradicted=contradicted,
        confirmed=sorted(put_to_test - set(contradicted)),
        volatile=sorted(f"{op} {field}" for op, field in volatile),
        unused_known=[k for n, k in enumerate(known) if n not in used],
    )


# -- command line ---------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dms-rocketmq-emulator drift",
        description=(
            "Replay a contract run's transcript (HAR 1.2) against a fresh emulator and report every divergence "
            "of its answers, each tied to the named assumption it contradicts. Exit 0: none new; 2: some."
        ),
    )
    parser.add_argument("transcript", type=Path, help="the transcript (DMS_CONTRACT_RECORD of a contract run)")
    parser.add_argument(
        "--noise", type=Path, metavar="OTHER", help="a second recording of the same run: its differences are volatile"
    )
    parser.add_argument("--known", type=Path, metavar="FILE.toml", help="accepted differences ([[difference]] entries)")
    parser.add_argument("--format", choices=["table", "json", "md"], default="table", help="output (default table)")
    parser.add_argument(
        "--durable", action="store_true", help="replay against an emulator that keeps messages in SQLite"
    )
    parser.add_argument(
        "--restart-after",
        type=int,
        metavar="N",
        help="restart the emulator (on the same store: with --durable) after N exchanges",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `dms-rocketmq-emulator drift`."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.restart_after is not None and (args.restart_after < 0 or not args.durable):
        parser.error("--restart-after needs --durable and a number of exchanges >= 0")
    try:
        transcript = load(args.transcript)
        noise = load(args.noise) if args.noise is not None else None
        known = load_known(args.known) if args.known is not None else []
    except (TranscriptError, ValueError) as exc:
        print(f"dms-rocketmq-emulator drift: {exc}", file=sys.stderr)
        return EXIT_ERROR
    try:
        report = build_report(
            transcript,
            name=str(args.transcript),
            noise=noise,
            known=known,
            durable=args.durable,
            restart_after=args.restart_after,
        )
    except RuntimeError as exc:  # the launcher's: the emulator refused the transcript's configuration
        last = str(exc).strip().splitlines()[-1:] or [""]
        print(
            f"dms-rocketmq-emulator drift: cannot start an emulator for {args.transcript}: {last[0]}", file=sys.stderr
        )
        return EXIT_ERROR
    if args.format == "json":
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=1, default=str))
    elif args.format == "md":
        print(report.markdown())
    else:
        print(report.table())
    return report.exit_code
