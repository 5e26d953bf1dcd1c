"""The emulator's console in a real browser: what a person sees is what the emulator stored.

Messages are sent through `Client` (AK/SK signed, as a user's test sends them) and read back through the
page; what the page shows is compared with `Client.get_message`, the public query, or what was sent.
"""

from __future__ import annotations

import datetime
import json
import shlex
import uuid

import httpx
import pytest
from dms_rocketmq import Client, Message
from dms_rocketmq_emulator.pytest_plugin import EmulatorProcess
from playwright.sync_api import Page

from .conftest import CONSOLE, SCREENSHOTS, PageProblems, client_for, open_console

HOSTILE = "<img src=x onerror=alert(1)>"
#: The live tail's promise: a stored message shows within a second; the test allows two.
TAIL_DEADLINE_MS = 2_000


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def query(page: Page, topic: str, *, mode: str = "time", value: str = "", per_page: str = "20") -> None:
    """Fill in the query form (every time stored) and search."""
    if not page.url.endswith("#query"):
        page.click("nav a[data-view=query]")
    page.select_option("#q-topic", topic)
    page.click(f"fieldset.segmented label:has(input[value={mode}])")
    if mode == "msg_id":
        page.fill("#q-msg-id", value)
    else:
        if mode == "key":
            page.fill("#q-key", value)
        page.select_option("#q-range", "all")
    page.select_option("#q-limit", per_page)
    with page.expect_response(lambda r: "/api/messages" in r.url):
        page.click("#query-form button[type=submit]")
    page.wait_for_selector("#query-results:not([hidden])")


def shown_ids(page: Page, table: str = "#query-table") -> list[str]:
    return page.eval_on_selector_all(f"{table} tbody tr", "rows => rows.map(r => r.dataset.msgId)")


def detail_fields(page: Page) -> dict[str, list[str]]:
    """The detail view's fields: name -> its lines of text."""
    return page.eval_on_selector(
        "#detail-fields",
        """dl => Object.fromEntries([...dl.querySelectorAll("dt")].map(dt => [
            dt.textContent, [...dt.nextElementSibling.children].map(line => line.textContent)]))""",
    )


def utc(ms: int) -> str:
    moment = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def shanghai(ms: int) -> str:
    moment = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.timezone(datetime.timedelta(hours=8)))
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{ms % 1000:03d} (UTC+08:00)"


def test_a_sent_message_shows_in_the_live_tail_within_two_seconds(page: Page, emulator: EmulatorProcess) -> None:
    """A message sent through Client appears in the live tail of its topic, without a reload, within 2 s."""
    open_console(page, emulator, "tail")
    page.select_option("#tail-topic", "orders")
    page.wait_for_selector("#tail-status.ok")
    with client_for(emulator) as client:
        other = client.send("payments", "another topic")
        result = client.send("orders", "tailed", keys=unique("tail"))
    page.wait_for_selector(f'#tail-table tr[data-msg-id="{result.msg_id}"]', timeout=TAIL_DEADLINE_MS)
    assert other.msg_id not in shown_ids(page, "#tail-table")


def test_pause_holds_the_tail_until_resumed(page: Page, emulator: EmulatorProcess) -> None:
    """While paused the tail shows nothing new and counts what waits; resuming shows it."""
    open_console(page, emulator, "tail")
    page.wait_for_selector("#tail-status.ok")
    page.click("#tail-pause")
    with client_for(emulator) as client:
        result = client.send("orders", "held back")
    page.wait_for_selector("#tail-status:has-text('1 waiting')")
    assert result.msg_id not in shown_ids(page, "#tail-table")
    page.click("#tail-pause")
    page.wait_for_selector(f'#tail-table tr[data-msg-id="{result.msg_id}"]')


def test_query_by_key_shows_exactly_the_matching_messages(page: Page, emulator: EmulatorProcess) -> None:
    """A key query lists every message with that key (alone or among several) and no other."""
    key, other = unique("key"), unique("key")
    with client_for(emulator) as client:
        matching = [
            client.send("orders", "one", keys=key).msg_id,
            client.send("orders", "two", keys=(other, key)).msg_id,
            client.send("orders", "three", keys=key, tags="late").msg_id,
        ]
        client.send("orders", "not this", keys=other)
        client.send("orders", "nor this", keys=key + "x")
        client.send("payments", "other topic", keys=key)
    open_console(page, emulator, "query")
    query(page, "orders", mode="key", value=key)
    assert shown_ids(page) == matching
    assert page.text_content("#query-summary") == "3 message(s) match · showing 1\N{EN DASH}3"


def test_query_by_message_id_finds_it(page: Page, emulator: EmulatorProcess) -> None:
    """A message-id query lists that message alone."""
    with client_for(emulator) as client:
        sent = client.send("payments", "by id")
    open_console(page, emulator, "query")
    query(page, "payments", mode="msg_id", value=sent.msg_id)
    assert shown_ids(page) == [sent.msg_id]


def test_a_bad_query_shows_the_services_error(
    page: Page, page_problems: PageProblems, emulator: EmulatorProcess
) -> None:
    """A query ListMessages refuses shows its error (code and words), not a blank page."""
    page_problems.expected.append("status of 400 (Bad Request)")
    open_console(page, emulator, "query")
    page.select_option("#q-topic", "orders")
    page.click("fieldset.segmented label:has(input[value=msg_id])")
    page.click("#query-form button[type=submit]")
    page.wait_for_selector("#banner:not([hidden])")
    # An empty msg_id counts as not given (ListMessages' rule): what is missing then is the time range.
    assert page.text_content("#banner") == "Invalid start_time parameter in the request. (DMS.00400062)"


def test_paging_through_250_messages_shows_each_once(page: Page, emulator: EmulatorProcess) -> None:
    """Five pages of 50 list the 250 messages of a topic, each exactly once, in store order."""
    emulator.reset()
    with client_for(emulator) as client:
        outcomes = client.send_many([Message("orders", f"message {n}") for n in range(250)], concurrency=8)
    sent = {outcome.msg_id for outcome in outcomes}  # type: ignore[union-attr]
    assert len(sent) == 250
    open_console(page, emulator, "query")
    query(page, "orders", per_page="50")
    seen: list[str] = []
    for number in range(1, 6):
        assert page.text_content("#page-label") == f"Page {number} of 5"
        seen += shown_ids(page)
        if number < 5:
            with page.expect_response(lambda r: "/api/messages" in r.url):
                page.click("#page-next")
            page.wait_for_selector(f"#page-label:has-text('Page {number + 1} of 5')")
    assert page.is_disabled("#page-next")
    assert len(seen) == 250
    assert set(seen) == sent
    with client_for(emulator) as client:
        in_store_order = [m.msg_id for m in client.query_messages("orders")]
    assert seen == in_store_order


def test_the_detail_view_equals_get_message(page: Page, emulator: EmulatorProcess) -> None:
    """Every field of the detail view is what `Client.get_message` reads, times shown local and UTC."""
    page.context.close()  # this test's page runs in Shanghai time: local and UTC differ by 8 hours
    context = page.context.browser.new_context(timezone_id="Asia/Shanghai", viewport={"width": 1360, "height": 900})  # type: ignore[union-attr]
    shown = context.new_page()
    body = {"order_id": 1042, "lines": [{"sku": "A-1", "qty": 2}], "note": "caf\u00e9 <b>"}
    with client_for(emulator) as client:
        sent = client.send_json("orders", body, keys=("order-1042", unique("k")), tags="created")
        stored = client.get_message("orders", sent.msg_id)
    assert stored is not None
    try:
        shown.goto(f"{emulator.url}{CONSOLE}#query")
        shown.wait_for_selector("body[data-ready=true]")
        query(shown, "orders", mode="msg_id", value=sent.msg_id)
        shown.click(f'#query-table tr[data-msg-id="{sent.msg_id}"]')
        shown.wait_for_selector("#detail-fields")
        fields = detail_fields(shown)
        assert fields == {
            "Topic": [stored.topic],
            "Instance": [stored.instance_id],
            "Queue": [str(stored.queue_id)],
            "Queue offset": [str(stored.queue_offset)],
            "Keys": [" ".join(stored.keys)],
            "Tag": [stored.tags],
            "Born": [shanghai(stored.born_timestamp), utc(stored.born_timestamp)],  # type: ignore[arg-type]
            "Stored": [shanghai(stored.store_timestamp), utc(stored.store_timestamp)],  # type: ignore[arg-type]
            "Born host": [stored.born_host],
            "Store host": [stored.store_host],
            "Body CRC": [str(stored.body_crc)],
            "Store size": [f"{stored.store_size:,} bytes"],
            "Reconsume times": [str(stored.reconsume_times)],
        }
        properties = shown.eval_on_selector_all(
            "#detail-properties tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
        )
        assert dict(properties) == dict(stored.properties)
        assert len(properties) == len(stored.properties)
        pretty = shown.text_content("#detail-message-body")
        assert pretty == json.dumps(json.loads(stored.body), indent=2, ensure_ascii=False)
        command = shlex.split(shown.text_content("#detail-command") or "")
        assert command == [
            "dms-rocketmq",
            "send",
            f"--instance-id={stored.instance_id}",
            "--topic=orders",
            f"--key={stored.keys[0]}",
            f"--key={stored.keys[1]}",
            "--tag=created",
            f"--body={stored.body}",
        ]
    finally:
        context.close()


def test_a_hostile_body_shows_as_text_and_runs_nothing(
    page: Page, page_problems: PageProblems, emulator: EmulatorProcess
) -> None:
    """HTML in a body, a key or a tag is shown as its text in every view; no script runs, no image loads."""
    key = unique("<b>k")
    with client_for(emulator) as client:
        open_console(page, emulator, "tail")
        page.wait_for_selector("#tail-status.ok")
        sent = client.send("orders", HOSTILE, keys=key, tags="<i>t</i>")
    row = f'#tail-table tr[data-msg-id="{sent.msg_id}"]'
    page.wait_for_selector(row)
    assert page.text_content(f"{row} td.body-preview") == HOSTILE
    query(page, "orders", mode="key", value=key)
    assert page.text_content(f'#query-table tr[data-msg-id="{sent.msg_id}"] td.body-preview') == HOSTILE
    page.click(f'#query-table tr[data-msg-id="{sent.msg_id}"]')
    page.wait_for_selector("#detail-message-body")
    assert page.text_content("#detail-message-body") == HOSTILE
    assert detail_fields(page)["Tag"] == ["<i>t</i>"]
    assert page.locator("img").count() == 0
    assert page.locator("main b, main i").count() == 0
    # A script that did run would have called alert(): the page fixture fails the test on any dialog, page
    # error, console error or CSP violation; none may have happened by now.
    assert page_problems.all(page) == []


def test_the_overview_shows_each_queue_as_the_store_has_it(page: Page, emulator: EmulatorProcess) -> None:
    """Per queue, the overview's max offset and count are the number of messages a queue query finds."""
    emulator.reset()
    with client_for(emulator) as client:
        client.send_many([Message("payments", f"p{n}") for n in range(7)], concurrency=1)
    open_console(page, emulator)
    rows = page.eval_on_selector_all(
        '.topic[data-topic="payments"] tbody tr',
        "rows => rows.map(r => [...r.cells].slice(0, 4).map(c => c.textContent))",
    )
    with client_for(emulator) as client:
        per_queue = [len(list(client.query_messages("payments", queue=q))) for q in range(4)]
    assert rows == [[str(q), "0", str(count), str(count)] for q, count in enumerate(per_queue)]
    assert per_queue == [2, 2, 2, 1]
    assert page.text_content('.topic[data-topic="payments"] .topic-head .muted') == "4 queue(s) · 7 message(s)"


def test_without_console_actions_the_page_cannot_change_anything(
    page: Page, page_problems: PageProblems, emulator: EmulatorProcess
) -> None:
    """Read-only: the actions panel is not shown, and the server refuses the actions themselves."""
    page_problems.expected.append("status of 403 (Forbidden)")
    with client_for(emulator) as client:
        client.send("orders", "still here")
    open_console(page, emulator)
    assert page.is_hidden("#actions")
    refused = page.evaluate(
        """async () => {
            const answers = [];
            for (const path of ["reset", "faults"]) {
                const r = await fetch(`/_emulator/console/api/${path}`, {method: "POST",
                    headers: {"Content-Type": "application/json", "X-DMS-Console": "1"}, body: '{"count": 3}'});
                answers.push([r.status, (await r.json()).error_code]);
            }
            return answers;
        }"""
    )
    assert refused == [[403, "DMS.00403003"], [403, "DMS.00403003"]]
    assert httpx.get(f"{emulator.url}/_emulator/faults").json()["count"] == 0
    assert emulator.messages("orders") != []


def test_with_console_actions_faults_and_reset_work_from_the_page(
    page: Page, page_problems: PageProblems, emulator_with_actions: EmulatorProcess
) -> None:
    """With --console-actions the page arms faults (the next send fails as asked) and resets the emulator."""
    emulator = emulator_with_actions
    with client_for(emulator) as client:
        client.send("orders", "before the reset")
    open_console(page, emulator)
    page.fill("#fault-count", "1")
    page.select_option("#fault-status", "400")
    page.click("#fault-form button[type=submit]")
    page.wait_for_selector(".badge:has-text('1 fault(s) armed')")
    with (
        Client(
            endpoint=emulator.url,
            project_id=emulator.project_id,
            instance_id=emulator.instance_id,
            ak=emulator.ak,
            sk=emulator.sk,
            max_retries=0,
        ) as client,
        pytest.raises(Exception, match="400"),
    ):
        client.send("orders", "refused by the armed fault")
    page_problems.accept_confirm = True
    page.click("#reset")
    page.wait_for_selector(".card:has(.card-title:text-is('Messages')) .card-value:text-is('0')")
    assert emulator.messages("orders") == []


def test_screenshots_of_the_overview_query_and_detail(page: Page, emulator: EmulatorProcess) -> None:
    """Screenshots of the three main views go to build/screenshots/ (`make screenshots` copies them to docs/)."""
    emulator.reset()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    orders = [
        Message(
            "orders",
            json.dumps({"order_id": 1040 + n, "amount": f"{19.9 + n:.2f}", "currency": "EUR"}),
            keys=f"order-{1040 + n}",
            tags="created" if n % 3 else "paid",
        )
        for n in range(24)
    ]
    payments = [Message("payments", f"payment {n} settled", keys=f"pay-{n}") for n in range(5)]
    with client_for(emulator) as client:
        outcomes = client.send_many([*orders, *payments], concurrency=1)
    open_console(page, emulator)
    page.screenshot(path=str(SCREENSHOTS / "console-overview.png"), full_page=True)
    query(page, "orders", per_page="10")
    page.screenshot(path=str(SCREENSHOTS / "console-query.png"), full_page=True)
    page.click(f'#query-table tr[data-msg-id="{outcomes[3].msg_id}"]')  # type: ignore[union-attr]
    page.wait_for_selector("#detail-fields")
    page.screenshot(path=str(SCREENSHOTS / "console-detail.png"), full_page=True)
    for name in ("overview", "query", "detail"):
        assert (SCREENSHOTS / f"console-{name}.png").stat().st_size > 10_000
