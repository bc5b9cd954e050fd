"""Users' own Rego policies: OPA's documented examples give OPA's answers, compile errors point at
their line and column, and hostile policies (loops, memory bombs, recursion, network, secrets)
fail closed inside the sandboxed worker instead of passing or hurting the caller."""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from policy import rego
from policy.model import PolicyContext, PolicyError
from policy.rego import RegoOutcome, RegoPolicy, Syntax, compile_policy, evaluate_policies


def _instance(address: str, instance_type: str, *, tags: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "address": address,
        "mode": "managed",
        "type": "aws_instance",
        "name": address.rsplit(".", maxsplit=1)[-1],
        "change": {
            "actions": ["create"],
            "before": None,
            "after": {"instance_type": instance_type, "tags": tags or {}},
        },
    }


PLAN: dict[str, Any] = {
    "format_version": "1.2",
    "resource_changes": [
        _instance("aws_instance.web", "t3.micro", tags={"Name": "web", "Owner": "a"}),
        _instance("aws_instance.big", "m5.24xlarge", tags={"Name": "big"}),
    ],
}
CONTEXT = PolicyContext(
    project_id="proj-1",
    caller="alice",
    action="deploy",
    cost={"prior": 10.0, "proposed": 2510.0, "delta": 2500.0, "currency": "USD"},
)

# OPA's documented examples (policy-language reference and the Terraform tutorial), each turned
# into a deny or warn rule so the outcome says what OPA's answer is.
EXAMPLES: dict[str, tuple[Syntax, str]] = {
    # The Terraform tutorial's style: deny instance types not allowed, over resource_changes.
    "terraform_instance_types": (
        "v1",
        """package terraform.instances
import rego.v1

allowed_types := {"t3.micro", "t3.small"}

deny contains msg if {
    some rc in input.resource_changes
    rc.type == "aws_instance"
    rc.change.actions[_] == "create"
    not rc.change.after.instance_type in allowed_types
    msg := sprintf("%s: instance type %q is not allowed", [rc.address, rc.change.after.instance_type])
}
""",
    ),
    # The pre-1.0 syntax, conftest's classic shape.
    "v0_deny": (
        "v0",
        """package main

deny[msg] {
    rc := input.resource_changes[_]
    not rc.change.after.tags.Owner
    msg := sprintf("%s has no Owner tag", [rc.address])
}
""",
    ),
    # `every` (policy reference: no_telnet_exposed) on the reference's own servers.
    "every": (
        "v1",
        """package servers

servers := [
    {"id": "app", "protocols": ["https", "ssh"], "ports": ["p1", "p2", "p3"]},
    {"id": "db", "protocols": ["mysql"], "ports": ["p3"]},
    {"id": "busybox", "protocols": ["telnet"], "ports": ["p1"]},
]

no_telnet_exposed if {
    every server in servers {
        every protocol in server.protocols {
            "telnet" != protocol
        }
    }
}

no_telnet_without_busybox if {
    every server in [s | some s in servers; s.id != "busybox"] {
        every protocol in server.protocols {
            "telnet" != protocol
        }
    }
}

deny contains "telnet is exposed" if not no_telnet_exposed
warn contains "without busybox no telnet" if no_telnet_without_busybox
""",
    ),
    # `some ... in` with key and value (policy reference: some x in / some k, v in).
    "some_in": (
        "v1",
        """package some_in

deny contains sprintf("%d:%s", [i, x]) if {
    some i, x in ["a", "b", "c"]
    x != "b"
}
warn contains k if {
    some k, v in {"foo": 1, "bar": 2}
    v > 1
}
""",
    ),
    # Comprehensions (policy reference: array, set and object comprehensions on its sites data).
    "comprehensions": (
        "v1",
        """package comprehensions

sites := [
    {"region": "east", "name": "prod"},
    {"region": "west", "name": "smoke"},
    {"region": "west", "name": "dev"},
]

west := [name | some site in sites; site.region == "west"; name := site.name]
regions := {site.region | some site in sites}
by_name := {site.name: site.region | some site in sites}

deny contains concat(",", west) if true
deny contains sprintf("%d regions", [count(regions)]) if true
deny contains by_name.dev if true
""",
    ),
    # `count` and sprintf over the plan: two instances, one of them not allowed.
    "count_sprintf": (
        "v1",
        """package counting
import rego.v1

instances := [rc | some rc in input.resource_changes; rc.type == "aws_instance"]
deny contains sprintf("%d instances, %v%% allowed", [count(instances), 50]) if count(instances) > 1
""",
    ),
    # Object messages: msg, message, and neither (compact JSON), in violation.
    "objects": (
        "v1",
        """package objects

violation contains {"msg": "by msg", "details": {"a": 1}} if true
violation contains {"message": "by message"} if true
warn contains {"b": 2, "a": [1]} if true
""",
    ),
    # A rule that is undefined (no element matches) counts as empty.
    "undefined": (
        "v1",
        """package empty
deny contains "never" if input.no_such_key == 1
warn contains msg if { msg := input.no_such_key }
""",
    ),
}

EXPECTED: dict[str, tuple[list[str], list[str]]] = {
    "terraform_instance_types": (['aws_instance.big: instance type "m5.24xlarge" is not allowed'], []),
    "v0_deny": (["aws_instance.big has no Owner tag"], []),
    "every": (["telnet is exposed"], ["without busybox no telnet"]),
    "some_in": (["0:a", "2:c"], ["bar"]),
    "comprehensions": (["2 regions", "smoke,dev", "west"], []),
    "count_sprintf": (["2 instances, 50% allowed"], []),
    "objects": (["by message", "by msg"], ['{"a":[1],"b":2}']),
    "undefined": ([], []),
}


@pytest.fixture(scope="module")
def examples() -> dict[str, RegoOutcome | PolicyError]:
    policies = [RegoPolicy(name, source, syntax) for name, (syntax, source) in EXAMPLES.items()]
    return evaluate_policies(policies, CONTEXT.rego_input(PLAN))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_opas_documented_examples_give_opas_answers(
    examples: dict[str, RegoOutcome | PolicyError], name: str
) -> None:
    outcome = examples[name]
    assert isinstance(outcome, RegoOutcome), outcome
    assert (outcome.denies, outcome.warnings) == EXPECTED[name]
    assert outcome.failed == bool(EXPECTED[name][0])


def test_compile_returns_the_package_of_either_syntax() -> None:
    assert compile_policy(EXAMPLES["terraform_instance_types"][1]) == "data.terraform.instances"
    assert compile_policy(EXAMPLES["v0_deny"][1], "v0") == "data.main"


def test_a_syntax_error_names_its_line_and_column() -> None:
    # Given v0's rule body without `if`, on line 4 column 11, compiled as v1
    source = 'package main\n\n# a comment\ndeny[msg] { msg := "x" }\n'
    with pytest.raises(PolicyError) as raised:
        compile_policy(source)
    assert (raised.value.line, raised.value.column) == (4, 11)
    assert "`if` keyword is required" in raised.value.message
    # And an unknown function is a compile error too, where it is called
    with pytest.raises(PolicyError) as raised:
        compile_policy("package main\ndeny contains x if {\n  x := no.such_function(1)\n}\n")
    assert (raised.value.line, raised.value.column) == (3, 24)


def test_a_package_without_result_rules_is_refused_at_compile() -> None:
    with pytest.raises(PolicyError, match="defines none of the result rules deny, violation, warn"):
        compile_policy("package main\nallow if input.ok\ndenied contains 1 if true\n")


def test_a_source_over_the_limit_is_refused_without_a_worker() -> None:
    source = "package main\ndeny contains 1 if true\n" + "#" * rego.MAX_SOURCE_BYTES
    with pytest.raises(PolicyError, match="over the limit"):
        compile_policy(source)
    [outcome] = evaluate_policies([RegoPolicy("big", source)], {}).values()
    assert isinstance(outcome, PolicyError)


def test_exponential_parsing_is_cut_off_by_the_compile_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given regorus's parser, which doubles its time with every nested bracket (24 take hours)
    monkeypatch.setattr(rego, "_COMPILE_TIMEOUT_SECONDS", 1.0)
    source = "package main\ndeny contains x if { x := " + "[" * 24 + "]" * 24 + " }\n"
    started = time.monotonic()
    with pytest.raises(PolicyError, match="timed out after 1 s"):
        compile_policy(source)
    assert time.monotonic() - started < 4


def test_heavy_work_times_out_and_fails_every_policy_of_the_call() -> None:
    # Given ten billion iterations of a nested comprehension beside a harmless policy
    heavy = (
        'package heavy\ndeny contains "done" if {\n'
        "  n := count([1 | some a in numbers.range(1, 100000); some b in numbers.range(1, 100000)])\n"
        "  n < 0\n}\n"
    )
    started = time.monotonic()
    results = evaluate_policies(
        [RegoPolicy("heavy", heavy), RegoPolicy("fine", "package fine\nwarn contains 1 if true\n")],
        {},
        timeout_seconds=2,
    )
    elapsed = time.monotonic() - started
    # Then both fail closed within the bound
    assert elapsed < 5
    for outcome in results.values():
        assert isinstance(outcome, PolicyError)
        assert outcome.message == "policy evaluation timed out after 2 s"


def test_a_memory_bomb_fails_closed() -> None:
    bomb = (
        'package bomb\ndeny contains "no" if {\n'
        '  s := concat("", ["xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" | some i in numbers.range(1, 100000000)])\n'
        "  count(s) < 0\n}\n"
    )
    [outcome] = evaluate_policies([RegoPolicy("bomb", bomb)], {}, memory_mb=256).values()
    assert isinstance(outcome, PolicyError)
    assert "ran out of memory (256 MiB)" in outcome.message


def test_unbounded_recursion_fails_closed() -> None:
    # OPA refuses recursion at compile time; regorus accepts it and overflows its stack
    source = 'package loop\nf(x) := f(x + 1)\ndeny contains "never" if f(1)\n'
    [outcome] = evaluate_policies([RegoPolicy("loop", source)], {}, timeout_seconds=5).values()
    assert isinstance(outcome, PolicyError)


def test_a_runtime_error_fails_only_its_own_policy() -> None:
    results = evaluate_policies(
        [
            RegoPolicy("zero", "package z\n\ndeny contains x if { x := 1 / 0 }\n"),
            RegoPolicy("fine", 'package f\ndeny contains "fine" if true\n'),
        ],
        {},
    )
    zero = results["zero"]
    assert isinstance(zero, PolicyError)
    assert (zero.line, zero.column) == (3, 29)  # regorus points at the operator
    assert "divide by zero" in zero.message
    assert results["fine"] == RegoOutcome(denies=["fine"], warnings=[])


def test_policies_with_the_same_package_do_not_interfere() -> None:
    # Given two policies that both declare package main, each with a rule the other also defines
    first = 'package main\nlimit := 1\ndeny contains sprintf("first %d", [limit]) if true\n'
    second = 'package main\nlimit := 2\nwarn contains sprintf("second %d", [limit]) if true\n'
    results = evaluate_policies([RegoPolicy("first", first), RegoPolicy("second", second)], {})
    # Then each sees only its own rules (one engine would refuse the duplicate or merge deny/warn)
    assert results == {
        "first": RegoOutcome(denies=["first 1"], warnings=[]),
        "second": RegoOutcome(denies=[], warnings=["second 2"]),
    }


def test_the_input_has_the_plan_run_and_cost_in_every_documented_shape() -> None:
    source = """package shapes
import rego.v1

deny contains sprintf("by %s", [input.tfrun.created_by.username]) if true
deny contains sprintf("delta %v", [input.cost.delta]) if input.cost.delta > 1000
deny contains sprintf("tfplan %d", [count(input.tfplan.resource_changes)]) if true
deny contains sprintf("top %d", [count(input.resource_changes)]) if true
warn contains sprintf("%s %s %s", [input.project, input.caller, input.action]) if true
warn contains sprintf("workspace %s", [input.tfrun.workspace.name]) if not input.tfrun.is_destroy
"""
    [outcome] = evaluate_policies([RegoPolicy("shapes", source)], CONTEXT.rego_input(PLAN)).values()
    assert outcome == RegoOutcome(
        denies=["by alice", "delta 2500", "tfplan 2", "top 2"],
        warnings=["proj-1 alice deploy", "workspace proj-1"],
    )


def test_messages_are_capped_in_length_and_number() -> None:
    source = 'package many\ndeny contains sprintf("%04d %s", [i, concat("", ["y" | some _ in numbers.range(1, 2000)])]) if { some i in numbers.range(1, 150) }\n'
    [outcome] = evaluate_policies([RegoPolicy("many", source)], {}).values()
    assert isinstance(outcome, RegoOutcome)
    assert len(outcome.denies) == 100
    assert outcome.denies[-1] == "... 51 more"
    assert all(len(message) <= 1000 for message in outcome.denies)
    assert outcome.denies[0].startswith("0001 yyy") and outcome.denies[0].endswith("...")


def test_prints_do_not_reach_the_answer() -> None:
    source = 'package p\ndeny contains "x" if { print("{\\"results\\": {}}"); trace("t") }\n'
    [outcome] = evaluate_policies([RegoPolicy("p", source)], {}).values()
    assert outcome == RegoOutcome(denies=["x"], warnings=[])


_PROBE = """
import json, os, resource, sys
sys.stdin.buffer.read()
facts = {
    "env": sorted(os.environ),
    "cwd_entries": os.listdir("."),
    "cwd": os.getcwd(),
    "own_group": os.getpgid(0) == os.getpid(),
    "limits": {name: resource.getrlimit(getattr(resource, name))[0]
               for name in ("RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_NOFILE", "RLIMIT_FSIZE", "RLIMIT_CORE")},
}
print(json.dumps({"results": {"probe": {"denies": [json.dumps(facts)], "warnings": []}}}))
"""


def test_the_worker_runs_with_a_minimal_environment_and_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given secrets in the caller's environment, and the worker swapped for a probe started the same way
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "caller-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "caller-token")
    monkeypatch.setenv("RUST_BACKTRACE", "1")
    monkeypatch.setattr(rego, "worker_command", lambda: [sys.executable, "-s", "-P", "-c", _PROBE])
    [outcome] = evaluate_policies([RegoPolicy("probe", "")], {}, timeout_seconds=3, memory_mb=300).values()
    assert isinstance(outcome, RegoOutcome), outcome
    facts = json.loads(outcome.denies[0])
    # Then it sees no AWS_* variable nor RUST_BACKTRACE, only the minimal environment
    assert not [name for name in facts["env"] if name.startswith("AWS_")]
    assert "RUST_BACKTRACE" not in facts["env"]
    assert set(facts["env"]) <= {
        "PATH",
        "PYTHONPATH",
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONNOUSERSITE",
        "LC_ALL",
        "LC_CTYPE",
    }
    # And it runs in an empty temporary directory, in its own process group, under the limits
    assert facts["cwd_entries"] == []
    assert "rego-" in facts["cwd"]
    assert facts["own_group"]
    assert facts["limits"] == {
        "RLIMIT_AS": 300 * 1024 * 1024,
        "RLIMIT_CPU": 4,
        "RLIMIT_NOFILE": 32,
        "RLIMIT_FSIZE": 0,
        "RLIMIT_CORE": 0,
    }


def test_opa_runtime_shows_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # OPA's opa.runtime() carries the process environment under env; regorus's has no env at all,
    # and the worker's environment holds no secret anyway (the test above)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "caller-secret")
    source = """package rt
import rego.v1
deny contains "env is visible" if opa.runtime().env
warn contains json.marshal(object.keys(opa.runtime())) if true
deny contains "secret" if contains(json.marshal(opa.runtime()), "caller-secret")
"""
    [outcome] = evaluate_policies([RegoPolicy("rt", source)], {}).values()
    assert isinstance(outcome, RegoOutcome), outcome
    assert outcome.denies == []
    assert "env" not in json.loads(outcome.warnings[0])


@pytest.fixture
def listener() -> Iterator[tuple[int, list[bytes]]]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    server.settimeout(0.2)
    accepted: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                continue
            with connection:
                accepted.append(connection.recv(1024) or b"connected")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], accepted
    stop.set()
    thread.join()
    server.close()


def test_http_send_cannot_reach_anything(listener: tuple[int, list[bytes]]) -> None:
    # Given a listener on loopback, and a policy that asks http.send for it (regorus lists
    # http.send among its builtins but implements it as undefined)
    port, accepted = listener
    source = f"""package net
import rego.v1
request := {{"method": "get", "url": "http://127.0.0.1:{port}/", "raise_error": true}}
deny contains sprintf("answered %v", [response]) if {{ response := http.send(request) }}
warn contains "http.send is undefined" if not http.send(request)
"""
    [outcome] = evaluate_policies([RegoPolicy("net", source)], {}).values()
    time.sleep(0.3)
    assert outcome == RegoOutcome(denies=[], warnings=["http.send is undefined"])
    assert accepted == []


@pytest.mark.parametrize(
    ("program", "message"),
    [
        ("print('not json')", "policy evaluation gave a malformed answer"),
        (
            'print(\'{"results": {"p": {"denies": [1], "warnings": []}}}\')',
            "policy evaluation gave a malformed answer",
        ),
        ("import sys; sys.exit(3)", "policy evaluation failed: worker exited with code 3"),
        ("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)", "policy evaluation crashed (SIGSEGV"),
        ("print('{\"results\": {}}')", "policy evaluation gave no answer for this policy"),
    ],
)
def test_a_broken_worker_fails_closed(monkeypatch: pytest.MonkeyPatch, program: str, message: str) -> None:
    monkeypatch.setattr(rego, "worker_command", lambda: [sys.executable, "-c", program])
    [outcome] = evaluate_policies([RegoPolicy("p", "")], {}).values()
    assert isinstance(outcome, PolicyError)
    assert outcome.message.startswith(message)


def test_three_policies_over_a_thousand_resources_take_well_under_a_second() -> None:
    # Given a 1,000-instance plan (about 1 MB of input JSON, twice over: top level and tfplan)
    plan = {
        "resource_changes": [
            _instance(
                f"aws_instance.web[{i}]", "m5.large" if i % 100 == 0 else "t3.micro", tags={"Name": "w"}
            )
            for i in range(1000)
        ]
    }
    policies = [
        RegoPolicy("types", EXAMPLES["terraform_instance_types"][1]),
        RegoPolicy("tags", EXAMPLES["v0_deny"][1], "v0"),
        RegoPolicy("count", EXAMPLES["count_sprintf"][1]),
    ]
    started = time.monotonic()
    results = evaluate_policies(policies, CONTEXT.rego_input(plan))
    elapsed = time.monotonic() - started
    # Then every policy answers (10 bad types; 1,000 missing owners capped at 100) in one quick call
    types, tags, counted = results["types"], results["tags"], results["count"]
    assert isinstance(types, RegoOutcome) and len(types.denies) == 10
    assert isinstance(tags, RegoOutcome) and tags.denies[-1] == "... 901 more"
    assert counted == RegoOutcome(denies=["1000 instances, 50% allowed"], warnings=[])
    assert elapsed < 3  # about 0.12 s measured; the bound leaves room for a loaded machine
