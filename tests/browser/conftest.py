"""The browser tier: the emulator's console in Debian's Chromium, headless, driven by Playwright.

Chromium comes from Debian (`make test` installs it when `chromium` is not on PATH: Playwright's own browser
download needs a network this project does not assume). Each test gets a fresh page that records every
dialog, uncaught error, console error and Content-Security-Policy violation; a test fails at teardown if
any happened that it did not expect.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dms_rocketmq import Client
from dms_rocketmq_emulator import start_emulator
from dms_rocketmq_emulator.pytest_plugin import EmulatorProcess
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
#: Where the tests write their screenshots (`make screenshots` copies them to docs/).
SCREENSHOTS = ROOT / "build" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CONSOLE = "/_emulator/console"
#: Playwright's own waits (a selector, a navigation), in milliseconds: generous, since nothing here is timed.
WAIT_MS = 15_000
# Records Content-Security-Policy violations as the page sees them (an init script runs before the page's
# own and is not subject to its policy).
_WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.browser)


# Module scope, not session: while Playwright's sync API is running, the main thread has a running event
# loop, and every later test that calls asyncio.run() would fail; it must stop before other tiers run.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("chromium is not on PATH: `make test` installs it (apt-get install chromium)")
    launched = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
    yield launched
    launched.close()


@dataclasses.dataclass
class PageProblems:
    """Everything a page did that a safe page never does: dialogs, uncaught errors, console errors, CSP violations."""

    dialogs: list[str] = dataclasses.field(default_factory=list)
    errors: list[str] = dataclasses.field(default_factory=list)
    #: Set by a test that means to accept the next confirm() (the reset button asks first).
    accept_confirm: bool = False
    #: Console errors a test provokes on purpose (the browser logs every 4xx answer a fetch gets).
    expected: list[str] = dataclasses.field(default_factory=list)

    def all(self, page: Page) -> list[str]:
        violations = page.evaluate("window.__cspViolations || []") if not page.is_closed() else []
        errors = [e for e in self.errors if not any(expected in e for expected in self.expected)]
        return [*(f"dialog: {d}" for d in self.dialogs), *errors, *(f"CSP: {v}" for v in violations)]


@pytest.fixture
def page_problems() -> PageProblems:
    return PageProblems()


@pytest.fixture
def page(browser: Browser, page_problems: PageProblems) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(WAIT_MS)
    opened.add_init_script(_WATCH_CSP)

    def on_dialog(dialog: Any) -> None:
        if dialog.type == "confirm" and page_problems.accept_confirm:
            page_problems.accept_confirm = False
            dialog.accept()
            return
        page_problems.dialogs.append(f"{dialog.type} {dialog.message!r}")
        dialog.dismiss()

    opened.on("dialog", on_dialog)
    opened.on("pageerror", lambda error: page_problems.errors.append(f"page error: {error}"))
    opened.on(
        "console",
        lambda message: (
            page_problems.errors.append(f"console {message.type}: {message.text}")
            if message.type in ("error", "warning")
            else None
        ),
    )
    yield opened
    problems = page_problems.all(opened)
    context.close()
    assert problems == [], problems


def open_console(page: Page, emulator: EmulatorProcess, view: str = "overview") -> None:
    """Load the console at `view` and wait until its script has drawn the page."""
    page.goto(f"{emulator.url}{CONSOLE}#{view}")
    page.wait_for_selector("body[data-ready=true]")


def client_for(emulator: EmulatorProcess) -> Client:
    """A Client of `emulator` (AK/SK signed), as a user's test would make one."""
    return Client(
        endpoint=emulator.url,
        project_id=emulator.project_id,
        instance_id=emulator.instance_id,
        ak=emulator.ak,
        sk=emulator.sk,
    )


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorProcess]:
    """A durable emulator with authentication on and the console read-only (the default)."""
    with start_emulator(memory=False, auth=True, topics=("orders", "payments:4")) as started:
        yield started


@pytest.fixture(scope="module")
def emulator_with_actions() -> Iterator[EmulatorProcess]:
    """An emulator started with --console-actions."""
    with start_emulator(memory=True, auth=True, topics=("orders:4",), extra_args=("--console-actions",)) as started:
        yield started
