"""Run the contract suite in a pytest subprocess against a server named only by environment variables."""

from __future__ import annotations

import dataclasses
import os
import pathlib
import subprocess
import sys

import _contract_suite
import _contract_target
import _recorder

ROOT = pathlib.Path(__file__).resolve().parents[2]
SUITE = ROOT / "tests" / "contract" / "test_send_message_contract.py"
RUN_TIMEOUT_S = 300
# Variables of the parent that must not leak into the child: the child's target is exactly what it is given.
_OWN_PREFIXES = ("DMS_CONTRACT_", "HUAWEICLOUD_SDK_")


@dataclasses.dataclass(frozen=True)
class SuiteRun:
    """The outcome of one subprocess run of the suite."""

    returncode: int
    output: str
    failed_checks: frozenset[str]
    #: The transcript the run wrote (DMS_CONTRACT_RECORD; tmp_path/transcript.har unless given).
    transcript: pathlib.Path


def run_suite(
    target_env: dict[str, str], tmp_path: pathlib.Path, *, extra_env: dict[str, str] | None = None
) -> SuiteRun:
    """Run test_send_message_contract.py in a new pytest process whose target is `target_env` alone."""
    failures = tmp_path / "failed-checks.txt"
    failures.touch()
    env = {key: value for key, value in os.environ.items() if not key.startswith(_OWN_PREFIXES)}
    env.update(target_env)
    env[_contract_suite.FAILURES_FILE] = str(failures)
    # Never the checkout's build/: each run's transcript is its own, and is checked below.
    env[_recorder.RECORD] = str(tmp_path / "transcript.har")
    env.update(extra_env or {})
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", str(SUITE), "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    names = frozenset(line.strip() for line in failures.read_text(encoding="utf-8").splitlines() if line.strip())
    transcript = pathlib.Path(env[_recorder.RECORD])
    assert_no_secrets(transcript, target_env)
    return SuiteRun(completed.returncode, completed.stdout + completed.stderr, names, transcript)


def assert_no_secrets(transcript: pathlib.Path, target_env: dict[str, str]) -> None:
    """The transcript a run wrote, and its ids file, hold none of the AK, SK, security token or token used."""
    secret_names = (_contract_target.AK, _contract_target.SK, _contract_target.SECURITY_TOKEN, _contract_target.TOKEN)
    for path in (transcript, transcript.with_name(transcript.name + ".ids.json")):
        if path.exists():
            text = path.read_text(encoding="utf-8")
            leaked = [name for name in secret_names if target_env.get(name) and target_env[name] in text]
            assert not leaked, f"{path} holds the value of {', '.join(leaked)}"


def target_env(
    url: str,
    *,
    project_id: str,
    instance_id: str,
    topic: str,
    ak: str | None = None,
    sk: str | None = None,
    token: str | None = None,
) -> dict[str, str]:
    """The real-instance variables, exactly as a user would set them for a real DMS instance."""
    env = {
        _contract_target.ENDPOINT: url,
        _contract_target.PROJECT_ID: project_id,
        _contract_target.INSTANCE_ID: instance_id,
        _contract_target.TOPIC: topic,
    }
    if ak and sk:
        env[_contract_target.AK] = ak
        env[_contract_target.SK] = sk
    if token:
        env[_contract_target.TOKEN] = token
    return env
