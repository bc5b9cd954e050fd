"""Static validation: syntax, the service's preflight and references, in one pass over the files."""

from __future__ import annotations

from collections.abc import Mapping

from core.hcl.config import Finding, load_configuration
from core.hcl.preflight import PreflightPolicy, preflight
from core.hcl.references import check_references


def refused_findings(files: Mapping[str, str], policy: PreflightPolicy | None = None) -> list[Finding]:
    """What stops a job before it starts: syntax errors and refused constructs."""
    configuration = load_configuration(files)
    return configuration.syntax_errors + preflight(configuration, policy)


def static_findings(files: Mapping[str, str], policy: PreflightPolicy | None = None) -> list[Finding]:
    """Everything the static checks find, references included (those terraform validate would also find)."""
    configuration = load_configuration(files)
    if configuration.syntax_errors:
        # References cannot be judged in files that did not parse; report what did.
        return configuration.syntax_errors + preflight(configuration, policy)
    return preflight(configuration, policy) + check_references(configuration)
