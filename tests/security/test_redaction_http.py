"""No attack at all: a sensitive variable sits in map attributes (``null_resource.triggers``, under
secret-looking and ordinary keys) and an object's content; no answer of the API returns it."""

from __future__ import annotations

import json

import pytest

from tests.security.conftest import VICTIM, VICTIM_SECRET, Install, full_log

pytestmark = pytest.mark.terraform


def test_the_victims_secret_is_in_no_answer(strict: Install) -> None:
    answers = [
        strict.server.get(f"/api/deploy/{route}/{VICTIM}").body
        for route in ("state", "outputs", "infrastructure", "costs", "validate")
    ]
    answers.append(strict.server.get(f"/api/deploy/status/{strict.victim_job}").body)
    answers.append(strict.server.get(f"/api/deploy/jobs?projectId={VICTIM}").body)
    text = json.dumps(answers) + full_log(strict.server, strict.victim_job)
    assert VICTIM_SECRET not in text
    # The state itself is still there, with the values that are not secret
    state = answers[0]["state"]
    triggers = next(r for r in state["resources"] if r["type"] == "null_resource")["instances"][0][
        "attributes"
    ]["triggers"]
    assert triggers["name"] == "victim"
    assert triggers["password"] == "(sensitive)" and triggers["Api_Token"] == "(sensitive)"
