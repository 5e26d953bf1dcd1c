"""A QA team's own `schemathesis run openapi.yaml`, with the hooks module docs/contract.md names, reports nothing
against a correct server (the emulator): every check on, a seed the suite does not use."""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys

import pytest
from dms_rocketmq_emulator.pytest_plugin import start_emulator

ROOT = pathlib.Path(__file__).resolve().parents[2]
#: Not the suite's DEFAULT_SEED: other cases than those the suite has seen pass.
SEED = 31337
#: Fewer fuzzing cases than schemathesis's default (100), so that the run stays short.
MAX_EXAMPLES = 10
# The spec's coverage phase alone sends a few hundred signed requests.
pytestmark = pytest.mark.timeout(600)


def documented_command() -> str:
    """The one-line command of docs/contract.md's "Plain schemathesis" section."""
    page = (ROOT / "docs" / "contract.md").read_text(encoding="utf-8")
    section = page.split("## Plain schemathesis", 1)[1]
    match = re.search(r"^(SCHEMATHESIS_HOOKS=\S+ schemathesis run .*)$", section, re.M)
    assert match is not None, "docs/contract.md shows no schemathesis command"
    return match[1]


def test_the_documented_command_reports_nothing_against_the_emulator(tmp_path: pathlib.Path) -> None:
    """The documented command, in a shell beside openapi.yaml, with the real-instance variables pointing at an
    emulator with AK/SK auth on, exits 0 with "No issues found"."""
    command = documented_command()
    assert "--checks all" in command
    # Run where a QA team would, beside openapi.yaml, but in a folder of the test's own: schemathesis writes its
    # cache (.schemathesis/) into the working directory, which must not be the checkout.
    (tmp_path / "openapi.yaml").symlink_to(ROOT / "openapi.yaml")
    emulator = start_emulator(memory=True, auth=True, topics=("orders",))
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DMS_CONTRACT_", "HUAWEICLOUD_SDK_"))}
        env.update(
            PATH=f"{pathlib.Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
            DMS_CONTRACT_ENDPOINT=emulator.url,
            DMS_CONTRACT_PROJECT_ID=emulator.project_id,
            DMS_CONTRACT_INSTANCE_ID=emulator.instance_id,
            DMS_CONTRACT_TOPIC="orders",
            HUAWEICLOUD_SDK_AK=emulator.ak or "",
            HUAWEICLOUD_SDK_SK=emulator.sk or "",
        )
        done = subprocess.run(
            ["bash", "-c", f"{command} --seed {SEED} --max-examples {MAX_EXAMPLES}"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=540,
            check=False,
        )
    finally:
        emulator.close()
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-5000:]
    assert "No issues found" in output, output[-3000:]
    assert emulator.sk is not None
    assert emulator.sk not in output
