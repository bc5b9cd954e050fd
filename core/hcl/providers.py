"""Which provider configurations are AWS ones, under any local name.

A module names its providers in ``terraform { required_providers { NAME = { source = ... } } }``;
a name it does not list means ``hashicorp/NAME``. Sources are compared as terraform normalises
them (tfaddr.ParseProviderSource): case-folded, the registry host implied when left out.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

from core.hcl.config import META_KEYS, Configuration, nested_blocks
from core.hcl.syntax import template_literal

DEFAULT_REGISTRY = "registry.terraform.io"
# The registries whose hashicorp/aws is the AWS provider (OpenTofu's mirrors terraform's).
OFFICIAL_REGISTRIES = frozenset({DEFAULT_REGISTRY, "registry.opentofu.org"})
AWS_SOURCES = frozenset({"hashicorp/aws", f"{DEFAULT_REGISTRY}/hashicorp/aws"})


@dataclass(frozen=True)
class ProviderSource:
    hostname: str
    namespace: str
    type: str

    def is_aws(self, *, any_registry: bool = False) -> bool:
        official = any_registry or self.hostname in OFFICIAL_REGISTRIES
        return official and (self.namespace, self.type) == ("hashicorp", "aws")


def parse_provider_source(text: str) -> ProviderSource | None:
    """``[HOST/]NAMESPACE/TYPE`` normalised as terraform does; None if it is not a source address."""
    parts = text.split("/")
    if not 1 <= len(parts) <= 3 or not all(parts):
        return None
    # IDNA mapping, as tfaddr applies, is close to NFKC plus case folding.
    parts = [unicodedata.normalize("NFKC", part).casefold() for part in parts]
    hostname = DEFAULT_REGISTRY
    if len(parts) == 3:
        hostname = parts[0].rstrip(".").removesuffix(":443")
    namespace = parts[-2] if len(parts) >= 2 else "hashicorp"
    return ProviderSource(hostname, namespace, parts[-1])


@dataclass(frozen=True)
class Requirement:
    """One ``required_providers`` entry: its source as written (None when implied), or not literal."""

    name: str
    source: str | None
    literal: bool = True

    def provider(self) -> ProviderSource | None:
        if self.source is None:
            return ProviderSource(DEFAULT_REGISTRY, "hashicorp", self.name.casefold())
        return parse_provider_source(self.source)


def requirements(configuration: Configuration, module_dir: str) -> Iterator[Requirement]:
    """Every ``required_providers`` entry of one module (a directory), every duplicate included."""
    for block in configuration.blocks("terraform"):
        if block.module_dir != module_dir:
            continue
        for _label, body in nested_blocks(block.body, "required_providers"):
            for name, value in body.items():
                if name in META_KEYS:
                    continue
                for entry in value if isinstance(value, list) else [value]:
                    yield _requirement(name, entry)


def _requirement(name: str, entry: object) -> Requirement:
    if not isinstance(entry, dict):
        # The legacy form, name = "version constraint": the source is implied.
        return Requirement(name, None)
    source = entry.get("source")
    if source is None:
        return Requirement(name, None)
    literal = template_literal(source) if isinstance(source, str) else None
    if literal is None:
        return Requirement(name, str(source), literal=False)
    return Requirement(name, literal)


def aws_like_names(configuration: Configuration, module_dir: str) -> set[str]:
    """Case-folded local names that may be the AWS provider in a module: any registry's
    hashicorp/aws, and names whose source cannot be read (what preflight must treat as AWS)."""
    names = {"aws"}
    for requirement in requirements(configuration, module_dir):
        provider = requirement.provider()
        if not requirement.literal or provider is None or provider.is_aws(any_registry=True):
            names.add(requirement.name.casefold())
    return names


def aws_local_names(configuration: Configuration) -> set[str]:
    """Local names of hashicorp/aws in the root module (always includes "aws")."""
    names = {"aws"}
    for requirement in requirements(configuration, ""):
        provider = requirement.provider()
        if requirement.literal and provider is not None and provider.is_aws():
            names.add(requirement.name)
    return names


def aws_provider_configurations(configuration: Configuration) -> list[tuple[str, str | None]]:
    """Root-module AWS provider configurations as (local name, alias or None).

    The default configuration (alias None) is included only if a block declares it.
    """
    names = {name.casefold() for name in aws_local_names(configuration)}
    found: list[tuple[str, str | None]] = []
    for block in configuration.blocks("provider"):
        if block.module_dir or not block.labels or block.labels[0].casefold() not in names:
            continue
        alias = block.body.get("alias")
        literal = template_literal(alias) if isinstance(alias, str) else None
        entry = (block.labels[0], literal)
        if entry not in found:
            found.append(entry)
    return found
