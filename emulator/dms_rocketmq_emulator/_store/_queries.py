"""The SQL of a message query (`_query.MessageQuery`) on the durable store, each kind on its own index.

A query by msg_id or by key reads the few rows its index names. A query of a whole topic (or one queue of
it) over a time range would count every row of the range for its total and step over `offset` rows one by
one for its page: seconds at a million messages. Instead it works on positions: each message has its place
in its topic (`topic_pos`: 1, 2, 3, ... in store order) and in its queue (`queue_offset`: 0, 1, 2, ...),
without gaps, and store times never go backwards, so times rise with positions. The range's first and last
positions are found by bisection on the position index (which carries the store time: about 20 index
reads each), its total is last - first + 1, and its page is the rows at positions first + offset onwards.
A topic or queue whose positions have holes all the same (rows deleted by hand; the store finds them
when it opens) is read row by row with plain SQL, slow but right.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from dms_rocketmq_emulator._query import MessageQuery

from ._schema import _COLUMNS

__all__: list[str] = []

_SELECTED = ", ".join(f"m.{name.strip()}" for name in _COLUMNS.split(","))


class _MissingPosition(Exception):
    """A position inside a topic's (or queue's) range has no row: positions are not gapless here."""


def _run_query(
    db: sqlite3.Connection, query: MessageQuery, holes: frozenset[tuple[Any, ...]]
) -> tuple[int, list[tuple[Any, ...]]]:
    """(number of matches, the rows of the page `query` asks for) in store order, inside a read transaction;
    `holes` names the topics and queues whose positions have gaps (`_schema.Placement`)."""
    scope = (
        (query.instance_id, query.topic) if query.queue_id is None else (query.instance_id, query.topic, query.queue_id)
    )
    if query.msg_id is None and query.key is None and scope not in holes:
        try:
            return _range_query(db, query)
        except _MissingPosition:
            pass
    source, args = _query_sql(query)
    total = db.execute(f"SELECT COUNT(*) {source}", args).fetchone()[0]
    rows = db.execute(
        f"SELECT {_SELECTED} {source} ORDER BY m.stored_at_ms, m.seq LIMIT ? OFFSET ?",
        [*args, query.limit, query.offset],
    ).fetchall()
    return total, rows


def _range_query(db: sqlite3.Connection, query: MessageQuery) -> tuple[int, list[tuple[Any, ...]]]:
    """A topic's (or one queue's) messages in a time range, found and paged by position."""
    args: list[Any] = [query.instance_id, query.topic]
    where = "m.instance_id = ? AND m.topic = ?"
    if query.queue_id is None:
        column, index = "topic_pos", "messages_by_position"
    else:
        column, index = "queue_offset", "messages_by_queue"
        where += " AND m.queue_id = ?"
        args.append(query.queue_id)
    source = f"FROM messages m INDEXED BY {index} WHERE {where}"
    lowest = db.execute(f"SELECT MIN(m.{column}) {source}", args).fetchone()[0]
    if lowest is None:
        return 0, []
    highest = db.execute(f"SELECT MAX(m.{column}) {source}", args).fetchone()[0]
    at = f"SELECT m.stored_at_ms {source} AND m.{column} = ?"

    def stored_at(position: int) -> int:
        row = db.execute(at, [*args, position]).fetchone()
        if row is None:
            raise _MissingPosition
        value: int = row[0]
        return value

    first = lowest if query.start_ms is None else _first_at_or_after(stored_at, lowest, highest, query.start_ms)
    last = highest if query.end_ms is None else _first_at_or_after(stored_at, lowest, highest, query.end_ms + 1) - 1
    total = max(0, last - first + 1)
    start = first + query.offset
    end = min(last, start + query.limit - 1)
    if start > end:
        return total, []
    rows = db.execute(
        f"SELECT {_SELECTED} {source} AND m.{column} BETWEEN ? AND ? ORDER BY m.{column}",
        [*args, start, end],
    ).fetchall()
    if len(rows) != end - start + 1:
        raise _MissingPosition
    return total, rows


def _first_at_or_after(stored_at: Callable[[int], int], low: int, high: int, ms: int) -> int:
    """The first position in [low, high] stored at `ms` or later (high + 1 if none): times rise with positions."""
    while low <= high:
        middle = (low + high) // 2
        if stored_at(middle) >= ms:
            high = middle - 1
        else:
            low = middle + 1
    return low


def _query_sql(query: MessageQuery) -> tuple[str, list[Any]]:
    """The FROM and WHERE of `query` by msg_id or key (or any query, read row by row), with its index."""
    where = ["m.instance_id = ?", "m.topic = ?"]
    args: list[Any] = [query.instance_id, query.topic]
    if query.msg_id is not None:
        source = "messages m INDEXED BY messages_by_msg_id"
        where.append("m.msg_id = ?")
        args.append(query.msg_id)
    elif query.key is not None:
        # The key's entries first, then each message by rowid (CROSS JOIN fixes that order in SQLite).
        source = "message_keys k CROSS JOIN messages m ON m.seq = k.seq"
        where += ["k.instance_id = ?", "k.topic = ?", "k.key = ?"]
        args += [query.instance_id, query.topic, query.key]
    else:
        source = "messages m INDEXED BY messages_by_position"
    if query.msg_id is not None and query.key is not None:
        where.append("m.seq IN (SELECT seq FROM message_keys WHERE instance_id = ? AND topic = ? AND key = ?)")
        args += [query.instance_id, query.topic, query.key]
    if query.start_ms is not None:
        where.append("m.stored_at_ms >= ?")
        args.append(query.start_ms)
    if query.end_ms is not None:
        where.append("m.stored_at_ms <= ?")
        args.append(query.end_ms)
    if query.queue_id is not None:
        where.append("m.queue_id = ?")
        args.append(query.queue_id)
    return f"FROM {source} WHERE " + " AND ".join(where), args
