"""The drift report holds the emulator to a recorded run: transcripts of the contract suite are replayed against
a fresh emulator (`dms-rocketmq-emulator drift`), and every divergence is found and tied to its assumption.

Recordings are made the way a QA team makes them: the contract suite in a subprocess, pointed at a server by the
DMS_CONTRACT_* variables, writing DMS_CONTRACT_RECORD. The servers recorded are the emulator itself and emulator
variants that each make one other choice where the spec is silent (`_broken_emulators.py`).
"""

from __future__ import annotations

import concurrent.futures
import json
import pathlib
import subprocess
import sys

import _broken_emulators as broken
import pytest
from _suite_runner import SuiteRun, run_suite, target_env
from dms_rocketmq_emulator._drift import EXIT_DIVERGED, build_report
from dms_rocketmq_emulator._har import load

ROOT = pathlib.Path(__file__).resolve().parents[2]
# The examples phase and the round trip: every query shape the planted choices change (read back by msg_id, the
# run's key page by page, the run's time range, a topic that does not exist), in seconds.
RECORD = {
    "DMS_CONTRACT_NO_SHRINK": "1",
    "DMS_CONTRACT_PHASES": "examples",
    "DMS_CONTRACT_READ_TIMEOUT": "1",
}
TOKEN = "tok-DRIFT-VARIANT-SECRET-51c0e2a7"
# The eight recordings are made once, in the first test's setup: more than the default per-test timeout on a
# busy machine.
pytestmark = pytest.mark.timeout(600)


PLANTED = [
    pytest.param(broken.query_unknown_topic_other_code, False, "query-unknown-topic-error", id="unknown-topic-code"),
    pytest.param(broken.query_time_in_seconds, True, "query-time-unit-ms", id="time-in-seconds"),
    pytest.param(broken.query_newest_first, False, "query-results-oldest-first", id="newest-first"),
    pytest.param(broken.query_key_matches_first_key, False, "query-key-matches-any-key", id="first-key-only"),
    pytest.param(broken.drops_request_id, False, "request-id-on-every-response", id="no-X-Request-Id"),
    pytest.param(broken.query_total_is_page_length, False, "query-total-counts-all-matches", id="total-is-page"),
]
# Two recordings of the emulator itself, and one of each variant above.
RECORDINGS: list[tuple[str, broken.Variant, bool]] = [
    ("emulator", broken.unchanged, False),
    ("emulator again", broken.unchanged, False),
    *[(p.id, p.values[0], p.values[1]) for p in PLANTED],
]
# Recordings are made side by side (each is mostly a pytest process starting), a few at a time.
PARALLEL_RECORDINGS = 4


def _record(variant: broken.Variant, tmp_path: pathlib.Path, *, token: bool) -> SuiteRun:
    with broken.serve(broken.build(variant, token=TOKEN if token else None)) as url:
        credentials = {"token": TOKEN} if token else {"ak": broken.AK, "sk": broken.SK}
        env = target_env(
            url, project_id=broken.PROJECT_ID, instance_id=broken.INSTANCE_ID, topic=broken.TOPIC, **credentials
        )
        return run_suite(env, tmp_path, extra_env=RECORD)


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SuiteRun]:
    """The contract suite's transcript of each server in RECORDINGS, by name (run_suite has checked that none
    holds the AK, SK or token used)."""
    folders = {name: tmp_path_factory.mktemp("recording") for name, _, _ in RECORDINGS}
    with concurrent.futures.ThreadPoolExecutor(PARALLEL_RECORDINGS) as pool:
        futures = {
            name: pool.submit(_record, variant, folders[name], token=token) for name, variant, token in RECORDINGS
        }
        return {name: future.result() for name, future in futures.items()}


def test_the_emulator_replayed_against_itself_does_not_diverge(recordings: dict[str, SuiteRun]) -> None:
    """A transcript of the emulator, replayed against a fresh emulator (other ids, other timestamps), has no
    divergence, and the transcript exercised the query's assumptions."""
    run = recordings["emulator"]
    assert run.returncode == 0, run.output[-3000:]
    report = build_report(load(run.transcript), name="emulator")
    assert report.divergences == [], report.table()
    assert {"query-time-unit-ms", "query-key-matches-any-key", "query-unknown-topic-error"} <= set(report.confirmed)


def test_no_divergence_across_a_durable_restart(recordings: dict[str, SuiteRun]) -> None:
    """Replayed against a durable emulator restarted half-way (between the sends and their read-back), the
    answers are still those recorded: what was stored, ids, offsets and time ranges survive the restart."""
    transcript = load(recordings["emulator"].transcript)
    middle = next(i for i, e in enumerate(transcript.entries) if e.get("_phase") == "round trip")
    report = build_report(transcript, name="emulator", durable=True, restart_after=middle)
    assert report.divergences == [], report.table()


def test_two_recordings_differ_in_no_id_or_timestamp(recordings: dict[str, SuiteRun]) -> None:
    """Two recordings of the same seed, with other message ids, timestamps, offsets and request ids, show no
    difference on those fields; what does differ (each run's own key in KEYS) is learnt as volatile."""
    first, second = load(recordings["emulator"].transcript), load(recordings["emulator again"].transcript)
    first_answers = {e["response"]["content"]["text"] for e in first.entries}
    second_answers = {e["response"]["content"]["text"] for e in second.entries}
    assert first_answers != second_answers  # other ids and timestamps were recorded
    report = build_report(first, name="emulator", noise=second)
    assert report.divergences == [], report.table()
    assert report.volatile, "the run keys differ between the recordings, and were not noticed"
    assert all(field.endswith("property_list.KEYS") for field in report.volatile), report.volatile


@pytest.mark.parametrize(("variant", "token", "assumption"), PLANTED)
def test_a_planted_divergence_is_found_and_attributed(
    variant: broken.Variant,
    token: bool,
    assumption: str,
    recordings: dict[str, SuiteRun],
    request: pytest.FixtureRequest,
) -> None:
    """A recording of a server that makes one other choice, replayed against the emulator, diverges, and every
    divergence it shows is attributed to the assumption that choice contradicts, and to no other."""
    run = recordings[request.node.callspec.id]
    report = build_report(load(run.transcript), name=variant.__name__)
    assert report.divergences, f"{variant.__name__}: no divergence found\n{run.output[-2000:]}"
    assert report.exit_code == EXIT_DIVERGED
    assert set(report.contradicted) == {assumption}, report.table()
    assert assumption not in report.confirmed


def test_the_command_line_reports_in_json_and_exits_2(recordings: dict[str, SuiteRun]) -> None:
    """`dms-rocketmq-emulator drift FILE --format json`, as a user runs it: exit 2 for a divergence, and a JSON
    document naming the field, the kind and the assumption."""
    run = recordings["total-is-page"]
    completed = subprocess.run(
        [sys.executable, "-m", "dms_rocketmq_emulator", "drift", str(run.transcript), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 2, completed.stderr
    report = json.loads(completed.stdout)
    fields = {(d["field"], d["kind"], d["assumptions"][0]) for d in report["divergences"]}
    assert ("body:total", "value", "query-total-counts-all-matches") in fields
    assert report["new"] == len(report["divergences"])


def test_a_file_that_is_not_a_transcript_is_refused_clearly(tmp_path: pathlib.Path) -> None:
    """A file that is not a HAR 1.2 log gets exit 1 and one line naming the problem, never a traceback."""
    bad = tmp_path / "not.har"
    bad.write_text('{"log": {"version": "1.1"}}', encoding="utf-8")
    completed = subprocess.run(
        [sys.executable, "-m", "dms_rocketmq_emulator", "drift", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 1
    assert "not a HAR 1.2 log" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_a_transcript_whose_topic_the_emulator_refuses_is_refused_clearly(tmp_path: pathlib.Path) -> None:
    """A transcript naming a topic no emulator can have (a reserved name) gets exit 1 and one line saying so."""
    bad = tmp_path / "reserved.har"
    bad.write_text(json.dumps({"log": {"version": "1.2", "_target": {"topics": ["TBW102"]}, "entries": []}}))
    completed = subprocess.run(
        [sys.executable, "-m", "dms_rocketmq_emulator", "drift", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert "cannot start an emulator" in completed.stderr
    assert "Traceback" not in completed.stderr
