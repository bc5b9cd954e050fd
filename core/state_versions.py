"""Terraform state versions: what one version says about itself, the document a rollback writes,
and the digest terraform's S3 backend keeps beside the state.

Pure functions: the S3 and DynamoDB ports are functions/dal/state_history.py.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

# S3 user metadata of a version the service wrote itself (a rollback, a restore): who, why, when.
# S3 keeps metadata ASCII, so free text goes in percent-encoded.
WRITER_KEYS = ("written-by", "writer", "reason", "from-serial", "written-at", "writer-id")


@dataclass(frozen=True)
class StateFacts:
    serial: int
    lineage: str
    terraform_version: str
    resource_count: int


def facts(document: Mapping[str, Any]) -> StateFacts:
    """Counted as the runner's state summary counts them: instances of managed resources."""
    managed = [r for r in document.get("resources") or [] if r.get("mode") == "managed"]
    return StateFacts(
        serial=int(document.get("serial") or 0),
        lineage=str(document.get("lineage") or ""),
        terraform_version=str(document.get("terraform_version") or ""),
        resource_count=sum(len(r.get("instances") or []) for r in managed),
    )


def summary(document: Mapping[str, Any]) -> dict[str, Any]:
    """The project record's ``stateSummary`` (core.responses.StateSummary)."""
    found = facts(document)
    return {
        "serial": found.serial,
        "lineage": found.lineage,
        "terraformVersion": found.terraform_version,
        "resourceCount": found.resource_count,
    }


def reissued(document: Mapping[str, Any], serial: int) -> dict[str, Any]:
    """An old version's content as a new version: same lineage, the serial given. Terraform
    refuses a state whose serial went back, so a rollback moves forward with old content."""
    renewed = copy.deepcopy(dict(document))
    renewed["serial"] = serial
    return renewed


def encode(document: Mapping[str, Any]) -> bytes:
    """Written as terraform writes state: indented JSON and a final newline."""
    return (json.dumps(document, indent=2) + "\n").encode()


def md5_digest(body: bytes) -> str:
    """The Digest terraform's S3 backend stores under ``<bucket>/<key>-md5``: the hex MD5 of the
    state object; a state that does not match it is refused as inconsistent."""
    return hashlib.md5(body, usedforsecurity=False).hexdigest()


def writer_metadata(
    *, by: str, writer: str, reason: str, from_serial: int, at: str, writer_id: str
) -> dict[str, str]:
    values = (by, writer, reason, str(from_serial), at, writer_id)
    return {key: quote(value, safe="") for key, value in zip(WRITER_KEYS, values, strict=True)}


def read_writer(metadata: Mapping[str, str]) -> dict[str, str] | None:
    """Who wrote a version the service wrote itself; None for a version terraform wrote."""
    if "writer" not in metadata:
        return None
    return {key: unquote(metadata.get(key, "")) for key in WRITER_KEYS}
