"""The runner's CodeBuild project, its buildspec, and the three roles: build, job and deploy."""

from __future__ import annotations

import json
from typing import Any

import yaml

from cdk.constants import ASL_FILE, BUILDSPEC_PATH, REPO_ROOT, RUNNER_TOOLCHAIN_DIR, TOOLCHAIN_PREFIX
from runner.settings import RunnerSettings
from tests.infrastructure.conftest import Synth, as_list, statements

PER_JOB = {"JOB_ID", "PROJECT_ID", "JOB_ACTION", "JOB_STAGE", "PLAN_JOB_ID"}
BUILD_STATES = ("Run terraform in CodeBuild", "Plan in CodeBuild", "Apply the plan in CodeBuild")
BUILDSPEC = yaml.safe_load((REPO_ROOT / BUILDSPEC_PATH).read_text())


def _project(synth: Synth) -> dict[str, Any]:
    [project] = synth.resources("AWS::CodeBuild::Project").values()
    properties: dict[str, Any] = project["Properties"]
    return properties


def _project_id(synth: Synth) -> str:
    [project_id] = synth.resources("AWS::CodeBuild::Project")
    return project_id


def _environment(synth: Synth) -> dict[str, Any]:
    return {v["Name"]: v["Value"] for v in _project(synth)["Environment"]["EnvironmentVariables"]}


def _role_statements(synth: Synth, role_id: str) -> list[dict[str, Any]]:
    found = []
    for policy in synth.resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            found += list(statements(policy["Properties"]["PolicyDocument"]))
    return found


def _role_id(synth: Synth, prefix: str) -> str:
    [role_id] = [k for k in synth.resources("AWS::IAM::Role") if k.startswith(prefix)]
    return role_id


def test_environment_is_what_the_runner_settings_read(synth: Synth) -> None:
    environment = _environment(synth)
    assert environment["PROVISIONER_TARGET"] == "aws"
    assert environment["TAG_JOB_ID"] == "true"
    assert environment["ALLOW_EXEC_CONSTRUCTS"] == "false"
    assert (
        environment["ALLOWED_PROVIDERS"]
        == "hashicorp/aws,hashicorp/null,hashicorp/random,hashicorp/time,hashicorp/tls"
    )
    assert environment["ALLOWED_REGIONS"] == {"Ref": "AWS::Region"}
    # The per-job values come from the state machine's override, never from the project.
    assert not PER_JOB & set(environment)
    asl = json.loads(ASL_FILE.read_text())
    overridden: set[str] = set()
    for state in BUILD_STATES:
        override = asl["States"][state]["Parameters"]["EnvironmentVariablesOverride"]
        names = {entry["Name"] for entry in override}
        assert {"JOB_ID", "PROJECT_ID", "JOB_ACTION", "JOB_STAGE"} <= names <= PER_JOB, state
        overridden |= names
    assert overridden == PER_JOB
    # With tokens stood in for by names and the job's ids added, the runner accepts the environment.
    concrete = {
        name: value if isinstance(value, str) else f"resolved-{name.lower()}"
        for name, value in environment.items()
    }
    settings = RunnerSettings.from_environment(
        {**concrete, "JOB_ID": "deploy-1700000000000-abc123", "PROJECT_ID": "demo", "JOB_ACTION": "deploy"}
    )
    assert settings.target == "aws"
    assert settings.deploy_role_arn == "resolved-deploy_role_arn"
    assert settings.state_kms_key_id == "resolved-state_kms_key_id"
    assert settings.allow_exec is False
    # Each build state's stage, with the project's environment, is a runner environment too.
    for state in BUILD_STATES:
        override = asl["States"][state]["Parameters"]["EnvironmentVariablesOverride"]
        stage = next(entry["Value"] for entry in override if entry["Name"] == "JOB_STAGE")
        staged = RunnerSettings.from_environment(
            {
                **concrete,
                "JOB_ID": "deploy-1700000000000-abc123",
                "PROJECT_ID": "demo",
                "JOB_ACTION": "deploy",
                "JOB_STAGE": stage,
                "PLAN_JOB_ID": "plan-1700000000000-abc123",
            }
        )
        assert staged.stage.value == stage, state


def test_environment_names_this_stacks_resources(synth: Synth) -> None:
    environment = _environment(synth)
    resources = synth.document["Resources"]
    for name, kind in {
        "JOBS_TABLE": "AWS::DynamoDB::Table",
        "PROJECTS_TABLE": "AWS::DynamoDB::Table",
        "LOCK_TABLE": "AWS::DynamoDB::Table",
        "WORKSPACES_BUCKET": "AWS::S3::Bucket",
        "STATE_BUCKET": "AWS::S3::Bucket",
        "LOGS_BUCKET": "AWS::S3::Bucket",
    }.items():
        assert resources[environment[name]["Ref"]]["Type"] == kind, name
    assert environment["RUNNER_JOB_ROLE_ARN"]["Fn::GetAtt"][0].startswith("RunnerJobRole")
    assert environment["DEPLOY_ROLE_ARN"]["Fn::GetAtt"][0].startswith("RunnerDeployRole")
    assert resources[environment["STATE_KMS_KEY_ID"]["Fn::GetAtt"][0]]["Type"] == "AWS::KMS::Key"


def test_pinned_terraform_is_checked_against_its_digest(synth: Synth) -> None:
    environment = _environment(synth)
    assert environment["TERRAFORM_VERSION"] == "1.5.7"
    assert (
        environment["TERRAFORM_SHA256"] == "c0ed7bc32ee52ae255af9982c8c88a7a4c610485cf1d55feeb037eab75fa082c"
    )
    install = BUILDSPEC["phases"]["install"]["commands"]
    # The bootstrap checks the release against TERRAFORM_SHA256 (tests/runner/test_bootstrap.py),
    # after the runner's own dependencies are installed by hash and before the job starts.
    pip = next(i for i, c in enumerate(install) if "--require-hashes" in c)
    assert install.index("/opt/runner-venv/bin/python -m runner.bootstrap") > pip
    assert BUILDSPEC["phases"]["install"]["runtime-versions"] == {"python": 3.12}
    assert BUILDSPEC["phases"]["build"]["commands"] == ["/opt/runner-venv/bin/python -m runner"]


def test_nothing_survives_between_builds_but_the_verified_toolchain_copies(synth: Synth) -> None:
    project = _project(synth)
    # No CodeBuild cache: it would restore files unchecked, a plugin cache one job's terraform wrote
    assert project.get("Cache", {"Type": "NO_CACHE"})["Type"] == "NO_CACHE"
    assert "cache" not in BUILDSPEC
    environment = _environment(synth)
    toolchain = environment["PROVISIONER_TOOLCHAIN_DIR"]
    assert toolchain == RUNNER_TOOLCHAIN_DIR == BUILDSPEC["env"]["variables"]["PROVISIONER_TOOLCHAIN_DIR"]
    assert not toolchain.startswith("/root")
    # The bootstrap reads its copies from the logs bucket's toolchain prefix
    assert synth.document["Resources"][environment["TOOLCHAIN_BUCKET"]["Ref"]]["Type"] == "AWS::S3::Bucket"
    assert environment["TOOLCHAIN_BUCKET"]["Ref"].startswith("DataLogsBucket")
    assert environment["TOOLCHAIN_PREFIX"] == TOOLCHAIN_PREFIX == "cache/toolchain/"
    assert environment["WARM_PROVIDERS"] == "hashicorp/aws=6.0.0"


def _writes(statement: dict[str, Any]) -> bool:
    return statement.get("Effect", "Allow") == "Allow" and any(
        a in ("*", "s3:*", "s3:PutObject", "s3:DeleteObject", "s3:Put*") for a in as_list(statement["Action"])
    )


def test_only_the_build_role_writes_the_toolchain_prefix(synth: Synth) -> None:
    build_role = _project(synth)["ServiceRole"]["Fn::GetAtt"][0]
    writers = []
    for policy in synth.resources("AWS::IAM::Policy").values():
        for statement in statements(policy["Properties"]["PolicyDocument"]):
            for resource in as_list(statement.get("Resource", [])):
                text = json.dumps(resource)
                covers = "DataLogsBucket" in text and text.endswith(
                    ('"/*"]]}', '"/cache/*"]]}', '/toolchain/*"]]}')
                )
                if _writes(statement) and covers:
                    writers += [role["Ref"] for role in policy["Properties"]["Roles"]]
    assert writers == [build_role]
    [listing] = [s for s in _role_statements(synth, build_role) if as_list(s["Action"]) == ["s3:ListBucket"]]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": [f"{TOOLCHAIN_PREFIX}*"]}}
    # And the logs bucket's own policy denies those writes to every other principal
    denials = [
        s
        for policy in synth.resources("AWS::S3::BucketPolicy").values()
        if policy["Properties"]["Bucket"]["Ref"].startswith("DataLogsBucket")
        for s in statements(policy["Properties"]["PolicyDocument"])
        if s.get("Sid") == "OnlyTheBuildRoleWritesTheToolchain"
    ]
    [deny_others] = denials
    assert deny_others["Effect"] == "Deny"
    assert deny_others["Principal"] == {"AWS": "*"}
    assert {"s3:PutObject", "s3:DeleteObject"} <= set(deny_others["Action"])
    assert json.dumps(deny_others["Resource"]).endswith('"/cache/toolchain/*"]]}')
    assert deny_others["Condition"] == {
        "ArnNotEquals": {"aws:PrincipalArn": {"Fn::GetAtt": [build_role, "Arn"]}}
    }
    # Terraform's deploy role: its boundary denies every object of the service's buckets
    boundary = next(iter(synth.resources("AWS::IAM::ManagedPolicy").values()))["Properties"]
    [deny] = [s for s in statements(boundary["PolicyDocument"]) if s.get("Sid") == "DenyTheServiceData"]
    assert "s3:*" in deny["Action"]
    assert any(
        "DataLogsBucket" in json.dumps(r) and json.dumps(r).endswith('"/*"]]}') for r in deny["Resource"]
    )


def test_project_limits_and_encryption(synth: Synth) -> None:
    project = _project(synth)
    assert project["TimeoutInMinutes"] == 60
    assert project["QueuedTimeoutInMinutes"] == 30
    assert project["Environment"]["PrivilegedMode"] is False
    assert project["EncryptionKey"]["Fn::GetAtt"][0].startswith("EncryptionKey")
    assert project["Source"]["BuildSpec"] == BUILDSPEC_PATH
    group = synth.resources("AWS::Logs::LogGroup")[
        project["LogsConfig"]["CloudWatchLogs"]["GroupName"]["Ref"]
    ]
    assert group["Properties"]["RetentionInDays"] == 90


def test_source_asset_holds_the_runner_the_core_and_pinned_requirements(synth: Synth) -> None:
    key = _project(synth)["Source"]["Location"]["Fn::Join"][1][1].removeprefix("/")
    asset = synth.outdir / f"asset.{key.removesuffix('.zip')}"
    assert (asset / "runner" / "__main__.py").is_file()
    assert (asset / BUILDSPEC_PATH).is_file()
    assert (asset / "core" / "toolchain.py").is_file()
    for other in ("localmode", "functions", "provisioner", "tooling", "cost", "tests", "cdk"):
        assert not (asset / other).exists(), other
    requirements = (asset / "requirements.txt").read_text()
    for package in ("boto3==", "pydantic==", "python-hcl2==", "pyyaml=="):
        assert package in requirements, package
    for package in ("aws-lambda-powertools", "httpx", "typer", "moto"):
        assert package not in requirements, package
    assert "--hash=sha256:" in requirements


def test_build_role_can_do_little_more_than_assume_the_job_role(synth: Synth) -> None:
    build_role = _project(synth)["ServiceRole"]["Fn::GetAtt"][0]
    actions = {a for s in _role_statements(synth, build_role) for a in as_list(s["Action"])}
    assert actions == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:PutObject",
        "s3:ListBucket",
        "s3:GetBucketAcl",
        "s3:GetBucketLocation",
        "kms:Decrypt",
        "kms:DescribeKey",
        "kms:Encrypt",
        "kms:GenerateDataKey",
        "sts:AssumeRole",
        "sts:TagSession",
        # Its own build's phases, for the job's start-up timings: on the runner project only.
        "codebuild:BatchGetBuilds",
    }
    [described] = [
        s for s in _role_statements(synth, build_role) if "codebuild:BatchGetBuilds" in as_list(s["Action"])
    ]
    assert described["Resource"] == {"Fn::GetAtt": [_project_id(synth), "Arn"]}
    [assume] = [s for s in _role_statements(synth, build_role) if "sts:AssumeRole" in as_list(s["Action"])]
    assert assume["Resource"]["Fn::GetAtt"][0] == _role_id(synth, "RunnerJobRole")
    [put] = [s for s in _role_statements(synth, build_role) if "s3:PutObject" in as_list(s["Action"])]
    assert json.dumps(put["Resource"]).endswith('"/cache/toolchain/*"]]}')


def test_job_role_is_trusted_by_the_build_role_only(synth: Synth) -> None:
    job_role = synth.resources("AWS::IAM::Role")[_role_id(synth, "RunnerJobRole")]["Properties"]
    [trust] = job_role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"AWS": {"Fn::GetAtt": [_role_id(synth, "RunnerBuildRole"), "Arn"]}}
    assert sorted(trust["Action"]) == ["sts:AssumeRole", "sts:TagSession"]


def test_job_role_reaches_only_job_shaped_prefixes(synth: Synth) -> None:
    granted = _role_statements(synth, _role_id(synth, "RunnerJobRole"))
    object_resources = [
        json.dumps(r)
        for s in granted
        for r in as_list(s["Resource"])
        if "s3:GetObject" in as_list(s["Action"]) or "s3:PutObject" in as_list(s["Action"])
    ]
    assert object_resources
    assert all(
        r.endswith(('/workspaces/*"]]}', '/logs/*"]]}', '/plans/*"]]}', '/projects/*"]]}'))
        for r in object_resources
    )
    listings = [s for s in granted if s["Action"] == "s3:ListBucket"]
    assert all("s3:prefix" in s["Condition"]["StringLike"] for s in listings)
    actions = {a for s in granted for a in as_list(s["Action"])}
    assert not any(a.startswith(("states:", "codebuild:", "iam:", "lambda:")) for a in actions)
    assert "secretsmanager:GetSecretValue" in actions
    assert {"sts:AssumeRole", "sts:TagSession"} <= actions
    kms = [s for s in granted if "kms:Decrypt" in as_list(s["Action"])]
    assert all("kms:ViaService" in s["Condition"]["StringEquals"] for s in kms)


def test_job_role_keeps_saved_plans_beside_the_state_and_reads_its_log_back(synth: Synth) -> None:
    granted = _role_statements(synth, _role_id(synth, "RunnerJobRole"))

    def resources(action: str, bucket: str, suffix: str) -> list[dict[str, Any]]:
        return [
            s
            for s in granted
            if action in as_list(s["Action"])
            for r in as_list(s["Resource"])
            if bucket in json.dumps(r) and json.dumps(r).endswith(suffix)
        ]

    # Stage plan writes plans/<p>/<j>/tfplan (and the lock file) to the state bucket; stage apply reads it
    assert resources("s3:PutObject", "DataStateBucket", '/plans/*"]]}')
    assert resources("s3:GetObject", "DataStateBucket", '/plans/*"]]}')
    # Stage apply continues the log stage plan wrote
    assert resources("s3:GetObject", "DataLogsBucket", '/logs/*"]]}')
    assert not resources("s3:GetObject", "DataLogsBucket", '/plans/*"]]}')
    [state_listing] = [
        s
        for s in granted
        if s["Action"] == "s3:ListBucket" and "DataStateBucket" in json.dumps(s["Resource"])
    ]
    assert "plans/*" in state_listing["Condition"]["StringLike"]["s3:prefix"]
    # The saved plan is SSE-KMS with the service key: usable through S3
    [kms] = [s for s in granted if "kms:GenerateDataKey" in as_list(s["Action"])]
    via = [json.dumps(v) for v in as_list(kms["Condition"]["StringEquals"]["kms:ViaService"])]
    assert any('"s3."' in v for v in via)


def test_created_deploy_role_is_bounded_and_region_locked(synth: Synth) -> None:
    role_id = _role_id(synth, "RunnerDeployRole")
    role = synth.resources("AWS::IAM::Role")[role_id]["Properties"]
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"AWS": {"Fn::GetAtt": [_role_id(synth, "RunnerJobRole"), "Arn"]}}
    boundary_id = role["PermissionsBoundary"]["Ref"]
    boundary = synth.resources("AWS::IAM::ManagedPolicy")[boundary_id]["Properties"]
    sids = {s.get("Sid") for s in statements(boundary["PolicyDocument"])}
    assert {
        "DenyOutsideAllowedRegions",
        "DenyTheServiceItself",
        "DenyTheServiceData",
        "NewRolesCarryThisBoundary",
    } <= sids
    [guard] = [s for s in _role_statements(synth, role_id) if s.get("Sid") == "DenyOutsideAllowedRegions"]
    assert guard["Effect"] == "Deny"
    assert guard["Condition"] == {"StringNotEquals": {"aws:RequestedRegion": [{"Ref": "AWS::Region"}]}}
    assert "sts:*" in guard["NotAction"]
    synth.template.has_output("DeployRoleBoundaryArn", {})


def test_an_existing_deploy_role_is_used_as_given(existing_role_synth: Synth) -> None:
    synth = existing_role_synth
    environment = _environment(synth)
    assert environment["DEPLOY_ROLE_ARN"] == "arn:aws:iam::123456789012:role/platform-terraform"
    assert environment["ALLOWED_REGIONS"] == "eu-west-1,eu-central-1"
    assert not [k for k in synth.resources("AWS::IAM::Role") if k.startswith("RunnerDeployRole")]
    synth.template.resource_count_is("AWS::IAM::ManagedPolicy", 0)
    granted = _role_statements(synth, _role_id(synth, "RunnerJobRole"))
    assert any(s["Resource"] == "arn:aws:iam::123456789012:role/platform-terraform" for s in granted)
