"""The docs the code points to exist: a README section, an architecture section, a file under docs/."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README_SECTION = re.compile(r"README « ([^»]+?) »")
ARCHITECTURE_SECTION = re.compile(r"architecture(?:\.md)? §(\d+)")
DOCS_FILE = re.compile(r"\bdocs/([\w-]+\.md)\b")
OUTSIDE = re.compile(r"\bSPEC §|\bissue \d+|\bthe (?:product )?brief\b", re.IGNORECASE)


def _tracked(*patterns: str) -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", *patterns],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    return [ROOT / name for name in listed if (ROOT / name).is_file() and not name.startswith("migrations/")]


def _headings(path: Path) -> list[str]:
    return [line.lstrip("#").strip() for line in path.read_text().splitlines() if line.startswith("#")]


def _sources() -> list[Path]:
    return _tracked("*.py", "*.html", "*.md", "*.js", "*.css", "Makefile", "*.toml", ".ci/*")


def test_every_section_the_code_names_exists():
    readme = _headings(ROOT / "README.md")
    architecture = {match for heading in _headings(ROOT / "docs" / "architecture.md")
                    for match in re.findall(r"^§(\d+)", heading)}
    missing = []
    for path in _sources():
        if path.name == "test_docs.py":
            continue
        text = path.read_text(errors="replace")
        where = path.relative_to(ROOT)
        missing += [f"{where}: README « {name} »" for name in README_SECTION.findall(text)
                    if not any(name in heading for heading in readme)]
        missing += [f"{where}: architecture §{number}" for number in ARCHITECTURE_SECTION.findall(text)
                    if number not in architecture]
        missing += [f"{where}: docs/{name}" for name in DOCS_FILE.findall(text) if not (ROOT / "docs" / name).exists()]
    assert missing == []


def test_nothing_cites_what_is_not_in_the_repository():
    """Code and docs explain themselves: no « SPEC § », issue number or brief from outside the repository."""
    citations = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
                 for path in _sources() if path.name != "test_docs.py"
                 for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
                 if OUTSIDE.search(line)]
    assert citations == []


CITED_PATH = re.compile(
    r"`((?:app|config)\.py|(?:core|models|blueprints|templates|static|tests|migrations|devtools|bench|deploy|docs)"
    r"(?:/[\w.-]+)+\.(?:py|html|md|css|js|toml|conf|xsd|txt))`"
)


def test_every_file_the_docs_name_exists():
    """A path in backquotes in the README or docs/ is a file of the repository (docs moved with the code)."""
    missing = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for cited in sorted(set(CITED_PATH.findall(doc.read_text()))):
            if not (ROOT / cited).is_file():
                missing.append(f"{doc.relative_to(ROOT)}: {cited}")
    assert not missing, "\n".join(missing)
