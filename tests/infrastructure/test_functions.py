"""The API's functions: runtime, architecture, observability and exactly the env each one needs."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from cdk.constants import HANDLER_MODULE
from tests.infrastructure.conftest import Synth, as_list, statements

# Set by CDK for Powertools itself, beyond what the handlers' models name.
POWERTOOLS_ONLY = {"POWERTOOLS_METRICS_NAMESPACE"}
HANDLER_MODULES = (
    "deploy_handler",
    "cancel_handler",
    "jobs_handler",
    "projects_handler",
    "openapi_handler",
    "reaper_handler",
)


def _model(module: str) -> type[BaseModel]:
    """The environment model the handler checks at cold start."""
    model: type[BaseModel] = importlib.import_module(f"functions.handlers.{module}").ENVIRONMENT
    return model


def _functions(synth: Synth) -> dict[str, dict[str, Any]]:
    """Handler module -> function properties."""
    found = {}
    for function in synth.resources("AWS::Lambda::Function").values():
        module = function["Properties"]["Handler"].split(".")[2]
        found[module] = function["Properties"]
    return found


def test_one_function_per_handler_module(synth: Synth) -> None:
    functions = _functions(synth)
    assert set(functions) == set(HANDLER_MODULES)
    for module, properties in functions.items():
        assert properties["Handler"] == HANDLER_MODULE.format(name=module)


def test_runtime_architecture_tracing_and_json_logs(synth: Synth) -> None:
    for module, properties in _functions(synth).items():
        assert properties["Runtime"] == "python3.12", module
        assert properties["Architectures"] == ["arm64"], module
        assert properties["TracingConfig"] == {"Mode": "Active"}, module
        assert properties["LoggingConfig"]["LogFormat"] == "JSON", module
        assert properties["LoggingConfig"]["ApplicationLogLevel"] == "INFO", module
        assert properties["Timeout"] <= 29, module  # API Gateway stops waiting after 29 s


def test_each_function_logs_to_its_own_encrypted_group_with_retention(synth: Synth) -> None:
    groups = synth.resources("AWS::Logs::LogGroup")
    seen = set()
    for module, properties in _functions(synth).items():
        group_id = properties["LoggingConfig"]["LogGroup"]["Ref"]
        seen.add(group_id)
        group = groups[group_id]["Properties"]
        assert group["RetentionInDays"] == 90, module
        assert "KmsKeyId" in group, module
    assert len(seen) == len(HANDLER_MODULES)


def test_each_function_gets_what_its_handler_checks_and_nothing_else(synth: Synth) -> None:
    for module, properties in _functions(synth).items():
        names = set(properties["Environment"]["Variables"])
        model = _model(module)
        required = {name for name, field in model.model_fields.items() if field.is_required()}
        assert required <= names, (module, required - names)
        assert names <= set(model.model_fields) | POWERTOOLS_ONLY, (module, names - set(model.model_fields))


def test_run_timeout_covers_queue_and_build(synth: Synth) -> None:
    variables = _functions(synth)["deploy_handler"]["Environment"]["Variables"]
    assert variables["RUN_TIMEOUT_SECONDS"] == str((60 + 30) * 60)


def test_each_function_has_its_own_role(synth: Synth) -> None:
    roles = [properties["Role"]["Fn::GetAtt"][0] for properties in _functions(synth).values()]
    assert len(set(roles)) == len(roles)


def _role_actions(synth: Synth, role_id: str) -> set[str]:
    actions: set[str] = set()
    for policy in synth.resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            for statement in statements(policy["Properties"]["PolicyDocument"]):
                actions.update(as_list(statement["Action"]))
    return actions


def test_least_privilege_per_function(synth: Synth) -> None:
    functions = _functions(synth)
    role = {module: properties["Role"]["Fn::GetAtt"][0] for module, properties in functions.items()}
    logs_and_traces = {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
    assert _role_actions(synth, role["openapi_handler"]) == logs_and_traces
    jobs = _role_actions(synth, role["jobs_handler"]) - logs_and_traces
    assert not any(
        a.startswith(("dynamodb:Put", "dynamodb:Update", "dynamodb:Delete", "s3:Put")) for a in jobs
    )
    deploy = _role_actions(synth, role["deploy_handler"])
    assert {"states:StartExecution", "secretsmanager:CreateSecret", "s3:PutObject"} <= deploy
    assert "states:StopExecution" not in deploy
    cancel = _role_actions(synth, role["cancel_handler"])
    assert {"states:StopExecution", "states:DescribeExecution", "dynamodb:DeleteItem"} <= cancel
    assert not any(a.startswith(("s3:", "secretsmanager:")) for a in cancel)
    projects = _role_actions(synth, role["projects_handler"]) - logs_and_traces
    assert "secretsmanager:GetSecretValue" in projects
    assert not any(
        a.startswith(("dynamodb:Put", "dynamodb:Update", "dynamodb:Delete", "s3:Put")) for a in projects
    )


def test_lambda_asset_holds_the_code_and_arm64_dependencies_but_not_local_mode(synth: Synth) -> None:
    key = next(iter(_functions(synth).values()))["Code"]["S3Key"]
    asset = synth.outdir / f"asset.{key.removesuffix('.zip')}"
    # Its own packages, and nothing of the other roles
    assert (asset / "functions" / "__init__.py").is_file()
    assert (asset / "core" / "records.py").is_file()
    assert (asset / "cost" / "data" / "prices.json.gz").is_file()
    for other in ("localmode", "runner", "provisioner", "tooling", "tests", "cdk"):
        assert not (asset / other).exists(), other
    for dependency in ("moto", "httpx", "typer", "rich"):
        assert not (asset / dependency).exists(), dependency
    assert not list(asset.rglob("__pycache__"))
    for package in ("aws_lambda_powertools", "pydantic", "hcl2", "yaml", "aws_xray_sdk"):
        assert (asset / package).is_dir(), package
    assert not (asset / "boto3").exists()  # the runtime's own
    [native] = list(Path(asset / "pydantic_core").glob("_pydantic_core.*.so"))
    assert "cpython-312-aarch64" in native.name
    assert native.read_bytes()[18] == 0xB7  # ELF e_machine: AArch64
