"""Writes docs/accessibility/conformance-report.md from the browser tests' results (build/a11y-results.json).

Each test marked `@pytest.mark.wcag(...)` records the criteria it checks and its outcome
(tests/desk/a11y_results.py). A criterion is "Supports" when every test of it passed, "Partially supports"
when some failed, "Does not support" when all failed. Criteria no test checks take the assessment written
below (with its reason), or "Not evaluated". A written assessment also caps what tests can claim, where a
test covers only part of a criterion. Kiosk rows (EN 301 549 closed functionality) come from results of
product "kiosk" when there are any (capped by the assessment below like the web rows), else from that
assessment.

    .venv/bin/python -m pytest tests/desk -m browser      # writes build/a11y-results.json
    .venv/bin/python tools/conformance_report.py          # writes docs/accessibility/conformance-report.md
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "build" / "a11y-results.json"
REPORT = REPO / "docs" / "accessibility" / "conformance-report.md"

SUPPORTS, PARTIAL, NOT_SUPPORTED, NOT_APPLICABLE, NOT_EVALUATED = (
    "Supports", "Partially supports", "Does not support", "Not applicable", "Not evaluated",
)  # fmt: skip
RANK = {SUPPORTS: 0, PARTIAL: 1, NOT_SUPPORTED: 2}

WCAG_21_AA = [
    ("1.1.1", "Non-text Content", "A"), ("1.2.1", "Audio-only and Video-only (Prerecorded)", "A"),
    ("1.2.2", "Captions (Prerecorded)", "A"), ("1.2.3", "Audio Description or Media Alternative (Prerecorded)", "A"),
    ("1.2.4", "Captions (Live)", "AA"), ("1.2.5", "Audio Description (Prerecorded)", "AA"),
    ("1.3.1", "Info and Relationships", "A"), ("1.3.2", "Meaningful Sequence", "A"),
    ("1.3.3", "Sensory Characteristics", "A"), ("1.3.4", "Orientation", "AA"),
    ("1.3.5", "Identify Input Purpose", "AA"), ("1.4.1", "Use of Color", "A"), ("1.4.2", "Audio Control", "A"),
    ("1.4.3", "Contrast (Minimum)", "AA"), ("1.4.4", "Resize Text", "AA"), ("1.4.5", "Images of Text", "AA"),
    ("1.4.10", "Reflow", "AA"), ("1.4.11", "Non-text Contrast", "AA"), ("1.4.12", "Text Spacing", "AA"),
    ("1.4.13", "Content on Hover or Focus", "AA"), ("2.1.1", "Keyboard", "A"), ("2.1.2", "No Keyboard Trap", "A"),
    ("2.1.4", "Character Key Shortcuts", "A"), ("2.2.1", "Timing Adjustable", "A"),
    ("2.2.2", "Pause, Stop, Hide", "A"), ("2.3.1", "Three Flashes or Below Threshold", "A"),
    ("2.4.1", "Bypass Blocks", "A"), ("2.4.2", "Page Titled", "A"), ("2.4.3", "Focus Order", "A"),
    ("2.4.4", "Link Purpose (In Context)", "A"), ("2.4.5", "Multiple Ways", "AA"),
    ("2.4.6", "Headings and Labels", "AA"), ("2.4.7", "Focus Visible", "AA"), ("2.5.1", "Pointer Gestures", "A"),
    ("2.5.2", "Pointer Cancellation", "A"), ("2.5.3", "Label in Name", "A"), ("2.5.4", "Motion Actuation", "A"),
    ("3.1.1", "Language of Page", "A"), ("3.1.2", "Language of Parts", "AA"), ("3.2.1", "On Focus", "A"),
    ("3.2.2", "On Input", "A"), ("3.2.3", "Consistent Navigation", "AA"),
    ("3.2.4", "Consistent Identification", "AA"), ("3.3.1", "Error Identification", "A"),
    ("3.3.2", "Labels or Instructions", "A"), ("3.3.3", "Error Suggestion", "AA"),
    ("3.3.4", "Error Prevention (Legal, Financial, Data)", "AA"), ("4.1.1", "Parsing", "A"),
    ("4.1.2", "Name, Role, Value", "A"), ("4.1.3", "Status Messages", "AA"),
    ("2.5.8", "Target Size (Minimum) — WCAG 2.2, tested as well", "AA"),
]  # fmt: skip

# Written assessments of the web pages: (level, reason). For a tested criterion the level is the most
# the tests can claim (they check only part of it).
WEB_ASSESSMENT: dict[str, tuple[str, str]] = {
    "1.2.1": (NOT_APPLICABLE, "no audio-only or video-only media on the pages"),
    "1.2.2": (NOT_APPLICABLE, "no prerecorded video"),
    "1.2.3": (NOT_APPLICABLE, "no prerecorded video"),
    "1.2.4": (NOT_APPLICABLE, "no live video or audio"),
    "1.2.5": (NOT_APPLICABLE, "no prerecorded video"),
    "1.4.2": (PARTIAL, "the board's chime lasts 1.5 s; the spoken call, in every site language, can pass 3 s and the "
                       "board has no on-screen stop (the lobby TV's volume is the control)"),
    "1.4.5": (SUPPORTS, "no images of text: every page is HTML text"),
    "1.4.11": (NOT_EVALUATED, "control edges are drawn at 4.6:1 (#6b7785 on white) but no test measures them"),
    "1.4.12": (NOT_EVALUATED, "no test applies the text-spacing overrides yet"),
    "1.4.13": (NOT_APPLICABLE, "no content appears on hover or focus"),
    "2.1.2": (NOT_EVALUATED, "the details dialog is a native <dialog> closed with Esc or Close; not tested by key"),
    "2.1.4": (NOT_APPLICABLE, "no single-character key shortcuts"),
    "2.2.1": (PARTIAL, "the staff session ends after the site's [desk] session_idle_minutes (1-720, a security "
                       "control) without a warning to extend it first"),
    "2.2.2": (PARTIAL, "the board changes language every 8 s with no pause control (a display without input); "
                       "the live queue's updates are its purpose"),
    "2.3.1": (SUPPORTS, "the only flash is the new ticket's colour, once a second for 3 s"),
    "2.4.1": (SUPPORTS, "pages use header / main / aside landmarks; no skip link"),
    "2.4.5": (NOT_APPLICABLE, "each page is reached by one step of a process (sign-in, dashboard, audit)"),
    "2.4.6": (NOT_EVALUATED, "headings and labels exist; not reviewed by a person"),
    "2.5.1": (SUPPORTS, "no path-based or multipoint gestures"),
    "2.5.2": (SUPPORTS, "every action is a native button, activated on release"),
    "2.5.3": (NOT_EVALUATED, "accessible names start with the visible text; not tested"),
    "2.5.4": (NOT_APPLICABLE, "no motion actuation"),
    "3.2.1": (NOT_EVALUATED, "focus starts nothing by itself; not tested"),
    "3.2.3": (NOT_EVALUATED, "the dashboard and the audit page share the header; not tested"),
    "3.2.4": (NOT_EVALUATED, "not tested"),
    "3.3.3": (NOT_APPLICABLE, "the only error is a refused sign-in, which must not say which field was wrong"),
    "3.3.4": (NOT_EVALUATED, "no legal or financial commitments; each arrival action can be undone (Undo)"),
    "4.1.1": (SUPPORTS, "obsolete in WCAG 2.2; axe-core's parsing checks pass"),
}

# EN 301 549 (V3.2.1) clauses of the kiosk's closed functionality: (clause, title, today's level, reason).
KIOSK_CLAUSES = [
    ("5.1.3.1", "Non-visual access: speech output", SUPPORTS,
     "Read aloud and the keypad's speech mode say each screen's title, content, the focused control and a "
     "field's value as meant (a date as a date, not its mask), never the on-screen keys, in the patient's "
     "language; private listening on headphones (tests/kiosk/test_keypad_window.py)"),
    ("5.1.3.14", "Spoken languages", PARTIAL,
     "speech follows the patient's language with an espeak-ng voice for each kiosk language (tests/kiosk/"
     "test_speech.py); Tagalog has no voice of its own and is read with a stated stand-in"),
    ("5.1.4", "Functionality closed to text enlargement", PARTIAL,
     "Large text (x1.35) is a choice of its own, apart from high contrast, on every screen; the type scale is "
     "in physical mm of the configured panel (tests/kiosk/test_window.py, test_ergonomics.py); the viewing "
     "distance the clause assumes is not measured"),
    ("5.1.6.1", "Operation without keyboard interface: closed functionality", SUPPORTS,
     "an EZ-Access style keypad (up / down / select / back / help, digits for dates) operates every screen "
     "with speech; a check-in from welcome to ticket with no touch (tests/kiosk/test_keypad_window.py)"),
    ("8.4.1", "Numeric keys (tactile)", NOT_EVALUATED,
     "the keypad's digit keys type the birth date; the tactile mark on 5 is the keypad hardware's, not checked"),
    ("8.4.3", "Keys, tickets and fare cards: tactile orientation", NOT_SUPPORTED,
     "the printed ticket and the card slot have no tactile orientation mark"),
    ("8.3.3.1", "Reach: forward reach 380-1,220 mm", PARTIAL,
     "every control of every screen, both orientations and themes, lies 380-1,220 mm above the floor at the "
     "configured mounting ([kiosk] panel geometry; tests/kiosk/test_ergonomics.py); the real mounting height "
     "is the installer's and is not checked"),
]


@dataclass
class Row:
    criterion: str
    title: str
    level: str
    conformance: str
    remarks: str
    tests: list[str]


def tested_level(outcomes: list[str]) -> str | None:
    decided = [o for o in outcomes if o in ("passed", "failed")]
    if not decided:
        return None
    if all(o == "passed" for o in decided):
        return SUPPORTS
    return NOT_SUPPORTED if all(o == "failed" for o in decided) else PARTIAL


def tests_by_criterion(results: dict, product: str) -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = {}
    for nodeid, entry in sorted(results.get("tests", {}).items()):
        if entry.get("product", "web") == product:
            for criterion in entry["criteria"]:
                found.setdefault(criterion, []).append((nodeid, entry["outcome"]))
    return found


def decide(tests: list[tuple[str, str]], assessment: tuple[str, str] | None) -> tuple[str, str]:
    from_tests = tested_level([outcome for _nodeid, outcome in tests])
    if from_tests is None:
        return assessment or (NOT_EVALUATED, "no test checks it yet")
    failed = [nodeid.rsplit("::", 1)[-1] for nodeid, outcome in tests if outcome == "failed"]
    remark = f"failing: {', '.join(failed)}" if failed else "automated checks pass"
    if assessment and assessment[0] in RANK and RANK[assessment[0]] > RANK[from_tests]:
        return assessment[0], f"{remark}; {assessment[1]}"
    return from_tests, remark + (f"; {assessment[1]}" if assessment else "")


def web_rows(results: dict) -> list[Row]:
    found = tests_by_criterion(results, "web")
    rows = []
    for criterion, title, level in WCAG_21_AA:
        tests = found.get(criterion, [])
        conformance, remarks = decide(tests, WEB_ASSESSMENT.get(criterion))
        rows.append(Row(criterion, title, level, conformance, remarks, [nodeid for nodeid, _ in tests]))
    return rows


def kiosk_rows(results: dict) -> list[Row]:
    found = tests_by_criterion(results, "kiosk")
    rows = []
    for clause, title, today, reason in KIOSK_CLAUSES:
        tests = found.get(clause, [])
        # Tests decide, capped by the written assessment where they cover only part of the clause.
        conformance, remarks = decide(tests, (today, reason)) if tests else (today, f"{reason} (assessment, not a test)")
        rows.append(Row(clause, title, "EN 301 549", conformance, remarks, [nodeid for nodeid, _ in tests]))
    return rows


def table(rows: list[Row], first: str) -> list[str]:
    lines = [f"| {first} | Level | Conformance | Remarks | Shown by |", "| --- | --- | --- | --- | --- |"]
    for row in rows:
        shown = "<br>".join(f"`{nodeid}`" for nodeid in row.tests) or "—"
        lines.append(f"| {row.criterion} {row.title} | {row.level} | {row.conformance} | {row.remarks} | {shown} |")
    return lines


def summary(rows: list[Row]) -> str:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.conformance] = counts.get(row.conformance, 0) + 1
    return ", ".join(f"{level}: {counts[level]}" for level in
                     (SUPPORTS, PARTIAL, NOT_SUPPORTED, NOT_APPLICABLE, NOT_EVALUATED) if level in counts)  # fmt: skip


def render(results: dict) -> str:
    web, kiosk = web_rows(results), kiosk_rows(results)
    dates = sorted(entry["at"] for entry in results.get("tests", {}).values())
    when = f"{dates[0][:10]} to {dates[-1][:10]}" if dates else "no test results"
    lines = [
        "# Accessibility conformance report",
        "",
        "Generated by `tools/conformance_report.py` from `build/a11y-results.json` (test run(s) of "
        f"{when}); do not edit by hand.",
        "",
        "**Web pages** (staff sign-in, front-desk dashboard, details dialog, sync and dead-letter panels, admin "
        "view, audit page, lobby board at 1920x1080 and 1080x1920): WCAG 2.1 level A and AA, checked in headless "
        "Chromium against a real agent with axe-core 4 (rules tagged wcag2a, wcag2aa, wcag21a, wcag21aa; no "
        "serious or critical violation, and no contrast axe could not decide), real key presses, control sizes "
        "and reflow at 320 CSS px. Automated checks cover part of each criterion; \"Supports\" means every test "
        "of it passed, not that a person has reviewed it.",
        "",
        f"Summary: {summary(web)}.",
        "",
        *table(web, "WCAG 2.1 success criterion"),
        "",
        "**Kiosk** (closed functionality, EN 301 549 clauses 5 and 8): filled from kiosk tests recorded in the "
        "same results file when they exist, capped by the written assessment where a test covers only part "
        "of a clause; without tests, the current app's state, assessed from its code.",
        "",
        f"Summary: {summary(kiosk)}.",
        "",
        *table(kiosk, "EN 301 549 clause"),
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--out", type=Path, default=REPORT)
    args = parser.parse_args()
    results = json.loads(args.results.read_text(encoding="utf-8")) if args.results.exists() else {"tests": {}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(results), encoding="utf-8")
    print(f"wrote {args.out}: web {summary(web_rows(results))}; kiosk {summary(kiosk_rows(results))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
