"""The contract suite: schemathesis tests openapi.yaml (SendMessage and ListMessages) against a live server.

Three parts, in this order (pytest runs a module's tests in order):
1. examples, coverage and fuzzing phases of both operations, positive and negative data, every built-in check
   that applies (configuration and reasons in `_contract_suite.py`), plus the round trip's checks;
2. the round trip: every send of part 1 that got a 200 is read back by its msg_id and compared with what was
   sent and acknowledged; the run's key lists all of them, page by page; a key nobody used lists none;
3. the stateful phase: schemathesis follows the spec's link from a send's 200 to the query by its msg_id.
The checks of parts 2 and 3 are in `_round_trip.py`. The server is the emulator by default, or the real
instance the DMS_CONTRACT_* variables name (see docs/contract.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import hypothesis
import pytest
import schemathesis
from _contract_suite import (
    configured_instance_is_found,
    max_examples_from_env,
    phases_from_env,
    redact,
    reproduce_hint,
    seed_from_env,
)
from _contract_target import Target
from _recorder import RECORDER
from _round_trip import (
    RUN_KEY,
    Ledger,
    Reader,
    is_query,
    listed,
    read_back_checks,
    read_back_query,
    read_timeout_from_env,
    record_acknowledged,
)
from dms_rocketmq_api.spec_rules import OPERATIONS
from dms_rocketmq_emulator._positive_cases import RANGE_END, RANGE_START
from schemathesis.auths import AuthContext, set_on_case
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.schemas import OpenApiSchema

PATH = OPERATIONS["ListMessages"]["path"]
# The round trip reads the run's key in pages this small, so that paging itself is tested.
KEY_PAGE_SIZE = 5
# The stateful phase: scenarios (one per 12 fuzzing cases, at least 8: 8 by default, 166 in a deep run) and steps
# per scenario (each send then its query is two steps).
STATEFUL_EXAMPLES = max(8, max_examples_from_env() // 12)
STATEFUL_STEPS = 4

schema = schemathesis.pytest.from_fixture("contract_schema")


@pytest.fixture(scope="module")
def ledger() -> Ledger:
    """The sends of this run that the server acknowledged (filled by part 1, read back by part 2)."""
    return Ledger()


def _reported(exc: FailureGroup, target: Target) -> FailureGroup:
    # schemathesis's report includes a curl command with the headers our `requests` auth added after its own
    # sanitising ran, so an IAM token would be printed: the report is re-raised with secrets masked.
    return FailureGroup(list(exc.exceptions), f"{redact(exc.message, target.secrets())}\n{reproduce_hint()}")


@schema.parametrize()
def test_operations_conform_to_openapi(case: schemathesis.Case, contract_target: Target, ledger: Ledger) -> None:
    """Each generated request gets a response that every enabled check accepts."""
    checks = [
        configured_instance_is_found(contract_target),
        record_acknowledged(ledger, contract_target),
        # Generated queries never name an acknowledged msg_id, so nothing here waits for the index.
        *read_back_checks(ledger, Reader(0.0)),
    ]
    try:
        case.call_and_validate(additional_checks=checks)
    except FailureGroup as exc:
        raise _reported(exc, contract_target) from None


def _query(schema_: OpenApiSchema, target: Target, **query: Any) -> schemathesis.Case:
    """A ListMessages case for the target's instance, authenticated as the generated cases are."""
    operation = schema_[PATH]["GET"]
    path = {"engine": "rocketmq", "project_id": target.project_id, "instance_id": target.instance_id}
    case = operation.Case(path_parameters=path, query=query)
    set_on_case(case, AuthContext(operation=operation, app=None), schema_.auth)
    return case


def _validate(case: schemathesis.Case, response: Any, checks: list[Any], failures: list[FailureGroup]) -> None:
    try:
        case.validate_response(response, additional_checks=checks)
    except FailureGroup as exc:
        failures.append(exc)


def _total(response: Any) -> int:
    try:
        total = response.json().get("total") if response.status_code == 200 else None
    except (ValueError, AttributeError):
        return -1
    return total if isinstance(total, int) else -1


def test_acknowledged_messages_read_back(
    contract_schema: OpenApiSchema, contract_target: Target, ledger: Ledger
) -> None:
    """Every message a send of this run got a 200 for is listed by a query by its msg_id, stored as it was sent
    and acknowledged; the run's key lists them all, page by page; a key nobody used lists none."""
    assert ledger.entries, "no send was acknowledged in this run: the round trip has nothing to read back"
    reader = Reader(read_timeout_from_env())
    failures: list[FailureGroup] = []
    stored_at: list[int] = []
    for entry in ledger.entries.values():
        case = _query(contract_schema, contract_target, **read_back_query(entry))
        with RECORDER.noting("round trip", purpose="read back by msg_id"):
            response = reader.read(case.call, lambda answer, msg_id=entry.msg_id: listed(answer, msg_id) is not None)
        _validate(case, response, read_back_checks(ledger, reader), failures)
        message = listed(response, entry.msg_id)
        if message is not None and isinstance(message.get("store_timestamp"), int):
            stored_at.append(message["store_timestamp"])

    tagged = len(ledger.with_key(RUN_KEY))
    # Pages smaller than the number of messages, so that paging and `total` are tested even by a short run.
    page_size = max(1, min(KEY_PAGE_SIZE, tagged - 1))
    offset = 0
    while True:
        case = _query(
            contract_schema,
            contract_target,
            topic=contract_target.topic,
            key=RUN_KEY,
            start_time=RANGE_START,
            end_time=RANGE_END,
            limit=page_size,
            offset=offset,
        )
        # The first page is polled until the index shows every message; the next pages are read once.
        first_page = offset == 0
        with RECORDER.noting("round trip", purpose="the run's key, page by page"):
            response = reader.read(case.call, lambda answer, first=first_page: not first or _total(answer) >= tagged)
        _validate(case, response, read_back_checks(ledger, reader, expected_total=tagged), failures)
        offset += page_size
        # Bounded by what was sent, whatever `total` says.
        if offset >= min(_total(response), tagged + page_size):
            break

    unused = _query(contract_schema, contract_target, topic=contract_target.topic, key=f"{RUN_KEY}-unused")
    unused.query.update(start_time=RANGE_START, end_time=RANGE_END)
    with RECORDER.noting("round trip", purpose="a key nobody used"):
        _validate(unused, unused.call(), read_back_checks(ledger, reader), failures)

    # Two answers the transcript needs, so that a drift report can hold the emulator to them: a time range
    # exactly as wide as this run's messages (their store timestamps, in the unit the query's answers use), and
    # a well-formed topic that does not exist.
    if stored_at:
        window = _query(
            contract_schema,
            contract_target,
            topic=contract_target.topic,
            start_time=str(min(stored_at)),
            end_time=str(max(stored_at)),
        )
        with RECORDER.noting("round trip", purpose="the run's time range"):
            _validate(window, window.call(), read_back_checks(ledger, reader), failures)
    missing = _query(contract_schema, contract_target, topic=f"{RUN_KEY}-missing", msg_id=next(iter(ledger.entries)))
    with RECORDER.noting("round trip", purpose="a topic that does not exist"):
        _validate(missing, missing.call(), read_back_checks(ledger, reader), failures)

    if failures:
        every = [failure for group in failures for failure in group.exceptions]
        raise _reported(FailureGroup(every, "\n".join(group.message for group in failures)), contract_target) from None


def test_stateful_send_then_read_back(contract_schema: OpenApiSchema, contract_target: Target) -> None:
    """Following the spec's link from a send's 200 to the query by its msg_id, the query lists the message as
    it was sent; every other check holds on every step."""
    if "stateful" not in phases_from_env():
        pytest.skip("the stateful phase is not among DMS_CONTRACT_PHASES")
    ledger = Ledger()
    reader = Reader(read_timeout_from_env())
    checks = [
        configured_instance_is_found(contract_target),
        record_acknowledged(ledger, contract_target),
        *read_back_checks(ledger, reader),
    ]
    followed: list[str] = []
    base: Any = contract_schema.as_state_machine()

    class SendThenReadBack(base):  # type: ignore[misc, valid-type]
        def call(self, case: schemathesis.Case, **kwargs: Any) -> Any:
            msg_id = (case.query or {}).get("msg_id") if is_query(case) else None
            if msg_id not in ledger.entries:
                return case.call(**kwargs)
            # The link sets topic and msg_id; the other parameters are generated and may filter the message
            # out (a key it does not have, another queue). Reading back is the query the link describes.
            case.query = read_back_query(ledger.entries[msg_id])
            followed.append(msg_id)
            call: Callable[[], Any] = lambda: case.call(**kwargs)  # noqa: E731 - polled by the reader
            return reader.read(call, lambda answer: listed(answer, msg_id) is not None)

        def validate_response(
            self, response: Any, case: schemathesis.Case, additional_checks: list[Any] | None = None, **kwargs: Any
        ) -> None:
            super().validate_response(response, case, additional_checks=[*(additional_checks or []), *checks], **kwargs)

    settings = hypothesis.settings(
        max_examples=STATEFUL_EXAMPLES,
        stateful_step_count=STATEFUL_STEPS,
        database=None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    # Seeded like the other phases, so that a run is replayed by its seed.
    hypothesis.seed(seed_from_env())(SendThenReadBack)
    try:
        SendThenReadBack.run(settings=settings)
    except FailureGroup as exc:
        raise _reported(exc, contract_target) from None
    assert followed, "the stateful phase never followed the link from an acknowledged send to its query"
