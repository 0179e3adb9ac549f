"""Accessibility checks for pages in Playwright: axe-core (WCAG 2.0/2.1 A + AA rules), control sizes,
reflow at 320 CSS px and the visible focus indicator. Shared by every browser test of a web page.

axe-core comes from npm (scripts/setup.sh installs it into .venv/node). The pages' Content-Security-Policy
forbids inline scripts, so open the page's context with `bypass_csp=True` before `axe_violations`.
"""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
AXE_SCRIPT = REPO / ".venv" / "node" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_AA_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING_IMPACTS = {"serious", "critical"}
MIN_TARGET_PX = 24  # WCAG 2.5.8 Target Size (Minimum)
REFLOW_WIDTH_PX = 320  # WCAG 1.4.10 Reflow
UNDECIDED_COUNTS = {"color-contrast"}
CONTROLS = "button, input:not([type=hidden]), select, textarea, a[href], [tabindex]:not([tabindex='-1'])"


def axe_violations(page, impacts: set[str] = BLOCKING_IMPACTS) -> list[dict]:
    """axe-core's violations of the page as it is now, of the given impacts. A contrast axe could not
    decide ("incomplete", e.g. overlapping boxes) counts too: a page must be checkable, not just unflagged."""
    assert AXE_SCRIPT.exists(), f"{AXE_SCRIPT} missing: run scripts/setup.sh"
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE_SCRIPT))
    results = page.evaluate(
        """async (tags) => { const r = await axe.run(document, {runOnly: {type: 'tag', values: tags},
            resultTypes: ['violations', 'incomplete']});
            return [...r.violations, ...r.incomplete.filter((i) => UNDECIDED.includes(i.id))
                    .map((i) => ({...i, id: `${i.id} (undecided)`}))]; }""".replace(
            "UNDECIDED", json.dumps(sorted(UNDECIDED_COUNTS))
        ),
        WCAG_AA_TAGS,
    )
    return [violation for violation in results if violation["impact"] in impacts]


def describe(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']} — {violation['helpUrl']}")
        for node in violation["nodes"][:10]:
            summary = node.get("failureSummary") or "; ".join(check["message"] for check in node.get("any", []))
            lines.append(f"    {json.dumps(node['target'])}: {summary.replace(chr(10), ' ')}")
    return "\n".join(lines)


def assert_no_serious_violations(page, what: str) -> None:
    violations = axe_violations(page)
    assert not violations, f"axe-core on {what}:\n{describe(violations)}"


def small_targets(page, minimum: int = MIN_TARGET_PX) -> list[dict]:
    """Visible controls whose box is smaller than minimum x minimum CSS px."""
    return page.evaluate(
        """([selector, minimum]) => [...document.querySelectorAll(selector)]
            .filter((el) => el.getClientRects().length && getComputedStyle(el).visibility !== 'hidden')
            .map((el) => ({ el, box: el.getBoundingClientRect() }))
            .filter(({ box }) => box.width < minimum || box.height < minimum)
            .map(({ el, box }) => ({ control: el.outerHTML.slice(0, 120), width: box.width, height: box.height }))""",
        [CONTROLS, minimum],
    )


def control_count(page) -> int:
    return page.evaluate(
        "(selector) => [...document.querySelectorAll(selector)].filter((el) => el.getClientRects().length).length",
        CONTROLS,
    )


def horizontal_overflow(page, except_inside: str | None = None) -> dict:
    """The page's scroll width, and elements wider than the viewport (not counting those inside
    `except_inside`, a region allowed to scroll by itself)."""
    return page.evaluate(
        """(except) => {
            const width = document.documentElement.clientWidth;
            const wide = [...document.body.querySelectorAll('*')]
                .filter((el) => el.getClientRects().length && el.getBoundingClientRect().right > width + 0.5)
                .filter((el) => !(except && el.closest(except)))
                .map((el) => el.outerHTML.slice(0, 100));
            return { scrollWidth: document.documentElement.scrollWidth, width, wide: wide.slice(0, 10) };
        }""",
        except_inside,
    )


def focus_indicator(page) -> dict:
    """How the focused element is drawn: its outline (width, style, colour) and box shadow."""
    return page.evaluate(
        """() => {
            const el = document.activeElement;
            const style = getComputedStyle(el);
            return { tag: el.tagName, outlineStyle: style.outlineStyle, outlineWidth: parseFloat(style.outlineWidth),
                     outlineColor: style.outlineColor, boxShadow: style.boxShadow };
        }"""
    )
