"""The contract suite: schemathesis tests SendMessage of openapi.yaml against a live server over HTTP.

Examples, coverage and fuzzing phases, positive and negative data, every built-in check that applies; the
configuration and the reason for each choice are in `_contract_suite.py`. The server is the emulator by
default, or the real instance the DMS_CONTRACT_* variables name (see docs/contract.md).
"""

from __future__ import annotations

import schemathesis
from _contract_suite import configured_instance_is_found, redact, reproduce_hint
from _contract_target import Target
from schemathesis.core.failures import FailureGroup

# The hooks and checks of this suite are written for SendMessage: it tests that operation only.
schema = schemathesis.pytest.from_fixture("contract_schema").include(operation_id="SendMessage")


@schema.parametrize()
def test_send_message_conforms_to_openapi(case: schemathesis.Case, contract_target: Target) -> None:
    """Each generated request gets a response that every enabled check accepts."""
    try:
        case.call_and_validate(additional_checks=[configured_instance_is_found(contract_target)])
    except FailureGroup as exc:
        # schemathesis's report includes a curl command with the headers our `requests` auth added after its
        # own sanitising ran, so an IAM token would be printed: the report is re-raised with secrets masked.
        message = f"{redact(exc.message, contract_target.secrets())}\n{reproduce_hint()}"
        raise FailureGroup(list(exc.exceptions), message) from None
