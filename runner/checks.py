"""Checks of terraform's own view of the configuration, where preflight (a Python re-parse) could be
fooled: the modules ``init`` installed, and the saved plan's decoded configuration before apply.

Preflight refuses early with a file and line; these refuse what it missed, in terms terraform
itself reports, before anything is applied.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

AWS_PROVIDER = "registry.terraform.io/hashicorp/aws"
# Registry module addresses: NAMESPACE/NAME/PROVIDER, optionally behind a registry host.
_REGISTRY_SOURCE = re.compile(
    r"^(?:[a-z0-9][a-z0-9.-]*\.[a-z]{2,}(?::\d+)?/)?[A-Za-z0-9][A-Za-z0-9_-]{0,63}/"
    r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}/[A-Za-z0-9]{1,64}(?://[A-Za-z0-9_./-]+)?$"
)


def installed_module_problems(workdir: Path) -> list[str]:
    """Every module ``init`` installed must come from the workspace itself or a module registry."""
    manifest = workdir / ".terraform" / "modules" / "modules.json"
    if not manifest.is_file():
        return []
    try:
        modules = json.loads(manifest.read_text()).get("Modules") or []
    except ValueError:
        return ["terraform's module manifest cannot be read"]
    problems: list[str] = []
    for module in modules:
        key, source, directory = (str(module.get(k) or "") for k in ("Key", "Source", "Dir"))
        if not key:
            continue  # the root module
        normalised = posixpath.normpath(directory) if directory else "."
        if posixpath.isabs(normalised) or normalised == ".." or normalised.startswith("../"):
            problems.append(f'module "{key}" resolves to {directory}, outside the workspace')
        elif source.startswith(("./", "../")):
            continue
        elif "::" in source or "://" in source or not _REGISTRY_SOURCE.fullmatch(source):
            problems.append(
                f'module "{key}" comes from {source!r}: only local paths inside the workspace and '
                "module registries are allowed"
            )
    return problems


def _modules(module: Mapping[str, Any], address: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    yield address, module
    for name, call in (module.get("module_calls") or {}).items():
        child = call.get("module") if isinstance(call, Mapping) else None
        if isinstance(child, Mapping):
            yield from _modules(child, f"{address}module.{name}.")


def plan_configuration_problems(
    plan: Mapping[str, Any],
    written_provider_keys: set[str],
    allow_exec: bool,
    is_ours: Any,
    aws_local_names: frozenset[str] = frozenset({"aws"}),
) -> list[str]:
    """What the saved plan's configuration holds that the job may not apply.

    ``is_ours(expressions)`` says whether an AWS provider configuration carries the settings the
    runner wrote (its endpoints or profile).
    """
    configuration = plan.get("configuration") or {}
    modules = list(_modules(configuration.get("root_module") or {}))
    # Terraform before 1.1 writes no full_name: there a configuration is AWS if its local name is
    # one of hashicorp/aws, or if an aws_* resource or data source uses it.
    used_by_aws = {
        str(resource.get("provider_config_key"))
        for _prefix, module in modules
        for resource in module.get("resources") or []
        if str(resource.get("type", "")).startswith("aws_")
    }
    problems: list[str] = []
    for key, provider in (configuration.get("provider_config") or {}).items():
        if not isinstance(provider, Mapping):
            continue
        full_name = str(provider.get("full_name") or "")
        if not full_name and (provider.get("name") in aws_local_names or key in used_by_aws):
            full_name = AWS_PROVIDER
        if provider.get("module_address"):
            problems.append(
                f"provider configuration {key} is inside {provider['module_address']}: configure "
                "providers in the root module and pass them to modules"
            )
        elif full_name.lower() == AWS_PROVIDER and (
            key not in written_provider_keys or not is_ours(provider.get("expressions") or {})
        ):
            problems.append(f"AWS provider configuration {key} is not one the service configured")
    for prefix, module in modules:
        for resource in module.get("resources") or []:
            address = prefix + str(resource.get("address", "?"))
            if resource.get("mode") == "data" and resource.get("type") == "terraform_remote_state":
                problems.append(f"{address} reads another state: only the project's own state is used")
            if not allow_exec:
                for provisioner in resource.get("provisioners") or []:
                    problems.append(
                        f'the "{provisioner.get("type")}" provisioner of {address} '
                        "is not allowed on this install"
                    )
    return problems
