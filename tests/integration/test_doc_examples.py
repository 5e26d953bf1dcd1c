"""Every fenced code block of README.md and docs/*.md runs, so that no example can rot.

How each block is checked, by the first word of its info string:

- `python`: run with `python -W error` against a running emulator, with the environment the emulator's
  banner prints (`DMS_ROCKETMQ_ENDPOINT=`, ...); a block that defines `test_*` functions is a pytest file
  using the `dms_emulator` fixtures, run by pytest in a subprocess with `-W error`.
- `sh`, `bash`, `shell`: run with `bash -euo pipefail` in a temporary folder, same environment, with the
  project's console scripts on PATH. `console`: the same for its `$ ` lines (the rest is output).
- `json`: parsed (one document, or one per line). `toml`: an emulator configuration file, which the
  emulator's own loader and checks must accept.

A block that cannot run here (it needs a real account, runs for minutes, serves until Ctrl-C...) says so
with `no-run: <reason>` after the language (```` ```sh no-run: needs a real DMS account ````) or in an HTML
comment on the line before it (`<!-- no-run: reason -->`); its syntax is still checked (Python compiled,
shell parsed by `bash -n`). A block without a language must be marked. Failures name the file and line.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from dms_rocketmq_emulator.pytest_plugin import EmulatorProcess, start_emulator

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BIN = Path(sys.executable).parent
SHELLS = {"sh", "bash", "shell"}
TIMEOUT = 60

_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_COMMENT_NO_RUN = re.compile(r"^\s*<!--\s*no-run:\s*(?P<reason>.*?)\s*-->\s*$")


@dataclasses.dataclass(frozen=True)
class Block:
    """One fenced code block: where it is, its language, its text and why it does not run (if it does not)."""

    path: Path
    line: int  # of the opening fence, 1-based
    language: str
    text: str
    no_run: str | None

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def extract_blocks(path: Path) -> list[Block]:
    """The fenced code blocks of a Markdown file, with the no-run marker of each."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks = []
    index = 0
    while index < len(lines):
        match = _FENCE.match(lines[index])
        if match is None:
            index += 1
            continue
        fence, info = match["fence"], match["info"].strip()
        start = index
        body = []
        index += 1
        while index < len(lines) and not re.match(rf"^ {{0,3}}{fence[0]}{{{len(fence)},}}\s*$", lines[index]):
            body.append(lines[index])
            index += 1
        index += 1
        language, _, rest = info.partition(" ")
        no_run = None
        if rest.strip().startswith("no-run"):
            no_run = rest.strip().removeprefix("no-run").lstrip(":").strip() or "?"
        previous = start - 1
        while previous >= 0 and not lines[previous].strip():
            previous -= 1
        if previous >= 0 and (comment := _COMMENT_NO_RUN.match(lines[previous])):
            no_run = comment["reason"] or "?"
        blocks.append(Block(path, start + 1, language.lower(), "\n".join(body) + "\n", no_run))
    return blocks


BLOCKS = [block for document in DOCUMENTS for block in extract_blocks(document)]


def console_commands(text: str) -> str:
    """The commands of a console transcript: `$ ` lines and their `\\` continuation lines."""
    commands = []
    continuing = False
    for line in text.splitlines():
        if continuing:
            commands.append(line)
        elif line.startswith("$ "):
            commands.append(line[2:])
        else:
            continue
        continuing = line.endswith("\\")
    return "\n".join(commands) + "\n"


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorProcess]:
    """The emulator a newcomer starts: authentication off, topics orders and payments."""
    process = start_emulator(auth=False, topics=("orders", "payments"))
    try:
        yield process
    finally:
        process.close()


def _banner_environment(emulator: EmulatorProcess) -> dict[str, str]:
    """The variables the emulator's banner assigns, as a user gets them by pasting it."""
    assigned = {}
    for line in emulator.log_path.read_text(encoding="utf-8").splitlines():
        name, sep, value = line.partition("=")
        if sep and re.fullmatch(r"[A-Z][A-Z0-9_]*", name):
            assigned[name] = value
    assert "DMS_ROCKETMQ_ENDPOINT" in assigned
    return assigned


@pytest.fixture(scope="module")
def environment(emulator: EmulatorProcess) -> dict[str, str]:
    """The process environment of a block: no settings of the developer's own, the banner's, PATH with the
    project's console scripts first."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUAWEICLOUD_", "DMS_ROCKETMQ_", "DMS_CONTRACT_"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONWARNINGS"] = "error"
    return env | _banner_environment(emulator)


def _run(block: Block, command: list[str], env: dict[str, str], cwd: Path, stdin: str | None = None) -> None:
    done = subprocess.run(
        command, input=stdin, capture_output=True, text=True, env=env, cwd=cwd, timeout=TIMEOUT, check=False
    )
    if done.returncode != 0:
        pytest.fail(
            f"{block.where}: the {block.language} block failed (exit {done.returncode}):\n{block.text}\n"
            f"--- stdout\n{done.stdout[-4000:]}\n--- stderr\n{done.stderr[-4000:]}",
            pytrace=False,
        )


def _syntax(block: Block, tmp_path: Path) -> None:
    """The checks a no-run block still gets."""
    if block.language == "python":
        try:
            compile(block.text, block.where, "exec")
        except SyntaxError as exc:
            pytest.fail(f"{block.where}: Python syntax error: {exc}", pytrace=False)
    elif block.language in SHELLS or block.language == "console":
        text = console_commands(block.text) if block.language == "console" else block.text
        _run(block, ["bash", "-n"], dict(os.environ), tmp_path, stdin=text)
    elif block.language == "json":
        _parse_json(block)
    elif block.language == "toml":
        _parse_toml(block)


def _parse_json(block: Block) -> None:
    try:
        json.loads(block.text)
    except ValueError:
        for number, line in enumerate(block.text.splitlines(), start=block.line + 1):
            try:
                if line.strip():
                    json.loads(line)
            except ValueError as exc:
                pytest.fail(f"{block.path.relative_to(ROOT)}:{number}: not JSON: {exc}", pytrace=False)


def _parse_toml(block: Block) -> dict[str, object]:
    try:
        return tomllib.loads(block.text)
    except tomllib.TOMLDecodeError as exc:
        pytest.fail(f"{block.where}: not TOML: {exc}", pytrace=False)


def _check_emulator_config(block: Block, tmp_path: Path) -> None:
    from dms_rocketmq_emulator._app import EmulatorApp
    from dms_rocketmq_emulator._cli import build_parser, settings_from_args
    from dms_rocketmq_emulator._config import ConfigError

    _parse_toml(block)
    config = tmp_path / "emulator.toml"
    config.write_text(block.text, encoding="utf-8")
    try:
        EmulatorApp(settings_from_args(build_parser().parse_args(["--config", str(config)])))
    except ConfigError as exc:
        pytest.fail(f"{block.where}: the emulator refuses this configuration: {exc}", pytrace=False)


@pytest.mark.parametrize("block", BLOCKS, ids=[block.where for block in BLOCKS])
def test_doc_block_runs(block: Block, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """The block runs (or, marked no-run with a reason, at least parses)."""
    if block.no_run is not None:
        if block.no_run == "?":
            pytest.fail(f"{block.where}: a no-run marker needs a reason (no-run: why)", pytrace=False)
        _syntax(block, tmp_path)
        return
    if block.language in ("", "text"):
        pytest.fail(
            f"{block.where}: a block without a runnable language must say why it does not run: "
            "```text no-run: <reason>",
            pytrace=False,
        )
    if block.language == "json":
        _parse_json(block)
        return
    if block.language == "toml":
        _check_emulator_config(block, tmp_path)
        return
    env: dict[str, str] = request.getfixturevalue("environment")
    if block.language == "python" and re.search(r"^def test_", block.text, re.MULTILINE):
        test_file = tmp_path / f"test_{block.path.stem.lower()}_{block.line}.py"
        test_file.write_text(block.text, encoding="utf-8")
        pytest_env = {k: v for k, v in env.items() if not k.startswith(("HUAWEICLOUD_", "DMS_ROCKETMQ_"))}
        _run(
            block,
            [
                sys.executable,
                "-m",
                "pytest",
                "-W",
                "error",
                "-q",
                "-p",
                "no:cacheprovider",
                "-p",
                "no:randomly",
                str(test_file),
            ],
            pytest_env,
            tmp_path,
        )
    elif block.language == "python":
        _run(block, [sys.executable, "-W", "error", "-"], env, tmp_path, stdin=block.text)
    elif block.language in SHELLS:
        _run(block, ["bash", "-euo", "pipefail"], env, tmp_path, stdin=block.text)
    elif block.language == "console":
        commands = console_commands(block.text)
        if not commands.strip():
            pytest.fail(f"{block.where}: a console block needs `$ ` command lines (or use sh)", pytrace=False)
        _run(block, ["bash", "-euo", "pipefail"], env, tmp_path, stdin=commands)
    else:
        pytest.fail(
            f"{block.where}: no runner for language {block.language!r}; mark it no-run with a reason", pytrace=False
        )


def test_extraction_finds_blocks_markers_and_lines(tmp_path: Path) -> None:
    """The extractor finds every fence, its line, its language and both forms of no-run marker."""
    document = tmp_path / "doc.md"
    document.write_text(
        "# t\n\n```python\nx = 1\n```\n\n<!-- no-run: needs a real account -->\n```sh\nmake x\n```\n"
        "````console no-run: serves until Ctrl-C\n$ a \\\n  b\nout\n$ c\n````\n```\nplain\n```\n"
    )
    blocks = extract_blocks(document)
    assert [(b.line, b.language, b.no_run) for b in blocks] == [
        (3, "python", None),
        (8, "sh", "needs a real account"),
        (11, "console", "serves until Ctrl-C"),
        (17, "", None),
    ]
    assert console_commands(blocks[2].text) == "a \\\n  b\nc\n"
    assert len(BLOCKS) >= 20  # README and docs/ are found
