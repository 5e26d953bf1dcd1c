"""Build the reference corpus: a transcript of the answers Huawei's API reference documents.

    python scripts/build_reference_corpus.py [REFERENCE_DIR] [OUT]

REFERENCE_DIR defaults to ../shared/reference beside the checkout; OUT to tests/contract/corpus/reference.har.
The corpus is committed, so `make drift` never needs the reference folder; rebuild it when the reference
changes. Each entry is a documented exchange: the request example of "Sending a Message" with its response
example (200), and, for each error of the service's error-code appendix whose request is unambiguous, that
request with the documented status, code and message. The reference shows no headers (`_unrecorded`), and
documents no literal query example, so the corpus holds no 200 query.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from dms_rocketmq_api.spec_rules import ENGINES, operation_path
from dms_rocketmq_emulator._har import INSTANCE_PLACEHOLDER, PROJECT_PLACEHOLDER, Transcript, entry

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REFERENCE = ROOT.parent / "shared" / "reference"
DEFAULT_OUT = ROOT / "tests" / "contract" / "corpus" / "reference.har"
ENDPOINT = "https://dms.cn-north-4.myhuaweicloud.com"


def messages_url(project_id: str = PROJECT_PLACEHOLDER, instance_id: str = INSTANCE_PLACEHOLDER) -> str:
    """The messages URL (the spec's path, its first engine) on a real regional endpoint."""
    path = operation_path("SendMessage", engine=ENGINES[0], project_id=project_id, instance_id=instance_id)
    return ENDPOINT + path


MESSAGES = messages_url()
_ROW = re.compile(r"^\|\s*(?P<status>[0-9]{3})\s*\|\s*(?P<code>[A-Z]+\.[0-9]+)\s*\|\s*(?P<msg>[^|]+?)\s*\|\s*$")


def _blocks(markdown: str, heading: str) -> str:
    """The first fenced block after `heading`."""
    after = markdown.split(heading, 1)[1]
    match = re.search(r"```[a-z]*\n(?P<text>.*?)\n```", after, re.S)
    if match is None:
        raise SystemExit(f"no fenced block after {heading!r}")
    return match["text"]


def _errors(facts: str) -> dict[str, tuple[int, str]]:
    """Each documented error code: (status, message as the appendix words it, notes in brackets dropped)."""
    out = {}
    for line in facts.splitlines():
        match = _ROW.match(line)
        if match:
            message = re.sub(r"\s*\(.*\)\s*$", "", match["msg"]).strip()
            out[match["code"]] = (int(match["status"]), message)
    return out


def _exchange(
    *, method: str, url: str, body: str | None, status: int, answer: Any, auth: str, source: str
) -> dict[str, Any]:
    text = json.dumps(answer, ensure_ascii=False)
    return entry(
        method=method,
        url=url,
        request_headers=[("Content-Type", "application/json")] if body is not None else [],
        request_body=body,
        status=status,
        reason="",
        response_headers=[("Content-Type", "application/json")],
        response_body=text,
        elapsed_s=0.0,
        auth=auth,
        operation="ListMessages" if method == "GET" else "SendMessage",
        phase="reference",
        started="2026-04-30T00:00:00.000Z",
        extra={"_unrecorded": ["headers"], "_source": source},
    )


def build(reference: Path) -> Transcript:
    send = (reference / "send-message-api.md").read_text(encoding="utf-8")
    facts = (reference / "huawei-dms-facts.md").read_text(encoding="utf-8")
    request_text = _blocks(send, "## Example request")
    request = json.loads(request_text[request_text.index("\n{") :])
    response = json.loads(_blocks(send, "## Example response"))
    body = json.dumps(request)
    entries = [
        _exchange(
            method="POST",
            url=MESSAGES,
            body=body,
            status=200,
            answer=response,
            auth="aksk",
            source="send-message-api.md: example request and response",
        )
    ]
    errors = _errors(facts)
    unknown_instance = "00000000-0000-4000-8000-000000000000"
    # code -> (method, url, body, auth): the request each documented error answers, unambiguously.
    requests = {
        "DMS.00400002": ("POST", messages_url(project_id="not-a-project-id"), body, "aksk"),
        "DMS.00400030": ("POST", messages_url(instance_id="not-a-uuid"), body, "aksk"),
        "DMS.00400004": ("POST", MESSAGES, "", "aksk"),
        "DMS.00400005": ("POST", MESSAGES, "this is not JSON", "aksk"),
        "DMS.00404022": ("POST", messages_url(instance_id=unknown_instance), body, "aksk"),
        "DMS.00405001": ("PUT", MESSAGES, body, "aksk"),
        "APIGW.0301": ("POST", MESSAGES, body, "invalid"),
    }
    for code, (method, url, request_body, auth) in requests.items():
        status, message = errors[code]
        if code == "APIGW.0301":  # "<detail>": the first detail the appendix quotes for a bad signature
            detail = re.search(r'details seen: "([^"]+)"', facts)
            message = message.replace("<detail>", detail[1] if detail else "").strip()
        entries.append(
            _exchange(
                method=method,
                url=url,
                body=request_body,
                status=status,
                answer={"error_code": code, "error_msg": message},
                auth=auth,
                source=f"huawei-dms-facts.md: error {code}",
            )
        )
    target = {
        "kind": "API reference",
        "project_id": PROJECT_PLACEHOLDER,
        "instance_id": INSTANCE_PLACEHOLDER,
        "topics": [request["topic"]],
        "recorded": "2026-04-30",
        "seed": None,
    }
    return Transcript(target=target, entries=entries, creator="dms-rocketmq reference corpus")


def main(argv: list[str]) -> int:
    reference = Path(argv[1]) if len(argv) > 1 else DEFAULT_REFERENCE
    out = Path(argv[2]) if len(argv) > 2 else DEFAULT_OUT
    transcript = build(reference)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(transcript.render(ids={}, secrets=[]) + "\n", encoding="utf-8")
    print(f"{out}: {len(transcript.entries)} exchanges from {reference}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
