"""The API's functions: runtime, architecture, observability and exactly the env each one needs."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from cdk.bundling import manylinux_platforms
from cdk.constants import HANDLER_MODULE, LAMBDA_GLIBC, LAMBDA_MACHINE, WORKFLOW_STEPS_MEMORY_MB
from functions.dal.build_slots import POOL_KEY
from functions.handlers.routing import HANDLERS
from functions.models.env_vars import Observability, Workflow, WorkflowStepsEnv
from tests.infrastructure.conftest import SKIP_BUNDLING, Synth, as_list, statements, synthesize

# Set by CDK for Powertools itself, beyond what the handlers' models name.
POWERTOOLS_ONLY = {"POWERTOOLS_METRICS_NAMESPACE"}
HANDLER_MODULES = (
    "deploy_handler",
    "cancel_handler",
    "jobs_handler",
    "projects_handler",
    "openapi_handler",
    "reaper_handler",
    "workflow_handler",
    "drift_handler",
    "notifications_handler",
    "notifier_handler",
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
        if module in HANDLERS:
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


def test_the_workflow_steps_get_exactly_what_they_read(synth: Synth) -> None:
    # Given the steps function / Then its environment is WorkflowStepsEnv's, less what it never reads
    variables = _functions(synth)["workflow_handler"]["Environment"]["Variables"]
    own = set(variables) - set(Observability.model_fields) - POWERTOOLS_ONLY
    required = {name for name, field in WorkflowStepsEnv.model_fields.items() if field.is_required()}
    assert required == {
        "JOBS_TABLE",
        "PROJECTS_TABLE",
        "POLICIES_TABLE",
        "LOCK_TABLE",
        "WORKSPACES_BUCKET",
        "STATE_BUCKET",
        "LOGS_BUCKET",
        "STATE_MACHINE_ARN",
    }
    # The optional ones the install sets; RUN_TIMEOUT_SECONDS is the submit's, not a step's.
    assert own == required | {
        "DEFAULT_REGION",
        "PLAN_EXPIRY_SECONDS",
        "APPROVAL_TIMEOUT_SECONDS",
        "QUEUE_POLL_SECONDS",
        "MAX_CONCURRENT_BUILDS",
    }
    assert variables["MAX_CONCURRENT_BUILDS"] == "20"
    assert variables["APPROVAL_TIMEOUT_SECONDS"] == str(168 * 3600)
    assert variables["PLAN_EXPIRY_SECONDS"] == str(168 * 3600)
    assert variables["QUEUE_POLL_SECONDS"] == "10"


def test_the_deploy_function_gets_the_review_options(synth: Synth) -> None:
    variables = _functions(synth)["deploy_handler"]["Environment"]["Variables"]
    assert variables["APPROVAL_TIMEOUT_SECONDS"] == str(168 * 3600)
    assert variables["PLAN_EXPIRY_SECONDS"] == str(168 * 3600)
    assert variables["QUEUE_POLL_SECONDS"] == "10"


def _resolve(value: Any) -> str:
    """A Fn::Join of pseudo parameters, as CloudFormation would render it in us-east-1."""
    pseudo = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012"}
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return pseudo[value["Ref"]]
    separator, parts = value["Fn::Join"]
    return str(separator).join(_resolve(part) for part in parts)


def test_every_function_knows_the_machine_by_its_name_not_a_reference(synth: Synth) -> None:
    # Given the machine's name / Then each STATE_MACHINE_ARN is built from it, and the model accepts it
    [machine] = synth.resources("AWS::StepFunctions::StateMachine").values()
    name = machine["Properties"]["StateMachineName"]
    holders = {
        module: properties["Environment"]["Variables"]["STATE_MACHINE_ARN"]
        for module, properties in _functions(synth).items()
        if "STATE_MACHINE_ARN" in properties["Environment"]["Variables"]
    }
    assert {"deploy_handler", "cancel_handler", "reaper_handler", "workflow_handler"} <= set(holders)
    for module, value in holders.items():
        arn = _resolve(value)
        assert arn == f"arn:aws:states:us-east-1:123456789012:stateMachine:{name}", module
        # The handlers check the ARN's shape at cold start
        assert arn == Workflow.model_validate({"STATE_MACHINE_ARN": arn}).STATE_MACHINE_ARN


def test_the_workflow_steps_have_room_to_estimate_costs(synth: Synth) -> None:
    properties = _functions(synth)["workflow_handler"]
    assert properties["MemorySize"] == WORKFLOW_STEPS_MEMORY_MB >= 1024


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
    # StopExecution: a deploy with supersede stops the queued deploys it replaces
    assert {
        "states:StartExecution",
        "states:StopExecution",
        "secretsmanager:CreateSecret",
        "s3:PutObject",
    } <= (deploy)
    assert not any(a.startswith("states:SendTask") for a in deploy)
    cancel = _role_actions(synth, role["cancel_handler"])
    assert {
        "states:StopExecution",
        "states:DescribeExecution",
        "states:SendTaskSuccess",
        "states:SendTaskFailure",
        "dynamodb:DeleteItem",
    } <= cancel
    # S3: the policy dry run's read of a stored plan, and the admin unlock's of a lock file
    # (its delete is on lock files only: test_lock_files_are_read_and_cleared_where_locks_are)
    assert {a for a in cancel if a.startswith("s3:")} == {"s3:GetObject", "s3:ListBucket", "s3:DeleteObject"}
    assert not any(a.startswith("secretsmanager:") for a in cancel)
    projects = _role_actions(synth, role["projects_handler"]) - logs_and_traces
    assert "secretsmanager:GetSecretValue" in projects
    # Its only writes are a state rollback's: checked narrowly in test_the_projects_role_writes_*
    assert {a for a in projects if a.startswith(("dynamodb:Put", "dynamodb:Update", "s3:Put"))} == {
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "s3:PutObject",
    }
    assert not any(a.startswith("dynamodb:Delete") for a in projects)


def test_the_projects_role_writes_only_what_a_rollback_writes(synth: Synth) -> None:
    granted = _role_grants(synth, "projects_handler")
    # UpdateItem: the project table only (the project lock and the rollback's record)
    assert granted["dynamodb:UpdateItem"] == [_table_arn(synth, "projectId")]
    # PutItem: the lock table, and there only terraform's digest items (LeadingKeys below)
    assert granted["dynamodb:PutItem"] == [_table_arn(synth, "LockID")]
    # S3 version reads: the state prefix only; writes: the state (a rollback, a restore) and the
    # workspaces (a restore's code)
    assert len(granted["s3:GetObjectVersion"]) == 1 and "/projects/*" in granted["s3:GetObjectVersion"][0]
    written = sorted(granted["s3:PutObject"])
    assert len(written) == 2 and "/projects/*" in written[0] and "/workspaces/*" in written[1]
    assert "s3:ListBucketVersions" in granted
    role_id = _functions(synth)["projects_handler"]["Role"]["Fn::GetAtt"][0]
    conditions = [
        statement.get("Condition")
        for policy in synth.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in statements(policy["Properties"]["PolicyDocument"])
        if "dynamodb:PutItem" in as_list(statement["Action"])
    ]
    assert len(conditions) == 1 and "terraform.tfstate-md5" in json.dumps(conditions[0])
    assert "dynamodb:LeadingKeys" in json.dumps(conditions[0])


def _role_grants(synth: Synth, module: str) -> dict[str, list[str]]:
    """Action -> the resources it is granted on (JSON text, for matching), for one function's role."""
    role_id = _functions(synth)[module]["Role"]["Fn::GetAtt"][0]
    granted: dict[str, list[str]] = {}
    for policy in synth.resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            for statement in statements(policy["Properties"]["PolicyDocument"]):
                for action in as_list(statement["Action"]):
                    granted.setdefault(action, []).extend(
                        json.dumps(r) for r in as_list(statement["Resource"])
                    )
    return granted


def test_the_workflow_steps_role_is_exactly_what_the_steps_call(synth: Synth) -> None:
    granted = _role_grants(synth, "workflow_handler")
    assert set(granted) == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:PutItem",
        "states:DescribeExecution",
        "states:StopExecution",
        "codebuild:BatchGetBuilds",
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:ListBucket",
        "kms:Decrypt",
        "kms:DescribeKey",
        "kms:Encrypt",
        "kms:GenerateDataKey",
    }
    # DeleteItem: the lock table only (a dead holder's state lock); no index is queried
    [lock_table] = [
        k
        for k, v in synth.resources("AWS::DynamoDB::Table").items()
        if v["Properties"]["KeySchema"][0]["AttributeName"] == "LockID"
    ]
    assert granted["dynamodb:DeleteItem"] == [json.dumps({"Fn::GetAtt": [lock_table, "Arn"]})]
    assert not any(
        "/index/" in r
        for r in granted["dynamodb:GetItem"] + granted["dynamodb:UpdateItem"] + granted["dynamodb:Query"]
    )
    # Query: the policies table only (the policy check reads the versions a job was submitted under)
    assert granted["dynamodb:Query"] == [_table_arn(synth, "scope")]
    # Objects: the workspaces (a queued destroy copies code) and the plans (read the plan, write the review)
    # (and, in the state bucket, the lock files only: a dead holder's, read and cleared)
    objects = granted["s3:GetObject"] + granted["s3:PutObject"]
    state = [r for r in objects if "State" in r]
    assert state == [r for r in state if r.endswith(f'/projects/*/{LOCKFILE}"]]}}')] and len(state) == 1
    objects = [r for r in objects if r not in state]
    assert objects and all(r.endswith(('/workspaces/*"]]}', '/plans/*"]]}')) for r in objects)
    assert any("Workspaces" in r for r in granted["s3:PutObject"])
    assert any("Logs" in r and r.endswith('/plans/*"]]}') for r in granted["s3:PutObject"])
    assert all(":execution:" in r for r in granted["states:StopExecution"])


def test_the_jobs_function_reads_projects_and_plan_reviews(synth: Synth) -> None:
    granted = _role_grants(synth, "jobs_handler")
    assert any("ProjectsTable" in r for r in granted["dynamodb:GetItem"])
    reads = granted["s3:GetObject"]
    assert any("Logs" in r and r.endswith('/plans/*"]]}') for r in reads)
    assert any("Logs" in r and r.endswith('/logs/*"]]}') for r in reads)
    assert "s3:PutObject" not in granted


def test_the_deploy_function_reads_the_state_it_compares_a_saved_plan_with(synth: Synth) -> None:
    granted = _role_grants(synth, "deploy_handler")
    state_reads = [r for r in granted["s3:GetObject"] if "StateBucket" in r]
    assert state_reads and all(r.endswith(('/projects/*"]]}', f'/{LOCKFILE}"]]}}')) for r in state_reads)
    assert not any("StateBucket" in r for r in granted["s3:PutObject"])


def test_only_the_cancel_function_answers_task_tokens(synth: Synth) -> None:
    for module in HANDLER_MODULES:
        granted = _role_grants(synth, module)
        for action in ("states:SendTaskSuccess", "states:SendTaskFailure"):
            if module == "cancel_handler":
                # No resource type exists for these actions: '*' is the only resource that matches
                assert granted[action] == ['"*"'], action
            else:
                assert action not in granted, (module, action)


def test_lambda_asset_holds_the_code_and_arm64_dependencies_but_not_local_mode(synth: Synth) -> None:
    key = next(iter(_functions(synth).values()))["Code"]["S3Key"]
    asset = synth.outdir / f"asset.{key.removesuffix('.zip')}"
    # Its own packages, and nothing of the other roles
    assert (asset / "functions" / "__init__.py").is_file()
    assert (asset / "core" / "records.py").is_file()
    assert (asset / "cost" / "data" / "prices.json.gz").is_file()
    # The policy engine the workflow steps run as `python -m policy`
    assert (asset / "policy" / "__init__.py").is_file()
    assert (asset / "policy" / "engine.py").is_file()
    assert (asset / "policy" / "builtins" / "__init__.py").is_file()
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


def test_lambda_asset_holds_the_rego_engine_built_for_amazon_linux_2023_on_arm64(synth: Synth) -> None:
    # Given regorus, whose wheels are manylinux_2_34 only (the python3.12 runtime's glibc is 2.34)
    key = next(iter(_functions(synth).values()))["Code"]["S3Key"]
    asset = synth.outdir / f"asset.{key.removesuffix('.zip')}"
    # Then its wheel for linux aarch64 is in the bundle, native extension and all
    [native] = list((asset / "regorus").glob("regorus*.so"))
    elf = native.read_bytes()
    assert elf[:4] == b"\x7fELF"
    assert elf[18] == 0xB7  # e_machine: AArch64
    [dist_info] = list(asset.glob("gordon_to_regorus-*.dist-info"))
    tags = [
        line.split(":", 1)[1].strip()
        for line in (dist_info / "WHEEL").read_text().splitlines()
        if line.startswith("Tag:")
    ]
    assert tags and all(tag.endswith("-manylinux_2_34_aarch64") for tag in tags), tags


def test_the_bundler_names_every_manylinux_platform_the_runtime_runs() -> None:
    platforms = manylinux_platforms(LAMBDA_MACHINE, LAMBDA_GLIBC)
    # Newest first, down to manylinux2014 (aarch64's first), each legacy alias beside its glibc
    assert platforms[0] == "manylinux_2_34_aarch64"
    assert platforms[-2:] == ("manylinux_2_17_aarch64", "manylinux2014_aarch64")
    assert len(platforms) == 34 - 17 + 1 + 1
    assert "manylinux_2_35_aarch64" not in platforms
    x86 = manylinux_platforms("x86_64", (2, 28))
    assert x86[0] == "manylinux_2_28_x86_64"
    assert {"manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"} <= set(x86)
    assert x86[-1] == "manylinux1_x86_64"


def _table_arn(synth: Synth, partition_key: str) -> str:
    """The table's ARN as a role's statements name it (JSON text, as ``_role_grants`` gives it)."""
    [table] = [
        k
        for k, v in synth.resources("AWS::DynamoDB::Table").items()
        if v["Properties"]["KeySchema"][0]["AttributeName"] == partition_key
    ]
    return json.dumps({"Fn::GetAtt": [table, "Arn"]})


# What each function may do on the policies table: the deploy reads the set in force at submit
# (Query); the cancel function lists, reads and versions policies (an upload is a TransactWriteItems
# of two Puts, authorised as PutItem); the workflow steps read the versions a job was checked under.
POLICY_GRANTS = {
    "deploy_handler": {"dynamodb:Query"},
    "cancel_handler": {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem"},
    "workflow_handler": {"dynamodb:GetItem", "dynamodb:Query"},
}


def test_the_policies_table_is_named_to_exactly_the_functions_that_use_it(synth: Synth) -> None:
    [table] = [
        k
        for k, v in synth.resources("AWS::DynamoDB::Table").items()
        if v["Properties"]["KeySchema"][0]["AttributeName"] == "scope"
    ]
    for module, properties in _functions(synth).items():
        variables = properties["Environment"]["Variables"]
        if module in POLICY_GRANTS:
            assert variables["POLICIES_TABLE"] == {"Ref": table}, module
        else:
            assert "POLICIES_TABLE" not in variables, module


def test_each_function_has_exactly_its_grants_on_the_policies_table(synth: Synth) -> None:
    table = _table_arn(synth, "scope")
    logical_id = json.loads(table)["Fn::GetAtt"][0]
    for module in HANDLER_MODULES:
        granted = _role_grants(synth, module)
        on_table = {action for action, resources in granted.items() if table in resources}
        assert on_table == POLICY_GRANTS.get(module, set()), module
        # The table itself, never an index of it or a wildcard beside it
        for action, resources in granted.items():
            for resource in resources:
                assert resource == table or logical_id not in resource, (module, action, resource)
    deploy = _role_grants(synth, "deploy_handler")
    assert table not in deploy["dynamodb:PutItem"]  # submit never writes a policy
    assert table not in deploy["dynamodb:GetItem"]
    for module in ("cancel_handler", "workflow_handler", "deploy_handler"):
        granted = _role_grants(synth, module)
        for action in (
            "dynamodb:DeleteItem",
            "dynamodb:UpdateItem",
            "dynamodb:Scan",
            "dynamodb:BatchWriteItem",
        ):
            assert table not in granted.get(action, []), (module, action)


def test_the_cancel_function_reads_stored_plans_for_a_dry_run_and_nothing_else_of_the_bucket(
    synth: Synth,
) -> None:
    functions = _functions(synth)
    variables = functions["cancel_handler"]["Environment"]["Variables"]
    [logs_bucket] = [k for k in synth.resources("AWS::S3::Bucket") if k.startswith("DataLogsBucket")]
    assert variables["LOGS_BUCKET"] == {"Ref": logs_bucket}
    # The dry run prices a plan in the region the workflow's review prices it in
    assert (
        variables["DEFAULT_REGION"]
        == functions["workflow_handler"]["Environment"]["Variables"]["DEFAULT_REGION"]
    )
    granted = _role_grants(synth, "cancel_handler")
    # (beside the lock files an admin unlock reads and clears: test_lock_files_are_read_and_cleared_*)
    reads = [r for r in granted["s3:GetObject"] if LOCKFILE not in r]
    assert reads and all(logs_bucket in r and r.endswith('/plans/*"]]}') for r in reads)
    others = set(granted) - {"s3:GetObject", "s3:ListBucket", "s3:DeleteObject"}
    assert not any(a.startswith("s3:") for a in others)
    assert all(LOCKFILE in r for r in granted["s3:DeleteObject"])
    assert all(logs_bucket in r or "StateBucket" in r for r in granted["s3:ListBucket"])
    # Reading an SSE-KMS object decrypts through S3
    role_id = functions["cancel_handler"]["Role"]["Fn::GetAtt"][0]
    vias = [
        statement["Condition"]["StringEquals"]["kms:ViaService"]
        for policy in synth.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in statements(policy["Properties"]["PolicyDocument"])
        if "kms:Decrypt" in as_list(statement["Action"])
    ]
    assert vias and any(any("s3." in json.dumps(v) for v in as_list(via)) for via in vias)


def _notifications_table(synth: Synth) -> str:
    [table] = [
        k
        for k, v in synth.resources("AWS::DynamoDB::Table").items()
        if v["Properties"]["KeySchema"][0]["AttributeName"] == "pk"
    ]
    return table


def test_only_the_notification_functions_know_or_reach_the_notifications_table(synth: Synth) -> None:
    table = _notifications_table(synth)
    owners = {"notifications_handler", "notifier_handler"}
    for module, properties in _functions(synth).items():
        variables = properties["Environment"]["Variables"]
        assert (variables.get("NOTIFICATIONS_TABLE") == {"Ref": table}) is (module in owners), module
    # No other role (the runner's and the job's included) names the table or the signing secrets,
    # except the deploy role boundary, whose statement about them is a Deny.
    text = {"Fn::GetAtt": [table, "Arn"]}
    for name, policy in synth.resources("AWS::IAM::Policy").items():
        for statement in statements(policy["Properties"]["PolicyDocument"]):
            resources = json.dumps(as_list(statement.get("Resource", [])))
            if json.dumps(text) in resources or "provisioner-notify/" in resources:
                assert name.startswith(("FunctionsNotificationsRole", "FunctionsNotifierRole")), name
    for name, managed in synth.resources("AWS::IAM::ManagedPolicy").items():
        for statement in statements(managed["Properties"]["PolicyDocument"]):
            if "provisioner-notify/" in json.dumps(statement.get("Resource", [])):
                assert statement["Effect"] == "Deny", name
    for project in synth.resources("AWS::CodeBuild::Project").values():
        variables = json.dumps(project["Properties"]["Environment"].get("EnvironmentVariables", []))
        assert "NOTIFICATIONS_TABLE" not in variables and "NOTIFICATIONS_TOPIC_ARN" not in variables


def test_the_notifier_reads_secrets_and_publishes_and_the_api_only_creates_and_deletes(synth: Synth) -> None:
    notifier = _role_grants(synth, "notifier_handler")
    assert "secretsmanager:GetSecretValue" in notifier and "sns:Publish" in notifier
    assert "secretsmanager:CreateSecret" not in notifier
    assert "dynamodb:Scan" not in notifier
    api = _role_grants(synth, "notifications_handler")
    assert {"secretsmanager:CreateSecret", "secretsmanager:DeleteSecret"} <= set(api)
    assert "secretsmanager:GetSecretValue" not in api and "sns:Publish" not in api
    for grants in (notifier, api):
        for action in ("secretsmanager:GetSecretValue", "secretsmanager:CreateSecret"):
            for resource in grants.get(action, []):
                assert "provisioner-notify/*" in resource, (action, resource)


LOCKFILE = "terraform.tfstate.tflock"
LOCK_CLEARERS = ("deploy_handler", "cancel_handler", "reaper_handler", "workflow_handler", "drift_handler")


@pytest.mark.parametrize("module", LOCK_CLEARERS)
def test_lock_files_are_read_and_cleared_where_locks_are(synth: Synth, module: str) -> None:
    # Every function that judges and clears a stale state lock does so for both kinds
    granted = _role_grants(synth, module)
    assert _table_arn(synth, "LockID") in granted["dynamodb:DeleteItem"]
    # The lock file: read (whose is it?) and deleted, on lock files only; never written
    lockfiles = [r for r in granted["s3:GetObject"] if LOCKFILE in r]
    assert len(lockfiles) == 1 and lockfiles[0].endswith(f'/projects/*/{LOCKFILE}"]]}}')
    assert [r for r in granted["s3:DeleteObject"] if "State" in r] == lockfiles
    assert not any(LOCKFILE in r or "State" in r for r in granted.get("s3:PutObject", []))
    # and listing the projects' prefix reads a missing lock file as missing, not denied
    assert any("State" in r for r in granted["s3:ListBucket"])


def test_only_the_reaper_sweeps_every_lock(synth: Synth) -> None:
    assert "dynamodb:Scan" in _role_grants(synth, "reaper_handler")
    for module in LOCK_CLEARERS[:2]:
        assert "dynamodb:Scan" not in _role_grants(synth, module)


def _put_conditions(synth: Synth, module: str) -> list[Any]:
    role_id = _functions(synth)[module]["Role"]["Fn::GetAtt"][0]
    return [
        statement.get("Condition")
        for policy in synth.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in statements(policy["Properties"]["PolicyDocument"])
        if "dynamodb:PutItem" in as_list(statement["Action"])
    ]


def test_the_build_slots_are_the_only_item_the_steps_and_the_reaper_may_put(synth: Synth) -> None:
    # Given the two functions that take and reclaim build slots
    for module in ("workflow_handler", "reaper_handler"):
        granted = _role_grants(synth, module)
        # Then they put items in the lock table only, and there only the pool's item
        assert granted["dynamodb:PutItem"] == [_table_arn(synth, "LockID")], module
        assert _put_conditions(synth, module) == [
            {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [POOL_KEY]}}
        ], module
    # and besides them only a rollback puts there (terraform's digest items, checked above)
    lock_table = _table_arn(synth, "LockID")
    putting = {
        m for m in _functions(synth) if lock_table in _role_grants(synth, m).get("dynamodb:PutItem", [])
    }
    assert putting == {"workflow_handler", "reaper_handler", "projects_handler"}


def test_the_build_cap_option_reaches_the_steps_function(tmp_path: Path) -> None:
    capped = synthesize(tmp_path, {**SKIP_BUNDLING, "provisioner:maxConcurrentBuilds": 3})
    variables = _functions(capped)["workflow_handler"]["Environment"]["Variables"]
    assert variables["MAX_CONCURRENT_BUILDS"] == "3"
