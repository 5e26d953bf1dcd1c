"""The server the contract suite tests: the emulator by default, a real DMS instance by configuration.

A real instance is chosen when `DMS_CONTRACT_ENDPOINT` is set; then the project id, instance id, an existing
topic and credentials must be set too (AK/SK in `HUAWEICLOUD_SDK_AK`/`HUAWEICLOUD_SDK_SK`, the variables of
Huawei's official SDK, optionally with `HUAWEICLOUD_SDK_SECURITY_TOKEN` for temporary credentials; or an IAM
token in `DMS_CONTRACT_TOKEN`). A half-done configuration is an error, never a silent fall-back to the emulator.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

from dms_rocketmq.auth_requests import AKSKAuth, TokenAuth

ENDPOINT = "DMS_CONTRACT_ENDPOINT"
PROJECT_ID = "DMS_CONTRACT_PROJECT_ID"
INSTANCE_ID = "DMS_CONTRACT_INSTANCE_ID"
TOPIC = "DMS_CONTRACT_TOPIC"
TOKEN = "DMS_CONTRACT_TOKEN"
AK = "HUAWEICLOUD_SDK_AK"
SK = "HUAWEICLOUD_SDK_SK"
SECURITY_TOKEN = "HUAWEICLOUD_SDK_SECURITY_TOKEN"
#: HTTPS and proxy, for a real instance or the suite's own emulator (docs/contract.md): a CA bundle to trust,
#: certificate checks off, an HTTP proxy; and an emulator of the suite's own that serves HTTPS with its own CA.
CA_BUNDLE = "DMS_CONTRACT_CA_BUNDLE"
INSECURE = "DMS_CONTRACT_INSECURE"
PROXY = "DMS_CONTRACT_PROXY"
EMULATOR_TLS = "DMS_CONTRACT_EMULATOR_TLS"


class TargetConfigurationError(Exception):
    """The environment asks for a real-instance run but leaves out something it needs."""


@dataclasses.dataclass(frozen=True)
class Target:
    """Where the suite sends requests, and the existing project, instance and topic positive cases use."""

    url: str
    project_id: str
    instance_id: str
    topic: str
    kind: str  # "emulator" or "real instance"
    ak: str | None = None
    sk: str | None = dataclasses.field(default=None, repr=False)
    security_token: str | None = dataclasses.field(default=None, repr=False)
    token: str | None = dataclasses.field(default=None, repr=False)
    verify: bool | str = True  # schemathesis's tls-verify: True, False or a CA bundle path
    proxy: str | None = dataclasses.field(default=None, repr=False)  # may hold the proxy's password

    def secrets(self) -> list[str]:
        """The values that must never appear in any output: the SK, the IAM token, the security token."""
        return [value for value in (self.sk, self.token, self.security_token) if value]

    def requests_auth(self) -> Any:
        """The `requests` auth that signs (AK/SK) or authenticates (token) each request, AK/SK preferred."""
        if self.ak and self.sk:
            return AKSKAuth(self.ak, self.sk, self.security_token, project_id=self.project_id)
        if self.token:
            return TokenAuth(self.token, project_id=self.project_id)
        raise TargetConfigurationError(f"the {self.kind} target has no credentials")


def network_from_env(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The target's `verify` and `proxy` from DMS_CONTRACT_CA_BUNDLE, DMS_CONTRACT_INSECURE, DMS_CONTRACT_PROXY."""
    env = os.environ if environ is None else environ
    bundle = env.get(CA_BUNDLE, "").strip()
    insecure = env.get(INSECURE, "").strip() == "1"
    if bundle and insecure:
        raise TargetConfigurationError(f"set {CA_BUNDLE} or {INSECURE}=1, not both")
    if bundle and not os.path.exists(bundle):
        raise TargetConfigurationError(f"{CA_BUNDLE} names {bundle!r}, which does not exist")
    return {"verify": bundle or not insecure, "proxy": env.get(PROXY, "").strip() or None}


def target_from_env(environ: Mapping[str, str] | None = None) -> Target | None:
    """The real-instance target the environment configures, or None when `DMS_CONTRACT_ENDPOINT` is unset."""
    env = os.environ if environ is None else environ
    endpoint = env.get(ENDPOINT, "").strip()
    if not endpoint:
        return None
    missing = [name for name in (PROJECT_ID, INSTANCE_ID, TOPIC) if not env.get(name, "").strip()]
    has_aksk = bool(env.get(AK, "").strip() and env.get(SK, "").strip())
    has_token = bool(env.get(TOKEN, "").strip())
    if not (has_aksk or has_token):
        missing.append(f"{AK} and {SK}, or {TOKEN}")
    if missing:
        raise TargetConfigurationError(
            f"{ENDPOINT} is set, so the contract suite targets a real instance, but these are missing: "
            + "; ".join(missing)
        )
    return Target(
        url=endpoint.rstrip("/"),
        project_id=env[PROJECT_ID].strip(),
        instance_id=env[INSTANCE_ID].strip(),
        topic=env[TOPIC].strip(),
        kind="real instance",
        ak=env.get(AK, "").strip() or None,
        sk=env.get(SK, "").strip() or None,
        security_token=env.get(SECURITY_TOKEN, "").strip() or None,
        token=env.get(TOKEN, "").strip() or None,
        **network_from_env(env),
    )
