"""Write the table of named assumptions into docs/contract.md, from openapi.yaml's `x-assumptions`.

    python scripts/assumptions_doc.py [docs/contract.md]

The table sits between the `assumptions:begin` and `assumptions:end` comments; tests/unit/test_assumptions_doc.py
fails when it differs from what this script writes, so the page cannot drift from the spec.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from dms_rocketmq_api.spec_rules import ASSUMPTIONS

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "contract.md"
_SECTION = re.compile(r"(<!-- assumptions:begin[^>]*-->\n)(.*?)(<!-- assumptions:end -->)", re.S)


def table() -> str:
    """The Markdown table: name, what is assumed, where it comes from, what it governs, its status."""
    lines = [
        "| assumption | what the spec and the emulator assume | source | governs | status |",
        "|---|---|---|---|---|",
    ]
    for name, assumption in ASSUMPTIONS.items():
        governs = ", ".join(f"`{field}`" for field in assumption["fields"]) or "(not compared)"
        where = assumption["operation"] if assumption["operation"] != "*" else "both operations"
        status = assumption["status"] + (f" ({assumption['confirmed']})" if assumption["confirmed"] else "")
        cells = [f"`{name}`", assumption["summary"], assumption["source"], f"{where}: {governs}", status]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def render(text: str) -> str:
    """`text` (the page) with the generated table in its place."""
    if _SECTION.search(text) is None:
        raise SystemExit("the page has no assumptions:begin ... assumptions:end section")
    return _SECTION.sub(lambda m: m[1] + table() + m[3], text)


def main(argv: list[str]) -> int:
    path = Path(argv[1]) if len(argv) > 1 else DOC
    path.write_text(render(path.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
