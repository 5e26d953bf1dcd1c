"""No file of the wrapper, the emulator, the bench or the scripts restates a rule that openapi.yaml states.

Rules reach code through `dms_rocketmq_api.spec_rules` (written by `make generate`) or the packaged spec.
This test greps wrapper/, emulator/, bench/ and scripts/ for the literals the spec states: path pieces,
patterns, their character classes and repetition counts, parameter limits, reserved names and prefixes,
engine names, size limits, the clock skew, the codes and wording of the spec's error examples. Each hit
must be in ALLOWED with the reason it stays; an ALLOWED entry that no longer matches fails too, so the list
cannot go stale.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from _shared.sources import ROOT, python_files
from dms_rocketmq_api import spec_rules

SCANNED = ("wrapper", "emulator", "bench", "scripts")

_REFERENCE_CORPUS = (
    "the reference corpus keys its requests by the codes the facts file quotes: independent of the spec on purpose"
)

#: (file relative to the repository, literal) -> why it stays.
ALLOWED: dict[tuple[str, str], str] = {
    ("bench/_report.py", "15 min"): "the machine's 15-minute load average, not the clock-skew limit",
    ("scripts/build_reference_corpus.py", '"APIGW.0301"'): _REFERENCE_CORPUS,
    ("scripts/build_reference_corpus.py", '"DMS.00400004"'): _REFERENCE_CORPUS,
    ("scripts/build_reference_corpus.py", '"DMS.00400005"'): _REFERENCE_CORPUS,
    ("scripts/build_reference_corpus.py", '"DMS.00404022"'): _REFERENCE_CORPUS,
    ("wrapper/dms_rocketmq/_telemetry.py", '"rocketmq"'): "OpenTelemetry's messaging.system value, not the engine",
}


def _spec_literals() -> set[str]:
    """The strings that, found in code, would be a copy of a rule of the spec."""
    literals: set[str] = set()
    for operation in spec_rules.OPERATIONS.values():
        pieces = re.split(r"\{[^}]+\}", operation["path"])
        literals.update(piece for piece in pieces[:-1] if piece.strip("/"))
        if pieces[-1]:
            literals.add("}" + pieces[-1])  # `/messages` alone is also the control API's path
    for pattern in (
        spec_rules.TOPIC_PATTERN,
        spec_rules.PROJECT_ID_PATTERN,
        spec_rules.INSTANCE_ID_PATTERN,
        spec_rules.REQUEST_ID_PATTERN,
        spec_rules.KEYS_PATTERN,
        spec_rules.TAGS_PATTERN,
    ):
        literals.add(pattern.strip("^$"))
        literals.update(re.findall(r"\[[^\]]{4,}\]", pattern))  # character classes such as [0-9a-fA-F]
    for operation in spec_rules.OPERATIONS.values():
        for parameter in operation["parameters"].values():
            literals.update(_schema_literals(parameter["schema"]))
    literals.update(spec_rules.TOPIC_RESERVED_NAMES)
    literals.update(spec_rules.TOPIC_RESERVED_PREFIXES)
    for engine in spec_rules.ENGINES:
        literals.update({f'"{engine}"', f"'{engine}'", f"/{engine}/", f"`{engine}`"})
    skew = spec_rules.MAX_CLOCK_SKEW_SECONDS
    literals.update({f"seconds={skew}", f"minutes={skew // 60}", f"{skew // 60} minutes", f"{skew // 60} min"})
    for limit in (spec_rules.BODY_MAX_LENGTH, spec_rules.PROPERTY_VALUE_MAX_LENGTH, spec_rules.REQUEST_MAX_BYTES):
        literals.add(str(limit))
        literals.add(f"{limit:,}")
        if limit % (1024 * 1024) == 0:
            mebibytes = limit // (1024 * 1024)
            literals.update({f"{mebibytes} * 1024 * 1024", f"{mebibytes} MiB", f"{mebibytes} MB"})
    literals.update(_error_literals())
    return literals


def _error_literals() -> set[str]:
    """What a copy of the spec's error examples would contain: each code, and each fixed piece of wording
    (the text between the `{names}` of a template) long enough to be specific."""
    literals: set[str] = set()
    for code, template, _, _ in spec_rules.ERRORS.values():
        literals.add(f'"{code}"')
        pieces = re.split(r"\{\w+\}", template)
        literals.update(piece.strip(" :,") for piece in pieces if len(piece.strip(" :,")) >= 12)
    return literals


def _schema_literals(schema: dict[str, Any]) -> set[str]:
    """What a copy of one parameter schema's rules would contain: its pattern, the pattern's character
    classes and repetition counts (`{1,15}`, and `* 15`, a string built to the upper bound), its limits."""
    literals: set[str] = set()
    pattern = schema.get("pattern")
    if pattern is not None:
        literals.add(pattern.strip("^$"))
        literals.update(re.findall(r"\[[^\]]{4,}\]", pattern))  # [0-9] alone is any digit, not a rule
        for low, high in re.findall(r"\{(\d+),(\d+)\}", pattern):
            literals.update({f"{{{low},{high}}}", f"* {high}"})
        literals.update(re.findall(r"\{\d{2,}\}", pattern))
    for keyword in ("minLength", "maxLength", "minimum", "maximum"):
        # Small numbers (0, 1, 10) are everywhere; a limit of two digits or more is specific enough.
        if isinstance(schema.get(keyword), int) and schema[keyword] >= 10:
            literals.add(str(schema[keyword]))
    for option in schema.get("anyOf", []) + schema.get("oneOf", []):
        literals.update(_schema_literals(option))
    return literals


def _source_files() -> list[Path]:
    files = []
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_symlink() or not path.is_file() or "__pycache__" in path.parts:
                continue  # the packaged openapi.yaml is a link to the spec itself
            if path.suffix in {".py", ".md", ".toml", ".txt", ".cfg", ".ini", ".json"}:
                files.append(path)
    return files


def _hits() -> set[tuple[str, str]]:
    literals = _spec_literals()
    found = set()
    for path in _source_files():
        text = path.read_text("utf-8")
        for literal in literals:
            if literal in text:
                found.add((path.relative_to(ROOT).as_posix(), literal))
    return found


def test_the_literal_list_is_not_empty() -> None:
    """The grep looks for what the spec states (a broken extraction would make the next test pass vacuously)."""
    literals = _spec_literals()
    assert {"/v2/", "/instances/", "rmq_sys_", "TBW102", '"rocketmq"', "4194304", "4 * 1024 * 1024"} <= literals
    assert "[0-9a-fA-F]" in literals
    assert "[%|a-zA-Z0-9_-]" in literals
    assert {"[0-9]{1,15}", "{1,15}", "* 15", "{32}", "seconds=900", "15 minutes"} <= literals
    assert _source_files()


def test_no_copy_of_a_spec_rule_in_wrapper_or_emulator() -> None:
    """Every spec literal found in wrapper/ or emulator/ is allowed on purpose, with a reason."""
    hits = _hits()
    unexplained = sorted(hits - set(ALLOWED))
    assert not unexplained, (
        "these files restate a rule of openapi.yaml; import it from dms_rocketmq_api.spec_rules instead "
        f"(or add it to ALLOWED with the reason): {unexplained}"
    )
    stale = sorted(set(ALLOWED) - hits)
    assert not stale, f"ALLOWED lists literals no longer found: {stale}"


#: Files of the packages that still name a property by its literal, each with why.
PROPERTY_LITERALS_ALLOWED: dict[tuple[str, str], str] = {}


def _property_literals() -> set[str]:
    names = (spec_rules.KEYS_PROPERTY, spec_rules.TAGS_PROPERTY, spec_rules.MESSAGE_ID_PROPERTY)
    return {f"{quote}{name}{quote}" for name in names for quote in "\"'"}


def test_no_property_name_literal_in_the_packages() -> None:
    """The wrapper and the emulator name the KEYS, TAGS and message-id properties through spec_rules."""
    found = set()
    for path in python_files("wrapper", "emulator"):
        text = path.read_text("utf-8")
        found |= {(path.relative_to(ROOT).as_posix(), literal) for literal in _property_literals() if literal in text}
    assert sorted(found - set(PROPERTY_LITERALS_ALLOWED)) == []
    assert sorted(set(PROPERTY_LITERALS_ALLOWED) - found) == [], "allowed but gone: take it off the list"
