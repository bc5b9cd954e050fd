"""What a drift check reports from terraform's two plans: managed resources only, attributes by
path, sensitive values hidden, provider normalisation ignored, and the cost of the drift."""

from __future__ import annotations

from typing import Any

from core.drift import changed_attributes, cost_plans, drift_report, drifted_resources, planned_changes
from core.redaction import SENSITIVE
from functions.logic.drift import drift_cost


def change(
    address: str,
    before: Any,
    after: Any,
    *,
    actions: tuple[str, ...] = ("update",),
    mode: str = "managed",
    **extra: Any,
) -> dict[str, Any]:
    kind, _, name = address.removeprefix("data.").partition(".")
    body = {"actions": list(actions), "before": before, "after": after, **extra}
    return {"address": address, "mode": mode, "type": kind, "name": name, "change": body}


def prior_state(*addresses: str) -> dict[str, Any]:
    return {
        "values": {
            "root_module": {
                "resources": [{"address": a, "mode": "managed", "type": a.split(".")[0]} for a in addresses],
                "child_modules": [
                    {"resources": [{"address": "module.m.aws_sqs_queue.q", "mode": "managed"}]},
                ],
            }
        }
    }


def test_a_tag_added_by_hand_is_named_down_to_its_key() -> None:
    drift = drifted_resources(
        {
            "resource_drift": [
                change(
                    "aws_s3_bucket.b", {"tags": None, "bucket": "x"}, {"tags": {"owner": "m"}, "bucket": "x"}
                )
            ]
        }
    )
    assert drift == [
        {
            "address": "aws_s3_bucket.b",
            "type": "aws_s3_bucket",
            "name": "b",
            "actions": ["update"],
            "attributes": [{"attribute": "tags.owner", "before": None, "after": "m"}],
        }
    ]


def test_null_read_back_as_empty_is_no_drift_at_all() -> None:
    normalised = change("aws_sqs_queue.q", {"tags": None, "policy": ""}, {"tags": {}, "policy": None})
    assert drifted_resources({"resource_drift": [normalised]}) == []


def test_data_sources_reads_and_no_ops_are_never_drift() -> None:
    entries = [
        change("data.aws_sqs_queue.external", {"url": "a"}, {"url": "b"}, mode="data"),
        change("aws_s3_bucket.read", {"a": 1}, {"a": 2}, actions=("read",)),
        change("aws_s3_bucket.same", {"a": 1}, {"a": 1}, actions=("no-op",)),
    ]
    assert drifted_resources({"resource_drift": entries}) == []
    assert planned_changes({"resource_changes": entries}) == []


def test_a_resource_deleted_by_hand_and_one_in_a_module() -> None:
    gone = change("aws_sqs_queue.q", {"name": "q"}, None, actions=("delete",))
    nested = change("module.m.aws_sqs_queue.q", {"delay_seconds": 0}, {"delay_seconds": 5})
    nested["module_address"] = "module.m"
    found = drifted_resources({"resource_drift": [gone, nested]})
    assert found[0]["actions"] == ["delete"] and found[0]["attributes"][0]["attribute"] == "name"
    assert found[1]["module"] == "module.m"
    assert found[1]["attributes"] == [{"attribute": "delay_seconds", "before": 0, "after": 5}]


def test_sensitive_values_stay_hidden_at_any_depth() -> None:
    attributes = changed_attributes(
        {
            "before": {"password": "old-secret", "settings": [{"token": "t1", "size": 1}]},
            "after": {"password": "new-secret", "settings": [{"token": "t2", "size": 2}]},
            "before_sensitive": {"password": True},
            "after_sensitive": {"settings": [{"token": True}]},
        }
    )
    shown = {a["attribute"]: (a["before"], a["after"]) for a in attributes}
    assert shown == {
        "password": (SENSITIVE, SENSITIVE),
        "settings[0].size": (1, 2),
        "settings[0].token": (SENSITIVE, SENSITIVE),
    }
    assert "secret" not in repr(attributes) and "t1" not in repr(attributes)


def test_a_list_of_a_new_length_is_one_change_and_long_values_are_cut() -> None:
    attributes = changed_attributes(
        {"before": {"cidrs": ["a"], "doc": "x" * 500}, "after": {"cidrs": ["a", "b"], "doc": "y" * 500}}
    )
    by_path = {a["attribute"]: a for a in attributes}
    assert by_path["cidrs"]["after"] == ["a", "b"]
    assert len(by_path["doc"]["after"]) < 210


def test_the_report_is_clean_only_when_reality_and_code_agree() -> None:
    refresh = {"resource_drift": [], "prior_state": prior_state("aws_s3_bucket.b")}
    assert drift_report(refresh, {"resource_changes": []})["status"] == "clean"
    assert drift_report(refresh, {"resource_changes": []})["counts"] == {
        "drifted": 0,
        "plannedChanges": 0,
        "managed": 2,
    }
    # The code would change something reality did not move: drift between the code and the state.
    planned = {"resource_changes": [change("aws_s3_bucket.b", {"acl": "private"}, {"acl": "public-read"})]}
    report = drift_report(refresh, planned)
    assert report["status"] == "drifted" and report["counts"]["plannedChanges"] == 1


def test_the_drift_is_priced_as_recorded_and_as_it_really_is() -> None:
    refresh = {
        "resource_drift": [
            change(
                "aws_instance.web",
                {"instance_type": "t3.micro", "ami": "ami-1"},
                {"instance_type": "t3.large", "ami": "ami-1"},
            ),
            change("data.aws_ami.x", {}, {"id": "y"}, mode="data"),
        ],
        "configuration": {
            "provider_config": {"aws": {"expressions": {"region": {"constant_value": "us-east-1"}}}}
        },
    }
    recorded, actual = cost_plans(refresh)
    assert [c["change"]["after"]["instance_type"] for c in recorded["resource_changes"]] == ["t3.micro"]
    assert [c["change"]["after"]["instance_type"] for c in actual["resource_changes"]] == ["t3.large"]
    cost = drift_cost(refresh, "us-east-1")
    assert cost is not None
    # t3.micro $0.0104/h and t3.large $0.0832/h, 730 h a month: $7.59 and $60.74 (each to the
    # cent), each with the default 8 GB gp2 root volume at $0.10/GB ($0.80), which does not change.
    assert (cost["recorded"], cost["actual"], cost["delta"]) == (8.39, 61.54, 53.15)
    assert cost["actual"] > cost["recorded"] > 0 and cost["priced"] == 1 and not cost["lowerBound"]
    assert drift_cost({"resource_drift": []}, "us-east-1") is None
