"""Small helpers shared by the constructs."""

from __future__ import annotations

from aws_cdk import Stack
from constructs import IConstruct


def scoped_name(scope: IConstruct, suffix: str) -> str:
    """A physical name that starts with the stack's name, so an operator can tell which install owns it."""
    return f"{Stack.of(scope).stack_name}-{suffix}"
