"""The plan review: terraform's counts, attribute rows, secrets kept back, a comment nothing breaks.

The plans are trimmed from real ``terraform show -json`` output of 1.11.4 and 1.0.3 (null_resource,
terraform_data, terraform_remote_state), with AWS-shaped attributes added where nesting matters.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from core.plans import MAX_DEPTH, MAX_VALUE_CHARS, PlanReview, render_markdown, review_plan
from core.redaction import SENSITIVE, redact_plan

SECRET_BEFORE = "Zq9-OLD-hunter2-secret"
SECRET_AFTER = "Zq9-NEW-hunter2-secret"
SECRET_OUTPUT = "Zq9-OUTPUT-db-password"
COST = {
    "prior": 12.34,
    "proposed": 56.78,
    "delta": 44.44,
    "currency": "USD",
    "priced": 3,
    "total": 5,
    "unpriced": 2,
}


def _plan_1_11() -> dict[str, Any]:
    return {
        "format_version": "1.2",
        "terraform_version": "1.11.4",
        "resource_changes": [
            {
                "address": "null_resource.a",
                "mode": "managed",
                "type": "null_resource",
                "name": "a",
                "provider_name": "registry.terraform.io/hashicorp/null",
                "change": {
                    "actions": ["delete", "create"],
                    "before": {"id": "1066207977815996017", "triggers": {"keep": "k", "name": "one"}},
                    "after": {"triggers": {"keep": "k", "name": "two"}},
                    "after_unknown": {"id": True, "triggers": {}},
                    "before_sensitive": {"triggers": {}},
                    "after_sensitive": {"triggers": {}},
                    "replace_paths": [["triggers"]],
                },
                "action_reason": "replace_because_cannot_update",
            },
            {
                "address": "terraform_data.cbd",
                "mode": "managed",
                "type": "terraform_data",
                "name": "cbd",
                "provider_name": "terraform.io/builtin/terraform",
                "change": {
                    "actions": ["create", "delete"],
                    "before": {
                        "id": "3feafc3f-67d7-ce92-7566-f18fd42793a1",
                        "input": None,
                        "output": None,
                        "triggers_replace": ["c1"],
                    },
                    "after": {"input": None, "output": None, "triggers_replace": ["c2"]},
                    "after_unknown": {"id": True, "triggers_replace": [False]},
                    "before_sensitive": {"triggers_replace": [False]},
                    "after_sensitive": {"triggers_replace": [False]},
                    "replace_paths": [["triggers_replace"]],
                },
                "action_reason": "replace_because_cannot_update",
            },
            {
                "address": "null_resource.gone",
                "mode": "managed",
                "type": "null_resource",
                "name": "gone",
                "change": {
                    "actions": ["delete"],
                    "before": {"id": "5885222500029188062", "triggers": {"x": "1"}},
                    "after": None,
                    "after_unknown": {},
                    "before_sensitive": {"triggers": {}},
                    "after_sensitive": False,
                },
                "action_reason": "delete_because_no_resource_config",
            },
            {
                "address": "null_resource.new",
                "mode": "managed",
                "type": "null_resource",
                "name": "new",
                "change": {
                    "actions": ["create"],
                    "before": None,
                    "after": {},
                    "after_unknown": {"id": True, "triggers": True},
                    "before_sensitive": False,
                    "after_sensitive": {"triggers": {}},
                },
            },
            {
                "address": "terraform_data.upd",
                "mode": "managed",
                "type": "terraform_data",
                "name": "upd",
                "change": {
                    "actions": ["update"],
                    "before": {"id": "f684", "input": "old", "output": "old", "triggers_replace": None},
                    "after": {"id": "f684", "input": "new", "triggers_replace": None},
                    "after_unknown": {"output": True},
                    "before_sensitive": {},
                    "after_sensitive": {},
                },
            },
            {
                # terraform_data.output copies input without the marks: the secret is unmarked there.
                "address": "terraform_data.secret",
                "mode": "managed",
                "type": "terraform_data",
                "name": "secret",
                "change": {
                    "actions": ["update"],
                    "before": {
                        "id": "77aa",
                        "input": {"user": "app", "pw": SECRET_BEFORE},
                        "output": {"user": "app", "pw": SECRET_BEFORE},
                    },
                    "after": {"id": "77aa", "input": {"user": "app", "pw": SECRET_AFTER}},
                    "after_unknown": {"output": True},
                    "before_sensitive": {"input": {"pw": True}, "output": {}},
                    "after_sensitive": {"input": {"pw": True}, "output": {}},
                },
            },
            {
                "address": "module.net.aws_security_group.web",
                "module_address": "module.net",
                "mode": "managed",
                "type": "aws_security_group",
                "name": "web",
                "change": {
                    "actions": ["create"],
                    "before": None,
                    "after": {
                        "name": "web",
                        "description": None,
                        "tags": {"Name": "web", "kubernetes.io/role": "elb"},
                        "ingress": [
                            {"from_port": 443, "cidr_blocks": ["10.0.0.0/8", "192.168.0.0/16"]},
                        ],
                    },
                    "after_unknown": {
                        "arn": True,
                        "id": True,
                        "tags": {},
                        "ingress": [{"cidr_blocks": [False, False]}],
                    },
                    "before_sensitive": False,
                    "after_sensitive": {"tags": {}, "ingress": [{"cidr_blocks": [False, False]}]},
                },
            },
            {
                "address": "data.terraform_remote_state.x",
                "mode": "data",
                "type": "terraform_remote_state",
                "name": "x",
                "change": {
                    "actions": ["read"],
                    "before": None,
                    "after": {"backend": "local", "config": {"path": "/tmp/src.tfstate"}},
                    "after_unknown": {"config": {}, "outputs": True},
                    "before_sensitive": False,
                    "after_sensitive": {"config": {}},
                },
                "action_reason": "read_because_dependency_pending",
            },
            {
                "address": "null_resource.same",
                "mode": "managed",
                "type": "null_resource",
                "name": "same",
                "change": {
                    "actions": ["no-op"],
                    "before": {"id": "5646", "triggers": {"x": "1"}},
                    "after": {"id": "5646", "triggers": {"x": "1"}},
                    "after_unknown": {},
                    "before_sensitive": {"triggers": {}},
                    "after_sensitive": {"triggers": {}},
                },
            },
        ],
        "resource_drift": [
            {
                "address": "null_resource.drifted",
                "mode": "managed",
                "type": "null_resource",
                "name": "drifted",
                "change": {"actions": ["update"], "before": {"id": "1"}, "after": {"id": "2"}},
            }
        ],
        "output_changes": {
            "plain": {
                "actions": ["update"],
                "before": "p1",
                "after": "p2",
                "after_unknown": False,
                "before_sensitive": False,
                "after_sensitive": False,
            },
            "db_conn": {
                "actions": ["create"],
                "before": None,
                "after": SECRET_OUTPUT,
                "after_unknown": False,
                "before_sensitive": False,
                "after_sensitive": True,
            },
            "sg_id": {
                "actions": ["create"],
                "before": None,
                "after": None,
                "after_unknown": True,
                "before_sensitive": False,
                "after_sensitive": False,
            },
            "unchanged_secret": {
                "actions": ["no-op"],
                "before": SECRET_OUTPUT,
                "after": SECRET_OUTPUT,
                "after_unknown": False,
                "before_sensitive": True,
                "after_sensitive": True,
            },
        },
    }


def _plan_1_0() -> dict[str, Any]:
    """1.0.3, format 0.2: no action_reason on a plain delete, the same change shapes."""
    return {
        "format_version": "0.2",
        "terraform_version": "1.0.3",
        "resource_changes": [
            {
                "address": "null_resource.a",
                "mode": "managed",
                "type": "null_resource",
                "name": "a",
                "provider_name": "registry.terraform.io/hashicorp/null",
                "change": {
                    "actions": ["delete", "create"],
                    "before": {"id": "4319", "triggers": {"name": "one", "pw": SECRET_BEFORE}},
                    "after": {"triggers": {"name": "two", "pw": SECRET_BEFORE}},
                    "after_unknown": {"id": True, "triggers": {}},
                    "before_sensitive": {"triggers": {"pw": True}},
                    "after_sensitive": {"triggers": {"pw": True}},
                    "replace_paths": [["triggers"]],
                },
                "action_reason": "replace_because_cannot_update",
            },
            {
                "address": "null_resource.gone",
                "mode": "managed",
                "type": "null_resource",
                "name": "gone",
                "change": {
                    "actions": ["delete"],
                    "before": {"id": "8484", "triggers": {"x": "1"}},
                    "after": None,
                    "after_unknown": {},
                    "before_sensitive": {"triggers": {}},
                    "after_sensitive": False,
                },
            },
            {
                "address": "null_resource.same",
                "mode": "managed",
                "type": "null_resource",
                "name": "same",
                "change": {
                    "actions": ["no-op"],
                    "before": {"id": "5646", "triggers": {"x": "1"}},
                    "after": {"id": "5646", "triggers": {"x": "1"}},
                    "after_unknown": {},
                    "before_sensitive": {"triggers": {}},
                    "after_sensitive": {"triggers": {}},
                },
            },
        ],
        "output_changes": {
            "secret": {
                "actions": ["no-op"],
                "before": SECRET_BEFORE,
                "after": SECRET_BEFORE,
                "after_unknown": False,
                "before_sensitive": True,
                "after_sensitive": True,
            }
        },
    }


def _by_address(review: PlanReview) -> dict[str, dict[str, Any]]:
    return {r["address"]: r for r in review.to_dict()["resourceChanges"]}


def _rows(resource: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["path"]: a for a in resource["attributes"]}


def _everything(plan: dict[str, Any]) -> str:
    review = review_plan(plan)
    return json.dumps(review.to_dict()) + render_markdown(review, project_id="p", job_id="j", cost=COST)


# --- counts -------------------------------------------------------------------------------------


def test_summary_counts_as_terraform_does_for_1_11() -> None:
    # Given a 1.11 plan with two replaces (one create-before-destroy), a create, a module create,
    # two updates, a delete, a data read, a no-op and drift

    # When it is reviewed
    review = review_plan(_plan_1_11())

    # Then replaces count as add, destroy and replace; reads, no-ops and drift count nothing
    assert review.to_dict()["summary"] == {
        "add": 4,
        "change": 2,
        "destroy": 3,
        "replace": 2,
        "import": 0,
        "forget": 0,
        "outputs": 3,
    }
    assert review.has_changes
    assert review.terraform_version == "1.11.4"


def test_summary_counts_for_1_0() -> None:
    review = review_plan(_plan_1_0())

    assert review.summary.to_dict() == {
        "add": 1,
        "change": 0,
        "destroy": 2,
        "replace": 1,
        "import": 0,
        "forget": 0,
        "outputs": 0,
    }
    gone = _by_address(review)["null_resource.gone"]
    assert gone["action"] == "delete"
    assert gone["actionReason"] is None
    assert _rows(gone) == {
        "id": {
            "path": "id",
            "before": "8484",
            "after": None,
            "sensitive": False,
            "unknown": False,
            "forcesReplacement": False,
        },
        "triggers.x": {
            "path": "triggers.x",
            "before": "1",
            "after": None,
            "sensitive": False,
            "unknown": False,
            "forcesReplacement": False,
        },
    }


def test_only_managed_changes_are_listed_in_address_order() -> None:
    review = review_plan(_plan_1_11())

    # data.*, the no-op and the drifted resource are not changes this plan makes
    assert [r.address for r in review.resource_changes] == [
        "module.net.aws_security_group.web",
        "null_resource.a",
        "null_resource.gone",
        "null_resource.new",
        "terraform_data.cbd",
        "terraform_data.secret",
        "terraform_data.upd",
    ]


def test_reads_and_no_ops_alone_are_no_changes() -> None:
    # Given a plan whose only entries are a data read, a no-op and an unchanged output
    plan = _plan_1_11()
    plan["resource_changes"] = [r for r in plan["resource_changes"] if r["name"] in ("x", "same")]
    plan["output_changes"] = {"unchanged_secret": plan["output_changes"]["unchanged_secret"]}

    # When it is reviewed and rendered
    review = review_plan(plan)
    markdown = render_markdown(review, project_id="p1", job_id="j1")

    # Then nothing changes, and the comment says so without a table
    assert not review.has_changes
    assert review.summary.to_dict() == dict.fromkeys(
        ("add", "change", "destroy", "replace", "import", "forget", "outputs"), 0
    )
    assert "No changes. Your infrastructure matches the configuration." in markdown
    assert "| Resource |" not in markdown


def test_import_and_forget_are_changes_terraform_counts_apart() -> None:
    plan = {
        "resource_changes": [
            {
                "address": "aws_s3_bucket.kept",
                "mode": "managed",
                "type": "aws_s3_bucket",
                "name": "kept",
                "change": {"actions": ["forget"], "before": {"bucket": "b"}, "after": None},
            },
            {
                "address": "aws_s3_bucket.imported",
                "mode": "managed",
                "type": "aws_s3_bucket",
                "name": "imported",
                "change": {
                    "actions": ["no-op"],
                    "before": {"bucket": "i"},
                    "after": {"bucket": "i"},
                    "importing": {"id": "i"},
                },
            },
        ]
    }

    review = review_plan(plan)

    assert review.has_changes
    assert review.summary.to_dict()["import"] == 1
    assert review.summary.to_dict()["forget"] == 1
    assert review.summary.add == review.summary.destroy == 0
    assert [r.action for r in review.resource_changes] == ["import", "forget"]
    assert "**Plan:** 1 to import, 0 to add, 0 to change, 0 to destroy, 1 to forget." in render_markdown(
        review, project_id="p", job_id="j"
    )


# --- resources and attributes -------------------------------------------------------------------


def test_replace_marks_only_the_paths_that_force_it() -> None:
    resource = _by_address(review_plan(_plan_1_11()))["null_resource.a"]

    assert resource["action"] == "replace"
    assert resource["actions"] == ["delete", "create"]
    assert resource["createBeforeDestroy"] is False
    assert resource["actionReason"] == "replace_because_cannot_update"
    # triggers.keep did not change, so it is no row
    assert resource["attributes"] == [
        {
            "path": "id",
            "before": "1066207977815996017",
            "after": None,
            "sensitive": False,
            "unknown": True,
            "forcesReplacement": False,
        },
        {
            "path": "triggers.name",
            "before": "one",
            "after": "two",
            "sensitive": False,
            "unknown": False,
            "forcesReplacement": True,
        },
    ]


def test_create_before_destroy_is_a_replace_noted_as_such() -> None:
    resource = _by_address(review_plan(_plan_1_11()))["terraform_data.cbd"]

    assert resource["action"] == "replace"
    assert resource["createBeforeDestroy"] is True
    assert _rows(resource)["triggers_replace[0]"]["before"] == "c1"
    assert _rows(resource)["triggers_replace[0]"]["after"] == "c2"
    assert _rows(resource)["triggers_replace[0]"]["forcesReplacement"] is True


def test_create_lists_known_values_flattened_and_unknown_ones() -> None:
    resource = _by_address(review_plan(_plan_1_11()))["module.net.aws_security_group.web"]

    assert resource["moduleAddress"] == "module.net"
    assert resource["type"] == "aws_security_group"
    assert resource["name"] == "web"
    rows = _rows(resource)
    # description is null: not a value to show; arn and id are known only after apply
    assert list(rows) == [
        "arn",
        "id",
        "ingress[0].cidr_blocks[0]",
        "ingress[0].cidr_blocks[1]",
        "ingress[0].from_port",
        "name",
        "tags.Name",
        'tags["kubernetes.io/role"]',
    ]
    assert rows["ingress[0].cidr_blocks[1]"]["after"] == "192.168.0.0/16"
    assert rows["ingress[0].from_port"]["after"] == 443
    assert rows["arn"] == {
        "path": "arn",
        "before": None,
        "after": None,
        "sensitive": False,
        "unknown": True,
        "forcesReplacement": False,
    }


def test_create_with_every_attribute_unknown_lists_each_of_them() -> None:
    # 1.11 writes after: {} when every attribute is computed
    resource = _by_address(review_plan(_plan_1_11()))["null_resource.new"]

    assert [(a["path"], a["unknown"], a["after"]) for a in resource["attributes"]] == [
        ("id", True, None),
        ("triggers", True, None),
    ]


def test_update_in_place_shows_a_known_value_becoming_unknown_as_one_row() -> None:
    resource = _by_address(review_plan(_plan_1_11()))["terraform_data.upd"]

    assert resource["action"] == "update"
    assert [(a["path"], a["before"], a["after"], a["unknown"]) for a in resource["attributes"]] == [
        ("input", "old", "new", False),
        ("output", "old", None, True),
    ]


def test_a_map_becoming_unknown_is_one_row_hidden_when_it_held_a_secret() -> None:
    resource = _by_address(review_plan(_plan_1_11()))["terraform_data.secret"]

    # output.pw is an unmarked copy of input.pw: the whole output row is hidden
    assert resource["attributes"] == [
        {
            "path": "input.pw",
            "before": SENSITIVE,
            "after": SENSITIVE,
            "sensitive": True,
            "unknown": False,
            "forcesReplacement": False,
        },
        {
            "path": "output",
            "before": SENSITIVE,
            "after": None,
            "sensitive": True,
            "unknown": True,
            "forcesReplacement": False,
        },
    ]


def test_an_emptied_map_is_one_change_not_two() -> None:
    plan = {
        "resource_changes": [
            {
                "address": "aws_vpc.main",
                "mode": "managed",
                "type": "aws_vpc",
                "name": "main",
                "change": {
                    "actions": ["update"],
                    "before": {"tags": {}, "enable_dns": False},
                    "after": {"tags": {"Env": "prod"}, "enable_dns": 0},
                },
            }
        ]
    }

    rows = review_plan(plan).resource_changes[0].attributes

    # false -> 0 is a change terraform would show (types differ); tags = {} is not a row of its own
    assert [(a.path, a.before, a.after) for a in rows] == [
        ("enable_dns", False, 0),
        ("tags.Env", None, "prod"),
    ]


def test_values_nested_past_the_depth_limit_are_one_row() -> None:
    deep: Any = "leaf"
    for i in range(MAX_DEPTH + 3):
        deep = {f"k{i}": deep}
    plan = {
        "resource_changes": [
            {
                "address": "aws_iam_policy.p",
                "mode": "managed",
                "type": "aws_iam_policy",
                "name": "p",
                "change": {"actions": ["create"], "before": None, "after": {"policy": deep}},
            }
        ]
    }

    (row,) = review_plan(plan).resource_changes[0].attributes

    assert row.path.count(".") == MAX_DEPTH - 1
    assert isinstance(row.after, dict)
    assert json.dumps(row.after).count("leaf") == 1


def test_to_dict_is_json_with_camel_case_keys() -> None:
    document = review_plan(_plan_1_11()).to_dict()

    assert json.loads(json.dumps(document)) == document
    assert set(document) == {"terraformVersion", "hasChanges", "summary", "resourceChanges", "outputChanges"}
    assert set(document["resourceChanges"][0]) == {
        "address",
        "moduleAddress",
        "type",
        "name",
        "deposed",
        "actions",
        "action",
        "createBeforeDestroy",
        "importing",
        "actionReason",
        "attributes",
        "omittedAttributes",
    }


def test_the_review_does_not_change_its_input() -> None:
    plan = _plan_1_11()
    original = copy.deepcopy(plan)

    review_plan(plan)

    assert plan == original


# --- secrets ------------------------------------------------------------------------------------


def test_sensitive_values_appear_nowhere_in_a_raw_plan_review() -> None:
    # Given plans not redacted: marked secrets, an unmarked copy, a sensitive output
    for plan in (_plan_1_11(), _plan_1_0()):
        # When everything the service could show is produced
        text = _everything(plan)

        # Then no secret is in it
        for secret in (SECRET_BEFORE, SECRET_AFTER, SECRET_OUTPUT):
            assert secret not in text
        assert "hunter2" not in text


def test_sensitive_values_appear_nowhere_after_the_services_redaction() -> None:
    for plan in (_plan_1_11(), _plan_1_0()):
        redacted = redact_plan(plan, {})

        text = _everything(redacted)

        assert "hunter2" not in text
        assert SECRET_OUTPUT not in text
    # Redacted, a changed secret equals its old self (both are the marker), so only the map that
    # became unknown is left, hidden because it held the marker
    secret = _by_address(review_plan(redact_plan(_plan_1_11(), {})))["terraform_data.secret"]
    assert [(a["path"], a["before"], a["sensitive"]) for a in secret["attributes"]] == [
        ("output", SENSITIVE, True)
    ]


def test_a_marked_value_too_short_to_scrub_is_hidden_by_its_mark() -> None:
    # Given a short marked value (below the scrubber's minimum) under an ordinary name
    plan = {
        "resource_changes": [
            {
                "address": "aws_lock.l",
                "mode": "managed",
                "type": "aws_lock",
                "name": "l",
                "change": {
                    "actions": ["update"],
                    "before": {"code": "Q7x", "digits": [4, 2]},
                    "after": {"code": "Z8y", "digits": [4, 3]},
                    "before_sensitive": {"code": True, "digits": True},
                    "after_sensitive": {"code": True, "digits": True},
                },
            }
        ]
    }

    review = review_plan(plan)
    text = json.dumps(review.to_dict()) + render_markdown(review, project_id="p", job_id="j")

    # Then only the marker shows, and the list is one row: its length is not shown either
    assert [(a.path, a.before, a.after, a.sensitive) for a in review.resource_changes[0].attributes] == [
        ("code", SENSITIVE, SENSITIVE, True),
        ("digits", SENSITIVE, SENSITIVE, True),
    ]
    assert "Q7x" not in text
    assert "Z8y" not in text
    assert "[4" not in text


def test_an_attribute_redacted_by_name_is_reported_sensitive() -> None:
    # Given what redact_plan leaves for a secret-named attribute the provider did not mark
    plan = {
        "resource_changes": [
            {
                "address": "aws_db_instance.db",
                "mode": "managed",
                "type": "aws_db_instance",
                "name": "db",
                "change": {
                    "actions": ["create"],
                    "before": None,
                    "after": {"password": SENSITIVE, "username": "admin"},
                    "after_sensitive": {},
                },
            }
        ]
    }

    rows = {a.path: a for a in review_plan(plan).resource_changes[0].attributes}

    assert rows["password"].sensitive
    assert rows["password"].after == SENSITIVE
    assert not rows["username"].sensitive


def test_a_secret_named_attribute_is_hidden_even_unredacted() -> None:
    plan = {
        "resource_changes": [
            {
                "address": "aws_db_instance.db",
                "mode": "managed",
                "type": "aws_db_instance",
                "name": "db",
                "change": {"actions": ["create"], "before": None, "after": {"master_password": "Pw-7731-x"}},
            }
        ]
    }

    assert "Pw-7731-x" not in _everything(plan)


def test_outputs_hide_sensitive_values_and_show_unknown_ones() -> None:
    outputs = {o["name"]: o for o in review_plan(_plan_1_11()).to_dict()["outputChanges"]}

    assert list(outputs) == ["db_conn", "plain", "sg_id"]
    assert outputs["db_conn"] == {
        "name": "db_conn",
        "actions": ["create"],
        "action": "create",
        "before": None,
        "after": SENSITIVE,
        "sensitive": True,
        "unknown": False,
    }
    assert outputs["plain"]["before"] == "p1"
    assert outputs["plain"]["after"] == "p2"
    assert outputs["sg_id"]["unknown"] is True
    assert outputs["sg_id"]["after"] is None


# --- markdown -----------------------------------------------------------------------------------


def test_markdown_summary_table_and_diffs() -> None:
    markdown = render_markdown(review_plan(_plan_1_11()), project_id="web-prod", job_id="job-42")

    assert markdown.startswith("### Terraform plan for `web-prod` (job `job-42`)\n")
    assert "**Plan:** 4 to add, 2 to change, 3 to destroy (2 replaced). 3 outputs changed." in markdown
    assert "| `-/+` | `null_resource.a` | replace |" in markdown
    assert "| `+/-` | `terraform_data.cbd` | replace (create before destroy) |" in markdown
    assert "| `-` | `null_resource.gone` | delete |" in markdown
    assert "| `~` | `terraform_data.upd` | update |" in markdown
    assert "| `+` | `module.net.aws_security_group.web` | create |" in markdown
    assert '~ triggers.name = "one" -> "two"  # forces replacement' in markdown
    assert '~ id = "1066207977815996017" -> (known after apply)\n' in markdown
    assert "+ ingress[0].from_port = 443\n" in markdown
    assert '- triggers.x = "1"\n' in markdown
    assert "~ input.pw = (sensitive) -> (sensitive)" in markdown
    assert "+ db_conn = (sensitive)" in markdown
    assert "+ sg_id = (known after apply)" in markdown
    assert '~ plain = "p1" -> "p2"' in markdown
    assert "data.terraform_remote_state" not in markdown
    assert "null_resource.same" not in markdown
    assert markdown.count("<details>") == markdown.count("</details>") == 7


def test_markdown_title_is_escaped_prose() -> None:
    markdown = render_markdown(
        review_plan(_plan_1_0()), project_id="p", job_id="j", title="Plan <b>*x*</b>\n# y"
    )

    heading = markdown.splitlines()[0]
    # the newline arrives as the two characters \\n, each escaped: nothing is markup
    assert heading.startswith(r"### Plan \<b\>\*x\*\<\/b\>\\n\# y for `p`")


def test_cost_section() -> None:
    markdown = render_markdown(review_plan(_plan_1_0()), project_id="p", job_id="j", cost=COST)

    assert "**Monthly cost:** $12.34 → ≥ $56.78 (+$44.44)" in markdown
    assert "3 of 5 resources priced, 0 free, 2 unpriced, so the total is a lower bound." in markdown


def test_cost_section_for_a_saving_fully_priced_and_a_first_deploy() -> None:
    saving = {**COST, "prior": 1200.0, "proposed": 1000.5, "delta": -199.5, "priced": 5, "unpriced": 0}
    first = {**COST, "prior": None, "delta": None, "priced": 5, "unpriced": 0}

    review = review_plan(_plan_1_0())
    saving_md = render_markdown(review, project_id="p", job_id="j", cost=saving)
    first_md = render_markdown(review, project_id="p", job_id="j", cost=first)

    assert "**Monthly cost:** $1,200.00 → $1,000.50 (-$199.50)" in saving_md
    assert "5 of 5 resources priced, 0 free, 0 unpriced." in saving_md
    assert "lower bound" not in saving_md
    assert "**Monthly cost:** $56.78\n" in first_md
    assert "≥" not in saving_md + first_md
    assert "#### Cost" not in render_markdown(review, project_id="p", job_id="j")


def _hostile_plan() -> dict[str, Any]:
    address = 'aws_s3_bucket.b["x|y`z```\n\n</details><script>alert(1)</script>"]'
    value = "line1\n```\n</details>\n| a | b |\n````` <!-- " + "v" * 500
    return {
        "resource_changes": [
            {
                "address": address,
                "mode": "managed",
                "type": "aws_s3_bucket",
                "name": "b",
                "index": "x",
                "change": {
                    "actions": ["update"],
                    "before": {"policy": "old", "tags": {"k|`\n": "a"}},
                    "after": {"policy": value, "tags": {"k|`\n": "b"}},
                },
            }
        ],
        "output_changes": {
            "evil```": {"actions": ["create"], "before": None, "after": "```\n</details>"},
        },
    }


def test_hostile_text_stays_inside_its_code_block_and_cell() -> None:
    markdown_it = pytest.importorskip("markdown_it")
    markdown = render_markdown(
        review_plan(_hostile_plan()), project_id="p`|\n", job_id="</details>", title="</details>"
    )

    tokens = markdown_it.MarkdownIt("commonmark").enable("table").parse(markdown)

    # Then the only HTML is our own details tags, each resource one table row of three cells,
    # and one diff block per resource plus one for outputs
    html_blocks = [t.content.strip() for t in tokens if t.type == "html_block"]
    assert len(html_blocks) == 2
    assert html_blocks[0].startswith("<details><summary><code>")
    assert "&lt;/details&gt;&lt;script&gt;" in html_blocks[0]
    assert html_blocks[1] == "</details>"
    assert sum(t.type == "tr_open" for t in tokens) == 2
    assert sum(t.type == "td_open" for t in tokens) == 3
    fences = [t for t in tokens if t.type == "fence"]
    assert [f.info for f in fences] == ["diff", "diff"]
    assert '"line1\\n```\\n</details>\\n| a | b |' in fences[0].content
    assert fences[1].content.startswith('+ evil``` = "```\\n</details>"')


def test_hostile_cells_escape_pipes_and_backticks() -> None:
    markdown = render_markdown(review_plan(_hostile_plan()), project_id="p", job_id="j")

    (row,) = [line for line in markdown.splitlines() if line.startswith("| `~` |")]
    # Every pipe of the address is escaped; the code span fence outruns its longest backtick run
    assert re.search(r"(?<!\\)\|", row.removeprefix("| `~` |").removesuffix("| update |")) is None
    assert "````aws_s3_bucket.b" in row
    assert "\\n\\n" in row


def test_long_values_are_truncated() -> None:
    markdown = render_markdown(review_plan(_hostile_plan()), project_id="p", job_id="j")

    (line,) = [line for line in markdown.splitlines() if line.startswith("~ policy = ")]
    assert line.endswith("…")
    assert len(line) < len('~ policy = "old" -> ') + MAX_VALUE_CHARS + 1
    assert "v" * 500 not in markdown
