"""Every relative link in the README and under docs/ opens something: the file exists, and an
`#anchor` names a heading of it (as GitHub makes anchors of headings). The product's
specification is in the repository, and its licence matches the one pyproject.toml names."""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from pathlib import Path

from cli import ROOT

LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")
FENCE = re.compile(r"^(```|~~~)")


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def prose_lines(path: Path) -> list[str]:
    """The lines outside code blocks (a link in a code block is code)."""
    lines, fenced = [], False
    for line in path.read_text().splitlines():
        if FENCE.match(line.strip()):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def anchors(path: Path) -> set[str]:
    """GitHub's anchors: headings lowercased, punctuation dropped, spaces to hyphens, a
    repeated one numbered."""
    seen: Counter[str] = Counter()
    found = set()
    for line in prose_lines(path):
        if match := HEADING.match(line):
            text = re.sub(r"`|\*\*?|_(?=\w)|(?<=\w)_", "", match.group(1))
            slug = re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")
            found.add(slug if not seen[slug] else f"{slug}-{seen[slug]}")
            seen[slug] += 1
    return found


def broken_links(path: Path) -> list[str]:
    broken = []
    for line in prose_lines(path):
        for target in LINK.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                continue
            file_part, _, anchor = target.partition("#")
            linked = (path.parent / file_part).resolve() if file_part else path
            if not linked.exists():
                broken.append(f"{target}: no such file")
            elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
                broken.append(f"{target}: no heading #{anchor} in {linked.name}")
    return broken


def test_every_relative_link_in_the_readme_and_docs_resolves() -> None:
    broken = {
        str(path.relative_to(ROOT)): links for path in documents() if (links := broken_links(path))
    }
    assert not broken, broken


def test_the_links_are_checked_for_real() -> None:
    """The checker finds what it must (so the test above can fail)."""
    assert "walk-through" in anchors(ROOT / "README.md")
    assert "integrations-real-carriers-and-payments-easypost-stripe" in anchors(ROOT / "README.md")
    assert "5-service-plan-subscription" in anchors(ROOT / "docs/spec/lifecycles.md")
    readme_links = [t for line in prose_lines(ROOT / "README.md") for t in LINK.findall(line)]
    assert "docs/spec/lifecycles.md#1-rma-return-merchandise-authorization" in readme_links


def test_the_specification_is_in_the_repository() -> None:
    for name in ("api.md", "lifecycles.md", "architecture.md"):
        text = (ROOT / "docs/spec" / name).read_text()
        assert "second wave" not in text.lower(), name  # written for readers, not the plan


def test_the_licence_matches_pyproject() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]
    name = declared["text"] if isinstance(declared, dict) else declared
    assert name == "Apache-2.0"
    licence = (ROOT / "LICENSE").read_text()
    assert "Apache License" in licence and "Version 2.0, January 2004" in licence
    assert "END OF TERMS AND CONDITIONS" in licence
