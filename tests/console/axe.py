"""axe-core (vendored: `vendor/axe.min.js`, MPL-2.0, from `npm pack axe-core`) run in the
page under test: WCAG 2.x A and AA rules and axe's best practices."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import Page

AXE_SOURCE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text(encoding="utf-8")
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    # Evaluated through the DevTools protocol, so the page's CSP (scripts from 'self'
    # only) stays on while axe runs.
    if not await page.evaluate("() => typeof window.axe !== 'undefined'"):
        await page.evaluate(AXE_SOURCE)
    violations: list[dict[str, Any]] = await page.evaluate(
        """async (tags) => (await axe.run(document, {
               runOnly: {type: 'tag', values: tags}, resultTypes: ['violations'],
           })).violations.map(v => ({
               id: v.id, impact: v.impact, help: v.help,
               nodes: v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary),
           }))""",
        TAGS,
    )
    return violations


async def assert_no_axe_violations(page: Page) -> None:
    """Fail with every violation axe finds on the page as it is now, each with its nodes."""
    violations = await axe_violations(page)
    report = "\n".join(
        f"- {v['id']} ({v['impact']}): {v['help']}\n    " + "\n    ".join(v["nodes"])
        for v in violations
    )
    assert not violations, f"axe found on {page.url}:\n{report}"
