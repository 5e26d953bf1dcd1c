"""The drift report's comparison and attribution, on answers built here (no server)."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from dms_rocketmq_emulator._drift import KnownDifference, load_known, mark_known
from dms_rocketmq_emulator._drift_compare import Divergence, Exchange, Identities, attribute, compare
from hypothesis import given
from hypothesis import strategies as st

REQUEST_ID = "0123456789abcdef0123456789abcdef"


def _sent(msg_id: str, offset: int, queue: int = 0) -> Exchange:
    body = {
        "topic": "orders",
        "body": "b",
        "property_list": [{"name": "UNIQ_KEY", "value": msg_id}],
        "msg_id": msg_id,
        "queue_id": queue,
        "queue_offset": offset,
        "broker_name": "broker-0",
    }
    return Exchange(200, {"x-request-id": REQUEST_ID}, json.dumps(body))


def _page(ids: list[str], stamps: list[int], total: int | None = None) -> Exchange:
    messages = [
        {
            "msg_id": i,
            "store_timestamp": t,
            "born_timestamp": t - 3,
            "store_host": "10.0.0.1:10911",
            "property_list": [{"name": "UNIQ_KEY", "value": i}],
        }
        for i, t in zip(ids, stamps, strict=True)
    ]
    body = {"messages": messages, "total": len(ids) if total is None else total}
    return Exchange(200, {"x-request-id": REQUEST_ID}, json.dumps(body))


def _ids(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{n:030X}" for n in range(count)]


@given(count=st.integers(1, 6), shift=st.integers(1, 10**9), offset=st.integers(0, 10**6))
def test_runs_that_differ_only_in_ids_timestamps_and_offsets_do_not_diverge(
    count: int, shift: int, offset: int
) -> None:
    """Sends then a page of them: other ids, later timestamps, other starting offsets compare equal."""
    ids = Identities()
    recorded, replayed = _ids("AA", count), _ids("BB", count)
    found: list[Divergence] = []
    for n in range(count):
        found += compare(n, "SendMessage", "POST", _sent(recorded[n], n), _sent(replayed[n], offset + n), ids)
    stamps = [1_700_000_000_000 + 5 * n for n in range(count)]
    found += compare(
        9, "ListMessages", "GET", _page(recorded, stamps), _page(replayed, [s + shift for s in stamps]), ids
    )
    assert found == []
    assert ids.translate_time(stamps[0], end=False) == stamps[0] + shift


def test_each_kind_of_difference_is_named() -> None:
    """A timestamp in another unit, a missing documented header, a value of another JSON type, and an offset
    that does not follow its queue are each reported with their field and kind."""
    ids = Identities()
    compare(0, "SendMessage", "POST", _sent("A1", 0), _sent("B1", 0), ids)
    second = _sent("B2", 5)
    found = compare(
        1,
        "SendMessage",
        "POST",
        _sent("A2", 1),
        Exchange(200, {}, second.body.replace('"queue_id": 0', '"queue_id": "0"')),
        ids,
    )
    kinds = {(d.field, d.kind) for d in found}
    assert ("header:X-Request-Id", "missing") in kinds
    assert ("body:queue_id", "type") in kinds
    page = compare(2, "ListMessages", "GET", _page(["A1"], [1_700_000_000_000]), _page(["B1"], [1_700_000_000]), ids)
    assert {(d.field, d.kind) for d in page} == {
        ("body:messages[].store_timestamp", "format"),
        ("body:messages[].born_timestamp", "format"),
    }


def test_order_and_membership_are_told_apart() -> None:
    """The same messages in another order are an order divergence; fewer matches are a membership one, and the
    page's total follows the membership's assumption."""
    ids = Identities()
    for n, (a, b) in enumerate(zip(_ids("AA", 3), _ids("BB", 3), strict=True)):
        compare(n, "SendMessage", "POST", _sent(a, n), _sent(b, n), ids)
    stamps = [1_700_000_000_001, 1_700_000_000_002, 1_700_000_000_003]
    reordered = compare(5, "ListMessages", "GET", _page(_ids("AA", 3), stamps), _page(_ids("BB", 3)[::-1], stamps), ids)
    assert [(d.field, d.kind) for d in reordered] == [("body:messages#order", "order")]
    fewer = compare(6, "ListMessages", "GET", _page(_ids("AA", 3), stamps), _page(_ids("BB", 1), stamps[:1]), ids)
    attribute(fewer, {"query": {"key": "k", "start_time": "0", "end_time": "9"}})
    fields = {d.field: d.assumptions for d in fewer}
    assert fields["body:messages"] == ("query-key-matches-any-key",)
    assert fields["body:total"] == ("query-key-matches-any-key",)


def test_a_total_alone_is_the_total_assumption() -> None:
    """A page with the same messages and another total contradicts query-total-counts-all-matches, even in a
    key query."""
    ids = Identities()
    compare(0, "SendMessage", "POST", _sent("A1", 0), _sent("B1", 0), ids)
    found = compare(
        1,
        "ListMessages",
        "GET",
        _page(["A1"], [1_700_000_000_000], total=4),
        _page(["B1"], [1_700_000_000_000], total=1),
        ids,
    )
    attribute(found, {"query": {"key": "k"}})
    assert [(d.field, d.assumptions) for d in found] == [("body:total", ("query-total-counts-all-matches",))]


def test_another_status_explains_the_rest_of_its_exchange() -> None:
    """An unknown topic answered with another code: status, code and message all point to the one assumption."""
    recorded = Exchange(404, {"x-request-id": REQUEST_ID}, json.dumps({"error_code": "DMS.00404023", "error_msg": "x"}))
    replayed = Exchange(400, {"x-request-id": REQUEST_ID}, json.dumps({"error_code": "DMS.00400876", "error_msg": "y"}))
    found = compare(0, "ListMessages", "GET", recorded, replayed, Identities())
    attribute(found, {"query": {"topic": "t"}, "error_codes": {"DMS.00404023", "DMS.00400876"}})
    assert {d.assumptions for d in found} == {("query-unknown-topic-error",)}
    assert {d.field for d in found} == {"status", "body:error_code", "body:error_msg"}


def _divergence(field: str) -> Divergence:
    return Divergence(0, "SendMessage", "POST", field, "value", 1, 2)


def test_known_differences_are_marked_and_expire() -> None:
    """A known difference marks what it matches; past its expiry it marks it expired, which fails the report."""
    known = [
        KnownDifference(
            "SendMessage", "body:property_list.*", "why", datetime.date(2026, 1, 1), datetime.date(2026, 6, 30)
        )
    ]
    current, later = _divergence("body:property_list.UNIQ_KEY"), _divergence("body:property_list.UNIQ_KEY")
    other = _divergence("body:queue_id")
    assert mark_known([current, other], known, datetime.date(2026, 3, 1)) == {0}
    mark_known([later], known, datetime.date(2026, 7, 1))
    assert (current.status, other.status, later.status) == ("known", "new", "expired")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[[difference]]\noperation = "*"\nfield = "x"\n', "lacks reason, seen, expires"),
        (
            '[[difference]]\noperation = "*"\nfield = "x"\nreason = "r"\nseen = "soon"\nexpires = 2027-01-01\n',
            "TOML dates",
        ),
        ("[[difference]\n", "not TOML"),
    ],
)
def test_a_bad_known_differences_file_is_refused_by_name(tmp_path: Any, text: str, problem: str) -> None:
    """A known-differences file with a missing field, a non-date or bad TOML is refused with a message."""
    path = tmp_path / "known.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=problem):
        load_known(path)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)
_HEADERS = st.one_of(st.just([{"name": "X-Request-Id", "value": "a"}]), _JSON)
_ENTRY = st.fixed_dictionaries(
    {
        "request": st.fixed_dictionaries(
            {
                "method": st.sampled_from(["GET", "POST", "G ET", 3]),
                "url": st.sampled_from(["http://h/x", "ftp://h", 1]),
            },
            optional={"headers": _HEADERS, "postData": _JSON},
        ),
        "response": st.fixed_dictionaries(
            {"status": st.sampled_from([200, 404, 99, "200", True])}, optional={"headers": _JSON, "content": _JSON}
        ),
    },
    optional={"_auth": _JSON, "_unrecorded": _JSON},
)


@given(
    document=st.one_of(
        _JSON,
        st.fixed_dictionaries(
            {
                "log": st.fixed_dictionaries(
                    {"version": st.just("1.2"), "entries": st.lists(_ENTRY, min_size=1, max_size=3)}
                )
            }
        ),
    )
)
def test_any_json_is_a_transcript_or_refused_by_name(tmp_path_factory: Any, document: Any) -> None:
    """Whatever JSON a file holds, loading it gives a transcript whose every entry a replay can read, or a
    TranscriptError naming the problem; never another exception."""
    from dms_rocketmq_emulator._drift import _exchange_of
    from dms_rocketmq_emulator._har import TranscriptError, load

    path = tmp_path_factory.mktemp("har") / "t.har"
    path.write_text(json.dumps(document), encoding="utf-8")
    try:
        transcript = load(path)
    except TranscriptError as exc:
        refusal = str(exc)
    else:
        refusal = ""
        for entry in transcript.entries:
            _exchange_of(entry)
    assert not refusal or refusal.startswith(f"{path}: ")
