"""The SQL of a message query (`_query.MessageQuery`) on the durable store, each kind on its own index."""

from __future__ import annotations

from typing import Any

from dms_rocketmq_emulator._query import MessageQuery

__all__: list[str] = []


def _query_sql(query: MessageQuery) -> tuple[str, list[Any]]:
    """The FROM and WHERE of `query`, with the index each kind of query is to use."""
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
        source = "messages m INDEXED BY messages_by_time"
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
