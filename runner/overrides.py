"""Files the runner adds next to the submitted code: the S3 backend and the AWS provider settings.

They are written in terraform's JSON syntax, so expressions from the submitted code (python-hcl2
returns them as ``${...}`` strings) carry over without an HCL printer. Provider settings are
derived from the provider's own schema, so the same code serves AWS provider 3.x to 5.x.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.hcl.config import Configuration, nested_blocks
from core.hcl.providers import aws_local_names, aws_provider_configurations
from core.records import state_key
from core.redaction import SensitivePaths, sensitive_paths_from_schema
from runner.settings import RunnerSettings

if TYPE_CHECKING:
    from runner.confinement import BackendAccess, ProviderAccess

BACKEND_FILE = "_provisioner_backend.tf.json"
PROVIDER_OVERRIDE_FILE = "_provisioner_override.tf.json"
PROVIDER_DEFAULTS_FILE = "_provisioner_providers.tf.json"
RESERVED_PREFIX = "_provisioner_"
AWS_PROVIDER_SUFFIX = "/hashicorp/aws"
MANAGED_BY = "terraform-provisioner"
# Skip flags that avoid calls the emulator cannot answer; whichever the provider version knows.
SANDBOX_SKIP_FLAGS = (
    "skip_credentials_validation",
    "skip_metadata_api_check",
    "skip_get_ec2_platforms",
    "skip_region_validation",
)
PATH_STYLE_FLAGS = ("s3_use_path_style", "s3_force_path_style")


@dataclass(frozen=True)
class ProviderFacts:
    """What the runner needs from ``terraform providers schema -json``; cached per lock file."""

    # provider address -> provider config attribute name -> its type, as the schema spells it
    config_attributes: dict[str, dict[str, Any]] = field(default_factory=dict)
    # provider address -> endpoint names of its ``endpoints`` block
    endpoints: dict[str, list[str]] = field(default_factory=dict)
    # provider address -> nested config blocks it accepts (default_tags, assume_role, ...)
    config_blocks: dict[str, list[str]] = field(default_factory=dict)
    sensitive_paths: SensitivePaths = field(default_factory=dict)

    @classmethod
    def from_schema(cls, schema: Mapping[str, Any]) -> ProviderFacts:
        facts = cls(sensitive_paths=sensitive_paths_from_schema(schema))
        for address, provider in (schema.get("provider_schemas") or {}).items():
            block = (provider.get("provider") or {}).get("block") or {}
            facts.config_attributes[address] = {
                name: attribute.get("type") for name, attribute in (block.get("attributes") or {}).items()
            }
            block_types = block.get("block_types") or {}
            facts.config_blocks[address] = sorted(block_types)
            endpoint_block = (block_types.get("endpoints") or {}).get("block") or {}
            facts.endpoints[address] = sorted(endpoint_block.get("attributes") or {})
        return facts

    def to_json(self) -> str:
        return json.dumps(
            {
                "config_attributes": self.config_attributes,
                "endpoints": self.endpoints,
                "config_blocks": self.config_blocks,
                "sensitive_paths": self.sensitive_paths,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> ProviderFacts:
        data = json.loads(text)
        return cls(
            config_attributes=data["config_attributes"],
            endpoints=data["endpoints"],
            config_blocks=data["config_blocks"],
            sensitive_paths=data["sensitive_paths"],
        )

    def aws_address(self) -> str | None:
        return next((a for a in self.config_attributes if a.endswith(AWS_PROVIDER_SUFFIX)), None)


def terraform_minor(version: str) -> tuple[int, int]:
    match = re.match(r"(\d+)\.(\d+)", version)
    return (int(match[1]), int(match[2])) if match else (0, 0)


# Terraform and OpenTofu 1.10 lock the S3 state with a lock file beside it (``use_lockfile``);
# terraform 1.11 deprecates the DynamoDB lock table (``dynamodb_table``) and warns at every init.
NATIVE_LOCKING = (1, 10)


def native_locking(terraform_version: str) -> bool:
    return terraform_minor(terraform_version) >= NATIVE_LOCKING


def backend_document(
    settings: RunnerSettings,
    terraform_version: str,
    access: BackendAccess,
    *,
    dynamodb_lock_held: bool = False,
) -> dict[str, Any]:
    """The S3 backend: one state key per project, its lock, encryption on, and the credentials and
    endpoint the job's confinement provides (runner/confinement.py).

    1.10+ locks with the lock file only; older versions with the lock table. ``dynamodb_lock_held``
    (a lock item an older version left, whose job may not be over) makes 1.10+ take both, as it
    supports while moving off the table: it then waits for that lock as the old version would.
    """
    backend: dict[str, Any] = {
        "bucket": settings.state_bucket,
        "key": state_key(settings.project_id),
        "region": settings.region,
        "encrypt": True,
    }
    native = native_locking(terraform_version)
    if native:
        backend["use_lockfile"] = True
    if not native or dynamodb_lock_held:
        backend["dynamodb_table"] = settings.lock_table
    if settings.state_kms_key_id:
        backend["kms_key_id"] = settings.state_kms_key_id
    if access.profile:
        backend["profile"] = access.profile
    if access.static_keys:
        backend["access_key"], backend["secret_key"] = access.static_keys
    endpoint = access.endpoint
    if endpoint:
        # The backend's settings changed when it moved to AWS SDK v2 (terraform 1.6, OpenTofu 1.6).
        if terraform_minor(terraform_version) >= (1, 6):
            backend["endpoints"] = {"s3": endpoint, "dynamodb": endpoint, "sts": endpoint, "iam": endpoint}
            backend["use_path_style"] = True
            backend["skip_requesting_account_id"] = True
        else:
            backend.update(
                endpoint=endpoint,
                dynamodb_endpoint=endpoint,
                sts_endpoint=endpoint,
                iam_endpoint=endpoint,
                force_path_style=True,
            )
        backend.update(skip_credentials_validation=True, skip_metadata_api_check=True)
    return {"terraform": {"backend": {"s3": backend}}}


def provider_documents(
    configuration: Configuration, facts: ProviderFacts, settings: RunnerSettings, access: ProviderAccess
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(override file, defaults file) for every AWS provider configuration; None where not needed.

    Every root-module configuration of the AWS provider, under any local name and alias, is
    overridden; a local name the code uses without configuring it gets a configuration in a normal
    file (override files can only amend blocks that exist). After plan, terraform's own view of
    the configuration is checked against what was written here (runner/checks.py).
    """
    address = facts.aws_address()
    if address is None:
        return None, None
    declared = aws_provider_configurations(configuration)
    overrides: dict[str, list[dict[str, Any]]] = {}
    bodies = _declared_bodies(configuration)
    for local_name, alias in declared:
        block = _provider_settings(facts, address, settings, access, bodies.get((local_name, alias), {}))
        if alias is not None:
            block["alias"] = alias
        overrides.setdefault(local_name, []).append(block)
    defaults: dict[str, list[dict[str, Any]]] = {}
    configured_defaults = {name for name, alias in declared if alias is None}
    for local_name in sorted(aws_local_names(configuration) - configured_defaults):
        defaults[local_name] = [_provider_settings(facts, address, settings, access, {})]
    return ({"provider": overrides} if overrides else None), ({"provider": defaults} if defaults else None)


def written_configurations(configuration: Configuration) -> set[str]:
    """The provider configuration keys (``aws``, ``aws.west``, ``myaws``) the override files cover."""
    keys = {
        f"{name}.{alias}" if alias else name for name, alias in aws_provider_configurations(configuration)
    }
    return keys | aws_local_names(configuration)


def _declared_bodies(configuration: Configuration) -> dict[tuple[str, str | None], dict[str, Any]]:
    bodies: dict[tuple[str, str | None], dict[str, Any]] = {}
    for block in configuration.blocks("provider"):
        if "/" in block.file or not block.labels:
            continue
        alias = block.body.get("alias")
        bodies[(block.labels[0], alias if isinstance(alias, str) else None)] = block.body
    return bodies


def _provider_settings(
    facts: ProviderFacts,
    address: str,
    settings: RunnerSettings,
    access: ProviderAccess,
    declared: Mapping[str, Any],
) -> dict[str, Any]:
    attributes = facts.config_attributes.get(address, {})
    blocks = facts.config_blocks.get(address, [])
    result: dict[str, Any] = {}
    if access.static_keys:
        result["access_key"], result["secret_key"] = access.static_keys
    if access.profile:
        result["profile"] = access.profile
    if access.sandbox_endpoint:
        for flag in SANDBOX_SKIP_FLAGS:
            if flag in attributes:
                result[flag] = _true_for(attributes[flag])
        path_style = next((f for f in PATH_STYLE_FLAGS if f in attributes), None)
        if path_style:
            result[path_style] = True
        names = facts.endpoints.get(address, [])
        if names:
            result["endpoints"] = [dict.fromkeys(names, access.sandbox_endpoint)]
    if settings.target == "aws" and "default_tags" in blocks:
        result["default_tags"] = [{"tags": _merged_tags(declared, settings)}]
    return result


def _true_for(schema_type: Any) -> bool | str:
    # Some provider versions declare boolean-ish settings as strings.
    return "true" if schema_type == "string" else True


def _merged_tags(declared: Mapping[str, Any], settings: RunnerSettings) -> Any:
    """The code's own default tags plus ours; ours win, so they stay accurate."""
    ours = {"ManagedBy": MANAGED_BY, "ProjectId": settings.project_id}
    if settings.tag_job_id:
        # Traceable to the last job, at the price of a tag update on every resource at every deploy.
        ours["JobId"] = settings.job_id
    existing: Any = None
    for _label, body in nested_blocks(dict(declared), "default_tags"):
        existing = body.get("tags")
    if existing is None:
        return ours
    if isinstance(existing, dict):
        return {**{k: v for k, v in existing.items() if not k.startswith("__")}, **ours}
    if isinstance(existing, str) and existing.startswith("${") and existing.endswith("}"):
        literal = ", ".join(f"{json.dumps(k)} = {json.dumps(v)}" for k, v in ours.items())
        return "${merge(" + existing[2:-1] + ", {" + literal + "})}"
    return ours


def write_document(directory: Path, name: str, document: Mapping[str, Any] | None) -> None:
    path = directory / name
    if document is None:
        path.unlink(missing_ok=True)
        return
    path.write_text(json.dumps(document, indent=2))
