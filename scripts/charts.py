"""The PNG charts in docs/, drawn from the results files alone (bench/results.json), by `make figures`.

Each chart names the data it was drawn from in its own PNG text chunks: the results file, the JSON pointers of
the parts it draws, a SHA-256 of those parts (canonical JSON) and the date of the run that measured them. The
check (`scripts/figures.py --check`, run by tests/unit/test_figures.py) reads those chunks with the standard
library alone and fails when a chart is missing or was drawn from other data than the results file holds now,
that is when the chart is older than its data. Drawing needs matplotlib (Agg backend, the DejaVu font matplotlib
ships, no timestamp or version in the file), so the same data draws the same bytes.

A series the results file does not have is not drawn: a chart with nothing to draw is not written.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["CHARTS", "Chart", "chart_problems", "draw_all", "png_text"]

SOURCE = "bench/results.json"
#: The PNG text keys this module writes and reads back.
KEY_SOURCE, KEY_PARTS, KEY_HASH, KEY_DATE = "Source", "Data-Parts", "Data-SHA256", "Data-Date"


def pointer_get(document: Any, pointer: str) -> Any:
    """The value at a JSON pointer (RFC 6901), or None when there is none."""
    value = document
    for token in pointer.lstrip("/").split("/"):
        key = token.replace("~1", "/").replace("~0", "~")
        if isinstance(value, dict) and key in value:
            value = value[key]
        else:
            return None
    return value


def data_hash(document: Any, parts: list[str]) -> str:
    """SHA-256 of the parts a chart draws, as canonical JSON (sorted keys, no spaces)."""
    chosen = {part: pointer_get(document, part) for part in parts}
    return hashlib.sha256(json.dumps(chosen, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True)
class Chart:
    """One PNG in docs/: its file name, the parts of the results file it draws, and how it draws them."""

    name: str
    title: str
    parts: tuple[str, ...]
    date_pointer: str
    draw: Callable[[Any, Any], bool]  # (axes, results) -> whether there was anything to draw


# --- the charts -------------------------------------------------------------------------------------------------

#: Sections of sends per second, in the order drawn; the `_tls` ones appear when bench measured HTTPS.
SEND_SECTIONS = (
    ("sequential", "sequential, HTTP"),
    ("sequential_tls", "sequential, HTTPS"),
    ("bulk", "bulk (64 in flight), HTTP"),
    ("bulk_tls", "bulk (64 in flight), HTTPS"),
)


def _label(results: Any, section: str, name: str) -> str:
    label = pointer_get(results, f"/details/{section}/{name}/label")
    return str(label) if label else name


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def section_rows(results: Any, section: str) -> dict[str, tuple[str, float | None, float | None]]:
    """{contender: (label, sends per second, client CPU µs per send)} of one section, in either shape the
    results file has: the plain sections (`/details/SECTION/NAME`, rates in `/SECTION` or `/extra/SECTION`)
    and the HTTPS ones (`/SECTION/rows/NAME/sends_per_s`, bench/tls.py)."""
    rows: dict[str, tuple[str, float | None, float | None]] = {}
    details = pointer_get(results, f"/details/{section}")
    if isinstance(details, dict):
        for name, detail in details.items():
            rate = _number(pointer_get(results, f"/{section}/{name}"))
            if rate is None:
                rate = _number(pointer_get(results, f"/extra/{section}/{name}"))
            cpu = _number(detail.get("client_cpu_us_per_send")) if isinstance(detail, dict) else None
            rows[name] = (_label(results, section, name), rate, cpu)
        return rows
    tls_rows = pointer_get(results, f"/{section}/rows")
    if isinstance(tls_rows, dict):
        for name, row in tls_rows.items():
            if isinstance(row, dict):
                label = str(row.get("label") or _label(results, section.removesuffix("_tls"), name))
                rows[name] = (label, _number(row.get("sends_per_s")), _number(row.get("client_cpu_us_per_send")))
    return rows


def _contender_bars(axes: Any, results: Any, column: int, unit: str) -> bool:
    """Horizontal bars, one group per section present, one bar per contender measured (`column`: 1 for sends
    per second, 2 for client CPU per send)."""
    labels: list[str] = []
    values: list[float] = []
    colours: list[str] = []
    palette = ["#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd"]
    for index, (section, caption) in enumerate(SEND_SECTIONS):
        for row in section_rows(results, section).values():
            value = row[column]
            if value is None:
                continue
            labels.append(f"{caption}: {row[0]}")
            values.append(value)
            colours.append(palette[index % len(palette)])
    if not values:
        return False
    positions = list(range(len(values)))[::-1]
    axes.barh(positions, values, color=colours)
    axes.set_yticks(positions, labels)
    for position, value in zip(positions, values, strict=True):
        axes.annotate(
            f"{value:,.0f}", (value, position), xytext=(3, 0), textcoords="offset points", va="center", fontsize=8
        )
    axes.set_xlabel(unit)
    axes.margins(x=0.15)
    return True


def _draw_sends(axes: Any, results: Any) -> bool:
    return _contender_bars(axes, results, 1, "sends per second (median of the rounds; higher is better)")


#: The contender whose CPU per send is drawn as a line: the standard library doing a send's work by hand.
STDLIB = ("sequential", "stdlib")


def _draw_cpu(axes: Any, results: Any) -> bool:
    if not _contender_bars(axes, results, 2, "client CPU µs per send (lower is better)"):
        return False
    stdlib = section_rows(results, STDLIB[0]).get(STDLIB[1])
    if stdlib is not None and stdlib[2] is not None:
        axes.axvline(stdlib[2], color="black", linestyle="--", linewidth=1)
        axes.annotate(
            "standard library", (stdlib[2], 1.0), xycoords=("data", "axes fraction"), xytext=(3, -12),
            textcoords="offset points", fontsize=8,
        )  # fmt: skip
    return True


def _points(mapping: Any) -> list[tuple[float, float]]:
    """(x, y) pairs of a {"x": y} mapping with numeric keys, sorted by x."""
    if not isinstance(mapping, dict):
        return []
    pairs = []
    for key, value in mapping.items():
        try:
            pairs.append((float(key), float(value)))
        except (TypeError, ValueError):
            continue
    return sorted(pairs)


def _line(axes: Any, pairs: list[tuple[float, float]], label: str, marker: str = "o", values: bool = True) -> None:
    axes.plot([x for x, _ in pairs], [y for _, y in pairs], marker=marker, label=label)
    for x, y in pairs if values else ():
        axes.annotate(f"{y:,.0f}", (x, y), xytext=(0, 6), textcoords="offset points", ha="center", fontsize=8)


def _draw_concurrency(axes: Any, results: Any) -> bool:
    series = results.get("concurrency")
    if not isinstance(series, dict):
        return False
    drawn = False
    for name, by_level in sorted((series.get("sends_per_s") or {}).items()):
        pairs = _points(by_level)
        if pairs:
            label = pointer_get(series, f"/labels/{name}") or _label(results, "bulk", name)
            _line(axes, pairs, str(label))
            drawn = True
    if not drawn:
        return False
    axes.set_xscale("log", base=2)
    axes.set_xlabel("sends in flight")
    axes.set_ylabel("sends per second")
    axes.set_ylim(bottom=0)
    axes.legend(fontsize=8)
    return True


def _draw_query(axes: Any, results: Any) -> bool:
    by_size = pointer_get(results, "/query/by_size")
    if not isinstance(by_size, dict):
        return False
    drawn = False
    for store, path in (("memory", "store"), ("durable", "store"), ("durable", "http")):
        for kind in ("by_msg_id", "by_key"):
            pairs = []
            for size, figures in by_size.items():
                value = pointer_get(figures, f"/{store}/{path}/{kind}/p50_us")
                if isinstance(value, int | float):
                    pairs.append((float(size), float(value)))
            if pairs:
                where = "over HTTP" if path == "http" else "in the store"
                # No value labels: six lines, two pairs of them nearly on top of each other.
                _line(axes, sorted(pairs), f"{store}, {kind}, {where}", values=False)
                drawn = True
    if not drawn:
        return False
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("messages in the store")
    axes.set_ylabel("query latency, median µs")
    axes.legend(fontsize=8)
    return True


def _draw_cli_memory(axes: Any, results: Any) -> bool:
    cli = _points(pointer_get(results, "/bulk_cli/cli_peak_rss_mib"))
    if not cli:
        return False
    _line(axes, cli, "dms-rocketmq send --file (streams the file)")
    send_many = pointer_get(results, "/bulk_cli/send_many")
    if isinstance(send_many, dict) and isinstance(send_many.get("peak_rss_mib"), int | float):
        point = [(float(send_many["lines"]), float(send_many["peak_rss_mib"]))]
        _line(axes, point, "AsyncClient.send_many on a list held in memory", marker="s")
    target = pointer_get(results, "/bulk_cli/target_peak_rss_mib")
    if isinstance(target, int | float):
        axes.axhline(target, color="black", linestyle="--", linewidth=1, label=f"target: {target:g} MiB")
    axes.set_xscale("log")
    axes.set_xlabel("lines in the file")
    axes.set_ylabel("peak RSS, MiB")
    axes.set_ylim(bottom=0)
    axes.legend(fontsize=8)
    return True


CHARTS: tuple[Chart, ...] = (
    Chart(
        "bench-sends-per-second.png",
        "Sends per second by contender",
        ("/sequential", "/sequential_tls", "/bulk", "/bulk_tls", "/extra", "/details"),
        "/run/started",
        _draw_sends,
    ),
    Chart(
        "bench-client-cpu.png",
        "Client CPU per send by contender",
        ("/details", "/sequential_tls", "/bulk_tls"),
        "/run/started",
        _draw_cpu,
    ),
    Chart(
        "bench-bulk-concurrency.png",
        "Bulk throughput against concurrency",
        ("/concurrency",),
        "/concurrency/started",
        _draw_concurrency,
    ),
    Chart(
        "bench-query-latency.png",
        "Query latency against the store's size",
        ("/query/by_size",),
        "/query/run/started",
        _draw_query,
    ),
    Chart(
        "bench-cli-memory.png",
        "The CLI's memory against the file's size",
        ("/bulk_cli",),
        "/run/started",
        _draw_cli_memory,
    ),
)


# --- PNG text chunks --------------------------------------------------------------------------------------------


def png_text(path: pathlib.Path) -> dict[str, str]:
    """The tEXt chunks of a PNG file (standard library only: the check needs no matplotlib)."""
    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path.name} is not a PNG file")
    chunks: dict[str, str] = {}
    offset = 8
    while offset + 8 <= len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        if kind == b"tEXt":
            key, _, value = body.partition(b"\0")
            chunks[key.decode("latin-1")] = value.decode("latin-1")
        elif kind == b"zTXt":
            key, _, rest = body.partition(b"\0")
            chunks[key.decode("latin-1")] = zlib.decompress(rest[1:]).decode("latin-1")
        elif kind == b"IEND":
            break
        offset += 12 + length
    return chunks


def chart_problems(root: pathlib.Path) -> list[str]:
    """Why a chart in docs/ disagrees with the results file: missing, drawn from other data, or not a chart.

    A checkout without docs/ (a test's scratch copy of a page or two) has no charts to check.
    """
    if not (root / "docs").is_dir():
        return []
    results = json.loads((root / SOURCE).read_text(encoding="utf-8"))
    problems = []
    for chart in CHARTS:
        path = root / "docs" / chart.name
        if not path.exists():
            if _would_draw(results, chart):
                problems.append(f"docs/{chart.name} is missing: run `make figures`")
            continue
        try:
            text = png_text(path)
        except (OSError, ValueError, struct.error, zlib.error) as exc:
            problems.append(f"docs/{chart.name}: {exc}")
            continue
        expected = data_hash(results, list(chart.parts))
        if text.get(KEY_SOURCE) != SOURCE or text.get(KEY_HASH) != expected:
            date = text.get(KEY_DATE, "an unknown date")
            problems.append(
                f"docs/{chart.name} was drawn from data of {date}, not from {SOURCE} as it is now: run `make figures`"
            )
        elif not _would_draw(results, chart):
            problems.append(f"docs/{chart.name}: {SOURCE} has nothing for it any more: delete it")
    return problems


def _would_draw(results: Any, chart: Chart) -> bool:
    """Whether drawing `chart` would put anything on it, found without matplotlib (a recording stand-in)."""

    class Recorder:
        def __getattr__(self, name: str) -> Callable[..., None]:
            return lambda *args, **kwargs: None

    return chart.draw(Recorder(), results)


# --- drawing ----------------------------------------------------------------------------------------------------


def draw_all(root: pathlib.Path) -> list[str]:
    """Draw every chart that has data into docs/ and return the names written or removed."""
    if not (root / "docs").is_dir():
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = json.loads((root / SOURCE).read_text(encoding="utf-8"))
    changed = []
    style = {
        "font.family": "DejaVu Sans",  # shipped with matplotlib: the same glyphs on every machine
        "font.size": 9,
        "figure.dpi": 100,
        "savefig.dpi": 100,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "svg.hashsalt": "dms-rocketmq",
    }
    for chart in CHARTS:
        path = root / "docs" / chart.name
        with plt.rc_context(style):
            figure, axes = plt.subplots(figsize=(9, 4.8))
            try:
                drawn = chart.draw(axes, results)
                if not drawn:
                    if path.exists():
                        path.unlink()
                        changed.append(f"removed docs/{chart.name}")
                    continue
                date = pointer_get(results, chart.date_pointer) or pointer_get(results, "/run/started") or "undated"
                axes.set_title(f"{chart.title}\nmeasured {date}, {SOURCE}", fontsize=10)
                figure.tight_layout()
                metadata = {
                    "Software": None,  # no matplotlib version: the bytes depend on the data only
                    "Title": chart.title,
                    KEY_SOURCE: SOURCE,
                    KEY_PARTS: " ".join(chart.parts),
                    KEY_HASH: data_hash(results, list(chart.parts)),
                    KEY_DATE: str(date),
                }
                before = path.read_bytes() if path.exists() else None
                figure.savefig(path, format="png", metadata=metadata)
                if path.read_bytes() != before:
                    changed.append(f"drew docs/{chart.name}")
            finally:
                plt.close(figure)
    return changed
