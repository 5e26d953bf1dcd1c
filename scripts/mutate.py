"""`make mutate`: mutation testing of the signer, validation, retry and bulk code and the emulator's verifier,
models and store, against the unit and integration tiers.

mutmut (pinned in the dev extra) expects the code it mutates under ./ or src/, while this project keeps its
packages under wrapper/, emulator/ and generated/. So this script lays a staging copy out the way mutmut
expects (build/mutate/src/<package>, with the tests, the spec and pyproject.toml beside it), runs
`mutmut run` there with the `[tool.mutmut]` settings of pyproject.toml, and writes the score to
mutation/results.json. Mutants listed in mutation/equivalents.toml (each with the reason it cannot be killed)
are left out of the score. Slow (tens of minutes on two cores): outside `make test`.

    python scripts/mutate.py [--max-children N] [MUTANT_GLOB ...]   # e.g. "dms_rocketmq._retry*"
    python scripts/mutate.py --report-only    # re-score the last run (after editing equivalents.toml)
    python scripts/mutate.py --survivors      # after adding tests: run the last run's survivors again
    python scripts/mutate.py --resume [GLOB]  # go on with an interrupted run (the globs' mutants first)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STAGE = ROOT / "build" / "mutate"
RESULTS = ROOT / "mutation" / "results.json"
EQUIVALENTS = ROOT / "mutation" / "equivalents.toml"
PACKAGES = {
    "dms_rocketmq": ROOT / "wrapper" / "dms_rocketmq",
    "dms_rocketmq_emulator": ROOT / "emulator" / "dms_rocketmq_emulator",
    "dms_rocketmq_api": ROOT / "generated" / "dms_rocketmq_api",
}
#: What the tests read beside the code.
ALSO = ["openapi.yaml", "tests", "pyproject.toml", "scripts", "bench", "docs"]
#: mutmut's own words for the outcome of each mutant (`mutmut results --all true`).
KILLED = {"killed", "timeout", "segfault"}
#: Not killed: a mutant no test even runs ("no tests") is as undetected as one the tests let pass.
SURVIVED = {"survived", "no tests"}
NOT_RUN = {"skipped", "suspicious", "not checked", "check was interrupted by user", "caught by type check"}


def stage(*, keep_results: bool = False) -> None:
    """Lay out build/mutate as mutmut expects it, from the working tree as it is now.

    With `keep_results`, mutmut's own state (build/mutate/mutants) stays: it keeps each mutant's verdict
    unless the function it mutates has changed, and collects stats for tests it has not seen.
    """
    if STAGE.exists():
        for entry in STAGE.iterdir():
            if keep_results and entry.name == "mutants":
                continue
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    (STAGE / "src").mkdir(parents=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False)
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    (STAGE / "STAGED_FROM").write_text(head.stdout.strip() + (" (with local changes)" if dirty.stdout.strip() else ""))
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name, path in PACKAGES.items():
        # symlinks=False: the emulator's packaged openapi.yaml is a link to the spec at the top level.
        shutil.copytree(path, STAGE / "src" / name, ignore=ignore, symlinks=False)
    for name in ALSO:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, STAGE / name, ignore=ignore)
        elif source.exists():
            shutil.copy2(source, STAGE / name)


def equivalents() -> dict[str, str]:
    """Mutant name -> why it cannot be killed (the same behaviour as the original)."""
    if not EQUIVALENTS.exists():
        return {}
    data = tomllib.loads(EQUIVALENTS.read_text(encoding="utf-8"))
    return {str(name): str(reason) for name, reason in data.get("equivalent", {}).items()}


def results(env: dict[str, str]) -> dict[str, str]:
    """Mutant name -> status, as `mutmut results` prints them."""
    answer = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"],
        cwd=STAGE,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    statuses: dict[str, str] = {}
    for line in answer.stdout.splitlines():
        match = re.match(r"\s*(\S+__mutmut_\d+): (.+)$", line)
        if match:
            statuses[match.group(1)] = match.group(2).strip()
    return statuses


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 2)
    parser.add_argument("mutants", nargs="*", help="mutant names or globs, as mutmut run takes them")
    parser.add_argument(
        "--report-only", action="store_true", help="score the last run in build/mutate again without running"
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep mutmut's verdicts and go on with the mutants not checked yet (those of the globs, if given)",
    )
    parser.add_argument(
        "--survivors",
        action="store_true",
        help="keep the last run's verdicts and run again only its survivors (after adding tests)",
    )
    args = parser.parse_args()
    started = time.monotonic()
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    if args.survivors:
        # Tests were only added since the last run: a killed mutant stays killed, so only survivors can change.
        last = json.loads(RESULTS.read_text(encoding="utf-8"))
        args.mutants = [*args.mutants, *last["survivors"]]
        if not args.mutants:
            print("the last run left no survivors", file=sys.stderr)
            return 0
    if not args.report_only:
        stage(keep_results=args.survivors or args.resume)
        command = [sys.executable, "-m", "mutmut", "run", "--max-children", str(args.max_children), *args.mutants]
        print("+", " ".join(command), f"(in {STAGE.relative_to(ROOT)})", flush=True)
        subprocess.run(command, cwd=STAGE, env=env, check=False)
    elif not STAGE.exists():
        print(f"no earlier run in {STAGE.relative_to(ROOT)}", file=sys.stderr)
        return 1
    statuses = results(env)
    known = equivalents()
    by_status: dict[str, int] = {}
    for status in statuses.values():
        by_status[status] = by_status.get(status, 0) + 1
    survivors = sorted(name for name, status in statuses.items() if status in SURVIVED and name not in known)
    killed = sum(1 for status in statuses.values() if status in KILLED)
    equivalent = sorted(name for name, status in statuses.items() if status in SURVIVED and name in known)
    scored = killed + len(survivors)
    score = killed / scored if scored else 0.0
    timing: dict[str, Any] = {
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time())),
        "seconds": 0,
        "scope": ["all"],
    }
    if args.report_only and RESULTS.exists():
        # Re-scoring does not re-run anything: the run's own time and scope stay.
        earlier = json.loads(RESULTS.read_text(encoding="utf-8"))
        timing = {key: earlier.get(key, value) for key, value in timing.items()}
        if "survivors_rechecked" in earlier:
            timing["survivors_rechecked"] = earlier["survivors_rechecked"]
    elif args.resume and RESULTS.exists():
        # The same run, gone on with after an interruption: its time adds up, its scope stays.
        earlier = json.loads(RESULTS.read_text(encoding="utf-8"))
        timing["scope"] = earlier.get("scope", ["all"])
        timing["seconds"] = int(earlier.get("seconds", 0)) + round(time.monotonic() - started)
    elif args.survivors:
        # The verdicts are the last full run's, with its survivors checked again against the added tests.
        earlier = json.loads(RESULTS.read_text(encoding="utf-8"))
        timing = {key: earlier.get(key, value) for key, value in timing.items()}
        timing["survivors_rechecked"] = {
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time())),
            "seconds": round(time.monotonic() - started),
            "mutants": len(args.mutants),
        }
    else:
        timing.update(seconds=round(time.monotonic() - started), scope=args.mutants or ["all"])
    staged_from = STAGE / "STAGED_FROM"
    report = {
        "command": "make mutate",
        "commit": staged_from.read_text().strip() if staged_from.exists() else "unknown",
        **timing,
        "mutants": len(statuses),
        "by_status": dict(sorted(by_status.items())),
        "killed": killed,
        "survived_not_equivalent": len(survivors),
        # Mutants the run did not reach (stopped early, or a scoped run): the score says nothing about them.
        "not_checked": sum(1 for status in statuses.values() if status not in KILLED | SURVIVED),
        "equivalent": len(equivalent),
        "score": round(score, 4),
        "percent": round(100 * score, 1),
        "target": 0.9,
        "survivors": survivors,
        "equivalents": {name: known[name] for name in equivalent},
        # Listed as equivalent but not a survivor of this run: gone, renamed by a code change, or killed after all.
        "stale_equivalents": sorted(name for name in known if statuses.get(name) not in SURVIVED),
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({key: report[key] for key in ("mutants", "by_status", "killed", "score")}, indent=2))
    print(f"{len(survivors)} surviving mutants not listed as equivalent; see {RESULTS.relative_to(ROOT)}")
    if not statuses:
        print("mutmut produced no mutants: see its output above", file=sys.stderr)
        return 1
    return 0 if score >= report["target"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
