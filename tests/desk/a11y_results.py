"""Records which WCAG success criteria (or EN 301 549 clauses) each test checks and how it ended, into
build/a11y-results.json, for tools/conformance_report.py.

Mark a test `@pytest.mark.wcag("1.4.3", "4.1.2")` (web pages) or
`@pytest.mark.wcag("5.1.3.1", product="kiosk")`; import the two hooks below into the conftest of the
tests that use the marker. Each run updates the entries of the tests it ran and keeps the others,
so the desk, fleet and kiosk suites fill one file.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RESULTS = Path(os.environ.get("A11Y_RESULTS", REPO / "build" / "a11y-results.json"))
_KEY = pytest.StashKey[dict]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "wcag(*criteria, product='web'): the WCAG success criteria / EN 301 549 clauses a test checks"
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = (yield).get_result()
    marker = item.get_closest_marker("wcag")
    if marker is None:
        return
    results = item.config.stash.setdefault(_KEY, {})
    entry = results.setdefault(item.nodeid, {
        "criteria": list(marker.args), "product": marker.kwargs.get("product", "web"),
        "doc": (item.function.__doc__ or "").strip().splitlines()[0] if getattr(item, "function", None) and item.function.__doc__ else "",
        "outcome": "passed",
    })  # fmt: skip
    if report.failed:
        entry["outcome"] = "failed"
    elif report.skipped and entry["outcome"] != "failed":
        entry["outcome"] = "skipped"


def pytest_sessionfinish(session: pytest.Session) -> None:
    results = session.config.stash.get(_KEY, {})
    if not results:
        return
    stored = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {"tests": {}}
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    for nodeid, entry in results.items():
        stored["tests"][nodeid] = {**entry, "at": now}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(stored, indent=2, sort_keys=True) + "\n", encoding="utf-8")
