"""The sandbox emulator under concurrent requests: moto's backends are dicts that one request
iterates while another adds to them, so without the sandbox's lock concurrent IAM creates
answer 500 ("dictionary changed size during iteration") now and then.

Threads switch every microsecond here (``sys.setswitchinterval``) so that a race shows up in one
run, not one in a hundred: removing the lock in localmode/sandbox.py makes this test fail.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from werkzeug.serving import make_server

from localmode.sandbox import Accounts, SandboxApp

IN_PROCESS = True  # no local server: the sandbox's WSGI app on a thread of this process
THREADS = 50
ROLES_EACH = 2
PRELOADED = 300  # roles and policies made first, so that each iteration over them takes a while
TRUST = json.dumps({"Version": "2012-10-17", "Statement": []})
POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
)


@pytest.fixture
def sandbox() -> Iterator[tuple[str, SandboxApp]]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app = SandboxApp(Accounts(None))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", app
    server.shutdown()
    thread.join()


@pytest.fixture
def frequent_switches() -> Iterator[None]:
    saved = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(saved)


def _iam(url: str, app: SandboxApp, project: str) -> Any:
    account = app.accounts.for_project(project)
    return boto3.client(
        "iam",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=account.access_key_id,
        aws_secret_access_key=account.secret_access_key,
    )


def test_concurrent_iam_creates_all_succeed_and_are_all_listed(
    sandbox: tuple[str, SandboxApp], frequent_switches: None
) -> None:
    url, app = sandbox
    account_id = app.accounts.for_project("races").account_id
    iam = _iam(url, app, "races")
    for index in range(PRELOADED):
        iam.create_role(RoleName=f"preloaded-{index}", AssumeRolePolicyDocument=TRUST)
        iam.create_policy(PolicyName=f"preloaded-{index}", PolicyDocument=POLICY)
    errors: list[str] = []

    def create(worker: int) -> None:
        client = _iam(url, app, "races")
        # a project of its own: making its account writes IAM while the others' requests run
        _iam(url, app, f"races-{worker}")
        for index in range(ROLES_EACH):
            name = f"role-{worker}-{index}"
            try:
                client.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)
                client.create_policy(PolicyName=name, PolicyDocument=POLICY)
                client.attach_role_policy(RoleName=name, PolicyArn=f"arn:aws:iam::{account_id}:policy/{name}")
                client.get_role(RoleName=name)
            except Exception as exc:  # a 500 from the emulator, as the test reports it
                errors.append(f"{name}: {type(exc).__name__}: {str(exc)[:200]}")

    workers = [threading.Thread(target=create, args=(worker,)) for worker in range(THREADS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert errors == []
    roles = [r["RoleName"] for page in iam.get_paginator("list_roles").paginate() for r in page["Roles"]]
    policies = [
        p["PolicyName"]
        for page in iam.get_paginator("list_policies").paginate(Scope="Local")
        for p in page["Policies"]
    ]
    # 300 preloaded + 50 threads x 2 each = 400 of each
    assert len(roles) == len(set(roles)) == 400
    assert len(policies) == len(set(policies)) == 400
    attached = iam.list_attached_role_policies(RoleName="role-49-1")["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["role-49-1"]
    # 51 projects, 51 accounts, each its own
    assert (
        len({app.accounts.for_project(f"races-{w}").account_id for w in range(THREADS)} | {account_id}) == 51
    )
