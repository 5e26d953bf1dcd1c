"""The version is written once, in pyproject.toml; every place it shows reads the installed metadata."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path

import dms_rocketmq
import dms_rocketmq_emulator
import httpx
import pytest
from _shared.fake_dms import stored, sync_client
from dms_rocketmq import cli
from dms_rocketmq_emulator import _cli as emulator_cli

ROOT = Path(__file__).resolve().parents[2]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


def test_the_packages_show_the_version_of_pyproject() -> None:
    """`dms_rocketmq.__version__` and `dms_rocketmq_emulator.__version__` are pyproject.toml's version."""
    assert dms_rocketmq.__version__ == VERSION
    assert dms_rocketmq_emulator.__version__ == VERSION


def test_a_send_names_the_version_in_its_user_agent() -> None:
    """The User-Agent a send carries ends with pyproject.toml's version."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["User-Agent"])
        return stored(request)

    with sync_client(handler) as client:
        client.send("orders", "hello")
    assert seen == [f"dms-rocketmq-python/{VERSION}"]


@pytest.mark.parametrize(
    ("main", "prog"),
    [(cli.main, "dms-rocketmq"), (emulator_cli.main, "dms-rocketmq-emulator")],
    ids=["cli", "emulator"],
)
def test_both_commands_print_the_version(
    main: Callable[[list[str]], int], prog: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--version` of both commands prints pyproject.toml's version."""
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.split() == [prog, VERSION]
