"""What a schema-valid request still needs before a correct server accepts it: the rules OpenAPI cannot state.

Shared by the contract suite (`tests/contract/_contract_suite.py`) and the hooks module a QA team loads into
its own schemathesis run (`schemathesis_hooks.py`), so both make a positive case positive the same way. Plain
Python: the conditions between parameters come from the spec through `spec_rules.unmet_conditions`.
"""

from __future__ import annotations

from typing import Any

from dms_rocketmq_api.spec_rules import unmet_conditions

from ._process import _ALL_TIME

__all__ = ["RANGE_END", "RANGE_START", "fit_bytes", "meet_query_conditions"]


#: From the epoch to the largest value `end_time`'s pattern allows: a range every message is in (the
#: launcher's reading of the spec, `_process._ALL_TIME`).
RANGE_START, RANGE_END = _ALL_TIME


def fit_bytes(text: str, limit: int) -> str:
    """`text` shortened, if needed, to at most `limit` bytes of UTF-8 (never cutting a character): the spec's
    maxLength counts characters, its descriptions apply the same limit to the bytes."""
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode("utf-8", errors="ignore")


def meet_query_conditions(query: dict[str, Any]) -> dict[str, Any]:
    """A ListMessages query that meets the spec's conditions between parameters (`x-required-one-of`: msg_id
    or a full range; `x-not-before`: end not before start), changed as little as possible: a missing range or
    bound is added (the widest), a range the wrong way round is swapped."""

    def unmet() -> list[str]:
        # An empty value counts as absent: whether `msg_id=` is "no msg_id" is not documented, and a range
        # added beside it satisfies both readings.
        given = {name: str(value) for name, value in query.items() if value != ""}
        return unmet_conditions("ListMessages", given)

    # A range is whole or absent: half of one is completed too (whether the service accepts half a range
    # beside msg_id is not documented).
    if unmet() or "start_time" in query or "end_time" in query:
        query.setdefault("start_time", RANGE_START)
        query.setdefault("end_time", RANGE_END)
    if unmet():  # the range is the wrong way round
        query["start_time"], query["end_time"] = query["end_time"], query["start_time"]
    return query
