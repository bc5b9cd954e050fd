"""Tables and buckets: keys and indexes as local mode has them, and every security setting."""

from __future__ import annotations

from pathlib import Path

from aws_cdk.assertions import Match

from core.records import JOBS_BY_CREATION_INDEX, JOBS_BY_PROJECT_INDEX
from tests.infrastructure.conftest import SKIP_BUNDLING, Synth, statements, synthesize

KEY = {"Fn::GetAtt": [Match.string_like_regexp("^EncryptionKey"), "Arn"]}


def _table_logical_id(synth: Synth, key: str) -> str:
    [logical_id] = [
        k
        for k, v in synth.resources("AWS::DynamoDB::Table").items()
        if v["Properties"]["KeySchema"][0]["AttributeName"] == key
    ]
    return logical_id


def test_six_tables_on_demand_with_pitr_and_the_stack_key(synth: Synth) -> None:
    synth.template.resource_count_is("AWS::DynamoDB::Table", 6)
    synth.template.all_resources_properties(
        "AWS::DynamoDB::Table",
        {
            "BillingMode": "PAY_PER_REQUEST",
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": KEY},
        },
    )


def test_table_keys_match_the_emulator(synth: Synth) -> None:
    for key in ("jobId", "projectId", "LockID", "id", "scope"):
        _table_logical_id(synth, key)  # exactly one table per partition key
    synth.template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "jobId", "KeyType": "HASH"}],
            "GlobalSecondaryIndexes": Match.array_with(
                [
                    {
                        "IndexName": name,
                        "KeySchema": [
                            {"AttributeName": partition, "KeyType": "HASH"},
                            {"AttributeName": "createdAt", "KeyType": "RANGE"},
                        ],
                        "Projection": {"ProjectionType": "ALL"},
                    }
                    for name, partition in (
                        (JOBS_BY_PROJECT_INDEX, "projectId"),
                        (JOBS_BY_CREATION_INDEX, "kind"),
                    )
                ]
            ),
            "AttributeDefinitions": Match.array_with(
                [
                    {"AttributeName": "projectId", "AttributeType": "S"},
                    {"AttributeName": "createdAt", "AttributeType": "N"},
                    {"AttributeName": "kind", "AttributeType": "S"},
                ]
            ),
        },
    )


def test_policies_are_keyed_by_scope_and_policy_key_as_the_store_reads_them(synth: Synth) -> None:
    # Given functions/dal/policies.py (scope = install | project#<id>; policyKey = head#<name> |
    # version#<name>#<n>) / Then both keys are strings, no index, and nothing expires
    table = synth.document["Resources"][_table_logical_id(synth, "scope")]["Properties"]
    assert table["KeySchema"] == [
        {"AttributeName": "scope", "KeyType": "HASH"},
        {"AttributeName": "policyKey", "KeyType": "RANGE"},
    ]
    assert table["AttributeDefinitions"] == [
        {"AttributeName": "scope", "AttributeType": "S"},
        {"AttributeName": "policyKey", "AttributeType": "S"},
    ]
    assert "GlobalSecondaryIndexes" not in table
    assert "TimeToLiveSpecification" not in table


def test_idempotency_records_expire(synth: Synth) -> None:
    synth.template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "TimeToLiveSpecification": {"AttributeName": "expiration", "Enabled": True},
        },
    )


def test_state_and_records_outlive_the_stack(synth: Synth) -> None:
    resources = synth.document["Resources"]
    # The policies' versions are the record of what each job was checked against.
    for key in ("LockID", "projectId", "jobId", "scope"):
        table = resources[_table_logical_id(synth, key)]
        assert table["DeletionPolicy"] == "Retain"
        assert table["Properties"]["DeletionProtectionEnabled"] is True
    [state] = [k for k in synth.resources("AWS::S3::Bucket") if k.startswith("DataStateBucket")]
    assert resources[state]["DeletionPolicy"] == "Retain"
    [kms_key] = synth.resources("AWS::KMS::Key").values()
    assert kms_key["DeletionPolicy"] == "Retain"  # retained state is unreadable without it


def test_buckets_are_private_versioned_and_encrypted(synth: Synth) -> None:
    buckets = synth.resources("AWS::S3::Bucket")
    assert len(buckets) == 4
    for logical_id, bucket in buckets.items():
        properties = bucket["Properties"]
        assert properties["VersioningConfiguration"] == {"Status": "Enabled"}, logical_id
        assert properties["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, logical_id
        [rule] = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        if logical_id.startswith("DataAccessLogsBucket"):
            # Server access logs can only be delivered to SSE-S3 buckets.
            assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
        else:
            assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms", logical_id
            assert rule["BucketKeyEnabled"] is True
            destination = properties["LoggingConfiguration"]["DestinationBucketName"]["Ref"]
            assert destination.startswith("DataAccessLogsBucket"), logical_id


def test_every_bucket_refuses_plain_http(synth: Synth) -> None:
    policies = synth.resources("AWS::S3::BucketPolicy")
    covered = set()
    for policy in policies.values():
        for statement in statements(policy["Properties"]["PolicyDocument"]):
            if statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}:
                assert statement["Effect"] == "Deny"
                assert statement["Action"] == "s3:*"
                covered.add(policy["Properties"]["Bucket"]["Ref"])
    assert covered == set(synth.resources("AWS::S3::Bucket"))


def test_lifecycle_keeps_current_state_and_code(synth: Synth) -> None:
    buckets = synth.resources("AWS::S3::Bucket")
    for logical_id, bucket in buckets.items():
        rules = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
        if logical_id.startswith(("DataStateBucket", "DataWorkspacesBucket")):
            # A project's latest code and state are needed for its destroy, however old.
            assert all("ExpirationInDays" not in rule for rule in rules), logical_id
            assert any("NoncurrentVersionExpiration" in rule for rule in rules), logical_id
        if logical_id.startswith("DataLogsBucket"):
            expiring = {rule.get("Prefix"): rule.get("ExpirationInDays") for rule in rules}
            assert expiring["logs/"] == 90  # the log retention option's default
            assert expiring["plans/"] == 90
            assert expiring["cache/"] == 30


def _state_rule(synth: Synth) -> dict[str, object]:
    [bucket] = [b for k, b in synth.resources("AWS::S3::Bucket").items() if k.startswith("DataStateBucket")]
    [rule] = [
        r
        for r in bucket["Properties"]["LifecycleConfiguration"]["Rules"]
        if r["Id"] == "ExpireOldStateVersions"
    ]
    return dict(rule)


def test_old_state_versions_expire_after_the_install_retention(synth: Synth, tmp_path: Path) -> None:
    # Given: the default install keeps the state history 90 days
    assert _state_rule(synth)["NoncurrentVersionExpiration"] == {"NoncurrentDays": 90}
    # When: an install chooses another retention
    custom = synthesize(tmp_path, {"provisioner:stateVersionRetentionDays": 400, **SKIP_BUNDLING})
    # Then: the rule follows it, and the current version still never expires
    rule = _state_rule(custom)
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 400}
    assert "ExpirationInDays" not in rule and rule["Status"] == "Enabled"


def test_the_delete_markers_lock_files_leave_are_removed_once_bare(synth: Synth) -> None:
    # Terraform 1.10+ writes and deletes <state>.tflock at every run: each leaves a delete marker,
    # removed once the version under it has expired (a current state is never a delete marker)
    rule = _state_rule(synth)
    assert rule["ExpiredObjectDeleteMarker"] is True
    assert "ExpirationInDays" not in rule


def test_the_jobs_and_projects_tables_stream_both_images_to_the_notifier(synth: Synth) -> None:
    tables = synth.resources("AWS::DynamoDB::Table")
    streamed = {
        table["Properties"]["KeySchema"][0]["AttributeName"]
        for table in tables.values()
        if table["Properties"].get("StreamSpecification") == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    }
    assert streamed == {"jobId", "projectId"}
    mappings = synth.resources("AWS::Lambda::EventSourceMapping").values()
    assert len(mappings) == 2
    for mapping in mappings:
        properties = mapping["Properties"]
        assert properties["FunctionName"]["Ref"].startswith("FunctionsNotifier")
        assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert properties["MaximumRetryAttempts"] == 10


def test_the_notifications_table_is_retained_with_its_pending_index(synth: Synth) -> None:
    [(logical_id, table)] = [
        (name, t)
        for name, t in synth.resources("AWS::DynamoDB::Table").items()
        if t["Properties"]["KeySchema"][0]["AttributeName"] == "pk"
    ]
    assert logical_id.startswith("DataNotificationsTable")
    assert table["DeletionPolicy"] == "Retain"
    assert table["Properties"]["DeletionProtectionEnabled"] is True
    [index] = table["Properties"]["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "pending-deliveries"
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["pending", "nextAttemptAt"]
