"""Client CPU by layer: which layer a profiled function belongs to, and the table of own time per layer that
`profile_sync.py` and `profile_bulk.py` print (docs/performance.md quotes both)."""

from __future__ import annotations

import pstats
from collections import defaultdict

#: cProfile's file name for functions written in C.
BUILTINS = "C functions (socket I/O, hashing, json scanning...)"
OTHER = "other Python (typing, enum, contextlib, attrs...)"


def layer_of(filename: str, layers: list[tuple[str, str]]) -> str:
    """The first layer of `layers` (layer, what the file's path contains) whose marker is in `filename`."""
    if filename == "~":
        return BUILTINS
    for layer, marker in layers:
        if marker in filename:
            return layer
    return OTHER


def own_time_by_layer(stats: pstats.Stats, layers: list[tuple[str, str]]) -> dict[str, float]:
    """Seconds of own time (tottime) per layer in a profile."""
    found: dict[str, float] = defaultdict(float)
    for (filename, _line, _name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        found[layer_of(filename, layers)] += tottime
    return found


def print_layer_table(heading: str, results: dict[str, dict[str, float]], count: int, decimals: int = 0) -> None:
    """A Markdown table: a row per layer (largest in the first column first), a column per contender, in µs
    of own time per message, and the total."""
    names = list(results)
    first = results[names[0]]
    layers = sorted({layer for found in results.values() for layer in found}, key=lambda layer: -first.get(layer, 0))
    print(f"| {heading} | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for layer in layers:
        cells = [f"{results[name].get(layer, 0.0) / count * 1e6:,.{decimals}f}" for name in names]
        print(f"| {layer} | " + " | ".join(cells) + " |")
    totals = [f"**{sum(results[name].values()) / count * 1e6:,.{decimals}f}**" for name in names]
    print("| **total** | " + " | ".join(totals) + " |")
