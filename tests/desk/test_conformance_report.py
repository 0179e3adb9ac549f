"""tools/conformance_report.py: levels follow the recorded outcomes, written assessments cap them, and kiosk
results replace the kiosk's written assessment."""

from __future__ import annotations

import json
import subprocess
import sys

from tools import conformance_report as report

from .conftest import REPO


def results(*entries: tuple[str, list[str], str, str]) -> dict:
    return {"tests": {nodeid: {"criteria": criteria, "outcome": outcome, "product": product, "at": "2026-01-02T03:04:05+00:00"}
                      for nodeid, criteria, outcome, product in entries}}  # fmt: skip


def row(rows, criterion):
    return next(r for r in rows if r.criterion == criterion)


def test_levels_follow_the_outcomes_of_the_tests_of_each_criterion():
    rows = report.web_rows(results(
        ("t.py::a", ["1.4.3", "2.4.7"], "passed", "web"),
        ("t.py::b", ["2.4.7"], "failed", "web"),
        ("t.py::c", ["1.4.10"], "failed", "web"),
        ("t.py::d", ["4.1.3"], "skipped", "web"),
        ("k.py::e", ["1.4.4"], "passed", "kiosk"),
    ))  # fmt: skip
    assert row(rows, "1.4.3").conformance == report.SUPPORTS and row(rows, "1.4.3").tests == ["t.py::a"]
    assert row(rows, "2.4.7").conformance == report.PARTIAL and "b" in row(rows, "2.4.7").remarks
    assert row(rows, "1.4.10").conformance == report.NOT_SUPPORTED
    assert row(rows, "4.1.3").conformance == report.NOT_EVALUATED  # a skipped test shows nothing
    assert row(rows, "1.4.4").conformance == report.NOT_EVALUATED  # a kiosk test says nothing of the web pages
    assert row(rows, "1.2.2").conformance == report.NOT_APPLICABLE
    assert len(rows) == 51  # WCAG 2.1 A + AA (50) and 2.5.8 from 2.2


def test_a_written_assessment_caps_what_passing_tests_claim():
    rows = report.web_rows(results(("t.py::a", ["2.2.1"], "passed", "web")))
    assert row(rows, "2.2.1").conformance == report.PARTIAL
    assert "session_idle_minutes" in row(rows, "2.2.1").remarks


def test_kiosk_rows_come_from_kiosk_results_when_there_are_any():
    today = report.kiosk_rows(results())
    assert row(today, "8.4.3").conformance == report.NOT_SUPPORTED
    assert "assessment, not a test" in row(today, "8.4.3").remarks
    tested = report.kiosk_rows(results(("tests/kiosk/t.py::keys", ["5.1.6.1"], "passed", "kiosk"),
                                       ("tests/kiosk/t.py::ticket_mark", ["8.4.3"], "passed", "kiosk")))  # fmt: skip
    assert row(tested, "5.1.6.1").conformance == report.SUPPORTS
    assert row(tested, "5.1.6.1").tests == ["tests/kiosk/t.py::keys"]
    assert row(tested, "8.4.3").conformance == report.NOT_SUPPORTED  # a passing test does not lift the assessment
    voices = report.kiosk_rows(results(("tests/kiosk/t.py::voices", ["5.1.3.14"], "passed", "kiosk")))
    assert row(voices, "5.1.3.14").conformance == report.PARTIAL and "Tagalog" in row(voices, "5.1.3.14").remarks


def test_the_command_writes_the_markdown_report(tmp_path):
    source = tmp_path / "results.json"
    source.write_text(json.dumps(results(("t.py::a", ["1.4.3"], "passed", "web"))))
    out = tmp_path / "report.md"
    done = subprocess.run([sys.executable, "tools/conformance_report.py", "--results", str(source), "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert "| 1.4.3 Contrast (Minimum) | AA | Supports | automated checks pass | `t.py::a` |" in text
    assert "| 5.1.3.1 Non-visual access: speech output | EN 301 549 | Supports |" in text
