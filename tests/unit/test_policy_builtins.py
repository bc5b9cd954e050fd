"""The built-in policy checks over synthetic plans in the shape terraform's ``show -json`` writes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from policy.builtins import BUILTINS, parse_settings
from policy.builtins import _plan as plan_json
from policy.expressions import bare_references
from policy.model import Finding, PolicyContext, PolicyError

AWS = "registry.terraform.io/hashicorp/aws"
NULL = "registry.terraform.io/hashicorp/null"
CONTEXT = PolicyContext(project_id="p", caller="alice", action="deploy", default_region="us-east-1")


def change(
    address: str,
    actions: list[str],
    *,
    after: dict[str, Any] | None = None,
    after_unknown: dict[str, Any] | None = None,
    before: dict[str, Any] | None = None,
    mode: str = "managed",
    provider: str = AWS,
    deposed: str | None = None,
    previous_address: str | None = None,
) -> dict[str, Any]:
    """A resource_changes entry: type, name, index and module_address from the address."""
    parts = address.split(".")
    position = 0
    modules: list[str] = []
    while parts[position] == "module":
        modules += parts[position : position + 2]
        position += 2
    if parts[position] == "data":
        position += 1
    rest = ".".join(parts[position:])
    type_, _, name = rest.partition(".")
    index: Any = None
    if "[" in name:
        name, _, key = name.partition("[")
        key = key.rstrip("]")
        index = json.loads(key)
    entry: dict[str, Any] = {
        "address": address,
        "mode": mode,
        "type": type_,
        "name": name,
        "provider_name": provider,
        "change": {
            "actions": actions,
            "before": before,
            "after": after,
            "after_unknown": after_unknown
            if after_unknown is not None
            else ({} if after is not None else False),
            "before_sensitive": {} if before is not None else False,
            "after_sensitive": {} if after is not None else False,
        },
    }
    if modules:
        entry["module_address"] = ".".join(modules)
    if index is not None:
        entry["index"] = index
    if deposed:
        entry["deposed"] = deposed
    if previous_address:
        entry["previous_address"] = previous_address
    return entry


def resource(
    type_: str, name: str, provider_key: str = "aws", expressions: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "address": f"{type_}.{name}",
        "mode": "managed",
        "type": type_,
        "name": name,
        "provider_config_key": provider_key,
        "expressions": expressions or {},
        "schema_version": 0,
    }


def module(resources: list[dict[str, Any]] | None = None, **calls: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"resources": resources or []}
    if calls:
        body["module_calls"] = calls
    return body


def call(inner: dict[str, Any], source: str = "./child", **expressions: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"source": source, "module": inner}
    if expressions:
        body["expressions"] = expressions
    return body


def aws_provider(
    region: Any = None, alias: str | None = None, module_address: str | None = None, **extra: Any
) -> dict[str, Any]:
    expressions: dict[str, Any] = {"access_key": {"constant_value": "k"}, **extra}
    if region is not None:
        expressions["region"] = region
    body: dict[str, Any] = {"name": "aws", "full_name": AWS, "expressions": expressions}
    if alias:
        body["alias"] = alias
    if module_address:
        body["module_address"] = module_address
    return body


def const(value: Any) -> dict[str, Any]:
    return {"constant_value": value}


def ref(*names: str) -> dict[str, Any]:
    return {"references": list(names)}


def plan(
    changes: list[dict[str, Any]],
    *,
    root: dict[str, Any] | None = None,
    providers: dict[str, Any] | None = None,
    variables: dict[str, Any] | None = None,
    version: str = "1.11.4",
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "format_version": "1.2" if version >= "1.1" else "0.2",
        "terraform_version": version,
        "planned_values": {"root_module": {}},
        "resource_changes": changes,
        "configuration": {
            "provider_config": providers
            if providers is not None
            else {"aws": aws_provider(const("us-east-1"))},
            "root_module": root or module(),
        },
    }
    if variables is not None:
        document["variables"] = {name: {"value": value} for name, value in variables.items()}
    return document


def run(
    name: str, document: Mapping[str, Any], settings: dict[str, Any], context: PolicyContext = CONTEXT
) -> list[Finding]:
    builtin = BUILTINS[name]
    return builtin.check(document, parse_settings(name, settings), context)


def messages(findings: list[Finding]) -> str:
    return "\n".join(finding.message for finding in findings)


# --- registry and settings ----------------------------------------------------------------------


def test_registry_lists_the_six_with_defaults_that_parse() -> None:
    assert set(BUILTINS) == {
        "destroy-protection",
        "budget",
        "allowed-regions",
        "allowed-classes",
        "required-tags",
        "public-exposure",
    }
    for name, builtin in BUILTINS.items():
        assert builtin.name == name and builtin.description and "\n" not in builtin.description
        assert isinstance(parse_settings(name, None), builtin.settings)
        assert builtin.settings.model_config.get("extra") == "forbid"


def test_parse_settings_rejects_unknown_fields_and_wrong_types() -> None:
    with pytest.raises(PolicyError) as unknown:
        parse_settings("destroy-protection", {"typez": ["aws_db_instance"]})
    assert unknown.value.message == "destroy-protection settings: typez: not a setting of this policy"
    with pytest.raises(PolicyError) as wrong:
        parse_settings("destroy-protection", {"types": "aws_db_instance", "anyDelete": "maybe"})
    assert "types: Input should be a valid list" in wrong.value.message
    assert "anyDelete:" in wrong.value.message and "\n" not in wrong.value.message
    with pytest.raises(PolicyError, match="ports"):
        parse_settings("public-exposure", {"ports": [70000]})
    with pytest.raises(PolicyError, match=r"values\.Env"):
        parse_settings("required-tags", {"values": {"Env": "prod"}})
    with pytest.raises(PolicyError, match="no built-in policy named 'nope'"):
        parse_settings("nope", {})


def test_malformed_plans_raise_instead_of_passing() -> None:
    with pytest.raises(PolicyError):
        run("destroy-protection", {"resource_changes": {"a": 1}}, {"anyDelete": True})
    with pytest.raises(PolicyError):
        run(
            "destroy-protection", {"resource_changes": [{"address": "x.y", "type": "x"}]}, {"anyDelete": True}
        )
    broken = change("aws_instance.a", ["delete"], before={})
    broken["change"]["actions"] = "delete"
    with pytest.raises(PolicyError):
        run("destroy-protection", plan([broken]), {"anyDelete": True})


# --- the plan walker ----------------------------------------------------------------------------


def test_module_addresses_and_instance_keys() -> None:
    assert plan_json.module_calls_of(None) == []
    assert plan_json.module_calls_of('module.a["x.y]"].module.b[0]') == ["a", "b"]
    assert plan_json.without_instance_keys('module.a["x"].aws_instance.web[0]') == "module.a.aws_instance.web"
    assert plan_json.glob_match("aws_instance.web[0]", "aws_instance.web[0]")
    assert not plan_json.glob_match("aws_instance.web[0]", "aws_instance.web0")
    assert plan_json.glob_match("module.db.*", 'module.db.module.x["k"].aws_db_instance.main')
    with pytest.raises(PolicyError):
        plan_json.module_calls_of("module.a[0")


def test_unknown_paths() -> None:
    entry = change(
        "aws_instance.a",
        ["create"],
        after={"tags": {"Name": "x"}, "ebs": [{"size": 1}, None]},
        after_unknown={"id": True, "tags": {"Env": True}, "ebs": [False, True]},
    )
    assert plan_json.after_value(entry, "id") is plan_json.UNKNOWN
    assert plan_json.after_value(entry, "tags", "Env") is plan_json.UNKNOWN
    assert plan_json.after_value(entry, "tags", "Name") == "x"
    assert plan_json.after_value(entry, "ebs", 1, "size") is plan_json.UNKNOWN
    assert plan_json.after_value(entry, "ebs", 0, "size") == 1
    assert plan_json.after_value(entry, "nothing") is None


def test_expressions_resolve_constants_and_one_variable_only() -> None:
    document = plan([], variables={"region": "eu-west-1"})
    assert plan_json.resolve_expression(document, const("x")) == "x"
    assert plan_json.resolve_expression(document, ref("var.region")) == "eu-west-1"
    assert plan_json.resolve_expression(document, ref("var.region", "local.x")) is plan_json.UNKNOWN
    assert plan_json.resolve_expression(document, ref("var.missing")) is plan_json.UNKNOWN
    assert plan_json.resolve_expression(document, ref("data.aws_region.x.name")) is plan_json.UNKNOWN


# --- destroy-protection -------------------------------------------------------------------------

DB_BEFORE = {"identifier": "main", "instance_class": "db.t3.micro"}


def test_destroy_passes_with_nothing_protected_or_no_protected_delete() -> None:
    deleting = plan([change("aws_db_instance.main", ["delete"], before=DB_BEFORE)])
    assert run("destroy-protection", deleting, {}) == []
    assert run("destroy-protection", deleting, {"types": ["aws_s3_bucket"]}) == []
    updating = plan([change("aws_db_instance.main", ["update"], before=DB_BEFORE, after=DB_BEFORE)])
    assert run("destroy-protection", updating, {"types": ["aws_db_instance"]}) == []


def test_destroy_finds_deletes_by_type_address_and_any() -> None:
    document = plan(
        [
            change("aws_db_instance.main", ["delete"], before=DB_BEFORE),
            change("aws_s3_bucket.logs", ["delete"], before={"bucket": "logs"}),
        ]
    )
    findings = run("destroy-protection", document, {"types": ["aws_db_instance"]})
    assert findings == [
        Finding("aws_db_instance.main (aws_db_instance) would be destroyed", "aws_db_instance.main")
    ]
    assert [f.address for f in run("destroy-protection", document, {"addresses": ["aws_s3_*"]})] == [
        "aws_s3_bucket.logs"
    ]
    assert len(run("destroy-protection", document, {"anyDelete": True})) == 2


def test_destroy_attacker_forms() -> None:
    document = plan(
        [
            # child modules, count and for_each indexes
            change("module.a.module.b.aws_db_instance.x", ["delete"], before=DB_BEFORE),
            change("aws_db_instance.web[0]", ["delete"], before=DB_BEFORE),
            change('module.m["k"].aws_db_instance.web["a"]', ["delete"], before=DB_BEFORE),
            # replace in both orders
            change("aws_db_instance.r1", ["delete", "create"], before=DB_BEFORE, after=DB_BEFORE),
            change("aws_db_instance.r2", ["create", "delete"], before=DB_BEFORE, after=DB_BEFORE),
            # a deposed object
            change("aws_db_instance.d", ["delete"], before=DB_BEFORE, deposed="00000001"),
            # renamed by a moved block (no delete), and a forget (removed with destroy = false)
            change(
                "aws_db_instance.new",
                ["no-op"],
                before=DB_BEFORE,
                after=DB_BEFORE,
                previous_address="aws_db_instance.old",
            ),
            change("aws_db_instance.kept", ["forget"], before=DB_BEFORE),
            # a data source is never checked
            change("data.aws_db_instance.read", ["delete"], before=DB_BEFORE, mode="data"),
        ]
    )
    findings = run("destroy-protection", document, {"types": ["aws_db_instance"]})
    text = messages(findings)
    assert [f.address for f in findings] == [
        "module.a.module.b.aws_db_instance.x",
        "aws_db_instance.web[0]",
        'module.m["k"].aws_db_instance.web["a"]',
        "aws_db_instance.r1",
        "aws_db_instance.r2",
        "aws_db_instance.d",
    ]
    assert "aws_db_instance.r1 (aws_db_instance) would be replaced (destroyed, then created)" in text
    assert "aws_db_instance.r2 (aws_db_instance) would be replaced (created, then destroyed)" in text
    assert "would have its deposed object 00000001 destroyed" in text
    # an address glob without the index still covers every instance
    by_address = run("destroy-protection", document, {"addresses": ["aws_db_instance.web", "module.m.*"]})
    assert [f.address for f in by_address] == [
        "aws_db_instance.web[0]",
        'module.m["k"].aws_db_instance.web["a"]',
    ]
    assert [
        f.address for f in run("destroy-protection", document, {"addresses": ["aws_db_instance.web[0]"]})
    ] == ["aws_db_instance.web[0]"]


def test_destroy_plan_deletes_are_found() -> None:
    document = plan([change("module.db.aws_db_instance.main", ["delete"], before=DB_BEFORE)])
    context = PolicyContext(project_id="p", caller="c", action="destroy")
    assert len(run("destroy-protection", document, {"types": ["aws_db_instance"]}, context)) == 1


# --- budget -------------------------------------------------------------------------------------


def cost(**values: Any) -> PolicyContext:
    base = {
        "prior": 100.0,
        "proposed": 150.0,
        "delta": 50.0,
        "currency": "USD",
        "priced": 5,
        "free": 0,
        "unpriced": 0,
        "total": 5,
        "lowerBound": False,
    }
    return PolicyContext(project_id="p", caller="c", action="deploy", cost={**base, **values})


def test_budget_passes_without_limits_or_under_them() -> None:
    assert run("budget", plan([]), {}, cost(unpriced=3)) == []
    assert (
        run(
            "budget",
            plan([]),
            {"maxMonthlyTotal": 500, "maxMonthlyDelta": 60, "maxMonthlyDeltaPercent": 50},
            cost(),
        )
        == []
    )


def test_budget_over_a_limit_names_amount_limit_and_coverage() -> None:
    context = cost(proposed=612.4, priced=3, free=1, unpriced=1, total=5, lowerBound=True, delta=512.4)
    findings = run("budget", plan([]), {"maxMonthlyTotal": 500}, context)
    assert messages(findings) == (
        "proposed monthly cost $612.40 is over the limit $500.00 (3 of 5 resources priced, 1 free, "
        "1 unpriced: a lower bound)"
    )
    delta = run("budget", plan([]), {"maxMonthlyDelta": 10}, cost())
    assert messages(delta) == "monthly cost change +$50.00 is over the limit $10.00 (5 of 5 resources priced)"
    percent = run("budget", plan([]), {"maxMonthlyDeltaPercent": 20}, cost())
    assert "+50.0% ($100.00 to $150.00) is over the limit 20%" in messages(percent)
    euros = run("budget", plan([]), {"maxMonthlyTotal": 1}, cost(currency="EUR"))
    assert "150.00 EUR is over the limit 1.00 EUR" in messages(euros)


def test_budget_unpriced_resources_never_count_as_zero() -> None:
    findings = run("budget", plan([]), {"maxMonthlyTotal": 500}, cost(unpriced=2, total=7, lowerBound=True))
    assert messages(findings) == (
        "cannot show the budget holds: 2 resources are unpriced (5 of 7 resources priced, 2 unpriced: a lower bound)"
    )


def test_budget_prior_not_priced_and_first_deploys() -> None:
    unpriced_prior = cost(prior=None, delta=None)
    assert "the prior cost could not be priced" in messages(
        run("budget", plan([]), {"maxMonthlyDelta": 100}, unpriced_prior)
    )
    assert "the prior cost could not be priced" in messages(
        run("budget", plan([]), {"maxMonthlyDeltaPercent": 10}, unpriced_prior)
    )
    # From $0 the percentage is not checked, the absolute limits are
    first = cost(prior=0.0, delta=150.0)
    assert run("budget", plan([]), {"maxMonthlyDeltaPercent": 10}, first) == []
    assert len(run("budget", plan([]), {"maxMonthlyDeltaPercent": 10, "maxMonthlyTotal": 100}, first)) == 1


def test_budget_without_an_estimate_fails_closed() -> None:
    with pytest.raises(PolicyError, match="no cost estimate"):
        run("budget", plan([]), {"maxMonthlyTotal": 1})
    with pytest.raises(PolicyError, match="proposed"):
        run("budget", plan([]), {"maxMonthlyTotal": 1}, cost(proposed="lots"))


# --- allowed-regions ----------------------------------------------------------------------------

BUCKET_AFTER: dict[str, Any] = {"bucket": "b", "acl": "private", "grant": [], "policy": None, "tags": None}
BUCKET_UNKNOWN = {"id": True, "arn": True, "region": True, "tags_all": True, "grant": []}


def bucket(
    address: str = "aws_s3_bucket.b", actions: list[str] | None = None, **after: Any
) -> dict[str, Any]:
    return change(
        address, actions or ["create"], after={**BUCKET_AFTER, **after}, after_unknown=dict(BUCKET_UNKNOWN)
    )


def test_regions_pass_and_fail_on_the_provider_region() -> None:
    document = plan([bucket()], root=module([resource("aws_s3_bucket", "b")]))
    assert run("allowed-regions", document, {"regions": ["us-*"]}) == []
    assert run("allowed-regions", document, {}) == []
    findings = run("allowed-regions", document, {"regions": ["eu-*"]})
    assert (
        messages(findings) == "aws_s3_bucket.b would be in us-east-1, which is not an allowed region (eu-*)"
    )
    assert findings[0].address == "aws_s3_bucket.b"


def test_regions_default_when_no_region_and_pure_deletes_skipped() -> None:
    document = plan(
        [bucket(), change("aws_s3_bucket.old", ["delete"], before=BUCKET_AFTER)],
        root=module([resource("aws_s3_bucket", "b")]),
        providers={"aws": aws_provider()},
    )
    assert run("allowed-regions", document, {"regions": ["us-east-1"]}) == []
    eu = PolicyContext(project_id="p", caller="c", action="deploy", default_region="eu-north-1")
    assert "eu-north-1" in messages(run("allowed-regions", document, {"regions": ["us-east-1"]}, eu))
    # no provider block at all
    bare = plan([bucket()], root=module([resource("aws_s3_bucket", "b")]), providers={})
    assert run("allowed-regions", bare, {"regions": ["us-east-1"]}) == []


def test_regions_aliases_variables_and_module_providers() -> None:
    root = module(
        [resource("aws_s3_bucket", "root", "aws.west")],
        child=call(
            module(
                [resource("aws_s3_bucket", "c", "aws.west")],
                grand=call(module([resource("aws_s3_bucket", "g", "aws.west")])),
            )
        ),
        own=call(module([resource("aws_s3_bucket", "o", "module.own:aws")])),
    )
    providers = {
        "aws": aws_provider(const("us-east-1")),
        "aws.west": aws_provider(ref("var.region"), alias="west"),
        "module.own:aws": aws_provider(const("ap-south-1"), module_address="module.own"),
    }
    document = plan(
        [
            bucket("aws_s3_bucket.root"),
            bucket("module.child.aws_s3_bucket.c"),
            bucket("module.child.module.grand.aws_s3_bucket.g"),
            bucket("module.own.aws_s3_bucket.o"),
        ],
        root=root,
        providers=providers,
        variables={"region": "eu-west-1"},
    )
    findings = run("allowed-regions", document, {"regions": ["us-*"]})
    assert [f.address for f in findings] == [
        "aws_s3_bucket.root",
        "module.child.aws_s3_bucket.c",
        "module.child.module.grand.aws_s3_bucket.g",
        "module.own.aws_s3_bucket.o",
    ]
    assert "aws_s3_bucket.root would be in eu-west-1" in messages(findings)
    assert "module.own.aws_s3_bucket.o would be in ap-south-1" in messages(findings)


def test_regions_terraform_1_0_module_keys_take_every_candidate() -> None:
    # 1.0 writes "child:aws" whether the module inherited aws or was passed aws.west
    root = module(
        [],
        child=call(module([resource("aws_s3_bucket", "c", "child:aws")])),
        own=call(module([resource("aws_s3_bucket", "o", "own:aws")])),
    )
    providers = {
        "aws": {"name": "aws", "expressions": {"region": const("us-east-1")}},
        "aws.west": {"name": "aws", "alias": "west", "expressions": {"region": const("eu-west-1")}},
        "module.own:aws": {
            "name": "aws",
            "module_address": "module.own",
            "expressions": {"region": const("eu-west-2")},
        },
    }
    document = plan(
        [bucket("module.child.aws_s3_bucket.c"), bucket("module.own.aws_s3_bucket.o")],
        root=root,
        providers=providers,
        version="1.0.3",
    )
    assert run("allowed-regions", document, {"regions": ["eu-*", "us-*"]}) == []
    findings = run("allowed-regions", document, {"regions": ["eu-*"]})
    assert messages(findings) == (
        "module.child.aws_s3_bucket.c would be in any of us-east-1, eu-west-1, which is not an allowed region (eu-*)"
    )


def test_regions_module_variable_passed_down() -> None:
    root = module(
        [], child=call(module([resource("aws_s3_bucket", "c", "module.child:aws")]), region=ref("var.where"))
    )
    providers = {
        "aws": aws_provider(const("us-east-1")),
        "module.child:aws": aws_provider(ref("var.region"), module_address="module.child"),
    }
    document = plan(
        [bucket("module.child.aws_s3_bucket.c")],
        root=root,
        providers=providers,
        variables={"where": "sa-east-1"},
    )
    assert "would be in sa-east-1" in messages(run("allowed-regions", document, {"regions": ["us-*"]}))


def test_regions_fail_closed_and_own_region_attribute() -> None:
    computed = plan(
        [bucket()],
        root=module([resource("aws_s3_bucket", "b")]),
        providers={"aws": aws_provider(ref("data.external.r.result", "data.external.r"))},
    )
    assert (
        messages(run("allowed-regions", computed, {"regions": ["us-*"]}))
        == "cannot tell the region of aws_s3_bucket.b"
    )
    # AWS provider 6.x: the resource's own region
    own = change(
        "aws_instance.web[0]",
        ["create"],
        after={"region": "eu-central-1", "instance_type": "t3.micro"},
        after_unknown={"id": True},
    )
    document = plan(
        [own], root=module([resource("aws_instance", "web", expressions={"region": const("eu-central-1")})])
    )
    assert "aws_instance.web[0] would be in eu-central-1" in messages(
        run("allowed-regions", document, {"regions": ["us-*"]})
    )
    unknown = change(
        "aws_instance.web", ["create"], after={"instance_type": "t3.micro"}, after_unknown={"region": True}
    )
    document = plan(
        [unknown], root=module([resource("aws_instance", "web", expressions={"region": ref("var.r")})])
    )
    assert (
        messages(run("allowed-regions", document, {"regions": ["us-*"]}))
        == "cannot tell the region of aws_instance.web"
    )
    # a resource the configuration does not show
    lost = plan([bucket("aws_s3_bucket.nowhere")])
    assert "cannot tell the region" in messages(run("allowed-regions", lost, {"regions": ["us-*"]}))
    # non-AWS resources and data sources are not checked
    others = plan(
        [
            change("null_resource.n", ["create"], after={}, provider=NULL),
            change("data.aws_region.r", ["read"], after={}, mode="data"),
        ]
    )
    assert run("allowed-regions", others, {"regions": ["us-*"]}) == []


# --- allowed-classes ----------------------------------------------------------------------------


def test_classes_pass_and_fail() -> None:
    document = plan(
        [
            change(
                "aws_instance.web[0]",
                ["create"],
                after={"instance_type": "t3.micro"},
                after_unknown={"id": True},
            ),
            change(
                'aws_db_instance.db["a"]',
                ["update"],
                before={"instance_class": "db.t3.small"},
                after={"instance_class": "db.r6g.16xlarge"},
            ),
        ]
    )
    assert run("allowed-classes", document, {}) == []
    assert run("allowed-classes", document, {"instanceTypes": ["t3.*"]}) == []
    findings = run("allowed-classes", document, {"instanceTypes": ["t3.*"], "databaseClasses": ["db.t3.*"]})
    assert messages(findings) == (
        'aws_db_instance.db["a"] instance_class is db.r6g.16xlarge, which is not an allowed database class (db.t3.*)'
    )
    assert findings[0].address == 'aws_db_instance.db["a"]'
    small = run("allowed-classes", document, {"instanceTypes": ["t3.nano"]})
    assert (
        "aws_instance.web[0] instance_type is t3.micro, which is not an allowed instance type (t3.nano)"
        in messages(small)
    )


def test_classes_nested_blocks_lists_and_other_keys() -> None:
    asg = change(
        "module.a.module.b.aws_autoscaling_group.g",
        ["create"],
        after={
            "mixed_instances_policy": [
                {
                    "launch_template": [
                        {"override": [{"instance_type": "t3.micro"}, {"instance_type": "p4d.24xlarge"}]}
                    ]
                }
            ]
        },
        after_unknown={"id": True, "mixed_instances_policy": [{"launch_template": [{"override": [{}, {}]}]}]},
    )
    search = change(
        "aws_opensearch_domain.s",
        ["create"],
        after={"cluster_config": [{"instance_type": "r6g.large.search", "instance_count": 1}]},
        after_unknown={"cluster_config": [{}]},
    )
    eks = change(
        "aws_eks_node_group.n",
        ["create"],
        after={"instance_types": ["t3.large", "m5.24xlarge"]},
        after_unknown={},
    )
    cache = change(
        "aws_elasticache_cluster.c", ["create"], after={"node_type": "cache.r6g.xlarge"}, after_unknown={}
    )
    aurora = change(
        "aws_rds_cluster.a",
        ["create"],
        after={"db_cluster_instance_class": "db.x2g.16xlarge"},
        after_unknown={},
    )
    findings = run(
        "allowed-classes",
        plan([asg, search, eks, cache, aurora]),
        {"instanceTypes": ["t3.*"], "databaseClasses": ["db.t3.*", "cache.t3.*"]},
    )
    text = messages(findings)
    assert (
        "module.a.module.b.aws_autoscaling_group.g mixed_instances_policy[0].launch_template[0].override[1].instance_type is p4d.24xlarge"
        in text
    )
    assert "override[0]" not in text
    assert "aws_opensearch_domain.s cluster_config[0].instance_type is r6g.large.search" in text
    assert "aws_eks_node_group.n instance_types is m5.24xlarge" in text and "t3.large" not in text
    assert "aws_elasticache_cluster.c node_type is cache.r6g.xlarge" in text
    assert "aws_rds_cluster.a db_cluster_instance_class is db.x2g.16xlarge" in text


def test_classes_unknown_fail_closed_deletes_and_data_ignored() -> None:
    unknown = change("aws_instance.web", ["create"], after={}, after_unknown={"instance_type": True})
    nested = change(
        "aws_eks_node_group.n",
        ["create"],
        after={"instance_types": ["t3.micro", None]},
        after_unknown={"instance_types": [False, True]},
    )
    gone = change("aws_instance.old", ["delete"], before={"instance_type": "p4d.24xlarge"})
    read = change("data.aws_instance.x", ["read"], after={"instance_type": "p4d.24xlarge"}, mode="data")
    text = messages(run("allowed-classes", plan([unknown, nested, gone, read]), {"instanceTypes": ["t3.*"]}))
    assert text == (
        "cannot tell the instance type of aws_instance.web (instance_type)\n"
        "cannot tell the instance type of aws_eks_node_group.n (instance_types)"
    )


# --- required-tags ------------------------------------------------------------------------------


def test_tags_pass_fail_and_values() -> None:
    good = change(
        "aws_instance.a",
        ["create"],
        after={"tags": {"Owner": "x", "Env": "prod"}, "tags_all": {"Owner": "x", "Env": "prod"}},
        after_unknown={},
    )
    bad = change(
        "aws_instance.b[0]",
        ["create"],
        after={"tags": {"Name": "b"}, "tags_all": {"Name": "b"}},
        after_unknown={},
    )
    untaggable = change("aws_iam_role_policy_attachment.p", ["create"], after={"role": "r"}, after_unknown={})
    document = plan([good, bad, untaggable])
    assert run("required-tags", document, {}) == []
    findings = run("required-tags", document, {"tags": ["Owner", "Env"]})
    assert findings == [
        Finding("aws_instance.b[0] is missing the required tags Owner, Env", "aws_instance.b[0]")
    ]
    values = run("required-tags", document, {"tags": ["Owner"], "values": {"Env": ["dev", "test"]}})
    assert "aws_instance.a has tag values not allowed: Env=prod" in messages(values)


def test_tags_from_default_tags_constant_and_variable() -> None:
    unknown_all = {"id": True, "tags_all": True}
    resources = [resource("aws_instance", "a"), resource("aws_instance", "w", "aws.west")]
    providers = {
        "aws": aws_provider(const("us-east-1"), default_tags=[{"tags": const({"Owner": "platform"})}]),
        "aws.west": aws_provider(const("eu-west-1"), alias="west", default_tags=[{"tags": ref("var.tags")}]),
    }
    document = plan(
        [
            change("aws_instance.a", ["create"], after={"tags": {"Env": "dev"}}, after_unknown=unknown_all),
            change("aws_instance.w", ["create"], after={"tags": None}, after_unknown=unknown_all),
        ],
        root=module(resources),
        providers=providers,
        variables={"tags": {"Owner": "data", "Env": "prod"}},
    )
    assert run("required-tags", document, {"tags": ["Owner", "Env"]}) == []
    findings = run("required-tags", document, {"tags": ["Owner", "Env", "CostCenter"]})
    assert [f.message for f in findings] == [
        "aws_instance.a is missing the required tags CostCenter",
        "aws_instance.w is missing the required tags CostCenter",
    ]
    # default tags from something other than a variable: only the resource's own tags count
    providers["aws"] = aws_provider(const("us-east-1"), default_tags=[{"tags": ref("local.tags")}])
    document["configuration"]["provider_config"] = providers
    text = messages(run("required-tags", document, {"tags": ["Env"]}))
    assert text == ""
    assert messages(run("required-tags", document, {"tags": ["Owner"]})).startswith(
        "cannot tell the tags of aws_instance.a"
    )


def test_tags_unknown_fail_closed_and_partial_unknowns() -> None:
    unknown = change("aws_s3_bucket.b", ["create"], after={}, after_unknown={"tags": True, "tags_all": True})
    partial = change(
        "aws_s3_bucket.p",
        ["update"],
        before={},
        after={"tags": {"Name": "p"}, "tags_all": {"Name": "p"}},
        after_unknown={"tags": {"Owner": True}, "tags_all": {"Owner": True}},
    )
    document = plan(
        [unknown, partial], root=module([resource("aws_s3_bucket", "b"), resource("aws_s3_bucket", "p")])
    )
    assert (
        messages(run("required-tags", document, {"tags": ["Owner"]}))
        == "cannot tell the tags of aws_s3_bucket.b"
    )
    # a key whose value is unknown is present, but its value cannot be checked
    text = messages(run("required-tags", document, {"tags": ["Owner"], "values": {"Owner": ["team-*"]}}))
    assert "cannot tell the tags of aws_s3_bucket.p" in text


def test_tags_in_modules_with_1_0_keys_must_hold_for_every_candidate() -> None:
    root = module([], child=call(module([resource("aws_instance", "i", "child:aws")])))
    providers = {
        "aws": {"name": "aws", "expressions": {"default_tags": [{"tags": const({"Owner": "a"})}]}},
        "aws.nodefaults": {"name": "aws", "alias": "nodefaults", "expressions": {}},
    }
    document = plan(
        [
            change(
                "module.child.aws_instance.i",
                ["create"],
                after={"tags": None},
                after_unknown={"tags_all": True},
            )
        ],
        root=root,
        providers=providers,
        version="1.0.3",
    )
    assert messages(run("required-tags", document, {"tags": ["Owner"]})) == (
        "module.child.aws_instance.i is missing the required tags Owner"
    )


# --- public-exposure ----------------------------------------------------------------------------


def sg(address: str, ingress: list[dict[str, Any]], unknown: Any = None) -> dict[str, Any]:
    rules = [
        {
            "cidr_blocks": [],
            "description": "",
            "from_port": 0,
            "ipv6_cidr_blocks": [],
            "prefix_list_ids": [],
            "protocol": "tcp",
            "security_groups": [],
            "self": False,
            "to_port": 0,
            **rule,
        }
        for rule in ingress
    ]
    return change(
        address,
        ["create"],
        after={"name": "x", "ingress": rules, "tags": None},
        after_unknown={"id": True, "ingress": unknown if unknown is not None else [{} for _ in rules]},
    )


def test_exposure_security_group_rules() -> None:
    document = plan(
        [
            sg(
                "aws_security_group.ok",
                [
                    {"from_port": 443, "to_port": 443, "cidr_blocks": ["0.0.0.0/0"]},
                    {"from_port": 22, "to_port": 22, "cidr_blocks": ["10.0.0.0/8"]},
                ],
            ),
            sg(
                "module.a.aws_security_group.ssh[0]",
                [{"from_port": 22, "to_port": 22, "cidr_blocks": ["0.0.0.0/0"]}],
            ),
            sg(
                'aws_security_group.all["x"]',
                [{"from_port": 0, "to_port": 0, "protocol": "-1", "ipv6_cidr_blocks": ["::/0"]}],
            ),
            sg(
                "aws_security_group.range",
                [{"from_port": 3000, "to_port": 6000, "cidr_blocks": ["0.0.0.0/00"]}],
            ),
            sg(
                "aws_security_group.halves",
                [{"from_port": 5432, "to_port": 5432, "cidr_blocks": ["0.0.0.0/1", "128.0.0.0/1"]}],
            ),
            sg(
                "aws_security_group.icmp",
                [{"from_port": 22, "to_port": 0, "protocol": "icmp", "cidr_blocks": ["0.0.0.0/0"]}],
            ),
        ],
        root=module(
            [resource("aws_security_group", name) for name in ("ok", "ssh", "all", "range", "halves", "icmp")]
        ),
    )
    findings = run("public-exposure", document, {})
    assert [f.message for f in findings] == [
        "module.a.aws_security_group.ssh[0] is open to the world (0.0.0.0/0 or ::/0) on port 22",
        'aws_security_group.all["x"] is open to the world (0.0.0.0/0 or ::/0) on port 22, 3389, 3306, 5432, 1433, 1521, 27017, 6379, 9200, 5601',
        "aws_security_group.range is open to the world (0.0.0.0/0 or ::/0) on port 3389, 3306, 5432, 5601",
        "aws_security_group.halves is open to the world (0.0.0.0/0 or ::/0) on port 5432",
    ]
    assert [f.address for f in run("public-exposure", document, {"ports": [8080]})] == [
        'aws_security_group.all["x"]'
    ]
    assert run("public-exposure", document, {"ports": []}) == []


def test_exposure_rule_resources() -> None:
    rule = {
        "type": "ingress",
        "from_port": 0,
        "to_port": 65535,
        "protocol": "tcp",
        "cidr_blocks": ["0.0.0.0/0"],
        "ipv6_cidr_blocks": None,
        "security_group_id": "sg-1",
    }
    document = plan(
        [
            change("aws_security_group_rule.all", ["create"], after=rule, after_unknown={"id": True}),
            change(
                "aws_security_group_rule.egress",
                ["create"],
                after={**rule, "type": "egress"},
                after_unknown={"id": True},
            ),
            change(
                "aws_vpc_security_group_ingress_rule.v6",
                ["create"],
                after={
                    "cidr_ipv4": None,
                    "cidr_ipv6": "::/0",
                    "from_port": None,
                    "to_port": None,
                    "ip_protocol": "-1",
                },
                after_unknown={"id": True},
            ),
            change(
                "aws_vpc_security_group_ingress_rule.rdp",
                ["create"],
                after={
                    "cidr_ipv4": "0.0.0.0/0",
                    "cidr_ipv6": None,
                    "from_port": 3389,
                    "to_port": 3389,
                    "ip_protocol": "tcp",
                },
                after_unknown={},
            ),
            change(
                "aws_vpc_security_group_ingress_rule.web",
                ["create"],
                after={
                    "cidr_ipv4": "0.0.0.0/0",
                    "cidr_ipv6": None,
                    "from_port": 443,
                    "to_port": 443,
                    "ip_protocol": "tcp",
                },
                after_unknown={},
            ),
        ]
    )
    findings = run("public-exposure", document, {"ports": [22, 3389]})
    assert [f.message for f in findings] == [
        "aws_security_group_rule.all is open to the world (0.0.0.0/0 or ::/0) on port 22, 3389",
        "aws_vpc_security_group_ingress_rule.v6 is open to the world (0.0.0.0/0 or ::/0) on port 22, 3389",
        "aws_vpc_security_group_ingress_rule.rdp is open to the world (0.0.0.0/0 or ::/0) on port 3389",
    ]


def test_exposure_ingress_unknowns_fail_closed() -> None:
    cidr_unknown = sg(
        "aws_security_group.c",
        [{"from_port": 22, "to_port": 22, "cidr_blocks": None}],
        unknown=[{"cidr_blocks": True}],
    )
    whole = change("aws_security_group.w", ["create"], after={"name": "w"}, after_unknown={"ingress": True})
    computed = change(
        "aws_security_group.none", ["create"], after={"name": "n"}, after_unknown={"ingress": True}
    )
    root = module(
        [
            resource("aws_security_group", "c", expressions={"ingress": [{"from_port": const(22)}]}),
            resource("aws_security_group", "w", expressions={"ingress": [{"from_port": const(22)}]}),
            resource("aws_security_group", "none"),
        ]
    )
    text = messages(run("public-exposure", plan([cidr_unknown, whole, computed], root=root), {}))
    assert text == (
        "aws_security_group.c cannot tell whether it is open to the world on port 22\n"
        "aws_security_group.w has ingress rules that are not known until apply"
    )


def test_exposure_bucket_acls_and_grants() -> None:
    all_users = "http://acs.amazonaws.com/groups/global/AllUsers"
    document = plan(
        [
            bucket("aws_s3_bucket.private"),
            bucket("aws_s3_bucket.read", acl="public-read"),
            bucket(
                "aws_s3_bucket.granted",
                acl=None,
                grant=[{"id": "", "permissions": ["READ"], "type": "Group", "uri": all_users}],
            ),
            change(
                "aws_s3_bucket_acl.a",
                ["create"],
                after={"bucket": "b", "acl": "authenticated-read", "access_control_policy": []},
                after_unknown={},
            ),
            change(
                "aws_s3_bucket_acl.acp",
                ["create"],
                after={
                    "bucket": "b",
                    "acl": None,
                    "access_control_policy": [
                        {
                            "grant": [
                                {
                                    "grantee": [
                                        {
                                            "type": "Group",
                                            "uri": "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
                                            "id": None,
                                        }
                                    ],
                                    "permission": "READ",
                                }
                            ],
                            "owner": [{"id": "o"}],
                        }
                    ],
                },
                after_unknown={
                    "access_control_policy": [
                        {"grant": [{"grantee": [{"display_name": True}]}], "owner": [{"display_name": True}]}
                    ]
                },
            ),
        ],
        root=module(
            [resource("aws_s3_bucket", n) for n in ("private", "read", "granted")]
            + [resource("aws_s3_bucket_acl", "a"), resource("aws_s3_bucket_acl", "acp")]
        ),
    )
    findings = run("public-exposure", document, {})
    assert [f.message for f in findings] == [
        "aws_s3_bucket.read has the public acl public-read",
        f"aws_s3_bucket.granted grants access to {all_users}",
        "aws_s3_bucket_acl.a has the public acl authenticated-read",
        "aws_s3_bucket_acl.acp grants access to http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
    ]
    assert run("public-exposure", document, {"s3": False}) == []


def policy_change(address: str, policy: Any, unknown: bool = False) -> dict[str, Any]:
    after = {"bucket": "b"} if unknown else {"bucket": "b", "policy": policy}
    return change(
        address, ["create"], after=after, after_unknown={"id": True, **({"policy": True} if unknown else {})}
    )


def statement(**fields: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", **fields}


def test_exposure_bucket_policies() -> None:
    private = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                statement(Principal={"AWS": "arn:aws:iam::123456789012:root"}),
                {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"},
            ],
        }
    )
    star = json.dumps({"Statement": statement(Principal="*")})
    aws_star = json.dumps({"Statement": [statement(Sid="Public", Principal={"AWS": "*"})]})
    star_in_list = json.dumps({"Statement": [statement(Principal={"AWS": ["arn:aws:iam::1:root", "*"]})]})
    not_principal = json.dumps({"Statement": [statement(NotPrincipal={"AWS": "arn:aws:iam::1:root"})]})
    escaped = '{"Statement": [{"Effect": "Allow", "Principal": "\\u002a", "Action": "s3:GetObject", "Resource": "*"}]}'
    duplicate = '{"Statement": [{"Effect": "Allow", "Principal": "*", "Principal": {"AWS": "arn:aws:iam::1:root"}, "Action": "s3:*", "Resource": "*"}]}'
    document = plan(
        [
            policy_change("aws_s3_bucket_policy.private", private),
            policy_change("aws_s3_bucket_policy.star", star),
            policy_change("module.m.aws_s3_bucket_policy.aws_star[0]", aws_star),
            policy_change("aws_s3_bucket_policy.list", star_in_list),
            policy_change("aws_s3_bucket_policy.not", not_principal),
            policy_change("aws_s3_bucket_policy.escaped", escaped),
            policy_change("aws_s3_bucket_policy.duplicate", duplicate),
            policy_change("aws_s3_bucket_policy.broken", "{not json"),
            policy_change("aws_s3_bucket_policy.unknown", None, unknown=True),
            bucket("aws_s3_bucket.inline", policy=star),
        ]
    )
    assert [f.message for f in run("public-exposure", document, {})] == [
        "aws_s3_bucket_policy.star has a policy statement 0 that allows any principal (*)",
        "module.m.aws_s3_bucket_policy.aws_star[0] has a policy statement 'Public' that allows any principal (*)",
        "aws_s3_bucket_policy.list has a policy statement 0 that allows any principal (*)",
        "aws_s3_bucket_policy.not has a policy statement 0 that allows everyone but a NotPrincipal",
        "aws_s3_bucket_policy.escaped has a policy statement 0 that allows any principal (*)",
        "aws_s3_bucket_policy.duplicate has a policy that cannot be read as JSON (or repeats a key)",
        "aws_s3_bucket_policy.broken has a policy that cannot be read as JSON (or repeats a key)",
        "aws_s3_bucket_policy.unknown has a policy that is not known until apply",
        "aws_s3_bucket.inline has a policy statement 0 that allows any principal (*)",
    ]


def test_exposure_computed_bucket_attributes_follow_the_configuration() -> None:
    # AWS provider 4.x+: acl, grant and policy are computed when the configuration leaves them out
    computed = change(
        "aws_s3_bucket.c",
        ["create"],
        after={"bucket": "c"},
        after_unknown={"acl": True, "grant": True, "policy": True},
    )
    set_unknown = change(
        "aws_s3_bucket.s",
        ["create"],
        after={"bucket": "s"},
        after_unknown={"acl": True, "grant": True, "policy": True},
    )
    root = module(
        [
            resource("aws_s3_bucket", "c"),
            resource("aws_s3_bucket", "s", expressions={"acl": ref("var.acl"), "policy": ref("data.x.y")}),
        ]
    )
    assert [f.message for f in run("public-exposure", plan([computed, set_unknown], root=root), {})] == [
        "aws_s3_bucket.s has an acl that is not known until apply",
        "aws_s3_bucket.s has a policy that is not known until apply",
    ]


def test_a_reference_the_code_does_not_write_bare_is_not_trusted() -> None:
    """The plan reads ``{"references": ["var.r"]}`` for ``var.r`` and for an expression of it alike."""
    plan = {
        "variables": {"r": {"value": "us-east-1"}},
        "configuration": {
            "provider_config": {"aws": {"name": "aws", "expressions": {"region": {"references": ["var.r"]}}}},
            "root_module": {
                "resources": [
                    {
                        "address": "aws_s3_bucket.b",
                        "mode": "managed",
                        "type": "aws_s3_bucket",
                        "name": "b",
                        "provider_config_key": "aws",
                    }
                ]
            },
        },
        "resource_changes": [
            {
                "address": "aws_s3_bucket.b",
                "mode": "managed",
                "type": "aws_s3_bucket",
                "name": "b",
                "provider_name": "registry.terraform.io/hashicorp/aws",
                "change": {
                    "actions": ["create"],
                    "before": None,
                    "after": {"bucket": "b"},
                    "after_unknown": {},
                },
            }
        ],
    }
    settings = BUILTINS["allowed-regions"].settings(regions=["us-*"])
    bare = 'provider "aws" {\n  region = var.r\n}\n'
    disguised = 'provider "aws" {\n  region = var.r == "us-east-1" ? "eu-west-3" : "us-east-1"\n}\n'
    for code, expected in ((bare, True), (disguised, False)):
        trusted = bare_references({"main.tf": code})
        assert trusted is expected
        context = PolicyContext(project_id="p", caller="c", action="deploy", bare_references=trusted)
        findings = BUILTINS["allowed-regions"].check(plan, settings, context)
        assert (findings == []) is expected, findings
        if not expected:
            assert "literal or a bare variable" in findings[0].message
