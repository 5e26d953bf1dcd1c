"""Transcripts: HAR 1.2 files of the exchanges of a contract run, sanitized by construction.

One owner for the format: the contract suite writes transcripts with `entry` and `Transcript.dump`, the drift
report (`_drift.py`) and the corpus builder read them with `load`. An entry is built from an allow-list of
headers, so credentials (`Authorization`, `X-Auth-Token`, `X-Security-Token`) are never copied; the project
and instance ids of the target become `PROJECT_PLACEHOLDER` and `INSTANCE_PLACEHOLDER`, whose real values go
to a separate local file (`ids_path`), never into the transcript. As a last guard `Transcript.dump` replaces
any secret it is given (AK, SK, tokens) wherever it would still appear, and refuses to write one.

The suite's own fields are `_`-prefixed, as HAR 1.2 allows: on the log, `_target` (kind, topics, when it was
recorded, the seed); on each entry, `_operation`, `_phase`, `_auth` (how the request was authenticated:
`aksk`, `token`, `none`, or `invalid` / `invalid-token` for credentials that are not the target's, so a
replay can do the same with its own credentials; `_auth_scheme`, the scheme word of an Authorization that is
not a signature at all), `_checks` (each check's outcome) and `_round_trip` (what the
round trip made of it), and `_unrecorded` (parts of the exchange
the source did not show, such as the headers of a documented example).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import urllib.parse
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "AUTH_KINDS",
    "INSTANCE_PLACEHOLDER",
    "PROJECT_PLACEHOLDER",
    "REQUEST_HEADERS",
    "RESPONSE_HEADERS",
    "Transcript",
    "TranscriptError",
    "entry",
    "ids_path",
    "load",
]

#: What a transcript writes instead of the target's project id and instance id.
PROJECT_PLACEHOLDER = "__PROJECT_ID__"
INSTANCE_PLACEHOLDER = "__INSTANCE_ID__"
#: The only request headers a transcript keeps (lowercase). Credentials are not among them, by construction.
REQUEST_HEADERS = ("content-type", "accept", "x-project-id", "x-sdk-content-sha256")
#: The only response headers a transcript keeps (lowercase): those the spec documents, and what a 405 names.
RESPONSE_HEADERS = ("content-type", "x-request-id", "retry-after", "allow")
_MASK = "[Filtered]"
HAR_VERSION = "1.2"


class TranscriptError(Exception):
    """A file is not a transcript this project can read (not JSON, not HAR 1.2, entries it cannot use)."""


def ids_path(transcript: Path) -> Path:
    """Where the placeholders' real values are written, beside the transcript (keep it local)."""
    return transcript.with_name(transcript.name + ".ids.json")


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _headers(pairs: Iterable[tuple[str, str]], allowed: tuple[str, ...]) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in pairs if name.lower() in allowed]


def _text(data: bytes | str | None) -> str | None:
    if data is None:
        return None
    if isinstance(data, str):
        return data
    return data.decode("utf-8", "replace")


def entry(
    *,
    method: str,
    url: str,
    request_headers: Iterable[tuple[str, str]],
    request_body: bytes | str | None,
    status: int,
    reason: str,
    response_headers: Iterable[tuple[str, str]],
    response_body: bytes | str,
    elapsed_s: float,
    auth: str,
    operation: str,
    phase: str,
    started: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One HAR entry from an exchange, keeping only the allow-listed headers, plus the suite's `_` fields."""
    parts = urllib.parse.urlsplit(url)
    request_pairs = [(str(k), str(v)) for k, v in request_headers]
    request_text = _text(request_body)
    response_text = _text(response_body) or ""
    response_pairs = [(str(k), str(v)) for k, v in response_headers]
    mime = next((v for k, v in response_pairs if k.lower() == "content-type"), "")
    request: dict[str, Any] = {
        "method": method.upper(),
        "url": url,
        "httpVersion": "HTTP/1.1",
        "cookies": [],
        "headers": _headers(request_pairs, REQUEST_HEADERS),
        "queryString": [
            {"name": k, "value": v} for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        ],
        "headersSize": -1,
        "bodySize": len(request_text.encode("utf-8")) if request_text is not None else 0,
    }
    if request_text is not None:
        content_type = next((v for k, v in request_pairs if k.lower() == "content-type"), "application/json")
        request["postData"] = {"mimeType": content_type, "text": request_text}
    milliseconds = round(elapsed_s * 1000, 3)
    out: dict[str, Any] = {
        "startedDateTime": started or _now(),
        "time": milliseconds,
        "request": request,
        "response": {
            "status": status,
            "statusText": reason,
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": _headers(response_pairs, RESPONSE_HEADERS),
            "content": {"size": len(response_text.encode("utf-8")), "mimeType": mime, "text": response_text},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": len(response_text.encode("utf-8")),
        },
        "cache": {},
        "timings": {"send": 0, "wait": milliseconds, "receive": 0},
        "_operation": operation,
        "_phase": phase,
        "_auth": auth,
    }
    out.update(extra or {})
    return out


@dataclasses.dataclass
class Transcript:
    """A HAR 1.2 log of a contract run: `target` (the `_target` field) and the entries, in order."""

    target: dict[str, Any]
    entries: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    creator: str = "dms-rocketmq contract suite"

    def as_har(self) -> dict[str, Any]:
        """The HAR document."""
        from ._version import __version__

        return {
            "log": {
                "version": HAR_VERSION,
                "creator": {"name": self.creator, "version": __version__},
                "pages": [],
                "_target": self.target,
                "entries": self.entries,
            }
        }

    def render(self, *, ids: Mapping[str, str], secrets: Iterable[str]) -> str:
        """The HAR text with each id in `ids` (value -> placeholder) replaced, and each secret masked."""
        text = json.dumps(self.as_har(), ensure_ascii=False, indent=1)
        # Longer values first, so that no value is cut by a shorter one it contains.
        for value, placeholder in sorted(ids.items(), key=lambda item: -len(item[0])):
            if value:
                text = text.replace(value, placeholder)
        for secret in sorted((s for s in secrets if s), key=len, reverse=True):
            text = text.replace(secret, _MASK)
        return text

    def dump(self, path: Path, *, ids: Mapping[str, str], secrets: Iterable[str]) -> Path:
        """Write the transcript to `path` and the placeholders' values to `ids_path(path)`; returns `path`."""
        secrets = [s for s in secrets if s]
        text = self.render(ids=ids, secrets=secrets)
        leaked = [index for index, secret in enumerate(secrets) if secret in text]
        if leaked:  # unreachable after render's masking; a guard against a future edit of it
            raise TranscriptError("a secret would be written into the transcript: not written")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        mapping = {placeholder: value for value, placeholder in ids.items()}
        ids_file = ids_path(path)
        ids_file.write_text(json.dumps(mapping, indent=1) + "\n", encoding="utf-8")
        ids_file.chmod(0o600)
        return path


AUTH_KINDS = ("aksk", "token", "none", "invalid", "invalid-token")


def _headers_problem(headers: Any) -> bool:
    return not isinstance(headers, list) or not all(
        isinstance(h, dict) and isinstance(h.get("name"), str) and isinstance(h.get("value"), str) for h in headers
    )


def _entry_problem(item: Any) -> str | None:
    """What makes `item` unusable as an entry (None when it is usable): what a replay reads must be there."""
    request = item.get("request") if isinstance(item, dict) else None
    response = item.get("response") if isinstance(item, dict) else None
    if not isinstance(request, dict) or not isinstance(response, dict):
        return "no request or response object"
    if not isinstance(request.get("method"), str) or not request["method"].isalpha():
        return "request.method is not a method name"
    if not isinstance(request.get("url"), str) or not request["url"].startswith(("http://", "https://")):
        return "request.url is not an http(s) URL"
    status = response.get("status")
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        return "response.status is not an HTTP status"
    if _headers_problem(request.get("headers", [])) or _headers_problem(response.get("headers", [])):
        return "headers are not a list of {name, value} strings"
    post = request.get("postData", {})
    if not isinstance(post, dict) or not isinstance(post.get("text", ""), str):
        return "request.postData.text is not a string"
    content = response.get("content", {})
    if not isinstance(content, dict) or not isinstance(content.get("text", ""), str):
        return "response.content.text is not a string"
    if item.get("_auth", "aksk") not in AUTH_KINDS:
        return f"_auth is not one of {', '.join(AUTH_KINDS)}"
    if not isinstance(item.get("_unrecorded", []), list):
        return "_unrecorded is not a list"
    return None


def load(path: Path) -> Transcript:
    """The transcript at `path`; TranscriptError naming what is wrong when it is not one."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TranscriptError(f"{path}: cannot read it: {exc.strerror or exc}") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise TranscriptError(f"{path}: not a JSON document ({exc})") from exc
    log = document.get("log") if isinstance(document, dict) else None
    if not isinstance(log, dict) or log.get("version") != HAR_VERSION or not isinstance(log.get("entries"), list):
        raise TranscriptError(f"{path}: not a HAR {HAR_VERSION} log (no log.version {HAR_VERSION!r} with entries)")
    raw_target = log.get("_target")
    target: dict[str, Any] = raw_target if isinstance(raw_target, dict) else {}
    for index, item in enumerate(log["entries"]):
        problem = _entry_problem(item)
        if problem is not None:
            raise TranscriptError(f"{path}: entry {index}: {problem}")
    creator = log.get("creator", {}).get("name", "") if isinstance(log.get("creator"), dict) else ""
    return Transcript(target=target, entries=log["entries"], creator=str(creator))
