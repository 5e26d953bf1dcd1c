"""The one retry loop of both clients, in its sync and async shells: attempts, waits and the error raised."""

from __future__ import annotations

import asyncio
import types
from typing import Any

import dms_rocketmq as dms
import pytest
from dms_rocketmq import _client


def _failing(times: int, result: str = "done") -> tuple[list[int], Any]:
    """An attempt that raises a connection error `times` times, then returns `result`; and the retries it saw."""
    seen: list[int] = []

    def attempt(retries_taken: int) -> str:
        seen.append(retries_taken)
        if len(seen) <= times:
            raise dms.APIConnectionError(f"failure {len(seen)}", request_sent=False)
        return result

    return seen, attempt


def _decide(limit: int) -> tuple[list[tuple[str, int]], Any]:
    """A decision that retries `limit` times, waiting 0.5 s more each time; and the calls it saw."""
    calls: list[tuple[str, int]] = []

    def delay_after(error: dms.APIError, retries_taken: int) -> float | None:
        calls.append((str(error), retries_taken))
        return None if retries_taken >= limit else 0.5 * (retries_taken + 1)

    return calls, delay_after


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits the loops ask for, recorded instead of slept."""
    recorded: list[float] = []

    async def async_sleep(delay: float) -> None:
        recorded.append(delay)

    monkeypatch.setattr(_client, "time", types.SimpleNamespace(sleep=recorded.append))
    monkeypatch.setattr(_client, "asyncio", types.SimpleNamespace(sleep=async_sleep))
    return recorded


def test_the_loop_calls_again_after_each_wait_until_the_attempt_returns(waits: list[float]) -> None:
    """Each attempt gets the retries taken before it; each failure is decided on, then waited for."""
    seen, attempt = _failing(2)
    calls, delay_after = _decide(5)
    assert _client._call_with_retries(attempt, delay_after) == "done"
    assert seen == [0, 1, 2]
    assert calls == [("failure 1", 0), ("failure 2", 1)]
    assert waits == [0.5, 1.0]


def test_the_loop_raises_the_error_the_decision_refuses(waits: list[float]) -> None:
    """When the decision says None, the attempt's own error is raised and nothing more is waited for."""
    seen, attempt = _failing(10)
    _calls, delay_after = _decide(2)
    with pytest.raises(dms.APIConnectionError, match="failure 3"):
        _client._call_with_retries(attempt, delay_after)
    assert seen == [0, 1, 2]
    assert waits == [0.5, 1.0]


def test_an_error_that_is_not_the_apis_is_never_retried(waits: list[float]) -> None:
    """Only an APIError reaches the decision: anything else (a bug, a closed client) leaves at once."""
    calls, delay_after = _decide(5)

    def attempt(retries_taken: int) -> str:
        raise RuntimeError("this Client is closed")

    with pytest.raises(RuntimeError):
        _client._call_with_retries(attempt, delay_after)
    assert (calls, waits) == ([], [])


@pytest.mark.parametrize("failures", [0, 1, 3, 6])
def test_the_async_shell_makes_the_same_attempts_and_waits(waits: list[float], failures: int) -> None:
    """Given the same attempts and decisions, the async loop attempts, waits and raises as the sync one."""

    def run(shell: str) -> tuple[list[int], list[float], str]:
        seen, attempt = _failing(failures)
        _calls, delay_after = _decide(3)
        waits.clear()
        try:
            if shell == "sync":
                outcome = _client._call_with_retries(attempt, delay_after)
            else:

                async def attempt_async(retries_taken: int) -> str:
                    return attempt(retries_taken)

                outcome = asyncio.run(_client._call_with_retries_async(attempt_async, delay_after))
        except dms.APIConnectionError as exc:
            outcome = f"raised {exc}"
        return seen, list(waits), outcome

    assert run("sync") == run("async")
