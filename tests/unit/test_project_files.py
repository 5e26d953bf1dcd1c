"""What ships and what bootstraps: the LICENSE the metadata names, the docs the docstrings point to, a
contact URL that exists, and Make targets that create node_modules before they need it."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
#: Targets that run something from node_modules (Spectral, Redocly, Prism in the interop and contract tests).
NODE_TARGETS = ("lint-spec", "docs", "pytest", "contract", "contract-deep", "test")


def test_license_file_is_the_apache_license_and_ships() -> None:
    """LICENSE holds the Apache-2.0 text pyproject declares, and the sdist and wheel include it."""
    text = (ROOT / "LICENSE").read_text()
    assert text.lstrip().startswith("Apache License\n                           Version 2.0, January 2004")
    assert "END OF TERMS AND CONDITIONS" in text
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["license"] == "Apache-2.0"
    assert "LICENSE" in project["project"]["license-files"]
    sdist = project["tool"]["hatch"]["build"]["targets"]["sdist"]["include"]
    assert {"LICENSE", "docs/"} <= set(sdist)
    assert project["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]["docs"] == "dms_rocketmq/docs"


def test_spec_contact_does_not_point_at_a_missing_pypi_page() -> None:
    """The distribution is not on PyPI: the spec's contact must not send readers to a page that does not exist."""
    info = yaml.safe_load((ROOT / "openapi.yaml").read_text())["info"]
    assert "pypi.org" not in str(info.get("contact", {}).get("url", ""))


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
@pytest.mark.parametrize("target", NODE_TARGETS)
def test_node_targets_run_npm_ci_on_a_checkout_without_node_modules(tmp_path: Path, target: str) -> None:
    """`make -n TARGET` in a checkout without node_modules plans `npm ci` (the target bootstraps it)."""
    for name in ("Makefile", "package.json", "package-lock.json", "pyproject.toml", "constraints.txt"):
        shutil.copy(ROOT / name, tmp_path / name)
    plan = subprocess.run(["make", "-n", target], cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert "npm ci" in plan


def test_docs_install_from_a_checkout_not_from_pypi() -> None:
    """The distribution is not on PyPI: README and docs/ install from a checkout or a wheel, never by name."""
    import re

    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            assert not re.search(r"pip install '?dms-rocketmq\b", line), f"{path.name}:{number}: {line}"
