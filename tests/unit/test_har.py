"""Transcripts are sanitized by construction: credentials are never copied, ids become placeholders."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from dms_rocketmq_emulator._har import INSTANCE_PLACEHOLDER, PROJECT_PLACEHOLDER, Transcript, entry, ids_path, load

AK, SK, TOKEN, SECURITY_TOKEN = "AKEXAMPLE0000001", "sk-secret-value-123", "iam-token-456", "security-789"
PROJECT, INSTANCE = "0a1b2c3d4e5f60718293a4b5c6d7e8f9", "11c55a3e-5b4a-4f0c-9d3e-2f7b8e6a1c90"


def test_no_credential_and_no_id_reaches_the_transcript(tmp_path: Path) -> None:
    """Credential headers are left out whatever their case, a secret echoed anywhere is masked, the project and
    instance ids become placeholders whose values go to a separate file readable by its owner only."""
    url = f"https://dms.example/v2/rocketmq/{PROJECT}/instances/{INSTANCE}/messages"
    recorded = entry(
        method="POST",
        url=url,
        request_headers=[
            ("authorization", f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders=x-sdk-date, Signature=ab"),
            ("X-AUTH-TOKEN", TOKEN),
            ("X-Security-Token", SECURITY_TOKEN),
            ("X-Project-Id", PROJECT),
            ("Content-Type", "application/json"),
        ],
        request_body=json.dumps({"topic": "t", "body": f"the body echoes {SK}"}),
        status=401,
        reason="Unauthorized",
        response_headers=[("X-Request-Id", "0" * 32), ("Set-Cookie", f"s={TOKEN}")],
        response_body=json.dumps({"error_code": "APIGW.0301", "error_msg": f"ak {AK} not exist"}),
        elapsed_s=0.01,
        auth="aksk",
        operation="SendMessage",
        phase="examples",
    )
    path = Transcript(target={"kind": "test"}, entries=[recorded]).dump(
        tmp_path / "t.har",
        ids={PROJECT: PROJECT_PLACEHOLDER, INSTANCE: INSTANCE_PLACEHOLDER},
        secrets=[AK, SK, TOKEN, SECURITY_TOKEN],
    )
    text = path.read_text(encoding="utf-8")
    for secret in (AK, SK, TOKEN, SECURITY_TOKEN, PROJECT, INSTANCE):
        assert secret not in text
    for header in ("authorization", "x-auth-token", "x-security-token", "set-cookie"):
        assert header not in text.lower()
    assert PROJECT_PLACEHOLDER in text
    ids = ids_path(path)
    assert json.loads(ids.read_text()) == {PROJECT_PLACEHOLDER: PROJECT, INSTANCE_PLACEHOLDER: INSTANCE}
    assert stat.S_IMODE(ids.stat().st_mode) == 0o600
    assert load(path).entries[0]["_auth"] == "aksk"
