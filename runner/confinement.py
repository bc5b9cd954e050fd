"""Everything one job's terraform runs inside, set up before the first command and torn down after
the last: its user and directories (runner/jail.py), its network and bridges (runner/network.py,
runner/bridges.py), its credentials (runner/credentials.py) and the environment it is started with.

What terraform's configuration is told (the backend and provider settings) is derived from here,
so the override files name exactly the endpoints and credentials this confinement provides.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from core.records import JobStage, state_key, state_lock_id
from core.toolchain import Toolchain, cli_config_text
from runner.bridges import Bridge, EgressProxy, SandboxPolicy, StatePolicy, parse_endpoint
from runner.credentials import (
    BACKEND_PROFILE,
    DEPLOY_PROFILE,
    TerraformCredentials,
    assume,
    backend_policy,
    static_document,
)
from runner.jail import (
    IsolationError,
    Jail,
    JobDirectories,
    JobUser,
    allocate_user,
    capabilities,
    remove_tree,
)
from runner.network import Netns, create_netns
from runner.settings import RunnerSettings

# Ports inside the job's own network namespace: nothing else listens there, so they are fixed.
STATE_PORT = 4510
SANDBOX_PORT = 4566
EGRESS_PORT = 3128
# Not secrets: the bridges decide what a request may reach, whatever it is signed with.
STATE_KEYS = ("state-bridge", "state-bridge")
SANDBOX_KEYS = ("sandbox-bridge", "sandbox-bridge")

Log = Callable[[str], None]


@dataclass(frozen=True)
class BackendAccess:
    endpoint: str | None = None  # the state bridge, when the network is isolated
    static_keys: tuple[str, str] | None = None
    profile: str | None = None


@dataclass(frozen=True)
class ProviderAccess:
    sandbox_endpoint: str | None = None
    static_keys: tuple[str, str] | None = None
    profile: str | None = None


@dataclass
class Confinement:
    directories: JobDirectories
    jail: Jail
    backend: BackendAccess
    providers: ProviderAccess
    environment: dict[str, str]
    cli_config: Path
    user: JobUser | None = None
    notes: list[str] = field(default_factory=list)

    def give(self, path: Path) -> Path:
        """A file the runner wrote for terraform: readable by the job's user alone."""
        return self.directories.give(path, self.user)


@contextmanager
def confine(
    settings: RunnerSettings,
    toolchain: Toolchain,
    session: boto3.session.Session,
    log: Log,
) -> Iterator[Confinement]:
    with ExitStack() as stack:
        strict = settings.isolation == "strict"
        found = capabilities()
        if strict:
            found.require()
        user = allocate_user(toolchain.root / "job-users", settings.uid_range) if strict else None
        if user is not None:
            stack.callback(user.release)
        jobs = toolchain.root / "jobs"
        # A plan saved for another build embeds its working directory wherever the code reads
        # path.cwd or an absolute path.module: the directory is named after the plan's job, the same
        # in the plan build and in the apply build (of this job, or of one applying its plan).
        stable = settings.stage is not JobStage.RUN
        name = settings.source_plan_job_id if settings.stage is JobStage.APPLY else settings.job_id
        if stable:
            stack.enter_context(JobDirectories.stable_lock(jobs, name))
        directories = JobDirectories.create(jobs, name, user, stable=stable)
        stack.callback(_remove, directories)

        netns: Netns | None = None
        if settings.isolated_network:
            if not found.root:
                raise IsolationError("an isolated network for terraform needs root")
            netns = create_netns([STATE_PORT, SANDBOX_PORT, EGRESS_PORT])
            stack.callback(netns.close)
        jail = Jail(user, namespaces=strict and found.namespaces, network_fd=netns.fd if netns else None)

        credentials = TerraformCredentials(directories.base / "aws", user)
        backend = _backend(stack, settings=settings, netns=netns, credentials=credentials, log=log)
        providers = _providers(
            stack, settings=settings, session=session, netns=netns, credentials=credentials, log=log
        )
        credentials.start()
        stack.callback(credentials.stop)

        cli_config = directories.base / "terraform.rc"
        cli_config.write_text(cli_config_text(toolchain, settings.provider_allow_list))
        cli_config.chmod(0o644)
        environment = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(directories.home),
            "TMPDIR": str(directories.tmp),
            "LANG": "C.UTF-8",
            "TF_CLI_CONFIG_FILE": str(cli_config),
            "AWS_REGION": settings.region,
            "AWS_DEFAULT_REGION": settings.region,
            # Never fall back to an instance's or container's metadata credentials.
            "AWS_EC2_METADATA_DISABLED": "true",
            **credentials.environment(),
        }
        if netns is not None and settings.target == "aws":
            proxy = f"http://127.0.0.1:{EGRESS_PORT}"
            environment |= {"HTTPS_PROXY": proxy, "https_proxy": proxy, "NO_PROXY": "127.0.0.1,localhost"}
        notes = [
            "terraform runs as "
            + (f"uid {user.uid}" if user else "the runner's own user (isolation off)")
            + (", in namespaces of its own" if jail.namespaces else "")
            + (", network: the runner's bridges only" if netns else ", network: the host's"),
        ]
        yield Confinement(directories, jail, backend, providers, environment, cli_config, user, notes)


def _remove(directories: JobDirectories) -> None:
    remove_tree(directories.base)


def sandbox_account(endpoint_url: str, project_id: str) -> tuple[str, str]:
    """(account id, access key id) of the project's account in the sandbox emulator."""
    request = urllib.request.Request(  # noqa: S310 - the sandbox on loopback, set by local mode
        f"{endpoint_url}/_sandbox/accounts",
        data=json.dumps({"projectId": project_id}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        data = json.loads(response.read())
    return str(data["accountId"]), str(data["accessKeyId"])


def _backend(
    stack: ExitStack,
    *,
    settings: RunnerSettings,
    netns: Netns | None,
    credentials: TerraformCredentials,
    log: Log,
) -> BackendAccess:
    if netns is not None:
        endpoint = settings.aws_endpoint_url
        if not endpoint:
            raise IsolationError("an isolated network needs the service's endpoint (AWS_ENDPOINT_URL)")
        lock = state_lock_id(settings.state_bucket, settings.project_id)
        policy = StatePolicy(
            bucket=settings.state_bucket,
            key=state_key(settings.project_id),
            lock_table=settings.lock_table,
            lock_ids=frozenset({lock, f"{lock}-md5"}),
        )
        bridge = Bridge("state", parse_endpoint(endpoint), policy, log)
        bridge.start(netns.listeners[STATE_PORT])
        stack.callback(bridge.stop)
        return BackendAccess(endpoint=f"http://127.0.0.1:{STATE_PORT}", static_keys=STATE_KEYS)
    if not settings.job_role_arn:
        raise IsolationError(
            "terraform's state backend needs credentials of its own: set RUNNER_JOB_ROLE_ARN "
            "(the install's job role), or run with an emulator"
        )
    role = settings.job_role_arn
    source = boto3.session.Session(region_name=settings.region)
    policy_document = backend_policy(settings)
    credentials.add(BACKEND_PROFILE, lambda: assume(source, settings, role, policy_document))
    return BackendAccess(profile=BACKEND_PROFILE)


def _providers(
    stack: ExitStack,
    *,
    settings: RunnerSettings,
    session: boto3.session.Session,
    netns: Netns | None,
    credentials: TerraformCredentials,
    log: Log,
) -> ProviderAccess:
    if settings.target == "sandbox":
        if netns is None or not settings.sandbox_endpoint_url:
            raise IsolationError("target sandbox needs the sandbox emulator (SANDBOX_ENDPOINT_URL)")
        account, key_id = sandbox_account(settings.sandbox_endpoint_url, settings.project_id)
        bridge = Bridge(
            "sandbox", parse_endpoint(settings.sandbox_endpoint_url), SandboxPolicy(key_id, account), log
        )
        bridge.start(netns.listeners[SANDBOX_PORT])
        stack.callback(bridge.stop)
        log(f"sandbox: account {account} of the sandbox emulator")
        return ProviderAccess(sandbox_endpoint=f"http://127.0.0.1:{SANDBOX_PORT}", static_keys=SANDBOX_KEYS)
    if netns is not None:
        proxy = EgressProxy(settings.egress_hosts, log)
        proxy.start(netns.listeners[EGRESS_PORT])
        stack.callback(proxy.stop)
    credentials.add(DEPLOY_PROFILE, _deploy_source(settings, session))
    return ProviderAccess(profile=DEPLOY_PROFILE)


def _deploy_source(settings: RunnerSettings, session: boto3.session.Session) -> Callable[[], dict[str, Any]]:
    """Where the providers' credentials come from: the deploy role, or local mode's own keys."""
    if settings.target_access_key_id and settings.target_secret_access_key:
        keys = static_document(
            settings.target_access_key_id, settings.target_secret_access_key, settings.target_session_token
        )
        if not settings.deploy_role_arn:
            return lambda: keys
        target = boto3.session.Session(
            aws_access_key_id=keys["AccessKeyId"],
            aws_secret_access_key=keys["SecretAccessKey"],
            aws_session_token=keys.get("SessionToken"),
            region_name=settings.region,
        )
        role = settings.deploy_role_arn
        real = settings.model_copy(update={"aws_endpoint_url": None})
        return lambda: assume(target, real, role, None)
    if not settings.deploy_role_arn:
        raise IsolationError("target aws needs a deploy role (DEPLOY_ROLE_ARN) for terraform's providers")
    role = settings.deploy_role_arn
    return lambda: assume(session, settings, role, None)
