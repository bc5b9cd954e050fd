"""Webhook signatures: what the service sends is what a receiver's check accepts, and nothing else."""

from __future__ import annotations

import hashlib
import hmac
import time
from pathlib import Path
from typing import Any

from functions.logic.notify_signing import new_secret, signature_header, verify

BODY = b'{"id":"evt_1","type":"job_completed"}'


def test_a_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    # Given a secret and a timestamp
    secret, t = "whsec_test", 1_764_000_000
    # When the header is made
    header = signature_header(secret, t, BODY)
    # Then it is what a receiver computes by hand, Stripe style
    expected = hmac.new(secret.encode(), f"{t}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert header == f"t={t},v1={expected}"
    assert verify(secret, header, BODY, now=t + 10)


def test_verification_refuses_a_changed_body_secret_timestamp_or_an_old_signature() -> None:
    secret, t = new_secret(), 1_764_000_000
    header = signature_header(secret, t, BODY)
    assert not verify(secret, header, BODY + b" ", now=t)
    assert not verify(new_secret(), header, BODY, now=t)
    assert not verify(secret, header.replace(f"t={t}", f"t={t + 1}"), BODY, now=t)
    assert not verify(secret, header, BODY, now=t + 301)  # a replay after the tolerance
    assert not verify(secret, "v1=abc", BODY, now=t)
    assert not verify(secret, "", BODY, now=t)


def test_secrets_are_random_and_marked() -> None:
    first, second = new_secret(), new_secret()
    assert first != second and first.startswith("whsec_") and len(first) == len("whsec_") + 64


def test_the_readmes_receiver_check_accepts_ours_and_refuses_a_changed_body() -> None:
    # Given the verification snippet the README gives receivers
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### Notifications", 1)[1]
    snippet = section.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(snippet, namespace)  # noqa: S102 - our own README's code
    verified = namespace["verified"]
    # When it checks what the service sends / Then it agrees with the service's signature
    secret, t = new_secret(), int(time.time())
    header = signature_header(secret, t, BODY)
    assert verified(secret, header, BODY)
    assert not verified(secret, header, BODY + b"x")
    assert not verified(new_secret(), header, BODY)
