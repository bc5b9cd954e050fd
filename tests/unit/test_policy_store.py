"""The policy store's port: DynamoDB (moto) and the in-memory fake keep the same contract, a new
version only on top of the head its writer read."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from functions.dal import aws
from functions.dal.policies import INSTALL_SCOPE, DynamoPolicyStore, PolicyStore, project_scope
from tests.support.fakes import FakePolicyStore

TABLE = "policies-test"


@pytest.fixture(params=["dynamodb", "fake"])
def store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[PolicyStore]:
    if request.param == "fake":
        yield FakePolicyStore()
        return
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    with mock_aws():
        aws.dynamodb.cache_clear()
        boto3.client("dynamodb").create_table(
            TableName=TABLE,
            KeySchema=[
                {"AttributeName": "scope", "KeyType": "HASH"},
                {"AttributeName": "policyKey", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "scope", "AttributeType": "S"},
                {"AttributeName": "policyKey", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield DynamoPolicyStore(TABLE)
        aws.dynamodb.cache_clear()


def _item(name: str, version: int, scope: str = INSTALL_SCOPE, level: str = "mandatory") -> dict[str, object]:
    return {"scope": scope, "name": name, "version": version, "kind": "rego", "level": level, "source": "x"}


def test_versions_stack_on_the_head_they_read(store: PolicyStore) -> None:
    assert store.put(_item("types", 1))
    assert not store.put(_item("types", 1, level="advisory"))  # a second first version loses
    assert store.put(_item("types", 2, level="advisory"))
    assert not store.put(_item("types", 2))  # written on a head that moved
    assert not store.put(_item("types", 4))  # skipping a version
    head = store.head(INSTALL_SCOPE, "types")
    assert head is not None and head["version"] == 2 and head["level"] == "advisory"
    assert [v["version"] for v in store.versions(INSTALL_SCOPE, "types")] == [1, 2]
    first = store.version(INSTALL_SCOPE, "types", 1)
    assert first is not None and first["level"] == "mandatory"


def test_scopes_and_names_are_apart(store: PolicyStore) -> None:
    assert store.put(_item("types", 1))
    assert store.put(_item("types", 1, scope=project_scope("p1")))
    assert store.put(_item("types-b", 1))
    assert [h["name"] for h in store.heads(INSTALL_SCOPE)] == ["types", "types-b"]
    assert [h["name"] for h in store.heads(project_scope("p1"))] == ["types"]
    assert store.heads(project_scope("p2")) == []
    # "types" versions do not include "types-b" ones
    assert len(store.versions(INSTALL_SCOPE, "types")) == 1
    assert store.head(INSTALL_SCOPE, "missing") is None
