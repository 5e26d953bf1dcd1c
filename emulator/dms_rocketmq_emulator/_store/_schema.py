"""The durable store's SQLite schema: tables, the row a message is kept as, and the migration from older versions.

The schema has a version (`PRAGMA user_version`): a data directory written by an older emulator is migrated
when it opens (new columns filled from what each row holds, the key index built). `_placement_state` reads
back, from the rows alone, where the next message of each topic goes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sqlite3
from typing import Any

from dms_rocketmq_emulator._query import body_crc, message_keys, record_size, shown_properties
from dms_rocketmq_emulator.models import StoredMessage, TopicLog

__all__ = ["SCHEMA_VERSION"]


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS topics (
    instance_id TEXT NOT NULL, name TEXT NOT NULL, queues INTEGER NOT NULL,
    PRIMARY KEY (instance_id, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY,
    instance_id TEXT NOT NULL, topic TEXT NOT NULL, queue_id INTEGER NOT NULL, queue_offset INTEGER NOT NULL,
    msg_id TEXT NOT NULL, body TEXT NOT NULL, properties TEXT NOT NULL, stored_at_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS messages_by_topic ON messages (topic, seq);
"""

#: The schema version `_migrate` brings a database to (PRAGMA user_version; 0: before queries existed).
SCHEMA_VERSION = 2
# Version 1: what a query shows of a stored message, and the query indexes.
_NEW_COLUMNS = (
    ("born_at_ms", "INTEGER NOT NULL DEFAULT 0"),
    ("born_host", "TEXT NOT NULL DEFAULT ''"),
    ("store_host", "TEXT NOT NULL DEFAULT ''"),
    ("body_crc", "INTEGER NOT NULL DEFAULT 0"),
    ("store_size", "INTEGER NOT NULL DEFAULT 0"),
)
_QUERY_SCHEMA = """
CREATE TABLE IF NOT EXISTS message_keys (
    instance_id TEXT NOT NULL, topic TEXT NOT NULL, key TEXT NOT NULL, seq INTEGER NOT NULL,
    PRIMARY KEY (instance_id, topic, key, seq)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS messages_by_msg_id ON messages (msg_id);
CREATE INDEX IF NOT EXISTS messages_by_time ON messages (topic, stored_at_ms);
"""
# Version 2: each message's position in its topic (1, 2, 3, ... in store order), so that a time range is
# found by bisection and paged by position (`_queries.py`); the index by queue offset does the same within
# a queue. Both carry the store time, so bisection reads the index alone. They replace the index by time.
_POSITION_SCHEMA = """
ALTER TABLE messages ADD COLUMN topic_pos INTEGER NOT NULL DEFAULT 0;
UPDATE messages SET topic_pos = numbered.pos FROM (
    SELECT seq, ROW_NUMBER() OVER (PARTITION BY instance_id, topic ORDER BY stored_at_ms, seq) AS pos FROM messages
) AS numbered WHERE messages.seq = numbered.seq;
DROP INDEX IF EXISTS messages_by_time;
CREATE INDEX messages_by_position ON messages (instance_id, topic, topic_pos, stored_at_ms);
CREATE INDEX messages_by_queue ON messages (instance_id, topic, queue_id, queue_offset, stored_at_ms);
"""

_COLUMNS = (
    "seq, instance_id, topic, queue_id, queue_offset, msg_id, body, properties, stored_at_ms,"
    " born_at_ms, born_host, store_host, body_crc, store_size, topic_pos"
)
_WIDTH = _COLUMNS.count(",") + 1
_INSERT_KEYS = "INSERT OR IGNORE INTO message_keys (instance_id, topic, key, seq) VALUES "
_KEY_ROW = "(?,?,?,?)"
# SQLite allows 32,766 parameters in a statement (since 3.32; 999 before): the rows one INSERT can carry.
_PARAMETERS = 32766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999
_KEYS_PER_STATEMENT = _PARAMETERS // 4


def _row(m: StoredMessage, position: int) -> tuple[Any, ...]:
    """The row `m` is kept as, `position` its place in its topic (from 1)."""
    return (
        m.seq,
        m.instance_id,
        m.topic,
        m.queue_id,
        m.queue_offset,
        m.msg_id,
        m.body,
        json.dumps(m.properties, ensure_ascii=False),
        m.stored_at_ms,
        m.born_at_ms,
        m.born_host,
        m.store_host,
        m.body_crc,
        m.store_size,
        position,
    )


def _key_rows(m: StoredMessage) -> list[tuple[str, str, str, int]]:
    return [(m.instance_id, m.topic, key, m.seq) for key in message_keys(m.properties)]


def _message(row: tuple[Any, ...]) -> StoredMessage:
    """A row of `SELECT {_COLUMNS}` as a StoredMessage (the position is the store's, not the message's)."""
    return StoredMessage(
        seq=row[0],
        instance_id=row[1],
        topic=row[2],
        queue_id=row[3],
        queue_offset=row[4],
        msg_id=row[5],
        body=row[6],
        properties=tuple((name, value) for name, value in json.loads(row[7])),
        stored_at_ms=row[8],
        born_at_ms=row[9],
        born_host=row[10],
        store_host=row[11],
        body_crc=row[12],
        store_size=row[13],
    )


def _rollback(db: sqlite3.Connection) -> None:
    """Roll back the open transaction, if SQLite has not already (it does on some errors)."""
    if db.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")


def _insert_keys(db: sqlite3.Connection, keys: list[tuple[str, str, str, int]]) -> None:
    for start in range(0, len(keys), _KEYS_PER_STATEMENT):
        part = keys[start : start + _KEYS_PER_STATEMENT]
        db.execute(_INSERT_KEYS + ",".join([_KEY_ROW] * len(part)), [v for key in part for v in key])


def _migrate(db: sqlite3.Connection, store_host: str) -> None:
    """Bring a database of any earlier schema version to SCHEMA_VERSION, in one transaction."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version >= SCHEMA_VERSION:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        if version < 1:
            present = {row[1] for row in db.execute("PRAGMA table_info(messages)")}
            for name, declaration in _NEW_COLUMNS:
                if name not in present:
                    db.execute(f"ALTER TABLE messages ADD COLUMN {name} {declaration}")
            _execute_script(db, _QUERY_SCHEMA)
            _backfill(db, store_host)
        if version < 2:
            _execute_script(db, _POSITION_SCHEMA)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        _rollback(db)
        raise


def _execute_script(db: sqlite3.Connection, script: str) -> None:
    """Run `script`'s statements inside the open transaction (`executescript` would commit it)."""
    for statement in script.strip().split(";\n"):
        if statement.strip():
            db.execute(statement)


def _backfill(db: sqlite3.Connection, store_host: str) -> None:
    """Fill the version-1 columns and the key index of rows an older emulator wrote (store_host still '')."""
    last = 0
    while True:
        rows = db.execute(
            "SELECT seq, instance_id, topic, msg_id, body, properties, stored_at_ms FROM messages"
            " WHERE seq > ? AND store_host = '' ORDER BY seq LIMIT 10000",
            (last,),
        ).fetchall()
        if not rows:
            return
        updates, keys = [], []
        for seq, instance_id, topic, msg_id, text, properties_json, stored_at_ms in rows:
            properties = [(name, value) for name, value in json.loads(properties_json)]
            body = text.encode("utf-8")
            size = record_size(body, topic, shown_properties(properties, msg_id))
            # Where the producer was is not known for these: the broker's address stands in for it.
            updates.append((stored_at_ms, store_host, store_host, body_crc(body), size, seq))
            keys += [(instance_id, topic, key, seq) for key in message_keys(properties)]
        db.executemany(
            "UPDATE messages SET born_at_ms = ?, born_host = ?, store_host = ?, body_crc = ?, store_size = ?"
            " WHERE seq = ?",
            updates,
        )
        _insert_keys(db, keys)
        last = rows[-1][0]


@dataclasses.dataclass
class Placement:
    """What the durable store reads back from its rows to place the next messages."""

    #: Each topic's placement (next offset per queue, next queue).
    logs: dict[tuple[str, str], TopicLog]
    #: The last seq given.
    seq: int
    #: Each topic's last position (`topic_pos`).
    positions: dict[tuple[str, str], int]
    #: The topics (instance_id, topic) and queues (instance_id, topic, queue_id) whose positions have holes
    #: (rows deleted by hand): their range queries read row by row (`_queries.py`).
    holes: frozenset[tuple[Any, ...]]


def _placement_state(db: sqlite3.Connection) -> Placement:
    """Read the placement state back from the rows (one pass over the queue index, a few lookups a topic)."""
    offsets: dict[tuple[str, str], dict[int, int]] = {}
    counts: dict[tuple[str, str], int] = {}
    holes: set[tuple[Any, ...]] = set()
    for instance_id, topic, queue_id, first, last, count in db.execute(
        "SELECT instance_id, topic, queue_id, MIN(queue_offset), MAX(queue_offset), COUNT(*) FROM messages"
        " GROUP BY instance_id, topic, queue_id"
    ):
        offsets.setdefault((instance_id, topic), {})[queue_id] = last + 1
        counts[(instance_id, topic)] = counts.get((instance_id, topic), 0) + count
        if last - first + 1 != count:
            holes.add((instance_id, topic, queue_id))
    logs: dict[tuple[str, str], TopicLog] = {}
    for key, per_queue in offsets.items():
        width = max(per_queue) + 1
        logs[key] = TopicLog(width, 0, [per_queue.get(q, 0) for q in range(width)])
    # Round-robin goes on after the queue of each topic's latest message.
    for instance_id, topic, queue_id in db.execute(
        "SELECT instance_id, topic, queue_id FROM messages WHERE seq IN"
        " (SELECT MAX(seq) FROM messages GROUP BY instance_id, topic)"
    ):
        logs[(instance_id, topic)].next_queue = queue_id + 1
    seq = db.execute("SELECT COALESCE(MAX(seq), 0) FROM messages").fetchone()[0]
    positions: dict[tuple[str, str], int] = {}
    for key in logs:
        where = "FROM messages WHERE instance_id = ? AND topic = ?"
        first = db.execute(f"SELECT MIN(topic_pos) {where}", key).fetchone()[0]
        positions[key] = db.execute(f"SELECT MAX(topic_pos) {where}", key).fetchone()[0]
        if positions[key] - first + 1 != counts[key]:
            holes.add(key)
    return Placement(logs, seq, positions, frozenset(holes))
