"""The folders by role import only downward: no import runs back up, and the core holds no AWS
client and no HTTP."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# What each top-level package may import of ours (itself always).
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "cost": {"core"},
    "policy": {"core"},
    "functions": {"core", "cost", "policy"},
    "runner": {"core"},
    "tooling": {"core", "cost"},
    "provisioner": {"core", "cost"},
    "localmode": {"core", "cost", "functions", "policy", "tooling"},
    "cdk": {"core", "functions"},
}
OURS = {*ALLOWED, "tests", "benchmarks"}
# The core is imported by every role, the client's included: no AWS SDK, no HTTP.
CORE_FORBIDDEN = {
    "boto3",
    "botocore",
    "httpx",
    "urllib.request",
    "http.client",
    "aws_lambda_powertools",
    "moto",
}


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_package_imports_only_what_lies_below_it(package: str) -> None:
    wrong: list[str] = []
    for path in sorted((REPO / package).rglob("*.py")):
        for name in imports(path):
            top = name.split(".")[0]
            if top in OURS and top != package and top not in ALLOWED[package]:
                wrong.append(f"{path.relative_to(REPO)} imports {name}")
    assert wrong == []


def test_the_core_has_no_aws_client_and_no_http() -> None:
    wrong = [
        f"{path.relative_to(REPO)} imports {name}"
        for path in sorted((REPO / "core").rglob("*.py"))
        for name in imports(path)
        if any(name == f or name.startswith(f + ".") for f in CORE_FORBIDDEN)
    ]
    assert wrong == []


def test_the_installable_client_is_the_client_and_what_it_uses() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == [
        "provisioner",
        "core",
        "cost",
    ]
    dependencies = " ".join(project["project"]["dependencies"])
    assert "powertools" not in dependencies and "boto3" not in dependencies
    # the core's own group is part of what the client installs
    names = {d.split(">")[0].split("<")[0].split("=")[0] for d in project["project"]["dependencies"]}
    assert {d.split(">")[0].split("<")[0] for d in project["dependency-groups"]["core"]} <= names
