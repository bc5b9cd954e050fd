"""public-exposure: public S3 buckets, and ingress open to the world on sensitive ports."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator, Mapping
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field

from policy.builtins import _plan
from policy.model import Finding, PolicyContext

DEFAULT_PORTS: Final = (22, 3389, 3306, 5432, 1433, 1521, 27017, 6379, 9200, 5601)
PUBLIC_ACLS: Final = frozenset({"public-read", "public-read-write", "authenticated-read"})
PUBLIC_GROUPS: Final = (
    "acs.amazonaws.com/groups/global/allusers",
    "acs.amazonaws.com/groups/global/authenticatedusers",
)
ALL_PROTOCOLS: Final = frozenset({"-1", "all"})
PORTED_PROTOCOLS: Final = frozenset({"tcp", "6", "udp", "17"})


class ExposureSettings(BaseModel):
    """``ports``: ingress from anywhere (any CIDR of prefix length 0, IPv4 or IPv6, or CIDRs
    of one rule that together cover everything) to any of these ports fails (protocol ``-1``/``all``
    covers every port; from..to is inclusive). ``s3``: check S3 bucket ACLs, grants and policies.
    A value unknown at plan time that the configuration sets fails."""

    model_config = ConfigDict(extra="forbid")

    ports: list[int] = Field(default_factory=lambda: list(DEFAULT_PORTS))
    s3: bool = True

    def model_post_init(self, context: Any, /) -> None:
        bad = [port for port in self.ports if not 0 <= port <= 65535]
        if bad:
            raise ValueError(f"ports out of range: {bad}")


# --- S3 -----------------------------------------------------------------------------------------


def _public_uri(uri: Any) -> bool:
    return isinstance(uri, str) and uri.strip().rstrip("/").lower().endswith(PUBLIC_GROUPS)


def _uris(value: Any) -> Iterator[Any]:
    """Every ``uri`` in a grant structure (lists of dicts, at any depth)."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key == "uri":
                yield item
            else:
                yield from _uris(item)
    elif isinstance(value, list):
        for item in value:
            yield from _uris(item)


GRANTEE_FIELDS: Final = frozenset({"uri", "type", "grant", "grantee", "permissions", "permission"})


def _grantee_unknown(unknown: Any, last: str | int = "") -> bool:
    """Whether a grant's grantee (its uri or type, or a whole grant) is unknown at plan time; an
    unknown canonical id or email names one account, never everyone."""
    if unknown is True:
        return isinstance(last, int) or last in GRANTEE_FIELDS
    if isinstance(unknown, Mapping):
        return any(_grantee_unknown(value, key) for key, value in unknown.items())
    if isinstance(unknown, list):
        return any(_grantee_unknown(value, index) for index, value in enumerate(unknown))
    return False


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate keys")
    return dict(pairs)


def _get(mapping: Mapping[str, Any], name: str) -> Any:
    """A policy element by name, any case (AWS reads 'Principal' however it is written)."""
    for key, value in mapping.items():
        if isinstance(key, str) and key.lower() == name.lower():
            return value
    return None


def _has_star(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, Mapping):
        return any(_has_star(value) for value in principal.values())
    if isinstance(principal, list):
        return any(item == "*" for item in principal)
    return False


def policy_problem(text: Any) -> str | None:  # noqa: PLR0911, PLR0912 - a return per problem
    """Why a bucket policy (its JSON text) is public, unreadable, or None when neither."""
    if text is None or text == "":
        return None
    if not isinstance(text, str):
        return "has a policy that is not a JSON string"
    try:
        document = json.loads(text, object_pairs_hook=_no_duplicates)
    except ValueError:
        return "has a policy that cannot be read as JSON (or repeats a key)"
    if not isinstance(document, Mapping):
        return "has a policy that is not a JSON object"
    statements = _get(document, "Statement")
    if statements is None:
        return None
    if isinstance(statements, Mapping):
        statements = [statements]
    if not isinstance(statements, list):
        return "has a policy whose Statement cannot be read"
    for index, statement in enumerate(statements):
        if not isinstance(statement, Mapping):
            return "has a policy whose Statement cannot be read"
        effect = _get(statement, "Effect")
        if not isinstance(effect, str):
            return f"has a policy statement {index} without a readable Effect"
        if effect.lower() != "allow":
            continue
        sid = _get(statement, "Sid")
        name = f" {sid!r}" if isinstance(sid, str) and sid else f" {index}"
        if _get(statement, "NotPrincipal") is not None:
            return f"has a policy statement{name} that allows everyone but a NotPrincipal"
        if _has_star(_get(statement, "Principal")):
            return f"has a policy statement{name} that allows any principal (*)"
    return None


def _s3_findings(  # noqa: PLR0912 - a branch per attribute and outcome
    plan: Mapping[str, Any], change: Mapping[str, Any]
) -> Iterator[str]:
    kind = change["type"]
    if kind in ("aws_s3_bucket", "aws_s3_bucket_acl"):
        acl = _plan.after_value(change, "acl")
        if acl is _plan.UNKNOWN:
            if _plan.configured(plan, change, "acl"):
                yield "has an acl that is not known until apply"
        elif acl in PUBLIC_ACLS:
            yield f"has the public acl {acl}"
        grants = "grant" if kind == "aws_s3_bucket" else "access_control_policy"
        value = _plan.after_value(change, grants)
        if value is _plan.UNKNOWN:
            if _plan.configured(plan, change, grants):
                yield f"has a {grants} that is not known until apply"
        elif _grantee_unknown(_plan.subtree(_plan.after_unknown(change), (grants,))):
            yield f"has a {grants} grantee that is not known until apply"
        for uri in _uris(value):
            if _public_uri(uri):
                yield f"grants access to {uri}"
    if kind in ("aws_s3_bucket", "aws_s3_bucket_policy"):
        policy = _plan.after_value(change, "policy")
        if policy is _plan.UNKNOWN:
            if kind == "aws_s3_bucket_policy" or _plan.configured(plan, change, "policy"):
                yield "has a policy that is not known until apply"
        else:
            problem = policy_problem(policy)
            if problem:
                yield problem


# --- ingress ------------------------------------------------------------------------------------


def _networks(values: Any) -> tuple[list[Any], bool]:
    """(networks, whether some could not be read); values is a CIDR, a list of them, or None."""
    if values is None:
        return [], False
    if values is _plan.UNKNOWN:
        return [], True
    items = values if isinstance(values, list) else [values]
    networks = []
    unreadable = False
    for item in items:
        if item is None:
            continue
        try:
            networks.append(ipaddress.ip_network(str(item).strip(), strict=False))
        except ValueError:
            unreadable = True
    return networks, unreadable


def _covered(  # noqa: PLR0911 - a return per protocol and port form
    rule: Mapping[str, Any], protocol_key: str, ports: list[int]
) -> list[int] | None:
    """The listed ports the rule covers (None: cannot tell)."""
    protocol = rule.get(protocol_key)
    if protocol is _plan.UNKNOWN:
        return None
    protocol = str(protocol).strip().lower() if protocol is not None else "-1"
    if protocol in ALL_PROTOCOLS:
        return list(ports)
    if protocol not in PORTED_PROTOCOLS:
        return []
    low, high = rule.get("from_port"), rule.get("to_port")
    if low is _plan.UNKNOWN or high is _plan.UNKNOWN:
        return None
    if low is None and high is None:
        return list(ports)
    try:
        low_port = int(low if low is not None else 0)
        high_port = int(high if high is not None else 65535)
    except (TypeError, ValueError):
        return None
    if low_port == -1 and high_port == -1:
        return list(ports)
    return [port for port in ports if low_port <= port <= high_port]


def _world_open(networks: list[Any]) -> bool:
    for version in (4, 6):
        ours = [network for network in networks if network.version == version]
        if any(network.prefixlen == 0 for network in ours):
            return True
        collapsed = list(ipaddress.collapse_addresses(ours))
        if any(network.prefixlen == 0 for network in collapsed):
            return True
    return False


def _rule_findings(
    rules: list[tuple[Mapping[str, Any], str, tuple[str, ...]]], ports: list[int]
) -> Iterator[str]:
    """rules: (rule values with UNKNOWN for unknown ones, its protocol key, its CIDR keys)."""
    by_port: dict[int, list[Any]] = {}
    undecided: set[int] = set()
    for rule, protocol_key, cidr_keys in rules:
        covered = _covered(rule, protocol_key, ports)
        networks: list[Any] = []
        unreadable = False
        for key in cidr_keys:
            found, bad = _networks(rule.get(key))
            networks += found
            unreadable = unreadable or bad
        if covered is None:
            if unreadable or _world_open(networks):
                undecided.update(ports)
            continue
        for port in covered:
            by_port.setdefault(port, []).extend(networks)
            if unreadable:
                undecided.add(port)
    opened = [port for port in ports if _world_open(by_port.get(port, []))]
    if opened:
        yield f"is open to the world (0.0.0.0/0 or ::/0) on port {', '.join(str(port) for port in opened)}"
    rest = sorted(undecided - set(opened))
    if rest:
        yield f"cannot tell whether it is open to the world on port {', '.join(str(port) for port in rest)}"


def _with_unknowns(
    change: Mapping[str, Any], path: tuple[str | int, ...], keys: tuple[str, ...]
) -> dict[str, Any]:
    return {key: _plan.after_value(change, *path, key) for key in keys}


SG_KEYS: Final = ("cidr_blocks", "ipv6_cidr_blocks", "from_port", "to_port", "protocol")
VPC_RULE_KEYS: Final = ("cidr_ipv4", "cidr_ipv6", "from_port", "to_port", "ip_protocol")


def _ingress_findings(plan: Mapping[str, Any], change: Mapping[str, Any], ports: list[int]) -> Iterator[str]:
    kind = change["type"]
    rules: list[tuple[Mapping[str, Any], str, tuple[str, ...]]] = []
    if kind == "aws_security_group":
        ingress = _plan.after_value(change, "ingress")
        if ingress is _plan.UNKNOWN:
            # Computed when the configuration writes no ingress (the rules are other resources).
            if _plan.configured(plan, change, "ingress"):
                yield "has ingress rules that are not known until apply"
            return
        if not isinstance(ingress, list):
            if ingress is not None:
                yield "has ingress rules that cannot be read"
            return
        for index in range(len(ingress)):
            if _plan.unknown_at(_plan.after_unknown(change), ("ingress", index)):
                yield "has an ingress rule that is not known until apply"
                continue
            rules.append((_with_unknowns(change, ("ingress", index), SG_KEYS), "protocol", SG_KEYS[:2]))
    elif kind == "aws_security_group_rule":
        rule_type = _plan.after_value(change, "type")
        if rule_type is _plan.UNKNOWN:
            yield "has a rule type that is not known until apply"
            return
        if rule_type != "ingress":
            return
        rules.append((_with_unknowns(change, (), SG_KEYS), "protocol", SG_KEYS[:2]))
    elif kind == "aws_vpc_security_group_ingress_rule":
        rules.append((_with_unknowns(change, (), VPC_RULE_KEYS), "ip_protocol", VPC_RULE_KEYS[:2]))
    else:
        return
    yield from _rule_findings(rules, ports)


def check(plan: Mapping[str, Any], settings: ExposureSettings, context: PolicyContext) -> list[Finding]:
    findings = []
    for change in _plan.managed_changes(plan):
        if not (_plan.is_aws(change) and _plan.is_create_or_update(change)):
            continue
        address = change["address"]
        problems = list(_ingress_findings(plan, change, settings.ports)) if settings.ports else []
        if settings.s3:
            problems += _s3_findings(plan, change)
        findings += [Finding(f"{address} {problem}", address) for problem in problems]
    return findings
