"""The committed reference corpus is what scripts/build_reference_corpus.py makes of the API reference, and it
holds no credential."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from dms_rocketmq_emulator._har import load

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "contract" / "corpus" / "reference.har"
REFERENCE = ROOT.parent / "shared" / "reference"


def _builder() -> object:
    spec = importlib.util.spec_from_file_location(
        "build_reference_corpus", ROOT / "scripts" / "build_reference_corpus.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="the API reference folder (../shared/reference) is not here")
def test_the_corpus_is_rebuilt_identically_from_the_reference() -> None:
    """Rebuilding from ../shared/reference gives the committed file byte for byte (rebuild and commit it when
    the reference changes)."""
    built = _builder().build(REFERENCE)  # type: ignore[attr-defined]
    assert built.render(ids={}, secrets=[]) + "\n" == CORPUS.read_text(encoding="utf-8")


def test_the_corpus_is_a_transcript_of_documented_answers() -> None:
    """The corpus loads as a transcript: the send example's 200 and documented errors, none with credentials."""
    transcript = load(CORPUS)
    statuses = [entry["response"]["status"] for entry in transcript.entries]
    assert statuses[0] == 200
    assert {400, 401, 404, 405} <= set(statuses)
    text = CORPUS.read_text(encoding="utf-8")
    for header in ("Authorization", "X-Auth-Token", "X-Security-Token"):
        assert header not in text
