"""The documentation stays true: the landing contract is the code's, every setting is documented, every
link resolves inside the repo, and the README stays short."""

from __future__ import annotations

import re
from pathlib import Path

from orchestration.contract import docs as contract_docs
from orchestration.lib import settings

ROOT = Path(__file__).parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
LINK = re.compile(r"\]\(([^)#\s]+)(#[^)]*)?\)")


def _documents() -> list[Path]:
    others = [p for p in ROOT.glob("*/**/README.md") if not {".venv", "data", "target"} & set(p.parts)]
    return [README, *sorted(DOCS.glob("*.md")), *sorted(others)]


def test_landing_contract_document_matches_the_contract() -> None:
    text = (DOCS / "landing-contract.md").read_text()
    start = text.index(contract_docs.BEGIN)
    end = text.index(contract_docs.END) + len(contract_docs.END)
    assert text[start:end] == contract_docs.render(), "run: python -m orchestration.contract.docs --write"


def test_every_environment_variable_is_documented() -> None:
    code = "".join(p.read_text() for p in (ROOT / "orchestration").rglob("*.py"))
    dbt = ROOT / "dbt_project"
    dbt_files = [dbt / "profiles.yml", dbt / "dbt_project.yml"]
    dbt_files += [p for folder in ("models", "macros") for p in (dbt / folder).rglob("*.sql")]
    code += "".join(p.read_text() for p in dbt_files)
    used = set(settings.DEFAULTS) | set(re.findall(r"env_var\('([A-Z_]+)'", code))
    used |= set(re.findall(r"EnvVar\(\"([A-Z_]+)\"\)", code))
    used |= {name for name, _ in settings.API_TUNING.values()}
    documented = set(re.findall(r"`([A-Z][A-Z_]+)`", (DOCS / "configuration.md").read_text()))
    assert used - documented == set()


def test_every_link_resolves_inside_the_repo() -> None:
    broken = []
    for document in _documents():
        for target, _ in LINK.findall(document.read_text()):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            path = (document.parent / target).resolve()
            if not path.exists() or ROOT.resolve() not in path.parents:
                broken.append(f"{document.relative_to(ROOT)}: {target}")
    assert broken == []


def test_nothing_points_outside_the_repo() -> None:
    """What the project needs from notes kept elsewhere, it states itself."""
    outside = re.compile(r"\.\./shared|DOMAIN\.md|CONVENTIONS\.md")
    dbt = [p for p in (ROOT / "dbt_project").rglob("*.yml") if "target" not in p.parts and p.is_file()]
    files = [*_documents(), *dbt, *(ROOT / "orchestration").rglob("*.py")]
    assert [str(f.relative_to(ROOT)) for f in files if outside.search(f.read_text())] == []


def test_the_readme_is_short_and_indexes_every_document() -> None:
    text = README.read_text()
    assert len(text.splitlines()) < 300
    assert "make demo" in text and "make test" in text
    index = (DOCS / "README.md").read_text()
    for document in sorted(DOCS.glob("*.md")):
        if document.name != "README.md":
            assert f"({document.name})" in index, f"docs/README.md does not list {document.name}"
