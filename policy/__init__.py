"""Policies every plan must pass: the built-in guardrails and users' own Rego, evaluated on
terraform's plan JSON (already redacted) with the project, caller, action and cost beside it."""
