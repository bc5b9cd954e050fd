"""Synthesize the stack once per session (and once per auth mode) and share the results.

The first synth installs the Lambda dependencies into ``.cache/cdk-bundles`` (pip, about 10 s);
every later one copies them. The variants skip bundling: only the template differs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from cdk.app import build
from cdk.constants import REPO_ROOT
from cdk.service_stack import ServiceStack

CDK_JSON_CONTEXT: dict[str, Any] = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
SKIP_BUNDLING: dict[str, list[str]] = {"aws:cdk:bundling-stacks": []}


@dataclass(frozen=True)
class Synth:
    stack: ServiceStack
    template: Template
    document: dict[str, Any]
    outdir: Path

    def resources(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.document["Resources"].items() if v["Type"] == kind}

    def metadata(self) -> dict[str, list[dict[str, Any]]]:
        """Construct metadata (cdk-nag findings among it), as the CLI reads it."""
        path = self.outdir / f"{self.stack.artifact_id}.metadata.json"
        if path.is_file():
            loaded: dict[str, list[dict[str, Any]]] = json.loads(path.read_text())
            return loaded
        manifest = json.loads((self.outdir / "manifest.json").read_text())
        artifact: dict[str, Any] = manifest["artifacts"][self.stack.artifact_id]
        return dict(artifact.get("metadata", {}))


def synthesize(outdir: Path, context: Mapping[str, Any] | None = None) -> Synth:
    app = App(context={**CDK_JSON_CONTEXT, **(context or {})}, outdir=str(outdir))
    stack = build(app)
    assembly = app.synth()
    document = assembly.get_stack_artifact(stack.artifact_id).template
    return Synth(stack, Template.from_json(document), document, outdir)


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The default install, with its assets bundled as ``cdk deploy`` would."""
    return synthesize(tmp_path_factory.mktemp("cdk-default"))


@pytest.fixture(scope="session")
def cognito_synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize(
        tmp_path_factory.mktemp("cdk-cognito"), {"provisioner:authMode": "cognito", **SKIP_BUNDLING}
    )


@pytest.fixture(scope="session")
def apikey_synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize(
        tmp_path_factory.mktemp("cdk-apikey"), {"provisioner:authMode": "apikey", **SKIP_BUNDLING}
    )


@pytest.fixture(scope="session")
def existing_role_synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize(
        tmp_path_factory.mktemp("cdk-existing-role"),
        {
            "provisioner:deployRoleArn": "arn:aws:iam::123456789012:role/platform-terraform",
            "provisioner:allowedRegions": "eu-west-1,eu-central-1",
            **SKIP_BUNDLING,
        },
    )


def statements(document: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    raw = document.get("Statement", [])
    yield from ([raw] if isinstance(raw, dict) else raw)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
