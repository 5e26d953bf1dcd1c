"""Where messages are kept: in memory, or durably in SQLite with group commit.

The store is read through its interface (`Store`, `_interface.py`); each idea has its module:

- `_interface.py`: the interface, its errors, and the placement both stores share;
- `_memory.py`: the memory store (lists and the query indexes beside them);
- `_schema.py`: the durable store's SQLite schema, the row a message is kept as, migrations;
- `_writer.py`: the durable store's writer thread, with group commit;
- `_queries.py`: the SQL of a message query;
- `_durable.py`: the durable store itself (start-up, placement, reads, close).

Queries (`ListMessages`, `_query.py`) use indexes in both stores: by message id, by key (one entry per key
of a message, in `message_keys` on disk) and by position within a topic and within a queue. Store times
never go backwards within a store, so a topic's messages are in time order and a time range is one slice of
them: on disk each message has its position in its topic (`topic_pos`, 1, 2, 3, ... without gaps) and in its
queue (`queue_offset`), so a range's bounds are found by bisection, its total is last - first + 1 and a
page is a lookup of positions, however deep (`_queries.py`).

Besides queries, the interface has `queue_offsets` (each queue's offsets, from the placement state, no
read of the messages) and `subscribe`/`unsubscribe` (observers called with each message once kept).
"""

from __future__ import annotations

from pathlib import Path

from ._durable import DurableStore
from ._interface import DataDirInUseError, MessageObserver, QueueOffsets, Store, StoreError
from ._memory import MemoryStore

__all__ = [
    "DataDirInUseError",
    "DurableStore",
    "MemoryStore",
    "MessageObserver",
    "QueueOffsets",
    "Store",
    "StoreError",
    "make_store",
]


def make_store(data_dir: Path | None, *, ip: str = "127.0.0.1") -> Store:
    """The durable store in `data_dir`, or the memory store when it is None."""
    return MemoryStore(ip=ip) if data_dir is None else DurableStore(data_dir, ip=ip)
