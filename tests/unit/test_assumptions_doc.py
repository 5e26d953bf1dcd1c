"""docs/contract.md lists the spec's named assumptions exactly as openapi.yaml states them."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from dms_rocketmq_api.spec_rules import ASSUMPTIONS

ROOT = Path(__file__).resolve().parents[2]


def _script() -> object:
    spec = importlib.util.spec_from_file_location("assumptions_doc", ROOT / "scripts" / "assumptions_doc.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_page_lists_every_assumption_as_generated() -> None:
    """The table in docs/contract.md is the one scripts/assumptions_doc.py writes from x-assumptions (run it
    after changing the spec), and names every assumption with its status."""
    page = (ROOT / "docs" / "contract.md").read_text(encoding="utf-8")
    assert _script().render(page) == page, "docs/contract.md is stale: run python scripts/assumptions_doc.py"  # type: ignore[attr-defined]
    for name, assumption in ASSUMPTIONS.items():
        assert f"| `{name}` |" in page
        assert assumption["status"] in page


def test_a_changed_assumption_makes_the_page_stale() -> None:
    """The check can fail: a page whose table says another status than the spec is rewritten."""
    page = (ROOT / "docs" / "contract.md").read_text(encoding="utf-8")
    stale = page.replace("| unconfirmed |", "| confirmed |", 1)
    assert stale != page
    assert _script().render(stale) == page  # type: ignore[attr-defined]
