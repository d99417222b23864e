"""The README stays true: its landing contract is the code's, and every setting is documented."""

from __future__ import annotations

import re
from pathlib import Path

from orchestration.contract import docs as contract_docs
from orchestration.lib import settings

README = (Path(__file__).parents[1] / "README.md").read_text()


def test_landing_contract_section_matches_the_contract() -> None:
    start = README.index(contract_docs.BEGIN)
    end = README.index(contract_docs.END) + len(contract_docs.END)
    assert README[start:end] == contract_docs.render(), "run: python -m orchestration.contract.docs --write README.md"


def test_every_environment_variable_is_documented() -> None:
    root = Path(settings.REPO_ROOT)
    code = "".join(p.read_text() for folder in ("ingest", "orchestration") for p in (root / folder).rglob("*.py"))
    dbt = root / "dbt_project"
    dbt_files = [dbt / "profiles.yml", dbt / "dbt_project.yml"]
    dbt_files += [p for folder in ("models", "macros") for p in (dbt / folder).rglob("*.sql")]
    code += "".join(p.read_text() for p in dbt_files)
    used = set(settings.DEFAULTS) | set(re.findall(r"env_var\('([A-Z_]+)'", code))
    used |= set(re.findall(r"EnvVar\(\"([A-Z_]+)\"\)", code))
    section = README[README.index("## Configuration") :]
    section = section[: section.index("\n## ", 1)]
    documented = set(re.findall(r"`([A-Z][A-Z_]+)`", section))
    assert used - documented == set()
